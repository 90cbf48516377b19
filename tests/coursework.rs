//! The coursework template: a student's echo server (`fixtures/coursework/echo_server.py`),
//! traced with its client through `socktrace::record` and graded by an insta snapshot, the way
//! a student's own test would do it. Two deliberately wrong servers fail against the same
//! reference with a readable difference.

use socktrace::capture::privilege::live_test_allowed;
use socktrace::check::{check, CheckOptions, Verdict};
use socktrace::normalize::diff::first_difference;
use socktrace::record;
use socktrace::trace::Trace;

fn program(name: &str) -> String {
    crate::support::fixture_path(&format!("coursework/{name}"))
}

/// Records a server from the template with the template's client.
fn session(server: &str) -> Trace {
    let (server, client) = (program(server), program("client.py"));
    record::server_and_client(&["python3", &server], &["python3", &client, "{port}"]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn student_echo_server_snapshot() {
    if !live_test_allowed("coursework snapshot") {
        return;
    }
    let trace = session("echo_server.py");
    assert_eq!(check(&trace, &CheckOptions::default()).verdict(), Verdict::Conforms);
    insta::assert_snapshot!("student_echo_server", trace.snapshot());
}

#[test]
fn student_echo_server_snapshot_is_stable() {
    if !live_test_allowed("coursework snapshot stability") {
        return;
    }
    let first = session("echo_server.py").snapshot();
    for run in 1..5 {
        assert_eq!(session("echo_server.py").snapshot(), first, "run {run} differs");
    }
}

#[test]
fn wrong_servers_fail_with_a_readable_difference() {
    if !live_test_allowed("coursework wrong servers") {
        return;
    }
    let reference = session("echo_server.py");
    for (wrong, expected_step) in [("wrong_keeps_listening.py", "close"), ("wrong_writes_first.py", "Exchange data")] {
        let trace = session(wrong);
        let difference = first_difference(&reference, &trace).unwrap_or_else(|| panic!("{wrong} snapshots like the reference"));
        let shown = format!(
            "line {}: {}\n  - {}\n  + {}",
            difference.line,
            difference.step.as_deref().unwrap_or("(no step)"),
            difference.left.as_deref().unwrap_or(""),
            difference.right.as_deref().unwrap_or("")
        );
        eprintln!("{wrong}:\n{shown}");
        assert!(shown.to_lowercase().contains(&expected_step.to_lowercase()), "{wrong}: {shown}");
    }
    let kept_listening = session("wrong_keeps_listening.py");
    let report = check(&kept_listening, &CheckOptions::default());
    assert_eq!(report.verdict(), Verdict::Deviations);
    assert!(report.reasons().any(|r| r.contains("never closed")), "{report}");
}
