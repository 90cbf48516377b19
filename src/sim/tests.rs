//! Each scenario's story, asserted on its events; then what holds for every scenario.
#![allow(non_snake_case)] // names read scenario__story

use std::path::Path;

use super::*;
use crate::event::{CallEnd, CallName, Origin, Packet, Peer, Transport};
use crate::query::Query;
use crate::sequence::{self, Evidence, Part};
use crate::tcp::{State, SECOND};
use crate::trace::{TraceReader, TraceWriter};

fn events(name: &str) -> Vec<Event> {
    run(name, &Options::default()).expect("a known scenario")
}

/// The states a socket moved into, in order.
fn states(events: &[Event], id: &str) -> Vec<State> {
    events.states_of(id).map(|(_, _, change)| change.to).collect()
}

/// A TCP packet as (sender, flags without PSH, relative seq, relative ack, payload length).
type Seen = (Role, String, Option<u32>, Option<u32>, u32);

fn tcp_packets(events: &[Event]) -> Vec<Seen> {
    packets(events)
        .filter_map(|(e, p)| {
            let tcp = p.tcp.as_ref()?;
            Some((e.actor.role, tcp.flags.without_psh().to_string(), tcp.rel_seq, tcp.rel_ack, p.len))
        })
        .collect()
}

fn packets(events: &[Event]) -> impl Iterator<Item = (&Event, &Packet)> {
    events.iter().filter_map(|e| Some((e, e.packet()?)))
}

/// Where the first event that `wanted` picks is.
fn index(events: &[Event], wanted: impl Fn(&Event) -> bool) -> usize {
    events.iter().position(wanted).expect("the event is in the trace")
}

fn call_end(events: &[Event], call: CallName) -> &CallEnd {
    events.iter().find_map(|e| e.call_end().filter(|end| end.call == call)).expect("the call is in the trace")
}

fn ends(e: &Event, call: CallName) -> bool {
    e.call_end().is_some_and(|end| end.call == call)
}

#[test]
fn echo__handshake_numbered_echoes_and_the_client_closes_first() {
    let events = events("echo");
    let packets = tcp_packets(&events);
    assert_eq!(
        packets[..3],
        [
            (Role::Client, "SYN".into(), Some(0), None, 0),
            (Role::Server, "SYN|ACK".into(), Some(0), Some(1), 0),
            (Role::Client, "ACK".into(), Some(1), Some(1), 0),
        ]
    );
    let syn = events.iter().find_map(Event::segment).expect("a SYN");
    assert_eq!((syn.win, syn.options.mss, syn.options.wscale, syn.options.sack_ok), (65495, Some(65495), Some(7), true));
    assert!(syn.options.ts.is_some());

    let echoes: Vec<String> = events
        .iter()
        .filter(|e| e.actor.role == Role::Server)
        .filter_map(|e| e.call_start().filter(|start| start.call == CallName::Send)?.args.data.as_ref().map(|d| d.text.clone()))
        .collect();
    assert_eq!(echoes, ["1: hello\\n", "2: how are you?\\n", "3: bye\\n"]);

    use State::*;
    // As on Linux, the server's FIN carries the (delayed) ACK of the client's FIN, so the
    // client goes from FIN-WAIT-1 straight to TIME-WAIT (RFC 9293 §3.10.7.4).
    assert_eq!(states(&events, "c1"), [SynSent, Established, FinWait1, TimeWait, Closed]);
    assert_eq!(states(&events, "s2"), [SynReceived, Established, CloseWait, LastAck, Closed]);
    assert_eq!(states(&events, "s1"), [Listen, Closed]);

    let third_ack = index(&events, |e| e.segment().is_some_and(|t| t.flags.to_string() == "ACK"));
    assert!(index(&events, |e| ends(e, CallName::Connect)) > third_ack, "the handshake happens inside connect()");
    let s2_established = index(&events, |e| e.is_on("s2") && e.enters(Established));
    assert!(index(&events, |e| ends(e, CallName::Accept)) > s2_established, "accept() returns after the handshake");
    assert_eq!(call_end(&events, CallName::Accept).new_socket.as_ref().map(|s| s.0.as_str()), Some("s2"));
}

#[test]
fn echo__time_wait_lasts_2_msl() {
    let events = events("echo");
    let time = |to: State| events.states_of("c1").find(|(_, _, s)| s.to == to).map(|(_, e, _)| e.t);
    let (entered, left) = (time(State::TimeWait).unwrap(), time(State::Closed).unwrap());
    assert_eq!(left - entered, 60 * SECOND);
    assert_eq!(events.last().map(|e| e.t), Some(left), "the trace ends when TIME-WAIT does");
}

#[test]
fn refused__syn_then_rst_ack_and_econnrefused() {
    let events = events("refused");
    assert_eq!(tcp_packets(&events), [(Role::Client, "SYN".into(), Some(0), None, 0), (Role::Server, "RST|ACK".into(), Some(0), Some(1), 0)]);
    let connect = call_end(&events, CallName::Connect);
    assert_eq!(connect.ret, -1);
    assert_eq!(connect.errno.as_ref().map(|e| (e.code, e.name.as_str())), Some((111, "ECONNREFUSED")));
    assert_eq!(states(&events, "c1"), [State::SynSent, State::Closed]);
}

#[test]
fn server_closes_first__time_wait_lands_on_the_accepted_socket() {
    let events = events("server-closes-first");
    use State::*;
    assert_eq!(states(&events, "s2"), [SynReceived, Established, FinWait1, TimeWait, Closed]);
    assert_eq!(states(&events, "c1"), [SynSent, Established, CloseWait, LastAck, Closed]);
}

#[test]
fn half_close__echoes_come_back_after_shutdown() {
    let events = events("half-close");
    let shutdown = index(&events, |e| e.starts(crate::event::Verb::Shutdown));
    let first_echo = index(&events, |e| e.actor.role == Role::Server && e.packet().is_some_and(|p| p.len > 0));
    assert!(shutdown < first_echo, "the client's FIN goes out before any echo");
    let received: Vec<i64> = events.call_ends_of("c1").filter(|(_, _, end)| end.call == CallName::Recv).map(|(_, _, end)| end.ret).collect();
    assert_eq!(received.iter().sum::<i64>(), "1: hello\n2: how are you?\n3: bye\n".len() as i64);
    assert_eq!(received.last(), Some(&0), "the client reads to the server's FIN");
    use State::*;
    assert_eq!(states(&events, "c1"), [SynSent, Established, FinWait1, FinWait2, TimeWait, Closed]);
}

#[test]
fn simultaneous_close__fins_cross_and_both_pass_closing() {
    let events = events("simultaneous-close");
    use State::*;
    for id in ["c1", "s2"] {
        assert_eq!(states(&events, id)[2..], [FinWait1, Closing, TimeWait, Closed], "{id}");
    }
    let fins: Vec<u64> =
        packets(&events).filter(|(_, p)| p.tcp.as_ref().is_some_and(|t| t.flags.contains(crate::tcp::flags::TcpFlags::FIN))).map(|(e, _)| e.t).collect();
    assert_eq!(fins.len(), 2);
    assert_eq!(fins[0], fins[1], "both FINs leave at the same instant");
}

#[test]
fn lost_syn__sent_again_after_one_second() {
    let events = events("lost-syn");
    let syns: Vec<(u64, u32)> = packets(&events).filter_map(|(e, p)| p.tcp.as_ref().filter(|t| t.flags.to_string() == "SYN").map(|t| (e.t, t.seq))).collect();
    assert_eq!(syns.len(), 2);
    assert_eq!(syns[1].0 - syns[0].0, SECOND, "RFC 6298: the initial RTO is 1 s");
    assert_eq!(syns[0].1, syns[1].1, "the same SYN again");
    assert_eq!(call_end(&events, CallName::Connect).ret, 0);
}

#[test]
fn lost_syn_ack__both_sides_repeat_after_one_second() {
    let events = events("lost-syn-ack");
    let times = |flags: &str| -> Vec<u64> {
        packets(&events).filter(|(_, p)| p.tcp.as_ref().is_some_and(|t| t.flags.to_string() == flags)).map(|(e, _)| e.t).collect()
    };
    let (syns, syn_acks) = (times("SYN"), times("SYN|ACK"));
    assert_eq!((syns.len(), syn_acks.len()), (2, 2));
    assert_eq!(syns[1] - syns[0], SECOND);
    assert_eq!(syn_acks[1] - syn_acks[0], SECOND);
    assert_eq!(call_end(&events, CallName::Connect).ret, 0);
    assert_eq!(states(&events, "c1").last(), Some(&State::Closed));
}

/// The times and relative sequence numbers of the segments whose flags (PSH aside) print as
/// `flags` and that carry data or not.
fn segments(events: &[Event], flags: &str, data: bool) -> Vec<(u64, Option<u32>, bool)> {
    packets(events)
        .filter_map(|(e, p)| {
            p.tcp.as_ref().filter(|t| t.flags.without_psh().to_string() == flags && (p.len > 0) == data).map(|t| (e.t, t.rel_seq, p.dropped.is_some()))
        })
        .collect()
}

#[test]
fn lost_ack__the_data_segment_completes_the_handshake() {
    let events = events("lost-ack");
    let acks = segments(&events, "ACK", false);
    assert!(acks[0].2, "the first pure ACK is lost, and marked");
    let handshake = (segments(&events, "SYN", false).len(), segments(&events, "SYN|ACK", false).len());
    assert_eq!(handshake, (1, 1), "nothing is sent again: the data's ACK stands in for the lost one");
    assert_eq!(call_end(&events, CallName::Connect).ret, 0);
    assert!(states(&events, "s2").contains(&State::Established));
}

#[test]
fn lost_data__sent_again_after_one_second() {
    let events = events("lost-data");
    let data = segments(&events, "ACK", true);
    assert!(data[0].2 && !data[1].2, "the first data segment is lost, the second not");
    assert_eq!(data[1].0 - data[0].0, SECOND, "the model's RTO is the initial 1 s");
    assert_eq!(data[0].1, data[1].1, "the same bytes again");
}

#[test]
fn lost_fin__sent_again_after_one_second() {
    let events = events("lost-fin");
    let fins = segments(&events, "FIN|ACK", false);
    assert!(fins[0].2 && !fins[1].2);
    assert_eq!(fins[1].0 - fins[0].0, SECOND);
    assert_eq!(fins[0].1, fins[1].1, "the same FIN again");
    assert_eq!(states(&events, "c1").last(), Some(&State::Closed));
}

#[test]
fn udp_echo__datagrams_without_handshake_or_states() {
    let events = events("udp-echo");
    assert!(events.iter().all(|e| e.state().is_none()));
    assert!(packets(&events).all(|(_, p)| p.transport == Transport::Udp && p.tcp.is_none()));
    assert_eq!(packets(&events).count(), 6);
    let calls: Vec<CallName> = events.iter().filter(|e| e.actor.role == Role::Client).filter_map(|e| Some(e.call_start()?.call)).collect();
    use CallName::*;
    assert_eq!(calls, [Socket, Sendto, Recvfrom, Sendto, Recvfrom, Sendto, Recvfrom, Close]);
    let peers: Vec<_> = events.iter().filter_map(|e| Some((e.actor.role, e.call_end().filter(|c| c.call == Recvfrom)?.peer))).collect();
    assert!(peers.iter().all(|&(role, peer)| (role == Role::Client) == (peer == Some(programs::SERVER))), "{peers:?}");
}

#[test]
fn every_scenario__modelled_in_time_order_with_every_call_ended_and_socket_closed() {
    for scenario in scenarios() {
        let events = events(scenario.name);
        let name = scenario.name;
        assert!(events.windows(2).all(|w| w[0].t <= w[1].t), "{name}: out of time order");
        assert!(events.iter().all(|e| e.origin == Origin::Modelled), "{name}");
        let started: Vec<u64> = events.iter().filter_map(|e| Some(e.call_start()?.id)).collect();
        let mut ended: Vec<u64> = events.iter().filter_map(|e| Some(e.call_end()?.id)).collect();
        ended.sort_unstable();
        assert_eq!(started, ended, "{name}: a call without its end");
        let count = |call: CallName| events.iter().filter(|e| ends(e, call)).count();
        assert_eq!(count(CallName::Socket) + count(CallName::Accept), count(CallName::Close), "{name}: an fd left open");
        let ids: std::collections::BTreeSet<&str> = events.iter().filter_map(Event::socket_name).collect();
        for id in ids {
            let states = states(&events, id);
            assert!(states.is_empty() || states.last() == Some(&State::Closed), "{name}: {id} ends in {states:?}");
        }
    }
}

fn written(trace: &crate::trace::Trace) -> Vec<u8> {
    let mut writer = TraceWriter::new(Vec::new(), &trace.header).unwrap();
    for event in &trace.events {
        writer.event(event).unwrap();
    }
    writer.finish(&crate::trace::End::default()).unwrap()
}

#[test]
fn every_scenario__two_runs_write_the_same_bytes() {
    for scenario in scenarios() {
        let once = written(&trace(scenario.name, &Options::default(), "trace simulate").unwrap());
        let again = written(&trace(scenario.name, &Options::default(), "trace simulate").unwrap());
        assert!(once == again, "{} differs between runs", scenario.name);
    }
}

#[test]
fn a_simulated_trace_reads_back() {
    let trace = trace("echo", &Options::default(), "trace simulate echo").unwrap();
    let bytes = written(&trace);
    let mut reader = TraceReader::new(Path::new("echo.jsonl"), bytes.as_slice()).unwrap();
    assert_eq!(reader.header(), &trace.header);
    assert_eq!(reader.header().source, crate::trace::Source::Simulated);
    assert_eq!(reader.header().lenses.states, LensStatus::Modelled);
    let read: Vec<Event> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(read, trace.events);
    assert_eq!(reader.end(), trace.end.as_ref());
}

#[test]
fn unknown_scenario__says_which_exist() {
    let err = run("nope", &Options::default()).unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("unknown scenario \"nope\""), "{message}");
    for scenario in scenarios() {
        assert!(message.contains(scenario.name), "{message}");
    }
    assert!(message.contains("--list"));
}

#[test]
fn p2p__each_peer_is_one_process_in_both_roles_and_every_socket_has_its_own_name() {
    let events = events("p2p");
    // (peer, role, socket, fd) of every socket `socket()` or `accept()` made.
    let made: Vec<(Peer, Role, String, i64)> =
        events.iter().filter_map(|e| Some((e.actor.peer.expect("a peer's call"), e.actor.role, e.new_socket()?.0.to_string(), e.call_end()?.ret))).collect();
    let names: std::collections::BTreeSet<&str> = made.iter().map(|(_, _, id, _)| id.as_str()).collect();
    assert_eq!(names.len(), 6, "six sockets, six names: {made:?}");
    for peer in Peer::PAIR {
        let mut fds: Vec<(Role, i64)> = made.iter().filter(|m| m.0 == peer).map(|m| (m.1, m.3)).collect();
        fds.sort_unstable();
        // One process: its listening, connecting and accepted sockets share one table of fds.
        assert_eq!(fds, [(Role::Client, 4), (Role::Server, 3), (Role::Server, 5)], "{peer}: {made:?}");
    }
}

#[test]
fn list__names_are_unique_and_described() {
    let mut names: Vec<&str> = scenarios().iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 12);
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 12);
    for lost in crate::fault::Lost::ALL {
        assert!(names.contains(&lost.scenario()), "--drop {lost} has its scenario {}", lost.scenario());
    }
    assert!(scenarios().iter().all(|s| !s.about.is_empty() && !s.about.contains('\n')));
}

#[test]
fn options__messages_become_lines_and_msl_sets_time_wait() {
    let options = Options { messages: vec!["one".into(), "two\nthree".into()], msl: Duration::from_secs(1) };
    let events = run("echo", &options).unwrap();
    let last_echo =
        events.iter().rev().filter(|e| e.actor.role == Role::Server).find_map(|e| e.call_start().filter(|c| c.call == CallName::Send)?.args.data.clone());
    assert_eq!(last_echo.map(|d| d.text), Some("3: three\\n".to_string()));
    let time_wait = events.first_where(|e| e.enters(State::TimeWait)).map(|(_, e)| e.t);
    assert_eq!(events.last().map(|e| e.t), time_wait.map(|t| t + 2 * SECOND));
}

/// Whether the trace shows this evidence (timing aside), with parts played by these sockets.
fn shows(events: &[Event], evidence: &Evidence) -> bool {
    let id = |part: Part| match part {
        Part::Listening => "s1",
        Part::Accepted => "s2",
        Part::Client => "c1",
        Part::Bound => "s1",
    };
    events.iter().any(|e| match *evidence {
        Evidence::Call { call, socket } => e.starts(call) && e.is_on(id(socket)),
        Evidence::NewSocket { call, socket } => e.ends(call) && e.new_socket().is_some_and(|s| s.0 == id(socket)),
        Evidence::ServerAddress { call, socket } => {
            e.starts(call) && e.is_on(id(socket)) && e.call_start().is_some_and(|c| c.args.addr == call_end(events, CallName::Bind).local)
        }
        Evidence::Packet { flags, from, data, .. } => {
            e.actor.role == from && e.segment().is_some_and(|t| t.flags.without_psh() == flags) && e.packet().is_some_and(|p| (p.len > 0) == data)
        }
        Evidence::State { socket, to, .. } => e.enters(to) && e.is_on(id(socket)),
        Evidence::Datagram { from } => e.actor.role == from && e.packet().is_some_and(|p| p.transport == Transport::Udp),
    })
}

#[test]
fn echo__shows_every_step_of_both_documented_sequences() {
    let events = events("echo");
    for seq in sequence::connection_oriented() {
        for step in seq.steps {
            for evidence in step.evidence {
                assert!(shows(&events, evidence), "{}/{}: no {evidence:?}", seq.id, step.id);
            }
        }
    }
}
