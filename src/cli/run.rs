//! `trace run`: a live trace of any program, its socket calls read with ptrace.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, EXIT_ERROR};
use crate::capture::ptrace::{signals, AfterClient, Launch, Programs};
use crate::live::run::{self, RunError, RunPlan};
use crate::live::words::{words, WordsError};
use crate::live::Output;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Save the trace to FILE as it is recorded (JSON Lines, see the book's reference).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Print the events as JSON Lines instead of the timeline.
    #[arg(long)]
    json: bool,
    /// A server to start first, as one string split into words like a shell does (quotes and
    /// backslashes; no variables, pipes or redirections: for those, run `sh -c '...'`).
    #[arg(long, value_name = "CMD", requires = "client", conflicts_with = "command")]
    server: Option<String>,
    /// A client, started once the server listens (or, a UDP server, binds its port); `{port}`
    /// in it becomes that port.
    #[arg(long, value_name = "CMD", requires = "server")]
    client: Option<String>,
    /// How long the server may take to listen (or bind) before the run is given up: the
    /// server is then ended, the client never started, and `trace` exits with status 2.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, requires = "server", value_parser = positive_seconds)]
    listen_timeout: f64,
    /// How long the server may still run once the client has ended: then it is ended as
    /// Ctrl-C would end it (SIGTERM, and SIGKILL after the grace period), and its end counts
    /// as no failure. Without it, a server that serves for ever keeps the session open until
    /// Ctrl-C.
    #[arg(long, value_name = "SECS", requires = "server", value_parser = positive_seconds)]
    linger: Option<f64>,
    /// Stop at every system call, as strace does by default, instead of only at the calls the
    /// seccomp filter lists (for measuring what the filter saves).
    #[arg(long, hide = true)]
    every_syscall: bool,
    /// Also show the session in a browser as it happens: a page on 127.0.0.1 (its address is
    /// printed; the programs start when it is opened) that replays the events as they come.
    #[arg(long)]
    web: bool,
    /// The command to trace and its arguments (after `--`); every process it starts is traced.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    command: Vec<String>,
}

pub fn run(args: RunArgs) -> Result<ExitCode, CliError> {
    let programs = match (args.server, args.client) {
        (Some(server), Some(client)) => Programs::ServerClient {
            server: command(&server, "--server")?,
            client: command(&client, "--client")?,
            wait: std::time::Duration::from_secs_f64(args.listen_timeout),
            after: args.linger.map_or(AfterClient::RunsAndSay, |secs| AfterClient::Ended(std::time::Duration::from_secs_f64(secs))),
        },
        _ if args.command.is_empty() => {
            return Err(CliError::new("run: give a command to trace (`trace run -- CMD ARGS...`), or --server CMD --client CMD"));
        }
        _ => Programs::One(args.command),
    };
    let command = super::command_line::command_line();
    let mut output = Output { renderer: Some(super::stdout::renderer(args.json)), save: args.save };
    // Before Ctrl-C is taken over: until the page is opened, it ends `trace` as it would.
    let web = args.web.then(|| super::web::start(&command, &mut output)).transpose()?;
    // Ctrl-C reaches the programs (and `kill` of `trace` is passed on to them); the trace
    // ends, complete, when they have ended.
    signals::forward_termination().map_err(|e| CliError::new(format!("run: cannot handle signals: {e}")))?;
    let plan = RunPlan { programs, launch: Launch::default(), seccomp: !args.every_syscall };
    let result = run::run(plan, &command, output);
    if let Some(web) = web {
        web.finish();
    }
    let report = match result {
        Ok(report) => report,
        Err(RunError::Start(err)) => {
            eprintln!("trace run: {err}");
            return Ok(ExitCode::from(EXIT_ERROR));
        }
        Err(RunError::Live(err)) => return Err(err.into()),
    };
    // A program that did not exit with status 0 failed (when Ctrl-C, passed on to it, ended
    // it, the exit code says the interruption instead; when `--linger` did, nothing did): each
    // is said, and its end is in the trace's end line too.
    let mut failed = false;
    for program in &report.programs {
        if !matches!(program.exit, crate::trace::Exit::Status { code: 0 }) || program.ended_by_trace {
            eprintln!("trace run: {program}");
            failed |= !program.ended_by_trace;
        }
    }
    // As `trace echo --live`: without a lens, the calls alone were shown (the header says
    // which lenses ran), and the exit status says the trace is not whole.
    Ok(super::session::session_exit(&report.unavailable, signals::received(), failed))
}

/// A number of seconds, more than 0 and at most a day.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!("{text:?} is not a number of seconds between 0 and 86400")),
    }
}

/// The words of `line`, given with `option`.
fn command(line: &str, option: &str) -> Result<Vec<String>, CliError> {
    words(line).map_err(|err| match err {
        WordsError::Empty => CliError::new(format!("run: {option} needs a command")),
        err => CliError::new(format!("run: {option} {line:?}: {err}")),
    })
}
