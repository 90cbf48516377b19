//! The simulated machine: one loopback kernel holding both programs' sockets, the link
//! between them, and the virtual clock that orders everything. All that happens is recorded
//! as an [`Event`] labelled as modelled.
//!
//! The programs are async fns (see `os.rs`) driven by [`run`]: at each instant every program
//! goes as far as it can, then the clock jumps to the next thing due — a retransmission or
//! TIME-WAIT timer, a packet's arrival, or a program waking up, in that order when they fall
//! on the same instant.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Waker};

use super::net::{InFlight, Loss, Net, Wire};
use crate::event::{Actor, Body, Event, Mint, Origin, Peer, Role, SockId, SockKind, StateChange, Transport};
use crate::tcp::{reset_for, Config, Control, Endpoint, Output, State};

/// A simulated program.
pub(super) type Program = Pin<Box<dyn Future<Output = ()>>>;

/// Fixed initial sequence numbers and timestamp clocks, so that every run is the same. Each
/// connection the server takes gets the next server ISN, `SERVER_ISS_STEP` further on.
const CLIENT_ISS: u32 = 2_000_000_000;
const SERVER_ISS: u32 = 3_000_000_000;
const SERVER_ISS_STEP: u32 = 1_000_000;
const CLIENT_TS: u32 = 1_000_000;
const SERVER_TS: u32 = 2_000_000;

/// The first port the kernel hands out to a socket that was not bound.
const FIRST_EPHEMERAL_PORT: u16 = 40000;

pub(super) struct Socket {
    pub id: SockId,
    /// The program whose socket it is: its role and, in a session of peers, the peer.
    pub owner: Actor,
    pub kind: Kind,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
}

pub(super) enum Kind {
    Tcp {
        endpoint: Box<Endpoint>,
        /// The listening socket this one was made for, until `accept` hands it out.
        listener: Option<usize>,
        accepted: bool,
    },
    Udp {
        inbox: VecDeque<(SocketAddr, Vec<u8>)>,
    },
}

impl Socket {
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match &self.kind {
            Kind::Tcp { endpoint, .. } => Some(endpoint),
            Kind::Udp { .. } => None,
        }
    }
}

/// What the kernel keeps per program: its open descriptors.
#[derive(Default)]
struct Process {
    fds: BTreeSet<i32>,
}

/// Which process a program's calls belong to: a peer is one process in both its roles; the
/// client and the server of the echo are two.
fn process_of(who: Actor) -> (Option<Peer>, Role) {
    match who.peer {
        Some(peer) => (Some(peer), Role::Unknown),
        None => (None, who.role),
    }
}

pub(super) struct World {
    now: u64,
    msl: u64,
    sockets: Vec<Socket>,
    processes: BTreeMap<(Option<Peer>, Role), Process>,
    /// The sockets' names, one series per role across the whole session.
    mint: Mint,
    net: Net,
    next_port: u16,
    server_connections: u32,
    events: Vec<Event>,
    /// Counts every change a program could be waiting for.
    progress: u64,
    wakeups: BTreeSet<u64>,
    next_call: u64,
    programs: usize,
    at_meeting: usize,
}

impl World {
    pub fn new(msl: u64, losses: &[Loss]) -> World {
        World {
            now: 0,
            msl,
            sockets: Vec::new(),
            processes: BTreeMap::new(),
            mint: Mint::default(),
            net: Net::new(losses),
            next_port: FIRST_EPHEMERAL_PORT,
            server_connections: 0,
            events: Vec::new(),
            progress: 0,
            wakeups: BTreeSet::new(),
            next_call: 0,
            programs: 0,
            at_meeting: 0,
        }
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn record(&mut self, who: Actor, socket: Option<SockId>, body: Body) {
        self.events.push(Event { t: self.now, actor: who, socket, origin: Origin::Modelled, body });
        self.progress += 1;
    }

    pub fn next_call_id(&mut self) -> u64 {
        self.next_call += 1;
        self.next_call
    }

    pub fn socket(&self, idx: usize) -> &Socket {
        &self.sockets[idx]
    }

    pub fn socket_mut(&mut self, idx: usize) -> &mut Socket {
        &mut self.sockets[idx]
    }

    /// A new socket, named after its owner's role: `c1`, `c2`… for clients, `s1`, `s2`… for
    /// servers (one series per role, so that peers' sockets have names of their own too).
    pub fn add_socket(&mut self, owner: Actor, kind: Kind, local: Option<SocketAddr>, remote: Option<SocketAddr>) -> usize {
        let id = self.mint.next(SockKind::of_role(owner.role));
        self.sockets.push(Socket { id, owner, kind, local, remote });
        self.sockets.len() - 1
    }

    /// A TCP socket in CLOSED, with Linux's loopback options and this side's fixed numbers.
    pub fn tcp_socket(&self, role: Role) -> Kind {
        let (iss, ts) = if role == Role::Client { (CLIENT_ISS, CLIENT_TS) } else { (SERVER_ISS, SERVER_TS) };
        let endpoint = Endpoint::new(Config { timestamps: Some(ts), msl: self.msl, ..Config::linux_loopback(iss) });
        Kind::Tcp { endpoint: Box::new(endpoint), listener: None, accepted: false }
    }

    /// The lowest free descriptor, as POSIX hands them out (0–2 are the standard streams).
    pub fn open_fd(&mut self, who: Actor) -> i32 {
        let fds = &mut self.processes.entry(process_of(who)).or_default().fds;
        let mut fd = 3;
        while fds.contains(&fd) {
            fd += 1;
        }
        fds.insert(fd);
        fd
    }

    pub fn close_fd(&mut self, who: Actor, fd: i32) {
        self.processes.entry(process_of(who)).or_default().fds.remove(&fd);
    }

    /// The socket's own address, binding it to the next ephemeral port if it has none.
    pub fn bind_ephemeral(&mut self, idx: usize) -> SocketAddr {
        if let Some(local) = self.sockets[idx].local {
            return local;
        }
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, self.next_port));
        self.next_port += 1;
        self.sockets[idx].local = Some(local);
        local
    }

    /// Runs a user call or timeout on a TCP socket's endpoint and records what it did.
    pub fn with_tcp<T>(&mut self, idx: usize, act: impl FnOnce(&mut Endpoint, u64) -> T) -> T {
        self.with_tcp_replying(idx, None, act)
    }

    /// As [`World::with_tcp`]; segments go to `reply_to` when the socket has no peer (a
    /// listening socket answering a stray segment).
    fn with_tcp_replying<T>(&mut self, idx: usize, reply_to: Option<SocketAddr>, act: impl FnOnce(&mut Endpoint, u64) -> T) -> T {
        let now = self.now;
        let socket = &mut self.sockets[idx];
        let Kind::Tcp { endpoint, .. } = &mut socket.kind else { unreachable!("a TCP call on UDP socket {}", socket.id) };
        let value = act(endpoint, now);
        let outputs = endpoint.take_output();
        let (owner, id, local, remote) = (socket.owner, socket.id.clone(), socket.local, socket.remote);
        for output in outputs {
            match output {
                Output::State { from, to } => {
                    let change = StateChange { from, to, local, remote, sk: None, model: None };
                    self.record(owner, Some(id.clone()), Body::State(change));
                }
                Output::Segment(seg) => {
                    let (Some(src), Some(dst)) = (local, remote.or(reply_to)) else { unreachable!("socket {id} sent a segment before it had addresses") };
                    self.transmit(owner, Some(id.clone()), src, dst, Wire::Tcp(seg));
                }
            }
        }
        value
    }

    /// Sends a packet from `who`'s socket (none for the kernel) and records it.
    pub fn transmit(&mut self, who: Actor, socket: Option<SockId>, src: SocketAddr, dst: SocketAddr, wire: Wire) {
        let transport = match wire {
            Wire::Tcp(_) => Transport::Tcp,
            Wire::Udp(_) => Transport::Udp,
        };
        let to = self.lookup(dst, src, transport).map(|idx| self.sockets[idx].id.clone());
        let mut packet = self.net.send(self.now, who, src, dst, wire);
        packet.to = to;
        self.record(who, socket, Body::Packet(packet));
    }

    /// The socket a packet from `src` to `dst` is for: the connection with that pair of
    /// addresses, else (for TCP) the socket listening on `dst`.
    fn lookup(&self, dst: SocketAddr, src: SocketAddr, transport: Transport) -> Option<usize> {
        let find = |wanted: &dyn Fn(&Socket) -> bool| self.sockets.iter().position(wanted);
        let state = |s: &Socket| s.endpoint().map(Endpoint::state);
        match transport {
            Transport::Tcp => {
                find(&|s| s.local == Some(dst) && s.remote == Some(src) && state(s).is_some_and(|st| !matches!(st, State::Closed | State::Listen)))
                    .or_else(|| find(&|s| s.local == Some(dst) && s.remote.is_none() && state(s) == Some(State::Listen)))
            }
            Transport::Udp => find(&|s| matches!(s.kind, Kind::Udp { .. }) && s.local == Some(dst)),
            // The model's hosts share no link layer: no socket receives ARP.
            Transport::Arp => None,
        }
    }

    fn deliver(&mut self, packet: InFlight) {
        match packet.wire {
            Wire::Tcp(seg) => self.tcp_arrives(packet.sender, packet.src, packet.dst, &seg),
            // A datagram for a port nobody has bound is dropped (the ICMP error is not modelled).
            Wire::Udp(data) => {
                if let Some(idx) = self.lookup(packet.dst, packet.src, Transport::Udp) {
                    if let Kind::Udp { inbox } = &mut self.sockets[idx].kind {
                        inbox.push_back((packet.src, data));
                    }
                }
            }
        }
    }

    fn tcp_arrives(&mut self, sender: Actor, src: SocketAddr, dst: SocketAddr, seg: &crate::tcp::Segment) {
        let Some(mut idx) = self.lookup(dst, src, Transport::Tcp) else {
            // RFC 9293 §3.10.7.1: no socket has this port, so the kernel answers for it.
            if let Some(reset) = reset_for(seg) {
                let answering = Actor::role(if sender.role == Role::Client { Role::Server } else { Role::Client });
                self.transmit(answering, None, dst, src, Wire::Tcp(reset));
            }
            return;
        };
        if self.sockets[idx].remote.is_none() && seg.control == Control::Syn {
            idx = self.socket_for_connection(idx, src);
        }
        self.with_tcp_replying(idx, Some(src), |endpoint, now| endpoint.segment_arrives(now, seg));
    }

    /// A SYN for a listening socket: as Berkeley sockets do, the listener makes a new socket
    /// (a copy of itself in LISTEN) for the connection, and stays in LISTEN for the next one.
    fn socket_for_connection(&mut self, listener: usize, remote: SocketAddr) -> usize {
        let iss = SERVER_ISS.wrapping_add(self.server_connections.wrapping_mul(SERVER_ISS_STEP));
        self.server_connections += 1;
        let socket = &self.sockets[listener];
        let Kind::Tcp { endpoint, .. } = &socket.kind else { unreachable!("only TCP sockets listen") };
        let kind = Kind::Tcp { endpoint: Box::new(endpoint.fork(iss)), listener: Some(listener), accepted: false };
        let (owner, local) = (socket.owner, socket.local);
        self.add_socket(owner, kind, local, Some(remote))
    }

    /// Hands out the oldest connection of `listener` that has finished its handshake.
    pub fn take_connection(&mut self, listener: usize) -> Option<usize> {
        let idx = self.sockets.iter().position(|s| {
            matches!(&s.kind, Kind::Tcp { endpoint, listener: Some(l), accepted: false }
                if *l == listener && endpoint.state().is_synchronized())
        })?;
        if let Kind::Tcp { accepted, .. } = &mut self.sockets[idx].kind {
            *accepted = true;
        }
        Some(idx)
    }

    pub fn take_datagram(&mut self, idx: usize) -> Option<(SocketAddr, Vec<u8>)> {
        match &mut self.sockets[idx].kind {
            Kind::Udp { inbox } => inbox.pop_front(),
            Kind::Tcp { .. } => None,
        }
    }

    pub fn wake_at(&mut self, t: u64) {
        self.wakeups.insert(t);
    }

    pub fn arrive_at_meeting(&mut self) {
        self.at_meeting += 1;
        self.progress += 1;
    }

    pub fn everyone_met(&self) -> bool {
        self.at_meeting >= self.programs
    }

    fn next_instant(&self) -> Option<u64> {
        let timers = self.sockets.iter().filter_map(|s| s.endpoint().and_then(Endpoint::poll_at));
        timers.chain(self.net.next_at()).chain(self.wakeups.first().copied()).min()
    }

    fn advance(&mut self, t: u64) {
        self.now = t;
        for idx in 0..self.sockets.len() {
            if self.sockets[idx].endpoint().and_then(Endpoint::poll_at).is_some_and(|at| at <= t) {
                self.with_tcp(idx, |endpoint, now| endpoint.timeout(now));
            }
        }
        for packet in self.net.arrived(t) {
            self.deliver(packet);
        }
        self.wakeups.retain(|&at| at > t);
    }
}

/// Runs the programs to their end and every timer out (TIME-WAIT included); returns the events.
pub(super) fn run(world: &Rc<RefCell<World>>, mut programs: Vec<Program>) -> Vec<Event> {
    world.borrow_mut().programs = programs.len();
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        // What one program does may let another go on at the same instant (a meeting).
        loop {
            let before = world.borrow().progress;
            programs.retain_mut(|program| program.as_mut().poll(&mut cx).is_pending());
            if world.borrow().progress == before {
                break;
            }
        }
        let next = world.borrow().next_instant();
        let Some(t) = next else { break };
        world.borrow_mut().advance(t);
    }
    assert!(programs.is_empty(), "the simulation stalled: a program waits for something that never comes");
    std::mem::take(&mut world.borrow_mut().events)
}
