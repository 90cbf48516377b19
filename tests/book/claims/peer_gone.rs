//! The claims of "When the peer is gone" (`lessons/peer-gone.md`): a read from a reset
//! connection, writes after the peer closed (SIGPIPE, and MSG_NOSIGNAL), and a peer that
//! vanished without a packet, found by keepalive.

use std::collections::BTreeSet;

use socktrace::event::{Body, CallName, Event, Exit, ProcessChange, Role};
use socktrace::query::Query;
use socktrace::state_path::{Mark, StatePaths};
use socktrace::tcp::flags::TcpFlags;
use socktrace::tcp::state::State;
use socktrace::trace::Trace;

use super::{data_from, deviations, ends, fin_ack, packets, payload, received_by, sock, tcp, Claim};
use crate::support::story::Story;

const RESET: &[&str] = &["reset-read.jsonl"];
const SIGPIPE: &[&str] = &["sigpipe.jsonl"];
const NOSIGNAL: &[&str] = &["epipe-nosignal.jsonl"];
const VANISHED: &[&str] = &["vanished-peer.jsonl"];

pub const CLAIMS: &[Claim] = &[
    Claim { id: "gone-bye-unread", fixtures: RESET, check: bye_unread },
    Claim { id: "gone-unread-close-resets", fixtures: RESET, check: unread_close_resets },
    Claim { id: "gone-reset-modelled", fixtures: RESET, check: reset_modelled },
    Claim { id: "gone-recv-econnreset", fixtures: RESET, check: recv_econnreset },
    Claim { id: "gone-reset-conforms", fixtures: RESET, check: conforms },
    Claim { id: "gone-client-left-first", fixtures: SIGPIPE, check: client_left_first },
    Claim { id: "gone-first-send-succeeds", fixtures: SIGPIPE, check: first_send_succeeds },
    Claim { id: "gone-second-send-epipe", fixtures: SIGPIPE, check: second_send_epipe },
    Claim { id: "gone-sigpipe-kills", fixtures: SIGPIPE, check: sigpipe_kills },
    Claim { id: "gone-sigpipe-check", fixtures: SIGPIPE, check: sigpipe_check },
    Claim { id: "gone-nosignal-epipe", fixtures: NOSIGNAL, check: nosignal_epipe },
    Claim { id: "gone-nosignal-check", fixtures: NOSIGNAL, check: nosignal_check },
    Claim { id: "gone-keepalive-set", fixtures: VANISHED, check: keepalive_set },
    Claim { id: "gone-client-hears-nothing", fixtures: VANISHED, check: client_hears_nothing },
    Claim { id: "gone-probes-unanswered", fixtures: VANISHED, check: probes_unanswered },
    Claim { id: "gone-keepalive-gives-up", fixtures: VANISHED, check: keepalive_gives_up },
    Claim { id: "gone-keepalive-unmodelled", fixtures: VANISHED, check: keepalive_unmodelled },
    Claim { id: "gone-vanished-silently", fixtures: VANISHED, check: vanished_silently },
    Claim { id: "gone-vanished-conforms", fixtures: VANISHED, check: conforms },
];

/// Packets from `from` whose flags include RST.
fn resets_from(t: &Trace, from: &str) -> Vec<usize> {
    packets(t).into_iter().filter(|(_, e, p)| sock(e) == Some(from) && tcp(p).flags.contains(TcpFlags::RST)).map(|(i, _, _)| i).collect()
}

fn errno_name(t: &Trace, end: usize) -> Option<&str> {
    t.events[end].call_end().and_then(|c| c.errno.as_ref()).map(|e| e.name.as_str())
}

fn conforms(t: &[Trace]) {
    assert_eq!(deviations(&t[0]), Vec::<(String, &str)>::new());
}

// ---- reading from a reset connection ---------------------------------------------------

fn bye_unread(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let bye = story.data("c1", "bye\\n");
    let end = tcp(story.packet_at(bye)).rel_seq.expect("relative") + story.packet_at(bye).len;
    let acked =
        packets(t).into_iter().find(|(i, e, p)| *i > bye && sock(e) == Some("s2") && tcp(p).rel_ack.is_some_and(|a| a >= end)).expect("s2 acknowledges bye").0;
    story.in_order(&[("bye arrives", bye), ("s2's kernel acknowledges it", acked), ("close(s2)", story.call_start(CallName::Close, "s2"))]);
    let read: Vec<String> = received_by(t, "s2").into_iter().map(|(_, text)| text).collect();
    assert_eq!(read, ["hello\\n"], "the server read only the first line");
}

fn unread_close_resets(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let from_s2 = packets(t).into_iter().filter(|(_, e, _)| sock(e) == Some("s2"));
    assert!(from_s2.clone().all(|(_, _, p)| !tcp(p).flags.contains(TcpFlags::FIN)), "no FIN from s2");
    let reset = resets_from(t, "s2");
    assert_eq!(reset.len(), 1, "one reset");
    story.in_order(&[
        ("close(s2) starts", story.call_start(CallName::Close, "s2")),
        ("s2 ESTABLISHED -> CLOSED", story.state("s2", State::Established, State::Closed)),
        ("its reset", reset[0]),
        ("close(s2) returns", story.call_end(CallName::Close, "s2")),
    ]);
}

/// The mark of the row showing `socket`'s change `from` → `to`.
fn mark_of(t: &Trace, socket: &str, from: State, to: State) -> Mark {
    let at = Story::new(&t.events).state(socket, from, to);
    StatePaths::rows(&t.events)[at].expect("the change has a row").mark
}

fn reset_modelled(t: &[Trace]) {
    assert_eq!(mark_of(&t[0], "s2", State::Established, State::Closed), Mark::Agreed, "the model expected the reset");
    let read: Vec<String> = received_by(&t[0], "s2").into_iter().map(|(_, text)| text).collect();
    assert_eq!(read, ["hello\\n"], "what the model counts as read: the first line only");
}

fn recv_econnreset(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let reset = resets_from(t, "s2")[0];
    let (start, _, _) = t.events.calls_of("c1").filter(|(_, _, s)| s.call == CallName::Recvfrom).last().expect("the client's last recv");
    let (end, _, _) = t.events.call_ends_of("c1").filter(|(_, _, e)| e.call == CallName::Recvfrom).last().expect("its end");
    assert_eq!(errno_name(t, end), Some("ECONNRESET"));
    story.in_order(&[
        ("the client waits in recv", start),
        ("the reset", reset),
        ("c1 CLOSED", story.state("c1", State::Established, State::Closed)),
        ("recv fails", end),
    ]);
}

// ---- writing after the peer left --------------------------------------------------------

/// The server's sends on s2: (start, end) of each.
fn sends(t: &Trace) -> Vec<(usize, usize)> {
    let starts = t.events.calls_of("s2").filter(|(_, _, s)| s.call == CallName::Sendto).map(|(i, _, _)| i);
    let ends = t.events.call_ends_of("s2").filter(|(_, _, e)| e.call == CallName::Sendto).map(|(i, _, _)| i);
    starts.zip(ends).collect()
}

fn client_left_first(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let fin = story.packet(None, "c1", "s2", fin_ack(), "the client's FIN");
    story.in_order(&[
        ("the request is read", story.call_end(CallName::Recv, "s2")),
        ("shutdown(c1, SHUT_RDWR)", story.call_start(CallName::Shutdown, "c1")),
        ("its FIN", fin),
        ("s2 CLOSE-WAIT", story.state("s2", State::Established, State::CloseWait)),
        ("the first send", sends(t)[0].0),
    ]);
    let how = t.events.calls_of("c1").find_map(|(_, _, s)| s.args.how.clone());
    assert_eq!(how.as_deref(), Some("SHUT_RDWR"), "the client gives up both ways");
    let reads = t.events.calls_of("c1").filter(|(_, _, s)| s.call.verb() == socktrace::event::Verb::Recv).count();
    assert_eq!(reads, 0, "the client never reads its answer");
}

fn first_send_succeeds(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let (start, end) = sends(t)[0];
    assert_eq!(story.end_of(end).ret, 7, "all 7 bytes of the header");
    let (data, header) = data_from(t, "s2")[0];
    assert_eq!(payload(header), "200 OK\\n");
    let reset = resets_from(t, "c1");
    assert_eq!(reset.len(), 1, "the client's side answers with one reset");
    story.in_order(&[
        ("send starts", start),
        ("the header leaves", data),
        ("the reset comes back", reset[0]),
        ("s2 CLOSE-WAIT -> CLOSED", story.state("s2", State::CloseWait, State::Closed)),
        ("send returns", end),
    ]);
}

fn second_send_epipe(t: &[Trace]) {
    let t = &t[0];
    let all = sends(t);
    assert_eq!(all.len(), 2);
    let (start, end) = all[1];
    assert!(start > resets_from(t, "c1")[0], "after the reset");
    assert_eq!((t.events[end].call_end().map(|c| c.ret), errno_name(t, end)), (Some(-1), Some("EPIPE")));
    assert_eq!(data_from(t, "s2").len(), 1, "the body never leaves");
}

/// The server process's end: its index and the exit.
fn server_exit(t: &Trace) -> (usize, &Exit, &[socktrace::event::SockId]) {
    t.events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.actor.role == Role::Server)
        .find_map(|(i, e)| match &e.body {
            Body::Process(ProcessChange::Exit { exit, closed }) => Some((i, exit, closed.as_slice())),
            _ => None,
        })
        .expect("the server's exit")
}

fn server_calls_after(t: &Trace, i: usize) -> Vec<&Event> {
    t.events[i + 1..].iter().filter(|e| e.actor.role == Role::Server && e.call_start().is_some()).collect()
}

fn sigpipe_kills(t: &[Trace]) {
    let t = &t[0];
    let (_, epipe) = sends(t)[1];
    let (exit_at, exit, closed) = server_exit(t);
    assert!(matches!(exit, Exit::Signal { signal, .. } if signal == "SIGPIPE"), "{exit:?}");
    assert!(exit_at > epipe && server_calls_after(t, epipe).is_empty(), "no call after the failed send");
    assert!(t.events[exit_at].t - t.events[epipe].t < 50_000_000, "at once");
    let closed: BTreeSet<&str> = closed.iter().map(|s| s.0.as_ref()).collect();
    assert_eq!(closed, BTreeSet::from(["s1", "s2"]), "the kernel closed both sockets for it");
    assert!(ends(t, Role::Server, CallName::Close).is_empty(), "the server never called close");
}

fn sigpipe_check(t: &[Trace]) {
    let found: BTreeSet<(String, &str)> = deviations(&t[0]).into_iter().collect();
    let expected = [("c1", "exchange"), ("s1", "close"), ("s2", "close")].map(|(s, step)| (s.to_string(), step));
    assert_eq!(found, BTreeSet::from(expected));
}

fn nosignal_epipe(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    for (start, _) in sends(t) {
        let flags = t.events[start].call_start().and_then(|s| s.args.flags.clone());
        assert_eq!(flags.as_deref(), Some("MSG_NOSIGNAL"));
    }
    let (_, epipe) = sends(t)[1];
    assert_eq!(errno_name(t, epipe), Some("EPIPE"));
    story.in_order(&[("send fails", epipe), ("close(s2)", story.call_end(CallName::Close, "s2")), ("close(s1)", story.call_end(CallName::Close, "s1"))]);
    assert_eq!(server_exit(t).1, &Exit::Status { code: 0 });
}

fn nosignal_check(t: &[Trace]) {
    assert_eq!(deviations(&t[0]), [("c1".to_string(), "exchange")], "only the client, which never reads its answer");
}

// ---- a peer that vanished -----------------------------------------------------------------

fn keepalive_set(t: &[Trace]) {
    let t = &t[0];
    let options: Vec<String> =
        t.events.calls_of("s2").filter(|(_, _, s)| s.call == CallName::Setsockopt).filter_map(|(_, _, s)| s.args.option.clone()).collect();
    assert_eq!(options, ["SO_KEEPALIVE", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT=2"], "keepalive on, 1 s idle, 1 s apart, 2 probes");
}

/// Where the client attached its filter.
fn filtered(t: &Trace) -> usize {
    let at = t.events.calls_of("c1").find(|(_, _, s)| s.args.option.as_deref() == Some("SO_ATTACH_FILTER"));
    at.expect("the client attaches its filter").0
}

fn client_hears_nothing(t: &[Trace]) {
    let t = &t[0];
    let from = filtered(t);
    let echo = received_by(t, "c1");
    assert!(echo.len() == 1 && echo[0].0 < from, "after reading its echo");
    let answered = packets(t).into_iter().any(|(i, e, _)| i > from && sock(e) == Some("c1"));
    assert!(!answered, "no packet from the client from then on");
}

/// The keepalive probes: segments from s2 after the filter that carry no data and no flag
/// but ACK.
fn probes(t: &Trace) -> Vec<usize> {
    let from = filtered(t);
    packets(t).into_iter().filter(|(i, e, p)| *i > from && sock(e) == Some("s2") && p.len == 0 && tcp(p).flags == TcpFlags::ACK).map(|(i, _, _)| i).collect()
}

fn probes_unanswered(t: &[Trace]) {
    let t = &t[0];
    let all = probes(t);
    assert_eq!(all.len(), 2, "TCP_KEEPCNT probes");
    let (last_data, echo) = *data_from(t, "s2").last().expect("the echo");
    let acked = tcp(echo).rel_seq.expect("relative") + echo.len;
    for &i in &all {
        assert_eq!(tcp(t.events[i].packet().expect("a probe")).rel_seq, Some(acked - 1), "a probe repeats the last byte already acknowledged");
    }
    let quiet = packets(t).into_iter().filter(|(i, _, _)| *i > last_data && *i < all[0]).count();
    assert_eq!(quiet, 1, "only the client's ACK of the echo before the first probe");
    let gap = |a: usize, b: usize| t.events[b].t - t.events[a].t;
    for (a, b) in [(last_data + 1, all[0]), (all[0], all[1])] {
        assert!((900_000_000..1_500_000_000).contains(&gap(a, b)), "about a second apart: {} ns", gap(a, b));
    }
}

fn keepalive_gives_up(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let last_probe = *probes(t).last().expect("probes");
    let reset = resets_from(t, "s2");
    assert_eq!(reset.len(), 1);
    let (recv_start, _, _) = t.events.calls_of("s2").filter(|(_, _, s)| s.call == CallName::Recvfrom).last().expect("the last recv");
    let (recv_end, _, _) = t.events.call_ends_of("s2").filter(|(_, _, e)| e.call == CallName::Recvfrom).last().expect("its end");
    assert_eq!(errno_name(t, recv_end), Some("ETIMEDOUT"));
    story.in_order(&[
        ("the server waits in recv", recv_start),
        ("the last probe", last_probe),
        ("s2 CLOSED", story.state("s2", State::Established, State::Closed)),
        ("recv fails", recv_end),
    ]);
    assert!(reset[0] > last_probe, "the reset after the probes");
    let waited = t.events[recv_end].t - t.events[recv_start].t;
    assert!((2_500_000_000..4_500_000_000).contains(&waited), "recv waited about 3 s: {waited} ns");
}

fn keepalive_unmodelled(t: &[Trace]) {
    assert_eq!(mark_of(&t[0], "s2", State::Established, State::Closed), Mark::Unexplained { model: State::Established }, "no keepalive in the model");
}

fn vanished_silently(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let repair = t.events.calls_of("c1").find(|(_, _, s)| s.args.option.as_deref() == Some("TCP_REPAIR")).expect("repair mode").0;
    let close = story.call_start(CallName::Close, "c1");
    assert!(repair < close);
    story.state("c1", State::Established, State::Closed);
    assert!(packets(t).into_iter().all(|(i, _, _)| i < close), "no packet from the client's close on");
}
