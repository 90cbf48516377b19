//! `trace check`: every simulated scenario that completes the documented sequences conforms;
//! the refused connect stops at its connect step with the expected story; real traces
//! conform with Linux's differences as notes; and each deliberately broken fixture fails
//! for its reason (`broken.rs`).
#![allow(non_snake_case)] // names read rule__consequence

mod broken;

use std::path::Path;

use socktrace::check::{check, CheckOptions, Outcome, Report, Seen, Side, SocketReport, Verdict};
use socktrace::render::Style;
use socktrace::render::{run_check, CheckError};
use socktrace::sim::{self, Options};
use socktrace::trace::{read_trace, LensStatus, Trace};

pub use crate::support::fixture;

fn simulated(scenario: &str) -> Trace {
    sim::trace(scenario, &Options::default(), &format!("trace simulate {scenario}")).expect("a known scenario")
}

fn live(name: &str) -> Trace {
    read_trace(&fixture(&format!("live/{name}.jsonl"))).unwrap_or_else(|e| panic!("{e}"))
}

fn all(trace: &Trace) -> Report<'_> {
    check(trace, &CheckOptions::default())
}

fn socket<'r>(report: &'r Report, id: &str) -> &'r SocketReport {
    report.sockets.iter().find(|s| s.socket.0 == id).unwrap_or_else(|| panic!("{id} is checked:\n{report}"))
}

fn outcome(report: &Report, id: &str, step: &str) -> Outcome {
    let socket = socket(report, id);
    socket.steps.iter().find(|s| s.step.id == step).unwrap_or_else(|| panic!("{id} has step {step}:\n{report}")).outcome()
}

fn notes<'r>(report: &'r Report) -> impl Iterator<Item = &'r str> {
    report.sockets.iter().flat_map(|s| &s.steps).flat_map(|s| &s.notes).map(String::as_str)
}

fn has_note(report: &Report, needle: &str) -> bool {
    notes(report).any(|n| n.contains(needle))
}

/// Runs `trace check`'s core on a file: the verdict and what it printed.
pub fn run(path: &Path, side: Option<Side>) -> (Verdict, String) {
    let mut out = Vec::new();
    let verdict = run_check(path, &CheckOptions { side }, Style::plain(), &mut out).unwrap_or_else(|e| panic!("{e}"));
    (verdict, String::from_utf8(out).expect("the report is UTF-8"))
}

#[test]
fn every_scenario_that_completes_the_sequences__conforms() {
    for scenario in
        ["echo", "server-closes-first", "half-close", "simultaneous-close", "lost-syn", "lost-syn-ack", "lost-ack", "lost-data", "lost-fin", "udp-echo"]
    {
        let trace = simulated(scenario);
        let report = all(&trace);
        assert!(report.conforms(), "{scenario}:\n{report}");
        assert!(report.sockets.iter().flat_map(|s| &s.steps).all(|s| s.outcome() == Outcome::Met), "{scenario}:\n{report}");
    }
}

#[test]
fn echo__listener_accepted_socket_and_client_each_against_their_part() {
    let trace = simulated("echo");
    let report = all(&trace);
    let parts: Vec<(&str, &str)> = report.sockets.iter().map(|s| (s.socket.0.as_str(), s.sequence.id)).collect();
    assert_eq!(parts, [("s1", "passive-open"), ("s2", "passive-open"), ("c1", "active-open")]);
    let steps = |id| socket(&report, id).steps.iter().map(|s| s.step.id).collect::<Vec<_>>();
    assert_eq!(steps("s1"), ["create", "bind", "listen", "accept", "close"]);
    assert_eq!(steps("s2"), ["accept", "exchange", "close"]);
    assert_eq!(steps("c1"), ["create", "address", "connect", "exchange", "close"]);
    assert_eq!(socket(&report, "s2").listener.as_ref().map(|l| l.0.as_str()), Some("s1"));
}

#[test]
fn refused__conforms_the_sequence_ends_at_connect_as_it_must() {
    let trace = simulated("refused");
    let report = all(&trace);
    assert_eq!(report.verdict(), Verdict::Conforms, "{report}");
    assert_eq!(outcome(&report, "c1", "connect"), Outcome::Ended);
    assert_eq!(outcome(&report, "c1", "exchange"), Outcome::NotReached);
    assert_eq!(outcome(&report, "c1", "close"), Outcome::Met, "closing the refused socket is still owed, and done");
    assert_eq!(report.reasons().count(), 0);
    assert!(has_note(&report, "ECONNREFUSED") && has_note(&report, "nobody listens"), "{report}");
    assert!(has_note(&report, "the reset at #6 answered its SYN"), "the RST|ACK is cited: {report}");
}

#[test]
fn lost_syn__the_retransmitted_syn_is_a_note() {
    let trace = simulated("lost-syn");
    let report = all(&trace);
    assert!(has_note(&report, "SYN from the client was sent 2 times"), "{report}");
}

#[test]
fn lost_syn_ack__the_retransmitted_syn_ack_is_a_note() {
    let trace = simulated("lost-syn-ack");
    let report = all(&trace);
    assert!(has_note(&report, "SYN|ACK from the server was sent 2 times"), "{report}");
}

#[test]
fn half_close__shutdown_is_a_note_not_a_failure() {
    let trace = simulated("half-close");
    let report = all(&trace);
    assert!(report.conforms());
    assert!(has_note(&report, "shutdown(SHUT_WR) at #28: a half-close"), "{report}");
}

#[test]
fn simultaneous_close__closing_is_a_note() {
    let trace = simulated("simultaneous-close");
    let report = all(&trace);
    assert!(has_note(&report, "the FINs crossed"), "{report}");
}

#[test]
fn udp_echo__is_held_against_the_connectionless_sequence() {
    let trace = simulated("udp-echo");
    let report = all(&trace);
    let parts: Vec<(&str, &str)> = report.sockets.iter().map(|s| (s.socket.0.as_str(), s.sequence.id)).collect();
    assert_eq!(parts, [("s1", "datagram-server"), ("c1", "datagram-client")]);
    assert!(report.conforms(), "{report}");
}

#[test]
fn role_option__checks_one_side_only() {
    let trace = simulated("echo");
    let client = check(&trace, &CheckOptions { side: Some(Side::Client) });
    assert_eq!(client.sockets.iter().map(|s| s.socket.0.as_str()).collect::<Vec<_>>(), ["c1"]);
    let server = check(&trace, &CheckOptions { side: Some(Side::Server) });
    assert_eq!(server.sockets.iter().map(|s| s.socket.0.as_str()).collect::<Vec<_>>(), ["s1", "s2"]);
    assert_eq!("server".parse::<Side>(), Ok(Side::Server));
    assert!("peer".parse::<Side>().unwrap_err().contains("client and server"));
}

#[test]
fn role_server_on_a_client_only_trace__nothing_to_check_is_a_deviation() {
    let trace = simulated("refused");
    let report = check(&trace, &CheckOptions { side: Some(Side::Server) });
    assert_eq!(report.reasons().collect::<Vec<_>>(), ["the trace shows no server socket to check"]);
    assert_eq!(report.verdict(), Verdict::Deviations);
}

#[test]
fn live_traces__conform_with_linux_differences_as_notes() {
    for name in ["echo", "echo-without-packets", "server-closes-first", "half-close", "three-clients"] {
        let (verdict, printed) = run(&fixture(&format!("live/{name}.jsonl")), None);
        assert_eq!(verdict, Verdict::Conforms, "{name}:\n{printed}");
    }
    let trace = live("echo");
    let report = all(&trace);
    for difference in ["child-born-at-third-ack", "syn-sent-without-port", "time-wait-unreported"] {
        assert!(has_note(&report, difference), "{difference}:\n{report}");
    }
    // Whether accept() starts before or after the kernel completes the handshake is a race;
    // in this recording it started after.
    let trace = live("echo-without-packets");
    let report = all(&trace);
    assert!(has_note(&report, "listen backlog"), "accept began after the handshake:\n{report}");
}

#[test]
fn live_trace_without_the_packet_lens__packet_evidence_is_not_observed_not_failed() {
    let trace = live("echo-without-packets");
    assert!(matches!(trace.header.lenses.packets, LensStatus::Unavailable { .. }), "this fixture was recorded without packets");
    let report = all(&trace);
    let connect = socket(&report, "c1").steps.iter().find(|s| s.step.id == "connect").expect("a connect step");
    assert_eq!(connect.outcome(), Outcome::Met);
    assert_eq!(connect.evidence.iter().filter(|o| o.seen == Seen::Unobserved).count(), 3, "SYN, SYN|ACK, ACK");
    assert!(report.notes.iter().any(|n| n.contains("the packets lens was unavailable")));
}

#[test]
fn live_refused__conforms_and_ends_at_connect() {
    let trace = live("refused");
    let report = all(&trace);
    assert_eq!(report.verdict(), Verdict::Conforms, "{report}");
    assert_eq!(outcome(&report, "c1", "connect"), Outcome::Ended);
}

#[test]
fn several_clients__each_accepted_socket_and_each_client_is_reported() {
    let trace = live("three-clients");
    let report = all(&trace);
    let mut sequences: Vec<&str> = report.sockets.iter().map(|s| s.sequence.id).collect();
    sequences.sort_unstable();
    assert_eq!(sequences, ["active-open", "active-open", "active-open", "passive-open", "passive-open", "passive-open", "passive-open"]);
    let accepted = report.sockets.iter().filter(|s| s.listener.is_some()).count();
    assert_eq!(accepted, 3);
    assert!(has_note(&report, "explained above"), "a Linux difference is explained once, then cited:\n{report}");
}

#[test]
fn without_the_calls_lens__call_evidence_is_not_observed() {
    let mut trace = simulated("echo");
    trace.header.lenses.calls = LensStatus::Unavailable { reason: "imported from a capture".into() };
    trace.events.retain(|e| !matches!(e.body, socktrace::event::Body::CallStart(_) | socktrace::event::Body::CallEnd(_)));
    let report = all(&trace);
    assert!(report.conforms(), "{report}");
    assert_eq!(outcome(&report, "s2", "accept"), Outcome::Met, "the handshake is still seen");
    assert_eq!(outcome(&report, "c1", "create"), Outcome::NotObserved);
}

#[test]
fn unreadable_trace__is_the_readers_one_line_error() {
    let path = fixture("README.md");
    let err = run_check(&path, &CheckOptions::default(), Style::plain(), &mut Vec::new()).expect_err("not a trace");
    assert!(matches!(err, CheckError::Trace(_)));
    let message = err.to_string();
    assert!(message.contains("is not a socktrace trace") && !message.contains('\n'), "{message}");
}

#[test]
fn check__is_deterministic() {
    let trace = live("three-clients");
    assert_eq!(all(&trace).to_string(), all(&trace).to_string());
}

#[test]
fn report__simulated_echo() {
    let trace = simulated("echo");
    insta::assert_snapshot!(all(&trace).to_string());
}

#[test]
fn roles_unknown__the_calls_decide_each_sockets_part() {
    let mut trace = simulated("echo");
    for event in &mut trace.events {
        event.actor.role = socktrace::event::Role::Unknown;
    }
    let report = all(&trace);
    let parts: Vec<(&str, &str)> = report.sockets.iter().map(|s| (s.socket.0.as_str(), s.sequence.id)).collect();
    assert_eq!(parts, [("s1", "passive-open"), ("s2", "passive-open"), ("c1", "active-open")]);
    assert!(report.conforms(), "{report}");
}

#[test]
fn non_blocking_connect__the_handshake_may_finish_after_connect_returns() {
    use socktrace::event::{Body, CallName, Errno};
    let mut trace = simulated("echo");
    let is_connect_end = |e: &socktrace::event::Event| e.call_end().is_some_and(|c| c.call == CallName::Connect);
    let at = trace.events.iter().position(is_connect_end).expect("connect returns");
    let mut end = trace.events.remove(at);
    if let Body::CallEnd(c) = &mut end.body {
        c.ret = -1;
        c.errno = Some(Errno { code: 115, name: "EINPROGRESS".into() });
    }
    let start = trace.events.iter().position(|e| e.call_start().is_some_and(|c| c.call == CallName::Connect)).expect("connect");
    end.t = trace.events[start].t;
    trace.events.insert(start + 1, end);
    let report = all(&trace);
    assert_eq!(outcome(&report, "c1", "connect"), Outcome::Met, "{report}");
}

#[test]
fn interrupted_trace__says_so() {
    let mut trace = simulated("echo");
    trace.end = None;
    let report = all(&trace);
    assert!(report.notes.iter().any(|n| n.contains("interrupted")), "{report}");
}

#[test]
fn live_trace_with_modelled_states_beside__only_the_kernels_are_evidence() {
    use socktrace::event::Origin;
    use socktrace::tcp::state::State;
    let mut trace = live("echo");
    let observed_close =
        trace.events.iter().position(|e| e.is_on("c1") && e.state().is_some_and(|s| s.to == State::Closed)).expect("the kernel reports c1 closed");
    // The model's own CLOSED, just before the kernel's: were modelled states evidence in a
    // trace whose states lens observed, it would be cited first.
    let mut modelled = trace.events[observed_close].clone();
    modelled.origin = Origin::Modelled;
    trace.events.insert(observed_close, modelled);
    let report = all(&trace);
    assert!(report.conforms(), "{report}");
    let close = socket(&report, "c1").steps.iter().find(|s| s.step.id == "close").expect("a close step");
    let cited: Vec<usize> = close
        .evidence
        .iter()
        .filter_map(|o| match o.seen {
            Seen::At(s) => Some(s.event),
            _ => None,
        })
        .collect();
    assert!(cited.contains(&(observed_close + 1)), "the kernel's CLOSED is cited, not the model's TIME-WAIT: {cited:?}");
}

#[test]
fn live_trace_with_every_lens__every_piece_of_evidence_is_seen() {
    let trace = live("echo");
    assert_eq!(trace.header.lenses.packets, LensStatus::Observed, "this fixture was recorded with packets");
    let report = all(&trace);
    let unseen: Vec<String> = report
        .sockets
        .iter()
        .flat_map(|s| s.steps.iter().map(move |st| (s, st)))
        .flat_map(|(s, st)| st.evidence.iter().map(move |o| (s, st, o)))
        .filter(|(_, _, o)| !matches!(o.seen, Seen::At(_)))
        .map(|(s, st, o)| format!("{} {}: {:?}", s.socket, st.step.id, o.evidence))
        .collect();
    assert!(unseen.is_empty(), "{unseen:#?}\n{report}");
}

#[test]
fn live_refused__the_reset_packet_is_cited() {
    let trace = live("refused");
    let report = all(&trace);
    assert!(has_note(&report, "answered its SYN"), "{report}");
}

#[test]
fn model_disagreement_beyond_the_documented_differences__is_a_finding_not_a_deviation() {
    let mut trace = live("echo");
    let (at, change) = trace
        .events
        .iter_mut()
        .enumerate()
        .find_map(|(i, e)| match &mut e.body {
            socktrace::event::Body::State(c) if c.model.is_some() && c.to == socktrace::tcp::State::Established => Some((i, c)),
            _ => None,
        })
        .expect("a live trace has model-annotated state changes");
    change.model = Some(socktrace::tcp::State::Closed);
    let report = all(&trace);
    // The kernel did what the model did not: a finding about the two, shown with the trace,
    // not a step the program missed.
    assert_eq!(report.verdict(), Verdict::Conforms, "{report}");
    assert!(
        report.notes.iter().any(|n| n.starts_with(&format!("finding: #{}: the kernel moved", at + 1)) && n.contains("expected CLOSED")),
        "{:?}",
        report.notes
    );
}

#[test]
fn model_disagreement_explained_by_linux__is_no_finding() {
    let trace = live("echo");
    let report = all(&trace);
    assert_eq!(report.verdict(), Verdict::Conforms, "{report}");
    assert!(has_note(&report, "time-wait-unreported"));
}

/// Every fixture: each piece of evidence a met step cites is its own socket's, and the replay
/// lights exactly what the check cites.
#[test]
fn every_fixture__evidence_of_its_own_socket__replay_and_check_agree() {
    let mut checked = 0;
    for dir in ["lessons", "live", "broken"] {
        let root = crate::support::fixture(dir);
        let mut paths: Vec<_> = std::fs::read_dir(&root).expect("a fixtures folder").flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "jsonl")) {
            let trace = crate::support::load(&path);
            crate::support::evidence::evidence_is_its_own_sockets(&trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            crate::support::evidence::replay_agrees_with_check(&trace).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            checked += 1;
        }
    }
    assert!(checked >= 20, "the fixtures were found: {checked}");
}

/// The live echo twice on the same addresses, the second time with its own ISNs (as Linux
/// picks them, RFC 6528) and sockets: a busy server reuses an address pair within seconds.
fn echo_twice_on_one_address_pair() -> Trace {
    let echo = live("echo");
    let span = echo.events.last().map_or(0, |e| e.t) - echo.events[0].t + 1_000;
    let mut events = echo.events.clone();
    for event in &echo.events {
        let mut event = event.clone();
        event.t += span;
        let rename = |id: &mut socktrace::event::SockId| *id = socktrace::event::SockId(format!("{}b", id.0).into());
        if let Some(id) = &mut event.socket {
            rename(id);
        }
        match &mut event.body {
            socktrace::event::Body::CallStart(start) => start.id += 10_000,
            socktrace::event::Body::CallEnd(end) => {
                end.id += 10_000;
                for id in [&mut end.new_socket, &mut end.queued].into_iter().flatten() {
                    rename(id);
                }
            }
            socktrace::event::Body::Packet(packet) => {
                if let Some(id) = &mut packet.to {
                    rename(id);
                }
                if let Some(tcp) = &mut packet.tcp {
                    tcp.seq = tcp.seq.wrapping_add(7_777_777);
                    tcp.ack = if tcp.ack == 0 { 0 } else { tcp.ack.wrapping_add(7_777_777) };
                }
            }
            _ => {}
        }
        events.push(event);
    }
    Trace { events, ..echo }
}

#[test]
fn a_reused_address_pair__each_connection_is_evidence_for_its_own_sockets_only() {
    let trace = echo_twice_on_one_address_pair();
    let second = trace.events.len() / 2;
    let report = all(&trace);
    assert_eq!(report.verdict(), Verdict::Conforms, "{report}");
    for (id, later) in [("c1", false), ("s2", false), ("c1b", true), ("s2b", true)] {
        for step in &socket(&report, id).steps {
            // What it cites and everything it also counts (a data exchange's every segment).
            for event in step.evidence.iter().flat_map(|o| o.events()) {
                assert_eq!(event >= second, later, "{id}'s evidence #{} is from the other connection", event + 1);
            }
        }
    }
}

#[test]
fn a_reused_address_pair__the_replay_tells_each_steps_own_connection() {
    let trace = echo_twice_on_one_address_pair();
    let second = trace.events.len() / 2;
    let replay = socktrace::replay::Replay::of(&trace);
    for step in &replay.steps {
        // A step that is evidence of a documented step tells its own socket's story (another
        // step keeps the story shown last).
        for progress in step.progress.iter().filter(|p| p.at().next().is_some()) {
            let Some(socket) = &progress.socket else { continue };
            assert_eq!(socket.0.ends_with('b'), step.first >= second, "step at #{} tells {socket}'s story", step.first + 1);
        }
    }
}
