//! What the tests hold every trace's story to: each piece of evidence a met step cites is an
//! event of the socket whose story it tells, and the replay lights exactly the evidence the
//! check cites (one answer, read by both).

use std::collections::BTreeSet;

use socktrace::check::{check, CheckOptions, Outcome};
use socktrace::event::{Body, Event, SockId};
use socktrace::replay::Replay;
use socktrace::trace::Trace;

/// Whether `event` is about `socket`: its own call (or the call that made it), a packet it
/// sent or received, its state change or kernel note, a process change naming it.
fn about(event: &Event, socket: &SockId) -> bool {
    if event.socket.as_ref() == Some(socket) {
        return true;
    }
    match &event.body {
        Body::CallEnd(end) => end.new_socket.as_ref() == Some(socket),
        Body::Packet(packet) => packet.to.as_ref() == Some(socket),
        Body::Process(change) => change.sockets().any(|s| s == socket),
        _ => false,
    }
}

/// Every event a met step cites is its own socket's; `Err` names the first that is not.
pub fn evidence_is_its_own_sockets(trace: &Trace) -> Result<(), String> {
    let report = check(trace, &CheckOptions::default());
    for socket in &report.sockets {
        for step in socket.steps.iter().filter(|s| s.outcome() == Outcome::Met) {
            for observation in &step.evidence {
                // A call is cited by both halves; one of them names the socket (`socket()`'s
                // start has no socket yet: its end names it).
                let cited: Vec<Vec<usize>> = match observation.seen {
                    socktrace::check::Seen::At(s) => vec![std::iter::once(s.event).chain(s.other_half).collect()],
                    _ => Vec::new(),
                };
                for halves in cited.into_iter().chain(observation.also.iter().map(|&e| vec![e])) {
                    let event = halves[0];
                    if !halves.iter().any(|&e| about(&trace.events[e], &socket.socket)) {
                        // An accepted socket's handshake begins on its listener: the SYN and SYN|ACK
                        // the listening socket exchanged for it.
                        let of_listener = socket.listener.as_ref().is_some_and(|l| about(&trace.events[event], l));
                        if !of_listener {
                            return Err(format!("{} step {}: event #{} is not about it: {:?}", socket.socket, step.step.id, event + 1, trace.events[event]));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The replay lights, per documented step, exactly the events the check cites for it.
pub fn replay_agrees_with_check(trace: &Trace) -> Result<(), String> {
    let report = check(trace, &CheckOptions::default());
    let replay = Replay::of(trace);
    for (k, sequence) in replay.sequences.iter().enumerate() {
        for documented in sequence.steps {
            let cited: BTreeSet<usize> = report
                .sockets
                .iter()
                .filter(|s| std::ptr::eq(s.sequence, *sequence))
                .flat_map(|s| s.steps.iter().filter(|st| st.step.id == documented.id))
                .flat_map(|st| st.evidence.iter().flat_map(|o| o.events().collect::<Vec<_>>()))
                .collect();
            let lit: BTreeSet<usize> =
                replay.steps.iter().filter(|s| s.progress[k].is_at(documented.id)).flat_map(|s| s.first..=s.last).filter(|e| cited.contains(e)).collect();
            if lit != cited {
                let missing: Vec<usize> = cited.difference(&lit).map(|e| e + 1).collect();
                return Err(format!("{} {}: the check cites events the replay does not light: {missing:?}", sequence.id, documented.id));
            }
        }
    }
    Ok(())
}
