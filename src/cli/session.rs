//! What every live session of our own programs (`trace echo`, `trace p2p`) takes and how it
//! ends: its options, then its report, or the model's telling in its place.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_SESSION_FAILED};
use crate::live::fallback::Simulation;
use crate::live::{self, Output};

#[derive(Args, Debug)]
pub struct SessionArgs {
    /// Use IPv6 (::1) instead of IPv4 (127.0.0.1).
    #[arg(long)]
    pub ipv6: bool,
    /// Save the trace to FILE as it is recorded (JSON Lines, see the book's reference).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Print the events as JSON Lines instead of the timeline.
    #[arg(long)]
    pub json: bool,
    /// Live or nothing: without the privileges for packets and kernel states, show our own
    /// calls and exit 2, instead of simulating the session with the RFC 9293 model.
    #[arg(long)]
    pub live: bool,
}

impl SessionArgs {
    /// Where the session goes: the timeline (or JSON Lines) on the screen, and the file.
    pub fn output(&self) -> Output {
        Output { renderer: Some(super::stdout::renderer(self.json)), save: self.save.clone() }
    }

    /// Shows (and saves) the model's telling in place of the live session, its first line
    /// saying so: on the timeline's first line, or on standard error beside JSON.
    pub fn show_simulation(&self, simulation: &Simulation) -> Result<ExitCode, CliError> {
        if self.json {
            eprintln!("{}", simulation.first_line);
        } else {
            println!("{}", simulation.first_line);
        }
        let trace = simulation.trace(&super::command_line::command_line())?;
        if let Some(path) = &self.save {
            trace.save(path)?;
        }
        super::stdout::present(&trace, self.json)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Says what a live session could not do, and its exit code (see [`session_exit`]); a
/// traced program's failure is said when the session was not interrupted (Ctrl-C ends the
/// programs too).
pub fn conclude(report: &live::Report, ends_by_itself: bool) -> ExitCode {
    let interrupted = report.interrupted && ends_by_itself;
    let code = session_exit(&report.unavailable, interrupted, report.program_error.is_some());
    if let (Some(err), false) = (&report.program_error, interrupted) {
        eprintln!("trace: a traced program failed: {err}");
    }
    code
}

/// The exit code of a live session (`echo`, `p2p`, `run`), from what went wrong, the gravest
/// first: 2 when the trace is not whole (a lens missing or losing events, each said here), 130
/// when Ctrl-C (or SIGTERM) stopped it before its end (said here), 1 when a traced program
/// `failed` (said by the caller, which knows how to name it), else 0.
pub fn session_exit(not_whole: &[String], interrupted: bool, failed: bool) -> ExitCode {
    for missing in not_whole {
        eprintln!("trace: {missing}");
    }
    if interrupted {
        eprintln!("trace: interrupted: the session was stopped before its end; the timeline and the saved trace hold, whole, what happened until then");
    }
    ExitCode::from(if !not_whole.is_empty() {
        EXIT_ERROR
    } else if interrupted {
        EXIT_INTERRUPTED
    } else if failed {
        EXIT_SESSION_FAILED
    } else {
        0
    })
}
