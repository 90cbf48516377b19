//! `trace echo --drop KIND` as root: the chosen packet is lost once, on purpose, the trace
//! shows it marked as dropped and then TCP's own repair (a retransmission after the RTO, or,
//! for the handshake's last ACK, the next segment's ACK), `trace check` still finds the
//! documented sequences, and the netfilter rule is gone afterwards, also after Ctrl-C and
//! after an error.

#![allow(non_snake_case)] // names read story__what_the_trace_shows

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use socktrace::capture::dropper::{rule, DROPPED_BY};
use socktrace::capture::privilege::live_test_allowed;
use socktrace::check::{check, CheckOptions, Verdict};
use socktrace::event::{Body, Event, KernelNote, Packet, Role, SockId};
use socktrace::fault::Lost;
use socktrace::tcp::state::State;
use socktrace::trace::Trace;

use crate::support::story::Story;
use crate::support::{assert_one_line_error, load, scratch, stderr, trace, trace_bin};

/// RFC 6298 §2.1 (and RFC 9293 §3.8.1): the initial RTO is 1 s. A lower bound far below it
/// is a fact about the kernel's timer, whatever the machine's load (load only delays).
const INITIAL_RTO_AT_LEAST: u64 = 900_000_000;
/// Linux's smallest RTO (and its tail loss probe's, with one segment in flight) is 200 ms
/// (`TCP_RTO_MIN`).
const MIN_RTO_AT_LEAST: u64 = 150_000_000;

/// The chains of ours that process `pid` made and left.
fn chains_of(pid: u32) -> Vec<String> {
    let prefix = format!("socktrace-drop-{pid}-");
    rule::chains(false).expect("iptables lists the chains").into_iter().filter(|c| c.starts_with(&prefix)).collect()
}

/// Runs `trace echo --live --drop KIND --save FILE`, asserts it succeeded and left no rule.
fn record(kind: Lost) -> Trace {
    let path = scratch(&format!("live_drop_{}", kind.name())).join("echo.jsonl");
    let child = Command::new(trace_bin())
        .args(["echo", "--live", "--drop", kind.name(), "--save", path.to_str().expect("utf-8 path")])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trace binary runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("trace echo ends");
    assert_eq!(out.status.code(), Some(0), "trace echo --drop {kind} failed: {}", stderr(&out));
    assert_eq!(chains_of(pid), Vec::<String>::new(), "the --drop rule outlived the session");
    load(&path)
}

fn packets(events: &[Event]) -> impl Iterator<Item = (usize, &Event, &Packet)> {
    events.iter().enumerate().filter_map(|(i, e)| match &e.body {
        Body::Packet(p) => Some((i, e, p)),
        _ => None,
    })
}

/// The one dropped packet: of kind `kind`, sent by `from`, marked by the dropper.
fn the_dropped(trace: &Trace, kind: Lost, from: &str) -> (usize, u64, Packet) {
    let dropped: Vec<_> = packets(&trace.events).filter(|(_, _, p)| p.dropped.is_some()).collect();
    assert_eq!(dropped.len(), 1, "exactly one packet is dropped: {dropped:?}");
    let (i, event, packet) = dropped[0];
    assert_eq!(packet.dropped.as_deref(), Some(DROPPED_BY));
    let tcp = packet.tcp.as_ref().expect("a TCP segment");
    assert!(kind.matches(tcp.flags, packet.len), "the dropped packet is a {kind}: {packet:?}");
    assert_eq!(event.socket, Some(SockId(from.into())), "sent by {from}");
    assert!(
        packets(&trace.events).take_while(|(j, _, _)| *j < i).all(|(_, _, p)| !p.tcp.as_ref().is_some_and(|t| kind.matches(t.flags, p.len))),
        "it is the first {kind}"
    );
    (i, event.t, packet.clone())
}

/// The same segment sent again after the dropped one: same flags, sequence number and
/// length, from the same side; returns its time.
fn the_retransmission(trace: &Trace, after: usize, dropped: &Packet) -> u64 {
    let tcp = dropped.tcp.as_ref().expect("a TCP segment");
    packets(&trace.events)
        .find(|(j, _, p)| {
            *j > after
                && p.src == dropped.src
                && p.len == dropped.len
                && p.tcp.as_ref().is_some_and(|t| t.seq == tcp.seq && t.flags.without_psh() == tcp.flags.without_psh())
        })
        .map(|(_, e, _)| e.t)
        .unwrap_or_else(|| panic!("the lost segment was not sent again: {dropped:?}"))
}

/// The kernel's retransmission tracepoint names `socket`.
fn assert_retransmit_note(trace: &Trace, socket: &str) {
    let noted = trace.events.iter().any(|e| matches!(&e.body, Body::Kernel(KernelNote::Retransmit { .. })) && e.socket == Some(SockId(socket.into())));
    assert!(noted, "the kernel noted a retransmission of {socket}");
}

/// `trace check` finds the documented sequences: a lost packet is a note, not a deviation.
fn assert_conforms(trace: &Trace) {
    let report = check(trace, &CheckOptions::default());
    assert_eq!(report.verdict(), Verdict::Conforms, "trace check:\n{report}");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_syn__connect_sends_it_again_after_the_initial_rto() {
    if !live_test_allowed("trace echo --drop syn") {
        return;
    }
    let trace = record(Lost::Syn);
    let (i, t, syn) = the_dropped(&trace, Lost::Syn, "c1");
    let again = the_retransmission(&trace, i, &syn);
    assert!(again - t >= INITIAL_RTO_AT_LEAST, "the SYN is sent again after the 1 s initial RTO, not after {} ms", (again - t) / 1_000_000);
    assert_retransmit_note(&trace, "c1");
    let story = Story::new(&trace.events);
    story.in_order(&[
        ("SYN-SENT", story.state("c1", State::Closed, State::SynSent)),
        ("the lost SYN", i),
        ("ESTABLISHED", story.state("c1", State::SynSent, State::Established)),
    ]);
    assert_conforms(&trace);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_syn_ack__the_handshake_is_repeated_after_the_initial_rto() {
    if !live_test_allowed("trace echo --drop syn-ack") {
        return;
    }
    let trace = record(Lost::SynAck);
    let (i, t, syn_ack) = the_dropped(&trace, Lost::SynAck, "s1");
    let again = the_retransmission(&trace, i, &syn_ack);
    // Either side's timer may fire first: the client's SYN draws the SYN|ACK again at once.
    assert!(again - t >= INITIAL_RTO_AT_LEAST, "the SYN|ACK comes again after the 1 s initial RTO, not after {} ms", (again - t) / 1_000_000);
    assert_conforms(&trace);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_ack__the_first_data_segment_completes_the_handshake() {
    if !live_test_allowed("trace echo --drop ack") {
        return;
    }
    let trace = record(Lost::Ack);
    let (i, _, ack) = the_dropped(&trace, Lost::Ack, "c1");
    let story = Story::new(&trace.events);
    let data = story.data("c1", "hello\\n");
    let data_ack = story.packet_at(data).tcp.as_ref().map(|t| t.ack);
    assert_eq!(data_ack, ack.tcp.as_ref().map(|t| t.ack), "the data carries the ACK that was lost");
    let child = story.created(Role::Server, socktrace::event::CallName::Accept).into_iter().next().expect("accept returned");
    let born = story.state(&child.0, State::SynReceived, State::Established);
    story.in_order(&[("the lost ACK", i), ("the data", data), ("the server's socket ESTABLISHED", born)]);
    assert_conforms(&trace);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_fin__its_sender_sends_it_again() {
    if !live_test_allowed("trace echo --drop fin") {
        return;
    }
    let trace = record(Lost::Fin);
    let (i, t, fin) = the_dropped(&trace, Lost::Fin, "c1");
    let again = the_retransmission(&trace, i, &fin);
    assert!(again - t >= MIN_RTO_AT_LEAST, "the FIN is sent again after Linux's 200 ms minimum RTO, not after {} ms", (again - t) / 1_000_000);
    assert_retransmit_note(&trace, "c1");
    let story = Story::new(&trace.events);
    story.in_order(&[("FIN-WAIT-1", story.state("c1", State::Established, State::FinWait1)), ("the lost FIN", i)]);
    assert_conforms(&trace);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_data__the_segment_is_sent_again_and_echoed() {
    if !live_test_allowed("trace echo --drop data") {
        return;
    }
    let trace = record(Lost::Data);
    let (i, t, data) = the_dropped(&trace, Lost::Data, "c1");
    assert_eq!(data.payload.as_ref().map(|p| p.text.as_str()), Some("hello\\n"), "the first line is lost");
    let again = the_retransmission(&trace, i, &data);
    assert!(again - t >= MIN_RTO_AT_LEAST, "the data is sent again after Linux's 200 ms minimum RTO, not after {} ms", (again - t) / 1_000_000);
    assert_retransmit_note(&trace, "c1");
    let story = Story::new(&trace.events);
    story.in_order(&[("the lost data", i), ("its echo", story.data("s2", "1: hello\\n"))]);
    assert_conforms(&trace);
}

/// Waits (bounded) until process `pid` has installed its rule.
fn wait_for_rule(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while chains_of(pid).is_empty() {
        assert!(Instant::now() < deadline, "the --drop rule never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn ctrl_c__removes_the_rule() {
    if !live_test_allowed("trace echo --drop, interrupted") {
        return;
    }
    let path = scratch("live_drop_ctrl_c").join("echo.jsonl");
    // A SYN lost on every try would keep connect() waiting for minutes: the session is
    // interrupted while it waits for the first retransmission.
    let mut child = Command::new(trace_bin())
        .args(["echo", "--live", "--drop", "syn", "--save", path.to_str().expect("utf-8 path")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trace binary runs");
    let pid = child.id();
    wait_for_rule(pid);
    // SAFETY: signals our own child, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let status = child.wait().expect("trace echo ends");
    assert!(status.code().is_some(), "trace echo ended by itself after SIGINT, not killed: {status:?}");
    assert_eq!(chains_of(pid), Vec::<String>::new(), "the --drop rule outlived an interrupted session");
    assert!(load(&path).end.is_some(), "the interrupted trace is complete");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn an_error_after_the_rule_was_installed_removes_it() {
    if !live_test_allowed("trace echo --drop, failing") {
        return;
    }
    // The trace file cannot be created: the session fails after the dropper has started.
    let child = Command::new(trace_bin())
        .args(["echo", "--live", "--drop", "syn", "--save", "/nonexistent-socktrace-dir/echo.jsonl"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trace binary runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("trace echo ends");
    assert_one_line_error(&out, "cannot write the trace");
    assert_eq!(chains_of(pid), Vec::<String>::new(), "the --drop rule outlived a failed session");
}

#[test]
fn unknown_kind_or_another_story_is_refused() {
    assert_one_line_error(&trace(&["echo", "--drop", "rst"]), "choose one of syn, syn-ack, ack, fin, data");
    assert_one_line_error(&trace(&["echo", "--drop", "syn", "--scenario", "refused"]), "leave out --scenario");
}
