//! Names the socket of every packet and kernel state change, from what the calls revealed.
//!
//! Calls name sockets (`c1`, `s1`…) and, on return, their addresses; the kernel names
//! sockets by address and by its own pointer (`sk`). Joining the two:
//! - a connected socket is known by its (local, remote) pair, learned from `connect` and
//!   `accept` returns;
//! - a listening socket by its local address, learned from `bind` and `listen`; SYN and
//!   SYN|ACK belong to it, because the connection's own socket does not exist yet on the
//!   server (Linux creates it when the third ACK arrives);
//! - a kernel state event by its `sk`, which the kernel logs with every change of the same
//!   socket, so the SYN-SENT change logged with local port 0 is joined to the later ones.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::event::{Body, CallName, Event, KernelNote, Role, SockId};

/// Which sides of the session are our own recorded programs. Sockets of a side that is not
/// recorded (another program's client, say) are named here, in order of appearance.
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
    connected: HashMap<Pair, SockId>,
    listeners: HashMap<SocketAddr, SockId>,
    bound: HashMap<SockId, SocketAddr>,
    kernel_pairs: HashMap<u64, Pair>,
    roles: HashMap<SockId, Role>,
    named: [u32; 2],
}

/// An IPv4 address seen through an IPv6 socket is the same endpoint as its IPv4 self.
fn canon(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

impl SocketResolver {
    pub fn new(server_ports: Vec<u16>, sides: Sides) -> SocketResolver {
        SocketResolver {
            server_ports,
            sides,
            connected: HashMap::new(),
            listeners: HashMap::new(),
            bound: HashMap::new(),
            kernel_pairs: HashMap::new(),
            roles: HashMap::new(),
            named: [0, 0],
        }
    }

    /// Learns what an event reveals: socket names from calls, address pairs from the kernel.
    pub fn learn(&mut self, event: &Event) {
        match &event.body {
            Body::CallEnd(end) => {
                if let Some(id) = &end.new_socket {
                    self.roles.insert(id.clone(), event.actor.role);
                }
                let Some(socket) = &event.socket else { return };
                match (end.call, end.local, end.peer) {
                    (CallName::Bind, Some(local), _) => {
                        self.bound.insert(socket.clone(), canon(local));
                    }
                    (CallName::Listen, _, _) if end.ret == 0 => {
                        if let Some(local) = self.bound.get(socket) {
                            self.listeners.insert(*local, socket.clone());
                        }
                    }
                    // Also a failed connect: the kernel used the port for its SYN.
                    (CallName::Connect, Some(local), Some(peer)) if local.port() != 0 => {
                        self.connected.insert((canon(local), canon(peer)), socket.clone());
                    }
                    (CallName::Accept, Some(local), Some(peer)) => {
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
                        self.kernel_pairs.insert(sk, (canon(local), canon(remote)));
                    }
                }
            }
            _ => {}
        }
    }

    /// Fills in the event's socket (and a packet's receiving socket) and its role.
    pub fn resolve(&mut self, event: &mut Event) {
        match &mut event.body {
            Body::Packet(packet) => {
                let (src, dst) = (canon(packet.src), canon(packet.dst));
                let handshake = packet.tcp.as_ref().is_some_and(|t| t.flags.contains(crate::wire::flags::TcpFlags::SYN));
                let sender = self.socket_of((src, dst), handshake);
                let receiver = self.socket_of((dst, src), handshake);
                event.actor.role = self.role_of(sender.as_ref(), src);
                event.socket = sender;
                packet.to = receiver;
            }
            Body::State(change) => {
                let pair = change
                    .sk
                    .and_then(|sk| self.kernel_pairs.get(&sk).copied())
                    .or_else(|| Some((canon(change.local?), canon(change.remote?))));
                if let Some((local, remote)) = pair {
                    // A listening socket's changes carry no remote port.
                    let socket = if remote.port() == 0 { self.listener_at(local) } else { self.socket_of((local, remote), false) };
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
                let (local, remote) = sk.and_then(|sk| self.kernel_pairs.get(&sk).copied()).unwrap_or((canon(local), canon(remote)));
                let socket = self.socket_of((local, remote), false);
                event.actor.role = self.role_of(socket.as_ref(), local);
                event.socket = socket;
            }
            Body::CallStart(_) | Body::CallEnd(_) => {}
        }
    }

    /// The connection socket at `local` talking to `remote`, once a call has named it.
    pub fn connected(&self, local: SocketAddr, remote: SocketAddr) -> Option<SockId> {
        self.connected.get(&(canon(local), canon(remote))).cloned()
    }

    fn listener_at(&self, local: SocketAddr) -> Option<SockId> {
        self.listeners.get(&local).cloned().or_else(|| {
            // A listener bound to the wildcard address accepts on every local address.
            let any = SocketAddr::new(if local.is_ipv4() { IpAddr::from([0u8; 4]) } else { IpAddr::from([0u16; 8]) }, local.port());
            self.listeners.get(&any).cloned()
        })
    }

    /// The socket at `pair.0` talking to `pair.1`.
    fn socket_of(&mut self, pair: Pair, handshake: bool) -> Option<SockId> {
        if handshake {
            if let Some(listener) = self.listener_at(pair.0) {
                return Some(listener);
            }
        }
        if let Some(id) = self.connected.get(&pair) {
            return Some(id.clone());
        }
        if let Some(listener) = self.listener_at(pair.0) {
            return Some(listener);
        }
        let role = self.role_by_port(pair.0);
        let recorded = match role {
            Role::Client => self.sides.client_recorded,
            Role::Server => self.sides.server_recorded,
            Role::Unknown => true,
        };
        if recorded {
            // Our own programs name their sockets; one not (yet) named stays unnamed rather
            // than being given a name that may belong to another socket.
            return None;
        }
        let slot = usize::from(role == Role::Server);
        self.named[slot] += 1;
        let id = SockId(format!("{}{}", if role == Role::Server { 's' } else { 'c' }, self.named[slot]));
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

    fn role_of(&self, socket: Option<&SockId>, local: SocketAddr) -> Role {
        socket.and_then(|s| self.roles.get(s).copied()).unwrap_or_else(|| self.role_by_port(local))
    }
}
