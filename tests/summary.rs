//! The summary of many connections (`trace echo --summary`), computed from recorded traces:
//! one entry per connection with its ports, bytes, first closer and states, and memory that
//! holds only the connections still open.

#![allow(non_snake_case)] // names read situation__outcome

use socktrace::event::{Body, Event};
use socktrace::import::conversation::End;
use socktrace::summary::{Closer, Connection, Summary, Totals};
use socktrace::tcp::flags::TcpFlags;
use socktrace::tcp::state::State;

use crate::support::{fixture, load};

use State::*;

/// Feeds `events` in order; returns every connection, in the order they were reported, the
/// totals and the most connections the summary held open at once.
fn summarise(events: &[Event]) -> (Vec<Connection>, Totals, usize) {
    let mut summary = Summary::default();
    let mut done = Vec::new();
    let mut peak = 0;
    for event in events {
        summary.observe(event, &mut done);
        peak = peak.max(summary.open());
    }
    let totals = summary.finish(&mut done);
    (done, totals, peak)
}

fn fixture_events(name: &str) -> Vec<Event> {
    load(&fixture(&format!("live/{name}.jsonl"))).events
}

/// The client closes first: its connection ends in TIME-WAIT, held by a timewait socket
/// where the kernel reports CLOSED (`state_path`).
const CLIENT_CLOSES: [State; 5] = [SynSent, Established, FinWait1, FinWait2, TimeWait];
const SERVER_FOLLOWS: [State; 5] = [SynReceived, Established, CloseWait, LastAck, Closed];

#[test]
fn three_clients__three_finished_connections_each_closed_first_by_its_client() {
    let events = fixture_events("three-clients");
    let (conns, totals, _) = summarise(&events);
    assert_eq!(conns.len(), 3);
    let packets = events.iter().filter(|e| matches!(e.body, Body::Packet(_))).count() as u64;
    assert_eq!(totals, Totals { connections: 3, open_at_end: 0, packets, unattributed: 0 });
    for conn in &conns {
        assert!(conn.finished, "{conn}");
        // "hello\n", "how are you?\n", "bye\n" out; "1: hello\n"… back.
        assert_eq!((conn.bytes_to_server, conn.bytes_to_client), (23, 32), "{conn}");
        assert_eq!(conn.closer, Some(Closer { side: End::Client, reset: false }));
        assert_eq!(conn.client_states, CLIENT_CLOSES);
        assert_eq!(conn.server_states, SERVER_FOLLOWS);
        assert!(conn.last > conn.first);
    }
    let mut ports: Vec<u16> = conns.iter().map(|c| c.client.port()).collect();
    ports.dedup();
    assert_eq!(ports.len(), 3, "three client ports");
    assert!(conns.iter().all(|c| c.server == conns[0].server));
}

#[test]
fn server_closes_first__the_server_sends_the_first_fin() {
    let (conns, _, _) = summarise(&fixture_events("server-closes-first"));
    assert_eq!(conns.len(), 1);
    let conn = &conns[0];
    assert_eq!(conn.closer, Some(Closer { side: End::Server, reset: false }));
    assert_eq!(conn.server_states, [SynReceived, Established, FinWait1, FinWait2, TimeWait]);
    assert_eq!(conn.client_states, [SynSent, Established, CloseWait, LastAck, Closed]);
    assert!(conn.finished);
}

#[test]
fn refused__a_connection_with_no_server_socket_ends_with_the_servers_rst() {
    let (conns, totals, _) = summarise(&fixture_events("refused"));
    assert_eq!(conns.len(), 1);
    let conn = &conns[0];
    assert_eq!(conn.closer, Some(Closer { side: End::Server, reset: true }));
    assert_eq!(conn.client_states, [SynSent, Closed]);
    assert!(conn.server_states.is_empty());
    assert!(conn.finished);
    assert_eq!((conn.bytes_to_server, conn.bytes_to_client), (0, 0));
    assert_eq!(totals.open_at_end, 0);
}

/// The one-client echo trace again and again, each copy after the last on the same ports:
/// the kernel reusing a 4-tuple, as it does at thousands of connections a second.
fn reused_four_tuple(times: u64) -> Vec<Event> {
    let events = fixture_events("echo");
    let (start, span) = (events[0].t, events.last().map_or(0, |e| e.t) - events[0].t + 1);
    (0..times).flat_map(|round| events.iter().map(move |event| Event { t: event.t - start + round * span, ..event.clone() })).collect()
}

#[test]
fn reused_four_tuple__a_new_syn_after_the_close_is_a_new_connection() {
    let (conns, totals, _) = summarise(&reused_four_tuple(4));
    assert_eq!((totals.connections, totals.open_at_end), (4, 0));
    assert!(conns.iter().all(|c| c.finished && c.client == conns[0].client), "every connection on one 4-tuple");
    assert!(conns.iter().all(|c| c.client_states == CLIENT_CLOSES && c.server_states == SERVER_FOLLOWS));
}

#[test]
fn reused_four_tuple__a_syn_before_the_last_close_was_seen__ends_the_old_connection() {
    // The server's last change (LAST-ACK -> CLOSED) of the first copy is missing.
    let mut events = reused_four_tuple(2);
    let half = events.len() / 2;
    let last_close =
        events[..half].iter().rposition(|e| matches!(&e.body, Body::State(s) if s.to == Closed && s.from == LastAck)).expect("the server's socket closes");
    events.remove(last_close);
    let (conns, totals, _) = summarise(&events);
    assert_eq!((totals.connections, totals.open_at_end), (2, 0));
    assert!(!conns[0].finished, "the first connection's end was not seen");
    assert_eq!(conns[0].server_states, [SynReceived, Established, CloseWait, LastAck]);
    assert!(conns[1].finished);
}

#[test]
fn reused_four_tuple__a_syn_with_a_new_isn_before_the_close_was_seen__is_a_new_connection() {
    // The first copy's close is not seen before the second SYN (its FINs and CLOSED states
    // are missing here), and the second SYN carries another ISN.
    let mut events = reused_four_tuple(2);
    let half = events.len() / 2;
    let closing = |e: &Event| match &e.body {
        Body::Packet(p) => p.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::FIN)),
        Body::State(s) => s.to == Closed,
        _ => false,
    };
    let second: Vec<Event> = events.split_off(half);
    events.retain(|e| !closing(e));
    let start = events.len();
    events.extend(second);
    let syn = events[start..].iter_mut().find_map(|e| match &mut e.body {
        Body::Packet(p) => p.tcp.as_mut().filter(|t| t.flags == TcpFlags::SYN),
        _ => None,
    });
    let syn = syn.expect("the second SYN");
    syn.seq = syn.seq.wrapping_add(1_000_000);
    let (conns, totals, _) = summarise(&events);
    assert_eq!(totals.connections, 2, "the second SYN's new ISN makes a second connection");
    assert_ne!(conns[0].isn, conns[1].isn);
    assert!(!conns[0].finished && conns[0].closer.is_none());
}

#[test]
fn many_connections__memory_holds_only_those_open() {
    let (few, _, peak_few) = summarise(&reused_four_tuple(2));
    let (many, _, peak_many) = summarise(&reused_four_tuple(200));
    assert_eq!((few.len(), many.len()), (2, 200));
    assert_eq!((peak_few, peak_many), (1, 1), "what is held does not grow with the connections");
}

#[test]
fn a_line_per_connection__ports_duration_bytes_closer_and_states() {
    let (conns, _, _) = summarise(&fixture_events("three-clients"));
    let line = conns[0].to_string();
    for part in [
        &conns[0].client.to_string(),
        &conns[0].server.to_string(),
        " 23 ",
        " 32 ",
        "client FIN",
        "SYN-SENT ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT / SYN-RECEIVED ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED",
    ] {
        assert!(line.contains(part), "{part:?} in {line:?}");
    }
}
