//! `trace export --packetdrill`: every line of the script is in packetdrill's grammar.
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
        for side in ["server", "client"] {
            let script = export(file, side, &format!("{i}_{side}"));
            assert!(check_script(&script) > 0, "{file} as the {side}: no events");
            // packetdrill refuses a script whose first event is not at time 0.
            let first = script.lines().find(|l| !l.starts_with("//") && !l.trim().is_empty()).expect("an event");
            assert!(first.starts_with("0.000000 "), "{file} as the {side} starts at time 0: {first}");
        }
    }
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
fn a_udp_trace_is_refused_in_one_line_and_nothing_is_written() {
    let out_file = scratch("export_packetdrill_udp").join("udp.pkt");
    let out = trace(&["export", &fixture_path("lessons/udp-echo.jsonl"), "--packetdrill", out_file.to_str().expect("utf-8")]);
    crate::support::assert_one_line_error(&out, "--pcap");
    assert!(!out_file.exists(), "no script written");
}
