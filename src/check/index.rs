//! One pass over a trace's events: for each socket, its calls (start and end paired) and its
//! state changes; for each TCP connection, its packets. Each is kept as a small fact (a few
//! bytes, with its event's index), so that everything later works on short per-socket lists
//! and goes back to the events themselves only to quote one: the check costs one pass over
//! the trace plus a little per socket.

use std::net::SocketAddr;

use super::hash::FastMap;
use crate::event::{Body, CallName, Errno, Event, KernelNote, Origin, Role, SockId, Transport};
use crate::tcp::state::State;
use crate::wire::flags::TcpFlags;

/// A connection's two ends: the socket's own address, then its peer's.
pub(super) type Ends = (SocketAddr, SocketAddr);

/// How a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Returned {
    /// Not in the trace: the call was still running when the recording stopped.
    Not,
    Ok,
    /// A non-blocking connect's EINPROGRESS: it returned at once, the handshake runs on.
    InProgress,
    /// With an error (its errno is on the end event).
    Failed,
}

/// One call: the events where it started and where it returned (either may be outside the
/// trace: it began before the recording, or had not returned when the recording stopped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Call {
    pub name: CallName,
    pub start: Option<usize>,
    pub end: Option<usize>,
    pub returned: Returned,
}

impl Call {
    fn started(name: CallName, start: usize) -> Call {
        Call { name, start: Some(start), end: None, returned: Returned::Not }
    }

    fn ended(&mut self, end: usize, errno: Option<&Errno>) {
        self.end = Some(end);
        self.returned = match errno {
            None => Returned::Ok,
            Some(e) if e.name == "EINPROGRESS" => Returned::InProgress,
            Some(_) => Returned::Failed,
        };
    }

    /// The event that best stands for the call: its start, or its end when the start is not
    /// in the trace.
    pub fn at(&self) -> usize {
        self.start.or(self.end).unwrap_or(0)
    }
}

/// The call that made a socket: `socket`, or `accept` on a listening socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Made {
    pub by: CallName,
    pub start: Option<usize>,
    pub end: usize,
}

/// A state change of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct StateFact {
    pub at: usize,
    pub from: State,
    pub to: State,
    pub origin: Origin,
    /// Reported with local port 0 (Linux's SYN-SENT, before the port is picked).
    pub without_port: bool,
    /// Reported with a peer: a connection's change, not a listening socket's.
    pub with_peer: bool,
}

/// A packet of a connection, or a datagram of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PacketFact {
    pub at: usize,
    /// TCP flags without PSH; none for a datagram.
    pub flags: TcpFlags,
    pub len: u32,
    pub origin: Origin,
    /// For a connection's packet: sent from the first of its key's two addresses. For a
    /// socket's datagram: sent by that socket.
    pub from_first: bool,
}

/// What the trace shows about one socket.
#[derive(Debug)]
pub(super) struct SocketLog {
    pub id: SockId,
    /// The role of the program that made it (or first used it).
    pub role: Role,
    /// The `socket` or `accept` call that made it, when the trace has its return.
    pub created: Option<Made>,
    /// Where its first `listen` began.
    pub listened: Option<usize>,
    /// For a socket `accept` returned: the listening socket it came from.
    pub parent: Option<usize>,
    /// From `socket()`'s type; `None` when its creation is not in the trace.
    pub datagram: Option<bool>,
    pub calls: Vec<Call>,
    /// It called connect (kept apart from `calls`, which a listener's accepts make long).
    pub connects: bool,
    pub states: Vec<StateFact>,
    /// Resets the kernel reported sending or receiving on it.
    pub resets: Vec<usize>,
    /// Datagrams it sent or received (TCP packets are kept per connection instead).
    pub datagrams: Vec<PacketFact>,
    /// The address it bound or listens on.
    pub local: Option<SocketAddr>,
    /// A connection socket's two ends, once known.
    pub ends: Option<Ends>,
}

impl SocketLog {
    fn new(id: SockId, role: Role) -> SocketLog {
        SocketLog {
            id,
            role,
            created: None,
            listened: None,
            parent: None,
            datagram: None,
            // Room for a whole ordinary life (a connection makes about ten calls and changes
            // state about six times), so that most sockets allocate each list once.
            calls: Vec::with_capacity(12),
            connects: false,
            states: Vec::with_capacity(8),
            resets: Vec::new(),
            datagrams: Vec::new(),
            local: None,
            ends: None,
        }
    }

    /// A datagram socket: by its type, or by its datagrams when its creation is not in the trace.
    pub fn is_datagram(&self) -> bool {
        self.datagram.unwrap_or(!self.datagrams.is_empty())
    }

    pub fn called(&self, name: CallName) -> bool {
        self.calls.iter().any(|c| c.name == name)
    }
}

/// Where a pending call's start was recorded.
#[derive(Clone, Copy)]
enum Pending {
    /// On a socket's call list.
    Listed { log: usize, call: usize },
    /// A `socket()` call: the socket is named only when it returns.
    Unnamed { start: usize },
}

/// Room for an ordinary short connection's packets (an echo of three lines has about thirty).
const PACKETS_PER_CONNECTION: usize = 32;

#[derive(Debug, Default)]
pub(super) struct Index {
    pub sockets: Vec<SocketLog>,
    by_id: FastMap<SockId, usize>,
    /// Each TCP connection's place in `packets`, by its two addresses in a fixed order.
    connections: FastMap<Ends, usize>,
    /// Each TCP connection's packets, in trace order.
    packets: Vec<Vec<PacketFact>>,
    /// The connection of the last packet, which the next one is most often on too.
    last_connection: Option<(Ends, usize)>,
    /// The socket of the last event: consecutive events are mostly about the same socket,
    /// and comparing a short name is cheaper than hashing it.
    last: Option<usize>,
}

/// An IPv4 address seen through an IPv6 socket is the same endpoint as its IPv4 self.
pub(super) fn canon(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// The key of a connection, the same from both ends.
pub(super) fn connection_key(a: SocketAddr, b: SocketAddr) -> Ends {
    let (a, b) = (canon(a), canon(b));
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Both ends known, neither port 0 (Linux reports SYN-SENT before the port is picked).
fn full(local: Option<SocketAddr>, remote: Option<SocketAddr>) -> Option<Ends> {
    match (local, remote) {
        (Some(l), Some(r)) if l.port() != 0 && r.port() != 0 => Some((canon(l), canon(r))),
        _ => None,
    }
}

impl Index {
    pub fn build(events: &[Event]) -> Index {
        let mut index = Index::default();
        let mut pending: FastMap<u64, Pending> = FastMap::default();
        for (i, event) in events.iter().enumerate() {
            match &event.body {
                Body::CallStart(start) => match &event.socket {
                    Some(id) => {
                        let log = index.log(id, event.actor.role);
                        let socket = &mut index.sockets[log];
                        match start.call {
                            CallName::Listen => socket.listened = socket.listened.or(Some(i)),
                            CallName::Connect => socket.connects = true,
                            _ => {}
                        }
                        let calls = &mut socket.calls;
                        calls.push(Call::started(start.call, i));
                        pending.insert(start.id, Pending::Listed { log, call: calls.len() - 1 });
                    }
                    None => {
                        pending.insert(start.id, Pending::Unnamed { start: i });
                    }
                },
                Body::CallEnd(end) => {
                    let started = pending.remove(&end.id);
                    if let Some(new) = &end.new_socket {
                        let log = index.log(new, event.actor.role);
                        let start = match started {
                            Some(Pending::Listed { log, call }) => index.sockets[log].calls[call].start,
                            Some(Pending::Unnamed { start }) => Some(start),
                            None => None,
                        };
                        let made = &mut index.sockets[log];
                        made.created = Some(Made { by: end.call, start, end: i });
                        made.ends = full(end.local, end.peer);
                        match end.call {
                            CallName::Accept => made.datagram = Some(false),
                            _ => {
                                let start = match started {
                                    Some(Pending::Unnamed { start }) => Some(start),
                                    _ => None,
                                };
                                made.datagram =
                                    start.and_then(|s| socket_type(&events[s])).map(|ty| ty == "SOCK_DGRAM");
                                let mut call = Call { name: end.call, start, end: None, returned: Returned::Not };
                                call.ended(i, end.errno.as_ref());
                                made.calls.push(call);
                            }
                        }
                    }
                    let Some(id) = &event.socket else { continue };
                    let log = index.log(id, event.actor.role);
                    match started {
                        Some(Pending::Listed { log, call }) => {
                            index.sockets[log].calls[call].ended(i, end.errno.as_ref())
                        }
                        // A `socket()` call names its socket in `socket` too: recorded above.
                        Some(Pending::Unnamed { .. }) => {}
                        None => {
                            let mut call = Call { name: end.call, start: None, end: None, returned: Returned::Not };
                            call.ended(i, end.errno.as_ref());
                            index.sockets[log].calls.push(call);
                        }
                    }
                    if end.call == CallName::Accept {
                        if let Some(new) = end.new_socket.as_ref().and_then(|n| index.find(n)) {
                            index.sockets[new].parent = Some(log);
                        }
                    }
                    let socket = &mut index.sockets[log];
                    match end.call {
                        CallName::Bind => socket.local = end.local.map(canon).or(socket.local),
                        CallName::Connect => socket.ends = full(end.local, end.peer).or(socket.ends),
                        _ => {}
                    }
                }
                Body::State(change) => {
                    let Some(id) = &event.socket else { continue };
                    let log = index.log(id, event.actor.role);
                    let socket = &mut index.sockets[log];
                    socket.states.push(StateFact {
                        at: i,
                        from: change.from,
                        to: change.to,
                        origin: event.origin,
                        without_port: change.local.is_some_and(|l| l.port() == 0),
                        with_peer: change.remote.is_some_and(|r| r.port() != 0),
                    });
                    if socket.ends.is_none() {
                        socket.ends = full(change.local, change.remote);
                    }
                    if socket.local.is_none() {
                        socket.local = change.local.filter(|l| l.port() != 0).map(canon);
                    }
                }
                Body::Packet(packet) => match packet.transport {
                    Transport::Tcp => {
                        let key = connection_key(packet.src, packet.dst);
                        let fact = PacketFact {
                            at: i,
                            flags: packet.tcp.as_ref().map_or(TcpFlags(0), |t| t.flags.without_psh()),
                            len: packet.len,
                            origin: event.origin,
                            from_first: canon(packet.src) == key.0,
                        };
                        index.connection(key).push(fact);
                        // A client's first SYN tells its ends, even when connect() fails.
                        if let Some(log) = event.socket.as_ref().and_then(|id| index.find(id)) {
                            let socket = &mut index.sockets[log];
                            if socket.ends.is_none() && socket.connects {
                                socket.ends = full(Some(packet.src), Some(packet.dst));
                            }
                        }
                    }
                    Transport::Udp => {
                        for (id, sent) in [(&event.socket, true), (&packet.to, false)] {
                            let Some(id) = id else { continue };
                            let log = index.log(id, Role::Unknown);
                            let fact = PacketFact {
                                at: i,
                                flags: TcpFlags(0),
                                len: packet.len,
                                origin: event.origin,
                                from_first: sent,
                            };
                            index.sockets[log].datagrams.push(fact);
                        }
                    }
                },
                Body::Kernel(KernelNote::ResetSent { .. } | KernelNote::ResetReceived { .. }) => {
                    if let Some(log) = event.socket.as_ref().and_then(|id| index.find(id)) {
                        index.sockets[log].resets.push(i);
                    }
                }
                Body::Kernel(KernelNote::Retransmit { .. }) => {}
            }
        }
        index
    }

    /// The log of socket `id`, if it has one yet.
    fn find(&mut self, id: &SockId) -> Option<usize> {
        let log = match self.last {
            Some(last) if self.sockets[last].id == *id => last,
            _ => *self.by_id.get(id)?,
        };
        self.last = Some(log);
        Some(log)
    }

    /// The log of socket `id`, made on first sight.
    fn log(&mut self, id: &SockId, role: Role) -> usize {
        if let Some(log) = self.find(id) {
            let socket = &mut self.sockets[log];
            if socket.role == Role::Unknown {
                socket.role = role;
            }
            return log;
        }
        self.sockets.push(SocketLog::new(id.clone(), role));
        self.by_id.insert(id.clone(), self.sockets.len() - 1);
        self.sockets.len() - 1
    }

    /// The packet list of connection `key`, made on first sight.
    fn connection(&mut self, key: Ends) -> &mut Vec<PacketFact> {
        let slot = match self.last_connection {
            Some((last, slot)) if last == key => slot,
            _ => {
                let next = self.packets.len();
                let slot = *self.connections.entry(key).or_insert(next);
                if slot == next {
                    self.packets.push(Vec::with_capacity(PACKETS_PER_CONNECTION));
                }
                self.last_connection = Some((key, slot));
                slot
            }
        };
        &mut self.packets[slot]
    }

    /// The TCP packets between these two ends, in trace order.
    pub fn packets_between(&self, ends: Ends) -> &[PacketFact] {
        self.connections.get(&connection_key(ends.0, ends.1)).map_or(&[], |&slot| &self.packets[slot])
    }
}

fn socket_type(event: &Event) -> Option<&str> {
    match &event.body {
        Body::CallStart(start) => start.args.ty.as_deref(),
        _ => None,
    }
}
