//! What differs between two traces once both are normalized: the first snapshot line that is
//! not the same, and the documented step its event belongs to.

use crate::check::{self, CheckOptions, Seen};
use crate::event::Body;
use crate::trace::Trace;

use super::snapshot::snapshot_lines;

/// The first difference between two traces' snapshots: the first line that differs among the
/// programs' calls (what a student wrote), and, where they came earlier, the kernel's lines
/// that differ first (a packet sent at another moment, an ACK sent alone or with data: the
/// kernel's timing, or the consequence of a call, never a call of the program's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// 1-based line of each snapshot (without its header): the calls before it are the same,
    /// the kernel's lines around them need not be.
    pub line: (usize, usize),
    /// The line in each trace; `None` where that snapshot has already ended.
    pub left: Option<String>,
    pub right: Option<String>,
    /// The lines of the left snapshot just before the difference.
    pub context: Vec<String>,
    /// The documented step the differing event belongs to, in words: `in c1's step "…"`, or
    /// `after …` for an event that is evidence of no step.
    pub step: Option<String>,
    pub lengths: (usize, usize),
    /// Where a kernel's line differs before the first differing call.
    pub kernel_first: Option<KernelFirst>,
}

/// A kernel's line (a packet, a state) that differs before any call does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelFirst {
    /// 1-based line of the left snapshot.
    pub line: usize,
    pub left: Option<String>,
    pub right: Option<String>,
}

/// `None` when the two traces normalize to the same text.
pub fn first_difference(a: &Trace, b: &Trace) -> Option<Difference> {
    let (left, right) = (snapshot_lines(&a.events), snapshot_lines(&b.events));
    let text = |lines: &[(String, usize)], i: usize| lines.get(i).map(|l| l.0.clone());
    let first_line = (0..left.len().max(right.len())).find(|&i| left.get(i).map(|l| &l.0) != right.get(i).map(|r| &r.0))?;
    // The programs' calls alone, each with its line: the first that differs is what the
    // programs did differently.
    let calls = |trace: &Trace, lines: &[(String, usize)]| -> Vec<usize> {
        (0..lines.len()).filter(|&i| matches!(trace.events[lines[i].1].body, Body::CallStart(_) | Body::CallEnd(_))).collect()
    };
    let (left_calls, right_calls) = (calls(a, &left), calls(b, &right));
    let first_call = (0..left_calls.len().max(right_calls.len())).find(|&k| left_calls.get(k).map(|&i| &left[i].0) != right_calls.get(k).map(|&i| &right[i].0));
    // Lines of each snapshot where the difference is told: of the first differing call, or
    // (when every call is the same) of the first differing line.
    let (at_left, at_right) = match first_call {
        Some(k) => (left_calls.get(k).copied().unwrap_or(left.len()), right_calls.get(k).copied().unwrap_or(right.len())),
        None => (first_line, first_line),
    };
    let kernel_first =
        (first_line < at_left.min(at_right)).then(|| KernelFirst { line: first_line + 1, left: text(&left, first_line), right: text(&right, first_line) });
    // The step: of the left trace's event, or of the right's where the left has ended.
    let step = match (left.get(at_left), right.get(at_right)) {
        (Some((_, event)), _) => step_of(a, *event),
        (None, Some((_, event))) => step_of(b, *event),
        (None, None) => None,
    };
    Some(Difference {
        line: (at_left + 1, at_right + 1),
        left: text(&left, at_left),
        right: text(&right, at_right),
        context: left[at_left.saturating_sub(3)..at_left].iter().map(|l| l.0.clone()).collect(),
        step,
        lengths: (left.len(), right.len()),
        kernel_first,
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
