//! Text from a trace is inert wherever it goes: a trace whose every free-text field holds
//! control characters, a terminal escape sequence and a line break followed by a forged row
//! is shown, checked, replayed, diffed and exported, and no output holds a control character
//! (but its own line breaks), a forged row or a line packetdrill would run.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{fixture, scratch, trace_bin};

/// What a hostile trace writes: an escape that clears the screen and retitles the terminal,
/// a bell, a carriage return, then a line break and a forged row.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\nFORGED ROW `touch /tmp/socktrace-pwned` %{ x }%";

/// Puts HOSTILE into every string field a trace has free text in.
fn poison(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // A state change's `to` is a state, not a socket's name.
            let packet = map.contains_key("transport");
            for (key, field) in map.iter_mut() {
                match (key.as_str(), &mut *field) {
                    ("socket" | "new_socket" | "queued" | "command" | "text" | "option" | "name" | "dropped" | "how", Value::String(s)) => {
                        s.push_str(HOSTILE);
                    }
                    ("to", Value::String(s)) if packet => s.push_str(HOSTILE),
                    _ => poison(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(poison),
        _ => {}
    }
}

fn hostile_trace(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("lessons/echo.jsonl")).expect("the echo fixture");
    let mut out = String::new();
    for line in text.lines() {
        let mut value: Value = serde_json::from_str(line).expect("json");
        poison(&mut value);
        out.push_str(&serde_json::to_string(&value).expect("json"));
        out.push('\n');
    }
    let path = dir.join("hostile.jsonl");
    std::fs::write(&path, out).expect("write");
    path
}

fn run(args: &[&str], columns: Option<&str>) -> String {
    let mut command = Command::new(trace_bin());
    command.args(args).env("NO_COLOR", "1").env_remove("COLUMNS");
    if let Some(columns) = columns {
        command.env("COLUMNS", columns);
    }
    let out = command.output().expect("trace runs");
    assert!(matches!(out.status.code(), Some(0..=2)), "{args:?}: {:?}", out.status);
    let mut all = out.stdout;
    all.extend_from_slice(&out.stderr);
    String::from_utf8_lossy(&all).into_owned()
}

fn assert_inert(output: &str, what: &str) {
    assert!(!output.contains(|c: char| c.is_control() && c != '\n'), "{what}: a control character reaches the output:\n{output}");
    for line in output.lines() {
        assert!(!line.trim_start().starts_with("FORGED ROW"), "{what}: a forged row: {line:?}");
    }
}

/// A packetdrill script runs a line in backticks as a shell command, `%{ }%` as Python.
fn assert_no_code(script: &str, what: &str) {
    assert_inert(script, what);
    for line in script.lines() {
        assert!(!line.trim_start().starts_with('`'), "{what}: a line packetdrill would run: {line:?}");
    }
    assert!(!script.contains("%{"), "{what}: a Python block:\n{script}");
}

#[test]
fn control_characters_and_line_breaks_in_every_field_reach_no_output_raw() {
    let dir = scratch("inert_text");
    let hostile = hostile_trace(&dir);
    let hostile = hostile.to_str().expect("utf-8");
    let original = fixture("lessons/echo.jsonl");
    let original = original.to_str().expect("utf-8");
    let shown = run(&["show", hostile], None);
    assert!(shown.contains("\\x1b[2J"), "the hostile text is shown, escaped:\n{shown}");
    for (args, columns) in [
        (vec!["show", hostile], None),
        (vec!["show", hostile], Some("80")),
        (vec!["show", hostile], Some("200")),
        (vec!["show", "--lesson", hostile], None),
        (vec!["show", "--snapshot", hostile], None),
        (vec!["check", hostile], None),
        (vec!["replay", "--all", hostile], None),
        (vec!["diff", original, hostile], None),
    ] {
        assert_inert(&run(&args, columns), &format!("trace {}", args.join(" ")));
    }
    for side in ["client", "server"] {
        let script = dir.join(format!("{side}.pkt"));
        let said = run(&["export", "--packetdrill", script.to_str().expect("utf-8"), "--side", side, hostile], None);
        assert_inert(&said, "export --packetdrill");
        let text = std::fs::read_to_string(&script).unwrap_or_else(|e| panic!("{side}: {e}: {said}"));
        assert_no_code(&text, &format!("the {side}'s packetdrill script"));
    }
    let pcap = dir.join("hostile.pcap");
    assert_inert(&run(&["export", "--pcap", pcap.to_str().expect("utf-8"), hostile], None), "export --pcap");
    // An error that names a hostile file name is one line too.
    let named = dir.join(format!("no{HOSTILE}.jsonl"));
    let said = run(&["show", named.to_str().expect("utf-8")], None);
    assert_inert(&said, "an error naming a hostile path");
    assert_eq!(said.lines().count(), 1, "{said}");
}
