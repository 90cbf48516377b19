//! `trace replay FILE`: step through a trace beside the documented sequences, in the terminal;
//! into a pipe, every step on its own line.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::render::replay as view;
use crate::render::Style;
use crate::replay::Replay;
use crate::trace::read_trace;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The trace file (saved with `trace echo --save FILE` or `trace simulate … --save FILE`).
    file: PathBuf,
    /// Print every step, one per line, even on a terminal (what a pipe gets).
    #[arg(long)]
    all: bool,
}

const HELP: &str = "Enter: next · b: back · g STEP: go to a documented step (e.g. g accept, g active-open/close) or to step N · r: reset · q: quit";

pub fn run(args: ReplayArgs) -> Result<ExitCode, CliError> {
    let trace = read_trace(&args.file)?;
    let replay = Replay::of(&trace);
    let style = Style::for_stdout();
    let interactive = !args.all && io::stdin().is_terminal() && io::stdout().is_terminal();
    let result = if interactive { step_through(&replay, style) } else { print_all(&replay, style) };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(CliError(format!("cannot write the replay: {err}"))),
    }
}

fn print_all(replay: &Replay, style: Style) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}", view::header(replay, style))?;
    for index in 0..replay.steps.len() {
        writeln!(out, "{}", view::step_line(replay, index, style))?;
        for line in view::evidence_lines(replay, index, style) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn step_through(replay: &Replay, style: Style) -> io::Result<()> {
    if replay.steps.is_empty() {
        println!("{}\n(the trace has no events)", view::header(replay, style));
        return Ok(());
    }
    let mut at = 0;
    let mut note = String::new();
    let mut input = io::stdin().lock();
    loop {
        let mut out = io::stdout().lock();
        // Clear the screen and draw the step from the top.
        write!(out, "\x1b[2J\x1b[H{}", view::step_view(replay, at, style))?;
        writeln!(out, "\n{}", style.dim(HELP))?;
        if !note.is_empty() {
            writeln!(out, "{note}")?;
        }
        write!(out, "> ")?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        note.clear();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (None, _) | (Some("n"), _) => at = (at + 1).min(replay.steps.len() - 1),
            (Some("b"), _) => at = at.saturating_sub(1),
            (Some("r"), _) => at = 0,
            (Some("q"), _) => return Ok(()),
            (Some("g"), Some(target)) => match go_to(replay, at, target) {
                Some(found) => at = found,
                None => note = format!("no step {target:?} in this trace"),
            },
            _ => note = format!("unknown command {:?}", line.trim()),
        }
    }
}

/// The step numbered `target`, or the next step (after `from`, wrapping) that is evidence of
/// the documented step `target` (`accept`, or `passive-open/accept`).
fn go_to(replay: &Replay, from: usize, target: &str) -> Option<usize> {
    if let Ok(n) = target.parse::<usize>() {
        return (1..=replay.steps.len()).contains(&n).then(|| n - 1);
    }
    let (sequence, id) = target.split_once('/').map_or((None, target), |(s, id)| (Some(s), id));
    let count = replay.steps.len();
    (1..=count)
        .map(|k| (from + k) % count)
        .find(|&i| replay.sequences.iter().zip(&replay.steps[i].progress).any(|(s, p)| sequence.is_none_or(|want| s.id == want) && p.at.contains(&id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Replay {
        Replay::of(&crate::sim::trace("echo", &crate::sim::Options::default(), "trace simulate echo").expect("echo"))
    }

    #[test]
    fn go_to_a_documented_step_finds_its_next_evidence_wrapping_around() {
        let replay = echo();
        let accept = go_to(&replay, 0, "accept").expect("accept is shown");
        assert!(replay.steps[accept].progress[0].at.contains(&"accept"));
        let again = go_to(&replay, accept, "accept").expect("more evidence of accept");
        assert!(again > accept);
        let close = go_to(&replay, 0, "active-open/close").expect("the client's close");
        assert!(replay.steps[close].progress[1].at.contains(&"close"));
        assert_eq!(go_to(&replay, replay.steps.len() - 1, "create"), Some(0), "wraps to the start");
    }

    #[test]
    fn go_to_a_number_or_nothing() {
        let replay = echo();
        assert_eq!(go_to(&replay, 5, "1"), Some(0));
        assert_eq!(go_to(&replay, 5, "0"), None);
        assert_eq!(go_to(&replay, 5, "listen-twice"), None);
        assert_eq!(go_to(&replay, 5, "active-open/listen"), None, "the client does not listen");
    }
}
