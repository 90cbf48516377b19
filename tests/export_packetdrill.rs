//! `trace export --packetdrill`: every line of the script is in packetdrill's grammar, and
//! its times follow packetdrill's rules (the first event at 0, one time base), on both sides.
//!
//! packetdrill is not packaged for Debian, so its grammar is checked here instead: the rules
//! below are those of packetdrill's `parser.y` for the forms we write (`event: event_time
//! action`; `event_time: ['+'] time`; `syscall_spec: opt_end_time function_name
//! function_arguments '=' expression opt_errno opt_note`; `opt_end_time: ELLIPSIS time`;
//! `tcp_packet_spec: direction flags seq opt_ack opt_window opt_tcp_options`; `seq: INTEGER
//! ':' INTEGER '(' INTEGER ')'` with end = start + length; `<...>` only on outbound
//! packets), with its lexer's tokens (WORD, INTEGER, FLOAT, ELLIPSIS).

use crate::support::{fixture_path, scratch, stderr, trace};

/// A cursor over one script line.
struct Line<'a> {
    rest: &'a str,
}

impl<'a> Line<'a> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(format!("expected {token:?} at {:?}", self.rest))
        }
    }

    fn take(&mut self, ok: impl Fn(char) -> bool) -> &'a str {
        self.skip_space();
        let end = self.rest.find(|c| !ok(c)).unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        taken
    }

    fn integer(&mut self) -> Result<u64, String> {
        let digits = self.take(|c| c.is_ascii_digit());
        digits.parse().map_err(|_| format!("expected INTEGER at {:?}", self.rest))
    }

    /// FLOAT or INTEGER seconds.
    fn time(&mut self) -> Result<(), String> {
        self.integer()?;
        if self.rest.starts_with('.') && !self.rest.starts_with("...") {
            self.rest = &self.rest[1..];
            self.take(|c| c.is_ascii_digit());
        }
        Ok(())
    }

    /// WORD: a letter or underscore, then letters, digits, underscores.
    fn word(&mut self) -> Result<&'a str, String> {
        self.skip_space();
        if !self.rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return Err(format!("expected WORD at {:?}", self.rest));
        }
        Ok(self.take(|c| c.is_ascii_alphanumeric() || c == '_'))
    }

    /// expression: ELLIPSIS | integer | WORD | '[' expression_list ']'.
    fn expression(&mut self) -> Result<(), String> {
        if self.eat("...") {
            return Ok(());
        }
        if self.eat("[") {
            self.expression_list()?;
            return self.expect("]");
        }
        self.skip_space();
        if self.rest.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            self.eat("-");
            return self.integer().map(|_| ());
        }
        self.word().map(|_| ())
    }

    fn expression_list(&mut self) -> Result<(), String> {
        self.expression()?;
        while self.eat(",") {
            self.expression()?;
        }
        Ok(())
    }

    fn syscall(&mut self) -> Result<(), String> {
        self.word()?;
        self.expect("(")?;
        if !self.eat(")") {
            self.expression_list()?;
            self.expect(")")?;
        }
        self.expect("=")?;
        self.expression()?;
        // opt_errno: WORD note, note: '(' word_list ')'.
        self.skip_space();
        if !self.rest.is_empty() {
            self.word()?;
            self.expect("(")?;
            self.word()?;
            while !self.eat(")") {
                self.word()?;
            }
        }
        Ok(())
    }

    fn packet(&mut self, outbound: bool) -> Result<(), String> {
        // flags: WORD opt_ack_flag | '.' | '-'
        if !self.eat(".") && !self.eat("-") {
            let letters = self.word()?;
            if !letters.chars().all(|c| "SFRPUEW".contains(c)) {
                return Err(format!("unknown TCP flag letters {letters:?}"));
            }
            self.eat(".");
        }
        let start = self.integer()?;
        self.expect(":")?;
        let end = self.integer()?;
        self.expect("(")?;
        let length = self.integer()?;
        self.expect(")")?;
        if end != start + length {
            return Err(format!("inconsistent TCP sequence numbers and payload size: {start}:{end}({length})"));
        }
        if self.eat("ack") {
            self.integer()?;
        }
        if self.eat("win") && self.integer()? > u64::from(u16::MAX) {
            return Err("TCP window value out of range".to_string());
        }
        if self.eat("<") {
            if self.eat("...") {
                if !outbound {
                    return Err("<...> for TCP options can only be used with outbound packets".to_string());
                }
            } else {
                loop {
                    match self.word()? {
                        "nop" | "eol" | "sackOK" => {}
                        "mss" | "wscale" => {
                            self.integer()?;
                        }
                        "TS" => {
                            self.expect("val")?;
                            self.integer()?;
                            self.expect("ecr")?;
                            self.integer()?;
                        }
                        "sack" => {
                            self.integer()?;
                            self.expect(":")?;
                            self.integer()?;
                        }
                        other => return Err(format!("unknown TCP option {other:?}")),
                    }
                    if !self.eat(",") {
                        break;
                    }
                }
            }
            self.expect(">")?;
        }
        Ok(())
    }

    /// event: event_time action.
    fn event(&mut self) -> Result<(), String> {
        self.eat("+");
        self.time()?;
        if self.eat("...") {
            self.time()?;
            self.syscall()?;
        } else if self.eat("<") {
            self.packet(false)?;
        } else if self.eat(">") {
            self.packet(true)?;
        } else {
            self.syscall()?;
        }
        self.skip_space();
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("trailing text {:?}", self.rest))
        }
    }
}

/// Checks a whole script; returns the number of events.
fn check_script(script: &str) -> usize {
    let mut events = 0;
    for (n, line) in script.lines().enumerate() {
        if line.starts_with("//") || line.trim().is_empty() {
            continue;
        }
        if let Err(why) = (Line { rest: line }).event() {
            panic!("line {} is not packetdrill: {why}\n{line}", n + 1);
        }
        events += 1;
    }
    events
}

/// An event's time in a script, in microseconds: `0.000078` is 78.
fn micros(time: &str) -> Result<u64, String> {
    if time.starts_with('+') {
        return Err(format!("{time:?} is relative to the event before: the script mixes time bases"));
    }
    let (secs, frac) = time.split_once('.').ok_or_else(|| format!("{time:?} is not seconds.micros"))?;
    let number = |digits: &str| digits.parse::<u64>().map_err(|_| format!("{time:?} is not a time"));
    if frac.len() != 6 {
        return Err(format!("{time:?} does not have six decimals"));
    }
    Ok(number(secs)? * 1_000_000 + number(frac)?)
}

/// Each event line's time (and, for a call that blocked, its end) and action.
fn timed(script: &str) -> Vec<(u64, Option<u64>, &str)> {
    let events = script.lines().filter(|l| !l.starts_with("//") && !l.trim().is_empty());
    events
        .map(|line| {
            let (time, action) = line.split_once(' ').unwrap_or_else(|| panic!("no action: {line}"));
            let (start, end) = match time.split_once("...") {
                Some((start, end)) => (start, Some(end)),
                None => (time, None),
            };
            let start = micros(start).unwrap_or_else(|e| panic!("{e}: {line}"));
            (start, end.map(|end| micros(end).unwrap_or_else(|e| panic!("{e}: {line}"))), action)
        })
        .collect()
}

/// packetdrill's rules for a script's times: the first event at time 0 (it refuses a script
/// that starts anywhere else), and one time base, every time absolute from that 0 (no `+`,
/// a time relative to the event before: see [`micros`]), events in time order, a blocking
/// call's end after its start.
fn assert_packetdrill_times(script: &str, what: &str) {
    let events = timed(script);
    assert_eq!(events.first().map(|(t, _, _)| *t), Some(0), "{what}: the first event is at time 0:\n{script}");
    for pair in events.windows(2) {
        assert!(pair[0].0 <= pair[1].0, "{what}: events out of time order: {:?} then {:?}", pair[0], pair[1]);
    }
    for (start, end, action) in &events {
        assert!(end.is_none_or(|end| end >= *start), "{what}: a call that ends before it starts: {action}");
    }
}

/// The two sides' scripts of one trace are on one clock: each packet is in both (sent by one,
/// received by the other), and it is the same time apart from the first in each, as on the
/// session's clock; only where each script's 0 falls differs. Times are written to the µs:
/// a difference of rounding is allowed.
fn assert_one_clock(server: &str, client: &str, what: &str) {
    // Each packet as its time and its line as the client sees it (the server's `<` is the
    // client's `>`).
    let packets = |script: &str, flip: bool| -> Vec<(u64, String)> {
        let lines = timed(script).into_iter().filter_map(|(t, _, action)| {
            let (arrow, rest) = action.split_at_checked(2)?;
            let arrow = match (arrow, flip) {
                ("< ", false) | ("> ", true) => "<",
                ("> ", false) | ("< ", true) => ">",
                _ => return None,
            };
            Some((t, format!("{arrow} {rest}")))
        });
        lines.collect()
    };
    let (on_server, on_client) = (packets(server, true), packets(client, false));
    let lines = |packets: &[(u64, String)]| packets.iter().map(|(_, line)| line.clone()).collect::<Vec<_>>();
    assert_eq!(lines(&on_server), lines(&on_client), "{what}: every packet is in both scripts, in the same order");
    assert!(!on_server.is_empty(), "{what}: no packets");
    let offset = |i: usize| on_client[i].0 as i64 - on_server[i].0 as i64;
    for i in 0..on_server.len() {
        assert!(
            (offset(i) - offset(0)).abs() <= 2,
            "{what}: packet {i} is {} µs off the other side's clock: {:?} / {:?}",
            offset(i) - offset(0),
            on_server[i],
            on_client[i]
        );
    }
}

fn export(trace_file: &str, side: &str, name: &str) -> String {
    let out_path = scratch(&format!("packetdrill_{name}")).join("script.pkt");
    let out = trace(&["export", trace_file, "--packetdrill", out_path.to_str().expect("utf-8"), "--side", side]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::read_to_string(out_path).expect("the script was written")
}

#[test]
fn live_and_simulated_scripts_are_packetdrill_on_both_sides() {
    let simulated = scratch("packetdrill_sim").join("lost-syn.jsonl");
    let out = trace(&["simulate", "lost-syn", "--save", simulated.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let traces =
        [fixture_path("live/echo.jsonl"), fixture_path("live/refused.jsonl"), fixture_path("live/half-close.jsonl"), simulated.to_string_lossy().into_owned()];
    for (i, file) in traces.iter().enumerate() {
        both_sides_follow_packetdrills_rules(file, &format!("{i}"));
    }
}

/// Exports both sides of `file` and holds each script to packetdrill's grammar and rules.
fn both_sides_follow_packetdrills_rules(file: &str, name: &str) {
    let [server, client] = ["server", "client"].map(|side| {
        let script = export(file, side, &format!("{name}_{side}"));
        assert!(check_script(&script) > 0, "{file} as the {side}: no events");
        assert_packetdrill_times(&script, &format!("{file} as the {side}"));
        script
    });
    assert_one_clock(&server, &client, file);
}

/// A fresh `trace echo --live --save`, as a user exports it to replay in packetdrill: both
/// sides' scripts start at 0, each on one time base, the client's shifted from the server's.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn a_fresh_live_echo_both_sides_follow_packetdrills_rules() {
    if !socktrace::capture::privilege::live_test_allowed("packetdrill export of a live echo") {
        return;
    }
    let saved = scratch("packetdrill_live").join("echo.jsonl");
    let out = trace(&["echo", "--live", "-m", "hello", "-m", "bye", "--save", saved.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    both_sides_follow_packetdrills_rules(saved.to_str().expect("utf-8"), "live");
}

#[test]
fn server_script_reads_as_the_passive_open() {
    let script = export(&fixture_path("live/echo.jsonl"), "server", "story");
    let calls: Vec<&str> = script.lines().filter_map(|l| l.split_whitespace().nth(1)).filter_map(|w| w.split('(').next()).collect();
    for call in ["socket", "bind", "listen", "accept", "recv", "send", "close"] {
        assert!(calls.contains(&call), "{call} in\n{script}");
    }
    assert!(script.contains("< S 0:0(0)") && script.contains("> S. 0:0(0) ack 1"), "{script}");
}

#[test]
fn the_checker_rejects_what_packetdrill_rejects() {
    for bad in ["0.1 < S 0:5(0) win 100", "0.1 < S. 0:0(0) ack 1 <...>", "0.1 > Q 0:0(0)", "0.1 connect(3, ..., ...) = -1 ECONNREFUSED", "x < S 0:0(0)"] {
        assert!((Line { rest: bad }).event().is_err(), "accepted: {bad}");
    }
}

#[test]
fn the_time_rules_reject_what_packetdrill_rejects() {
    for bad in [
        "0.000100 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
        "0.000000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.000300 close(3) = 0\n0.000200 > F. 1:1(0) ack 1",
        "0.000000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.000300...0.000100 connect(3, ..., ...) = 0",
        "0.000000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.1 close(3) = 0",
        "0.000000 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0.000100 close(3) = 0",
    ] {
        assert!(std::panic::catch_unwind(|| assert_packetdrill_times(bad, "a bad script")).is_err(), "accepted:\n{bad}");
    }
}

#[test]
fn a_udp_trace_is_refused_in_one_line_and_nothing_is_written() {
    let out_file = scratch("export_packetdrill_udp").join("udp.pkt");
    let out = trace(&["export", &fixture_path("lessons/udp-echo.jsonl"), "--packetdrill", out_file.to_str().expect("utf-8")]);
    crate::support::assert_one_line_error(&out, "--pcap");
    assert!(!out_file.exists(), "no script written");
}
