//! `trace check`: holds every socket of a trace against the documented sequence of the part
//! it plays, and says for each step whether the trace shows it (with the evidence) or not
//! (with the reason). Differences between the textbook and Linux are notes, not failures.
//!
//! Which socket plays which part, and which events show each step, is the story's to tell
//! ([`crate::story`]); the check adds what a program must not do and the verdict:
//!
//! - `model.rs`: kernel state changes the shadowing RFC 9293 model did not expect, beyond the
//!   documented Linux differences (findings);
//! - `rules.rs`: what the program must not do: calls out of order, calls its part never makes,
//!   data before the handshake completed;
//! - `report.rs`: the verdict, per socket and step (the terminal shows it with
//!   [`crate::render::check`]);
//!
//! A decision about the `refused` scenario: a connect answered by a reset ends the documented
//! sequence early, and the program can do nothing about it but close its socket. So it is a
//! note, not a deviation: the later steps are not reached, and the close is still checked.

mod model;
mod report;
mod rules;

use crate::story::{reasons, Story};
use crate::trace::Trace;

pub use crate::story::{Observation, Outcome, Seen, Side, Sighting, SocketReport, StepReport};
pub use report::{Report, Verdict};

/// What `check` is asked to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Check only this side's sockets; `None` checks every socket the trace shows.
    pub side: Option<Side>,
}

/// Holds every socket of `trace` (of one side, if asked) against its documented sequence.
/// Pure and deterministic; its cost is linear in the number of events.
pub fn check<'t>(trace: &'t Trace, options: &CheckOptions) -> Report<'t> {
    let mut story = Story::of_then(trace, options.side, |index, player, socket| rules::apply(trace, index, player, socket));
    let mut report = Report::new(trace, options.side);
    report.notes.append(&mut story.notes);
    // The model's surprises are findings about the kernel, not steps the program missed.
    report.notes.extend(model::disagreements(trace));
    report.sockets.append(&mut story.sockets);
    if report.sockets.is_empty() {
        report.problems.push(reasons::nothing_to_check(options.side, trace));
    }
    report
}
