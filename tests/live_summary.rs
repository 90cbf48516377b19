//! `trace echo --summary` as root: a few clients make many connections, closed with FIN or
//! RST; every connection the clients began is one finished line, and the lenses lost nothing.

#![allow(non_snake_case)] // names read situation__outcome

use socktrace::capture::privilege::live_test_allowed;
use socktrace::event::Body;
use socktrace::trace::LensStatus;

use crate::support::{assert_one_line_error, load, scratch, stderr, stdout, trace};

const CLIENTS: &str = "4";
const CONNECTIONS: usize = 60;

/// Runs the summary; returns its connection lines and its totals line.
fn summary(close: &str, extra: &[&str]) -> (Vec<String>, String) {
    let connections = CONNECTIONS.to_string();
    let mut args = vec!["echo", "--summary", "--clients", CLIENTS, "--connections", &connections, "--close", close];
    args.extend_from_slice(extra);
    let out = trace(&args);
    assert_eq!(out.status.code(), Some(0), "trace echo --summary failed: {}", stderr(&out));
    let text = stdout(&out);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    assert!(lines.first().is_some_and(|h| h.starts_with("CLIENT")), "a header first: {text}");
    let totals = lines.pop().expect("a totals line");
    (lines.split_off(1), totals)
}

fn assert_every_connection(lines: &[String], totals: &str, closer: &str, client_states: &str, server_states: &str) {
    assert_eq!(lines.len(), CONNECTIONS, "one line per connection: {lines:#?}");
    assert!(totals.starts_with(&format!("connections {CONNECTIONS} (open at the end 0)")), "{totals}");
    assert!(totals.ends_with("kernel drops 0, lost tracepoint events 0"), "{totals}");
    assert!(totals.contains("unattributed 0"), "{totals}");
    for line in lines {
        assert!(line.contains(closer), "{closer} in {line}");
        assert!(line.contains(&format!("{client_states} / {server_states}")), "states in {line}");
        assert!(!line.contains("not seen"), "finished: {line}");
    }
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn fin_close__every_connection_is_one_finished_line_closed_by_its_client() {
    if !live_test_allowed("live_summary::fin_close") {
        return;
    }
    let (lines, totals) = summary("fin", &[]);
    let client = "SYN-SENT ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT";
    assert_every_connection(&lines, &totals, "client FIN", client, "SYN-RECEIVED ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn rst_close__every_connection_is_aborted_by_its_client_and_skips_the_close_states() {
    if !live_test_allowed("live_summary::rst_close") {
        return;
    }
    let (lines, totals) = summary("rst", &[]);
    assert_every_connection(&lines, &totals, "client RST", "SYN-SENT ESTABLISHED CLOSED", "SYN-RECEIVED ESTABLISHED CLOSED");
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn save__streams_the_kernels_view_and_says_the_calls_were_not_recorded() {
    if !live_test_allowed("live_summary::save") {
        return;
    }
    let path = scratch("live-summary-save").join("summary.jsonl");
    let (lines, _) = summary("fin", &["--save", path.to_str().expect("utf-8 path")]);
    assert_eq!(lines.len(), CONNECTIONS);
    let saved = load(&path);
    assert!(matches!(saved.header.lenses.calls, LensStatus::Unavailable { .. }));
    assert_eq!(saved.header.lenses.packets, LensStatus::Observed);
    let syns = saved.events.iter().filter(|e| matches!(&e.body, Body::Packet(p) if p.tcp.as_ref().is_some_and(|t| t.flags.to_string() == "SYN"))).count();
    assert_eq!(syns, CONNECTIONS, "every connection's SYN is in the file");
    assert!(saved.events.iter().all(|e| matches!(e.body, Body::Packet(_) | Body::State(_))));
    let end = saved.end.expect("an end line");
    assert_eq!((end.packets_dropped, end.states_lost), (0, 0));
}

#[test]
fn connections_without_serve_or_summary__is_a_one_line_error() {
    let out = trace(&["echo", "--connections", "3"]);
    assert_one_line_error(&out, "--connections needs --serve");
}
