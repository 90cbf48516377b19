//! `trace check FILE`: holds a trace against the documented client and server sequences.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::check::{CheckOptions, Side};
use crate::render::run_check;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The trace file (saved with `trace echo --save FILE` or `trace simulate --save FILE`).
    file: PathBuf,
    /// Check only this side's sockets (default: every socket in the trace).
    #[arg(long, value_name = "client|server")]
    role: Option<Side>,
}

pub fn run(args: CheckArgs) -> Result<ExitCode, CliError> {
    let stdout = std::io::stdout();
    let verdict = run_check(&args.file, &CheckOptions { side: args.role }, super::stdout::style(), &mut stdout.lock())?;
    Ok(ExitCode::from(verdict.exit_code()))
}
