//! What differs between two traces once both are normalized: the first snapshot line that is
//! not the same, and the documented step its event belongs to.

use crate::check::{self, CheckOptions, Seen};
use crate::trace::Trace;

use super::snapshot::snapshot_lines;

/// The first difference between two traces' snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// 1-based line of the snapshot (without its header).
    pub line: usize,
    /// The line in each trace; `None` where that snapshot has already ended.
    pub left: Option<String>,
    pub right: Option<String>,
    /// The lines both share just before the difference.
    pub context: Vec<String>,
    /// The documented step the differing event belongs to, in words: `in c1's step "…"`, or
    /// `after …` for an event that is evidence of no step.
    pub step: Option<String>,
    pub lengths: (usize, usize),
}

/// `None` when the two traces normalize to the same text.
pub fn first_difference(a: &Trace, b: &Trace) -> Option<Difference> {
    let (left, right) = (snapshot_lines(&a.events), snapshot_lines(&b.events));
    let at = (0..left.len().max(right.len())).find(|&i| left.get(i).map(|l| &l.0) != right.get(i).map(|r| &r.0))?;
    // The step: of the left trace's event, or of the right's where the left has ended.
    let step = match (left.get(at), right.get(at)) {
        (Some((_, event)), _) => step_of(a, *event),
        (None, Some((_, event))) => step_of(b, *event),
        (None, None) => None,
    };
    Some(Difference {
        line: at + 1,
        left: left.get(at).map(|l| l.0.clone()),
        right: right.get(at).map(|r| r.0.clone()),
        context: left[at.saturating_sub(3)..at].iter().map(|l| l.0.clone()).collect(),
        step,
        lengths: (left.len(), right.len()),
    })
}

/// The documented step whose evidence is `event`, or else the last step shown before it.
fn step_of(trace: &Trace, event: usize) -> Option<String> {
    let report = check::check(trace, &CheckOptions::default());
    let mut best: Option<(usize, String)> = None;
    for socket in &report.sockets {
        for step in &socket.steps {
            for observation in &step.evidence {
                let Seen::At(sighting) = observation.seen else { continue };
                let shown = [Some(sighting.event), sighting.other_half];
                let name = || format!("{}'s step \"{}\" ({})", socket.socket, step.step.title, socket.sequence.title);
                if shown.contains(&Some(event)) {
                    return Some(format!("in {}", name()));
                }
                if sighting.event < event && best.as_ref().is_none_or(|(at, _)| sighting.event > *at) {
                    best = Some((sighting.event, format!("after {}", name())));
                }
            }
        }
    }
    best.map(|(_, words)| words)
}
