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
        super::stdout::print(&format!("{an} and {bn} are the same after normalization\n"))?;
        return Ok(ExitCode::SUCCESS);
    };
    let at = match d.line {
        (l, r) if l == r => format!("line {l}"),
        (l, r) => format!("lines {l} and {r}"),
    };
    let mut out = format!("{an} and {bn} differ at snapshot {at} (of {} and {})\n", d.lengths.0, d.lengths.1);
    if let Some(step) = &d.step {
        out.push_str(&format!("  {step}\n"));
    }
    for line in &d.context {
        out.push_str(&format!("    {line}\n"));
    }
    let ended = "(the snapshot has ended)";
    out.push_str(&format!("  - {}\n", d.left.as_deref().unwrap_or(ended)));
    out.push_str(&format!("  + {}\n", d.right.as_deref().unwrap_or(ended)));
    if let Some(k) = &d.kernel_first {
        out.push_str(&format!("  before it, the kernel's part already differs at line {} (the calls are the same up to there):\n", k.line));
        out.push_str(&format!("  - {}\n", k.left.as_deref().unwrap_or(ended)));
        out.push_str(&format!("  + {}\n", k.right.as_deref().unwrap_or(ended)));
    }
    super::stdout::print(&out)?;
    Ok(ExitCode::from(EXIT_DEVIATIONS))
}
