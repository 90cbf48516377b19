//! What a normalized view leaves out, and what it joins, because it changes from run to run
//! of the same correct programs while the programs do the same:
//!
//! - reads of a descriptor's flags (`fcntl(F_GETFD)`, `fcntl(F_GETFL)`): they change nothing,
//!   and runtimes make them as they please (Rust's standard library, built with debug
//!   assertions, checks each descriptor it closes with `F_GETFD`); the `F_SETFL` that makes a
//!   socket non-blocking stays;
//! - retries: a call that found nothing to do yet (`EAGAIN`) or was interrupted (`EINTR`) is
//!   made again; whether it had to be depends on timing;
//! - readiness calls (`poll`, `select`, `epoll_wait`…): how many turns an event loop takes,
//!   and which sockets each finds ready together, is timing (the calls they wait for stay,
//!   and a blocking call still shows that it blocked);
//! - a state change to the state the socket is in already (a `close` after `shutdown`, logged
//!   only while the FIN is not yet acknowledged);
//! - sockets that played no part (`o1`…: a runtime's probes, which differ from one version of
//!   the runtime to the next) and process changes that name no socket;
//! - how a stream's bytes were split among reads: consecutive reads on one socket, by one
//!   process, with no other call on it between, read one stream, and show as one read of all
//!   their bytes.
//!
//! What a lesson checks stays: every step, every segment (less the pure ACKs `acks.rs` leaves
//! out), relative numbers, who closes first, which call blocked.

use super::call_ids::ByCallId;
use crate::event::{Body, CallEnd, CallName, Event, Preview, ProcessChange, SockId, SockKind, Verb};
use crate::hash::{FastMap, FastSet};

/// The events a view keeps, and the reads it joins.
pub(crate) struct Folded {
    pub(crate) keep: Vec<bool>,
    /// For the end of the first read of a run of reads: the whole run's bytes.
    pub(crate) joined: FastMap<usize, CallEnd>,
}

/// Whether an event is noise (see the module's words).
fn noise(event: &Event, left_out: &FastSet<u64>) -> bool {
    if event.socket.as_ref().is_some_and(|s| s.kind() == Some(SockKind::Idle)) {
        return true;
    }
    match &event.body {
        Body::CallStart(start) => waits(start.call) || left_out.contains(&start.id),
        Body::CallEnd(end) => waits(end.call) || left_out.contains(&end.id),
        Body::Process(change) => change.sockets().next().is_none() && !matches!(change, ProcessChange::Untraced { .. }),
        // Linux logs a close in FIN-WAIT-1 after a shutdown as FIN-WAIT-1 → FIN-WAIT-1 when its
        // FIN is not yet acknowledged, and nothing when it is: no change of state, and timing.
        Body::State(change) => change.from == change.to,
        _ => false,
    }
}

/// Whether a call is a readiness call (`poll`, `select`, `epoll_wait`…, not `epoll_ctl`,
/// which registers a socket as the program's logic says).
fn waits(call: CallName) -> bool {
    call.verb() == Verb::Wait && call != CallName::EpollCtl
}

/// Whether a call's end makes it a retry: it found nothing to do yet, or was interrupted.
fn retry(end: &CallEnd) -> bool {
    end.errno.as_ref().is_some_and(|e| matches!(e.name.as_str(), "EAGAIN" | "EINTR"))
}

/// The calls left out whole, found event by event: those whose (last) end makes them
/// retries, and reads of a descriptor's flags. Few, so that asking is cheap. Found in the pass
/// a view makes for other ends too: each pass over a trace of a million events reads it from
/// memory anew.
#[derive(Default)]
pub(crate) struct LeftOut {
    retried: FastSet<u64>,
    mode_reads: FastSet<u64>,
}

impl LeftOut {
    /// Looks at the next event.
    pub(crate) fn see(&mut self, event: &Event) {
        match &event.body {
            Body::CallStart(start) if start.reads_mode() => {
                self.mode_reads.insert(start.id);
            }
            Body::CallEnd(end) if retry(end) => {
                self.retried.insert(end.id);
            }
            Body::CallEnd(end) if !self.retried.is_empty() => {
                self.retried.remove(&end.id);
            }
            _ => {}
        }
    }

    /// The events kept and the reads joined, once every event has been seen.
    pub(crate) fn fold(self, events: &[Event]) -> Folded {
        let mut left_out = self.retried;
        left_out.extend(self.mode_reads);
        let (keep, joined) = join_reads(events, &left_out);
        Folded { keep, joined }
    }
}

/// Leaves out the noise and joins consecutive successful reads of data on one socket by one
/// process, in one pass: whether an event is noise is decided as it comes (a pass of its own
/// read a trace of a million events from memory once more).
fn join_reads(events: &[Event], left_out: &FastSet<u64>) -> (Vec<bool>, FastMap<usize, CallEnd>) {
    let mut keep = Vec::with_capacity(events.len());
    // Per (socket, process): the run of reads going on.
    let mut runs: FastMap<(&SockId, Option<u32>), Run> = FastMap::default();
    let mut joined: FastMap<usize, CallEnd> = FastMap::default();
    let mut starts: ByCallId<usize> = ByCallId::default();
    for (i, event) in events.iter().enumerate() {
        keep.push(!noise(event, left_out));
        if !keep[i] {
            continue;
        }
        let Some(socket) = &event.socket else { continue };
        let key = (socket, event.actor.pid);
        match &event.body {
            Body::CallStart(start) => {
                *starts.entry(start.id) = Some(i);
                // A call of another kind on the socket ends the run; a read's start does not.
                if start.verb() != Verb::Recv {
                    if let Some(run) = runs.remove(&key) {
                        run.end(&mut joined);
                    }
                }
            }
            Body::CallEnd(end) => {
                let data_read = end.call.verb() == Verb::Recv && end.errno.is_none() && end.ret > 0;
                if !data_read {
                    if let Some(run) = runs.remove(&key) {
                        run.end(&mut joined);
                    }
                    continue;
                }
                match runs.get_mut(&key) {
                    Some(run) => {
                        let (whole, bytes) =
                            run.whole.get_or_insert_with(|| (run.first_end.clone(), run.first_end.data.as_ref().map(Preview::bytes).unwrap_or_default()));
                        whole.ret += end.ret;
                        bytes.extend(end.data.as_ref().map(Preview::bytes).unwrap_or_default());
                        whole.data = Some(Preview::of(bytes));
                        // This read is part of the first one now: its start and end go.
                        keep[i] = false;
                        if let Some(s) = starts.get(end.id) {
                            keep[s] = false;
                        }
                    }
                    None => {
                        runs.insert(key, Run { first: i, first_end: end, whole: None });
                    }
                }
            }
            _ => {}
        }
    }
    for run in runs.into_values() {
        run.end(&mut joined);
    }
    (keep, joined)
}

/// A run of reads: the first read's end, and once another read joined it, the whole run's
/// end and bytes.
struct Run<'e> {
    first: usize,
    first_end: &'e CallEnd,
    whole: Option<(CallEnd, Vec<u8>)>,
}

impl Run<'_> {
    /// A run of more than one read is one read of all its bytes, shown at the first.
    fn end(self, joined: &mut FastMap<usize, CallEnd>) {
        if let Some((whole, _)) = self.whole {
            joined.insert(self.first, whole);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, CallArgs, CallStart, Errno, Origin, Role};

    fn at(body: Body) -> Event {
        Event { t: 0, actor: Actor::role(Role::Server), socket: Some(SockId("s2".into())), origin: Origin::Observed, body }
    }

    fn start(id: u64, call: CallName, flags: Option<&str>) -> Event {
        at(Body::CallStart(CallStart { id, call, fd: Some(4), args: CallArgs { flags: flags.map(str::to_string), ..CallArgs::default() }.into() }))
    }

    fn end(id: u64, call: CallName, errno: Option<&str>) -> Event {
        let errno = errno.map(|name| Errno { code: 11, name: name.to_string() });
        at(Body::CallEnd(CallEnd { errno, ..CallEnd::new(id, call, 0) }))
    }

    #[test]
    fn flag_reads_and_retries_go_while_the_mode_change_and_the_retried_call_stay() {
        let events = [
            start(1, CallName::Fcntl, Some("F_GETFL")),
            end(1, CallName::Fcntl, None),
            start(2, CallName::Fcntl, Some("F_SETFL, O_RDWR|O_NONBLOCK")),
            end(2, CallName::Fcntl, None),
            start(3, CallName::Recv, None),
            end(3, CallName::Recv, Some("EAGAIN")),
            start(4, CallName::Recv, None),
            end(4, CallName::Recv, None),
            start(5, CallName::Fcntl, Some("F_GETFD")),
            end(5, CallName::Fcntl, None),
            start(6, CallName::Close, None),
            end(6, CallName::Close, None),
        ];
        let mut left_out = LeftOut::default();
        events.iter().for_each(|e| left_out.see(e));
        let kept: Vec<usize> = left_out.fold(&events).keep.iter().enumerate().filter(|(_, k)| **k).map(|(i, _)| i).collect();
        assert_eq!(kept, [2, 3, 6, 7, 10, 11]);
    }
}
