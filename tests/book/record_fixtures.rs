//! `trace book record-fixtures` says what it recorded, one line per fixture, and nothing else:
//! what the recorded programs print (the port a relay announces, which `trace run` passes to
//! standard error) stays out of its output unless a recording fails.

#![allow(non_snake_case)] // names read situation__outcome

use std::path::Path;

use socktrace::capture::privilege::live_test_allowed;

use crate::support::{assert_one_line_error, scratch, stderr, stdout, trace};

/// A directory laid out as `fixtures/` is, so that a fixture's programs (named
/// `../programs/…` from the fixtures' directory) are found: returns its `lessons/`.
fn fixtures_dir(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    let programs = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/programs");
    std::os::unix::fs::symlink(programs, dir.join("programs")).expect("link the programs");
    dir.join("lessons")
}

/// Whether `line` is `recorded FILE (SOURCE, N events)`.
fn is_record_line(line: &str, file: &str, source: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("recorded {file} ({source}, ")) else { return false };
    rest.strip_suffix(" events)").is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0))
}

/// `record-fixtures --only FILE` into a directory of its own says, and only says, that it
/// recorded FILE (from SOURCE): one line on standard output, nothing on standard error.
fn records_with_one_line(name: &str, file: &str, source: &str) {
    let dir = fixtures_dir(name);
    let out = trace(&["book", "record-fixtures", "--dir", dir.to_str().expect("utf-8"), "--only", file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(matches!(text.lines().collect::<Vec<_>>()[..], [line] if is_record_line(line, file, source)), "{text:?}");
    assert_eq!(stderr(&out), "", "nothing but the record line");
}

#[test]
fn a_simulated_fixture__one_line_and_nothing_on_stderr() {
    records_with_one_line("record_fixtures_simulated", "lost-syn-model.jsonl", "simulated");
}

/// The relay prints the port it listens on, as a program announcing itself does; the
/// recording keeps it out of what `record-fixtures` says.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn a_program_that_prints_its_port__its_output_stays_out() {
    if !live_test_allowed("record-fixtures of a program that prints its port") {
        return;
    }
    records_with_one_line("record_fixtures_relay", "relay.jsonl", "live");
}

#[test]
fn a_fixture_that_does_not_exist__one_line_naming_them_all() {
    let dir = fixtures_dir("record_fixtures_unknown");
    let out = trace(&["book", "record-fixtures", "--dir", dir.to_str().expect("utf-8"), "--only", "ecoh.jsonl"]);
    assert_one_line_error(&out, "no fixture \"ecoh.jsonl\": the fixtures are echo.jsonl, ");
    assert_eq!(stdout(&out), "", "nothing recorded");
}
