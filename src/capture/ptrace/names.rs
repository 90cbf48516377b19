//! Names and roles of traced sockets.
//!
//! A socket's role is what it does, not who made it: a socket that listens, or that `accept`
//! returned, is a server's (`s1`, `s2`…); a socket that connects is a client's (`c1`…). A
//! process that does both (peer to peer) thus has sockets of both roles, and each event's
//! actor role is the role of the socket it is about.
//!
//! `socket()` cannot tell the role: the call that reveals it (`listen`, `connect`) comes
//! later. So a new socket's events (`socket`, `setsockopt`, `bind`) are held back until that
//! call, then sent with the name it reveals; the timeline waits for held events
//! ([`Namer::oldest_held`]), so they still take their place in time. A socket whose role no
//! call reveals within [`HOLD_MAX_NS`], or before its last descriptor is closed, takes its
//! process's role (that of the last socket the process revealed), else the client's.
//! Accepted sockets are named at once, at `accept`'s return.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::fds::SockKey;
use crate::echo::recorder::EventSink;
use crate::event::{Body, CallName, Event, Role, SockId};

/// How long a socket's events wait at most for the call that reveals its role.
pub const HOLD_MAX_NS: u64 = 500_000_000;

/// Events go to the timeline in batches at least this old (or on the session's next turn):
/// waking the timeline's thread for every call would cost the traced program a context
/// switch per call on a small machine.
const BATCH_NS: u64 = 1_000_000;
const BATCH_MAX: usize = 512;

enum Naming {
    Pending { held: Vec<Event>, since: u64, pid: u32 },
    Named { id: SockId, role: Role },
}

pub struct Namer {
    /// `None` once the lens has finished: nothing more is sent.
    sink: Option<EventSink>,
    sockets: HashMap<SockKey, Naming>,
    /// Names given so far: [clients, servers].
    counts: [u32; 2],
    process_roles: HashMap<u32, Role>,
    /// Events ready to go, and the time of the oldest.
    outbox: Vec<Event>,
    outbox_since: u64,
    oldest: Arc<AtomicU64>,
}

impl Namer {
    pub fn new(sink: EventSink) -> Namer {
        Namer {
            sink: Some(sink),
            sockets: HashMap::new(),
            counts: [0, 0],
            process_roles: HashMap::new(),
            outbox: Vec::new(),
            outbox_since: u64::MAX,
            oldest: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }

    /// The time of the oldest event not yet sent (`u64::MAX` when none), for the timeline.
    pub fn oldest_held(&self) -> Arc<AtomicU64> {
        self.oldest.clone()
    }

    /// A new socket of process `pid`, created at `since`: its events wait for its name.
    pub fn pending(&mut self, key: SockKey, pid: u32, since: u64) {
        self.sockets.insert(key, Naming::Pending { held: Vec::new(), since, pid });
        self.update_oldest();
    }

    /// Sends `event`, about socket `key` if any, with the socket's name and role, or holds it
    /// until the socket has a name.
    pub fn emit(&mut self, key: Option<SockKey>, mut event: Event) {
        match key.and_then(|k| self.sockets.get_mut(&k)) {
            Some(Naming::Pending { held, .. }) => held.push(event),
            Some(Naming::Named { id, role }) => {
                fill(&mut event, id, *role);
                self.send(vec![event]);
            }
            None => {
                event.actor.role = self.process_role(event.actor.pid);
                self.send(vec![event]);
            }
        }
    }

    /// The socket's role is now known: it is named, and what it held is sent. A socket
    /// already named keeps its name.
    pub fn reveal(&mut self, key: SockKey, role: Role) {
        let Some(Naming::Pending { .. }) = self.sockets.get(&key) else { return };
        let id = self.next_name(role);
        if let Some(Naming::Pending { held, pid, .. }) = self.sockets.insert(key, Naming::Named { id: id.clone(), role }) {
            self.process_roles.insert(pid, role);
            let batch = held
                .into_iter()
                .map(|mut e| {
                    fill(&mut e, &id, role);
                    e
                })
                .collect();
            self.send(batch);
        }
        self.update_oldest();
    }

    /// A socket `accept` returned to process `pid`: a server's, named now.
    pub fn accepted(&mut self, key: SockKey, pid: u32) -> SockId {
        let id = self.next_name(Role::Server);
        self.sockets.insert(key, Naming::Named { id: id.clone(), role: Role::Server });
        self.process_roles.insert(pid, Role::Server);
        id
    }

    /// The socket's last descriptor is gone: no call can reveal its role any more.
    pub fn settle(&mut self, key: SockKey) {
        if let Some(Naming::Pending { pid, .. }) = self.sockets.get(&key) {
            let role = self.process_role(Some(*pid));
            self.reveal(key, role);
        }
    }

    /// Names the sockets that have waited longer than [`HOLD_MAX_NS`] at `now`.
    pub fn flush_stale(&mut self, now: u64) {
        let stale: Vec<SockKey> = self
            .sockets
            .iter()
            .filter_map(|(k, n)| matches!(n, Naming::Pending { since, .. } if since.saturating_add(HOLD_MAX_NS) < now).then_some(*k))
            .collect();
        for key in stale {
            self.settle(key);
        }
    }

    /// The lens has finished: every socket still waiting is named, everything sent, and the
    /// sink let go.
    pub fn finish(&mut self) {
        let pending: Vec<SockKey> = self.sockets.iter().filter_map(|(k, n)| matches!(n, Naming::Pending { .. }).then_some(*k)).collect();
        for key in pending {
            self.settle(key);
        }
        self.flush();
        self.sink = None;
    }

    /// Sends the events ready to go.
    pub fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.outbox);
        self.outbox_since = u64::MAX;
        if let Some(sink) = &self.sink {
            // The timeline goes away only after the lens has finished; a send error then
            // means the trace is being torn down, and there is nobody left to tell.
            let _ = sink.send(batch);
        }
        self.update_oldest();
    }

    fn process_role(&self, pid: Option<u32>) -> Role {
        pid.and_then(|p| self.process_roles.get(&p).copied()).unwrap_or(Role::Client)
    }

    fn next_name(&mut self, role: Role) -> SockId {
        let slot = usize::from(role == Role::Server);
        self.counts[slot] += 1;
        SockId(format!("{}{}", if role == Role::Server { 's' } else { 'c' }, self.counts[slot]))
    }

    fn send(&mut self, batch: Vec<Event>) {
        if let Some(t) = batch.iter().map(|e| e.t).min() {
            self.outbox_since = self.outbox_since.min(t);
            self.outbox.extend(batch);
            self.update_oldest();
        }
        if self.outbox.len() >= BATCH_MAX || self.outbox_since.saturating_add(BATCH_NS) < crate::capture::clock::now_ns() {
            self.flush();
        }
    }

    fn update_oldest(&self) {
        let held = self.sockets.values().filter_map(|n| match n {
            Naming::Pending { since, .. } => Some(*since),
            Naming::Named { .. } => None,
        });
        self.oldest.store(held.min().unwrap_or(u64::MAX).min(self.outbox_since), Ordering::SeqCst);
    }
}

/// Gives an event its socket's name and role; `socket()`'s end names the socket it created.
fn fill(event: &mut Event, id: &SockId, role: Role) {
    event.actor.role = role;
    match &mut event.body {
        // As the echo programs record it: `socket()` starts on no socket.
        Body::CallStart(start) if start.call == CallName::Socket => {}
        Body::CallEnd(end) if end.call == CallName::Socket => {
            end.new_socket = Some(id.clone());
            event.socket = Some(id.clone());
        }
        _ => event.socket = Some(id.clone()),
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;
    use crate::event::{Actor, CallArgs, CallEnd, CallStart, Origin};

    fn call(t: u64, call: CallName, end: bool) -> Event {
        let body = if end {
            Body::CallEnd(CallEnd { id: t, call, ret: 0, errno: None, new_socket: None, local: None, peer: None, data: None })
        } else {
            Body::CallStart(CallStart { id: t, call, fd: Some(3), args: CallArgs::default() })
        };
        Event { t, actor: Actor { role: Role::Unknown, peer: None, pid: Some(7), tid: Some(7) }, socket: None, origin: Origin::Observed, body }
    }

    #[test]
    fn socket_then_listen__held_until_listen_then_named_s1() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut namer = Namer::new(tx);
        namer.pending(0, 7, 10);
        namer.emit(Some(0), call(10, CallName::Socket, false));
        namer.emit(Some(0), call(11, CallName::Socket, true));
        namer.emit(Some(0), call(12, CallName::Bind, false));
        assert!(rx.try_recv().is_err(), "held while the role is unknown");
        assert_eq!(namer.oldest_held().load(Ordering::SeqCst), 10);
        namer.reveal(0, Role::Server);
        namer.emit(Some(0), call(13, CallName::Listen, false));
        namer.flush();
        let events: Vec<Event> = rx.try_iter().flatten().collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].socket, None, "socket() starts on no socket");
        assert!(matches!(&events[1].body, Body::CallEnd(e) if e.new_socket == Some(SockId("s1".into()))));
        assert!(events[1..].iter().all(|e| e.socket == Some(SockId("s1".into())) && e.actor.role == Role::Server));
        assert_eq!(namer.oldest_held().load(Ordering::SeqCst), u64::MAX);
    }

    #[test]
    fn never_revealed__takes_the_process_role_when_stale() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut namer = Namer::new(tx);
        namer.pending(0, 7, 10);
        namer.reveal(0, Role::Server);
        namer.pending(1, 7, 20);
        namer.emit(Some(1), call(20, CallName::Socket, false));
        namer.flush_stale(20 + HOLD_MAX_NS / 2);
        assert!(rx.try_recv().is_err());
        namer.flush_stale(21 + HOLD_MAX_NS);
        namer.flush();
        let events: Vec<Event> = rx.try_iter().flatten().collect();
        assert_eq!(events[0].actor.role, Role::Server);
        assert_eq!(namer.accepted(2, 7), SockId("s3".into()));
    }
}
