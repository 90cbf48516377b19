//! `trace diff A B`: the same after normalization (exit 0), or the first differing line and
//! the documented step it belongs to (exit 1); unreadable input (exit 2).
#![allow(non_snake_case)] // names read situation__outcome

use crate::support::{assert_one_line_error, scratch, stderr, stdout, trace};

fn simulated(dir: &std::path::Path, scenario: &str) -> String {
    let path = dir.join(format!("{scenario}.jsonl"));
    let out = trace(&["simulate", scenario, "--save", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    path.to_string_lossy().into_owned()
}

#[test]
fn same_story__same_after_normalization() {
    let dir = scratch("diff_same");
    let (a, b) = (simulated(&dir, "echo"), simulated(&scratch("diff_same_again"), "echo"));
    let out = trace(&["diff", &a, &b]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("are the same after normalization"));
}

#[test]
fn other_story__first_difference_and_its_step() {
    let dir = scratch("diff_other");
    let (a, b) = (simulated(&dir, "echo"), simulated(&dir, "half-close"));
    let out = trace(&["diff", &a, &b]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("differ at snapshot line"), "{text}");
    assert!(text.contains("step \""), "names the documented step: {text}");
    assert!(text.lines().any(|l| l.starts_with("  - ")) && text.lines().any(|l| l.starts_with("  + ")), "{text}");
}

#[test]
fn unreadable_input__one_line_exit_2() {
    let dir = scratch("diff_unreadable");
    let a = simulated(&dir, "echo");
    assert_one_line_error(&trace(&["diff", &a, "/nonexistent/trace.jsonl"]), "cannot open trace");
}
