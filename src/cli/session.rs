//! The options every live session of our own programs takes (`trace echo`, `trace p2p`).

use std::path::PathBuf;

use clap::Args;

use crate::live::Output;
use crate::render;

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
        Output { renderer: Some(render::for_stdout(self.json)), save: self.save.clone() }
    }
}
