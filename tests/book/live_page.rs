//! The live page's server (`trace run --web`, `trace echo --web`) over plain HTTP: loopback
//! only, the session held until a page follows it, at most eight pages at once, each sent the
//! newest replay and, at the end, the whole replay with the check's verdict.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::session::PATIENCE;
use crate::support::trace_bin;

/// Opens the page's event stream at `addr`; the stream, its head read.
fn follow(addr: &str) -> (BufReader<TcpStream>, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the live page");
    stream.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    write!(stream, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
    (reader, head)
}

#[test]
fn trace_run_web_holds_the_session_for_its_page_and_ends_it_there_whole() {
    let mut child = Command::new(trace_bin())
        .args(["run", "--web", "--json", "--", "python3", "-c", "import socket, time; s = socket.socket(); time.sleep(2); s.close()"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trace run --web");
    let mut said = String::new();
    BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut said).expect("where the page is");
    let addr = said.split("http://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default().to_string();
    let result = std::panic::catch_unwind(|| {
        assert!(addr.starts_with("127.0.0.1:"), "loopback only: {said}");
        // The page itself is no follower: the session waits for its event stream.
        let page = {
            let mut stream = TcpStream::connect(&addr).expect("connect");
            write!(stream, "GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("request");
            let mut page = String::new();
            stream.read_to_string(&mut page).expect("the page");
            page
        };
        assert!(page.starts_with("HTTP/1.1 200 OK") && page.contains("connect-src 'self'") && page.contains("class=\"st-live\""), "the live page");
        // Eight pages follow it; a ninth is told to close one.
        let mut followers: Vec<(BufReader<TcpStream>, String)> = (0..8).map(|_| follow(&addr)).collect();
        assert!(followers.iter().all(|(_, head)| head.starts_with("HTTP/1.1 200 OK") && head.contains("text/event-stream")), "eight followers");
        let (mut ninth, head) = follow(&addr);
        let mut body = String::new();
        let _ = ninth.read_to_string(&mut body);
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert!(body.contains("8 pages already follow this session"), "{body}");
        // Each follower gets the end, with the whole replay and the verdict.
        let deadline = Instant::now() + PATIENCE;
        for (reader, _) in &mut followers {
            let mut last = String::new();
            let mut line = String::new();
            while Instant::now() < deadline && reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line.starts_with("event: ") {
                    last = line.clone();
                }
                if last == "event: end\n" && line.starts_with("data: ") {
                    break;
                }
                line.clear();
            }
            assert_eq!(last, "event: end\n");
            let end: serde_json::Value = serde_json::from_str(line.trim_start_matches("data: ")).expect("the end's JSON");
            assert_eq!(end["said"], "The session has ended: the whole replay is here.");
            assert!(end["replay"]["steps"].as_array().is_some_and(|s| !s.is_empty()), "the whole replay");
            assert!(end["verdict"].as_str().is_some_and(|v| v.starts_with("trace check: ")), "{end}");
        }
    });
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let status = child.wait().expect("wait");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    assert!(status.code().is_some(), "trace ended by itself, not by a signal: {status}");
}
