//! `trace echo --serve` under load: a thousand clients at once and a hundred that connect and
//! never send; every active one is served, none is refused for want of descriptors, memory
//! stays bounded, and the trace holds every connection. And where the server listens: on
//! loopback unless told otherwise, tried inside a network namespace of the test's own.

#![allow(non_snake_case)] // names read situation__outcome

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;

use socktrace::capture::privilege::live_test_allowed;
use socktrace::event::{Body, CallName, Role};
use socktrace::live::open_files;
use socktrace::trace::read_trace;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Barrier;

use crate::support::scratch;
use crate::support::session::{assert_left_whole, Running, PATIENCE};
use crate::support::trace_bin;

const ACTIVE: usize = 1000;
const IDLE: usize = 100;
/// A generous bound on the server's peak resident memory: what matters is that it does not
/// grow with everything it has seen (the measured figure is printed).
const PEAK_RSS_BOUND_KIB: u64 = 512 * 1024;

/// This test's own sockets need descriptors too: raised as `trace` raises its own.
fn raise_own_open_files(need: u64) {
    let limit = open_files::raise_to_hard().expect("getrlimit/setrlimit");
    assert!(limit >= need, "this test needs {need} open files but the hard limit (RLIMIT_NOFILE) is {limit}: raise it (ulimit -Hn {need})");
}

/// The peak resident memory of process `pid` so far (VmHWM), in KiB.
fn peak_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a size in kB")
}

/// The soft limit on open files of process `pid`.
fn open_files_soft_limit(pid: i32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("/proc/PID/limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("the open-file limit");
    line.split_whitespace().nth(3).expect("its soft value").to_string()
}

/// One active client: it connects, waits until every other one has too (so that the server
/// holds all of them at once), then sends a line, ends its stream and reads the numbered echo
/// up to the server's close.
async fn active_client(i: usize, port: u16, all_connected: Arc<Barrier>) -> Result<(), String> {
    let talk = async {
        let connected = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
        all_connected.wait().await;
        let mut stream = connected?;
        stream.write_all(format!("client {i}\n").as_bytes()).await?;
        stream.shutdown().await?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await?;
        Ok::<String, std::io::Error>(reply)
    };
    match tokio::time::timeout(PATIENCE, talk).await {
        Ok(Ok(reply)) if reply == format!("1: client {i}\n") => Ok(()),
        Ok(Ok(reply)) => Err(format!("client {i} got {reply:?}")),
        Ok(Err(err)) => Err(format!("client {i}: {err}")),
        Err(_) => Err(format!("client {i}: no answer")),
    }
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn echo_serve__1000_active_and_100_idle_clients__every_active_one_served__memory_bounded() {
    if !live_test_allowed("echo_serve__1000_active_and_100_idle_clients__every_active_one_served__memory_bounded") {
        return;
    }
    raise_own_open_files((ACTIVE + IDLE) as u64 + 64);
    let path = scratch("load_serve").join("t.jsonl");
    let mut command = Command::new(trace_bin());
    // A backlog for everyone at once: with the default 128, the kernel answers the overflow
    // with SYN cookies, and some of those connections are reset (`trace echo` shows it).
    command.args(["echo", "--serve", "--backlog", "2048", "--json", "--save", &path.to_string_lossy()]);
    // Started with the usual soft limit (1,024), below what 1,100 connections need: `trace`
    // must raise its own.
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limit.
    unsafe {
        command.pre_exec(|| {
            let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = limit.rlim_max.min(1024);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let mut session = Running::spawn(command);
    let port = session.server_port();
    let pid = session.pid();

    let idle: Vec<TcpStream> = (0..IDLE).map(|_| TcpStream::connect(("127.0.0.1", port)).expect("an idle client connects")).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let failures: Vec<String> = runtime.block_on(async {
        let mut clients = tokio::task::JoinSet::new();
        let all_connected = Arc::new(Barrier::new(ACTIVE));
        for i in 0..ACTIVE {
            clients.spawn(active_client(i, port, all_connected.clone()));
        }
        let mut failures = Vec::new();
        while let Some(done) = clients.join_next().await {
            if let Err(err) = done.unwrap_or_else(|join| Err(join.to_string())) {
                failures.push(err);
            }
        }
        failures
    });
    assert!(failures.is_empty(), "{} of {ACTIVE} active clients not served, e.g. {:?}", failures.len(), &failures[..failures.len().min(5)]);
    assert_eq!(open_files_soft_limit(pid), open_files_soft_limit(std::process::id() as i32), "trace raised its soft limit to the hard one");
    let peak = peak_rss_kib(pid);
    eprintln!("figure: trace echo --serve, {ACTIVE} active + {IDLE} idle clients: peak RSS {} MiB", peak / 1024);
    assert!(peak < PEAK_RSS_BOUND_KIB, "peak RSS {peak} KiB");

    session.signal(libc::SIGINT);
    let (code, err, _) = session.wait_exit();
    drop(idle);
    assert_eq!(code, Some(0), "{err}");
    assert_left_whole(&path, pid, &[]);
    let saved = read_trace(&path).expect("the trace");
    let ends = || {
        saved.events.iter().filter_map(|e| match &e.body {
            Body::CallEnd(end) if e.actor.role == Role::Server => Some(end),
            _ => None,
        })
    };
    let accepted = ends().filter(|c| c.call == CallName::Accept && c.new_socket.is_some()).count();
    let sends = ends().filter(|c| c.call == CallName::Send && c.errno.is_none()).count();
    let failed_accepts =
        ends().filter(|c| c.call == CallName::Accept && c.errno.is_some() && c.errno.as_ref().map(|e| e.name.as_str()) != Some("EINTR")).count();
    assert_eq!(accepted, ACTIVE + IDLE, "every connection is in the trace");
    assert_eq!(sends, ACTIVE, "every echo is in the trace");
    assert_eq!(failed_accepts, 0, "no accept failed (the open-file limit was raised)");
    let end = saved.end.expect("the end line");
    eprintln!("figure: {} events; packets dropped {}, states lost {}", end.events, end.packets_dropped, end.states_lost);
    assert_eq!((end.packets_dropped, end.states_lost), (0, 0), "nothing lost");
}

/// `--bind 0.0.0.0 --non-loopback` listens on every address, with a warning. Tried in a
/// network namespace made for the test (`unshare --net`): its only interface is its own `lo`,
/// and it disappears with the process.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn echo_serve__bind_any_address__needs_the_flag__warns__serves() {
    if !live_test_allowed("echo_serve__bind_any_address__needs_the_flag__warns__serves") {
        return;
    }
    let path = scratch("load_bind").join("t.jsonl");
    let mut command = Command::new("unshare");
    let trace =
        format!("ip link set lo up && exec {} echo --serve --bind 0.0.0.0 --non-loopback --connections 1 --json --save {}", trace_bin(), path.display());
    command.args(["--net", "sh", "-c", &trace]);
    let mut session = Running::spawn(command);
    let port = session.port_bound_on("0.0.0.0");
    let namespace = std::fs::File::open(format!("/proc/{}/ns/net", session.pid())).expect("the session's network namespace");
    // A thread that joins the namespace is the client there (setns changes only its thread).
    let client = std::thread::spawn(move || {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        // SAFETY: a valid namespace descriptor; CLONE_NEWNET moves this thread only.
        assert_eq!(unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns: {}", std::io::Error::last_os_error());
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect inside the namespace");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        stream.write_all(b"inside\n").expect("send");
        stream.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("the echo");
        reply
    });
    assert_eq!(client.join().expect("the client"), "1: inside\n");
    let (code, err, _) = session.wait_exit();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.starts_with("trace: warning: the server listens on 0.0.0.0, where other machines can connect"), "{err}");
    let saved = read_trace(&path).expect("the trace");
    assert!(saved.events.iter().any(|e| e.packet().is_some()), "the namespace's lo was captured");
}
