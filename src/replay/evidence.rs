//! Which events of a trace are evidence of which documented step ([`crate::sequence`]): the
//! replay highlights a step exactly at the events its evidence names.
//!
//! The cast of a trace: the listening socket (the server socket that calls `listen`, or for a
//! server that never listens, its first socket), and one connection per client socket, paired
//! with the socket `accept` returned for it (the one whose peer is the client's address).
//! Each step is looked for once per socket whose story it tells: the listening socket's
//! steps once, the accepted socket's per accepted socket, the client's per client socket.
//! Where several programs listen (peers, each also a client), each connection belongs to the
//! listening socket at the address its client connected to, and each listening socket's
//! steps are looked for once.

use std::net::SocketAddr;

use crate::event::{Body, Event, Role, SockId, Verb};
use crate::sequence::{self, Evidence, Part, Sequence, Step, Timing};

/// Who plays which part in a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cast {
    pub listener: Option<SockId>,
    /// The listening socket's own address, once `bind` has told it.
    pub listener_addr: Option<SocketAddr>,
    /// Every listening socket with its address, when there are several (peers).
    pub listeners: Vec<(SockId, Option<SocketAddr>)>,
    pub connections: Vec<Connection>,
    /// The story is connectionless: the server's socket is a datagram socket, not a listener.
    pub datagram: bool,
}

/// A client socket and, when the server accepted it, the socket `accept` returned for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub client: SockId,
    pub accepted: Option<SockId>,
    /// Where several sockets listen: the one at the address the client connected to.
    pub listener: Option<SockId>,
}

impl Cast {
    pub fn of(events: &[Event]) -> Cast {
        let call_end = |role: Role, call: Verb| {
            events.iter().filter(move |e| e.actor.role == role).filter_map(move |e| match &e.body {
                Body::CallEnd(end) if end.call.verb() == call => Some((e, end)),
                _ => None,
            })
        };
        let listener = call_end(Role::Server, Verb::Listen)
            .find_map(|(e, _)| e.socket.clone())
            .or_else(|| call_end(Role::Server, Verb::Socket).find_map(|(_, end)| end.new_socket.clone()));
        let bound_at = |socket: &SockId| call_end(Role::Server, Verb::Bind).find(|(e, _)| e.socket.as_ref() == Some(socket)).and_then(|(_, end)| end.local);
        let listener_addr = listener.as_ref().and_then(bound_at);
        let mut listeners: Vec<(SockId, Option<SocketAddr>)> =
            call_end(Role::Server, Verb::Listen).filter_map(|(e, _)| e.socket.clone()).map(|s| (s.clone(), bound_at(&s))).collect();
        if listeners.len() < 2 {
            listeners.clear();
        }
        let connections = call_end(Role::Client, Verb::Socket)
            .filter_map(|(_, end)| end.new_socket.clone())
            .map(|client| {
                let connect = call_end(Role::Client, Verb::Connect).find(|(e, _)| e.socket.as_ref() == Some(&client)).map(|(_, end)| end);
                let local = connect.and_then(|end| end.local);
                let accepted = local.and_then(|local| {
                    call_end(Role::Server, Verb::Accept).find(|(_, end)| end.peer == Some(local)).and_then(|(_, end)| end.new_socket.clone())
                });
                let target = connect.and_then(|end| end.peer);
                let listener = listeners.iter().find(|(_, addr)| addr.is_some() && *addr == target).map(|(s, _)| s.clone());
                Connection { client, accepted, listener }
            })
            .collect();
        let datagram = sequence::of_trace(events) == sequence::connectionless();
        Cast { listener, listener_addr, listeners, connections, datagram }
    }

    /// The listening socket of a connection (the only one, unless several listen), and its address.
    fn listener_of<'a>(&'a self, conn: Option<&'a Connection>) -> (Option<&'a SockId>, Option<SocketAddr>) {
        match conn.and_then(|c| c.listener.as_ref()) {
            Some(own) => (Some(own), self.listeners.iter().find(|(s, _)| s == own).and_then(|(_, addr)| *addr)),
            None => (self.listener.as_ref(), self.listener_addr),
        }
    }

    /// Whether `socket` is the listening socket of the connection's story.
    pub fn listens_for(&self, socket: &SockId, conn: Option<&Connection>) -> bool {
        self.listener_of(conn).0 == Some(socket)
    }

    fn socket<'a>(&'a self, part: Part, conn: Option<&'a Connection>) -> Option<&'a SockId> {
        match part {
            // The server's first socket: it listens (each connection's own, among peers),
            // or over UDP it is the one datagram socket.
            Part::Listening | Part::Bound => self.listener_of(conn).0,
            Part::Accepted => conn.and_then(|c| c.accepted.as_ref()),
            Part::Client => conn.map(|c| &c.client),
        }
    }

    /// The part a socket plays, for the learner's label.
    pub fn part_of(&self, socket: &SockId) -> Option<Part> {
        if self.listener.as_ref() == Some(socket) || self.listeners.iter().any(|(s, _)| s == socket) {
            return Some(if self.datagram { Part::Bound } else { Part::Listening });
        }
        self.connections.iter().find_map(|c| {
            if &c.client == socket {
                Some(Part::Client)
            } else if c.accepted.as_ref() == Some(socket) {
                Some(Part::Accepted)
            } else {
                None
            }
        })
    }
}

/// One documented step, for one socket, as found in a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub sequence: &'static Sequence,
    pub step: &'static Step,
    /// The socket whose story the step tells (listening, accepted or client socket).
    pub socket: SockId,
    /// Per evidence item of the step, the events that show it, in trace order (empty when
    /// the trace does not show it).
    pub items: Vec<Vec<usize>>,
}

impl Found {
    /// Whether every evidence item has been shown by event `i`.
    pub fn complete_by(&self, i: usize) -> bool {
        self.items.iter().all(|events| events.first().is_some_and(|&e| e <= i))
    }

    /// Whether some, but not every, evidence item has been shown by event `i`.
    pub fn partial_by(&self, i: usize) -> bool {
        !self.complete_by(i) && self.items.iter().any(|events| events.first().is_some_and(|&e| e <= i))
    }

    /// Every event that is evidence of this step, in trace order.
    pub fn events(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self.items.iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The part whose story a step tells: the most specific part its evidence names.
fn story_part(sequence: &Sequence, step: &Step) -> Part {
    let parts = step.evidence.iter().filter_map(|ev| match *ev {
        Evidence::Call { socket, .. } | Evidence::NewSocket { socket, .. } | Evidence::ServerAddress { socket, .. } | Evidence::State { socket, .. } => Some(socket),
        Evidence::Packet { .. } | Evidence::Datagram { .. } => None,
    });
    let rank = |p: &Part| match p {
        Part::Listening | Part::Bound => 0,
        Part::Client => 1,
        Part::Accepted => 2,
    };
    parts.max_by_key(rank).unwrap_or(match sequence.role {
        Role::Client => Part::Client,
        _ => Part::Listening,
    })
}

/// Every documented step of both `sequences`, once per socket whose story it tells, with
/// the events that show it.
pub fn find(events: &[Event], sequences: [&'static Sequence; 2]) -> Vec<Found> {
    let cast = Cast::of(events);
    let mut found = Vec::new();
    for sequence in sequences {
        for step in sequence.steps {
            let part = story_part(sequence, step);
            let instances: Vec<Option<&Connection>> = match part {
                // Several listening sockets: each one's steps once, with a connection it took.
                Part::Listening if !cast.listeners.is_empty() => cast
                    .listeners
                    .iter()
                    .filter_map(|(s, _)| cast.connections.iter().find(|c| c.listener.as_ref() == Some(s)).map(Some))
                    .collect(),
                Part::Listening | Part::Bound => vec![None],
                _ => cast.connections.iter().map(Some).collect(),
            };
            for conn in instances {
                let Some(socket) = cast.socket(part, conn) else { continue };
                let items = step.evidence.iter().map(|ev| Finder { events, cast: &cast, conn }.find(ev)).collect();
                found.push(Found { sequence, step, socket: socket.clone(), items });
            }
        }
    }
    found
}

/// Looks for one evidence item within one connection's events.
struct Finder<'a> {
    events: &'a [Event],
    cast: &'a Cast,
    conn: Option<&'a Connection>,
}

impl Finder<'_> {
    fn find(&self, evidence: &Evidence) -> Vec<usize> {
        match *evidence {
            Evidence::Call { call, socket } => {
                let Some(sock) = self.cast.socket(socket, self.conn) else { return Vec::new() };
                self.indices(|e| e.socket.as_ref() == Some(sock) && call_name(e) == Some(call))
            }
            Evidence::NewSocket { call, socket } => {
                let Some(sock) = self.cast.socket(socket, self.conn) else { return Vec::new() };
                let Some(end) = self.call_returning(call, sock) else { return Vec::new() };
                self.with_start(end)
            }
            Evidence::ServerAddress { call, socket } => {
                let Some(sock) = self.cast.socket(socket, self.conn) else { return Vec::new() };
                let first = self.events.iter().position(|e| match &e.body {
                    Body::CallStart(start) if start.verb() == call && e.socket.as_ref() == Some(sock) => match (start.args.addr, self.cast.listener_of(self.conn).1) {
                        (Some(given), Some(server)) => given == server,
                        (given, None) => given.is_some(),
                        (None, Some(_)) => false,
                    },
                    _ => false,
                });
                first.into_iter().collect()
            }
            Evidence::Packet { flags, from, data, timing } => {
                let Some(client) = self.conn.map(|c| &c.client) else { return Vec::new() };
                let Some((lo, hi)) = self.window(timing) else { return Vec::new() };
                let matching = self.indices(|e| match &e.body {
                    Body::Packet(p) => {
                        let ours = e.socket.as_ref() == Some(client) || p.to.as_ref() == Some(client);
                        let tcp_flags = p.tcp.as_ref().map(|t| t.flags.without_psh());
                        ours && e.actor.role == from && tcp_flags == Some(flags) && (p.len > 0) == data
                    }
                    _ => false,
                });
                let within: Vec<usize> = matching.into_iter().filter(|&i| lo.is_none_or(|lo| i > lo) && i < hi).collect();
                if data {
                    return within;
                }
                // A segment without data is evidence once: the first, and its retransmissions.
                let Some(&first) = within.first() else { return Vec::new() };
                let key = |i: usize| match &self.events[i].body {
                    Body::Packet(p) => p.tcp.as_ref().map(|t| (t.seq, t.ack)),
                    _ => None,
                };
                within.into_iter().filter(|&i| key(i) == key(first)).collect()
            }
            // A datagram sent by `from`, to or from the socket whose story this is: the client's,
            // or the server's one datagram socket, which exchanges with every client.
            Evidence::Datagram { from } => {
                let Some(ours) = self.conn.map(|c| &c.client).or(self.cast.listener.as_ref()) else { return Vec::new() };
                self.indices(|e| match &e.body {
                    Body::Packet(p) => p.tcp.is_none() && e.actor.role == from && (e.socket.as_ref() == Some(ours) || p.to.as_ref() == Some(ours)),
                    _ => false,
                })
            }
            Evidence::State { socket, to, timing } => {
                let Some(sock) = self.cast.socket(socket, self.conn) else { return Vec::new() };
                let Some((lo, hi)) = self.window(timing) else { return Vec::new() };
                let first = self.events.iter().enumerate().position(|(i, e)| {
                    lo.is_none_or(|lo| i > lo) && i < hi && e.socket.as_ref() == Some(sock) && matches!(&e.body, Body::State(s) if s.to == to)
                });
                first.into_iter().collect()
            }
        }
    }

    fn indices(&self, pred: impl Fn(&Event) -> bool) -> Vec<usize> {
        self.events.iter().enumerate().filter(|(_, e)| pred(e)).map(|(i, _)| i).collect()
    }

    /// The end of the call `call` that returned `socket`.
    fn call_returning(&self, call: Verb, socket: &SockId) -> Option<usize> {
        self.events.iter().position(|e| matches!(&e.body, Body::CallEnd(end) if end.call.verb() == call && end.new_socket.as_ref() == Some(socket)))
    }

    /// A call's end and the start it pairs with.
    fn with_start(&self, end: usize) -> Vec<usize> {
        let Body::CallEnd(call_end) = &self.events[end].body else { return vec![end] };
        let start = self.events[..end].iter().rposition(|e| matches!(&e.body, Body::CallStart(s) if s.id == call_end.id));
        start.into_iter().chain([end]).collect()
    }

    /// The events a timing allows, as exclusive bounds: `None` when the call that bounds them
    /// is not in the trace.
    fn window(&self, timing: Timing) -> Option<(Option<usize>, usize)> {
        let (call, during) = match timing {
            Timing::Any => return Some((None, self.events.len())),
            Timing::During(call) => (call, true),
            Timing::Before(call) => (call, false),
        };
        let (start, end) = self.bounding_call(call)?;
        Some((during.then_some(start), end))
    }

    /// The start and end of the call that bounds this connection's evidence: `accept` is the
    /// one that returned the accepted socket; `listen` the listening socket's; any other call
    /// the client's.
    fn bounding_call(&self, call: Verb) -> Option<(usize, usize)> {
        let end = match call {
            Verb::Accept => self.call_returning(call, self.conn?.accepted.as_ref()?)?,
            _ => {
                let sock = if call == Verb::Listen { self.cast.listener_of(self.conn).0? } else { &self.conn?.client };
                self.events.iter().position(|e| e.socket.as_ref() == Some(sock) && matches!(&e.body, Body::CallEnd(end) if end.call.verb() == call))?
            }
        };
        let both = self.with_start(end);
        Some((both[0], end))
    }
}

fn call_name(e: &Event) -> Option<Verb> {
    match &e.body {
        Body::CallStart(s) => Some(s.verb()),
        Body::CallEnd(end) => Some(end.call.verb()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read scenario__story
mod tests {
    use super::*;
    use crate::sim;

    fn simulated(name: &str) -> Vec<Event> {
        sim::run(name, &sim::Options::default()).expect("a known scenario")
    }

    fn step<'a>(found: &'a [Found], sequence: &str, step: &str, socket: &str) -> &'a Found {
        found
            .iter()
            .find(|f| f.sequence.id == sequence && f.step.id == step && f.socket.0 == socket)
            .unwrap_or_else(|| panic!("{sequence}/{step} for {socket} not found"))
    }

    #[test]
    fn echo__every_step_of_both_sequences_is_shown() {
        let events = simulated("echo");
        let found = find(&events, sequence::of_trace(&events));
        assert_eq!(found.len(), 6 + 5, "one listening socket, one connection");
        for f in &found {
            assert!(f.complete_by(events.len() - 1), "{}/{} for {}: {:?}", f.sequence.id, f.step.id, f.socket, f.items);
        }
    }

    #[test]
    fn echo__accept_is_shown_by_the_handshake_and_the_call_that_returns_s2() {
        let events = simulated("echo");
        let found = find(&events, sequence::of_trace(&events));
        let accept = step(&found, "passive-open", "accept", "s2");
        let accept_end = events.iter().position(|e| matches!(&e.body, Body::CallEnd(end) if end.call.verb() == Verb::Accept)).expect("accept returns");
        assert!(accept.events().contains(&accept_end));
        assert_eq!(accept.events().last(), Some(&accept_end), "the accept step ends when accept returns");
        let syn = events.iter().position(|e| matches!(&e.body, Body::Packet(p) if p.tcp.as_ref().is_some_and(|t| t.flags == crate::wire::flags::TcpFlags::SYN))).expect("a SYN");
        assert!(accept.events().contains(&syn), "the SYN is evidence of accept");
        assert!(step(&found, "active-open", "connect", "c1").events().contains(&syn), "and of connect");
    }

    #[test]
    fn refused__connect_is_partial_and_nothing_is_accepted() {
        let events = simulated("refused");
        let found = find(&events, sequence::of_trace(&events));
        let connect = step(&found, "active-open", "connect", "c1");
        assert!(connect.partial_by(events.len() - 1));
        assert!(step(&found, "active-open", "address", "c1").complete_by(events.len() - 1));
        assert!(found.iter().all(|f| f.step.id != "accept"), "no socket was accepted");
    }

    #[test]
    fn lost_syn__the_retransmitted_syn_is_evidence_too() {
        let events = simulated("lost-syn");
        let found = find(&events, sequence::of_trace(&events));
        let syn = &step(&found, "active-open", "connect", "c1").items[2];
        assert_eq!(syn.len(), 2, "both SYNs: {syn:?}");
    }

    #[test]
    fn udp_echo__every_step_of_both_connectionless_sequences_is_shown() {
        let events = simulated("udp-echo");
        assert_eq!(sequence::of_trace(&events), sequence::connectionless());
        let found = find(&events, sequence::of_trace(&events));
        let last = events.len() - 1;
        assert_eq!(found.len(), 8, "four steps on each side, one client: {found:?}");
        assert!(found.iter().all(|f| f.complete_by(last)), "{found:?}");
        let exchange = step(&found, "datagram-client", "exchange", "c1");
        assert_eq!(exchange.items[2].len(), 3, "the client's three datagrams");
        assert_eq!(exchange.items[3].len(), 3, "the server's three answers");
        assert_eq!(Cast::of(&events).part_of(&SockId("s1".into())), Some(Part::Bound));
    }

    #[test]
    fn echo__follows_the_connection_sequences() {
        let events = simulated("echo");
        assert_eq!(sequence::of_trace(&events), sequence::connection_oriented());
        assert_eq!(Cast::of(&events).part_of(&SockId("s1".into())), Some(Part::Listening));
    }
}
