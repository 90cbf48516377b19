//! The coursework template: a student's echo server (`fixtures/coursework/echo_server.py`),
//! traced with its client through `socktrace::record` and graded by an insta snapshot, the way
//! a student's own test would do it. Two deliberately wrong servers fail against the same
//! reference with a readable difference.

use socktrace::capture::privilege::live_test_allowed;
use socktrace::check::{check, CheckOptions, Verdict};
use socktrace::normalize::diff::first_difference;
use socktrace::record;
use socktrace::trace::Trace;

fn program(name: &str) -> String {
    crate::support::fixture_path(&format!("coursework/{name}"))
}

/// Records a server from the template with the template's client.
fn session(server: &str) -> Trace {
    let (server, client) = (program(server), program("client.py"));
    record::server_and_client(&["python3", &server], &["python3", &client, "{port}"]).unwrap_or_else(|e| panic!("{e}"))
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn student_echo_server_snapshot() {
    if !live_test_allowed("coursework snapshot") {
        return;
    }
    let trace = session("echo_server.py");
    assert_eq!(check(&trace, &CheckOptions::default()).verdict(), Verdict::Conforms);
    insta::assert_snapshot!("student_echo_server", trace.snapshot());
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn student_echo_server_snapshot_is_stable() {
    if !live_test_allowed("coursework snapshot stability") {
        return;
    }
    let first = session("echo_server.py").snapshot();
    for run in 1..5 {
        assert_eq!(session("echo_server.py").snapshot(), first, "run {run} differs");
    }
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn wrong_servers_fail_with_a_readable_difference() {
    if !live_test_allowed("coursework wrong servers") {
        return;
    }
    let reference = session("echo_server.py");
    for (wrong, expected_step) in [("wrong_keeps_listening.py", "close"), ("wrong_writes_first.py", "Exchange data")] {
        let trace = session(wrong);
        let difference = first_difference(&reference, &trace).unwrap_or_else(|| panic!("{wrong} snapshots like the reference"));
        let shown = format!(
            "line {}: {}\n  - {}\n  + {}",
            difference.line.0,
            difference.step.as_deref().unwrap_or("(no step)"),
            difference.left.as_deref().unwrap_or(""),
            difference.right.as_deref().unwrap_or("")
        );
        eprintln!("{wrong}:\n{shown}");
        assert!(shown.to_lowercase().contains(&expected_step.to_lowercase()), "{wrong}: {shown}");
    }
    let kept_listening = session("wrong_keeps_listening.py");
    let report = check(&kept_listening, &CheckOptions::default());
    assert_eq!(report.verdict(), Verdict::Deviations);
    assert!(report.reasons().any(|r| r.contains("never closed")), "{report}");
}

/// A wrong server whose run ended in a reset (the client closed with the server's last answer
/// unread): its snapshot keeps each thread's order around the listening socket, and cause before
/// effect; its first difference from the correct server is its own first wrong call.
#[test]
fn wrong_server_in_a_reset_run_differs_first_by_its_greeting() {
    let (reference, wrong) = (
        crate::support::load(&crate::support::fixture("coursework/traces/echo_server.jsonl")),
        crate::support::load(&crate::support::fixture("coursework/traces/wrong_writes_first-reset.jsonl")),
    );
    let difference = first_difference(&reference, &wrong).expect("the wrong server differs");
    assert_eq!(difference.step.as_deref().map(|s| s.contains("Exchange data")), Some(true), "{:?}", difference.step);
    assert!(difference.right.as_deref().is_some_and(|l| l.contains("sendto(s2, \"welcome\\n\")")), "{:?}", difference.right);
    let snapshot = wrong.snapshot();
    let lines: Vec<&str> = snapshot.lines().map(str::trim_end).collect();
    // The last line that reads `line`.
    let at = |line: &str| lines.iter().rposition(|l| *l == line).unwrap_or_else(|| panic!("no line {line:?} in:\n{snapshot}"));
    let reset = at("server  … recvfrom(s2) = -1 ECONNRESET");
    assert!(at("        s2: RST received") < reset, "the RST comes before the error it causes:\n{snapshot}");
    assert!(at("client  close(c1) …") < at("  c1 > s2  RST|ACK seq 11 ack 25"), "the close sends the RST:\n{snapshot}");
    for listener_call in ["server  getsockname(s1) = 0 [SERVER]", "server  getpeername(s1) = -1 ENOTCONN", "server  close(s1) …"] {
        assert!(at(listener_call) > reset, "{listener_call:?} comes after the reset, as the program made it:\n{snapshot}");
    }
}

/// A student's echo written in Rust, recorded from inside this test: the server and the client
/// are threads of the code under test, in the test's own traced child process.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn rust_code_recorded_in_a_test() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};

    if !live_test_allowed("recording Rust code") {
        return;
    }
    let trace = socktrace::record_code!(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            drop(listener);
            let mut reader = BufReader::new(&conn);
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            (&conn).write_all(format!("1: {line}").as_bytes()).unwrap();
            // The client closes first: read to its end of file, then close.
            assert_eq!(reader.read(&mut [0; 16]).unwrap(), 0);
        });
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"hello\n").unwrap();
        let mut echoed = String::new();
        BufReader::new(&client).read_line(&mut echoed).unwrap();
        assert_eq!(echoed, "1: hello\n");
        drop(client);
        server.join().unwrap();
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let report = check(&trace, &CheckOptions::default());
    assert_eq!(report.verdict(), Verdict::Conforms, "{report}");
    insta::assert_snapshot!("rust_code_echo", trace.snapshot());
}

/// Both sides close at once, so each FIN may arrive while the other's close is still in
/// progress: whichever way the race goes, the model beside the kernel must agree with it.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn simultaneous_closes_conform_whichever_way_they_race() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Barrier};

    if !live_test_allowed("simultaneous close") {
        return;
    }
    for run in 0..5 {
        let trace = socktrace::record_code!(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let both = Arc::new(Barrier::new(2));
            let server_side = Arc::clone(&both);
            let server = std::thread::spawn(move || {
                let (mut conn, _) = listener.accept().unwrap();
                drop(listener);
                let mut byte = [0; 1];
                conn.read_exact(&mut byte).unwrap();
                conn.write_all(&byte).unwrap();
                server_side.wait();
                drop(conn);
            });
            let mut client = TcpStream::connect(addr).unwrap();
            client.write_all(b"x").unwrap();
            client.read_exact(&mut [0; 1]).unwrap();
            both.wait();
            drop(client);
            server.join().unwrap();
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let report = check(&trace, &CheckOptions::default());
        assert_eq!(report.verdict(), Verdict::Conforms, "run {run}: {report}");
    }
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn rust_code_that_fails_is_an_error() {
    if !live_test_allowed("recording failing Rust code") {
        return;
    }
    let err = socktrace::record_code!(|| panic!("the student's code failed")).expect_err("a panicking closure must not give a trace");
    assert!(err.to_string().contains("failed in its traced child"), "{err}");
}

#[test]
fn test_names_are_found_from_inside_closures() {
    assert_eq!(record::test_name("main::coursework::my_test::here"), "coursework::my_test");
    assert_eq!(record::test_name("main::coursework::my_test::{{closure}}::here"), "coursework::my_test");
}
