//! `trace echo --udp` as root: the connectionless story, live. No handshake, no states, no
//! FIN: one datagram on the wire for every `sendto`, each at its true place on the timeline,
//! over 127.0.0.1 and over ::1.

#![allow(non_snake_case)] // names read story__what_the_trace_shows

use std::net::SocketAddr;

use socktrace::capture::privilege::live_test_allowed;
use socktrace::event::{Body, CallName, Event, Role, SockId, Transport};
use socktrace::trace::{LensStatus, Trace};

use crate::live_echo::{record, trace_show};
use crate::support::story::Story;
use crate::support::{stdout, trace};

/// The datagrams of a trace, by index.
fn datagrams(events: &[Event]) -> Vec<usize> {
    events.iter().enumerate().filter(|(_, e)| e.packet().is_some_and(|p| p.transport == Transport::Udp)).map(|(i, _)| i).collect()
}

/// The calls `call` made, as (start, end) indices.
fn calls(events: &[Event], call: CallName) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if let Body::CallStart(start) = &e.body {
            if start.call == call {
                let end = events.iter().position(|x| x.call_end().is_some_and(|end| end.id == start.id)).expect("every call ends");
                pairs.push((i, end));
            }
        }
    }
    pairs
}

/// Asserts the connectionless story of one session: `clients` clients, each sending
/// `messages`, from the client's address `ip` to the server's at `ip` (loopback), or on two
/// hosts from `hosts.0` to `hosts.1`.
fn assert_udp_story(trace: &Trace, clients: usize, messages: &[&str], ip: std::net::IpAddr) {
    assert_udp_story_between(trace, clients, messages, (ip, ip));
}

fn assert_udp_story_between(trace: &Trace, clients: usize, messages: &[&str], hosts: (std::net::IpAddr, std::net::IpAddr)) {
    let two_hosts = hosts.0 != hosts.1;
    let events = &trace.events;
    // Both kernel lenses ran: the absence of TCP below is observed, not a lens missing.
    assert_eq!(trace.header.lenses.packets, LensStatus::Observed);
    assert_eq!(trace.header.lenses.states, LensStatus::Observed);

    // No handshake, no states, no resets: nothing of TCP at all.
    for e in events {
        match &e.body {
            // Two hosts find each other's Ethernet address first (RFC 826); loopback needs none.
            Body::Packet(p) if two_hosts && p.transport == Transport::Arp => {}
            Body::Packet(p) => {
                assert_eq!(p.transport, Transport::Udp, "only datagrams on the wire: {e:?}");
                assert!(p.tcp.is_none());
                let from_client = e.actor.role == Role::Client;
                let expected = if from_client { hosts } else { (hosts.1, hosts.0) };
                assert_eq!((p.src.ip(), p.dst.ip()), expected, "the session's addresses: {e:?}");
            }
            Body::State(_) | Body::Kernel(_) => panic!("a UDP socket has no TCP state: {e:?}"),
            Body::Process(_) => {}
            Body::CallStart(start) => {
                assert!(!matches!(start.call, CallName::Listen | CallName::Accept | CallName::Connect), "no connection calls: {e:?}");
                if start.call == CallName::Socket {
                    assert_eq!(start.args.ty.as_deref(), Some("SOCK_DGRAM"));
                }
            }
            Body::CallEnd(_) => {}
        }
    }

    // One datagram per sendto, sent while that sendto ran, carrying its bytes.
    let story = Story::new(events);
    let sendtos = calls(events, CallName::Sendto);
    let wire = datagrams(events);
    assert_eq!(sendtos.len(), clients * messages.len() * 2, "each line goes there and back");
    assert_eq!(wire.len(), sendtos.len(), "datagrams match the sendto calls one for one");
    let mut matched = Vec::new();
    for &(start, end) in &sendtos {
        let Body::CallStart(call) = &events[start].body else { unreachable!() };
        let sent = call.args.data.as_ref().expect("sendto records its bytes");
        let ret = story.end_of(end).ret;
        assert_eq!(ret, call.args.len.expect("sendto records its length") as i64, "a datagram goes whole");
        let datagram = wire
            .iter()
            .copied()
            .find(|&d| {
                !matched.contains(&d) && (start..end).contains(&d) && events[d].socket == events[start].socket && {
                    let Body::Packet(p) = &events[d].body else { unreachable!() };
                    p.payload.as_ref() == Some(sent) && i64::from(p.len) == ret && Some(p.dst) == call.args.addr
                }
            })
            .unwrap_or_else(|| panic!("no datagram of sendto at event {start} within its call"));
        matched.push(datagram);
    }

    // Each recvfrom returns one whole datagram that arrived at its socket before it returned,
    // and says who sent it.
    for (_, end) in calls(events, CallName::Recvfrom) {
        let returned = story.end_of(end);
        let socket = events[end].socket.clone();
        let data = returned.data.as_ref().expect("recvfrom returns the datagram");
        let arrived = wire.iter().copied().find(|&d| {
            let Body::Packet(p) = &events[d].body else { unreachable!() };
            d < end && p.to == socket && p.payload.as_ref() == Some(data) && Some(p.src) == returned.peer
        });
        assert!(arrived.is_some(), "recvfrom at event {end} returns a datagram that arrived before it");
    }

    // Every client sent its lines and got them back numbered; the server answered each
    // client at the address its recvfrom reported.
    let client_sockets = story.created(Role::Client, CallName::Socket);
    assert_eq!(client_sockets.len(), clients);
    for client in &client_sockets {
        let received: Vec<String> = calls(events, CallName::Recvfrom)
            .into_iter()
            .filter(|&(_, end)| events[end].socket.as_ref() == Some(client))
            .map(|(_, end)| story.end_of(end).data.as_ref().expect("data").text.clone())
            .collect();
        let expected: Vec<String> = messages.iter().enumerate().map(|(n, m)| format!("{}: {m}\\n", n + 1)).collect();
        assert_eq!(received, expected, "{client} gets its lines back, numbered");
    }
    assert_eq!(story.created(Role::Server, CallName::Socket), vec![SockId("s1".into())], "one server socket serves every client");

    // close sends nothing.
    for (start, end) in calls(events, CallName::Close) {
        assert!(!wire.iter().any(|&d| (start..=end).contains(&d) && events[d].socket == events[start].socket), "close sends no packet");
    }
    let end = trace.end.as_ref().expect("a complete trace has an end line");
    assert_eq!((end.packets_dropped, end.out_of_order), (0, 0), "nothing lost, everything in time order");
}

/// Asserts that `trace check` finds the connectionless sequences met.
fn assert_check_conforms(path: &std::path::Path) {
    let out = trace(&["check", path.to_str().expect("utf-8 path")]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "trace check conforms:\n{report}");
    assert!(report.contains("The server's side of a connectionless exchange: conforms"), "{report}");
    assert!(report.contains("The client's side of a connectionless exchange: conforms"), "{report}");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn udp_echo__datagrams_match_sendto_one_for_one_no_handshake_no_states() {
    if !live_test_allowed("trace echo --udp") {
        return;
    }
    let messages = ["hello", "how are you?", "bye"];
    let (trace, shown, path) = record("live_udp", &["--udp", "-m", messages[0], "-m", messages[1], "-m", messages[2]]);
    assert_udp_story(&trace, 1, &messages, "127.0.0.1".parse().expect("ip"));
    assert_check_conforms(&path);

    // The timeline says where TCP would open and end a connection that UDP has none.
    assert_eq!(shown.matches("UDP: no handshake, no connection, no states").count(), 1, "{shown}");
    assert_eq!(shown.matches("UDP: no FIN and no TIME-WAIT after close").count(), 2, "{shown}");
    // ... as words of the ladder, not as events of the trace.
    let json = std::fs::read_to_string(&path).expect("trace file");
    assert!(!json.contains("no handshake"));
    assert_eq!(trace_show(&path), shown, "a saved trace shows as it did live");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn udp_echo_ipv6__datagrams_on_loopback_v6() {
    if !live_test_allowed("trace echo --udp --ipv6") {
        return;
    }
    let (trace, _, path) = record("live_udp_v6", &["--udp", "--ipv6", "-m", "hello", "-m", "bye"]);
    assert_udp_story(&trace, 1, &["hello", "bye"], "::1".parse().expect("ip"));
    let bind = Story::new(&trace.events).call_end(CallName::Bind, "s1");
    let local: SocketAddr = Story::new(&trace.events).end_of(bind).local.expect("bind reports the address");
    assert!(local.to_string().starts_with("[::1]:"), "{local}");
    assert_check_conforms(&path);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn udp_echo_three_clients__one_server_socket_answers_each_at_its_address() {
    if !live_test_allowed("trace echo --udp --clients 3") {
        return;
    }
    let (trace, _, path) = record("live_udp_clients", &["--udp", "--clients", "3", "-m", "ping", "-m", "pong"]);
    assert_udp_story(&trace, 3, &["ping", "pong"], "127.0.0.1".parse().expect("ip"));
    assert_check_conforms(&path);
}

#[test]
fn udp_fixture__the_timeline_marks_where_tcp_would_open_and_close() {
    let shown = stdout(&trace(&["show", &crate::support::fixture_path("lessons/udp-echo.jsonl")]));
    let lines: Vec<&str> = shown.lines().collect();
    let note = |text: &str| lines.iter().position(|l| l.contains(text)).unwrap_or_else(|| panic!("{text:?} in\n{shown}"));
    let first_datagram = lines.iter().position(|l| l.contains("UDP len")).expect("a datagram");
    assert_eq!(note("UDP: no handshake, no connection, no states") + 1, first_datagram, "right above the first datagram:\n{shown}");
    for close in lines.iter().enumerate().filter(|(_, l)| l.contains("close(")).map(|(i, _)| i) {
        assert!(lines[close + 1].contains("UDP: no FIN and no TIME-WAIT after close"), "under each close:\n{shown}");
    }
    // A TCP trace has its handshake and FINs, and no such rows.
    let tcp = stdout(&trace(&["show", &crate::support::fixture_path("lessons/echo.jsonl")]));
    assert!(!tcp.contains("UDP:"), "{tcp}");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn udp_with_a_tcp_story__one_line_error() {
    let out = trace(&["echo", "--udp", "--scenario", "half-close"]);
    crate::support::assert_one_line_error(&out, "leave out --scenario");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn udp_echo__another_programs_tcp_on_the_same_port_number_stays_out() {
    if !live_test_allowed("trace echo --udp privacy") {
        return;
    }
    // TCP and UDP ports are separate spaces: another program's TCP connection may use the
    // port number our UDP server binds, and the capture filter passes it. It must not reach
    // the trace, not as packets and not as state changes.
    for attempt in 0..5 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let chatter = crate::support::chatter::Chatter::start(listener, || {});
        let path = crate::support::scratch(&format!("live_udp_privacy{attempt}")).join("echo.jsonl");
        let port_arg = port.to_string();
        let out = trace(&["echo", "--udp", "--port", &port_arg, "--save", path.to_str().expect("utf-8")]);
        drop(chatter);
        if out.status.code() == Some(2) && crate::support::stderr(&out).contains("in use") {
            continue; // the UDP port was taken by someone else: try another number
        }
        assert_eq!(out.status.code(), Some(0), "{}", crate::support::stderr(&out));
        let saved = std::fs::read_to_string(&path).expect("trace file");
        assert!(!saved.contains("secret"), "another program's bytes in the trace");
        let trace = crate::support::load(&path);
        assert_udp_story(&trace, 1, &["hello", "how are you?", "bye"], "127.0.0.1".parse().expect("ip"));
        return;
    }
    panic!("five UDP ports in a row were taken");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn udp_echo_on_two_hosts__arp_then_datagrams_between_two_addresses() {
    if !live_test_allowed("trace echo --udp --hosts") {
        return;
    }
    use socktrace::netns::hosts::{CLIENT_ADDR, SERVER_ADDR};
    let (trace, _, path) = record("live_udp_hosts", &["--udp", "--hosts", "-m", "hello", "-m", "bye"]);
    let (client, server) = (std::net::IpAddr::V4(CLIENT_ADDR), std::net::IpAddr::V4(SERVER_ADDR));
    assert_udp_story_between(&trace, 1, &["hello", "bye"], (client, server));
    let events = &trace.events;
    let arp = events.iter().position(|e| e.packet().is_some_and(|p| p.transport == Transport::Arp)).expect("an ARP exchange");
    assert_eq!(events[arp].actor.role, Role::Client, "the client asks for the server's Ethernet address");
    assert!(arp < datagrams(events)[0], "ARP comes before the first datagram");
    assert_check_conforms(&path);
}
