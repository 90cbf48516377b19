//! Ctrl-C and `kill` in the middle of a live session: the saved trace reads back, holds every
//! event shown before the signal and ends with its end line; the programs `trace run` started
//! are ended, their children too; the kernel lenses are let go of.

#![allow(non_snake_case)] // names read situation__outcome

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use socktrace::capture::privilege::live_test_allowed;
use socktrace::trace::read_trace;

use crate::support::scratch;
use crate::support::session::{assert_left_whole, Running, PATIENCE};

/// Whether process `pid` still runs (a zombie has ended; only its parent's wait is missing).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.rsplit(") ").next().is_some_and(|rest| !rest.starts_with('Z')))
}

/// The processes `pid`'s threads started.
fn children(pid: i32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

/// One request and its echo, on a connection kept open.
fn converse(port: u16, line: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the traced server");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream.write_all(line.as_bytes()).expect("send");
    let mut reply = [0u8; 256];
    let n = stream.read(&mut reply).expect("the echo");
    assert!(n > 0, "the server answered");
    stream
}

fn echo_serve_interrupted_by(sig: i32, name: &str) {
    let dir = scratch(&format!("interrupt_serve_{name}"));
    let path = dir.join("t.jsonl");
    let mut session = Running::start(&["echo", "--serve", "--json", "--save", &path.to_string_lossy()]);
    let port = session.server_port();
    // One client done and gone, one mid-conversation when the signal comes.
    let mut done = converse(port, "first\n");
    done.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let _ = done.read(&mut [0u8; 64]);
    let _open = converse(port, "second\n");
    let server_sends = |shown: &[String]| shown.iter().filter(|l| l.contains(r#""kind":"call_end""#) && l.contains(r#""call":"send""#)).count();
    while server_sends(&session.shown) < 2 {
        session.wait_for(&[r#""call":"send""#]);
    }
    let shown_before = session.shown.clone();
    let pid = session.pid();
    session.signal(sig);
    let (code, err, _) = session.wait_exit();
    assert_eq!(code, Some(0), "an interrupted --serve is a finished session: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_left_whole(&path, pid, &shown_before);
    // The server winds down: its pending calls end and every socket it had is closed, the
    // listening one included, in the trace.
    let saved = socktrace::trace::read_trace(&path).expect("the trace");
    let calls = |call: socktrace::event::CallName| -> Vec<socktrace::event::SockId> {
        saved
            .events
            .iter()
            .filter_map(|e| match &e.body {
                socktrace::event::Body::CallEnd(end) if end.call == call => end.new_socket.clone().or_else(|| e.socket.clone()),
                _ => None,
            })
            .collect()
    };
    let closed = calls(socktrace::event::CallName::Close);
    for socket in calls(socktrace::event::CallName::Socket).into_iter().chain(calls(socktrace::event::CallName::Accept)) {
        assert!(closed.contains(&socket), "{socket} was never closed in the trace");
    }
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn echo_serve__sigint__trace_whole__lenses_released() {
    if !live_test_allowed("echo_serve__sigint__trace_whole__lenses_released") {
        return;
    }
    echo_serve_interrupted_by(libc::SIGINT, "sigint");
}

/// Ctrl-C in the middle of a session that would have ended by itself (its SYN|ACK lost on
/// purpose: a second goes by before it is sent again) is an interruption: exit 130, said on
/// standard error, the trace whole up to there.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn echo_sigint_before_its_end__exit_130_said__trace_whole() {
    if !live_test_allowed("echo_sigint_before_its_end__exit_130_said__trace_whole") {
        return;
    }
    let path = scratch("interrupt_echo_before_end").join("t.jsonl");
    let mut session = Running::start(&["echo", "--live", "--drop", "syn-ack", "--json", "--save", &path.to_string_lossy()]);
    // connect waits for the SYN|ACK sent again, a second after the first was dropped.
    session.wait_for(&[r#""kind":"call_start""#, r#""call":"connect""#]);
    let shown_before = session.shown.clone();
    let pid = session.pid();
    session.signal(libc::SIGINT);
    let (code, err, _) = session.wait_exit();
    assert_eq!(code, Some(130), "interrupted before its end: {err}");
    assert!(err.contains("trace: interrupted"), "says so: {err}");
    assert_left_whole(&path, pid, &shown_before);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn echo_serve__sigterm__trace_whole__lenses_released() {
    if !live_test_allowed("echo_serve__sigterm__trace_whole__lenses_released") {
        return;
    }
    echo_serve_interrupted_by(libc::SIGTERM, "sigterm");
}

/// A shell that starts a server in the background and waits for it: `kill` reaches only the
/// shell, so `trace run` passes the signal on to the server too.
const SHELL_AND_SERVER: &str = "python3 -c 'import socket\ns = socket.socket()\ns.bind((\"127.0.0.1\", 0))\ns.listen()\nwhile True:\n    c, _ = s.accept()\n    c.sendall(c.recv(100))\n' & wait";

/// Runs the shell and its server under `trace run`, has one conversation, sends `signals`
/// to `trace` one after another (each once the programs have had it), and checks what is left.
fn run_interrupted_by(signals: &[i32], name: &str) {
    let dir = scratch(&format!("interrupt_run_{name}"));
    let path = dir.join("t.jsonl");
    let mut session = Running::start(&["run", "--json", "--save", &path.to_string_lossy(), "--", "sh", "-c", SHELL_AND_SERVER]);
    let port = session.server_port();
    let _client = converse(port, "hello\n");
    session.wait_for(&[r#""kind":"call_end""#, r#""call":"send"#]);
    let shown_before = session.shown.clone();
    let pid = session.pid();
    let shell = children(pid).into_iter().next().expect("trace started the shell");
    let (first, insist) = signals.split_first().expect("a signal");
    session.signal(*first);
    if !insist.is_empty() {
        // The second signal once the first has ended the shell: what it did not end, the
        // second must.
        let deadline = Instant::now() + PATIENCE;
        while running(shell) {
            assert!(Instant::now() < deadline, "the first signal did not end the shell");
            std::thread::sleep(Duration::from_millis(20));
        }
        insist.iter().for_each(|&sig| session.signal(sig));
    }
    let (code, err, _) = session.wait_exit();
    assert_eq!(code, Some(130), "interrupted: {err}");
    assert!(err.contains("trace: interrupted"), "says so: {err}");
    assert!(err.contains("trace run: sh (pid"), "says how the shell ended: {err}");
    assert_left_whole(&path, pid, &shown_before);
    let saved = read_trace(&path).expect("the trace");
    let server = saved.events.iter().find(|e| e.actor.role == socktrace::event::Role::Server).expect("the server's calls").actor.pid.expect("its pid");
    assert!(!running(server), "the shell's background server (pid {server}) was ended too");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn run__sigterm__passed_on_to_the_programs_children__trace_whole() {
    if !live_test_allowed("run__sigterm__passed_on_to_the_programs_children__trace_whole") {
        return;
    }
    run_interrupted_by(&[libc::SIGTERM], "sigterm");
}

/// A shell's background job ignores SIGINT (POSIX): the first Ctrl-C ends the shell only,
/// the second ends the rest with SIGKILL.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn run__sigint_twice__a_job_that_ignores_it_is_killed__trace_whole() {
    if !live_test_allowed("run__sigint_twice__a_job_that_ignores_it_is_killed__trace_whole") {
        return;
    }
    run_interrupted_by(&[libc::SIGINT, libc::SIGINT], "sigint");
}
