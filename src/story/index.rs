//! One pass over a trace's events: for each socket, its calls (start and end paired) and its
//! state changes; for each TCP connection, its packets. Each is kept as a small fact (a few
//! bytes, with its event's index), so that everything later works on short per-socket lists
//! and goes back to the events themselves only to quote one: the check costs one pass over
//! the trace plus a little per socket.
//!
//! The facts are collected in one list per kind, tagged with their socket (or connection),
//! then grouped by it with a counting sort: a few allocations in all rather than several per
//! socket, and each socket's facts side by side in memory.

use std::ops::Range;

use std::net::SocketAddr;

use crate::event::{Body, CallArgs, Errno, Event, KernelNote, Origin, ProcessChange, Role, SockId, Transport, Verb};
use crate::hash::FastMap;
use crate::tcp::flags::TcpFlags;
use crate::tcp::segment::opens_anew;
use crate::tcp::state::State;
use crate::trace::room::vec_with_room;
use crate::wire::addr::canon;

/// A connection's two ends: the socket's own address, then its peer's.
pub(crate) type Ends = (SocketAddr, SocketAddr);

/// How a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Returned {
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
pub(crate) struct Call {
    pub name: Verb,
    pub start: Option<usize>,
    pub end: Option<usize>,
    pub returned: Returned,
    /// A `close` of one descriptor among several (a forked child's copy, a duplicate): the
    /// socket stays open, so it is not the socket's close.
    pub partial: bool,
}

impl Call {
    fn started(name: Verb, start: usize, partial: bool) -> Call {
        Call { name, start: Some(start), end: None, returned: Returned::Not, partial }
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
pub(crate) struct Made {
    pub by: Verb,
    pub start: Option<usize>,
    pub end: usize,
}

/// A state change of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StateFact {
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
pub(crate) struct PacketFact {
    pub at: usize,
    /// TCP flags without PSH; none for a datagram.
    pub flags: TcpFlags,
    pub len: u32,
    /// The segment's sequence and acknowledgment numbers (0 for a datagram): a segment sent
    /// again repeats them.
    pub seq_ack: (u32, u32),
    pub origin: Origin,
    /// For a connection's packet: sent from the first of its key's two addresses. For a
    /// socket's datagram: sent by that socket.
    pub from_first: bool,
}

/// What the trace shows about one socket, apart from its lists of facts.
#[derive(Debug)]
struct Head {
    id: SockId,
    role: Role,
    created: Option<Made>,
    listened: Option<usize>,
    parent: Option<usize>,
    datagram: Option<bool>,
    connects: bool,
    local: Option<SocketAddr>,
    ends: Option<Ends>,
    released: Option<usize>,
}

impl Head {
    fn new(id: SockId, role: Role) -> Head {
        Head { id, role, created: None, listened: None, parent: None, datagram: None, connects: false, local: None, ends: None, released: None }
    }
}

/// What the trace shows about one socket.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SocketLog<'i> {
    pub id: &'i SockId,
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
    /// The address it bound or listens on.
    pub local: Option<SocketAddr>,
    /// A connection socket's two ends, once known.
    pub ends: Option<Ends>,
    /// Where the kernel closed its last descriptor for the program, when the process that
    /// held it ended: not a call of the program's own.
    pub released: Option<usize>,
    pub calls: &'i [Call],
    pub states: &'i [StateFact],
    /// Resets the kernel reported sending or receiving on it.
    pub resets: &'i [usize],
    /// Datagrams it sent or received (TCP packets are kept per connection instead).
    pub datagrams: &'i [PacketFact],
}

impl SocketLog<'_> {
    /// A datagram socket: by its type, or by its datagrams when its creation is not in the trace.
    pub fn is_datagram(&self) -> bool {
        self.datagram.unwrap_or(!self.datagrams.is_empty())
    }

    pub fn called(&self, name: Verb) -> bool {
        self.calls.iter().any(|c| c.name == name)
    }
}

/// Where a pending call's start was recorded.
#[derive(Clone, Copy)]
enum Pending {
    /// In the list of calls.
    Listed { call: usize },
    /// A `socket()` call: the socket is named only when it returns.
    Unnamed { start: usize },
}

/// One kind of fact of every socket (or connection), grouped by it.
#[derive(Debug)]
struct Grouped<T> {
    facts: Vec<T>,
    /// Where each owner's facts are in `facts`.
    ranges: Vec<Range<usize>>,
}

impl<T: Copy> Grouped<T> {
    /// Puts each owner's facts together, each in the order it was found (a counting sort).
    fn new(tagged: &[(usize, T)], owners: usize) -> Grouped<T> {
        let mut starts = vec![0; owners + 1];
        for &(owner, _) in tagged {
            starts[owner + 1] += 1;
        }
        for owner in 0..owners {
            starts[owner + 1] += starts[owner];
        }
        let ranges = (0..owners).map(|o| starts[o]..starts[o + 1]).collect();
        // Every slot is written below; the first fact only fills the list to its length.
        let Some(&(_, filler)) = tagged.first() else { return Grouped { facts: Vec::new(), ranges } };
        let mut facts = vec_with_room(tagged.len());
        facts.resize(tagged.len(), filler);
        for &(owner, fact) in tagged {
            facts[starts[owner]] = fact;
            starts[owner] += 1;
        }
        Grouped { facts, ranges }
    }

    fn of(&self, owner: usize) -> &[T] {
        &self.facts[self.ranges[owner].clone()]
    }
}

/// The facts as the pass finds them, each tagged with its socket (its connection for a packet).
#[derive(Default)]
struct Found {
    heads: Vec<Head>,
    by_id: FastMap<SockId, usize>,
    calls: Vec<(usize, Call)>,
    states: Vec<(usize, StateFact)>,
    resets: Vec<(usize, usize)>,
    datagrams: Vec<(usize, PacketFact)>,
    packets: Vec<(usize, PacketFact)>,
    /// Each TCP connection's numbers, by its two addresses in a fixed order: one per
    /// incarnation of the address pair, the last one current.
    connections: FastMap<Ends, Vec<usize>>,
    /// Per connection number: its SYN's sequence number, and the sockets its packets name.
    incarnations: Vec<Incarnation>,
    /// Per address pair and socket, the first connection on the pair whose packets name it.
    first_of: FastMap<(Ends, SockId), usize>,
    /// The connection of the last packet, which the next one is most often on too.
    last_connection: Option<(Ends, usize)>,
    /// The socket of the last event: consecutive events are mostly about the same socket,
    /// and comparing a short name is cheaper than hashing it.
    last: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct Index {
    heads: Vec<Head>,
    calls: Grouped<Call>,
    states: Grouped<StateFact>,
    resets: Grouped<usize>,
    datagrams: Grouped<PacketFact>,
    /// Each TCP connection's packets, in trace order.
    packets: Grouped<PacketFact>,
    connections: FastMap<Ends, Vec<usize>>,
    /// Per address pair and socket, the first connection on the pair whose packets name it:
    /// a pair used thousands of times is looked up at once, not connection by connection.
    first_of: FastMap<(Ends, SockId), usize>,
}

/// One connection on an address pair. At thousands of connections a second the kernel uses
/// a pair again, and a SYN with another initial sequence number (RFC 9293 §3.4.1) starts a
/// new connection on it: its packets are no evidence for the old one's sockets.
#[derive(Debug, Default)]
struct Incarnation {
    /// Each direction's SYN's sequence number (both send one in a simultaneous open).
    isn: [Option<u32>; 2],
    /// The sockets that sent or received its packets (a handful: both ends, the listener).
    sockets: Vec<SockId>,
}

/// The key of a connection, the same from both ends.
pub(crate) fn connection_key(a: SocketAddr, b: SocketAddr) -> Ends {
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

/// A call that returned, and how.
fn returned(name: Verb, start: Option<usize>, end: usize, errno: Option<&Errno>) -> Call {
    let mut call = Call { name, start, end: None, returned: Returned::Not, partial: false };
    call.ended(end, errno);
    call
}

impl Index {
    pub fn build(events: &[Event]) -> Index {
        // Room for a fact of each kind per event, in huge pages (see `vec_with_room`): grown
        // as they came, the lists of a large trace were copied into fresh memory again and
        // again, and a fresh page costs a fault the first time it is written. Room not
        // written to costs nothing.
        let n = events.len();
        let mut found = Found { calls: vec_with_room(n), states: vec_with_room(n), packets: vec_with_room(n), ..Found::default() };
        let mut pending: FastMap<u64, Pending> = FastMap::default();
        for (i, event) in events.iter().enumerate() {
            match &event.body {
                Body::CallStart(start) => match &event.socket {
                    Some(id) => {
                        let log = found.log(id, event.actor.role);
                        let head = &mut found.heads[log];
                        let verb = start.verb();
                        match verb {
                            Verb::Listen => head.listened = head.listened.or(Some(i)),
                            Verb::Connect => head.connects = true,
                            _ => {}
                        }
                        pending.insert(start.id, Pending::Listed { call: found.calls.len() });
                        let partial = verb == Verb::Close && start.args.other_fds.is_some_and(|n| n > 0);
                        found.calls.push((log, Call::started(verb, i, partial)));
                    }
                    None => {
                        pending.insert(start.id, Pending::Unnamed { start: i });
                    }
                },
                Body::CallEnd(end) => {
                    let started = pending.remove(&end.id);
                    if let Some(new) = &end.new_socket {
                        // A connection that waited in the listener's queue (`q1`) is the socket
                        // accept returned: one log, under its new name, its earlier events in it.
                        if let Some(queued) = end.queued.as_ref().filter(|q| *q != new).and_then(|q| found.find(q)) {
                            found.heads[queued].id = new.clone();
                            found.by_id.insert(new.clone(), queued);
                        }
                        let log = found.log(new, event.actor.role);
                        let start = match started {
                            Some(Pending::Listed { call }) => found.calls[call].1.start,
                            Some(Pending::Unnamed { start }) => Some(start),
                            None => None,
                        };
                        let made = &mut found.heads[log];
                        made.created = Some(Made { by: end.call.verb(), start, end: i });
                        made.ends = full(end.local, end.peer);
                        if end.call.verb() == Verb::Accept {
                            made.datagram = Some(false);
                        } else {
                            made.datagram = match started {
                                Some(Pending::Unnamed { start }) => socket_args(&events[start]).map(CallArgs::is_datagram),
                                _ => None,
                            };
                            found.calls.push((log, returned(end.call.verb(), start, i, end.errno.as_ref())));
                        }
                    }
                    let Some(id) = &event.socket else { continue };
                    let log = found.log(id, event.actor.role);
                    match started {
                        Some(Pending::Listed { call }) => found.calls[call].1.ended(i, end.errno.as_ref()),
                        // A `socket()` call names its socket in `socket` too: recorded above.
                        Some(Pending::Unnamed { .. }) => {}
                        None => found.calls.push((log, returned(end.call.verb(), None, i, end.errno.as_ref()))),
                    }
                    if end.call.verb() == Verb::Accept {
                        if let Some(new) = end.new_socket.as_ref().and_then(|n| found.find(n)) {
                            found.heads[new].parent = Some(log);
                        }
                    }
                    let head = &mut found.heads[log];
                    match end.call.verb() {
                        Verb::Bind => head.local = end.local.map(canon).or(head.local),
                        Verb::Connect => head.ends = full(end.local, end.peer).or(head.ends),
                        _ => {}
                    }
                }
                Body::State(change) => {
                    let Some(id) = &event.socket else { continue };
                    let log = found.log(id, event.actor.role);
                    found.states.push((
                        log,
                        StateFact {
                            at: i,
                            from: change.from,
                            to: change.to,
                            origin: event.origin,
                            without_port: change.local.is_some_and(|l| l.port() == 0),
                            with_peer: change.remote.is_some_and(|r| r.port() != 0),
                        },
                    ));
                    let head = &mut found.heads[log];
                    if head.ends.is_none() {
                        head.ends = full(change.local, change.remote);
                    }
                    if head.local.is_none() {
                        head.local = change.local.filter(|l| l.port() != 0).map(canon);
                    }
                }
                Body::Packet(packet) => match packet.transport {
                    Transport::Tcp => {
                        let key = connection_key(packet.src, packet.dst);
                        let fact = PacketFact {
                            at: i,
                            flags: packet.tcp.as_ref().map_or(TcpFlags(0), |t| t.flags.without_psh()),
                            len: packet.len,
                            seq_ack: packet.tcp.as_ref().map_or((0, 0), |t| (t.seq, t.ack)),
                            origin: event.origin,
                            from_first: canon(packet.src) == key.0,
                        };
                        let syn = packet.tcp.as_ref().filter(|t| t.flags.contains(TcpFlags::SYN) && !t.flags.contains(TcpFlags::ACK)).map(|t| t.seq);
                        let connection = found.connection(key, fact.from_first, syn, [event.socket.as_ref(), packet.to.as_ref()]);
                        found.packets.push((connection, fact));
                        // A client's first SYN tells its ends, even when connect() fails.
                        if let Some(log) = event.socket.as_ref().and_then(|id| found.find(id)) {
                            let head = &mut found.heads[log];
                            if head.ends.is_none() && head.connects {
                                head.ends = full(Some(packet.src), Some(packet.dst));
                            }
                        }
                    }
                    // ARP belongs to the link, not to a socket: no documented step names it.
                    Transport::Arp => {}
                    Transport::Udp => {
                        for (id, sent) in [(&event.socket, true), (&packet.to, false)] {
                            let Some(id) = id else { continue };
                            let log = found.log(id, Role::Unknown);
                            let fact = PacketFact { at: i, flags: TcpFlags(0), len: packet.len, seq_ack: (0, 0), origin: event.origin, from_first: sent };
                            found.datagrams.push((log, fact));
                        }
                    }
                },
                Body::Kernel(KernelNote::ResetSent { .. } | KernelNote::ResetReceived { .. }) => {
                    if let Some(log) = event.socket.as_ref().and_then(|id| found.find(id)) {
                        found.resets.push((log, i));
                    }
                }
                Body::Kernel(KernelNote::Retransmit { .. }) => {}
                Body::Process(change) => {
                    // An exit closes the last descriptors it held (an exec may close one of
                    // several, which is no close of the socket).
                    let closed = match change {
                        ProcessChange::Exit { closed, .. } => closed.as_slice(),
                        _ => &[],
                    };
                    for id in closed {
                        let log = found.log(id, event.actor.role);
                        found.heads[log].released = Some(i);
                    }
                }
            }
        }
        let sockets = found.heads.len();
        Index {
            calls: Grouped::new(&found.calls, sockets),
            states: Grouped::new(&found.states, sockets),
            resets: Grouped::new(&found.resets, sockets),
            datagrams: Grouped::new(&found.datagrams, sockets),
            packets: Grouped::new(&found.packets, found.incarnations.len()),
            connections: found.connections,
            first_of: found.first_of,
            heads: found.heads,
        }
    }

    /// How many sockets the trace names.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    /// What the trace shows about socket number `log` (numbered in order of appearance).
    pub fn socket(&self, log: usize) -> SocketLog<'_> {
        let head = &self.heads[log];
        SocketLog {
            id: &head.id,
            role: head.role,
            created: head.created,
            listened: head.listened,
            parent: head.parent,
            datagram: head.datagram,
            local: head.local,
            ends: head.ends,
            released: head.released,
            calls: self.calls.of(log),
            states: self.states.of(log),
            resets: self.resets.of(log),
            datagrams: self.datagrams.of(log),
        }
    }

    /// Every socket, in order of appearance.
    pub fn sockets(&self) -> impl Iterator<Item = SocketLog<'_>> {
        (0..self.len()).map(|log| self.socket(log))
    }

    /// The TCP packets between these two ends, in trace order: of the connection on them
    /// that `socket` sent or received packets of, when the pair was used more than once.
    pub fn packets_between(&self, ends: Ends, socket: &SockId) -> &[PacketFact] {
        let Some(numbers) = self.connections.get(&connection_key(ends.0, ends.1)) else { return &[] };
        let number = match numbers[..] {
            [only] => only,
            _ => self.first_of.get(&(connection_key(ends.0, ends.1), socket.clone())).copied().unwrap_or(numbers[numbers.len() - 1]),
        };
        self.packets.of(number)
    }
}

impl Found {
    /// The number of socket `id`, if it has one yet.
    fn find(&mut self, id: &SockId) -> Option<usize> {
        let log = match self.last {
            Some(last) if self.heads[last].id == *id => last,
            _ => *self.by_id.get(id)?,
        };
        self.last = Some(log);
        Some(log)
    }

    /// The number of socket `id`, given on first sight.
    fn log(&mut self, id: &SockId, role: Role) -> usize {
        if let Some(log) = self.find(id) {
            let head = &mut self.heads[log];
            if head.role == Role::Unknown {
                head.role = role;
            }
            return log;
        }
        self.heads.push(Head::new(id.clone(), role));
        self.by_id.insert(id.clone(), self.heads.len() - 1);
        self.heads.len() - 1
    }

    /// The number of connection `key`, given on first sight.
    /// The number of the connection a packet on `key` belongs to; `syn`: the sequence number
    /// of a SYN that opens one (no ACK), which starts a new connection on a pair whose current
    /// one opened with another.
    fn connection(&mut self, key: Ends, from_first: bool, syn: Option<u32>, named: [Option<&SockId>; 2]) -> usize {
        let way = usize::from(!from_first);
        let current = match self.last_connection {
            Some((last, number)) if last == key => Some(number),
            _ => self.connections.get(&key).and_then(|numbers| numbers.last().copied()),
        };
        let number = match current {
            Some(number) if syn.is_none_or(|isn| !opens_anew(self.incarnations[number].isn[way], isn)) => number,
            _ => {
                let number = self.incarnations.len();
                self.incarnations.push(Incarnation::default());
                self.connections.entry(key).or_default().push(number);
                number
            }
        };
        self.last_connection = Some((key, number));
        let incarnation = &mut self.incarnations[number];
        if incarnation.isn[way].is_none() {
            incarnation.isn[way] = syn;
        }
        for id in named.into_iter().flatten() {
            if !incarnation.sockets.contains(id) && incarnation.sockets.len() < 8 {
                incarnation.sockets.push(id.clone());
                self.first_of.entry((key, id.clone())).or_insert(number);
            }
        }
        number
    }
}

fn socket_args(event: &Event) -> Option<&CallArgs> {
    match &event.body {
        Body::CallStart(start) => Some(&start.args),
        _ => None,
    }
}
