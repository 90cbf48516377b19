//! Model against reality: for each story that loopback can tell live, the live trace and the
//! RFC 9293 model's simulation agree at lesson level (calls, bytes, states in the RFC view,
//! and the segments that open and close the connection, with relative numbers).

use socktrace::capture::privilege::live_test_allowed;
use socktrace::normalize::lesson_view;
use socktrace::sim;

use crate::support::{load, scratch, stderr, trace};

fn live_and_simulated_agree(scenario: &str) {
    if !live_test_allowed(&format!("model vs kernel: {scenario}")) {
        return;
    }
    let path = scratch(&format!("model_vs_kernel_{scenario}")).join("live.jsonl");
    let out = trace(&["echo", "--scenario", scenario, "--save", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let live = load(&path);
    let checked = socktrace::check::check(&live, &socktrace::check::CheckOptions::default());
    assert_eq!(checked.verdict(), socktrace::check::Verdict::Conforms, "trace check on the live {scenario}:\n{checked}");
    let simulated = sim::trace(scenario, &sim::Options::default(), "test").expect("a known scenario");
    let (live_view, model_view) = (lesson_view(&live.events), lesson_view(&simulated.events));
    assert!(live_view.contains("c1 states: SYN-SENT"), "the live view has content:\n{live_view}");
    assert_eq!(live_view, model_view, "live (left) and model (right) differ for {scenario}");
}

#[test]
fn echo() {
    live_and_simulated_agree("echo");
}

#[test]
fn refused() {
    live_and_simulated_agree("refused");
}

#[test]
fn server_closes_first() {
    live_and_simulated_agree("server-closes-first");
}

#[test]
fn half_close() {
    live_and_simulated_agree("half-close");
}
