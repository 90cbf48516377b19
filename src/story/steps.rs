//! What the story of one socket is made of: per documented step, the evidence the trace shows
//! (or why it does not), and the step's outcome.

use std::net::SocketAddr;

use crate::event::SockId;
use crate::sequence::{Evidence, Part, Sequence, Step};

/// Where the trace shows a piece of evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// The event's index in the trace (printed `#index+1`).
    pub event: usize,
    /// For a call, its other half (the end of a start, the start of an end), so that it can
    /// be printed whole.
    pub other_half: Option<usize>,
}

/// What the trace shows of one piece of evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    At(Sighting),
    Missing,
    /// The lens that would show it did not run.
    Unobserved,
    /// Not looked for: an earlier step failed, so there is no connection for it to belong to.
    Moot,
}

/// One piece of evidence a step asks for, and what the trace shows of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub evidence: Evidence,
    /// The event cited for it (the first that shows it).
    pub seen: Seen,
    /// Other events that show the same evidence, in trace order: a segment sent again, every
    /// data segment of an exchange, every `send` and `recv` after the first. A replay lights
    /// them too; a check cites the first.
    pub also: Vec<usize>,
}

impl Observation {
    /// Every event that shows this evidence: the cited one (and its other half), then the rest.
    pub fn events(&self) -> impl Iterator<Item = usize> + '_ {
        let cited = match self.seen {
            Seen::At(s) => [Some(s.event), s.other_half],
            _ => [None, None],
        };
        cited.into_iter().flatten().chain(self.also.iter().copied())
    }
}

/// A step's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Met,
    /// The step happened, and the connection's story ended there as it must (a connect
    /// refused by the kernel because nobody listens): not a deviation.
    Ended,
    NotMet,
    /// An earlier step was not met and the trace shows nothing of this one.
    NotReached,
    /// Everything this step would show comes from lenses that did not run.
    NotObserved,
}

impl Outcome {
    pub fn words(self) -> &'static str {
        match self {
            Outcome::Met => "met",
            Outcome::Ended => "ended",
            Outcome::NotMet => "not met",
            Outcome::NotReached => "not reached",
            Outcome::NotObserved => "not observed",
        }
    }
}

/// One step of one socket's sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    pub step: &'static Step,
    /// The evidence that concerns this socket, in the sequence's order.
    pub evidence: Vec<Observation>,
    /// Why the step is not met; empty when it is.
    pub reasons: Vec<String>,
    /// What a learner should know about how the step happened: not failures.
    pub notes: Vec<String>,
    /// False when an earlier step stopped the sequence and nothing of this one happened.
    pub reached: bool,
    /// The step happened and ended the sequence, as it must (see [`Outcome::Ended`]).
    pub ended: bool,
}

impl StepReport {
    pub(crate) fn new(step: &'static Step) -> StepReport {
        StepReport { step, evidence: Vec::new(), reasons: Vec::new(), notes: Vec::new(), reached: true, ended: false }
    }

    pub fn outcome(&self) -> Outcome {
        if !self.reasons.is_empty() {
            Outcome::NotMet
        } else if self.ended {
            Outcome::Ended
        } else if !self.reached {
            Outcome::NotReached
        } else if self.evidence.iter().all(|o| matches!(o.seen, Seen::Unobserved | Seen::Moot)) {
            Outcome::NotObserved
        } else {
            Outcome::Met
        }
    }

    /// The earliest event the step's evidence was found at.
    pub(crate) fn began(&self) -> Option<usize> {
        self.evidence
            .iter()
            .filter_map(|o| match o.seen {
                Seen::At(s) => Some(s.event),
                _ => None,
            })
            .min()
    }
}

/// One socket held against its sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketReport {
    pub socket: SockId,
    pub part: Part,
    pub sequence: &'static Sequence,
    /// For an accepted socket: the listening socket it came from.
    pub listener: Option<SockId>,
    /// For a connection socket: its peer's address.
    pub peer: Option<SocketAddr>,
    pub steps: Vec<StepReport>,
}

impl SocketReport {
    pub fn conforms(&self) -> bool {
        self.steps.iter().all(|s| s.outcome() != Outcome::NotMet)
    }
}
