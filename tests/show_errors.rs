//! `trace show` on input that is not a readable trace: one line saying what and what to do,
//! exit 2, no panic.

use crate::support::{assert_one_line_error, scratch, trace};

const HEADER: &str = r#"{"format":"socktrace/1.0","tool":"socktrace 0.1.0","clock":"CLOCK_MONOTONIC ns","command":"trace echo","source":"live","lenses":{"calls":{"status":"observed"},"packets":{"status":"observed"},"states":{"status":"observed"}}}"#;
const EVENT: &str = r#"{"t":1000,"actor":{"role":"server","pid":1,"tid":1},"socket":"s1","origin":"observed","kind":"call_start","id":1,"call":"listen","fd":3,"args":{"backlog":128}}"#;

fn write(name: &str, content: &str) -> String {
    let path = scratch(&format!("show_errors_{name}")).join("trace.jsonl");
    std::fs::write(&path, content).expect("write fixture");
    path.to_string_lossy().into_owned()
}

#[test]
fn missing_file() {
    assert_one_line_error(&trace(&["show", "/nonexistent/socktrace/trace.jsonl"]), "cannot open trace");
}

#[test]
fn not_json() {
    let path = write("not_json", "hello world\n");
    assert_one_line_error(&trace(&["show", &path]), "is not a socktrace trace");
}

#[test]
fn json_but_not_a_trace() {
    let path = write("other_json", "{\"name\":\"x\"}\n");
    assert_one_line_error(&trace(&["show", &path]), "is not a socktrace trace");
}

#[test]
fn empty_file() {
    let path = write("empty", "");
    assert_one_line_error(&trace(&["show", &path]), "is empty");
}

#[test]
fn unknown_major_version() {
    let path = write("version", &format!("{}\n{EVENT}\n", HEADER.replace("socktrace/1.0", "socktrace/2.0")));
    assert_one_line_error(&trace(&["show", &path]), "socktrace/2.0");
}

#[test]
fn newer_minor_version_is_read() {
    let path = write("minor", &format!("{}\n{EVENT}\n", HEADER.replace("socktrace/1.0", "socktrace/1.7")));
    let out = trace(&["show", &path]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn truncated_mid_record() {
    let cut = &EVENT[..EVENT.len() / 2];
    let path = write("truncated", &format!("{HEADER}\n{EVENT}\n{cut}"));
    assert_one_line_error(&trace(&["show", &path]), "truncated: line 3");
}

#[test]
fn malformed_event() {
    let path = write("malformed", &format!("{HEADER}\n{{\"t\":\"soon\"}}\n"));
    assert_one_line_error(&trace(&["show", &path]), "line 2 is not a valid trace event");
}

/// The timeline is written as the trace is read (a trace is never held whole): the events
/// before the line that cannot be read are shown, then that line is the one-line error.
#[test]
fn the_events_before_a_malformed_line_are_shown_then_the_error() {
    let end = r#"{"t":2000,"actor":{"role":"server","pid":1,"tid":1},"socket":"s1","origin":"observed","kind":"call_end","id":1,"call":"listen","ret":0}"#;
    let path = write("malformed_later", &format!("{HEADER}\n{EVENT}\n{end}\n{{\"t\":\"soon\"}}\n"));
    let out = trace(&["show", &path]);
    assert_one_line_error(&out, "line 4 is not a valid trace event");
    assert!(String::from_utf8_lossy(&out.stdout).contains("listen(s1, 128) = 0"), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn interrupted_trace_without_end_line_is_shown() {
    let path = write("interrupted", &format!("{HEADER}\n{EVENT}\n"));
    let out = trace(&["show", &path]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("interrupted"));
}

/// A reader that has gone (`trace show … | head`): the output ends quietly, with the exit
/// code the command would have had, and no panic.
#[test]
fn a_reader_that_has_gone_ends_the_output_quietly() {
    let fixture = |name: &str| crate::support::fixture_path(&format!("live/{name}"));
    let (big, other) = (fixture("three-clients.jsonl"), fixture("half-close.jsonl"));
    let cases: [(&[&str], i32); 6] = [
        (&["show", &big], 0),
        (&["show", "--snapshot", &big], 0),
        (&["show", "--lesson", &big], 0),
        (&["check", &big], 0),
        (&["diff", &big, &other], 1),
        (&["simulate", "--list"], 0),
    ];
    for (args, code) in cases {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = std::process::Command::new(crate::support::trace_bin())
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("the trace binary runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "trace {}: {err}", args.join(" "));
        assert_eq!(out.status.code(), Some(code), "trace {}: {err}", args.join(" "));
    }
}
