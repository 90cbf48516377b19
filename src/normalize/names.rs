//! The names a normalized view gives sockets and addresses, so that two runs of the same
//! programs read the same:
//!
//! - one name per connection: a live trace may name a connection twice, while it waited, not
//!   yet accepted, in its listener's queue (`q1`), and once `accept` returned it (`s2`, whose
//!   `accept` says `queued: q1`); whether the first name appears at all depends on how late
//!   the `accept` was seen, so the connection is known by the name `accept` gave it;
//! - a client's socket named after the connection it made: the client of the first socket
//!   `accept` returned is `c1`, of the second `c2`… When several clients run at once, which one
//!   the kernel happened to create first is a matter of scheduling, which one the server served
//!   first is the server's; clients that reached no traced server follow, in creation order;
//! - an address by whose it is: the listening socket's `SERVER` (`SERVER_A` among peers), a
//!   connected or datagram socket's own address by its socket's name, IPv4-mapped IPv6
//!   addresses as their IPv4 selves;
//! - no descriptor or process numbers.

use std::borrow::Cow;
use std::net::SocketAddr;

use super::first_seen::FirstSeen;
use crate::event::{Body, Event, Mint, Peer, SockId, SockKind, Verb};
use crate::hash::{FastMap, FastSet};
use crate::wire::addr::canon;
use crate::wording::Names;

/// The names to give, socket by socket and address by address.
#[derive(Debug, Default)]
pub struct Renames {
    sockets: FastMap<SockId, SockId>,
    addresses: FastMap<SocketAddr, String>,
}

/// What the names are made of, found event by event: a view reads its events once for these
/// and for the sockets' numbers together, half of them on each core ([`super::sockets::read`]),
/// and puts the halves' findings together ([`Seen::then`]).
#[derive(Default)]
pub(super) struct Seen<'e> {
    /// Connections named while they waited, by the name `accept` gave them.
    queued: FastMap<SockId, SockId>,
    /// Each client socket's own address, from its connect (or its first datagram); the
    /// clients in the order they first act; the listening sockets.
    client_at: FastMap<SocketAddr, &'e SockId>,
    clients: FirstSeen<&'e SockId>,
    listening: FastSet<&'e SockId>,
    /// What the naming of clients and addresses reads of the calls' ends, copied out while
    /// the end is at hand: kept as the ends themselves, they were read again, from all over a
    /// trace too large for the caches, twice. The peers of the accepts that returned a socket
    /// and of a server's receives, in order.
    accepted_from: Vec<SocketAddr>,
    heard_from: Vec<SocketAddr>,
    /// The addresses the ends said their sockets had, in order.
    addresses: Vec<Address<'e>>,
}

/// A socket's own address, as a call's end said it.
struct Address<'e> {
    /// Made canonical, and never of port 0.
    local: SocketAddr,
    socket: &'e SockId,
    verb: Verb,
    peer: Option<Peer>,
}

impl<'e> Seen<'e> {
    pub(super) fn see(&mut self, event: &'e Event) {
        if let Body::CallEnd(end) = &event.body {
            let verb = end.call.verb();
            match (verb, end.peer) {
                (Verb::Accept, Some(peer)) if end.new_socket.is_some() => self.accepted_from.push(peer),
                (Verb::Recv, Some(peer)) if event.socket.as_ref().is_some_and(|s| s.kind() == Some(SockKind::Server)) => self.heard_from.push(peer),
                _ => {}
            }
            if let (Some(socket), Some(local)) = (&event.socket, end.local.filter(|l| l.port() != 0)) {
                self.addresses.push(Address { local: canon(local), socket, verb, peer: event.actor.peer });
            }
        }
        let Some(socket) = &event.socket else { return };
        match &event.body {
            Body::CallStart(start) if start.verb() == Verb::Listen => {
                self.listening.insert(socket);
            }
            Body::CallEnd(end) => {
                // The new socket first: few ends have one, and `queued` lies in the end's last
                // bytes, another cache line to fetch of every end of a trace.
                if let Some(new) = &end.new_socket {
                    if let Some(queued) = &end.queued {
                        self.queued.insert(queued.clone(), new.clone());
                    }
                }
                if socket.kind() == Some(SockKind::Client) {
                    self.clients.push(socket);
                    if let (Verb::Connect | Verb::Send, Some(local)) = (end.call.verb(), end.local.filter(|l| l.port() != 0)) {
                        self.client_at.entry(canon(local)).or_insert(socket);
                    }
                }
            }
            _ => {}
        }
    }

    /// What these events and the `later` ones show together, as if seen one after another.
    pub(super) fn then(mut self, later: Seen<'e>) -> Seen<'e> {
        // The last name given a queued connection stands; the first address a client had.
        self.queued.extend(later.queued);
        for (at, client) in later.client_at {
            self.client_at.entry(at).or_insert(client);
        }
        for client in later.clients.list {
            self.clients.push(client);
        }
        self.listening.extend(later.listening);
        self.accepted_from.extend(later.accepted_from);
        self.heard_from.extend(later.heard_from);
        self.addresses.extend(later.addresses);
        self
    }

    /// The names, once every event has been seen.
    pub(super) fn renames(self) -> Renames {
        let mut renames = Renames { sockets: self.queued, addresses: FastMap::default() };
        renames.name_clients(&self.accepted_from, &self.heard_from, &self.client_at, self.clients);
        renames.name_addresses(&self.addresses, &self.listening);
        renames
    }
}

impl Renames {
    /// Clients by the connection they made, in the order `accept` returned the server's ends;
    /// then datagram clients, by the order the server first heard from each; then the others.
    fn name_clients<'e>(
        &mut self,
        accepted_from: &[SocketAddr],
        heard_from: &[SocketAddr],
        client_at: &FastMap<SocketAddr, &'e SockId>,
        clients: FirstSeen<&'e SockId>,
    ) {
        let accepted = accepted_from.iter().filter_map(|&p| client_at.get(&canon(p)));
        let known = |&p: &SocketAddr| client_at.get(&canon(p)).or_else(|| client_at.get(&crate::timeline::sockets::wildcard(canon(p))));
        let (accepted, heard): (Vec<_>, Vec<_>) = (accepted.collect(), heard_from.iter().filter_map(known).collect());
        let mut order = FirstSeen::default();
        for client in accepted.into_iter().chain(heard).copied().chain(clients.list) {
            order.push(client);
        }
        for (k, client) in order.list.into_iter().enumerate() {
            self.sockets.insert(client.clone(), Mint::name(SockKind::Client, k as u32 + 1));
        }
    }

    /// The listening socket's address is the server's; every other socket's own address, its
    /// (new) name.
    fn name_addresses(&mut self, addresses: &[Address], listening: &FastSet<&SockId>) {
        for &Address { local, socket, verb, peer } in addresses {
            // The first name given an address stays.
            if self.addresses.contains_key(&local) {
                continue;
            }
            let name = match verb {
                Verb::Bind if listening.contains(socket) => peer.map_or_else(|| "SERVER".to_string(), |peer| format!("SERVER_{peer}")),
                // A datagram server's bound address is where clients send: the server's too.
                Verb::Bind if socket.kind() == Some(SockKind::Server) => "SERVER".to_string(),
                Verb::Bind | Verb::Connect | Verb::Send | Verb::Listen => self.socket_name(socket).0.to_string(),
                _ => continue,
            };
            self.addresses.insert(local, name);
        }
    }

    /// The name a socket is known by in the normalized view.
    pub fn socket_name<'a>(&'a self, id: &'a SockId) -> &'a SockId {
        self.sockets.get(id).unwrap_or(id)
    }
}

impl Names for Renames {
    fn addr(&self, addr: SocketAddr) -> Cow<'_, str> {
        let addr = canon(addr);
        let any = crate::timeline::sockets::wildcard(addr);
        match self.addresses.get(&addr).or_else(|| self.addresses.get(&any)) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(addr.to_string()),
        }
    }

    fn socket<'a>(&'a self, id: &'a SockId) -> Cow<'a, str> {
        Cow::Borrowed(&self.socket_name(id).0)
    }

    fn numbers(&self) -> bool {
        false
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;
    use crate::event::{Actor, CallEnd, CallName, Origin, Role, StateChange};
    use crate::normalize::sockets::read;
    use crate::tcp::State;

    fn at(socket: &str, role: Role, body: Body) -> Event {
        Event { t: 0, actor: Actor::role(role), socket: Some(SockId(socket.into())), origin: Origin::Observed, body }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn a_queued_connection__known_by_the_name_accept_gave_it() {
        let state = Body::State(StateChange { from: State::SynReceived, to: State::Established, local: None, remote: None, sk: None, model: None });
        let accept =
            Body::CallEnd(CallEnd { new_socket: Some(SockId("s2".into())), queued: Some(SockId("q1".into())), ..CallEnd::new(1, CallName::Accept, 4) });
        let (renames, _) = read(&[at("q1", Role::Server, state), at("s1", Role::Server, accept)]);
        assert_eq!(renames.socket_name(&SockId("q1".into())), &SockId("s2".into()));
    }

    #[test]
    fn clients__named_by_the_order_their_connections_were_accepted__addresses_by_whose() {
        let connected = |socket: &str, local: &str| {
            at(
                socket,
                Role::Client,
                Body::CallEnd(CallEnd { local: Some(addr(local)), peer: Some(addr("127.0.0.1:7")), ..CallEnd::new(1, CallName::Connect, 0) }),
            )
        };
        let accepted = |new: &str, peer: &str| {
            at(
                "s1",
                Role::Server,
                Body::CallEnd(CallEnd { new_socket: Some(SockId(new.into())), peer: Some(addr(peer)), ..CallEnd::new(2, CallName::Accept4, 5) }),
            )
        };
        // c1 was made first, but the server accepted c2's connection first.
        let events = [
            connected("c1", "127.0.0.1:40001"),
            connected("c2", "[::ffff:127.0.0.1]:40002"),
            accepted("s2", "127.0.0.1:40002"),
            accepted("s3", "127.0.0.1:40001"),
        ];
        let (renames, _) = read(&events);
        assert_eq!(renames.socket(&SockId("c2".into())), "c1");
        assert_eq!(renames.socket(&SockId("c1".into())), "c2");
        assert_eq!(renames.addr(addr("127.0.0.1:40002")), "c1", "an IPv4-mapped address is its IPv4 self");
        assert_eq!(renames.addr(addr("[::1]:9")), "[::1]:9", "an address of nobody's stays");
        assert!(!renames.numbers());
    }
}
