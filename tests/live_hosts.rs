//! `trace echo --hosts` as root: client and server on two hosts of their own (network
//! namespaces joined by a veth pair). The trace tells the story of two computers: ARP before
//! the first SYN, two addresses, Ethernet addresses on every packet; and the hosts are gone
//! afterwards, however the session ended.

#![allow(non_snake_case)] // names read situation__outcome

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use socktrace::capture::privilege::live_test_allowed;
use socktrace::event::{ArpOp, Body, CallName, Ethernet, Event, Packet, Role, Transport};
use socktrace::netns::hosts::{name_prefix, CLIENT_ADDR, SERVER_ADDR};
use socktrace::tcp::state::State;

use crate::live_echo::{assert_connection, assert_listener};
use crate::support::story::Story;
use crate::support::{assert_one_line_error, load, scratch, stderr, stdout, trace_bin};

const CLIENT_MAC: &str = "02:00:00:00:00:01";
const SERVER_MAC: &str = "02:00:00:00:00:02";

/// Runs `trace ARGS` to its end; returns its pid (which names its hosts) and its output.
fn run(args: &[&str]) -> (u32, std::process::Output) {
    let child =
        Command::new(trace_bin()).args(args).env("NO_COLOR", "1").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the trace binary starts");
    let pid = child.id();
    (pid, child.wait_with_output().expect("trace ends"))
}

/// The network namespaces that process `pid` made and left behind.
fn namespaces_left(pid: u32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(socktrace::netns::DIR) else { return Vec::new() };
    let prefix = name_prefix(pid);
    dir.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with(&prefix)).collect()
}

/// Asserts that the hosts of `pid` are gone, and that the root namespace never saw their
/// cable: no link there has either host's MAC address.
fn assert_hosts_gone(pid: u32) {
    assert_eq!(namespaces_left(pid), Vec::<String>::new(), "the session's namespaces are removed");
    let links = Command::new("ip").args(["-o", "link"]).output().expect("ip runs");
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(!links.contains(CLIENT_MAC) && !links.contains(SERVER_MAC), "no veth of the hosts in the root namespace: {links}");
}

fn packets(events: &[Event]) -> impl Iterator<Item = (usize, &Event, &Packet)> {
    events.iter().enumerate().filter_map(|(i, e)| match &e.body {
        Body::Packet(p) => Some((i, e, p)),
        _ => None,
    })
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn hosts__arp_before_the_first_syn_two_addresses_ethernet_headers_all_states() {
    if !live_test_allowed("trace echo --hosts") {
        return;
    }
    let path = scratch("live_hosts").join("hosts.jsonl");
    let (pid, out) = run(&["echo", "--hosts", "--live", "-m", "hello", "-m", "bye", "--save", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "trace echo --hosts failed: {}", stderr(&out));
    assert_hosts_gone(pid);
    let trace = load(&path);
    let events = &trace.events;
    let (client, server) = (IpAddr::V4(CLIENT_ADDR), IpAddr::V4(SERVER_ADDR));

    // ARP: the client asks for the server's MAC address, the server answers, then the SYN.
    let arp: Vec<(usize, &Event, &Packet)> = packets(events).filter(|(_, _, p)| p.transport == Transport::Arp).collect();
    let first_syn = packets(events).find(|(_, _, p)| p.transport == Transport::Tcp).map(|(i, _, _)| i).expect("a TCP packet");
    let request = arp.iter().find(|(_, _, p)| p.arp.as_ref().is_some_and(|a| a.op == ArpOp::Request)).expect("an ARP request");
    let reply = arp.iter().find(|(_, _, p)| p.arp.as_ref().is_some_and(|a| a.op == ArpOp::Reply)).expect("an ARP reply");
    assert!(request.0 < reply.0 && reply.0 < first_syn, "ARP request #{}, reply #{}, first SYN #{first_syn}", request.0, reply.0);
    assert_eq!((request.1.actor.role, request.2.src.ip(), request.2.dst.ip()), (Role::Client, client, server), "who-has 192.0.2.2 tell 192.0.2.1");
    assert_eq!(request.2.eth.as_ref().map(|e| e.dst.as_str()), Some("ff:ff:ff:ff:ff:ff"), "a request goes to every host on the link");
    assert_eq!((reply.1.actor.role, reply.2.src.ip()), (Role::Server, server));
    assert_eq!(reply.2.arp.as_ref().map(|a| a.sender_mac.as_str()), Some(SERVER_MAC), "192.0.2.2 is-at the server's MAC");
    assert_eq!(reply.2.eth.as_deref(), Some(&Ethernet { src: SERVER_MAC.into(), dst: CLIENT_MAC.into() }), "a reply goes to the asker alone");

    // Two addresses, and every TCP packet framed with its sender's and receiver's MAC.
    for (i, e, p) in packets(events).filter(|(_, _, p)| p.transport == Transport::Tcp) {
        let (src_mac, dst_mac) = match e.actor.role {
            Role::Client => (CLIENT_MAC, SERVER_MAC),
            _ => (SERVER_MAC, CLIENT_MAC),
        };
        let (src_ip, dst_ip) = if e.actor.role == Role::Client { (client, server) } else { (server, client) };
        assert_eq!((p.src.ip(), p.dst.ip()), (src_ip, dst_ip), "packet #{i}: {p:?}");
        assert_eq!(p.eth.as_deref(), Some(&Ethernet { src: src_mac.into(), dst: dst_mac.into() }), "packet #{i}");
    }
    let story = Story::new(events);
    let connect = story.end_of(story.call_end(CallName::Connect, "c1"));
    assert_eq!((connect.local.map(|a| a.ip()), connect.peer.map(|a| a.ip())), (Some(client), Some(server)));

    // Every state of both sides, in the order of the loopback story.
    assert_listener(&story);
    assert_connection(&story, "c1", &["hello", "bye"]);
    story.state("c1", State::Closed, State::SynSent);

    let end = trace.end.as_ref().expect("a complete trace has an end line");
    assert_eq!((end.packets_dropped, end.states_lost, end.out_of_order), (0, 0, 0));
    let check = Command::new(trace_bin()).args(["check", path.to_str().expect("utf-8 path")]).env("NO_COLOR", "1").output().expect("trace check runs");
    assert_eq!(check.status.code(), Some(0), "trace check: {}", stdout(&check));
    assert!(stdout(&check).contains("verdict: conforms"), "{}", stdout(&check));
}

/// Kills `child` if a test gives up on it, so that no session outlives the test.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn hosts__removed_after_ctrl_c_mid_session() {
    if !live_test_allowed("trace echo --hosts, Ctrl-C") {
        return;
    }
    let path = scratch("live_hosts_sigint").join("serve.jsonl");
    // --serve waits for clients until Ctrl-C: the session is surely running when it comes.
    let child = Command::new(trace_bin())
        .args(["echo", "--hosts", "--serve", "--live", "--save", path.to_str().expect("utf-8 path")])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trace binary starts");
    let mut child = Reaped(child);
    let pid = child.0.id();
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout piped")).lines();
    let listening = lines.by_ref().map_while(Result::ok).find(|line| line.contains("… listen(s1) = 0"));
    assert!(listening.is_some(), "the server listens on its host");
    assert_eq!(namespaces_left(pid).len(), 2, "both hosts exist while the session runs");

    // SAFETY: kill(2) on our own child's pid, which it still holds (not yet waited for).
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the session ends after Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.code().is_some(), "the session ended by itself, not by the signal: {status:?}");
    assert_hosts_gone(pid);
    let trace = load(&path);
    assert!(trace.end.is_some(), "the trace is complete after Ctrl-C");
    Story::new(&trace.events).state("s1", State::Closed, State::Listen);
}

/// A client of our own, as a user would bring: connects to `argv[1]:argv[2]`, sends a line,
/// reads its echo, closes.
const CLIENT: &str = "import socket, sys\nc = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)\nc.sendall(b'hi\\n')\nprint(c.recv(100).decode(), end='')\nc.close()";

/// `--hosts --serve` says on standard error the command that connects from the client's
/// host; run as printed (with our client in place of nc, which Debian does not install by
/// default), it reaches the traced server, and the trace shows the client host's address.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn hosts_serve__prints_the_command_that_connects_from_the_client_host() {
    if !live_test_allowed("trace echo --hosts --serve, a client of the user's") {
        return;
    }
    let path = scratch("live_hosts_serve").join("serve.jsonl");
    let child = Command::new(trace_bin())
        .args(["echo", "--hosts", "--serve", "--connections", "1", "--live", "--save", path.to_str().expect("utf-8 path")])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trace binary starts");
    let mut child = Reaped(child);
    let mut lines = BufReader::new(child.0.stderr.take().expect("stderr piped")).lines();
    let said = lines.by_ref().map_while(Result::ok).find(|line| line.contains("connect from the client host")).expect("trace says how to connect");
    let command = said.split("with: ").nth(1).and_then(|c| c.split(" (any client").next()).expect("a command in the line");
    let words: Vec<&str> = command.split_whitespace().collect();
    let (namespace, server, port) = match words[..] {
        ["ip", "netns", "exec", namespace, "nc", server, port] => (namespace, server, port),
        _ => panic!("not `ip netns exec NAME nc ADDR PORT`: {said}"),
    };
    assert_eq!(namespace, format!("{}0-client", name_prefix(child.0.id())), "{said}");
    assert_eq!(server, SERVER_ADDR.to_string(), "{said}");
    let client = Command::new("ip").args(["netns", "exec", namespace, "python3", "-c", CLIENT, server, port]).output().expect("ip netns exec runs");
    assert!(client.status.success(), "the printed command connects: {}", String::from_utf8_lossy(&client.stderr));
    assert_eq!(String::from_utf8_lossy(&client.stdout), "1: hi\n", "the traced server echoed the line");
    let status = child.0.wait().expect("trace ends after its one connection");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert_hosts_gone(child.0.id());
    let trace = load(&path);
    let story = Story::new(&trace.events);
    let accept = story.end_of(story.call_end(CallName::Accept, "s1"));
    assert_eq!(accept.peer.map(|a| a.ip()), Some(IpAddr::V4(CLIENT_ADDR)), "the client came from the client's host");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn hosts__removed_after_an_error() {
    if !live_test_allowed("trace echo --hosts, an error") {
        return;
    }
    // The trace file cannot be created: the session fails after the hosts were made.
    let (pid, out) = run(&["echo", "--hosts", "--live", "--save", "/nonexistent-socktrace-dir/hosts.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot write the trace to /nonexistent-socktrace-dir/hosts.jsonl"), "{}", stderr(&out));
    assert_hosts_gone(pid);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn hosts__without_privileges_a_one_line_error_that_says_to_run_as_root() {
    if !live_test_allowed("trace echo --hosts as nobody") {
        return;
    }
    let dir = socktrace::capture::privilege::NobodyDir::new("hosts").expect("a directory for nobody");
    let bin = dir.copy(std::path::Path::new(trace_bin())).expect("copy the trace binary");
    let out = dir.command(&bin).args(["echo", "--hosts"]).env("NO_COLOR", "1").output().expect("run as nobody");
    assert_one_line_error(&out, "separate hosts need CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root");
}
