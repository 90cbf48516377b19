//! A trace as the steps of a replay: what the book's replay widget and `trace replay` show,
//! computed once, here. Each step is one event (or a call's start and end when nothing
//! happened between them), in plain words, with every field for a detail view, each socket's
//! state after it, and where the documented sequences stand.
//!
//! - `progress.rs`: where the documented sequences stand at each step, from the story's
//!   evidence (the same `trace check` cites);
//! - `detail.rs`: the words and fields of each step;
//! - `go_to.rs`: finding a step by its number or by the documented step it shows;
//! - `resent.rs`: which packets were sent again, for the ladder's marks.

pub(crate) mod detail;
mod go_to;
pub(crate) mod progress;
mod resent;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::event::{Body, Event, Origin, Peer, Role, SockId};
use crate::sequence::{self, Part, Sequence};
use crate::state_path::{Mark, Row, StatePaths};
use crate::story::Story;
use crate::tcp::state::State;
use crate::trace::{LensStatus, Source, Trace};
use crate::wording::PeerNames;
pub use progress::Progress;
use progress::Ticks;

/// A whole replay, serialized as the book embeds it.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    pub command: String,
    pub source: Source,
    /// Where the events come from, in one line: observed or modelled, lens by lens.
    pub provenance: String,
    pub sequences: [&'static Sequence; 2],
    pub steps: Vec<Step>,
}

/// Which lens a step comes from, for the replay's filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lens {
    Call,
    Packet,
    State,
    /// A reset or retransmission the kernel reported.
    Kernel,
}

/// One step of the replay.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The events this step shows: one, or a call's start and its end.
    pub first: usize,
    pub last: usize,
    /// Nanoseconds since the trace's first event.
    pub t: u64,
    pub side: Role,
    /// In a session of peers: the program of this step (its role on the socket is `side`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
    pub lens: Lens,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<SockId>,
    /// The step in plain words, as the terminal timeline writes it.
    pub text: String,
    /// A short form for a ladder diagram.
    pub label: String,
    /// A packet's sender and receiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<SockId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<SockId>,
    /// Every field of the event(s), as (name, value).
    pub detail: detail::Detail,
    /// A packet dropped on purpose: who dropped it (the ladder draws it stopping short).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
    /// A segment sent again: the kernel reported a retransmission, or its sequence space
    /// was sent before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resent: bool,
    /// The move this step shows on a socket's state path, as the state diagram lights it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<Move>,
    /// The sockets this step first shows or moves, as they are after it; every socket's
    /// view after a step is [`Replay::sockets_at`]. Only the changes are kept, so that a
    /// replay grows with its trace, not with its steps times its sockets.
    pub sockets: Vec<SocketView>,
    /// Where each documented sequence stands after this step, in the order of [`sequence::of_trace`] (the trace's two sequences).
    pub progress: [Progress; 2],
}

/// A socket and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SocketView {
    pub id: SockId,
    pub role: Role,
    /// In a session of peers: the program the socket belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
    /// Its part in the documented sequences, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
    /// Where its state path is (`state_path`): the state it is in after this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// How that state was learned, where not simply reported by the kernel: `modelled`,
    /// `reported CLOSED`, `≠RFC: fin-ack-in-two-steps`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
}

/// A move on a socket's state path: the arrow of RFC 9293's diagram it takes, if it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Move {
    pub socket: SockId,
    pub from: State,
    pub to: State,
    /// The documented way Linux differs from RFC 9293 here, by its id (`tcp::linux`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differs: Option<&'static str>,
}

impl Move {
    fn of(row: &Row, socket: Option<&SockId>) -> Option<Move> {
        let differs = match row.mark {
            Mark::Linux(difference) => Some(difference.id),
            _ => None,
        };
        Some(Move { socket: socket?.clone(), from: row.from, to: row.to, differs })
    }
}

impl Replay {
    pub fn of(trace: &Trace) -> Replay {
        let events = &trace.events;
        let sequences = sequence::of_trace(events);
        let ticks = Ticks::of(&Story::of(trace, None), sequences, events.len());
        let mut shown = [None, None];
        let t0 = events.first().map_or(0, |e| e.t);
        let mut states = SocketStates { peers: PeerNames::of(events), ..SocketStates::default() };
        let mut resent = resent::Resent::default();
        let mut steps = Vec::new();
        let label_modelled = trace.header.source != Source::Simulated;
        let mut i = 0;
        // Events shown by no step of their own (a kernel report of where a socket's path
        // already is): the next step also stands for them.
        let mut unshown = None;
        while i < events.len() {
            let last = if merges(events, i) { i + 1 } else { i };
            let (mut row, mut moved, mut again) = (None, None, false);
            for e in &events[i..=last] {
                again |= resent.follow(e);
                if let Some(now) = states.apply(e, &ticks) {
                    moved = Move::of(&now, now.socket(e));
                    row = Some(now);
                }
            }
            if matches!(events[i].body, Body::State(_)) && row.is_none() {
                unshown = unshown.or(Some(i));
                i = last + 1;
                continue;
            }
            let words = detail::words(events, i, last, label_modelled, row.as_ref());
            let event = &events[i];
            steps.push(Step {
                first: i,
                last,
                t: event.t.saturating_sub(t0),
                side: event.actor.role,
                peer: event.actor.peer,
                lens: lens(event),
                origin: event.origin,
                socket: event.socket.clone().or_else(|| events[last].socket.clone()),
                text: words.text,
                label: words.label,
                from: words.from,
                to: words.to,
                detail: words.detail,
                dropped: event.packet().and_then(|p| p.dropped.clone()),
                resent: again,
                moved,
                sockets: states.changed(),
                progress: ticks.progress(unshown.take().unwrap_or(i), last, &mut shown),
            });
            i = last + 1;
        }
        Replay { command: trace.header.command.clone(), source: trace.header.source, provenance: provenance(trace), sequences, steps }
    }

    /// Every socket seen up to step `index`, as it is after that step, in name order.
    pub fn sockets_at(&self, index: usize) -> Vec<SocketView> {
        let mut views: BTreeMap<&SockId, &SocketView> = BTreeMap::new();
        for step in self.steps.iter().take(index.saturating_add(1)) {
            for view in &step.sockets {
                views.insert(&view.id, view);
            }
        }
        views.into_values().cloned().collect()
    }
}

/// A call's start and end make one step when nothing happened between them.
fn merges(events: &[Event], i: usize) -> bool {
    match (&events[i].body, events.get(i + 1).map(|e| &e.body)) {
        (Body::CallStart(start), Some(Body::CallEnd(end))) => start.id == end.id,
        _ => false,
    }
}

fn lens(event: &Event) -> Lens {
    match event.body {
        Body::CallStart(_) | Body::CallEnd(_) | Body::Process(_) => Lens::Call,
        Body::Packet(_) => Lens::Packet,
        Body::State(_) => Lens::State,
        Body::Kernel(_) => Lens::Kernel,
    }
}

fn provenance(trace: &Trace) -> String {
    if trace.header.source == Source::Simulated {
        return "simulated by the RFC 9293 model: every event is modelled, none observed".to_string();
    }
    let lens = |name: &str, status: &LensStatus| match status {
        LensStatus::Observed => format!("{name} observed"),
        LensStatus::Modelled => format!("{name} modelled"),
        LensStatus::Unavailable { reason } => format!("{name} unavailable ({reason})"),
    };
    let l = &trace.header.lenses;
    let source = match trace.header.source {
        Source::Live => "live",
        Source::Imported => "imported from a capture",
        Source::Simulated => unreachable!("handled above"),
    };
    format!("{source}: {}, {}, {}", lens("calls", &l.calls), lens("packets", &l.packets), lens("states", &l.states))
}

/// Each socket's role and states as the trace goes.
#[derive(Default)]
struct SocketStates {
    sockets: BTreeMap<SockId, SocketView>,
    peers: PeerNames,
    paths: StatePaths,
    /// The sockets first seen or moved since the last step was made.
    changed: Vec<SockId>,
}

impl SocketStates {
    /// Follows one event; a state change's row of its socket's path, if it shows one.
    fn apply(&mut self, event: &Event, ticks: &Ticks) -> Option<Row> {
        let row = self.paths.follow(event);
        let mut named: Vec<&SockId> = event.socket.iter().collect();
        match &event.body {
            Body::CallEnd(end) => named.extend(end.new_socket.as_ref()),
            Body::Packet(p) => named.extend(p.to.as_ref()),
            _ => {}
        }
        for id in named {
            let role = if event.packet().is_some() && event.socket.as_ref() != Some(id) { event.actor.role.other() } else { event.actor.role };
            if self.sockets.contains_key(id) {
                continue;
            }
            self.changed.push(id.clone());
            let view = SocketView { id: id.clone(), role, peer: self.peers.peer(id), part: ticks.part_of(id), state: None, mark: None };
            self.sockets.insert(id.clone(), view);
        }
        if let Some((row, id)) = row.and_then(|row| Some((row, row.socket(event)?))) {
            let Some(view) = self.sockets.get_mut(id) else { return Some(row) };
            self.changed.push(id.clone());
            view.state = Some(row.to);
            view.mark = match (row.mark, row.reported) {
                (Mark::Modelled, _) => Some("modelled".to_string()),
                (_, Some(reported)) => Some(format!("reported {reported}")),
                (Mark::Linux(difference), None) => Some(format!("≠RFC: {}", difference.id)),
                (Mark::Unexplained { model }, None) => Some(format!("⚠ model: {model}")),
                (Mark::Agreed, None) => None,
            };
        }
        row
    }

    /// The views of the sockets changed since the last call, each once, in name order.
    fn changed(&mut self) -> Vec<SocketView> {
        let mut changed = std::mem::take(&mut self.changed);
        changed.sort_unstable();
        changed.dedup();
        changed.iter().filter_map(|id| self.sockets.get(id)).cloned().collect()
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read scenario__story
mod tests {
    use super::*;
    use crate::trace::read_trace;

    #[test]
    fn each_step_keeps_only_the_sockets_it_changes_and_every_view_folds_from_them() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/lessons/clients3.jsonl");
        let trace = read_trace(std::path::Path::new(path)).expect("the fixture");
        let replay = Replay::of(&trace);
        let kept: usize = replay.steps.iter().map(|s| s.sockets.len()).sum();
        let states = trace.events.iter().filter(|e| e.state().is_some()).count();
        let sockets = replay.sockets_at(replay.steps.len() - 1);
        assert!(kept <= sockets.len() + states, "{kept} views kept for {} sockets and {states} state changes", sockets.len());
        // At the end every client is in TIME-WAIT (it closed first) and every other socket
        // CLOSED, as the sockets' paths end.
        for view in &sockets {
            let expected = if view.id.0.starts_with('c') { State::TimeWait } else { State::Closed };
            assert_eq!(view.state, Some(expected), "{view:?}");
        }
        // A step in the middle folds the changes before it, and no later one.
        let middle = replay.steps.len() / 2;
        let at_middle = replay.sockets_at(middle);
        assert!(at_middle.len() <= sockets.len());
        for view in &at_middle {
            let last_change = replay.steps[..=middle].iter().rev().find_map(|s| s.sockets.iter().find(|v| v.id == view.id));
            assert_eq!(Some(view), last_change);
        }
    }

    fn replay_of(name: &str) -> Replay {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lessons").join(name);
        Replay::of(&read_trace(&path).expect("the fixture"))
    }

    #[test]
    fn lost_syn__the_dropped_syn_is_lost_and_the_next_one_resent() {
        let replay = replay_of("lost-syn.jsonl");
        let syns: Vec<&Step> = replay.steps.iter().filter(|s| s.lens == Lens::Packet && s.label == "SYN").collect();
        assert_eq!(syns.len(), 2, "the lost SYN and the one sent again");
        assert!(syns[0].dropped.is_some() && !syns[0].resent, "{:?}", syns[0].detail);
        assert!(syns[1].dropped.is_none() && syns[1].resent);
        assert!(syns[0].detail.iter().any(|(name, value)| name == "dropped" && value.contains('✗')));
        let others = replay.steps.iter().filter(|s| s.lens == Lens::Packet && s.label != "SYN");
        assert!(others.clone().all(|s| s.dropped.is_none() && !s.resent), "only the SYNs are lost or resent");
    }

    #[test]
    fn echo__the_third_ack_moves_the_child_through_syn_received_as_linux_documents() {
        let replay = replay_of("echo.jsonl");
        let moves: Vec<&Move> = replay.steps.iter().filter_map(|s| s.moved.as_ref()).filter(|m| m.socket.0 == "s2").collect();
        let path: Vec<(State, State, Option<&str>)> = moves.iter().map(|m| (m.from, m.to, m.differs)).collect();
        assert_eq!(
            path[..2],
            [(State::Listen, State::SynReceived, Some("child-born-at-third-ack")), (State::SynReceived, State::Established, None)],
            "{path:?}"
        );
        assert!(replay.steps.iter().all(|s| !s.resent && s.dropped.is_none()), "nothing lost, nothing resent");
    }
}
