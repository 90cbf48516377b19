//! Which part each socket plays, and so which documented sequence it is held against.
//!
//! The program's role decides when the trace knows it (`trace echo`, `trace simulate`): a
//! client's socket is held against the active open whatever it does, so a client that
//! listens is a client that broke its sequence. When the role is unknown (a traced
//! unmodified program), the socket's own calls decide: `listen` makes a listening socket,
//! `connect` a client. A socket `accept` returned is always an accepted one; a datagram
//! socket is a server's when it waits for requests on a port it bound.

use std::collections::HashSet;
use std::net::SocketAddr;

use super::index::{Index, SocketLog};
use crate::event::{Role, SockKind, Verb};
use crate::sequence::{Part, Sequence, ACTIVE_OPEN, DATAGRAM_CLIENT, DATAGRAM_SERVER, PASSIVE_OPEN};
use crate::tcp::state::State;
use crate::wire::addr::canon;

/// One socket and the part it plays.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Player {
    pub log: usize,
    pub part: Part,
    pub sequence: &'static Sequence,
}

pub(crate) struct Cast {
    /// Servers first, each listening socket followed by the sockets it accepted; then clients.
    pub players: Vec<Player>,
    /// Sockets that played no part: no recorded call used them, or they never listened,
    /// connected or exchanged anything.
    pub unused: Vec<usize>,
    /// Where the trace's servers wait for clients.
    servers: HashSet<SocketAddr>,
    /// The ports of servers bound to the wildcard address: they wait on every address.
    wildcard_ports: HashSet<u16>,
}

impl Cast {
    /// Whether a server of this trace waits at `addr`.
    pub fn serves(&self, addr: SocketAddr) -> bool {
        let addr = canon(addr);
        self.servers.contains(&addr) || self.wildcard_ports.contains(&addr.port())
    }
}

/// A socket whose life, as the kernel reports it, begins in LISTEN with a peer: a connection
/// a listening socket spawned (how an accepted socket shows when the calls are not recorded).
fn born_of_a_listener(socket: SocketLog) -> bool {
    socket.created.is_none() && socket.states.first().is_some_and(|s| s.from == State::Listen && s.with_peer)
}

fn entered(socket: SocketLog, state: State) -> bool {
    socket.states.iter().any(|s| s.to == state)
}

/// `calls_lens`: the trace recorded calls, so a socket no call touched belongs to a program
/// the trace does not record (the other side of `trace echo --connect`, a connection that was
/// never accepted): it is not held against a sequence.
fn part_of(socket: SocketLog, calls_lens: bool) -> Option<Part> {
    if calls_lens && socket.calls.is_empty() && socket.created.is_none() {
        return None;
    }
    // Named by the recorder as playing no part: made and closed doing nothing (a runtime's
    // probe), a connection never accepted, another program's socket.
    if matches!(socket.id.kind(), Some(SockKind::Idle | SockKind::Queued | SockKind::Peer)) {
        return None;
    }
    if socket.is_datagram() {
        let role = match socket.role {
            Role::Unknown => {
                let first_data = socket.calls.iter().map(|c| c.name).find(|n| matches!(n, Verb::Send | Verb::Recv));
                let waits = matches!(first_data, Some(Verb::Recv));
                if socket.called(Verb::Bind) && waits {
                    Role::Server
                } else {
                    Role::Client
                }
            }
            known => known,
        };
        return Some(if role == Role::Server { Part::Bound } else { Part::Client });
    }
    if socket.created.is_some_and(|m| m.by == Verb::Accept) || born_of_a_listener(socket) {
        return Some(Part::Accepted);
    }
    match socket.role {
        Role::Client => Some(Part::Client),
        Role::Server => Some(Part::Listening),
        Role::Unknown if socket.called(Verb::Listen) || entered(socket, State::Listen) => Some(Part::Listening),
        Role::Unknown if socket.called(Verb::Connect) || entered(socket, State::SynSent) => Some(Part::Client),
        Role::Unknown => None,
    }
}

fn sequence_of(part: Part, datagram: bool) -> &'static Sequence {
    match (part, datagram) {
        (Part::Bound, _) => &DATAGRAM_SERVER,
        (Part::Client, true) => &DATAGRAM_CLIENT,
        (Part::Client, false) => &ACTIVE_OPEN,
        (Part::Listening | Part::Accepted, _) => &PASSIVE_OPEN,
    }
}

pub(crate) fn cast(index: &Index, calls_lens: bool) -> Cast {
    let parts: Vec<Option<Part>> = index.sockets().map(|s| part_of(s, calls_lens)).collect();
    let mut cast = Cast { players: Vec::new(), unused: Vec::new(), servers: HashSet::new(), wildcard_ports: HashSet::new() };
    let player = |log: usize, part: Part| {
        let datagram = index.socket(log).is_datagram();
        Player { log, part, sequence: sequence_of(part, datagram) }
    };
    // Accepted sockets by the listening socket they came from, in the order they appear.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); index.len()];
    let mut orphans = Vec::new();
    for (log, socket) in index.sockets().enumerate() {
        if parts[log] == Some(Part::Accepted) {
            match socket.parent {
                Some(parent) if parts[parent] == Some(Part::Listening) => children[parent].push(log),
                _ => orphans.push(log),
            }
        }
    }
    for (log, part) in parts.iter().enumerate() {
        match part {
            Some(part @ (Part::Listening | Part::Bound)) => {
                cast.players.push(player(log, *part));
                match index.socket(log).local {
                    Some(local) if local.ip().is_unspecified() => cast.wildcard_ports.insert(local.port()),
                    Some(local) => cast.servers.insert(local),
                    None => false,
                };
                cast.players.extend(children[log].iter().map(|&child| player(child, Part::Accepted)));
            }
            None => cast.unused.push(log),
            Some(Part::Accepted | Part::Client) => {}
        }
    }
    cast.players.extend(orphans.into_iter().map(|log| player(log, Part::Accepted)));
    cast.players.extend(parts.iter().enumerate().filter(|(_, p)| **p == Some(Part::Client)).map(|(log, _)| player(log, Part::Client)));
    cast
}
