//! `trace run` around the edges of a traced program's life: a server that never gets to
//! listen (it cannot bind, or it does something else entirely), a signal that interrupts a
//! blocked call, Ctrl-C or `kill` sent to `trace` itself, and I/O that makes no system call.

#![allow(non_snake_case)] // names read situation__outcome

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use socktrace::capture::privilege::live_test_allowed;
use socktrace::event::{Body, CallName, Exit, ProcessChange, Role, SockId};

use crate::support::{fixture_path, load, scratch, stderr, trace, trace_bin};

fn sock(s: &str) -> SockId {
    SockId(s.into())
}

/// `trace` started by `command`, its standard error read up to the first line that holds
/// `word`: the process, the rest of its standard error, and that line.
fn started_until(mut command: Command, word: &str) -> (Child, BufReader<ChildStderr>, String) {
    let mut child = command.env("NO_COLOR", "1").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("trace runs");
    let mut err = BufReader::new(child.stderr.take().expect("piped"));
    let mut line = String::new();
    while !line.contains(word) {
        line.clear();
        assert_ne!(err.read_line(&mut line).expect("trace's stderr"), 0, "trace's standard error ended before a line holding {word:?}");
    }
    (child, err, line)
}

/// The commonest student error: the port is taken. The socket is still the server's (in
/// the server column, named `s1`), and its `bind` shows the error.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn bind_fails_with_eaddrinuse__the_servers_socket__its_error_shown() {
    if !live_test_allowed("a server whose bind fails") {
        return;
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to take");
    let port = taken.local_addr().expect("its address").port().to_string();
    let path = scratch("run_eaddrinuse").join("t.jsonl");
    let server = "import socket, sys\ns = socket.socket()\ntry:\n    s.bind(('127.0.0.1', int(sys.argv[1])))\nexcept OSError as e:\n    print(e, file=sys.stderr); sys.exit(1)";
    let out = trace(&["run", "--save", path.to_str().expect("utf-8"), "--", "python3", "-c", server, &port]);
    assert!(stderr(&out).contains("exited with status 1"), "{}", stderr(&out));
    let events = load(&path).events;
    let bind = events.iter().find(|e| e.call_end().is_some_and(|end| end.call == CallName::Bind)).expect("the bind");
    assert_eq!(bind.socket, Some(sock("s1")), "a socket that claims a port is the server's");
    assert_eq!(bind.actor.role, Role::Server);
    assert!(bind.call_end().is_some_and(|end| end.errno.as_ref().is_some_and(|e| e.name == "EADDRINUSE")));
    drop(taken);
}

/// A "server" that never listens nor binds: `--server` does not wait for ever.
#[test]
fn server_that_never_listens__given_up_after_the_listen_timeout__exit_2() {
    let started = Instant::now();
    let out = trace(&["run", "--listen-timeout", "1", "--server", "sleep 30", "--client", "true {port}"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("neither listened nor bound a port within 1 s"), "{err}");
    assert!(err.contains("--listen-timeout"), "says how to give it longer: {err}");
    assert!(started.elapsed() < Duration::from_secs(10), "ended promptly: {:?}", started.elapsed());
}

/// A program with no socket at all (`ls`): its trace is valid, and `trace check` says there
/// is nothing to check, not that the program deviates step by step.
// Without root `trace run` says which lenses it lacks and exits 2, as documented.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn program_without_sockets__check_says_nothing_to_check() {
    let path = scratch("run_no_socket").join("t.jsonl");
    let path = path.to_str().expect("utf-8");
    let out = trace(&["run", "--save", path, "--", "ls", "/"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(load(std::path::Path::new(path)).events.is_empty(), "ls makes no socket");
    let out = trace(&["check", path]);
    let text = crate::support::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("verdict: nothing to check") && text.contains("no socket at all"), "{text}");
    assert!(!text.contains("deviation"), "no step is blamed: {text}");
}

/// A signal with a handler interrupts a blocked `accept`: the program sees EINTR (Python's
/// handler raises, so no restart), not the kernel's ERESTARTSYS; Ctrl-C's cousin, a `kill`
/// of `trace`, reaches the program, whose own clean-up closes its listening socket.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn sigint_to_trace__passed_on__the_programs_clean_up_runs__accept_sees_eintr() {
    if !live_test_allowed("SIGINT passed on to a traced server") {
        return;
    }
    let path = scratch("run_sigint").join("t.jsonl");
    let server = "import socket, sys\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\nprint('listening', flush=True)\ntry:\n    s.accept()\nexcept KeyboardInterrupt:\n    s.close(); print('cleaned up', file=sys.stderr, flush=True); sys.exit(3)";
    // The program's standard output goes to trace's standard error: wait for "listening".
    let mut command = Command::new(trace_bin());
    command.args(["run", "--save", path.to_str().expect("utf-8"), "--", "python3", "-c", server]);
    let (mut child, mut err, _) = started_until(command, "listening");
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill on our own child's PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).expect("trace's stderr");
    let status = child.wait().expect("trace ends");
    assert!(rest.contains("cleaned up"), "the program's own clean-up ran: {rest}");
    assert!(rest.contains("exited with status 3"), "{rest}");
    assert!(status.code().is_some(), "trace ended by itself, not by the signal");
    let events = load(&path).events;
    let accept = events.iter().find(|e| e.call_end().is_some_and(|end| end.call.verb() == socktrace::event::Verb::Accept)).expect("accept returned");
    match &accept.body {
        Body::CallEnd(end) => assert_eq!(end.errno.as_ref().map(|e| e.name.as_str()), Some("EINTR"), "what the program saw"),
        _ => unreachable!(),
    }
    assert!(events.iter().any(|e| e.is_on("s1") && e.call_end().is_some_and(|end| end.call == CallName::Close)), "the listener closed by the program");
}

/// A program that ignores SIGTERM is given the grace period, then killed.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn sigterm_ignored__killed_after_the_grace_period__the_trace_whole() {
    if !live_test_allowed("a traced program that ignores SIGTERM") {
        return;
    }
    let path = scratch("run_sigterm").join("t.jsonl");
    let program = "$SIG{TERM} = 'IGNORE'; use Socket; socket(my $s, PF_INET, SOCK_STREAM, 0) or die; $| = 1; print \"ready\\n\"; sleep 60";
    let mut command = Command::new(trace_bin());
    command.args(["run", "--save", path.to_str().expect("utf-8"), "--", "perl", "-e", program]);
    let (mut child, _, _) = started_until(command, "ready");
    let sent = Instant::now();
    // SAFETY: kill on our own child's PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("trace ends");
    let waited = sent.elapsed();
    assert!(status.code().is_some(), "trace ended by itself");
    assert!(waited >= socktrace::capture::ptrace::signals::GRACE, "the program had its grace period: {waited:?}");
    assert!(waited < socktrace::capture::ptrace::signals::GRACE + Duration::from_secs(5), "then it was killed: {waited:?}");
    let traced = load(&path);
    let end = traced.end.expect("the trace has its end line");
    assert!(matches!(&end.programs[..], [p] if matches!(&p.exit, Exit::Signal { signal, .. } if signal == "SIGKILL")), "{:?}", end.programs);
}

/// A server that serves for ever, as most a course writes: one echo per connection, never
/// closing its listening socket.
const FOREVER_SERVER: &str =
    "import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\nwhile True:\n    c, _ = s.accept(); c.sendall(c.recv(64)); c.close()";
const ONE_LINE_CLIENT: &str = "import socket, sys\nc = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); c.sendall(b'hi\\n'); c.recv(64); c.close()";

/// `command`, given Ctrl-C should it still run a minute later: a session these tests expect to
/// end (or to speak) by itself ends then, and the test fails instead of waiting for ever.
fn within_a_minute(command: &Command) -> Command {
    let mut bounded = Command::new("timeout");
    bounded.args(["-s", "INT", "60"]).arg(command.get_program()).args(command.get_args()).env("NO_COLOR", "1");
    bounded
}

/// `--linger`: a server still running once the client has ended is ended, as Ctrl-C would end
/// it, and the session ends by itself, whole; the server's end says trace ended it, and is no
/// failure. One that ignores SIGTERM is killed after the grace period.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn linger__a_server_serving_for_ever__ended_after_the_client__the_session_ends_whole() {
    if !live_test_allowed("a server left running by its client, with --linger") {
        return;
    }
    let stubborn = format!("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n{FOREVER_SERVER}");
    for (server, signal, at_least) in [(FOREVER_SERVER, "SIGTERM", Duration::ZERO), (stubborn.as_str(), "SIGKILL", socktrace::capture::ptrace::signals::GRACE)]
    {
        let path = scratch("run_linger").join(format!("{signal}.jsonl"));
        let started = Instant::now();
        let server = format!("python3 -c \"{server}\"");
        let client = format!("python3 -c \"{ONE_LINE_CLIENT}\" {{port}}");
        let out = within_a_minute(Command::new(trace_bin()).args([
            "run",
            "--save",
            path.to_str().expect("utf-8"),
            "--linger",
            "0.3",
            "--server",
            &server,
            "--client",
            &client,
        ]))
        .output()
        .expect("trace runs");
        let took = started.elapsed();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "a server ended by --linger is no failure: {err}");
        assert!(err.contains(&format!("killed by signal {signal}, ended by trace")), "{err}");
        assert!(took >= at_least && took < at_least + Duration::from_secs(8), "ended {took:?} after it began");
        let traced = load(&path);
        let end = traced.end.expect("the trace has its end line");
        let [server, client] = &end.programs[..] else { panic!("{:?}", end.programs) };
        assert!(server.ended_by_trace && matches!(&server.exit, Exit::Signal { signal: s, .. } if s == signal), "{server:?}");
        assert!(!client.ended_by_trace && matches!(client.exit, Exit::Status { code: 0 }), "{client:?}");
        let closed = traced.events.iter().any(|e| e.is_on("s1") && matches!(&e.body, Body::State(c) if c.to == socktrace::tcp::State::Closed));
        assert!(closed, "the listener's end, as the kernel closed it, is in the trace");
    }
}

/// Without `--linger`, a server still running after the client is left running, and the user
/// told how to end it; Ctrl-C then ends the session, whole.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn without_linger__a_server_serving_for_ever__the_user_is_told_how_to_end_it() {
    if !live_test_allowed("a server left running by its client") {
        return;
    }
    let path = scratch("run_no_linger").join("t.jsonl");
    let server = format!("python3 -c \"{FOREVER_SERVER}\"");
    let client = format!("python3 -c \"{ONE_LINE_CLIENT}\" {{port}}");
    let command = within_a_minute(Command::new(trace_bin()).args(["run", "--save", path.to_str().expect("utf-8"), "--server", &server, "--client", &client]));
    let (mut child, _, line) = started_until(command, "--linger");
    assert!(line.contains("the client has ended and the server still runs") && line.contains("Ctrl-C"), "{line}");
    // SAFETY: kill on our own child's PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("trace ends");
    assert!(status.code().is_some(), "trace ended by itself, the server passed the signal");
    let end = load(&path).end.expect("the trace has its end line");
    assert!(end.programs.iter().all(|p| !p.ended_by_trace), "the user ended it: {:?}", end.programs);
}

/// io_uring moves data without a system call per operation: the trace says it was set up
/// and that what went through it is not traced, on the timeline and at its end.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn io_uring__named_as_not_traced() {
    if !live_test_allowed("a program that sets up io_uring") {
        return;
    }
    let dir = scratch("run_io_uring");
    let program = dir.join("io_uring_probe");
    let built = Command::new("cc").args(["-O1", "-o"]).arg(&program).arg(fixture_path("programs/io_uring_probe.c")).status().expect("cc runs");
    assert!(built.success(), "the probe compiles");
    let path = dir.join("t.jsonl");
    let out = trace(&["run", "--save", path.to_str().expect("utf-8"), "--", program.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT TRACED: what went through io_uring"), "the timeline's last line says so");
    let traced = load(&path);
    assert!(traced.events.iter().any(|e| matches!(&e.body, Body::Process(ProcessChange::Untraced { mechanism }) if mechanism == "io_uring")));
    assert_eq!(traced.end.expect("the end line").untraced, ["io_uring"]);
}

/// The kernel's release of the lenses (tens of milliseconds of RCU grace periods, for the
/// packet socket's close and the perf events' close) is left to a child process: `trace run`
/// returns with its trace complete, and within moments the child has closed them and is gone.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn the_lenses_are_released_by_a_child__nothing_is_left_behind() {
    if !live_test_allowed("the lenses' release in the background") {
        return;
    }
    let path = scratch("run_release").join("t.jsonl");
    let program = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\nc = socket.create_connection(s.getsockname())\na, _ = s.accept()\nc.close(); a.close(); s.close()";
    let child = Command::new(trace_bin())
        .args(["run", "--save", path.to_str().expect("utf-8"), "--", "python3", "-c", program])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trace runs");
    let pid = child.id() as i32;
    let out = child.wait_with_output().expect("trace ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(load(&path).end.is_some(), "the trace is complete when trace returns");
    crate::support::session::assert_released(pid);
}
