//! The story a trace tells: which socket plays which part (the listening socket, one it
//! accepted, a client's, a datagram server's), and which events show each step of the
//! documented sequence of that part — or why the trace does not show it. `trace check` adds
//! what a program must not do and gives the verdict; the replay (the book's and `trace
//! replay`) lights the same evidence step by step: both read this one answer.
//!
//! - `index.rs`: one pass over the events: each socket's calls and states, each connection's
//!   packets, as small facts;
//! - `cast.rs`: which part each socket plays, from the program's role or, for unmodified
//!   programs, from the calls it made; the sockets that play none, set aside;
//! - `align.rs`: finds each step's evidence in the socket's events, in step order;
//! - `reasons.rs`: every reason and note in plain words;
//! - `steps.rs`: what a socket's story is made of.

pub(crate) mod align;
pub(crate) mod cast;
pub(crate) mod index;
pub(crate) mod reasons;
mod side;
mod steps;

use crate::trace::{LensStatus, Trace};

pub use side::Side;
pub use steps::{Observation, Outcome, Seen, Sighting, SocketReport, StepReport};

/// The story of a trace: every socket that plays a part, held against its sequence.
pub struct Story {
    /// One per player, in the cast's order (servers first, each listening socket followed by
    /// the sockets it accepted; then clients), each with its steps and their evidence.
    pub sockets: Vec<SocketReport>,
    /// About the whole trace: its source, missing lenses, the sockets set aside.
    pub notes: Vec<String>,
}

impl Story {
    /// Tells the story of every socket of `trace` (of one side, if asked). Pure and
    /// deterministic; its cost is linear in the number of events.
    pub fn of(trace: &Trace, side: Option<Side>) -> Story {
        Story::of_then(trace, side, |_, _, _| {})
    }

    /// The story, with `then` run on each socket's report as soon as it is made: what the
    /// report was made of is still in the caches then (in a trace of 10^6 events, `trace
    /// check`'s rules, run over every report after all were made, took twice as long an
    /// event as in one of 10^5).
    pub(crate) fn of_then(trace: &Trace, side: Option<Side>, mut then: impl FnMut(&index::Index, &cast::Player, &mut SocketReport)) -> Story {
        let index = index::Index::build(&trace.events);
        let calls_lens = !matches!(trace.header.lenses.calls, LensStatus::Unavailable { .. });
        let cast = cast::cast(&index, calls_lens);
        let notes = reasons::trace_notes(trace, &cast.unused, &index);
        let explained = align::Explained::default();
        let sockets = cast
            .players
            .iter()
            .filter(|p| side.is_none_or(|side| p.sequence.role == side.role()))
            .map(|player| {
                let mut report = align::align(trace, &index, &cast, player, &explained);
                then(&index, player, &mut report);
                report
            })
            .collect();
        Story { sockets, notes }
    }
}
