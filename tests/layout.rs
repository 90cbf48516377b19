//! The timeline fits the terminal: golden renderings of a recorded `trace echo` at 80, 120
//! and 200 columns (`COLUMNS`, as a shell sets it), and on every fixture at those widths no
//! line is wider than the terminal and the column separators stand in one place.

use std::process::Command;

use unicode_width::UnicodeWidthStr;

use crate::support::{fixture_path, stderr, trace_bin};

/// `trace show FIXTURE` on a terminal `columns` wide.
fn shown(fixture: &str, columns: usize) -> String {
    let out =
        Command::new(trace_bin()).args(["show", &fixture_path(fixture)]).env("NO_COLOR", "1").env("COLUMNS", columns.to_string()).output().expect("trace runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The display columns at which `line` has a `┊`.
fn bars(line: &str) -> Vec<usize> {
    line.char_indices().filter(|(_, c)| *c == '┊').map(|(i, _)| line[..i].width()).collect()
}

/// Every line fits, and every line with separators has them where the column titles do.
fn assert_fits(text: &str, columns: usize, what: &str) {
    let title = text.lines().find(|l| l.trim_start().starts_with("ms ")).unwrap_or_else(|| panic!("{what}: no column titles in\n{text}"));
    let expected = bars(title);
    assert!(!expected.is_empty(), "{what}: the titles have separators");
    for line in text.lines() {
        assert!(line.width() <= columns, "{what} at {columns}: {} columns: {line:?}", line.width());
        let found = bars(line);
        if !found.is_empty() {
            assert_eq!(found, expected, "{what} at {columns}: separators out of line in {line:?}");
        }
    }
}

#[test]
fn trace_echo_at_80_columns_is_one_column_led_by_who_acted() {
    let text = shown("lessons/echo.jsonl", 80);
    assert_fits(&text, 80, "echo");
    assert!(text.contains("server ┊ ") && text.contains("client ┊ ") && text.contains("wire   ┊ "), "{text}");
    insta::assert_snapshot!("echo_80", text);
}

#[test]
fn trace_echo_at_120_columns() {
    let text = shown("lessons/echo.jsonl", 120);
    assert_fits(&text, 120, "echo");
    insta::assert_snapshot!("echo_120", text);
}

#[test]
fn trace_echo_at_200_columns_is_three_columns() {
    let text = shown("lessons/echo.jsonl", 200);
    assert_fits(&text, 200, "echo");
    assert_eq!(bars(text.lines().find(|l| l.contains("SYN seq 0")).expect("the SYN")).len(), 2, "client ┊ wire ┊ server");
    insta::assert_snapshot!("echo_200", text);
}

/// Long payloads, HTML, peers' legends, ARP, a lost SYN's notes and UDP's rows, each at
/// widths from a narrow window to a wide one.
#[test]
fn every_lesson_fits_every_width() {
    for fixture in
        ["escaping.jsonl", "hosts.jsonl", "p2p.jsonl", "lost-syn.jsonl", "udp-echo.jsonl", "relay.jsonl", "clients3.jsonl", "refused.jsonl", "echo-ipv6.jsonl"]
    {
        for columns in [40, 80, 100, 149, 150, 200, 260] {
            assert_fits(&shown(&format!("lessons/{fixture}"), columns), columns, fixture);
        }
    }
}

#[test]
fn a_nonsense_columns_value_is_ignored_not_fatal() {
    for columns in ["", "abc", "0", "-5"] {
        let out = Command::new(trace_bin())
            .args(["show", &fixture_path("lessons/echo.jsonl")])
            .env("NO_COLOR", "1")
            .env("COLUMNS", columns)
            .output()
            .expect("trace runs");
        assert_eq!(out.status.code(), Some(0), "COLUMNS={columns:?}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.lines().any(|l| l.contains("SYN seq 0") && bars(l).len() == 2), "COLUMNS={columns:?}: unbounded three columns");
    }
}
