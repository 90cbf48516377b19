//! `trace replay` on a terminal, as a learner uses it: the built binary in a pseudo-terminal,
//! keys typed, the screen read after each (vt100), the window resized, and the terminal
//! given back as it was after `q`. Into a pipe, the replay is plain lines.

#![allow(non_snake_case)] // names read situation__outcome

use socktrace::replay::Replay;

use crate::support::pty::Pty;
use crate::support::{fixture, fixture_path, load, scratch, stdout, trace, trace_bin};

const ECHO: &str = "lessons/echo.jsonl";

const RIGHT: &str = "\x1b[C";
const LEFT: &str = "\x1b[D";
const HOME: &str = "\x1b[H";
const END: &str = "\x1b[F";

fn rows(screen: &vt100::Screen) -> Vec<String> {
    screen.rows(0, screen.size().1).collect()
}

/// Step `index` (from 0) of `count` is on the screen: its number in the status line, its
/// ladder row marked and highlighted, the only one.
fn shows_step(screen: &vt100::Screen, index: usize, count: usize) -> bool {
    let status = format!("step {} of {count} ·", index + 1);
    let marked = format!("▶{:>w$} ", index + 1, w = count.to_string().len());
    let shown = rows(screen);
    let current: Vec<usize> = (0..shown.len()).filter(|&r| shown[r].starts_with('▶')).collect();
    let highlighted = |row: usize| [0, 5].iter().all(|&col| screen.cell(row as u16, col).is_some_and(|c| c.inverse()));
    shown.get(1).is_some_and(|r| r.starts_with(&status)) && matches!(current[..], [row] if shown[row].starts_with(&marked) && highlighted(row))
}

/// Waits for step `index`, drawn whole: a program that is slow to draw only takes longer.
fn wait_for_step(pty: &mut Pty, index: usize, count: usize) {
    pty.wait_for(&format!("step {}, highlighted", index + 1), |s| shows_step(s, index, count));
}

/// The screen is `columns` × `height`, with the keys on its last row.
fn fits(screen: &vt100::Screen, columns: u16, height: u16) -> bool {
    screen.size() == (height, columns) && rows(screen).last().is_some_and(|r| r.starts_with("q: quit"))
}

#[test]
fn keys_move_find_and_go__a_resize_redraws__q_gives_the_terminal_back() {
    let path = fixture(ECHO);
    let replay = Replay::of(&load(&path));
    let count = replay.steps.len();
    let mut pty = Pty::spawn(trace_bin(), &["replay", &fixture_path(ECHO)], 100, 30);
    pty.wait_for("the first step, the keys last", |s| shows_step(s, 0, count) && fits(s, 100, 30));
    assert!(pty.screen().alternate_screen(), "on the alternate screen");
    assert!(!pty.cooked(), "in raw mode: a key acts without Enter");

    pty.send(RIGHT);
    wait_for_step(&mut pty, 1, count);
    pty.send(LEFT);
    wait_for_step(&mut pty, 0, count);
    pty.send(END);
    wait_for_step(&mut pty, count - 1, count);
    pty.send(HOME);
    wait_for_step(&mut pty, 0, count);

    pty.send("g");
    pty.wait_for("the go-to prompt", |s| rows(s)[29].starts_with("go to: █"));
    pty.send("accept\r");
    let accept = replay.go_to(0, "accept").expect("accept in the fixture");
    pty.wait_for("accept, its words, lit beside the ladder", |s| {
        shows_step(s, accept, count) && rows(s)[2].contains("accept(") && rows(s).iter().any(|r| r.contains("▶ 3 Take a connection"))
    });

    pty.send("/FIN\r");
    let fin = replay.find(accept, "FIN", true).expect("a FIN in the fixture");
    pty.wait_for("the first FIN after accept", |s| shows_step(s, fin, count) && rows(s)[2].contains("FIN"));
    pty.send("\r");
    wait_for_step(&mut pty, replay.find(fin, "FIN", true).expect("another"), count);
    pty.send("N");
    wait_for_step(&mut pty, fin, count);

    pty.resize(80, 24);
    pty.wait_for("the step redrawn in 80x24, the header cut, the ladder beside the sequences", |s| {
        let header = &rows(s)[0];
        fits(s, 80, 24)
            && shows_step(s, fin, count)
            && header.starts_with("trace echo")
            && header.ends_with('…')
            && header.chars().count() == 80
            && rows(s).iter().any(|r| r.contains("client") && r.contains("server") && r.contains("passive open"))
    });

    pty.resize(40, 10);
    pty.wait_for("the step redrawn in 40x10", |s| fits(s, 40, 10) && shows_step(s, fin, count));

    pty.send("q");
    let status = pty.wait_exit();
    assert!(status.success(), "{status:?}:\n{}", pty.screen().contents());
    assert!(!pty.screen().alternate_screen(), "the alternate screen left");
    assert!(pty.cooked(), "raw mode off");
}

#[test]
fn a_trace_without_events__says_so__every_key_harmless() {
    let header = r#"{"format":"socktrace/1.0","tool":"socktrace 0.1.0","clock":"CLOCK_MONOTONIC ns","command":"trace echo","source":"live","lenses":{"calls":{"status":"observed"},"packets":{"status":"observed"},"states":{"status":"observed"}}}"#;
    let path = scratch("replay_terminal_empty").join("empty.jsonl");
    std::fs::write(&path, format!("{header}\n")).expect("write the trace");
    let path = path.to_string_lossy().into_owned();
    let mut pty = Pty::spawn(trace_bin(), &["replay", &path], 80, 24);
    pty.wait_for("the empty trace's words", |s| s.contents().contains("no events"));
    pty.send(&format!("{RIGHT}{END}{LEFT}{HOME}\r"));
    pty.send("/fin\r");
    pty.wait_for("a search that finds nothing", |s| rows(s)[23].starts_with("no step says “fin”"));
    pty.send("g1\r");
    pty.wait_for("no step 1", |s| rows(s)[23].starts_with("no step “1”"));
    pty.send("q");
    assert!(pty.wait_exit().success(), "{}", pty.screen().contents());
    assert!(pty.cooked());

    let plain = trace(&["replay", &path]);
    assert!(plain.status.success() && stdout(&plain).contains("(the trace has no events)"), "{}", stdout(&plain));
}

#[test]
fn a_tiny_terminal__shows_what_fits__never_panics() {
    let mut pty = Pty::spawn(trace_bin(), &["replay", &fixture_path(ECHO)], 12, 3);
    pty.wait_for("the status, cut", |s| rows(s)[0].starts_with("step 1 of") && rows(s)[0].ends_with('…'));
    pty.send(RIGHT);
    pty.wait_for("step 2", |s| rows(s)[0].starts_with("step 2 of"));
    for (columns, height) in [(1, 1), (5, 2), (2, 40)] {
        pty.resize(columns, height);
        pty.send(RIGHT);
    }
    pty.resize(20, 4);
    pty.wait_for("a redraw at 20x4", |s| fits(s, 20, 4) && rows(s)[0].starts_with("step "));
    pty.send("q");
    let status = pty.wait_exit();
    assert!(status.success(), "{status:?}:\n{}", pty.screen().contents());
    assert!(pty.cooked());
}

#[test]
fn into_a_pipe_or_with_all__every_step_plain() {
    let out = trace(&["replay", &fixture_path(ECHO)]);
    let text = stdout(&out);
    let count = Replay::of(&load(&fixture(ECHO))).steps.len();
    assert!(out.status.success());
    assert!(text.starts_with("trace echo --live --save echo.jsonl · live:") && !text.contains('\x1b'), "{text}");
    let last = format!("{count:>4} ");
    assert!(text.lines().any(|l| l.starts_with(&last)), "the last step's line");

    let mut pty = Pty::spawn(trace_bin(), &["replay", "--all", &fixture_path(ECHO)], 100, 30);
    assert!(pty.wait_exit().success(), "--all on a terminal prints and exits");
    assert!(String::from_utf8_lossy(&pty.written).lines().any(|l| l.starts_with(&last)), "every step, on the terminal too");
    assert!(!pty.screen().alternate_screen());
}
