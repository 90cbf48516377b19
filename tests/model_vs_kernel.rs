//! Model against reality: for each story that loopback can tell live, the live trace and the
//! RFC 9293 model's simulation agree at lesson level (calls, bytes, states in the RFC view,
//! and the segments that open and close the connection, with relative numbers).

use socktrace::capture::privilege::live_test_allowed;
use socktrace::fault::Lost;
use socktrace::normalize::lesson_view;
use socktrace::sim;

use crate::support::{load, scratch, stderr, trace};

fn live_and_simulated_agree(scenario: &str) {
    live_and_simulated_agree_on(scenario, &["--scenario", scenario], |_| true);
}

/// A lost packet (`--drop KIND`) against the model's `lost-KIND` scenario.
fn lost_packet_agrees(lost: Lost) {
    live_and_simulated_agree_on(lost.scenario(), &["--drop", lost.name()], |_| true);
}

/// `trace echo ARGS` live against the model's `scenario`, on the lines of the lesson-level
/// view that `compared` keeps.
fn live_and_simulated_agree_on(scenario: &str, args: &[&str], compared: impl Fn(&str) -> bool) {
    if !live_test_allowed(&format!("model vs kernel: {scenario}")) {
        return;
    }
    let path = scratch(&format!("model_vs_kernel_{scenario}")).join("live.jsonl");
    let mut all = vec!["echo", "--live", "--save", path.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    let out = trace(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let live = load(&path);
    let checked = socktrace::check::check(&live, &socktrace::check::CheckOptions::default());
    assert_eq!(checked.verdict(), socktrace::check::Verdict::Conforms, "trace check on the live {scenario}:\n{checked}");
    let simulated = sim::trace(scenario, &sim::Options::default(), "test").expect("a known scenario");
    let (live_view, model_view) = (lesson_view(&live.events), lesson_view(&simulated.events));
    assert!(live_view.contains("c1 calls: socket = c1"), "the live view has content:\n{live_view}");
    let keep = |view: &str| view.lines().filter(|l| compared(l)).collect::<Vec<_>>().join("\n");
    assert_eq!(keep(&live_view), keep(&model_view), "live (left) and model (right) differ for {scenario}");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn echo() {
    live_and_simulated_agree("echo");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn refused() {
    live_and_simulated_agree("refused");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn server_closes_first() {
    live_and_simulated_agree("server-closes-first");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn half_close() {
    live_and_simulated_agree("half-close");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_syn() {
    lost_packet_agrees(Lost::Syn);
}

/// After a lost SYN|ACK, the client's SYN timer and the server's SYN|ACK timer run out in the
/// same tick: which fires first differs from run to run, and Linux answers the repeated SYN
/// with its SYN|ACK where RFC 9293 §3.10.7.4 answers an unacceptable segment with an ACK. The
/// server's accepted socket is named only when accept returns, a second after its SYN, so its
/// modelled SYN-RECEIVED has no name. Calls, bytes and the client's states are compared; the
/// segments are asserted by `live_drop`.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_syn_ack() {
    let lost = Lost::SynAck;
    live_and_simulated_agree_on(lost.scenario(), &["--drop", lost.name()], |line| !line.starts_with("c1 wire:") && !line.starts_with("s2 states:"));
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_ack() {
    lost_packet_agrees(Lost::Ack);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_fin() {
    lost_packet_agrees(Lost::Fin);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn lost_data() {
    lost_packet_agrees(Lost::Data);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn udp_echo() {
    live_and_simulated_agree_on("udp-echo", &["--udp"], |_| true);
}
