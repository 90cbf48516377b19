//! `trace echo` against independent witnesses: tcpdump sees the same packets, other loopback
//! traffic stays out of the trace, and without privileges the tool says what is missing.

use std::net::{TcpListener, UdpSocket};

use socktrace::capture::privilege::{live_test_allowed, NobodyDir};
use socktrace::event::Body;

use crate::support::tcpdump::{self, Tcpdump};
use crate::support::{load, scratch, stderr, trace, trace_bin};

/// tcpdump's flag letters (S, F, R, P, ., …) for our flags, in tcpdump's order.
fn tcpdump_letters(flags: socktrace::tcp::flags::TcpFlags) -> String {
    let mut s = String::new();
    for (bit, letter) in [(0x02, 'S'), (0x01, 'F'), (0x04, 'R'), (0x08, 'P'), (0x20, 'U'), (0x40, 'E'), (0x80, 'W'), (0x10, '.')] {
        if flags.0 & bit != 0 {
            s.push(letter);
        }
    }
    s
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn packets_equal_what_tcpdump_captures_in_the_same_run() {
    if !live_test_allowed("trace echo vs tcpdump") {
        return;
    }
    let dir = scratch("live_tcpdump");
    // tcpdump must know the port before the session starts: take a free one, then hand it on.
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let dump = Tcpdump::start(dir.join("lo.pcap"), &format!("tcp port {port}"));
    let path = dir.join("echo.jsonl");
    let out = trace(&["echo", "--clients", "3", "--port", &port.to_string(), "--save", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let trace = load(&path);
    assert_eq!(server_port(&trace), port);
    let seen: Vec<String> = tcpdump::packets(&dump.stop()).iter().filter_map(|p| p.tcp.as_ref().map(|t| tcpdump_letters(t.flags))).collect();
    let ours: Vec<String> = trace
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Packet(p) => p.tcp.as_ref().map(|t| tcpdump_letters(t.flags)),
            _ => None,
        })
        .collect();
    assert!(!ours.is_empty());
    let mut a = ours.clone();
    let mut b = seen.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "same packets and flags as tcpdump (ours: {ours:?}, tcpdump: {seen:?})");
}

/// The server's port, from its bind call.
fn server_port(trace: &socktrace::trace::Trace) -> u16 {
    trace
        .events
        .iter()
        .find_map(|e| match &e.body {
            Body::CallEnd(end) if end.call == socktrace::event::CallName::Bind => end.local.map(|a| a.port()),
            _ => None,
        })
        .expect("the server bound a port")
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn other_loopback_traffic_stays_out_of_the_trace() {
    if !live_test_allowed("trace echo privacy") {
        return;
    }
    // Another program's TCP and UDP conversation on loopback, busy for the whole trace.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    let udp_port = udp.local_addr().expect("addr").port();
    let sender = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let chatter = crate::support::chatter::Chatter::start(listener, move || {
        let _ = sender.send_to(b"secret", ("127.0.0.1", udp_port));
    });
    let path = scratch("live_privacy").join("echo.jsonl");
    let out = trace(&["echo", "--save", path.to_str().expect("utf-8")]);
    drop(chatter);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let trace = load(&path);
    let port = server_port(&trace);
    let mut packets = 0;
    for e in &trace.events {
        if let Body::Packet(p) = &e.body {
            packets += 1;
            assert!(p.src.port() == port || p.dst.port() == port, "a packet of another conversation: {p:?}");
            assert!(p.payload.as_ref().is_none_or(|pl| !pl.text.contains("secret")));
        }
    }
    assert!(packets > 0, "the trace has its own packets");
    drop(udp);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn without_privileges_says_what_is_missing_and_exits_2() {
    if !live_test_allowed("trace echo as nobody") {
        return;
    }
    let dir = NobodyDir::new("echo").expect("a directory for nobody");
    let bin = dir.copy(std::path::Path::new(trace_bin())).expect("copy the trace binary");
    let out = dir.command(&bin).arg("echo").arg("--live").env("NO_COLOR", "1").output().expect("run as nobody");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("CAP_NET_RAW"), "names the missing capability: {err}");
    assert!(err.contains("setcap") && err.contains("sudo"), "says how to grant it: {err}");
    assert!(!err.contains("panicked"), "{err}");
}
