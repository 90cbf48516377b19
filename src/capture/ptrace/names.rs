//! Names and roles of traced sockets, and the order events leave the lens in.
//!
//! A socket's part is what it does, not who made it: a socket that listens, or that `accept`
//! returned, is a server's (`s1`, `s2`…); one that connects is a client's (`c1`…); a datagram
//! socket that waits for a datagram on the address it bound is a server's, one that sends the
//! first datagram a client's. A process that does both (peer to peer) has sockets of both
//! roles, and each event's actor role is the role of the socket it is about.
//!
//! `socket()` cannot tell the part: the call that reveals it comes later. So a new socket's
//! events (`socket`, `setsockopt`, `bind`) are held back until that call, then sent with the
//! name it reveals; the timeline waits for held events ([`Namer::oldest_held`]), so they
//! still take their place in time. A socket no call reveals within [`HOLD_MAX_NS`], or
//! before its last descriptor is closed, is named after the program that made it: in
//! `trace run --server … --client …` each program has its role; otherwise a process takes
//! the role its other sockets revealed. One that played no part at all (made and closed
//! without claiming a port, listening, connecting or moving a byte: a runtime's probe at
//! start-up) is named as idle (`o1`), so that later stages can set it aside.
//!
//! Events that name other sockets besides their own (a `poll` over several, a `fork` whose
//! child holds copies) wait until each of those is named too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::fds::SockKey;
use crate::echo::recorder::EventSink;
use crate::event::{Body, CallName, Event, Mint, ProcessChange, Role, SockId, SockKind};
use crate::hash::{FastMap, FastSet};

/// How long a socket's events wait at most for the call that reveals its role.
pub const HOLD_MAX_NS: u64 = 500_000_000;

/// Events go to the timeline in batches at least this old (or on the session's next turn):
/// waking the timeline's thread for every call would cost the traced program a context
/// switch per call on a small machine.
pub const BATCH_NS: u64 = 1_000_000;
const BATCH_MAX: usize = 512;

/// Where in an event a socket it names, other than its own, goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `args.watch[i]` of a call's start.
    Watch(usize),
    /// `ready[i]` of a call's end.
    Ready(usize),
    /// The sockets a new process holds copies of.
    Forked,
    /// The sockets an exec kept, or closed.
    ExecKept,
    ExecClosed,
    /// The sockets whose last descriptor went with an exiting process.
    ExitClosed,
}

/// An event on its way out, with the sockets it is about.
struct Outgoing {
    event: Event,
    key: Option<SockKey>,
    refs: Vec<(Slot, SockKey)>,
}

/// What a socket has done so far that tells (or hints at) its part.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hints {
    /// It asked for a port of its own choosing (`bind` to a port other than 0): what a
    /// server does, and what makes a socket more than a probe even if the bind failed.
    pub claimed_port: bool,
    /// It tried to move bytes, or to connect, listen or accept (even if the call failed).
    pub acted: bool,
    /// It has an address of its own (a `bind` succeeded, to any port): a socket still open
    /// with one has a part to play, though a runtime's probe binds port 0 and closes.
    pub bound: bool,
}

impl Hints {
    /// A `bind` to `port` was asked for.
    pub fn bind_to(port: u16) -> Hints {
        Hints { claimed_port: port != 0, ..Hints::default() }
    }

    /// A `bind` succeeded.
    pub const BOUND: Hints = Hints { claimed_port: false, acted: false, bound: true };

    /// A call that moves bytes, connects, listens or accepts.
    pub const ACTED: Hints = Hints { claimed_port: false, acted: true, bound: false };
}

enum Naming {
    Pending { held: Vec<Outgoing>, since: u64, pid: u32, hints: Hints },
    Named { id: SockId, role: Role },
}

pub struct Namer {
    /// `None` once the lens has finished: nothing more is sent.
    sink: Option<EventSink>,
    sockets: FastMap<SockKey, Naming>,
    /// How many sockets wait for their name: none, in the steady state, so that the time of
    /// the oldest held event is then the outbox's alone.
    waiting: usize,
    mint: Mint,
    /// The role of each process's program, where the session says (`--server`, `--client`);
    /// a new process inherits its parent's.
    program_roles: HashMap<u32, Role>,
    /// The role each process's sockets revealed last.
    process_roles: HashMap<u32, Role>,
    /// Changes of processes that have not touched a followed socket yet, by process: shown
    /// once it does, forgotten if it ends (or waits too long) without (see [`Namer::process`]).
    quiet: FastMap<u32, Vec<Event>>,
    /// Processes that made a followed call.
    active: FastSet<u32>,
    /// Events ready to go, and the time of the oldest.
    outbox: Vec<Event>,
    outbox_since: u64,
    oldest: Arc<AtomicU64>,
    /// The tracer holds the programs (starting the kernel lenses): no socket can reveal its
    /// part meanwhile, so no hold runs out.
    programs_held: bool,
}

impl Namer {
    pub fn new(sink: EventSink) -> Namer {
        Namer {
            sink: Some(sink),
            sockets: FastMap::default(),
            waiting: 0,
            mint: Mint::default(),
            program_roles: HashMap::new(),
            process_roles: HashMap::new(),
            quiet: FastMap::default(),
            active: FastSet::default(),
            outbox: Vec::new(),
            outbox_since: u64::MAX,
            oldest: Arc::new(AtomicU64::new(u64::MAX)),
            programs_held: false,
        }
    }

    /// The tracer holds the programs, or (`false`) lets them go at `now`: the sockets waiting
    /// for their name then wait their whole time again, since they could not act meanwhile (on
    /// a loaded machine, starting the lenses has taken longer than [`HOLD_MAX_NS`]).
    pub fn hold_programs(&mut self, held: bool, now: u64) {
        self.programs_held = held;
        if !held {
            for naming in self.sockets.values_mut() {
                if let Naming::Pending { since, .. } = naming {
                    *since = (*since).max(now);
                }
            }
        }
    }

    /// The time of the oldest event not yet sent (`u64::MAX` when none), for the timeline.
    pub fn oldest_held(&self) -> Arc<AtomicU64> {
        self.oldest.clone()
    }

    /// Process `pid` runs the program that plays `role` (`trace run --server`/`--client`).
    pub fn program(&mut self, pid: u32, role: Role) {
        self.program_roles.insert(pid, role);
    }

    /// Process `child` was made by `parent`: it runs the same program.
    pub fn born(&mut self, child: u32, parent: u32) {
        if let Some(&role) = self.program_roles.get(&parent) {
            self.program_roles.insert(child, role);
        }
        if let Some(&role) = self.process_roles.get(&parent) {
            self.process_roles.insert(child, role);
        }
    }

    /// A new socket of process `pid`, created at `since`: its events wait for its name.
    pub fn pending(&mut self, key: SockKey, pid: u32, since: u64) {
        if !matches!(self.sockets.insert(key, Naming::Pending { held: Vec::new(), since, pid, hints: Hints::default() }), Some(Naming::Pending { .. })) {
            self.waiting += 1;
        }
        self.update_oldest();
    }

    /// Records what a call on a socket not yet named hints at its part.
    pub fn hint(&mut self, key: SockKey, more: Hints) {
        if let Some(Naming::Pending { hints, .. }) = self.sockets.get_mut(&key) {
            hints.claimed_port |= more.claimed_port;
            hints.acted |= more.acted;
            hints.bound |= more.bound;
        }
    }

    /// Whether the socket has a name yet.
    pub fn is_named(&self, key: SockKey) -> bool {
        matches!(self.sockets.get(&key), Some(Naming::Named { .. }))
    }

    /// Sends `event`, about socket `key` if any, with the socket's name and role, or holds it
    /// until the socket has a name.
    pub fn emit(&mut self, key: Option<SockKey>, event: Event) {
        self.emit_about(key, Vec::new(), event);
    }

    /// A change of process `pid` (a new process, a new program, an end) that names sockets
    /// goes out like any event. One that names none is about a process that may never touch
    /// a socket (a shell's helpers, a launcher script's `env` and `exec`): it waits until the
    /// process makes a followed call, and then only the latest program it runs is shown; if
    /// the process ends first, or waits longer than [`HOLD_MAX_NS`], its changes are not
    /// shown at all. (A new process waits under its own number, not its parent's.)
    pub fn process(&mut self, pid: u32, refs: Vec<(Slot, SockKey)>, event: Event) {
        let ends = matches!(event.body, Body::Process(ProcessChange::Exit { .. }));
        if !refs.is_empty() || self.active.contains(&pid) {
            if ends {
                self.quiet.remove(&pid);
            }
            self.dispatch(Outgoing { event, key: None, refs });
            return;
        }
        if ends {
            self.quiet.remove(&pid);
        } else {
            let waiting = self.quiet.entry(pid).or_default();
            if matches!(event.body, Body::Process(ProcessChange::Exec { .. })) {
                waiting.retain(|e| !matches!(e.body, Body::Process(ProcessChange::Exec { .. })));
            }
            waiting.push(event);
        }
        self.update_oldest();
    }

    /// The same for an event that also names other sockets (`refs`, each into its slot). A
    /// call's process is active from now on: its quiet changes go out first.
    pub fn emit_about(&mut self, key: Option<SockKey>, refs: Vec<(Slot, SockKey)>, event: Event) {
        if let Some(pid) = event.actor.pid.filter(|p| !self.active.contains(p)) {
            if self.active.insert(pid) {
                for change in self.quiet.remove(&pid).unwrap_or_default() {
                    self.dispatch(Outgoing { event: change, key: None, refs: Vec::new() });
                }
            }
        }
        self.dispatch(Outgoing { event, key, refs });
    }

    fn dispatch(&mut self, mut out: Outgoing) {
        // An event waits under the first of its sockets that has no name yet.
        let waiting = out.key.into_iter().chain(out.refs.iter().map(|(_, k)| *k)).find(|k| matches!(self.sockets.get(k), Some(Naming::Pending { .. })));
        if let Some(Naming::Pending { held, .. }) = waiting.and_then(|k| self.sockets.get_mut(&k)) {
            held.push(out);
            self.update_oldest();
            return;
        }
        match out.key.and_then(|k| self.sockets.get(&k)) {
            Some(Naming::Named { id, role }) => fill(&mut out.event, id, *role),
            _ => out.event.actor.role = self.process_role(out.event.actor.pid).unwrap_or(Role::Unknown),
        }
        for (slot, key) in &out.refs {
            if let Some(Naming::Named { id, .. }) = self.sockets.get(key) {
                put(&mut out.event, *slot, id.clone());
            }
        }
        self.send(out.event);
    }

    /// The socket's role is now known: it is named, and what it held is sent. A socket
    /// already named keeps its name.
    pub fn reveal(&mut self, key: SockKey, role: Role) {
        self.name(key, SockKind::of_role(role), role);
    }

    fn name(&mut self, key: SockKey, kind: SockKind, role: Role) {
        let Some(Naming::Pending { .. }) = self.sockets.get(&key) else { return };
        let id = self.mint.next(kind);
        if let Some(Naming::Pending { held, pid, .. }) = self.sockets.insert(key, Naming::Named { id, role }) {
            self.waiting -= 1;
            if kind != SockKind::Idle {
                self.process_roles.insert(pid, role);
            }
            for out in held {
                self.dispatch(out);
            }
        }
        self.update_oldest();
    }

    /// A socket `accept` returned to process `pid`: a server's, named now.
    pub fn accepted(&mut self, key: SockKey, pid: u32) -> SockId {
        let id = self.mint.next(SockKind::Server);
        self.sockets.insert(key, Naming::Named { id: id.clone(), role: Role::Server });
        self.process_roles.insert(pid, Role::Server);
        id
    }

    /// The socket's last descriptor is gone: no call will reveal its part, so it is named
    /// after its program, or as idle if it played none.
    pub fn settle(&mut self, key: SockKey) {
        self.settle_as(key, false);
    }

    /// Names a socket no call has revealed: after its program, or as idle if it played no
    /// part. One still `open` that has an address of its own has a part (a datagram server
    /// slow to wait for its first datagram): idle only if it has none.
    fn settle_as(&mut self, key: SockKey, open: bool) {
        let Some(Naming::Pending { pid, hints, .. }) = self.sockets.get(&key) else { return };
        let (pid, hints) = (*pid, *hints);
        let known = self.process_role(Some(pid));
        if !(hints.claimed_port || hints.acted || open && hints.bound) {
            self.name(key, SockKind::Idle, known.unwrap_or(Role::Unknown));
            return;
        }
        // With an address of its own and no other sign, a socket waits to be reached: a server's.
        let role = known.unwrap_or(if hints.claimed_port || hints.bound { Role::Server } else { Role::Client });
        self.reveal(key, role);
    }

    /// Names the sockets that have waited longer than [`HOLD_MAX_NS`] at `now`, and forgets
    /// the quiet processes' changes as old.
    pub fn flush_stale(&mut self, now: u64) {
        self.quiet.retain(|_, changes| {
            changes.retain(|e| e.t.saturating_add(HOLD_MAX_NS) >= now);
            !changes.is_empty()
        });
        if self.programs_held {
            return;
        }
        let stale: Vec<SockKey> = self
            .sockets
            .iter()
            .filter_map(|(k, n)| matches!(n, Naming::Pending { since, .. } if since.saturating_add(HOLD_MAX_NS) < now).then_some(*k))
            .collect();
        for key in stale {
            self.settle_as(key, true);
        }
        // The changes forgotten hold the timeline back no longer.
        self.update_oldest();
    }

    /// The lens has finished: every socket still waiting is named, everything sent, and the
    /// sink let go.
    pub fn finish(&mut self) {
        let mut pending: Vec<SockKey> = self.sockets.iter().filter_map(|(k, n)| matches!(n, Naming::Pending { .. }).then_some(*k)).collect();
        pending.sort_unstable();
        for key in pending {
            self.settle(key);
        }
        self.quiet.clear();
        self.flush();
        self.sink = None;
    }

    /// Sends the events ready to go.
    pub fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        // The next batch is about as big as this one: room for it up front, rather than
        // growing it (and moving its events) from nothing.
        let room = self.outbox.len();
        let batch = std::mem::replace(&mut self.outbox, Vec::with_capacity(room));
        self.outbox_since = u64::MAX;
        if let Some(sink) = &self.sink {
            // The timeline goes away only after the lens has finished; a send error then
            // means the trace is being torn down, and there is nobody left to tell.
            let _ = sink.send(batch);
        }
        self.update_oldest();
    }

    /// The role of process `pid`'s program, or the one its sockets revealed.
    fn process_role(&self, pid: Option<u32>) -> Option<Role> {
        let pid = pid?;
        self.program_roles.get(&pid).or_else(|| self.process_roles.get(&pid)).copied()
    }

    fn send(&mut self, event: Event) {
        // Only an event older than all in the outbox (its first, mostly) moves the mark.
        if event.t < self.outbox_since {
            self.outbox_since = event.t;
            self.update_oldest();
        }
        self.outbox.push(event);
        if self.outbox.len() >= BATCH_MAX || self.outbox_since.saturating_add(BATCH_NS) < crate::capture::clock::now_ns() {
            self.flush();
        }
    }

    fn update_oldest(&self) {
        let mut oldest = self.outbox_since;
        // Sockets waiting for a name, and quiet processes, are few and short-lived: most of
        // the time there are none, and nothing to look through.
        if self.waiting > 0 {
            let held = self.sockets.values().filter_map(|n| match n {
                Naming::Pending { since, held, .. } => Some(held.iter().map(|o| o.event.t).fold(*since, u64::min)),
                Naming::Named { .. } => None,
            });
            oldest = held.fold(oldest, u64::min);
        }
        if !self.quiet.is_empty() {
            oldest = self.quiet.values().flatten().map(|e| e.t).fold(oldest, u64::min);
        }
        self.oldest.store(oldest, Ordering::SeqCst);
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

/// Puts the name of another socket the event is about into its slot.
fn put(event: &mut Event, slot: Slot, id: SockId) {
    match (slot, &mut event.body) {
        (Slot::Watch(i), Body::CallStart(start)) => {
            if let Some(w) = start.args.watch.get_mut(i) {
                w.socket = Some(id);
            }
        }
        (Slot::Ready(i), Body::CallEnd(end)) => {
            if let Some(w) = end.ready.get_mut(i) {
                w.socket = Some(id);
            }
        }
        (Slot::Forked, Body::Process(ProcessChange::Fork { sockets, .. })) => sockets.push(id),
        (Slot::ExecKept, Body::Process(ProcessChange::Exec { kept, .. })) => kept.push(id),
        (Slot::ExecClosed, Body::Process(ProcessChange::Exec { closed, .. })) => closed.push(id),
        (Slot::ExitClosed, Body::Process(ProcessChange::Exit { closed, .. })) => closed.push(id),
        _ => {}
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;
    use crate::event::{Actor, CallEnd, CallStart, Origin};

    fn call(t: u64, call: CallName, end: bool) -> Event {
        let body = if end { Body::CallEnd(CallEnd::new(t, call, 0)) } else { Body::CallStart(CallStart { id: t, call, fd: Some(3), args: Box::default() }) };
        Event { t, actor: Actor { role: Role::Unknown, peer: None, pid: Some(7), tid: Some(7) }, socket: None, origin: Origin::Observed, body }
    }

    fn namer() -> (Namer, std::sync::mpsc::Receiver<Vec<Event>>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (Namer::new(tx), rx)
    }

    #[test]
    fn socket_then_listen__held_until_listen_then_named_s1() {
        let (mut namer, rx) = namer();
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
        let (mut namer, rx) = namer();
        namer.pending(0, 7, 10);
        namer.reveal(0, Role::Server);
        namer.pending(1, 7, 20);
        namer.hint(1, Hints::ACTED);
        namer.emit(Some(1), call(20, CallName::Socket, false));
        namer.flush_stale(20 + HOLD_MAX_NS / 2);
        assert!(rx.try_recv().is_err());
        namer.flush_stale(21 + HOLD_MAX_NS);
        namer.flush();
        let events: Vec<Event> = rx.try_iter().flatten().collect();
        assert_eq!(events[0].actor.role, Role::Server);
        assert_eq!(namer.accepted(2, 7), SockId("s3".into()));
    }

    #[test]
    fn a_failed_bind_to_a_chosen_port__the_servers_socket_in_server_programs_and_alone() {
        let (mut namer, rx) = namer();
        namer.program(7, Role::Server);
        namer.pending(0, 7, 10);
        namer.hint(0, Hints::bind_to(80));
        namer.emit(Some(0), call(11, CallName::Bind, true));
        namer.settle(0);
        namer.flush();
        let events: Vec<Event> = rx.try_iter().flatten().collect();
        assert_eq!((events[0].socket.clone(), events[0].actor.role), (Some(SockId("s1".into())), Role::Server));
        // Without a program role, the chosen port is the server's hint.
        let (mut alone, rx) = self::namer();
        alone.pending(0, 9, 10);
        alone.hint(0, Hints::bind_to(80));
        alone.emit(Some(0), call(11, CallName::Bind, true));
        alone.settle(0);
        alone.flush();
        assert_eq!(rx.try_iter().flatten().next().map(|e| e.actor.role), Some(Role::Server));
    }

    #[test]
    fn bound_to_port_0_and_still_open_when_stale__the_programs_socket__closed_so__idle() {
        // A datagram server that binds port 0 and is slow to wait for its first datagram.
        let (mut namer, rx) = namer();
        namer.program(7, Role::Server);
        namer.pending(0, 7, 10);
        namer.hint(0, Hints::bind_to(0));
        namer.hint(0, Hints::BOUND);
        namer.emit(Some(0), call(11, CallName::Bind, false));
        namer.flush_stale(12 + HOLD_MAX_NS);
        // A runtime's probe: bound port 0, then closed without a move.
        namer.pending(1, 7, 20);
        namer.hint(1, Hints::BOUND);
        namer.emit(Some(1), call(21, CallName::Bind, false));
        namer.settle(1);
        namer.flush();
        let names: Vec<Option<SockId>> = rx.try_iter().flatten().map(|e| e.socket).collect();
        assert_eq!(names, [Some(SockId("s1".into())), Some(SockId("o1".into()))]);
    }

    #[test]
    fn while_the_tracer_holds_the_programs__no_hold_runs_out() {
        let (mut namer, rx) = namer();
        namer.pending(0, 7, 10);
        namer.emit(Some(0), call(11, CallName::Socket, true));
        namer.hold_programs(true, 20);
        namer.flush_stale(30 + 2 * HOLD_MAX_NS);
        namer.hold_programs(false, 40 + 2 * HOLD_MAX_NS);
        namer.flush_stale(40 + 2 * HOLD_MAX_NS + HOLD_MAX_NS / 2);
        namer.reveal(0, Role::Client);
        namer.flush();
        let names: Vec<Option<SockId>> = rx.try_iter().flatten().map(|e| e.socket).collect();
        assert_eq!(names, [Some(SockId("c1".into()))], "named by the call that revealed it, not as idle");
    }

    #[test]
    fn made_and_closed_doing_nothing__idle_and_no_server_number_used() {
        let (mut namer, rx) = namer();
        namer.program(7, Role::Server);
        namer.pending(0, 7, 10);
        namer.emit(Some(0), call(11, CallName::Socket, true));
        namer.settle(0);
        namer.pending(1, 7, 20);
        namer.reveal(1, Role::Server);
        namer.emit(Some(1), call(21, CallName::Listen, false));
        namer.flush();
        let names: Vec<Option<SockId>> = rx.try_iter().flatten().map(|e| e.socket).collect();
        assert_eq!(names, [Some(SockId("o1".into())), Some(SockId("s1".into()))]);
    }

    fn change(t: u64, pid: u32, change: ProcessChange) -> Event {
        let mut event = call(t, CallName::Close, false);
        event.actor.pid = Some(pid);
        event.body = Body::Process(change);
        event
    }

    #[test]
    fn a_quiet_process__shown_with_its_latest_program_once_it_makes_a_socket_call__forgotten_if_it_ends() {
        let (mut namer, rx) = namer();
        let exec = |t, program: &str| change(t, 8, ProcessChange::Exec { program: program.into(), kept: Vec::new(), closed: Vec::new() });
        namer.process(8, Vec::new(), change(1, 7, ProcessChange::Fork { child: 8, call: "fork".into(), sockets: Vec::new() }));
        namer.process(8, Vec::new(), exec(2, "/usr/bin/env"));
        namer.process(8, Vec::new(), exec(3, "/usr/bin/python3"));
        namer.process(9, Vec::new(), change(4, 9, ProcessChange::Exec { program: "/usr/bin/readlink".into(), kept: Vec::new(), closed: Vec::new() }));
        namer.process(9, Vec::new(), change(5, 9, ProcessChange::Exit { exit: crate::event::Exit::Status { code: 0 }, closed: Vec::new() }));
        namer.flush();
        assert!(rx.try_recv().is_err(), "nothing shown yet");
        assert_eq!(namer.oldest_held().load(Ordering::SeqCst), 1);
        let mut socket = call(6, CallName::Socket, false);
        socket.actor.pid = Some(8);
        namer.emit(None, socket);
        namer.flush();
        let shown: Vec<String> = rx
            .try_iter()
            .flatten()
            .map(|e| match e.body {
                Body::Process(ProcessChange::Fork { .. }) => "fork".to_string(),
                Body::Process(ProcessChange::Exec { program, .. }) => program,
                other => format!("{other:?}").chars().take(9).collect(),
            })
            .collect();
        assert_eq!(shown, ["fork", "/usr/bin/python3", "CallStart"]);
        assert_eq!(namer.oldest_held().load(Ordering::SeqCst), u64::MAX, "readlink's life is forgotten");
    }

    #[test]
    fn an_event_naming_a_pending_socket__waits_for_its_name() {
        let (mut namer, rx) = namer();
        namer.pending(0, 7, 10);
        let mut fork = call(12, CallName::Close, false);
        fork.body = Body::Process(ProcessChange::Fork { child: 8, call: "fork".into(), sockets: Vec::new() });
        namer.emit_about(None, vec![(Slot::Forked, 0)], fork);
        namer.flush();
        assert!(rx.try_recv().is_err(), "held");
        assert_eq!(namer.oldest_held().load(Ordering::SeqCst), 10);
        namer.reveal(0, Role::Client);
        namer.flush();
        let events: Vec<Event> = rx.try_iter().flatten().collect();
        assert!(matches!(&events[0].body, Body::Process(ProcessChange::Fork { sockets, .. }) if sockets == &[SockId("c1".into())]));
        assert_eq!(events[0].actor.role, Role::Client, "the process's role, learned from its socket");
    }
}
