//! Names the socket of every packet and kernel state change, from what the calls revealed.
//!
//! Calls name sockets (`c1`, `s1`…) and, on return, their addresses; the kernel names
//! sockets by address and by its own pointer (`sk`). Joining the two:
//! - a connected socket is known by its (local, remote) pair, learned from `connect` and
//!   `accept` returns;
//! - a listening socket by its local address, learned from `bind` and `listen`; SYN and
//!   SYN|ACK belong to it, because the connection's own socket does not exist yet on the
//!   server (Linux creates it when the third ACK arrives);
//! - a kernel state event by its own address pair; the change to SYN-SENT, logged with local
//!   port 0, happens inside `connect()` on the calling thread, so it belongs to the last
//!   connect that thread started to that address (which needs no later event, however late a
//!   lens delivers it); failing that (another program's connect), to the next change the
//!   kernel logs for the same `sk`. Only the next: the kernel reuses a freed socket's memory,
//!   so one `sk` names several sockets over a session;
//! - a datagram (UDP) socket by its local address alone, learned from `bind` and from the
//!   first `sendto` (which binds it implicitly): it has no connection, so no pair; a datagram
//!   belongs to the socket at its source and arrives at the one at its destination.

use std::net::{IpAddr, SocketAddr};

use super::datagrams::DatagramSockets;
use crate::event::{Body, Event, KernelNote, Mint, Peer, Role, SockId, SockKind, Transport, Verb};
use crate::hash::{FastMap, FastSet};
use crate::wire::addr::canon;

/// Which sides of the session are our own recorded programs. Sockets of a side that is not
/// recorded (another program's client, say) are named here, in order of appearance.
/// [`SocketResolver::learning_sides`] decides it per connection instead, from the calls.
#[derive(Clone, Copy, Debug)]
pub struct Sides {
    pub client_recorded: bool,
    pub server_recorded: bool,
}

type Pair = (SocketAddr, SocketAddr);

pub struct SocketResolver {
    /// Ports the server side listens on: they tell which end of a connection is the server.
    server_ports: Vec<u16>,
    sides: Sides,
    /// Sides decided per connection from what the calls show (traced programs).
    learn_sides: bool,
    /// Addresses that the recorded programs connected to.
    connect_targets: Vec<SocketAddr>,
    connected: FastMap<Pair, SockId>,
    /// Listening sockets by address, with the time their `close` returned: after it, another
    /// program may listen on the same port, and its events are not the session's.
    listeners: FastMap<SocketAddr, (SockId, Option<u64>)>,
    /// Datagram sockets by local address, with the time their `close` returned (as listeners).
    datagram: FastMap<SocketAddr, (SockId, Option<u64>)>,
    datagram_sockets: DatagramSockets,
    bound: FastMap<SockId, SocketAddr>,
    /// Per `sk`, the address pairs its state changes were logged with, by time.
    kernel_pairs: FastMap<u64, Vec<(u64, Pair)>>,
    /// Per thread, the connects it started, in time order: (time, address, socket).
    connects: FastMap<u32, Vec<(u64, SocketAddr, SockId)>>,
    /// When each socket's connect returned.
    connect_ended: FastMap<SockId, u64>,
    /// `close` calls of one descriptor among several (a forked child's copy): the socket
    /// stays open.
    partial_closes: FastSet<u64>,
    roles: FastMap<SockId, Role>,
    /// The program of each socket, in a session of peers.
    peers: FastMap<SockId, Peer>,
    /// Names for the sockets no call named: connections waiting in a listener's queue, and
    /// the untraced programs' sockets.
    mint: Mint,
    /// Connections named while they waited in a listener's queue, by their address pair: the
    /// `accept` that returns one says so (`queued`).
    queued: FastMap<Pair, SockId>,
    /// Untraced datagram sockets, by address.
    datagram_peers: FastMap<SocketAddr, SockId>,
}

impl SocketResolver {
    pub fn new(server_ports: Vec<u16>, sides: Sides) -> SocketResolver {
        SocketResolver {
            server_ports,
            sides,
            learn_sides: false,
            connect_targets: Vec::new(),
            connected: FastMap::default(),
            listeners: FastMap::default(),
            datagram: FastMap::default(),
            datagram_sockets: DatagramSockets::default(),
            bound: FastMap::default(),
            kernel_pairs: FastMap::default(),
            connects: FastMap::default(),
            connect_ended: FastMap::default(),
            partial_closes: FastSet::default(),
            roles: FastMap::default(),
            peers: FastMap::default(),
            mint: Mint::default(),
            queued: FastMap::default(),
            datagram_peers: FastMap::default(),
        }
    }

    /// A resolver for programs whose sides are not known in advance (`trace run` of any
    /// command): the server ports are those the calls listen on or connect to, and a side is
    /// recorded when the calls show it: a server's by its listening socket, a client's by a
    /// connect to the server's address. A side no call showed is another program's, and its
    /// sockets are named here.
    pub fn learning_sides(self) -> SocketResolver {
        SocketResolver { learn_sides: true, ..self }
    }

    fn add_server_port(&mut self, port: u16) {
        if port != 0 && !self.server_ports.contains(&port) {
            self.server_ports.push(port);
        }
    }

    /// Learns what an event reveals: socket names from calls, address pairs from the kernel.
    pub fn learn(&mut self, event: &Event) {
        self.datagram_sockets.learn(event);
        match &event.body {
            Body::CallStart(start) if start.verb() == Verb::Connect => {
                if let Some(addr) = start.args.addr {
                    // The port a connect goes to is a server's.
                    self.add_server_port(addr.port());
                    self.connect_targets.push(canon(addr));
                }
                if let (Some(tid), Some(addr), Some(socket)) = (event.actor.tid, start.args.addr, &event.socket) {
                    self.connects.entry(tid).or_default().push((event.t, canon(addr), socket.clone()));
                }
            }
            // The kernel reports a socket's LISTEN inside its listen call, whose end the tracer
            // may stamp long after (its stop waits its turn on a loaded machine, past the
            // timeline's window): a bound socket listens from the call's start, and stops if
            // the call fails.
            Body::CallStart(start) if start.verb() == Verb::Listen => {
                if let Some((socket, local)) = event.socket.as_ref().and_then(|s| Some((s, *self.bound.get(s)?))) {
                    self.listeners.insert(local, (socket.clone(), None));
                    self.add_server_port(local.port());
                }
            }
            Body::CallStart(start) if start.verb() == Verb::Close && start.args.other_fds.is_some_and(|n| n > 0) => {
                self.partial_closes.insert(start.id);
            }
            Body::CallEnd(end) if self.partial_closes.remove(&end.id) => {}
            Body::CallEnd(end) => {
                if let Some(id) = &end.new_socket {
                    self.mint.skip(id);
                    self.roles.insert(id.clone(), event.actor.role);
                    if let Some(peer) = event.actor.peer {
                        self.peers.insert(id.clone(), peer);
                    }
                }
                let Some(socket) = &event.socket else { return };
                let verb = end.call.verb();
                if verb == Verb::Connect {
                    self.connect_ended.insert(socket.clone(), event.t);
                }
                if self.datagram_sockets.contains(socket) {
                    self.learn_datagram(event.t, socket, end);
                    return;
                }
                match (verb, end.local, end.peer) {
                    (Verb::Bind, Some(local), _) => {
                        self.bound.insert(socket.clone(), canon(local));
                    }
                    (Verb::Listen, local, _) if end.ret == 0 => {
                        // A socket that listens without bind gets its port at listen.
                        if let Some(local) = local.map(canon).or_else(|| self.bound.get(socket).copied()) {
                            self.listeners.insert(local, (socket.clone(), None));
                            self.add_server_port(local.port());
                        }
                    }
                    (Verb::Listen, _, _) => self.listeners.retain(|_, (id, closed)| id != socket || closed.is_some()),
                    (Verb::Close, _, _) => {
                        for (id, closed) in self.listeners.values_mut() {
                            if id == socket {
                                *closed = Some(event.t);
                            }
                        }
                    }
                    // Also a failed connect: the kernel used the port for its SYN.
                    (Verb::Connect, Some(local), Some(peer)) if local.port() != 0 => {
                        self.connected.insert((canon(local), canon(peer)), socket.clone());
                    }
                    (Verb::Accept, Some(local), Some(peer)) => {
                        if let Some(new) = &end.new_socket {
                            self.connected.insert((canon(local), canon(peer)), new.clone());
                        }
                    }
                    _ => {}
                }
            }
            Body::State(change) => {
                if let (Some(sk), Some(local), Some(remote)) = (change.sk, change.local, change.remote) {
                    if local.port() != 0 && remote.port() != 0 {
                        let seen = self.kernel_pairs.entry(sk).or_default();
                        let at = seen.partition_point(|(t, _)| *t <= event.t);
                        seen.insert(at, (event.t, (canon(local), canon(remote))));
                    }
                }
            }
            _ => {}
        }
    }

    /// Learns a datagram socket's address from its calls, and when it was closed.
    fn learn_datagram(&mut self, t: u64, socket: &SockId, end: &crate::event::CallEnd) {
        match (end.call.verb(), end.local) {
            (Verb::Close, _) => {
                for (id, closed) in self.datagram.values_mut() {
                    if id == socket {
                        *closed = Some(t);
                    }
                }
            }
            // A later socket may take the address of one that was closed.
            (_, Some(local)) if local.port() != 0 && self.datagram.get(&canon(local)).is_none_or(|(_, closed)| closed.is_some()) => {
                self.datagram.insert(canon(local), (socket.clone(), None));
            }
            _ => {}
        }
    }

    /// Fills in the event's socket (and a packet's receiving socket), its role and, in a
    /// session of peers, the program whose socket it is.
    pub fn resolve(&mut self, event: &mut Event) {
        self.resolve_socket(event);
        self.name_peer(event);
    }

    /// Names the program of an event that names a peer's socket (the model's events, say).
    pub fn name_peer(&self, event: &mut Event) {
        if event.actor.peer.is_none() {
            event.actor.peer = event.socket.as_ref().and_then(|s| self.peers.get(s).copied());
        }
    }

    fn resolve_socket(&mut self, event: &mut Event) {
        match &mut event.body {
            Body::Packet(packet) if packet.transport == Transport::Arp => {
                event.actor.role = self.role_of_host(packet.src.ip(), packet.dst.ip());
            }
            Body::Packet(packet) if packet.transport == Transport::Udp => {
                let (src, dst) = (canon(packet.src), canon(packet.dst));
                let mut sender = open_at(&self.datagram, src, event.t);
                let mut receiver = open_at(&self.datagram, dst, event.t);
                // A traced socket's datagram to or from a program that is not traced: the
                // other end is an untraced peer, named by its address.
                match (&sender, &receiver) {
                    (Some(_), None) => receiver = Some(self.datagram_peer(dst)),
                    (None, Some(_)) => sender = Some(self.datagram_peer(src)),
                    _ => {}
                }
                packet.to = receiver;
                event.actor.role = self.role_of(sender.as_ref(), src);
                event.socket = sender;
            }
            Body::Packet(packet) => {
                let (src, dst) = (canon(packet.src), canon(packet.dst));
                let handshake = packet.tcp.as_ref().is_some_and(|t| t.flags.contains(crate::tcp::flags::TcpFlags::SYN));
                let mut sender = self.socket_of((src, dst), handshake, event.t);
                let opening = packet.tcp.as_ref().is_some_and(|t| t.flags.without_psh() == crate::tcp::flags::TcpFlags::SYN);
                if sender.is_none() && opening {
                    sender = self.sole_connect(src, dst, event.t);
                }
                let receiver = self.socket_of((dst, src), handshake, event.t);
                event.actor.role = self.role_of(sender.as_ref(), src);
                event.socket = sender;
                packet.to = receiver;
            }
            Body::State(change) => {
                if let Some(socket) = self.connecting(event.t, event.actor.tid, change) {
                    // The active open is the client's part, whoever recorded the socket.
                    event.actor.role = self.roles.get(&socket).copied().unwrap_or(Role::Client);
                    event.socket = Some(socket);
                    return;
                }
                let own = change.local.zip(change.remote).map(|(l, r)| (canon(l), canon(r)));
                let pair = match own {
                    Some((local, _)) if local.port() == 0 => change.sk.and_then(|sk| self.next_pair(sk, event.t)).or(own),
                    _ => own,
                };
                if let Some((local, remote)) = pair {
                    // A listening socket's changes carry no remote port.
                    let socket = if remote.port() == 0 { self.listener_at(local, event.t) } else { self.socket_of((local, remote), false, event.t) };
                    event.actor.role = self.role_of(socket.as_ref(), local);
                    event.socket = socket;
                }
            }
            Body::Kernel(note) => {
                let (local, remote, sk) = match note {
                    KernelNote::ResetSent { local, remote, sk }
                    | KernelNote::ResetReceived { local, remote, sk }
                    | KernelNote::Retransmit { local, remote, sk, .. } => (*local, *remote, *sk),
                };
                let (local, remote) =
                    if local.port() == 0 { sk.and_then(|sk| self.next_pair(sk, event.t)) } else { None }.unwrap_or((canon(local), canon(remote)));
                let socket = self.socket_of((local, remote), false, event.t);
                event.actor.role = self.role_of(socket.as_ref(), local);
                event.socket = socket;
            }
            Body::CallEnd(end) => {
                // The connection `accept` returns may have been named while it waited.
                if let (Verb::Accept, Some(local), Some(peer)) = (end.call.verb(), end.local, end.peer) {
                    end.queued = self.queued.get(&(canon(local), canon(peer))).cloned();
                }
            }
            Body::CallStart(_) | Body::Process(_) => {}
        }
    }

    /// The untraced datagram socket at `addr`, named on first sight.
    fn datagram_peer(&mut self, addr: SocketAddr) -> SockId {
        if let Some(id) = self.datagram_peers.get(&addr) {
            return id.clone();
        }
        let id = self.mint.next(SockKind::Peer);
        self.roles.insert(id.clone(), self.role_by_port(addr));
        self.datagram_peers.insert(addr, id.clone());
        id
    }

    /// The socket that sent a SYN from `src` to `dst` at `t` while no call had named that
    /// pair yet: the one connect to `dst` in progress at `t`, if there is exactly one. (A
    /// connect whose SYN was lost returns long after it, once the pair is long released.) The
    /// pair is then known for the packets that follow.
    fn sole_connect(&mut self, src: SocketAddr, dst: SocketAddr, t: u64) -> Option<SockId> {
        let in_progress =
            |(at, addr, socket): &&(u64, SocketAddr, SockId)| *at <= t && *addr == dst && self.connect_ended.get(socket).is_none_or(|end| *end >= t);
        let mut found = self.connects.values().flatten().filter(in_progress).map(|(_, _, socket)| socket);
        let socket = found.next()?.clone();
        if found.next().is_some() {
            return None;
        }
        self.connected.insert((src, dst), socket.clone());
        Some(socket)
    }

    /// The address pair of the first change logged for `sk` at or after `t`.
    fn next_pair(&self, sk: u64, t: u64) -> Option<Pair> {
        let seen = self.kernel_pairs.get(&sk)?;
        seen.get(seen.partition_point(|(at, _)| *at < t)).map(|(_, pair)| *pair)
    }

    /// The socket whose `connect()` made this change to SYN-SENT: the last connect to the
    /// same address that the reporting thread started before it.
    fn connecting(&self, t: u64, tid: Option<u32>, change: &crate::event::StateChange) -> Option<SockId> {
        if change.to != crate::tcp::State::SynSent || change.local.is_some_and(|l| l.port() != 0) {
            return None;
        }
        let remote = canon(change.remote?);
        let started = self.connects.get(&tid?)?;
        started.iter().rev().find(|(at, addr, _)| *at <= t && *addr == remote).map(|(_, _, socket)| socket.clone())
    }

    /// The connection socket at `local` talking to `remote`, once a call has named it.
    pub fn connected(&self, local: SocketAddr, remote: SocketAddr) -> Option<SockId> {
        self.connected.get(&(canon(local), canon(remote))).cloned()
    }

    /// The listening socket at `local` at time `t` (none once it has been closed).
    fn listener_at(&self, local: SocketAddr, t: u64) -> Option<SockId> {
        open_at(&self.listeners, local, t)
    }

    /// Whether both sides are our own recorded programs: then every socket of the session is
    /// named by its calls, and an event that names none belongs to another program.
    pub fn records_both_sides(&self) -> bool {
        self.sides.client_recorded && self.sides.server_recorded && !self.learn_sides
    }

    /// The socket at `pair.0` talking to `pair.1`, at time `t`.
    fn socket_of(&mut self, pair: Pair, handshake: bool, t: u64) -> Option<SockId> {
        if handshake {
            if let Some(listener) = self.listener_at(pair.0, t) {
                return Some(listener);
            }
        }
        if let Some(id) = self.connected.get(&pair) {
            return Some(id.clone());
        }
        // Past the SYN and SYN|ACK, a connection at a traced listener's address is a socket of
        // its own, which the kernel made when the handshake completed: until `accept` returns
        // it (if ever), it waits in the listener's queue, and is named as such.
        if let Some(listener) = self.listener_at(pair.0, t) {
            let id = self.mint.next(SockKind::Queued);
            let role = self.roles.get(&listener).copied().unwrap_or(Role::Server);
            self.roles.insert(id.clone(), role);
            if let Some(&peer) = self.peers.get(&listener) {
                self.peers.insert(id.clone(), peer);
            }
            self.connected.insert(pair, id.clone());
            self.queued.insert(pair, id.clone());
            return Some(id);
        }
        let role = self.role_by_port(pair.0);
        let recorded = match role {
            // A recorded listener would have been found above.
            Role::Server if self.learn_sides => false,
            Role::Client if self.learn_sides => self.connect_targets.contains(&pair.1),
            Role::Client => self.sides.client_recorded,
            Role::Server => self.sides.server_recorded,
            Role::Unknown => true,
        };
        if recorded {
            // Our own programs name their sockets; one not (yet) named stays unnamed rather
            // than being given a name that may belong to another socket.
            return None;
        }
        // A socket of a program that is not traced: the traced socket's untraced peer.
        let id = self.mint.next(SockKind::Peer);
        self.roles.insert(id.clone(), role);
        self.connected.insert(pair, id.clone());
        Some(id)
    }

    fn role_by_port(&self, addr: SocketAddr) -> Role {
        if self.server_ports.contains(&addr.port()) {
            Role::Server
        } else if self.server_ports.is_empty() {
            Role::Unknown
        } else {
            Role::Client
        }
    }

    /// Whose host sent a packet between hosts (ARP, which names no socket): the server's when
    /// it has the address a server listens on or a client connects to, the client's when it
    /// asks for (or answers) that address.
    fn role_of_host(&self, src: IpAddr, dst: IpAddr) -> Role {
        let server_host = |ip: IpAddr| {
            let ip = canon(SocketAddr::new(ip, 0)).ip();
            // A UDP server's host is the one its datagram socket is bound on.
            let datagram_servers = self.datagram.iter().filter(|(_, (id, _))| self.roles.get(id) == Some(&Role::Server)).map(|(a, _)| a);
            self.listeners.keys().chain(&self.connect_targets).chain(datagram_servers).any(|a| a.ip() == ip)
        };
        if server_host(src) {
            Role::Server
        } else if server_host(dst) {
            Role::Client
        } else {
            Role::Unknown
        }
    }

    fn role_of(&self, socket: Option<&SockId>, local: SocketAddr) -> Role {
        socket.and_then(|s| self.roles.get(s).copied()).unwrap_or_else(|| self.role_by_port(local))
    }
}

/// The wildcard address (`0.0.0.0` or `::`) on the port of `addr`.
pub fn wildcard(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(if addr.is_ipv4() { IpAddr::from([0u8; 4]) } else { IpAddr::from([0u16; 8]) }, addr.port())
}

/// The socket bound at `local` (or at the wildcard address, which takes every local address)
/// that was still open at time `t`.
fn open_at(bound: &FastMap<SocketAddr, (SockId, Option<u64>)>, local: SocketAddr, t: u64) -> Option<SockId> {
    let any = wildcard(local);
    let open = |(id, closed): &(SockId, Option<u64>)| closed.is_none_or(|c| t <= c).then(|| id.clone());
    bound.get(&local).and_then(open).or_else(|| bound.get(&any).and_then(open))
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;
    use crate::event::{Actor, CallArgs, CallEnd, CallName, CallStart, Origin, StateChange};
    use crate::tcp::State;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn state(t: u64, tid: u32, sk: u64, local: &str, remote: &str, from: State, to: State) -> Event {
        Event {
            t,
            actor: Actor { role: Role::Unknown, peer: None, pid: None, tid: Some(tid) },
            socket: None,
            origin: Origin::Observed,
            body: Body::State(StateChange { from, to, local: Some(addr(local)), remote: Some(addr(remote)), sk: Some(sk), model: None }),
        }
    }

    fn connect_start(t: u64, tid: u32, socket: &str, to: &str) -> Event {
        Event {
            t,
            actor: Actor { role: Role::Client, peer: None, pid: Some(1), tid: Some(tid) },
            socket: Some(SockId(socket.into())),
            origin: Origin::Observed,
            body: Body::CallStart(CallStart {
                id: t,
                call: CallName::Connect,
                fd: Some(3),
                args: CallArgs { addr: Some(addr(to)), ..CallArgs::default() }.into(),
            }),
        }
    }

    fn resolver() -> SocketResolver {
        SocketResolver::new(vec![7000], Sides { client_recorded: true, server_recorded: true })
    }

    #[test]
    fn syn_sent_with_port_0__belongs_to_the_last_connect_of_its_thread() {
        let mut r = resolver();
        let events = [connect_start(10, 5, "c1", "127.0.0.1:7000"), connect_start(20, 5, "c2", "127.0.0.1:7000")];
        for e in &events {
            r.learn(e);
        }
        let mut first = state(12, 5, 0xa, "127.0.0.1:0", "127.0.0.1:7000", State::Closed, State::SynSent);
        let mut second = state(22, 5, 0xb, "127.0.0.1:0", "127.0.0.1:7000", State::Closed, State::SynSent);
        r.resolve(&mut first);
        r.resolve(&mut second);
        assert_eq!((first.socket, second.socket), (Some(SockId("c1".into())), Some(SockId("c2".into()))));
        assert_eq!(first.actor.role, Role::Client);
    }

    #[test]
    fn arp__named_by_host_the_server_is_the_one_connected_to() {
        let mut r = resolver();
        r.learn(&connect_start(10, 5, "c1", "192.0.2.2:7000"));
        let arp = |src: &str, dst: &str| {
            let packet = crate::event::Packet::new(Transport::Arp, addr(src), addr(dst));
            Event { t: 11, actor: Actor::role(Role::Unknown), socket: None, origin: Origin::Observed, body: Body::Packet(packet) }
        };
        let (mut request, mut reply, mut other) = (arp("192.0.2.1:0", "192.0.2.2:0"), arp("192.0.2.2:0", "192.0.2.1:0"), arp("10.0.0.1:0", "10.0.0.2:0"));
        for e in [&mut request, &mut reply, &mut other] {
            r.resolve(e);
        }
        assert_eq!((request.actor.role, reply.actor.role, other.actor.role), (Role::Client, Role::Server, Role::Unknown));
        assert_eq!(request.socket, None, "ARP names no socket");
    }

    #[test]
    fn port_taken_after_our_listener_closed__is_not_our_listener() {
        let mut r = resolver();
        let call_end = |t: u64, call: CallName, local: Option<&str>| Event {
            t,
            actor: Actor { role: Role::Server, peer: None, pid: Some(1), tid: Some(1) },
            socket: Some(SockId("s1".into())),
            origin: Origin::Observed,
            body: Body::CallEnd(CallEnd { local: local.map(addr), ..CallEnd::new(t, call, 0) }),
        };
        for e in [call_end(1, CallName::Bind, Some("127.0.0.1:7000")), call_end(2, CallName::Listen, None), call_end(9, CallName::Close, None)] {
            r.learn(&e);
        }
        let mut ours = state(8, 1, 0xa, "127.0.0.1:7000", "0.0.0.0:0", State::Listen, State::Closed);
        let mut theirs = state(12, 77, 0xb, "127.0.0.1:7000", "0.0.0.0:0", State::Closed, State::Listen);
        r.resolve(&mut ours);
        r.resolve(&mut theirs);
        assert_eq!(ours.socket, Some(SockId("s1".into())));
        assert_eq!(theirs.socket, None, "another program's listener on the freed port");
        assert!(r.records_both_sides());
    }

    #[test]
    fn listen_ending_late__its_listen_is_named_from_the_calls_start__a_failed_one_is_let_go() {
        let mut r = resolver();
        let event = |t: u64, socket: &str, body: Body| Event {
            t,
            actor: Actor { role: Role::Server, peer: None, pid: Some(1), tid: Some(1) },
            socket: Some(SockId(socket.into())),
            origin: Origin::Observed,
            body,
        };
        let start = |t: u64, socket: &str| {
            event(t, socket, Body::CallStart(CallStart { id: t, call: CallName::Listen, fd: Some(3), args: CallArgs::default().into() }))
        };
        let bound =
            |t: u64, socket: &str, local: &str| event(t, socket, Body::CallEnd(CallEnd { local: Some(addr(local)), ..CallEnd::new(t, CallName::Bind, 0) }));
        // s1's listen has started; its LISTEN comes before the call's end is known.
        for e in [bound(1, "s1", "127.0.0.1:7000"), start(2, "s1")] {
            r.learn(&e);
        }
        let mut listen = state(3, 1, 0xa, "127.0.0.1:7000", "0.0.0.0:0", State::Closed, State::Listen);
        r.resolve(&mut listen);
        assert_eq!(listen.socket, Some(SockId("s1".into())));
        // s2's listen fails: its address is no listener of ours.
        for e in [bound(10, "s2", "127.0.0.1:7001"), start(11, "s2"), event(12, "s2", Body::CallEnd(CallEnd::new(12, CallName::Listen, -98)))] {
            r.learn(&e);
        }
        let mut other = state(13, 77, 0xb, "127.0.0.1:7001", "0.0.0.0:0", State::Closed, State::Listen);
        r.resolve(&mut other);
        assert_eq!(other.socket, None);
    }

    #[test]
    fn reused_sk__each_change_keeps_its_own_pair_and_port_0_looks_only_at_the_next() {
        let mut r = SocketResolver::new(vec![7000], Sides { client_recorded: false, server_recorded: false });
        let later = [
            state(11, 9, 0xa, "127.0.0.1:4001", "127.0.0.1:7000", State::SynSent, State::Established),
            state(31, 9, 0xa, "127.0.0.1:4002", "127.0.0.1:7000", State::SynSent, State::Established),
        ];
        for e in &later {
            r.learn(e);
        }
        let mut first = state(10, 9, 0xa, "127.0.0.1:0", "127.0.0.1:7000", State::Closed, State::SynSent);
        let mut second = state(30, 9, 0xa, "127.0.0.1:0", "127.0.0.1:7000", State::Closed, State::SynSent);
        let (mut e1, mut e2) = (later[0].clone(), later[1].clone());
        for e in [&mut first, &mut e1, &mut second, &mut e2] {
            r.resolve(e);
        }
        assert_eq!(first.socket, e1.socket);
        assert_eq!(second.socket, e2.socket);
        assert_ne!(first.socket, second.socket, "a reused sk is another socket");
    }

    fn call(t: u64, role: Role, socket: Option<&str>, body: Body) -> Event {
        Event { t, actor: Actor { role, pid: Some(1), tid: Some(1), peer: None }, socket: socket.map(|s| SockId(s.into())), origin: Origin::Observed, body }
    }

    fn call_end(t: u64, role: Role, socket: &str, id: u64, call: CallName, local: Option<&str>, new_socket: bool) -> Event {
        let end = CallEnd { new_socket: new_socket.then(|| SockId(socket.into())), local: local.map(addr), ..CallEnd::new(id, call, 0) };
        self::call(t, role, Some(socket), Body::CallEnd(end))
    }

    /// `socket(AF_INET, SOCK_DGRAM)` by `role`, returning `socket`.
    fn datagram_socket(t: u64, role: Role, socket: &str, id: u64) -> [Event; 2] {
        let args = CallArgs { ty: Some("SOCK_DGRAM".into()), ..CallArgs::default() };
        [
            call(t, role, None, Body::CallStart(CallStart { id, call: CallName::Socket, fd: None, args: args.into() })),
            call_end(t + 1, role, socket, id, CallName::Socket, None, true),
        ]
    }

    fn datagram(t: u64, src: &str, dst: &str) -> Event {
        let packet = crate::event::Packet { len: 1, ..crate::event::Packet::new(Transport::Udp, addr(src), addr(dst)) };
        Event { t, actor: Actor::role(Role::Unknown), socket: None, origin: Origin::Observed, body: Body::Packet(packet) }
    }

    #[test]
    fn datagram__named_by_the_bound_address_and_the_first_sendto_wildcard() {
        let mut r = resolver();
        let mut events = Vec::new();
        events.extend(datagram_socket(1, Role::Server, "s1", 1));
        events.push(call_end(3, Role::Server, "s1", 2, CallName::Bind, Some("127.0.0.1:7000"), false));
        events.extend(datagram_socket(4, Role::Client, "c1", 3));
        // An implicitly bound socket reports the wildcard address.
        events.push(call_end(6, Role::Client, "c1", 4, CallName::Sendto, Some("0.0.0.0:40000"), false));
        events.push(call_end(9, Role::Server, "s1", 5, CallName::Close, None, false));
        for e in &events {
            r.learn(e);
        }
        let mut request = datagram(5, "127.0.0.1:40000", "127.0.0.1:7000");
        let mut answer = datagram(7, "127.0.0.1:7000", "127.0.0.1:40000");
        let mut late = datagram(10, "127.0.0.1:40001", "127.0.0.1:7000");
        for e in [&mut request, &mut answer, &mut late] {
            r.resolve(e);
        }
        let names = |e: &Event| {
            (
                e.socket.clone().map(|s| s.0),
                match &e.body {
                    Body::Packet(p) => p.to.clone().map(|s| s.0),
                    _ => None,
                },
            )
        };
        assert_eq!(names(&request), (Some("c1".into()), Some("s1".into())));
        assert_eq!((request.actor.role, answer.actor.role), (Role::Client, Role::Server));
        assert_eq!(names(&answer), (Some("s1".into()), Some("c1".into())));
        assert_eq!(names(&late), (None, None), "after s1 closed, its port is no longer s1");
    }

    #[test]
    fn datagram__a_stream_socket_on_the_same_port_is_not_it() {
        let mut r = resolver();
        // A TCP socket bound at the address: UDP and TCP ports are separate spaces.
        r.learn(&call_end(1, Role::Server, "s1", 1, CallName::Bind, Some("127.0.0.1:7000"), false));
        let mut packet = datagram(2, "127.0.0.1:40000", "127.0.0.1:7000");
        r.resolve(&mut packet);
        assert!(matches!(&packet.body, Body::Packet(p) if p.to.is_none()));
    }
}
