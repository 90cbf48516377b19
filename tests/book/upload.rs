//! `trace book serve` takes a reader's own trace: `POST /your-trace` answers with its replay
//! and `trace check`'s verdict, within bounds (a size, a method, one path), and every other
//! request is what it was: GET and HEAD of the built book's files, and nothing above it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use socktrace::book::upload::MAX_BYTES;
use socktrace::check::{check, CheckOptions};
use socktrace::replay::Replay;

use super::{fixture, fixture_path, root};
use crate::support::{scratch, trace_bin};

/// `trace book serve` on a free loopback port, ended (by its pid) when dropped.
pub(super) struct Served {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Where the book was built.
    pub dest: PathBuf,
}

impl Served {
    pub fn start(name: &str) -> Served {
        let dest = scratch(name);
        let mut child = Command::new(trace_bin())
            .args(["book", "serve", "--port", "0", "--book"])
            .arg(root().join("book"))
            .arg("--dest")
            .arg(&dest)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("trace book serve");
        let mut first = String::new();
        let read = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first);
        let addr = first.split("http://").nth(1).and_then(|rest| rest.split('/').next()).map(str::to_string);
        let served = Served { child, addr: addr.unwrap_or_default(), dest };
        assert!(read.is_ok() && served.addr.starts_with("127.0.0.1:"), "no loopback URL in {first:?}");
        served
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends `head` (the request line and headers, without the blank line) and `body`;
    /// returns the status line and the body of the answer.
    pub fn request(&self, head: &str, body: &[u8]) -> (String, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect to the server");
        // A server that answers before reading the whole request may close first: what it
        // said is still there to read.
        let _ = write!(stream, "{head}\r\nHost: {}\r\n\r\n", self.addr);
        let _ = stream.write_all(body);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        (head.lines().next().unwrap_or("").to_string(), body.to_string())
    }

    /// `POST /your-trace` of `body`, named `name`.
    pub fn upload(&self, name: &str, body: &[u8]) -> (String, String) {
        self.request(&format!("POST /your-trace HTTP/1.1\r\nX-File-Name: {name}\r\nContent-Length: {}", body.len()), body)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_posted_trace_comes_back_replayed_with_the_checks_verdict() {
    let served = Served::start("upload_trace");
    let bytes = std::fs::read(fixture_path("echo.jsonl")).expect("the fixture");
    let (status, body) = served.upload("echo.jsonl", &bytes);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    let trace = fixture("echo.jsonl");
    assert_eq!(answer["name"], "echo.jsonl");
    assert_eq!(answer["replay"]["steps"].as_array().map(Vec::len), Some(Replay::of(&trace).steps.len()), "the replay `trace replay` shows");
    assert_eq!(answer["verdict"].as_str(), Some(check(&trace, &CheckOptions::default()).to_string().as_str()), "the report `trace check` writes");
    assert_eq!(answer["conforms"], true);

    // A capture is imported as `trace import` does, its first conversation replayed.
    let path = scratch("upload_capture").join("echo.pcap");
    let out = crate::support::trace(&["export", fixture_path("echo.jsonl").to_str().expect("utf-8"), "--pcap", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let pcap = std::fs::read(&path).expect("the capture");
    let (status, body) = served.upload("echo%20capture.pcap", &pcap);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((answer["name"].as_str(), &answer["conversation"]), (Some("echo capture.pcap"), &serde_json::json!([1, 1])), "the name decoded");
    let (status, body) = served.request(&format!("POST /your-trace?conversation=2 HTTP/1.1\r\nX-File-Name: a.pcap\r\nContent-Length: {}", pcap.len()), &pcap);
    assert_eq!(status, "HTTP/1.1 422 Unprocessable Content");
    assert_eq!(body.trim(), "a.pcap has no conversation 2: it has 1 (choose one of them)");
}

#[test]
fn what_the_endpoint_refuses_it_says_in_one_line() {
    let served = Served::start("upload_refused");
    // Not a trace: the reader's own error, naming the file.
    let (status, body) = served.upload("notes.txt", b"dear diary\n");
    assert_eq!(status, "HTTP/1.1 422 Unprocessable Content");
    assert!(body.starts_with("notes.txt is not a socktrace trace") && body.trim().lines().count() == 1, "{body}");
    // A trace cut mid-line: the reader's error too.
    let bytes = std::fs::read(fixture_path("echo.jsonl")).expect("the fixture");
    let (_, body) = served.upload("cut.jsonl", &bytes[..bytes.len() / 2]);
    assert!(body.starts_with("cut.jsonl is truncated") || body.starts_with("cut.jsonl line"), "{body}");
    // Too big: refused from its Content-Length, before a byte of it is read.
    let (status, body) = served.request(&format!("POST /your-trace HTTP/1.1\r\nContent-Length: {}", MAX_BYTES + 1), b"");
    assert_eq!(status, "HTTP/1.1 413 Content Too Large");
    assert!(body.contains("more than the 16 MiB the page replays"), "{body}");
    // No length: no body is read.
    let (status, _) = served.request("POST /your-trace HTTP/1.1", b"");
    assert_eq!(status, "HTTP/1.1 411 Length Required");
    // A bad conversation number.
    let (status, _) = served.request("POST /your-trace?conversation=0 HTTP/1.1\r\nContent-Length: 1", b"x");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    // The one POST is to the one path; other methods are refused everywhere.
    for head in ["POST /index.html HTTP/1.1", "PUT /your-trace HTTP/1.1", "DELETE /index.html HTTP/1.1", "POST /../your-trace HTTP/1.1"] {
        let (status, body) = served.request(&format!("{head}\r\nContent-Length: 1"), b"x");
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed", "{head}");
        assert_eq!(body.trim(), "only GET and HEAD, and POST to /your-trace", "{head}");
    }
    // A request line longer than any browser's, or headers without end, is refused.
    let (status, _) = served.request(&format!("GET /{} HTTP/1.1", "a".repeat(10_000)), b"");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    let many: Vec<String> = (0..200).map(|i| format!("X-{i}: y")).collect();
    let (status, _) = served.request(&format!("GET / HTTP/1.1\r\n{}", many.join("\r\n")), b"");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    // A page of another site whose name was made to resolve to 127.0.0.1 reads nothing.
    let mut stream = TcpStream::connect(&served.addr).expect("connect");
    write!(stream, "GET /index.html HTTP/1.1\r\nHost: evil.example:{}\r\n\r\n", served.addr.rsplit(':').next().unwrap_or("")).expect("request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 421 Misdirected Request"), "{answer}");
    // The static files are as they were: served, and nothing above the book.
    assert_eq!(served.request("GET /your-trace.html HTTP/1.1", b"").0, "HTTP/1.1 200 OK");
    assert_eq!(served.request("GET /../Cargo.toml HTTP/1.1", b"").0, "HTTP/1.1 404 Not Found");
    assert_eq!(served.request("GET /%2e%2e/Cargo.toml HTTP/1.1", b"").0, "HTTP/1.1 404 Not Found");
    assert_eq!(served.request("GET /your-trace HTTP/1.1", b"").0, "HTTP/1.1 404 Not Found", "the endpoint is no file");
}
