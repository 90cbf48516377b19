//! The replay's words: every step, one line each, with the documented steps it shows
//! (`trace replay` into a pipe), and the pieces of the screen that shows one step at a time
//! beside the documented sequences ([`super::replay_screen`], `trace replay` on a terminal).

use super::Style;
use crate::inert;
use crate::replay::{Lens, Progress, Replay, SocketView, Step};
use crate::sequence::{Part, Sequence};

/// The replay's first line: the command and where its events come from.
pub fn header(replay: &Replay, style: Style) -> String {
    style.bold(&format!("{} · {}", inert::terminal(&replay.command), replay.provenance))
}

/// One step on one line: number, side and the words of the timeline.
pub fn step_line(replay: &Replay, index: usize, style: Style) -> String {
    let step = &replay.steps[index];
    let painted = paint(step, &step.text, style);
    let who = step.peer.map_or_else(|| step.side.to_string(), |peer| format!("{peer} {}", step.side));
    format!("{:>4} {who:<6} {painted}", index + 1)
}

fn paint(step: &Step, text: &str, style: Style) -> String {
    let text = &*inert::terminal(text);
    if step.origin == crate::event::Origin::Modelled {
        return style.modelled(text);
    }
    match step.lens {
        Lens::Call => style.call(text),
        Lens::Packet => style.packet(text, text.contains("RST")),
        Lens::State | Lens::Kernel => style.state(text),
    }
}

/// The documented steps a replay step is evidence of, one line each:
/// `     ↳ the server's passive open, step 3 — Take a connection… [s2]`.
pub fn evidence_lines(replay: &Replay, index: usize, style: Style) -> Vec<String> {
    let step = &replay.steps[index];
    let mut lines = Vec::new();
    for (sequence, progress) in replay.sequences.iter().zip(&step.progress) {
        for id in progress.at() {
            let Some(documented) = sequence.steps.iter().find(|s| s.id == id) else { continue };
            let number = documented.number.map_or(format!("{} (no number of its own)", documented.id), |n| format!("step {n}"));
            let socket = progress.socket.as_ref().map_or(String::new(), |s| format!(" [{}]", inert::terminal(&s.0)));
            let line = format!("{}, {number} — {}{socket}", lower_first(sequence.title), documented.title);
            lines.push(format!("            ↳ {}", style.dim(&line)));
        }
    }
    lines
}

fn lower_first(title: &str) -> String {
    let mut chars = title.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// Where a step stands: `step 11 of 57 · 0.412 ms · client · packet`, and ` · modelled`.
pub fn status(replay: &Replay, index: usize) -> String {
    let step = &replay.steps[index];
    let modelled = if step.origin == crate::event::Origin::Modelled { " · modelled" } else { "" };
    format!("step {} of {} · {} ms · {} · {}{modelled}", index + 1, replay.steps.len(), format_ms(step.t), step.side, lens_name(step.lens))
}

/// One sequence as a column: its title, then each step marked done (✓), shown in part (…),
/// being shown now (▶) or shown last (▷).
pub fn sequence_column(sequence: &Sequence, progress: &Progress) -> Vec<(String, bool)> {
    let whose = progress.socket.as_ref().map_or(String::new(), |s| format!(" ({s})"));
    let mut cells = vec![(format!("{}{whose}", sequence.title), false)];
    for documented in sequence.steps {
        let here = progress.is_at(documented.id);
        let last = progress.last() == Some(documented.id);
        let mark = if here {
            "▶"
        } else if last {
            "▷"
        } else if progress.is_done(documented.id) {
            "✓"
        } else if progress.is_partial(documented.id) {
            "…"
        } else {
            " "
        };
        let number = documented.number.map_or("·".to_string(), |n| n.to_string());
        cells.push((format!("{mark} {number} {}", documented.title), here));
    }
    cells
}

/// `s1 (listening) LISTEN`, `c1 (client) TIME-WAIT (reported CLOSED)`.
pub fn socket_state(view: &SocketView) -> String {
    let part = view.part.map_or("", Part::label);
    let state = match (view.state, &view.mark) {
        (Some(state), Some(mark)) => format!("{state} ({mark})"),
        (Some(state), None) => state.to_string(),
        (None, _) => "no state reported yet".to_string(),
    };
    let id = inert::terminal(&view.id.0);
    if part.is_empty() {
        format!("{id} {state}")
    } else {
        format!("{id} ({part}) {state}")
    }
}

fn lens_name(lens: Lens) -> &'static str {
    match lens {
        Lens::Call => "call",
        Lens::Packet => "packet",
        Lens::State => "state",
        Lens::Kernel => "kernel note",
    }
}

fn format_ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}
