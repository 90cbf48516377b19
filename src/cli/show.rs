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
    #[arg(long)]
    json: bool,
}

pub fn run(args: ShowArgs) -> Result<ExitCode, CliError> {
    let trace = read_trace(&args.file)?;
    super::present(&trace, args.json)?;
    Ok(ExitCode::SUCCESS)
}
