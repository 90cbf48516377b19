//! `trace p2p`: a live trace of two peers, each of which listens and connects to the other.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::echo::lines::PEER_MESSAGES;
use crate::live::p2p::{self, PeerPlan};
use crate::live::{LiveError, Output};
use crate::render::{JsonLines, Ladder, Renderer, Style};

#[derive(Args, Debug)]
pub struct P2pArgs {
    /// A message each peer sends on the connection it makes, signed with its name (`hello from
    /// A`); the other peer answers each line with its number. Repeatable.
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
    /// Live or nothing: without the privileges for packets and kernel states, show the peers'
    /// own calls and exit 2, instead of simulating the session with the RFC 9293 model.
    #[arg(long)]
    live: bool,
}

pub fn run(args: P2pArgs) -> Result<ExitCode, CliError> {
    let messages = if args.messages.is_empty() { PEER_MESSAGES.map(String::from).to_vec() } else { args.messages };
    let plan = PeerPlan { messages, ipv6: args.ipv6, live_only: args.live };
    let renderer: Box<dyn Renderer> = if args.json { Box::new(JsonLines) } else { Box::new(Ladder::new(Style::for_stdout())) };
    match p2p::run(&plan, &super::command_line(), Output { renderer: Some(renderer), save: args.save.clone() }) {
        Err(LiveError::Unprivileged(reasons)) => {
            let lead = "trace p2p: showing the RFC 9293 model's simulation of the two peers (trace simulate p2p)";
            super::echo::simulated_session(lead, "p2p", &plan.messages, &reasons, args.save.as_deref(), args.json)
        }
        Err(err) => Err(err.into()),
        Ok(report) => Ok(super::echo::conclude(&report)),
    }
}
