//! The options of `{{#trace PATH start=… lenses=… range=…}}`: where a replay opens, which
//! lenses it shows, and which steps. Each is resolved here, against the replay's own steps, so
//! that the page gets step indices and lens names, never a word to interpret in JavaScript.
//!
//! - `start=STEP`: the step the replay opens at (and Reset returns to);
//! - `lenses=LIST`: `all`, or a comma list of `calls`, `packets`, `states`;
//! - `range=STEP..STEP`: the steps shown, both ends included.
//!
//! A STEP is a step number (`13`), a word of [`WORDS`] (`syn-ack`), or a documented step's id
//! as [`Replay::go_to`] understands it (`accept`, `active-open/connect`): its first step.

use crate::event::{Event, Verb};
use crate::replay::{Lens, Replay};
use crate::tcp::flags::TcpFlags;

/// The packet and call words a STEP may be, each the first step of the trace that shows it.
pub const WORDS: &[(&str, &str)] = &[
    ("syn", "the first segment with SYN alone"),
    ("syn-ack", "the first SYN|ACK"),
    ("first-data", "the first packet carrying data"),
    ("fin", "the first segment with FIN"),
    ("rst", "the first segment with RST"),
    ("first-send", "the first call that sends (send, write, sendto, …)"),
    ("first-recv", "the first call that receives (recv, read, recvfrom, …)"),
    ("first-close", "the first shutdown or close"),
];

/// The lens groups of the widget's filters.
pub const LENSES: [&str; 3] = ["calls", "packets", "states"];

/// A replay's options, resolved: step indices from 0.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    pub start: Option<usize>,
    /// The lens groups shown; `None` is all of them.
    pub lenses: Option<Vec<&'static str>>,
    pub range: Option<(usize, usize)>,
}

impl ReplayOptions {
    /// Parses the directive's words after its path, against the replay of `events`.
    pub fn parse(words: &str, events: &[Event], replay: &Replay) -> Result<ReplayOptions, String> {
        let mut options = ReplayOptions::default();
        for word in words.split_whitespace() {
            let (name, value) = word.split_once('=').unwrap_or((word, ""));
            match name {
                "start" => options.start = Some(step(value, events, replay)?),
                "lenses" => options.lenses = lenses(value)?,
                "range" => {
                    let (a, b) = value.split_once("..").ok_or_else(|| format!("range={value:?} is not A..B: write e.g. range=1..20 or range=syn..fin"))?;
                    let (a, b) = (step(a, events, replay)?, step(b, events, replay)?);
                    if a > b {
                        return Err(format!("range={value} ends (step {}) before it begins (step {}): write the earlier step first", b + 1, a + 1));
                    }
                    options.range = Some((a, b));
                }
                _ => return Err(format!("unknown option {word:?}: write start=STEP, lenses=LIST or range=STEP..STEP after the path")),
            }
        }
        if let (Some(start), Some((a, b))) = (options.start, options.range) {
            if !(a..=b).contains(&start) {
                return Err(format!("start is step {}, outside range={}..{}: start within the range, or widen it", start + 1, a + 1, b + 1));
            }
        }
        if let (Some(start), Some(shown)) = (options.start, &options.lenses) {
            let group = group(replay.steps[start].lens);
            if !shown.contains(&group) {
                return Err(format!(
                    "start is step {} ({}), one of the {group}, which lenses={} hides: add {group} to the lenses",
                    start + 1,
                    replay.steps[start].text,
                    shown.join(",")
                ));
            }
        }
        Ok(options)
    }

    /// The mount's `data-…` attributes: `data-start` and `data-range` as step numbers from 1.
    pub fn attributes(&self) -> String {
        let mut out = String::new();
        if let Some(start) = self.start {
            out.push_str(&format!(" data-start=\"{}\"", start + 1));
        }
        if let Some(lenses) = &self.lenses {
            out.push_str(&format!(" data-lenses=\"{}\"", lenses.join(",")));
        }
        if let Some((a, b)) = self.range {
            out.push_str(&format!(" data-range=\"{}..{}\"", a + 1, b + 1));
        }
        out
    }
}

/// The widget's filter group of a lens (kernel reports go with the states).
fn group(lens: Lens) -> &'static str {
    match lens {
        Lens::Call => "calls",
        Lens::Packet => "packets",
        Lens::State | Lens::Kernel => "states",
    }
}

fn lenses(value: &str) -> Result<Option<Vec<&'static str>>, String> {
    if value == "all" {
        return Ok(None);
    }
    let mut shown = Vec::new();
    for name in value.split(',') {
        let Some(known) = LENSES.iter().find(|l| **l == name) else {
            return Err(format!("no lens {name:?} in lenses={value}: write all, or a comma list of calls, packets, states"));
        };
        if !shown.contains(known) {
            shown.push(*known);
        }
    }
    Ok(Some(shown))
}

/// The index of the step `target` names: a number, a word of [`WORDS`], or a documented step.
fn step(target: &str, events: &[Event], replay: &Replay) -> Result<usize, String> {
    let count = replay.steps.len();
    if count == 0 {
        return Err("the trace has no step to start at: leave out start= and range=".to_string());
    }
    let found = match word(target, events) {
        Some(event) => Some(replay.steps.iter().position(|s| s.last >= event).unwrap_or(count - 1)),
        None if WORDS.iter().any(|(w, _)| *w == target) => None,
        // Searching after the last step finds a documented step's first evidence.
        None => replay.go_to(count - 1, target),
    };
    found.ok_or_else(|| {
        let words: Vec<&str> = WORDS.iter().map(|(w, _)| *w).filter(|w| word(w, events).is_some()).collect();
        let mut ids: Vec<&str> = replay.steps.iter().flat_map(|s| s.progress.iter().flat_map(|p| p.at())).collect();
        ids.sort_unstable();
        ids.dedup();
        format!(
            "no step {target:?} in this trace: write a step number from 1 to {count}, one of {}, or a documented step ({})",
            words.join(", "),
            ids.join(", ")
        )
    })
}

/// The first event a word of [`WORDS`] names; `None` for another word, or one the trace lacks.
fn word(word: &str, events: &[Event]) -> Option<usize> {
    let flags = |e: &Event| e.segment().map(|s| s.flags);
    let verb = |e: &Event| e.call_start().map(|c| c.verb());
    let pick: &dyn Fn(&Event) -> bool = match word {
        "syn" => &|e| flags(e) == Some(TcpFlags::SYN),
        "syn-ack" => &|e| flags(e) == Some(TcpFlags::SYN.union(TcpFlags::ACK)),
        "first-data" => &|e| e.packet().is_some_and(|p| p.len > 0),
        "fin" => &|e| flags(e).is_some_and(|f| f.contains(TcpFlags::FIN)),
        "rst" => &|e| flags(e).is_some_and(|f| f.contains(TcpFlags::RST)),
        "first-send" => &|e| verb(e) == Some(Verb::Send),
        "first-recv" => &|e| verb(e) == Some(Verb::Recv),
        "first-close" => &|e| matches!(verb(e), Some(Verb::Shutdown | Verb::Close)),
        _ => return None,
    };
    events.iter().position(pick)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::read_trace;

    fn echo() -> (Vec<Event>, Replay) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lessons/echo.jsonl");
        let trace = read_trace(&path).expect("the fixture");
        let replay = Replay::of(&trace);
        (trace.events, replay)
    }

    #[test]
    fn words_numbers_and_documented_steps_name_the_first_step_that_shows_them() {
        let (events, replay) = echo();
        let at = |target: &str| ReplayOptions::parse(&format!("start={target}"), &events, &replay).expect(target).start.expect("a start");
        assert_eq!(replay.steps[at("syn-ack")].label, "SYN|ACK");
        assert_eq!(replay.steps[at("syn")].label, "SYN");
        assert!(replay.steps[at("first-send")].text.contains("send"), "{}", replay.steps[at("first-send")].text);
        assert!(replay.steps[at("fin")].label.contains("FIN"));
        assert_eq!(at("13"), 12);
        assert_eq!(at("1"), 0);
        let accept = at("accept");
        assert!(replay.steps[accept].progress[0].is_at("accept"));
        assert!(replay.steps[..accept].iter().all(|s| !s.progress[0].is_at("accept")), "the first evidence of accept");
        assert!(at("active-open/connect") < at("syn-ack"));
    }

    #[test]
    fn lenses_and_range_resolve_and_become_attributes() {
        let (events, replay) = echo();
        let options = ReplayOptions::parse("start=syn-ack lenses=packets,states range=syn..fin", &events, &replay).expect("options");
        assert_eq!(options.lenses, Some(vec!["packets", "states"]));
        let (a, b) = options.range.expect("a range");
        assert_eq!((replay.steps[a].label.as_str(), replay.steps[b].label.contains("FIN")), ("SYN", true));
        assert!(options.attributes().contains(" data-lenses=\"packets,states\""), "{}", options.attributes());
        assert_eq!(ReplayOptions::parse("lenses=all", &events, &replay).expect("all").lenses, None);
    }

    #[test]
    fn a_bad_option_says_what_to_write_instead() {
        let (events, replay) = echo();
        let err = |words: &str| ReplayOptions::parse(words, &events, &replay).expect_err(words);
        assert!(err("begin=3").contains("write start=STEP"));
        assert!(err("start=synack").contains("one of syn, syn-ack"), "{}", err("start=synack"));
        assert!(err("start=rst").contains("no step \"rst\""), "echo has no reset");
        assert!(err("start=999").contains("from 1 to"));
        assert!(err("lenses=packet").contains("calls, packets, states"));
        assert!(err("range=5").contains("A..B"));
        assert!(err("range=fin..syn").contains("before it begins"));
        assert!(err("start=first-send lenses=packets").contains("add calls to the lenses"));
        assert!(err("start=1 range=syn..fin").contains("outside range"));
        assert!(!err("start=synack").contains('\n'), "one line");
    }
}
