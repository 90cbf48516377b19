//! `trace check`: holds every socket of a trace against the documented sequence of the part
//! it plays, and says for each step whether the trace shows it (with the evidence) or not
//! (with the reason). Differences between the textbook and Linux are notes, not failures.
//!
//! The sequences themselves are data in [`crate::sequence`]; this module only reads them:
//!
//! - `index.rs`: one pass over the events: each socket's calls and states, each connection's
//!   packets, as small facts;
//! - `cast.rs`: which part each socket plays (client, listening, accepted, datagram server),
//!   from the program's role or, for unmodified programs, from the calls it made;
//! - `align.rs`: finds each step's evidence in the socket's events, in step order;
//! - `model.rs`: kernel state changes the shadowing RFC 9293 model did not expect, beyond the
//!   documented Linux differences (findings);
//! - `rules.rs`: what the program must not do: calls out of order, calls its part never makes,
//!   data before the handshake completed;
//! - `reasons.rs`: every reason and note in plain words;
//! - `report.rs`: the verdict, per socket and step, and how the terminal shows it;
//! - `run.rs`: `trace check FILE` from path to exit status, for the command line.
//!
//! A decision about the `refused` scenario: a connect answered by a reset ends the documented
//! sequence early, and the program can do nothing about it but close its socket. So it is a
//! note, not a deviation: the later steps are not reached, and the close is still checked.

mod align;
mod cast;
mod index;
mod model;
mod reasons;
mod report;
mod rules;
mod run;

use std::fmt;
use std::str::FromStr;

use crate::event::Role;
use crate::trace::{LensStatus, Trace};

pub use report::{Observation, Outcome, Report, Seen, Sighting, SocketReport, StepReport, Verdict};
pub use run::{run_check, CheckError};

/// Which side of the conversation to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    fn role(self) -> Role {
        match self {
            Side::Client => Role::Client,
            Side::Server => Role::Server,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.role().fmt(f)
    }
}

impl FromStr for Side {
    type Err = String;

    fn from_str(s: &str) -> Result<Side, String> {
        match s {
            "client" => Ok(Side::Client),
            "server" => Ok(Side::Server),
            other => Err(format!("unknown role {other:?}: the roles are client and server")),
        }
    }
}

/// What `check` is asked to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Check only this side's sockets; `None` checks every socket the trace shows.
    pub side: Option<Side>,
}

/// Holds every socket of `trace` (of one side, if asked) against its documented sequence.
/// Pure and deterministic; its cost is linear in the number of events.
pub fn check<'t>(trace: &'t Trace, options: &CheckOptions) -> Report<'t> {
    let index = index::Index::build(&trace.events);
    let calls_lens = !matches!(trace.header.lenses.calls, LensStatus::Unavailable { .. });
    let cast = cast::cast(&index, calls_lens);
    let mut report = Report::new(trace, options.side);
    report.notes.extend(reasons::trace_notes(trace, &cast.unused, &index));
    report.problems.extend(model::disagreements(trace));
    let explained = align::Explained::default();
    for player in cast.players.iter().filter(|p| options.side.is_none_or(|side| p.sequence.role == side.role())) {
        let mut socket = align::align(trace, &index, &cast, player, &explained);
        rules::apply(trace, &index, player, &mut socket);
        report.sockets.push(socket);
    }
    if report.sockets.is_empty() {
        report.problems.push(reasons::nothing_to_check(options.side));
    }
    report
}
