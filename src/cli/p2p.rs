//! `trace p2p`: a live trace of two peers, each of which listens and connects to the other.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::live::p2p::{self, PeerPlan};
use crate::live::Output;
use crate::render::{JsonLines, Ladder, Renderer, Style};

#[derive(Args, Debug)]
pub struct P2pArgs {
    /// A line each peer sends on the connection it makes (repeatable); the other peer answers
    /// each with its number. Without it, each peer greets the other by name.
    #[arg(long = "message", short = 'm', value_name = "TEXT")]
    messages: Vec<String>,
    /// Use IPv6 (::1) instead of IPv4 (127.0.0.1).
    #[arg(long)]
    ipv6: bool,
    /// Save the trace to FILE as it is recorded (JSON Lines, see the book's reference).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Print the events as JSON Lines instead of the timeline.
    #[arg(long)]
    json: bool,
}

pub fn run(args: P2pArgs) -> Result<ExitCode, CliError> {
    // The model has no peers yet: without the privileges for packets and kernel states the
    // session shows what it can (our own calls) and says what is missing.
    let mut plan = PeerPlan::greetings(args.ipv6, true);
    if !args.messages.is_empty() {
        plan.messages = [args.messages.clone(), args.messages];
    }
    let renderer: Box<dyn Renderer> = if args.json { Box::new(JsonLines) } else { Box::new(Ladder::new(Style::for_stdout())) };
    let report = p2p::run(&plan, &super::command_line(), Output { renderer: Some(renderer), save: args.save })?;
    Ok(super::echo::conclude(&report))
}
