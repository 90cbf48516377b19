//! The compact ladder on `trace replay`'s screen: one row per step, numbered, between the
//! client's lifeline (left) and the server's (right); a packet is an arrow from its sender's
//! side to the other, anything else is written beside its own side's lifeline. The book's
//! ladder, in characters.
//!
//! ```text
//!       client                 server
//!    9 │connect(c1) …                │
//!   11 │─ SYN ─────────────────────▶│
//!   13 │◀───────────────── SYN|ACK ─│
//!   17 │          s2 → ESTABLISHED │
//! ```

use std::ops::Range;

use super::fit::{cut, width};
use crate::event::Role;
use crate::replay::{Lens, Step};

/// The columns of a step's number: enough for the last one.
pub fn digits(steps: usize) -> usize {
    steps.max(1).to_string().len()
}

/// The first row of the ladder: the two lifelines' names above them.
pub fn heading(digits: usize, columns: usize) -> String {
    let body = columns.saturating_sub(digits + 2);
    // At least one space between the names.
    let names = if body > width("client") + width("server") {
        format!("client{}server", " ".repeat(body - width("client") - width("server")))
    } else {
        cut("client | server", body).into_owned()
    };
    cut(&format!("{}{names}", " ".repeat(digits + 2)), columns).into_owned()
}

/// Step `index`'s row, `columns` wide: its number (marked `▶` when it is the current step),
/// then the lifelines with the step between them.
pub fn row(step: &Step, index: usize, current: bool, digits: usize, columns: usize) -> String {
    let mark = if current { '▶' } else { ' ' };
    let number = format!("{mark}{:>digits$} ", index + 1);
    let body = columns.saturating_sub(width(&number));
    let label = match step.peer {
        Some(peer) => format!("{peer} {}", crate::inert::terminal(&step.label)),
        None => crate::inert::terminal(&step.label).into_owned(),
    };
    // Between the lifelines.
    let Some(inner) = body.checked_sub(2).filter(|&inner| inner >= 3) else { return cut(&format!("{number}{label}"), columns).into_owned() };
    // Unknown owners are drawn on the server's side, as the book does.
    let from_client = step.side == Role::Client;
    let between = if step.lens == Lens::Packet {
        arrow(&label, inner, from_client)
    } else if from_client {
        format!(" {}", pad(&label, inner - 1, false))
    } else {
        format!("{} ", pad(&label, inner - 1, true))
    };
    format!("{number}│{between}│")
}

/// `─ SYN ──────▶` or `◀────── SYN|ACK ─`, exactly `columns` wide (at least 3).
fn arrow(label: &str, columns: usize, rightward: bool) -> String {
    // Room for the label between "─ " and " " + at least one "─" and the head.
    let label = cut(label, columns.saturating_sub(5));
    let shaft = if label.is_empty() { columns - 1 } else { columns - width(&label) - 4 };
    let line = "─".repeat(shaft);
    match (rightward, label.is_empty()) {
        (true, false) => format!("─ {label} {line}▶"),
        (false, false) => format!("◀{line} {label} ─"),
        (true, true) => format!("{line}▶"),
        (false, true) => format!("◀{line}"),
    }
}

/// `text` padded with spaces to exactly `columns` (cut with `…` when longer), set against the
/// left edge or the `right` one.
fn pad(text: &str, columns: usize, right: bool) -> String {
    let text = cut(text, columns);
    let fill = " ".repeat(columns - width(&text));
    if right {
        fill + &text
    } else {
        format!("{text}{fill}")
    }
}

/// The `rows` consecutive items of `count` to show so that `focus` is among them, as near
/// their middle as the ends allow.
pub fn window(focus: usize, count: usize, rows: usize) -> Range<usize> {
    let rows = rows.min(count);
    let start = focus.saturating_sub(rows.saturating_sub(1) / 2).min(count - rows);
    start..start + rows
}

#[cfg(test)]
#[allow(non_snake_case)] // names read subject__rule
mod tests {
    use super::*;
    use crate::replay::Replay;

    fn echo() -> Replay {
        Replay::of(&crate::sim::trace("echo", &crate::sim::Options::default(), "trace simulate echo").expect("echo"))
    }

    fn first(replay: &Replay, what: impl Fn(&Step) -> bool) -> usize {
        replay.steps.iter().position(what).expect("such a step")
    }

    #[test]
    fn packets__arrows_from_their_sender__other_steps_beside_their_side() {
        let replay = echo();
        let syn = first(&replay, |s| s.lens == Lens::Packet && s.label == "SYN");
        let syn_ack = first(&replay, |s| s.label == "SYN|ACK");
        let socket = first(&replay, |s| s.side == Role::Client && s.lens == Lens::Call);
        let listen = first(&replay, |s| s.side == Role::Server && s.label.starts_with("listen"));
        let rows: Vec<String> = [syn, syn_ack, socket, listen].iter().map(|&i| row(&replay.steps[i], i, i == syn, 2, 30)).collect();
        assert!(rows[0].starts_with('▶') && rows[0].contains("│─ SYN ─") && rows[0].ends_with("▶│"), "{}", rows[0]);
        assert!(rows[1].starts_with(' ') && rows[1].contains("│◀─") && rows[1].ends_with(" SYN|ACK ─│"), "{}", rows[1]);
        assert!(rows[2].contains("│ socket()"), "{}", rows[2]);
        assert!(rows[3].ends_with(" │") && rows[3].contains("listen(s1)"), "{}", rows[3]);
        assert!(rows.iter().all(|r| width(r) == 30), "{rows:#?}");
    }

    #[test]
    fn narrow__cut_with_the_mark__never_wider() {
        let replay = echo();
        for columns in 0..12 {
            for (i, step) in replay.steps.iter().enumerate() {
                let shown = row(step, i, false, 2, columns);
                assert!(width(&shown) <= columns, "{columns}: {shown:?}");
            }
            assert!(width(&heading(2, columns)) <= columns);
        }
        assert_eq!(heading(2, 20), "    client    server");
    }

    #[test]
    fn pad__either_edge__cut_when_long() {
        assert_eq!(pad("s1", 4, false), "s1  ");
        assert_eq!(pad("s1", 4, true), "  s1");
        assert_eq!(pad("listen(s1)", 4, true), "lis…");
    }

    #[test]
    fn window__around_the_focus__within_the_ends() {
        assert_eq!(window(0, 50, 5), 0..5);
        assert_eq!(window(10, 50, 5), 8..13);
        assert_eq!(window(49, 50, 5), 45..50);
        assert_eq!(window(2, 3, 10), 0..3);
        assert_eq!(window(0, 0, 4), 0..0);
    }
}
