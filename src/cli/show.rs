//! `trace show FILE`: renders a saved trace with the renderer `trace echo` used live.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::trace::{read_trace, TraceReader};

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
    if args.snapshot || args.lesson {
        let trace = read_trace(&args.file)?;
        let text = if args.snapshot { crate::normalize::snapshot(&trace) } else { crate::normalize::lesson_view(&trace.events) };
        super::stdout::print(&text)?;
    } else {
        // The timeline is written as it was live, event by event: the trace is never held whole.
        super::stdout::present_file(TraceReader::open(&args.file)?, args.json)?;
    }
    Ok(ExitCode::SUCCESS)
}
