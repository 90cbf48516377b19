//! `trace simulate SCENARIO`: a trace from the RFC 9293 model, shown like a live one.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::sim::{self, Options};

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The scenario to simulate (see --list).
    #[arg(required_unless_present = "list")]
    scenario: Option<String>,
    /// List the scenarios with what each shows.
    #[arg(long)]
    list: bool,
    /// A line the client sends (repeatable).
    #[arg(long = "message", short = 'm', value_name = "TEXT")]
    messages: Vec<String>,
    /// Save the simulated trace to FILE.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Print the events as JSON Lines instead of the timeline.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SimulateArgs) -> Result<ExitCode, CliError> {
    if args.list {
        let width = sim::scenarios().iter().map(|s| s.name.len()).max().unwrap_or(0);
        let list: String = sim::scenarios().iter().map(|s| format!("{:<width$}  {}\n", s.name, s.about)).collect();
        super::stdout::print(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let name = args.scenario.unwrap_or_default();
    let mut options = Options::default();
    if !args.messages.is_empty() {
        options.messages = args.messages;
    }
    let trace = sim::trace(&name, &options, &super::command_line::command_line())?;
    if let Some(path) = &args.save {
        trace.save(path)?;
    }
    super::stdout::present(&trace, args.json)?;
    Ok(ExitCode::SUCCESS)
}
