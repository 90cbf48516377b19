//! `trace echo --summary`: many connections, one line each, with bounded memory.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
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
    if let Some(err) = &report.program_error {
        eprintln!("trace: a traced program failed: {err}");
    }
    let mut not_whole = report.unavailable.clone();
    if !report.is_whole() && !report.interrupted {
        not_whole.push(format!(
            "the summary is not whole: {} connections begun, {} seen; see the kernel drops and lost tracepoint events",
            report.attempted, report.totals.connections
        ));
    }
    Ok(super::session::session_exit(&not_whole, report.interrupted, report.program_error.is_some()))
}
