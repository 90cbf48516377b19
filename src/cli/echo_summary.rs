//! `trace echo --summary`: many connections, one line each, with bounded memory.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{CliError, EXIT_ERROR};
use crate::live::summary::{self, Load};
use crate::live::{LiveError, Plan};

pub fn run(plan: &Plan, load: &Load, command: &str, save: Option<PathBuf>) -> Result<ExitCode, CliError> {
    let report = match summary::run(plan, load, command, io::stdout(), save) {
        Err(LiveError::Unprivileged(reasons)) => {
            return Err(CliError::new(format!("--summary summarises what the kernel saw, and cannot see it: {}", reasons.join("; "))));
        }
        other => other?,
    };
    eprintln!(
        "trace: {} connections begun by {} clients in {:.2} s ({:.0}/s); the summary holds at most {} open at once",
        report.attempted,
        load.clients,
        report.elapsed.as_secs_f64(),
        report.connections_per_second(),
        report.peak_open
    );
    for problem in &report.unavailable {
        eprintln!("trace: {problem}");
    }
    if let Some(err) = &report.program_error {
        eprintln!("trace: a traced program failed: {err}");
    }
    let whole = report.is_whole();
    if !whole && !report.interrupted {
        eprintln!(
            "trace: the summary is not whole: {} connections begun, {} seen; see the kernel drops and lost tracepoint events",
            report.attempted, report.totals.connections
        );
    }
    if !report.unavailable.is_empty() || report.program_error.is_some() || (!whole && !report.interrupted) {
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    Ok(ExitCode::SUCCESS)
}
