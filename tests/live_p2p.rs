//! `trace p2p`: two peers, each listening and connecting to the other. As root, live: each
//! program accepts one connection and makes one; each connection has its full handshake,
//! data both ways and its close; `trace check` holds every socket against its sequence.
//! Without privileges, the model tells the same story, labelled as such.

use std::collections::BTreeSet;

use socktrace::capture::privilege::{live_test_allowed, NobodyDir};
use socktrace::event::{Body, CallName, Event, Peer, Role, SockId};
use socktrace::trace::{Source, Trace};

use crate::live_echo::assert_connection_to;
use crate::support::story::Story;
use crate::support::{assert_one_line_error, fixture_path, load, scratch, stderr, stdout, trace, trace_bin};

/// The peer of the event that returned `socket` from `socket()` or `accept()`.
fn owner(trace: &Trace, socket: &SockId) -> Peer {
    trace
        .events
        .iter()
        .find_map(|e| match &e.body {
            Body::CallEnd(end) if end.new_socket.as_ref() == Some(socket) => e.actor.peer,
            _ => None,
        })
        .unwrap_or_else(|| panic!("{socket} was made by no peer"))
}

/// The (peer, role) pairs that made calls of `call`.
fn who_called(trace: &Trace, call: CallName) -> BTreeSet<(Peer, Role)> {
    let made = |e: &Event| e.call_end().is_some_and(|end| end.call == call && end.ret >= 0);
    trace.events.iter().filter(|e| made(e)).map(|e| (e.actor.peer.expect("every call of a peer names it"), e.actor.role)).collect()
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn each_peer_accepts_one_connection_and_makes_the_other() {
    if !live_test_allowed("trace p2p") {
        return;
    }
    let path = scratch("live_p2p").join("p2p.jsonl");
    let out = trace(&["p2p", "--save", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "trace p2p failed: {}", stderr(&out));
    let trace = load(&path);
    let end = trace.end.as_ref().expect("a complete trace has an end line");
    assert_eq!((end.packets_dropped, end.states_lost, end.out_of_order), (0, 0, 0), "nothing lost, everything in time order");

    // Each program plays both parts: the server's on the connection it accepts, the client's
    // on the one it makes.
    let (a, b) = (Peer('A'), Peer('B'));
    let both = BTreeSet::from([(a, Role::Server), (b, Role::Server)]);
    assert_eq!(who_called(&trace, CallName::Listen), both);
    assert_eq!(who_called(&trace, CallName::Accept), both);
    assert_eq!(who_called(&trace, CallName::Connect), BTreeSet::from([(a, Role::Client), (b, Role::Client)]));
    // The kernel's lenses are given their peer too: every packet and state of the session is
    // one of the peers' sockets.
    for e in trace.events.iter().filter(|e| matches!(e.body, Body::Packet(_) | Body::State(_))) {
        assert!(e.actor.peer.is_some(), "an event of no peer: {e:?}");
    }

    // Two connections, each from one peer's client socket to the other's listening socket,
    // each with its full life: handshake, data both ways, close.
    let story = Story::new(&trace.events);
    let clients = story.created(Role::Client, CallName::Socket);
    let listeners = story.created(Role::Server, CallName::Socket);
    assert_eq!((clients.len(), listeners.len()), (2, 2), "one client socket and one listening socket per peer");
    assert_eq!(story.created(Role::Server, CallName::Accept).len(), 2, "each peer accepts one connection");
    for client in &clients {
        let target = story.end_of(story.call_end(CallName::Connect, &client.0)).peer.expect("connect names the other peer");
        let listener = listeners
            .iter()
            .find(|l| story.end_of(story.call_end(CallName::Bind, &l.0)).local == Some(target))
            .expect("the client connects to a peer's listening socket");
        let me = owner(&trace, client);
        assert_ne!(owner(&trace, listener), me, "a peer connects to the other peer");
        assert_connection_to(&story, &listener.0, &client.0, &[&format!("hello from {me}")]);
    }

    let check = crate::support::trace(&["check", path.to_str().expect("utf-8 path")]);
    assert_eq!(check.status.code(), Some(0), "trace check rejects the p2p trace:\n{}", stdout(&check));
    let report = stdout(&check);
    for heading in ["peer A · server", "peer A · client", "peer B · server", "peer B · client"] {
        assert!(report.contains(heading), "the check report names {heading:?}:\n{report}");
    }
}

#[test]
fn the_model_tells_the_same_story_and_check_accepts_it() {
    let path = scratch("simulate_p2p").join("p2p.jsonl");
    let out = trace(&["simulate", "p2p", "-m", "hi", "--save", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let trace = load(&path);
    assert_eq!(trace.header.source, Source::Simulated);
    let (a, b) = (Peer('A'), Peer('B'));
    assert_eq!(who_called(&trace, CallName::Accept), BTreeSet::from([(a, Role::Server), (b, Role::Server)]));
    assert_eq!(who_called(&trace, CallName::Connect), BTreeSet::from([(a, Role::Client), (b, Role::Client)]));
    let story = Story::new(&trace.events);
    for client in story.created(Role::Client, CallName::Socket) {
        let me = owner(&trace, &client);
        story.data(&client.0, &format!("hi from {me}\\n"));
    }
    let check = crate::support::trace(&["check", path.to_str().expect("utf-8 path")]);
    assert_eq!(check.status.code(), Some(0), "trace check rejects the simulated p2p trace:\n{}", stdout(&check));
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn without_privileges_the_model_stands_in_and_says_so() {
    if !live_test_allowed("trace p2p as nobody") {
        return;
    }
    let dir = NobodyDir::new("p2p").expect("a directory for nobody");
    let bin = dir.copy(std::path::Path::new(trace_bin())).expect("copy the trace binary");
    let out = dir.command(&bin).arg("p2p").env("NO_COLOR", "1").output().expect("run as nobody");
    let shown = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let first = shown.lines().next().unwrap_or_default();
    assert!(first.contains("simulation of the two peers") && first.contains("not a live trace") && first.contains("CAP_NET_RAW"), "{first}");
    assert!(shown.contains("simulated by the RFC 9293 model") && shown.contains("A:c1"), "{shown}");

    let out = dir.command(&bin).args(["p2p", "--live"]).env("NO_COLOR", "1").output().expect("run as nobody");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "live or nothing: {err}");
    assert!(err.contains("CAP_NET_RAW") && !err.contains("panicked"), "{err}");
}

#[test]
fn a_packetdrill_script_of_peers_is_refused_in_one_line() {
    let out_file = scratch("p2p_packetdrill").join("p2p.pkt");
    let out = trace(&["export", &fixture_path("lessons/p2p.jsonl"), "--packetdrill", out_file.to_str().expect("utf-8 path")]);
    assert_one_line_error(&out, "a trace of peers");
}

#[test]
fn check_holds_each_peer_socket_to_its_own_sequence() {
    // Peer A's connecting socket skips connect() (its call is cut out of the trace): only
    // that socket deviates; A's listening and accepted sockets, and all of B's, conform.
    let mut trace = load(&crate::support::fixture("lessons/p2p.jsonl"));
    let a_client = trace
        .events
        .iter()
        .find_map(|e| match &e.body {
            Body::CallEnd(end) if end.call == CallName::Socket && e.actor.peer == Some(Peer('A')) && e.actor.role == Role::Client => end.new_socket.clone(),
            _ => None,
        })
        .expect("A's connecting socket");
    let connect = |e: &Event| {
        e.socket.as_ref() == Some(&a_client)
            && match &e.body {
                Body::CallStart(c) => c.call == CallName::Connect,
                Body::CallEnd(c) => c.call == CallName::Connect,
                _ => false,
            }
    };
    trace.events.retain(|e| !connect(e));
    let report = socktrace::check::check(&trace, &socktrace::check::CheckOptions::default());
    let deviating: Vec<&SockId> = report.sockets.iter().filter(|s| !s.conforms()).map(|s| &s.socket).collect();
    assert_eq!(deviating, [&a_client], "{report}");
    assert_eq!(report.sockets.len(), 6, "{report}");
}

#[test]
fn the_timeline_shows_each_program_in_both_columns() {
    let out = trace(&["show", &fixture_path("lessons/p2p.jsonl")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.lines().any(|l| l.starts_with("peers: each row names its program")), "{shown}");
    for peer in ['A', 'B'] {
        // A row's cells: the client's column before the first bar, the server's after the last.
        let client_side = shown.lines().filter_map(|l| l.split('┊').next()).any(|cell| cell.get(10..).is_some_and(|c| c.starts_with(&format!("{peer}  "))));
        let server_side =
            shown.lines().filter(|l| l.matches('┊').count() == 2).filter_map(|l| l.rsplit('┊').next()).any(|cell| cell.starts_with(&format!(" {peer}  ")));
        assert!(client_side && server_side, "{peer} in the client's column: {client_side}, in the server's: {server_side}\n{shown}");
        assert!(shown.contains(&format!("{peer}:c")) && shown.contains(&format!("{peer}:s")), "packets name {peer}'s sockets");
    }
}
