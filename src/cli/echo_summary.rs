//! `trace echo --summary`: many connections, one line each, with bounded memory.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{CliError, EXIT_ERROR};
use crate::live::summary::{self, Close, Load};
use crate::live::{LiveError, Mode, Plan, Story};

/// The load from the command line: `connections` defaults to one per client.
pub fn load(plan: &Plan, connections: Option<u64>, close: &str) -> Result<Load, CliError> {
    let Mode::Both { clients } = plan.mode else {
        return Err(CliError("--summary runs our own server and clients: leave out --serve and --connect".to_string()));
    };
    let close = match close {
        "rst" => Close::Rst,
        _ => Close::Fin,
    };
    if close == Close::Rst && plan.story != Story::Echo {
        return Err(CliError(format!(
            "--close rst aborts the connection after the echoes, which the {} scenario does not do: use --scenario echo",
            plan.story.name()
        )));
    }
    Ok(Load { clients, connections: connections.unwrap_or(u64::from(clients)), close })
}

pub fn run(plan: &Plan, load: &Load, command: &str, save: Option<PathBuf>) -> Result<ExitCode, CliError> {
    let report = match summary::run(plan, load, command, io::stdout(), save) {
        Err(LiveError::Unprivileged(reasons)) => {
            return Err(CliError(format!("--summary summarises what the kernel saw, and cannot see it: {}", reasons.join("; "))));
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
    let whole = report.totals.connections == report.attempted && report.end.packets_dropped == 0 && report.end.states_lost == 0;
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
