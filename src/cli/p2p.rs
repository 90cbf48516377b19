//! `trace p2p`: a live trace of two peers, each of which listens and connects to the other.

use std::process::ExitCode;

use clap::Args;

use super::session::{conclude, SessionArgs};
use super::CliError;
use crate::live::fallback::Simulation;
use crate::live::p2p::{self, PeerPlan};
use crate::live::LiveError;
use crate::protocol::PEER_MESSAGES;

#[derive(Args, Debug)]
pub struct P2pArgs {
    /// A message each peer sends on the connection it makes, signed with its name (`hello from
    /// A`); the other peer answers each line with its number. Repeatable.
    #[arg(long = "message", short = 'm', value_name = "TEXT")]
    messages: Vec<String>,
    #[command(flatten)]
    session: SessionArgs,
}

pub fn run(args: P2pArgs) -> Result<ExitCode, CliError> {
    let messages = if args.messages.is_empty() { PEER_MESSAGES.map(String::from).to_vec() } else { args.messages };
    let s = &args.session;
    let plan = PeerPlan { messages, ipv6: s.ipv6, live_only: s.live };
    match p2p::run(&plan, &super::command_line::command_line(), s.output()) {
        Err(LiveError::Unprivileged(reasons)) => s.show_simulation(&Simulation::of_peers(&plan, &reasons)),
        other => Ok(conclude(&other?, true)),
    }
}
