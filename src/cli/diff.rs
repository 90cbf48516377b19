//! `trace diff A B`: what differs between two traces after normalization.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, EXIT_DEVIATIONS};
use crate::normalize::diff::first_difference;
use crate::trace::read_trace;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The first trace (the reference, say).
    a: PathBuf,
    /// The second trace.
    b: PathBuf,
}

pub fn run(args: DiffArgs) -> Result<ExitCode, CliError> {
    let (a, b) = (read_trace(&args.a)?, read_trace(&args.b)?);
    let (an, bn) = (args.a.display(), args.b.display());
    let Some(d) = first_difference(&a, &b) else {
        println!("{an} and {bn} are the same after normalization");
        return Ok(ExitCode::SUCCESS);
    };
    println!("{an} and {bn} differ at snapshot line {} (of {} and {})", d.line, d.lengths.0, d.lengths.1);
    if let Some(step) = &d.step {
        println!("  {step}");
    }
    for line in &d.context {
        println!("    {line}");
    }
    println!("  - {}", d.left.as_deref().unwrap_or("(the snapshot has ended)"));
    println!("  + {}", d.right.as_deref().unwrap_or("(the snapshot has ended)"));
    Ok(ExitCode::from(EXIT_DEVIATIONS))
}
