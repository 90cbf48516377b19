//! `trace replay`'s screen on a terminal: one step in plain words, a compact ladder of the
//! steps around it beside the documented sequences, the sockets' states after it, its detail
//! and the keys. A pure function of the replay, where the learner is and the screen's size,
//! drawn into a ratatui buffer, so that every layout is tested without a terminal
//! (`cli::replay::terminal` shows it on one; [`super::replay_state`] is where the learner is).
//!
//! ```text
//! trace echo --live --save echo.jsonl · live: calls observed, packets observed, s…
//! step 11 of 71 · 70.497 ms · client · packet
//!   c1 → s1 SYN seq 0 win 65495 <mss 65495,sackOK,TS,wscale 10>
//!     client                       server  The server's passive open (s2)
//!  10 │ c1 → SYN-SENT                   │  ✓ 2 Wait for clients (passive open)
//! ▶11 │─ SYN ──────────────────────────▶│  ▶ 3 Take a connection: accept() return…
//!  12 │    s2 → SYN-RECEIVED (modelled) │    4 Exchange data
//!  13 │◀────────────────────── SYN|ACK ─│    5 Close the conversation's socket (a…
//! after this step: c1 (client) SYN-SENT · s1 (listening) LISTEN
//! time: 70.497 ms after the trace's first event · side: client · origin: observed …
//! q: quit  → n Space: next  ← b: back  Home End: first, last  /: find  g: go to
//! ```
//!
//! When the screen is short, the step, the keys, the sockets' states and the sequences come
//! first; the detail gets what is left, and the ladder grows into anything more.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::fit::{cut, wrap};
use super::replay::{header, sequence_column, socket_state, status};
use super::replay_ladder::{digits, heading, row, window};
use super::replay_state::{Ask, Input, Screen};
use crate::event::Origin;
use crate::replay::{Lens, Replay, Step};

/// The keys, on the last row; quitting first, so that a narrow screen still says how.
const KEYS: &str = "q: quit  → n Space: next  ← b: back  Home End: first, last  /: find  g: go to";

/// Columns between the ladder and the sequences.
const GAP: usize = 2;

/// The most lines the step's words and the sockets' states take before the others are served.
const WORDS_LINES: usize = 3;
const SOCKETS_LINES: usize = 2;

/// Draws `screen` into `area` of `buf`, whatever its size: what does not fit is left out or
/// cut with `…`.
pub fn draw(replay: &Replay, screen: &Screen, area: Rect, buf: &mut Buffer) {
    let (columns, rows) = (usize::from(area.width), usize::from(area.height));
    if columns == 0 || rows == 0 {
        return;
    }
    let foot = foot(screen, columns);
    let Some(step) = replay.steps.get(screen.at) else {
        let mut shown: Vec<Line> = lines(&header(replay, super::Style::plain()), columns, 2).into_iter().map(Line::from).collect();
        shown.extend(lines("The trace has no events: there is nothing to replay.", columns, 2).into_iter().map(Line::from));
        put(buf, area, 0, &shown[..shown.len().min(rows - 1)]);
        put(buf, area, rows - 1, &[foot]);
        return;
    };
    let states: Vec<String> = replay.sockets_at(screen.at).iter().map(socket_state).collect();
    let sockets = format!("after this step: {}", states.join(" · "));
    // A no-break space keeps each `·` at the end of a line, not at the start of the next.
    let fields: Vec<String> = step.detail.iter().map(|(name, value)| format!("{name}: {value}")).collect();
    let detail = fields.join("\u{a0}· ");
    // Each part is wrapped to learn the height it wants, then again to the height it gets, so
    // that a part cut short ends with `…`.
    let wants = |text: &str, indent: usize, max: usize| lines(text, columns.saturating_sub(indent), max).len();
    let sequences_need = sequence_rows(replay, step);

    // Each part's height, served in order of need: the first ones take their share first.
    let mut left = rows;
    let mut take = |want: usize| {
        let got = want.min(left);
        left -= got;
        got
    };
    let status_h = take(1);
    let foot_h = take(1);
    let words_want = wants(&step.text, 2, WORDS_LINES);
    let mut words_h = take(1.min(words_want));
    let mut sockets_h = take(1);
    let header_h = take(1);
    let mut middle_h = take(sequences_need);
    words_h += take(words_want.saturating_sub(words_h));
    sockets_h += take(wants(&sockets, 0, SOCKETS_LINES).saturating_sub(sockets_h));
    let detail_h = take(wants(&detail, 0, rows));
    middle_h += take(usize::MAX);

    let paint = if screen.color { lens_style(step) } else { Style::default() };
    let words: Vec<Line> =
        lines(&step.text, columns.saturating_sub(2), words_h).into_iter().map(|l| Line::from(vec![Span::raw("  "), Span::styled(l, paint)])).collect();
    let sockets: Vec<Line> = lines(&sockets, columns, sockets_h).into_iter().map(Line::from).collect();
    let dim = Style::new().add_modifier(Modifier::DIM);
    let detail: Vec<Line> = lines(&detail, columns, detail_h).into_iter().map(|l| Line::styled(l, dim)).collect();

    let mut y = 0;
    let mut place = |lines: &[Line], height: usize| {
        put(buf, area, y, &lines[..lines.len().min(height)]);
        y += height;
    };
    place(&[Line::styled(cut(&header(replay, super::Style::plain()), columns).into_owned(), Style::new().add_modifier(Modifier::BOLD))], header_h);
    place(&[Line::from(cut(&status(replay, screen.at), columns).into_owned())], status_h);
    place(&words, words_h);
    place(&middle(replay, screen, columns, middle_h), middle_h);
    place(&sockets, sockets_h);
    place(&detail, detail_h);
    place(&[foot], foot_h);
}

/// `text`, inert for a terminal ([`crate::inert`]), in lines of at most `columns`, broken at
/// spaces ([`wrap`]), at most `max` of them: when it needs more, the last one ends with `…`.
fn lines(text: &str, columns: usize, max: usize) -> Vec<String> {
    if columns == 0 {
        return Vec::new();
    }
    let text = crate::inert::terminal(text);
    let mut lines: Vec<String> = wrap(&text, columns).into_iter().map(|l| l.into_owned()).take(max.saturating_add(1)).collect();
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            *last = cut(&format!("{last} …"), columns).into_owned();
        }
    }
    lines
}

/// `lines` from row `y` of `area` down, each cut to the area's width.
fn put(buf: &mut Buffer, area: Rect, y: usize, lines: &[Line]) {
    for (k, line) in lines.iter().enumerate() {
        let Ok(at) = u16::try_from(y + k) else { return };
        if at < area.height {
            buf.set_line(area.x, area.y + at, line, area.width);
        }
    }
}

/// The last row: what is being typed, else the last key's note, else the keys.
fn foot(screen: &Screen, columns: usize) -> Line<'static> {
    let text = match (&screen.input, &screen.note, &screen.search) {
        // What is typed comes first, so that a narrow screen still shows it.
        (Some(Input { ask: Ask::Search, text }), _, _) => format!("find: {text}█  (Enter: find · Esc: cancel)"),
        (Some(Input { ask: Ask::GoTo, text }), _, _) => format!("go to: {text}█  (a step's number, or a documented step: accept, active-open/close)"),
        (None, Some(note), _) => note.clone(),
        (None, None, Some(search)) => format!("q: quit  Enter N: next, previous “{search}”  → ← Home End  /: find  g: go to"),
        (None, None, None) => KEYS.to_string(),
    };
    Line::styled(cut(&text, columns).into_owned(), Style::new().add_modifier(Modifier::REVERSED))
}

/// The ladder (left) beside the documented sequences (right), `rows` high.
fn middle(replay: &Replay, screen: &Screen, columns: usize, rows: usize) -> Vec<Line<'static>> {
    let ladder_w = columns.saturating_sub(GAP) / 2;
    let sequences_w = columns.saturating_sub(ladder_w + GAP);
    let mut left = ladder(replay, screen, ladder_w, rows).into_iter();
    let mut right = sequences(replay, &replay.steps[screen.at], sequences_w, rows).into_iter();
    (0..rows)
        .map(|_| {
            let mut row = left.next().map(spans).unwrap_or_default();
            let used: usize = row.iter().map(Span::width).sum();
            row.push(Span::raw(" ".repeat(ladder_w.saturating_sub(used) + GAP)));
            row.extend(right.next().map(spans).unwrap_or_default());
            Line::from(row)
        })
        .collect()
}

/// A line's spans, each in the line's style (under its own): to set lines side by side.
fn spans(line: Line<'static>) -> Vec<Span<'static>> {
    line.spans.into_iter().map(|span| Span::styled(span.content, line.style.patch(span.style))).collect()
}

/// The ladder's heading and the rows of the steps around the current one, highlighted.
fn ladder(replay: &Replay, screen: &Screen, columns: usize, rows: usize) -> Vec<Line<'static>> {
    let digits = digits(replay.steps.len());
    let mut lines = Vec::new();
    if rows >= 2 {
        lines.push(Line::styled(heading(digits, columns), Style::new().add_modifier(Modifier::DIM)));
    }
    for index in window(screen.at, replay.steps.len(), rows - lines.len()) {
        let step = &replay.steps[index];
        let current = index == screen.at;
        let style = if current {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else if screen.color {
            lens_style(step)
        } else {
            Style::default()
        };
        lines.push(Line::styled(row(step, index, current, digits, columns), style));
    }
    lines
}

/// The rows both documented sequences take in full, a blank row between them.
fn sequence_rows(replay: &Replay, step: &Step) -> usize {
    let each: usize = replay.sequences.iter().map(|s| s.steps.len() + 1).sum();
    each + step.progress.len().saturating_sub(1)
}

/// Both documented sequences, where they stand after `step`: in full when they fit, else each
/// in its share of the rows, around the step it shows now or showed last.
fn sequences(replay: &Replay, step: &Step, columns: usize, rows: usize) -> Vec<Line<'static>> {
    let fits = sequence_rows(replay, step) <= rows;
    let count = step.progress.len().min(replay.sequences.len());
    let mut lines = Vec::new();
    for (k, (sequence, progress)) in replay.sequences.iter().zip(&step.progress).enumerate() {
        let cells = sequence_column(sequence, progress);
        let share = if fits { cells.len() } else { (rows - lines.len()) / (count - k) };
        let Some((title, steps)) = cells.split_first().filter(|_| share > 0) else { continue };
        if fits && k > 0 {
            lines.push(Line::default());
        }
        lines.push(Line::styled(cut(&title.0, columns).into_owned(), Style::new().add_modifier(Modifier::BOLD)));
        let focus = sequence.steps.iter().position(|d| progress.is_at(d.id) || progress.last() == Some(d.id)).unwrap_or(0);
        for (cell, here) in &steps[window(focus, steps.len(), share - 1)] {
            let style = if *here { Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED) } else { Style::default() };
            lines.push(Line::styled(cut(cell, columns).into_owned(), style));
        }
    }
    lines
}

/// The timeline's colours (`render::style`): calls cyan, packets yellow (a reset red), states
/// green, modelled steps magenta.
fn lens_style(step: &Step) -> Style {
    let color = match step.lens {
        _ if step.origin == Origin::Modelled => Color::Magenta,
        Lens::Call => Color::Cyan,
        Lens::Packet if step.label.contains("RST") => Color::Red,
        Lens::Packet => Color::Yellow,
        Lens::State | Lens::Kernel => Color::Green,
    };
    Style::new().fg(color)
}

#[cfg(test)]
#[allow(non_snake_case)] // names read size__what_it_shows
mod tests {
    use super::*;
    use crate::trace::{Header, LensStatus, Lenses, Source, Trace};

    fn echo() -> Replay {
        Replay::of(&crate::sim::trace("echo", &crate::sim::Options::default(), "trace simulate echo").expect("echo"))
    }

    fn buffer(replay: &Replay, screen: &Screen, columns: u16, rows: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, columns, rows));
        draw(replay, screen, buf.area, &mut buf);
        buf
    }

    /// The screen's rows as text, trailing spaces dropped.
    fn text(buf: &Buffer) -> Vec<String> {
        let area = buf.area;
        (0..area.height).map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_string()).collect()
    }

    fn at(step: usize) -> Screen {
        Screen { at: step, ..Screen::default() }
    }

    #[test]
    fn at_80x24__every_part_in_its_place() {
        let replay = echo();
        let syn = replay.steps.iter().position(|s| s.label == "SYN").expect("a SYN");
        let shown = text(&buffer(&replay, &at(syn), 80, 24));
        assert!(shown[0].starts_with("trace simulate echo · simulated"), "{shown:#?}");
        assert!(shown[1].starts_with(&format!("step {} of {} · ", syn + 1, replay.steps.len())), "{}", shown[1]);
        assert!(shown[2].starts_with("  c1 → s1 SYN"), "{}", shown[2]);
        let heading = shown.iter().position(|l| l.contains("client") && l.contains("server")).expect("the ladder's heading");
        let current = shown.iter().find(|l| l.starts_with(&format!("▶{:>2} ", syn + 1))).expect("the current row, marked");
        assert!(current.contains("│─ SYN ─"), "{current}");
        for sequence in &replay.sequences {
            assert!(shown[heading..].iter().any(|l| l.contains(sequence.title)), "{} beside the ladder: {shown:#?}", sequence.title);
        }
        assert!(shown.iter().any(|l| l.contains("▶ 3 Connect (active open)")), "connect is lit: {shown:#?}");
        assert!(shown.iter().any(|l| l.starts_with("after this step: ") && l.contains("c1 (client) SYN-SENT")), "{shown:#?}");
        assert!(shown.iter().any(|l| l.starts_with("time: ")), "the detail: {shown:#?}");
        assert!(shown[22].ends_with('…'), "the detail, cut short, says so: {shown:#?}");
        assert_eq!(shown[23], KEYS, "the keys, whole");
    }

    #[test]
    fn the_current_row_and_the_lit_steps_are_highlighted() {
        let replay = echo();
        let buf = buffer(&replay, &at(5), 80, 24);
        let shown = text(&buf);
        let row = shown.iter().position(|l| l.starts_with("▶ 6 ")).expect("step 6's row") as u16;
        assert!(buf[(0, row)].modifier.contains(Modifier::REVERSED) && buf[(38, row)].modifier.contains(Modifier::REVERSED));
        assert!(!buf[(39, row)].modifier.contains(Modifier::REVERSED), "the ladder's row alone");
        let other = shown.iter().position(|l| l.starts_with("  5 ")).expect("step 5's row") as u16;
        assert!(!buf[(0, other)].modifier.contains(Modifier::REVERSED));
        let lit = shown.iter().position(|l| l.contains("▶ 3 Take a connection")).expect("accept is lit") as u16;
        let x = shown[usize::from(lit)].chars().position(|c| c == '▶').expect("its mark") as u16;
        assert!(buf[(x, lit)].modifier.contains(Modifier::REVERSED | Modifier::BOLD));
    }

    #[test]
    fn any_size_any_step__no_panic__the_step_and_the_keys_first() {
        let replay = echo();
        for (columns, rows) in [(1, 1), (2, 1), (10, 2), (20, 4), (40, 10), (80, 24), (200, 60), (13, 50)] {
            for step in 0..replay.steps.len() {
                let shown = text(&buffer(&replay, &at(step), columns, rows));
                assert!(shown[0].starts_with(&*cut("step", usize::from(columns))) || rows > 2, "{columns}x{rows}: {shown:?}");
            }
        }
        let shown = text(&buffer(&replay, &at(10), 40, 10));
        assert!(shown.iter().any(|l| l.starts_with("step 11 of")), "{shown:#?}");
        assert!(shown.iter().any(|l| l.starts_with("▶11 ")), "the current row: {shown:#?}");
        assert!(shown.iter().any(|l| l.starts_with("after this step:")), "{shown:#?}");
        assert!(shown[9].starts_with("q: quit  → n Space: next") && shown[9].ends_with('…'), "{}", shown[9]);
    }

    #[test]
    fn narrow__long_words_wrap_at_spaces_or_end_in_the_mark() {
        let replay = echo();
        let syn = replay.steps.iter().position(|s| s.label == "SYN").expect("a SYN");
        let words: Vec<&str> = replay.steps[syn].text.split(' ').collect();
        let shown = text(&buffer(&replay, &at(syn), 24, 24));
        let wrapped: Vec<&String> = shown[2..5].iter().collect();
        for word in wrapped.iter().flat_map(|l| l.split_whitespace()) {
            assert!(words.contains(&word) || word.ends_with('…'), "{word:?} cut without the mark: {wrapped:#?}");
        }
    }

    #[test]
    fn lines__at_spaces__too_many_marked() {
        assert_eq!(lines("c1 → s1 SYN seq 0 win 65495", 12, 9), ["c1 → s1 SYN", "seq 0 win", "65495"]);
        assert_eq!(lines("one two three four", 9, 1), ["one two …"]);
        assert_eq!(lines("one two three four", 8, 1), ["one two…"], "no room for a space: the mark alone");
        assert!(lines("anything", 0, 3).is_empty() && lines("anything", 5, 0).is_empty());
    }

    #[test]
    fn typing__the_input_first__then_what_it_found() {
        let replay = echo();
        let typing = Screen { input: Some(Input { ask: Ask::GoTo, text: "accept".into() }), ..Screen::default() };
        assert!(text(&buffer(&replay, &typing, 20, 10))[9].starts_with("go to: accept█"));
        let searched = Screen { search: Some("FIN".into()), ..Screen::default() };
        assert!(text(&buffer(&replay, &searched, 80, 24))[23].starts_with("q: quit  Enter N: next, previous “FIN”  →"));
        let noted = Screen { note: Some("no step says “xyz”".into()), search: Some("xyz".into()), ..Screen::default() };
        assert_eq!(text(&buffer(&replay, &noted, 80, 24))[23], "no step says “xyz”");
    }

    #[test]
    fn no_events__says_so__keys_still_shown() {
        let lenses = Lenses { calls: LensStatus::Modelled, packets: LensStatus::Modelled, states: LensStatus::Modelled };
        let trace = Trace { header: Header::new("trace simulate none", Source::Simulated, lenses), events: Vec::new(), end: None };
        let replay = Replay::of(&trace);
        for (columns, rows) in [(80, 24), (10, 3), (1, 1)] {
            text(&buffer(&replay, &Screen::default(), columns, rows));
        }
        let shown = text(&buffer(&replay, &Screen::default(), 80, 24));
        assert!(shown.iter().any(|l| l.contains("no events")), "{shown:#?}");
        assert_eq!(shown[23], cut(KEYS, 80));
    }
}
