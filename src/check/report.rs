//! The verdict of `trace check`: per socket, per step, met (with its evidence) or not met
//! (with the reasons). The terminal shows it with [`crate::render::check`].

use crate::story::{Outcome, Side, SocketReport, StepReport};
use crate::trace::Trace;

/// Exit status of `trace check`: 0 conforms, 1 deviations found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Conforms,
    Deviations,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Conforms => 0,
            Verdict::Deviations => 1,
        }
    }
}

/// The whole check of one trace. It borrows the trace to print evidence in plain words.
#[derive(Clone, Debug, PartialEq)]
pub struct Report<'t> {
    pub trace: &'t Trace,
    pub side: Option<Side>,
    /// About the whole trace: its source, missing lenses, sockets not checked.
    pub notes: Vec<String>,
    /// Deviations of the whole trace (nothing to check at all).
    pub problems: Vec<String>,
    pub sockets: Vec<SocketReport>,
}

impl<'t> Report<'t> {
    pub(crate) fn new(trace: &'t Trace, side: Option<Side>) -> Report<'t> {
        Report { trace, side, notes: Vec::new(), problems: Vec::new(), sockets: Vec::new() }
    }

    pub fn conforms(&self) -> bool {
        self.problems.is_empty() && self.sockets.iter().all(SocketReport::conforms)
    }

    pub fn verdict(&self) -> Verdict {
        if self.conforms() {
            Verdict::Conforms
        } else {
            Verdict::Deviations
        }
    }

    /// Every step not met, as (socket, step).
    pub fn deviations(&self) -> impl Iterator<Item = (&SocketReport, &StepReport)> {
        self.sockets.iter().flat_map(|s| s.steps.iter().filter(|st| st.outcome() == Outcome::NotMet).map(move |st| (s, st)))
    }

    /// Every reason given, for tests and summaries: `c1 exchange: send before connect returned…`.
    pub fn reasons(&self) -> impl Iterator<Item = &str> {
        self.problems.iter().map(String::as_str).chain(self.deviations().flat_map(|(_, st)| st.reasons.iter().map(String::as_str)))
    }
}
