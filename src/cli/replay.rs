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
    let style = super::stdout::style();
    let interactive = !args.all && io::stdin().is_terminal() && io::stdout().is_terminal();
    let result = if interactive { step_through(&replay, style) } else { print_all(&replay, style) };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(CliError::new(format!("cannot write the replay: {err}"))),
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
            (Some("g"), Some(target)) => match replay.go_to(at, target) {
                Some(found) => at = found,
                None => note = format!("no step {target:?} in this trace"),
            },
            _ => note = format!("unknown command {:?}", line.trim()),
        }
    }
}
