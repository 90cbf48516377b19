//! `trace run` as root: unmodified echo programs in Perl, Python, C and Rust, their socket
//! calls read through ptrace, beside the packets and kernel states; and strace, run on the
//! same programs, agreeing call for call.

#![allow(non_snake_case)] // names read program__what_the_trace_shows

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use socktrace::capture::privilege::live_test_allowed;
use socktrace::event::{Body, CallName, Event, ProcessChange, Role, SockId};
use socktrace::tcp::flags::TcpFlags;
use socktrace::tcp::state::State;
use socktrace::trace::{Exit, Trace};

use crate::support::story::Story;
use crate::support::{load, scratch, stderr, trace};

fn fixture(name: &str) -> String {
    crate::support::fixture_path(&format!("programs/{name}"))
}

/// The C fixture program `name`, compiled into `dir`.
fn compiled(name: &str, dir: &Path) -> std::path::PathBuf {
    let out = dir.join(name);
    let status = Command::new("cc").args(["-O1", "-Wall", "-pthread", "-o"]).arg(&out).arg(fixture(&format!("{name}.c"))).status().expect("cc runs");
    assert!(status.success(), "cc compiles {name}.c");
    out
}

/// An echo server and its client, as commands (the client takes the port as its argument,
/// or reads it from standard input).
struct Pair {
    server: String,
    client: String,
}

/// The pair in `lang`; C and Rust are compiled into `dir` first.
fn pair(lang: &str, dir: &Path) -> Pair {
    let compile = |tool: &str, args: &[&str], side: &str, ext: &str| -> String {
        let out = dir.join(format!("echo_{side}"));
        let status = Command::new(tool)
            .args(args)
            .arg("-o")
            .arg(&out)
            .arg(fixture(&format!("echo_{side}.{ext}")))
            .status()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
        assert!(status.success(), "{tool} compiles echo_{side}.{ext}");
        out.to_string_lossy().into_owned()
    };
    match lang {
        "perl" => Pair { server: format!("perl {}", fixture("echo_server.pl")), client: format!("perl {}", fixture("echo_client.pl")) },
        "python" => Pair { server: format!("python3 {}", fixture("echo_server.py")), client: format!("python3 {}", fixture("echo_client.py")) },
        "c" => Pair { server: compile("cc", &["-O1"], "server", "c"), client: compile("cc", &["-O1"], "client", "c") },
        "rust" => Pair { server: compile("rustc", &["--edition", "2021"], "server", "rs"), client: compile("rustc", &["--edition", "2021"], "client", "rs") },
        other => panic!("no {other} pair"),
    }
}

/// `trace run --save FILE ARGS`: the trace, and what it wrote on standard error.
fn record(path: &Path, args: &[&str]) -> (Trace, String) {
    record_exiting(path, args, 0)
}

/// The same, for programs after which `trace run` exits with `code` (1: one failed).
fn record_exiting(path: &Path, args: &[&str], code: i32) -> (Trace, String) {
    let mut all = vec!["run", "--save", path.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = trace(&all);
    assert_eq!(out.status.code(), Some(code), "trace run: {}", stderr(&out));
    let traced = load(path);
    // Calls held back until their socket is named still take their place in time.
    assert_eq!(traced.end.as_ref().map(|e| e.out_of_order), Some(0), "every event released in time order");
    (traced, stderr(&out))
}

fn syn_ack() -> TcpFlags {
    TcpFlags::SYN.union(TcpFlags::ACK)
}

fn fin_ack() -> TcpFlags {
    TcpFlags::FIN.union(TcpFlags::ACK)
}

fn sock(s: &str) -> SockId {
    SockId(s.into())
}

/// The documented sequences of one echo connection, each call, packet and state named to
/// its socket: the server's passive open, the client's active open, the echoes, the close.
fn assert_echo_story(events: &[Event]) {
    let story = Story::new(events);
    assert_eq!(story.created(Role::Server, CallName::Socket), [sock("s1")]);
    assert_eq!(story.created(Role::Server, CallName::Accept), [sock("s2")]);
    assert_eq!(story.created(Role::Client, CallName::Socket), [sock("c1")]);

    let bind = story.call_end(CallName::Bind, "s1");
    let port = story.end_of(bind).local.expect("bind reports the port the kernel chose").port();
    assert_ne!(port, 0);
    story.in_order(&[
        ("socket() = s1", story.call_end(CallName::Socket, "s1")),
        ("bind(s1)", bind),
        ("listen(s1) starts", story.call_start(CallName::Listen, "s1")),
        ("s1 LISTEN", story.state("s1", State::Closed, State::Listen)),
        ("listen(s1) ends", story.call_end(CallName::Listen, "s1")),
        ("accept(s1) starts", story.call_start(CallName::Accept, "s1")),
    ]);

    let accept_end = story.accept_returning(&sock("s2"));
    assert!(story.end_of(accept_end).ret >= 0, "accept returns the new socket's fd");
    let syn = story.packet(None, "c1", "s1", TcpFlags::SYN, "the client's SYN");
    let syn_ack = story.packet(Some(syn), "s1", "c1", syn_ack(), "the SYN|ACK");
    let third_ack = story.packet(Some(syn_ack), "c1", "s2", TcpFlags::ACK, "the third ACK");
    story.in_order(&[
        ("socket() = c1", story.call_end(CallName::Socket, "c1")),
        ("connect(c1) starts", story.call_start(CallName::Connect, "c1")),
        ("c1 SYN-SENT", story.state("c1", State::Closed, State::SynSent)),
        ("SYN", syn),
        ("SYN|ACK", syn_ack),
        ("c1 ESTABLISHED", story.state("c1", State::SynSent, State::Established)),
        ("connect(c1) ends", story.call_end(CallName::Connect, "c1")),
    ]);
    story.in_order(&[("third ACK", third_ack), ("s2 ESTABLISHED", story.state("s2", State::SynReceived, State::Established)), ("accept ends", accept_end)]);
    assert_eq!(story.end_of(story.call_end(CallName::Connect, "c1")).peer.map(|p| p.port()), Some(port));

    // Each line goes out, is received and comes back.
    let mut last = third_ack;
    for line in ["hello\\n", "world\\n"] {
        let data = story.data("c1", line);
        let echo = story.data("s2", line);
        story.in_order(&[("the previous step", last), ("data", data), ("echo", echo)]);
        last = echo;
    }
    let received = events.iter().filter(|e| e.is_on("s2")).find_map(|e| match &e.body {
        Body::CallEnd(end) if end.call.verb() == socktrace::event::Verb::Recv && end.ret > 0 => end.data.clone(),
        _ => None,
    });
    assert_eq!(received.map(|d| d.text).as_deref(), Some("hello\\n"), "recv shows the bytes it received");

    // The client closes first; the server reads the end of the stream, then closes.
    let client_fin = story.packet(Some(last), "c1", "s2", fin_ack(), "the client's FIN");
    let server_fin = story.packet(Some(client_fin), "s2", "c1", fin_ack(), "the server's FIN");
    story.in_order(&[
        ("close(c1)", story.call_start(CallName::Close, "c1")),
        ("the client's FIN", client_fin),
        ("recv(s2) = 0", story.recv_eof("s2")),
        ("close(s2)", story.call_start(CallName::Close, "s2")),
        ("the server's FIN", server_fin),
        ("close(s1)", story.call_start(CallName::Close, "s1")),
    ]);
}

/// The calls strace compares, by their system call names.
const STRACE_CALLS: &str = "socket,bind,listen,accept,accept4,connect,sendto,recvfrom,sendmsg,recvmsg,shutdown,close,read,write";

/// Per process (in the order of their first socket call), the system calls on TCP sockets.
fn trace_calls(events: &[Event]) -> Vec<Vec<String>> {
    let listed: Vec<&str> = STRACE_CALLS.split(',').collect();
    let mut per_pid: Vec<(u32, Vec<String>)> = Vec::new();
    for event in events {
        let Body::CallStart(start) = &event.body else { continue };
        let name = start.call.as_str().to_string();
        if !listed.contains(&name.as_str()) {
            continue;
        }
        let pid = event.actor.pid.expect("a traced call has its pid");
        match per_pid.iter_mut().find(|(p, _)| *p == pid) {
            Some((_, calls)) => calls.push(name),
            None => per_pid.push((pid, vec![name])),
        }
    }
    per_pid.into_iter().map(|(_, calls)| calls).collect()
}

/// The same from `strace -f` output: a descriptor is a TCP socket from the `socket` or
/// `accept` that returned it to its `close`.
fn strace_calls(text: &str) -> Vec<Vec<String>> {
    let mut pending: HashMap<u32, (String, String)> = HashMap::new();
    let mut sockets: HashMap<u32, Vec<i64>> = HashMap::new();
    let mut per_pid: Vec<(u32, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let Some((pid, rest)) = line.split_once(' ') else { continue };
        // strace pads short pids: "6617  close(3)".
        let rest = rest.trim_start();
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let (name, args) = if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((name, tail)) = resumed.split_once(" resumed>") else { continue };
            let Some((_, head)) = pending.remove(&pid) else { continue };
            (name.to_string(), format!("{head}{tail}"))
        } else {
            let Some((name, args)) = rest.split_once('(') else { continue };
            if args.ends_with("<unfinished ...>") {
                pending.insert(pid, (name.to_string(), args.to_string()));
                continue;
            }
            (name.to_string(), args.to_string())
        };
        let ret: Option<i64> = args.rsplit_once(" = ").and_then(|(_, r)| r.split_whitespace().next()).and_then(|r| r.parse().ok());
        let fd: Option<i64> = args.split(|c: char| !c.is_ascii_digit() && c != '-').next().and_then(|f| f.parse().ok());
        let fds = sockets.entry(pid).or_default();
        let on_socket = fd.is_some_and(|fd| fds.contains(&fd));
        let record = match name.as_str() {
            "socket" => {
                let tcp = (args.starts_with("AF_INET,") || args.starts_with("AF_INET6,")) && args.contains("SOCK_STREAM");
                if let Some(new) = ret.filter(|r| tcp && *r >= 0) {
                    fds.push(new);
                }
                tcp
            }
            "accept" | "accept4" => {
                if let Some(new) = ret.filter(|r| on_socket && *r >= 0) {
                    fds.push(new);
                }
                on_socket
            }
            "close" => {
                if on_socket {
                    fds.retain(|f| Some(*f) != fd);
                }
                on_socket
            }
            _ => on_socket,
        };
        if record {
            match per_pid.iter_mut().find(|(p, _)| *p == pid) {
                Some((_, calls)) => calls.push(name),
                None => per_pid.push((pid, vec![name])),
            }
        }
    }
    per_pid.into_iter().map(|(_, calls)| calls).collect()
}

/// Traces `lang`'s pair twice, with `trace run --server --client` (the documented sequences)
/// and as a shell pipeline, under `trace run` and under strace (the same calls per process).
fn echo_pair(lang: &str) {
    let dir = scratch(&format!("run_{lang}"));
    let pair = pair(lang, &dir);
    let client = format!("{} {{port}}", pair.client);
    let (traced, _) = record(&dir.join("pair.jsonl"), &["--server", &pair.server, "--client", &client]);
    assert_echo_story(&traced.events);
    let ends = &traced.end.as_ref().expect("a complete trace").programs;
    assert_eq!(ends.len(), 2, "both programs' ends: {ends:?}");
    assert!(ends.iter().all(|p| p.exit == Exit::Status { code: 0 }), "{ends:?}");

    // A shell that starts both: the server's port goes through the pipe to the client.
    let line = format!("{} | {}", pair.server, pair.client);
    let (shell, _) = record(&dir.join("shell.jsonl"), &["--", "sh", "-c", &line]);
    assert_echo_story(&shell.events);
    let strace_out = dir.join("strace.txt");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&strace_out)
        .args(["-e", &format!("trace={STRACE_CALLS}"), "sh", "-c", &line])
        .status()
        .expect("strace runs (the Debian package strace)");
    assert!(status.success(), "the pair runs under strace");
    let text = std::fs::read_to_string(&strace_out).expect("strace's output");
    let expected = strace_calls(&text);
    assert_eq!(expected.len(), 2, "strace saw two processes with TCP sockets: {expected:?}");
    assert_eq!(trace_calls(&shell.events), expected, "trace run and strace agree, call for call, per process");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn perl_echo__documented_sequences__strace_agrees() {
    if !live_test_allowed("perl_echo__documented_sequences__strace_agrees") {
        return;
    }
    echo_pair("perl");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn python_echo__documented_sequences__strace_agrees() {
    if !live_test_allowed("python_echo__documented_sequences__strace_agrees") {
        return;
    }
    echo_pair("python");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn c_echo__documented_sequences__strace_agrees() {
    if !live_test_allowed("c_echo__documented_sequences__strace_agrees") {
        return;
    }
    echo_pair("c");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn rust_echo__documented_sequences__strace_agrees() {
    if !live_test_allowed("rust_echo__documented_sequences__strace_agrees") {
        return;
    }
    echo_pair("rust");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn every_syscall_stopped__same_story_as_with_the_filter() {
    if !live_test_allowed("every_syscall_stopped__same_story_as_with_the_filter") {
        return;
    }
    let dir = scratch("run_every_syscall");
    let pair = pair("python", &dir);
    let client = format!("{} {{port}}", pair.client);
    let (traced, _) = record(&dir.join("t.jsonl"), &["--every-syscall", "--server", &pair.server, "--client", &client]);
    assert_echo_story(&traced.events);
}

#[test]
fn missing_command__one_line__exit_2() {
    let out = trace(&["run", "--", "socktrace-no-such-program", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "trace run: cannot start socktrace-no-such-program: No such file or directory\n");
    assert!(out.stdout.is_empty(), "nothing traced, nothing shown");
    let out = trace(&["run", "--server", "true", "--client", "socktrace-no-such-client {port}"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "trace run: cannot start socktrace-no-such-client: No such file or directory\n");
    let out = trace(&["run"]);
    assert_eq!(out.status.code(), Some(2), "no command is a usage error");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn crashing_program__the_trace_is_whole_and_says_the_signal() {
    if !live_test_allowed("crashing_program__the_trace_is_whole_and_says_the_signal") {
        return;
    }
    let dir = scratch("run_crash");
    let crash = "use Socket; socket(my $s, PF_INET, SOCK_STREAM, 0) or die; kill SEGV => $$";
    // The traced session failed: exit 1, the trace whole.
    let (traced, err) = record_exiting(&dir.join("t.jsonl"), &["--", "perl", "-e", crash], 1);
    assert!(err.contains("was killed by signal SIGSEGV"), "stderr says how it died: {err}");
    let end = traced.end.expect("the trace has its end line");
    assert!(
        matches!(&end.programs[..], [p] if p.command == "perl" && matches!(&p.exit, Exit::Signal { signal, .. } if signal == "SIGSEGV")),
        "{:?}",
        end.programs
    );
    let story = Story::new(&traced.events);
    // The socket was made and never used: a socket that played no part is named as idle.
    assert_eq!(story.created(Role::Unknown, CallName::Socket), [sock("o1")], "a socket that played no part is idle");
}

/// A forking server: the child serves the connection; the parent's close of its copy of the
/// accepted socket does not end the connection, the child's does.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn forking_server__the_child_inherits_the_socket__the_parents_close_sends_no_fin() {
    if !live_test_allowed("forking_server__the_child_inherits_the_socket__the_parents_close_sends_no_fin") {
        return;
    }
    let dir = scratch("run_fork");
    let server = fixture("forking_server.pl");
    let client = format!("perl {} {{port}}", fixture("echo_client.pl"));
    let (traced, _) = record(&dir.join("t.jsonl"), &["--server", &format!("perl {server}"), "--client", &client]);
    let events = &traced.events;
    let story = Story::new(events);
    let accept_end = story.accept_returning(&sock("s2"));
    let parent = events[accept_end].actor.pid;
    let closes: Vec<&Event> = events.iter().filter(|e| e.is_on("s2") && e.call_start().is_some_and(|c| c.verb() == socktrace::event::Verb::Close)).collect();
    let parent_close = closes.iter().find(|e| e.actor.pid == parent).expect("the parent closes its copy");
    let child_close = closes.iter().find(|e| e.actor.pid != parent).expect("the child closes the connection");
    assert!(parent_close.call_start().is_some_and(|c| c.args.other_fds == Some(1)), "the child still holds s2: {:?}", parent_close.body);
    assert!(child_close.call_start().is_some_and(|c| c.args.other_fds.is_none()));
    story.data("s2", "hello\\n");
    let child_recv =
        events.iter().find(|e| e.is_on("s2") && e.call_start().is_some_and(|c| c.verb() == socktrace::event::Verb::Recv)).expect("the child receives on s2");
    assert_ne!(child_recv.actor.pid, parent, "the child's calls on the inherited socket are its own");
    let server_fin = story.packet(None, "s2", "c1", fin_ack(), "the server's FIN");
    assert!(parent_close.t < child_close.t && child_close.t < events[server_fin].t, "the FIN leaves with the child's close, the last");
}

/// A thread's close lingers while the main thread accepts the next connection, which Linux
/// gives the number that close let go of as it began: the new socket's calls, made after the
/// close returned, are the new socket's (the number is freed at close's entry, not its exit).
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn thread_closes_while_another_accepts__the_reused_number_is_the_new_socket() {
    if !live_test_allowed("thread_closes_while_another_accepts__the_reused_number_is_the_new_socket") {
        return;
    }
    let dir = scratch("run_lingering_close");
    let server = compiled("lingering_close_server", &dir);
    let client = format!("python3 {} {{port}}", fixture("idle_then_echo_client.py"));
    let (traced, _) = record(&dir.join("t.jsonl"), &["--server", server.to_str().expect("utf-8"), "--client", &client]);
    let events = &traced.events;
    let story = Story::new(events);
    let accept_end = story.accept_returning(&sock("s3"));
    let fd = |e: &Event| e.call_start().and_then(|c| c.fd);
    let close_of = |name: &str| events.iter().position(|e| e.is_on(name) && e.call_start().is_some_and(|c| c.verb() == socktrace::event::Verb::Close));
    let lingering = close_of("s2").expect("the thread closes s2");
    let lingering_end =
        events.iter().position(|e| matches!(&e.body, Body::CallEnd(end) if Some(end.id) == events[lingering].call_start().map(|c| c.id))).expect("its end");
    assert!(lingering < accept_end && accept_end < lingering_end, "s3 is accepted while s2's close runs");
    for verb in [socktrace::event::Verb::Recv, socktrace::event::Verb::Send, socktrace::event::Verb::Close] {
        let call = events.iter().position(|e| e.is_on("s3") && e.call_start().is_some_and(|c| c.verb() == verb));
        let call = call.unwrap_or_else(|| panic!("s3's {verb:?} is traced"));
        assert!(call > lingering_end, "after the close returned");
        assert_eq!(fd(&events[call]), fd(&events[lingering]), "on the number s2's close let go of");
    }
}

/// A client that closes with `SO_LINGER` on and a timeout of 0 aborts its connection: a
/// reset, and its socket CLOSED at once. The model beside it, told of the option, expects just
/// that: no row of the timeline is marked unexplained.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn abortive_close__a_reset_and_closed_at_once__as_the_model_expects() {
    if !live_test_allowed("abortive_close__a_reset_and_closed_at_once__as_the_model_expects") {
        return;
    }
    let dir = scratch("run_abortive_close");
    let client = compiled("abortive_close_client", &dir);
    let server = format!("python3 {}", fixture("echo_server.py"));
    let client = format!("{} {{port}}", client.to_str().expect("utf-8"));
    // The server's next recv meets the reset (ECONNRESET): it ends with an error, so does the run.
    let (traced, _) = record_exiting(&dir.join("t.jsonl"), &["--server", &server, "--client", &client], 1);
    let events = &traced.events;
    let reset = events.iter().position(|e| e.is_on("c1") && e.packet().and_then(|p| p.tcp.as_ref()).is_some_and(|t| t.flags.contains(TcpFlags::RST)));
    let reset = reset.expect("the client's close sends a reset");
    let closed = events.iter().position(|e| e.is_on("c1") && matches!(&e.body, Body::State(c) if c.to == State::Closed));
    let closed = closed.expect("the kernel reports c1 CLOSED");
    assert!(
        matches!(&events[closed].body, Body::State(c) if matches!(c.from, State::Established | State::CloseWait)),
        "CLOSED at once, without a FIN: {:?}",
        events[closed].body
    );
    assert!(closed < reset, "the socket is CLOSED as the reset leaves");
    assert_eq!(crate::support::model::unexplained(events), None);
}

/// One process listens, connects to itself and accepts: each socket has its own role, and a
/// duplicate descriptor writes on the same socket.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn peer_to_peer__roles_per_socket__dup_writes_the_same_socket() {
    if !live_test_allowed("peer_to_peer__roles_per_socket__dup_writes_the_same_socket") {
        return;
    }
    let dir = scratch("run_p2p");
    let (traced, _) = record(&dir.join("t.jsonl"), &["--", "python3", &fixture("self_connect.py")]);
    let events = &traced.events;
    let story = Story::new(events);
    assert_eq!(story.created(Role::Server, CallName::Socket), [sock("s1")]);
    assert_eq!(story.created(Role::Client, CallName::Socket), [sock("c1")]);
    assert_eq!(story.created(Role::Server, CallName::Accept), [sock("s2")]);
    let pids: Vec<Option<u32>> = events.iter().filter(|e| e.call_start().is_some()).map(|e| e.actor.pid).collect();
    assert!(pids.windows(2).all(|w| w[0] == w[1]), "one process");
    for e in events.iter().filter(|e| matches!(e.body, Body::CallStart(_) | Body::CallEnd(_))) {
        let Some(socket) = &e.socket else { continue };
        let expected = if socket.0.starts_with('c') { Role::Client } else { Role::Server };
        assert_eq!(e.actor.role, expected, "the actor's role is its socket's: {e:?}");
    }
    story.packet(None, "c1", "s1", TcpFlags::SYN, "the SYN to itself");
    let connect_fd = match &events[story.call_start(CallName::Connect, "c1")].body {
        Body::CallStart(c) => c.fd,
        _ => None,
    };
    let dup_write = events.iter().find(|e| e.call_start().is_some_and(|c| c.call == CallName::Write));
    let dup_write = dup_write.expect("a write through the duplicate");
    assert!(dup_write.call_start().is_some_and(|c| c.fd != connect_fd), "another descriptor");
    assert_eq!(dup_write.socket, Some(sock("c1")), "the duplicate is the same socket");
    story.data("c1", "through a dup\\n");
}

/// A traced server and a client that is not traced: the client's socket, which no call
/// named, is named as the untraced peer (`peer1`), from the packets; the server's from its
/// calls.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn traced_server__untraced_client__named_from_the_packets() {
    use std::io::BufRead;
    if !live_test_allowed("traced_server__untraced_client__named_from_the_packets") {
        return;
    }
    let path = scratch("run_untraced_client").join("t.jsonl");
    let mut traced = Command::new(crate::support::trace_bin())
        .args(["run", "--save", path.to_str().expect("utf-8 path"), "--", "python3", &fixture("echo_server.py")])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("trace runs");
    // The server's standard output comes out on trace's standard error: its port first.
    let mut port = String::new();
    let mut err = std::io::BufReader::new(traced.stderr.take().expect("piped"));
    err.read_line(&mut port).expect("the server's port");
    let client = Command::new("python3").arg(fixture("echo_client.py")).arg(port.trim()).status().expect("the client runs");
    assert!(client.success(), "the untraced client talked to the traced server (port {port:?})");
    assert!(traced.wait().expect("trace ends with its server").success());
    let events = load(&path).events;
    let story = Story::new(&events);
    assert_eq!(story.created(Role::Server, CallName::Accept), [sock("s2")]);
    assert!(story.created(Role::Client, CallName::Socket).is_empty(), "no client call was traced");
    let syn = story.packet(None, "peer1", "s1", TcpFlags::SYN, "the other program's SYN");
    assert_eq!(events[syn].actor.role, Role::Client);
    let syn_ack = story.packet(Some(syn), "s1", "peer1", syn_ack(), "the SYN|ACK");
    story.packet(Some(syn_ack), "peer1", "s2", TcpFlags::ACK, "the third ACK");
    story.data("peer1", "hello\\n");
}

/// Without root: the calls alone, the header saying which lenses could not run and why, and
/// exit status 2, as `trace echo --live` does.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn unprivileged__calls_only__labelled__exit_2() {
    if !live_test_allowed("unprivileged__calls_only__labelled__exit_2") {
        return;
    }
    // A directory `nobody` can read, with the binary and the programs.
    let dir = socktrace::capture::privilege::NobodyDir::new("run").expect("a directory for nobody");
    let bin = dir.copy(Path::new(crate::support::trace_bin())).expect("copy trace");
    let copy = |name: &str| dir.copy(Path::new(&fixture(name))).expect("copy a program").display().to_string();
    let server = format!("python3 {}", copy("echo_server.py"));
    let client = format!("python3 {} {{port}}", copy("echo_client.py"));
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"])
        .arg(&bin)
        .args(["run", "--json", "--server", &server, "--client", &client])
        .output()
        .expect("setpriv runs (util-linux)");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "the trace is not whole: {err}");
    assert!(err.contains("CAP_NET_RAW"), "says what is missing and how to get it: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().expect("a header")).expect("JSON header");
    assert_eq!(header["lenses"]["calls"]["status"], "observed");
    assert_eq!(header["lenses"]["packets"]["status"], "unavailable");
    let events: Vec<Event> = lines.filter_map(|l| serde_json::from_str(l).ok()).collect();
    let story = Story::new(&events);
    assert_eq!(story.created(Role::Server, CallName::Accept), [sock("s2")]);
    story.call_end(CallName::Connect, "c1");
    assert!(!events.iter().any(|e| e.packet().is_some()), "no packets without the capture");
}

/// An exec closes the sockets marked close-on-exec and keeps the others: the new program's
/// writes on the kept one are traced, its reads of files under the closed numbers are not;
/// the model beside the closed ones explains their closes.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn exec__keeps_inheritable_sockets__closes_the_others() {
    if !live_test_allowed("exec__keeps_inheritable_sockets__closes_the_others") {
        return;
    }
    let dir = scratch("run_exec");
    let (traced, _) = record(&dir.join("t.jsonl"), &["--", "python3", &fixture("exec_keeps_socket.py")]);
    let events = &traced.events;
    let story = Story::new(events);
    let accept_end = story.accept_returning(&sock("s2"));
    // The exec is on the timeline, with what it kept and what it closed.
    let exec = accept_end
        + events[accept_end..].iter().position(|e| matches!(&e.body, Body::Process(ProcessChange::Exec { .. }))).expect("the exec is on the timeline");
    match &events[exec].body {
        Body::Process(ProcessChange::Exec { kept, closed, .. }) => {
            assert_eq!(kept, &[sock("c1")], "the inheritable socket stays open");
            assert_eq!(closed, &[sock("s1"), sock("s2")], "the close-on-exec ones close with the exec");
        }
        _ => unreachable!("found above"),
    }
    // After it, the new program's calls are on the kept socket only: its reads of files under
    // the closed sockets' numbers are no socket calls.
    let after: Vec<(Option<&str>, socktrace::event::Verb)> = events[exec + 1..]
        .iter()
        .filter_map(|e| match &e.body {
            Body::CallStart(c) if c.verb().is_step() => Some((e.socket.as_ref().map(|s| s.0.as_str()), c.verb())),
            _ => None,
        })
        .collect();
    assert_eq!(
        after,
        [(Some("c1"), socktrace::event::Verb::Send), (Some("c1"), socktrace::event::Verb::Close)],
        "after the exec, only the kept socket's calls"
    );
    story.data("c1", "after exec\\n");
    // The accepted socket's last descriptor closed with the exec: the kernel sent its FIN.
    story.packet(Some(accept_end), "s2", "c1", fin_ack(), "the FIN of the socket the exec closed");
    // Which the model beside it takes as a close, though the exec is heard of after it.
    assert_eq!(crate::support::model::unexplained(events), None);
}
