//! `trace show FILE`: renders a saved trace with the renderer `trace echo` used live.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::trace::read_trace;

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The trace file (saved with `trace echo --save FILE`).
    file: PathBuf,
    /// Print the events as JSON Lines instead of the timeline.
    #[arg(long, conflicts_with = "lesson")]
    json: bool,
    /// Print the lesson-level view: per socket its calls, bytes, states (as RFC 9293 sees
    /// them) and the segments that open and close its connection; what compares across runs.
    #[arg(long, conflicts_with = "snapshot")]
    lesson: bool,
    /// Print the snapshot text: one event per line in one canonical order, with nothing that
    /// changes from run to run (for insta snapshot tests and `trace diff`).
    #[arg(long)]
    snapshot: bool,
}

pub fn run(args: ShowArgs) -> Result<ExitCode, CliError> {
    let trace = read_trace(&args.file)?;
    if args.snapshot {
        super::stdout::print(&crate::normalize::snapshot(&trace))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.lesson {
        super::stdout::print(&crate::normalize::lesson_view(&trace.events))?;
        return Ok(ExitCode::SUCCESS);
    }
    super::stdout::present(&trace, args.json)?;
    Ok(ExitCode::SUCCESS)
}
