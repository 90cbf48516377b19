//! What a program must not do, whatever evidence its steps show: begin a later step's call
//! before the earlier step's call returned, make a call its part never makes, or carry data
//! before the handshake completed. Each rule adds its reason (or, for a sound call outside
//! the sequence, a note) to the step concerned.

use crate::event::{Body, Event, Verb};
use crate::sequence::Evidence;
use crate::story::align::{concerns, packets_of, slot, CALL_SLOTS};
use crate::story::cast::Player;
use crate::story::index::{Index, PacketFact, SocketLog};
use crate::story::reasons;
use crate::story::{Seen, SocketReport, StepReport};
use crate::tcp::flags::TcpFlags;
use crate::trace::Trace;

pub(super) fn apply(trace: &Trace, index: &Index, player: &Player, report: &mut SocketReport) {
    let events = &trace.events;
    let log = index.socket(player.log);
    calls_in_step_order(events, log, report);
    calls_of_the_part(events, log, player, report);
    data_after_the_handshake(index, log, report);
}

/// A call found as a step's evidence: its name, where it began, where it returned.
type Span = (Verb, usize, Option<usize>);

fn spans(events: &[Event], log: SocketLog, step: &StepReport) -> Vec<Span> {
    step.evidence
        .iter()
        .filter_map(|o| match (o.evidence, o.seen) {
            (Evidence::Call { call, .. }, Seen::At(s)) => Some(match s.other_half {
                Some(end) => (call, s.event, Some(end)),
                // A start still running, or an end whose start is not in the trace (the end is
                // then all we know). The socket's own list of calls says which, where going
                // back to the event would fetch it from anywhere in a large trace.
                None => {
                    let end_only = match log.calls.iter().find(|c| c.at() == s.event) {
                        Some(c) => c.start.is_none(),
                        None => !matches!(events[s.event].body, Body::CallStart(_)),
                    };
                    (call, s.event, end_only.then_some(s.event))
                }
            }),
            _ => None,
        })
        .collect()
}

/// Each step's calls begin after the previous step's calls returned: a program sends once
/// connect() has returned, and closes once it is done sending and receiving.
fn calls_in_step_order(events: &[Event], log: SocketLog, report: &mut SocketReport) {
    let mut previous: Vec<Span> = Vec::new();
    for step in &mut report.steps {
        let calls = spans(events, log, step);
        if calls.is_empty() {
            continue;
        }
        for &(later, at, _) in &calls {
            let early = previous.iter().find(|&&(_, started, returned)| at < started || returned.is_none_or(|r| at < r));
            if let Some(&(earlier, started, returned)) = early {
                step.reasons.push(reasons::out_of_order(later, at, earlier, started, returned));
            }
        }
        previous = calls;
    }
}

/// The step a call outside the sequence is reported under: the step the program should have
/// taken next (the first to begin after the call), else the last one reached.
fn step_at(report: &mut SocketReport, at: usize) -> Option<&mut StepReport> {
    let next = report.steps.iter().position(|s| s.began().is_some_and(|b| b > at));
    let last_reached = report.steps.iter().rposition(|s| s.reached);
    let target = next.or(last_reached).or(report.steps.len().checked_sub(1))?;
    report.steps.get_mut(target)
}

/// Every call the socket makes is one its part makes in the documented sequence, or a sound
/// variation (a note), or a deviation.
fn calls_of_the_part(events: &[Event], log: SocketLog, player: &Player, report: &mut SocketReport) {
    let mut expected = [false; CALL_SLOTS];
    for evidence in player.sequence.steps.iter().flat_map(|s| s.evidence).filter(|e| concerns(e, player.part)) {
        if let Evidence::Call { call, .. } | Evidence::ServerAddress { call, .. } = *evidence {
            expected[slot(call)] = true;
        }
    }
    let made_at = log.created.map(|m| m.end);
    for call in log.calls {
        // The call that made the socket is the first step's evidence.
        if made_at.is_some() && call.end == made_at {
            continue;
        }
        // Options (TCP_NODELAY, SO_REUSEADDR…), names asked, modes set and readiness waited
        // for change how a program reaches a step, not where the socket is in its life: no
        // step of the sequences, and no break of them.
        if expected[slot(call.name)] || !call.name.is_step() {
            continue;
        }
        let at = call.at();
        let how = match &events[at].body {
            Body::CallStart(start) => start.args.how.as_deref(),
            _ => None,
        };
        let tolerated = reasons::tolerated(player.part, call.name, log.is_datagram(), at, how);
        let Some(step) = step_at(report, at) else { continue };
        match tolerated {
            Some(note) => step.notes.push(note),
            None => {
                step.reasons.push(reasons::unexpected(player.part, call.name, at));
                step.reached = true;
            }
        }
    }
}

/// RFC 9293 §3.5: data flows once the handshake is complete. On the wire that is the
/// client's ACK of the SYN|ACK: the client may send data right behind it, before the server
/// has even received it, but no segment with payload may come before it.
fn data_after_the_handshake(index: &Index, log: SocketLog, report: &mut SocketReport) {
    let is_syn = |e: &Evidence| matches!(*e, Evidence::Packet { flags, .. } if flags == TcpFlags::SYN);
    let Some(handshake) = report.steps.iter().find(|s| s.evidence.iter().any(|o| is_syn(&o.evidence))) else { return };
    let third_ack = handshake.evidence.iter().find_map(|o| match (o.evidence, o.seen) {
        (Evidence::Packet { flags, data: false, .. }, Seen::At(s)) if flags == TcpFlags::ACK => Some(s.event),
        _ => None,
    });
    let (Some(done), Some(began)) = (third_ack, handshake.began()) else { return };
    let early = packets_of(index, log).iter().find(|p| p.at >= began && p.at < done && p.len > 0);
    let Some(&PacketFact { at, len, .. }) = early else { return };
    let carries_data = |s: &&mut StepReport| s.evidence.iter().any(|o| matches!(o.evidence, Evidence::Packet { data: true, .. }));
    if let Some(step) = report.steps.iter_mut().find(carries_data) {
        step.reasons.push(reasons::data_before_handshake(at, len, done));
    }
}
