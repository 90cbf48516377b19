//! `trace replay FILE`: step through a trace beside the documented sequences, on a terminal
//! (`terminal.rs` shows the screen, `keys.rs` says what each key does); into a pipe, every
//! step on its own line; with `--html`, as a page for a browser (`html.rs`).

mod html;
mod keys;
mod terminal;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::render::replay as view;
use crate::render::Style;
use crate::replay::Replay;
use crate::trace::read_trace;

#[derive(Args, Debug)]
#[command(after_help = KEYS)]
pub struct ReplayArgs {
    /// The trace file (saved with `trace echo --save FILE` or `trace simulate … --save FILE`).
    file: PathBuf,
    /// Print every step, one per line, even on a terminal (what a pipe gets).
    #[arg(long, conflicts_with = "html")]
    all: bool,
    /// Write the replay as one HTML page that stands alone (the widget, the trace and `trace
    /// check`'s report inside; it opens from file:// with no network), instead of showing it.
    #[arg(long)]
    html: bool,
    /// With --html: the page's path (default: FILE with .html in place of its extension).
    #[arg(short = 'o', long = "output", value_name = "OUT.html", requires = "html")]
    output: Option<PathBuf>,
}

/// The keys, for `--help` and the man page (the screen's last row says them in short).
const KEYS: &str = "On a terminal: → n Space: the next step; ← b: the one before; Home End: the first, the last; \
/ WORDS Enter: the next step whose words hold WORDS (then Enter, N: the next, the previous); \
g STEP Enter: a step by its number, or by the documented step it shows (accept, active-open/close); \
q Esc Ctrl-C: quit. Into a pipe, or with --all: every step, one per line.";

pub fn run(args: ReplayArgs) -> Result<ExitCode, CliError> {
    if args.html {
        return html::write(&args.file, args.output.as_deref());
    }
    let trace = read_trace(&args.file)?;
    let replay = Replay::of(&trace);
    let style = super::stdout::style();
    let interactive = !args.all && io::stdin().is_terminal() && io::stdout().is_terminal();
    let result = if interactive { terminal::step_through(&replay, style.color) } else { print_all(&replay, style) };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(CliError::new(format!("cannot show the replay: {err}"))),
    }
}

fn print_all(replay: &Replay, style: Style) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{}", view::header(replay, style))?;
    if replay.steps.is_empty() {
        writeln!(out, "(the trace has no events)")?;
    }
    for index in 0..replay.steps.len() {
        writeln!(out, "{}", view::step_line(replay, index, style))?;
        for line in view::evidence_lines(replay, index, style) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
