//! A normalized view tells a trace in blocks, one per connection, so that what concurrent
//! connections did at the same time, whose interleaving only scheduling decides, reads the
//! same on every run: a listening socket's setup (until it first accepts), then each
//! connection it took (its client's calls, its handshake, the `accept` that returned it, its
//! exchange and its close, a forked process's part in it), in the order `accept` returned
//! them, then the listening socket's teardown. Connections no traced listener took follow,
//! each a block of its own, as does each client of a datagram server (with the server's
//! calls that heard from it or answered it). Within a block, the order is the canonical one
//! ([`super::order`]).

use std::collections::HashMap;
use std::net::SocketAddr;

use super::names::Renames;
use crate::event::{Body, Event, SockId, SockKind, Verb};

fn canon(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Where an event is told.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Block {
    /// A listening (or datagram server) socket's own events.
    Server(SockId),
    /// A connection's, named by its server-side socket where one is traced, else its client's.
    Connection(SockId),
    /// Events about no socket of the story (a queued connection never accepted, say).
    Other,
}

struct Cast {
    servers: Vec<SockId>,
    /// The servers that listen (the others serve datagrams).
    listening: Vec<SockId>,
    /// Each connected socket's connection.
    connection_of: HashMap<SockId, SockId>,
    /// Connections in the order shown.
    order: Vec<SockId>,
    /// Each client socket, by its own address.
    client_at: HashMap<SocketAddr, SockId>,
    /// The process that made each server socket.
    maker: HashMap<SockId, Option<u32>>,
    /// For a process other than a server socket's maker: the connection it serves.
    serves: HashMap<u32, SockId>,
}

impl Cast {
    fn of(events: &[Event], name: &dyn Fn(&SockId) -> SockId) -> Cast {
        let mut cast = Cast { servers: Vec::new(), listening: Vec::new(), connection_of: HashMap::new(), order: Vec::new(), client_at: HashMap::new(), maker: HashMap::new(), serves: HashMap::new() };
        let mut clients: Vec<SockId> = Vec::new();
        for event in events {
            let Some(socket) = event.socket.as_ref().map(name) else { continue };
            match &event.body {
                Body::CallStart(start) if start.verb() == Verb::Listen => {
                    push_new(&mut cast.servers, &socket);
                    push_new(&mut cast.listening, &socket);
                }
                // A datagram server: the server's socket that binds.
                Body::CallEnd(end) if end.call.verb() == Verb::Bind && socket.kind() == Some(SockKind::Server) => push_new(&mut cast.servers, &socket),
                Body::CallEnd(end) if socket.kind() == Some(SockKind::Client) => {
                    push_new(&mut clients, &socket);
                    if let (Verb::Connect | Verb::Send, Some(local)) = (end.call.verb(), end.local.filter(|l| l.port() != 0)) {
                        cast.client_at.entry(canon(local)).or_insert(socket);
                    }
                }
                _ => {}
            }
        }
        for event in events {
            let Body::CallEnd(end) = &event.body else { continue };
            let Some(new) = end.new_socket.as_ref().filter(|_| end.call.verb() == Verb::Accept).map(name) else { continue };
            if let Some(client) = end.peer.and_then(|p| cast.client_at.get(&canon(p))) {
                cast.connection_of.insert(client.clone(), new.clone());
            }
            cast.connection_of.insert(new.clone(), new.clone());
            cast.order.push(new);
        }
        for client in clients {
            if !cast.connection_of.contains_key(&client) {
                cast.connection_of.insert(client.clone(), client.clone());
                cast.order.push(client);
            }
        }
        for event in events {
            let Some(socket) = event.socket.as_ref().map(name) else { continue };
            if cast.servers.contains(&socket) {
                cast.maker.entry(socket).or_insert(event.actor.pid);
            } else if let (Some(pid), Some(conn)) = (event.actor.pid, cast.connection_of.get(&socket)) {
                cast.serves.entry(pid).or_insert_with(|| conn.clone());
            }
        }
        cast
    }

    /// The connection of a datagram server's call that heard from, or answered, `addr`.
    fn datagram_client(&self, addr: Option<SocketAddr>) -> Option<SockId> {
        let addr = canon(addr?);
        // A socket bound by its first datagram reports the wildcard address as its own.
        let any = crate::timeline::sockets::wildcard(addr);
        let client = self.client_at.get(&addr).or_else(|| self.client_at.get(&any))?;
        self.connection_of.get(client).cloned()
    }
}

fn push_new(list: &mut Vec<SockId>, id: &SockId) {
    if !list.contains(id) {
        list.push(id.clone());
    }
}

/// The blocks of the kept events, each in trace order, in the order a view shows them.
pub fn blocks(events: &[Event], keep: &[bool], renames: &Renames) -> Vec<Vec<usize>> {
    let name = |id: &SockId| renames.socket_name(id);
    let cast = Cast::of(events, &name);
    // A call's block is decided by both halves: `accept`'s end says which connection it
    // returned, a datagram server's `recvfrom` end who it heard from, `sendto`'s start whom
    // it answers.
    let mut calls: HashMap<u64, Block> = HashMap::new();
    for event in events {
        let datagram_server = event.socket.as_ref().map(name).is_some_and(|s| is_datagram_server(&cast, &s));
        let (id, conn) = match &event.body {
            Body::CallEnd(end) if end.call.verb() == Verb::Accept => {
                (end.id, end.new_socket.as_ref().map(name).and_then(|n| cast.connection_of.get(&n).cloned()))
            }
            Body::CallEnd(end) if datagram_server => (end.id, cast.datagram_client(end.peer)),
            Body::CallStart(start) if datagram_server => (start.id, cast.datagram_client(start.args.addr)),
            // Any other call is where its end says: `socket()`'s start names no socket yet.
            Body::CallEnd(end) => {
                calls.entry(end.id).or_insert_with(|| block_of(event, &name, &cast));
                continue;
            }
            _ => continue,
        };
        match conn {
            Some(conn) => {
                calls.insert(id, Block::Connection(conn));
            }
            // A datagram server's call that heard from nobody in particular (its `socket()`):
            // where its socket is.
            None if matches!(event.body, Body::CallEnd(_)) => {
                calls.entry(id).or_insert_with(|| block_of(event, &name, &cast));
            }
            None => {}
        }
    }
    // A server socket's setup ends where it first hands over a connection.
    let mut first_accept: HashMap<SockId, usize> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        if let (Body::CallEnd(end), Some(socket)) = (&event.body, &event.socket) {
            if matches!(calls.get(&end.id), Some(Block::Connection(_))) {
                first_accept.entry(name(socket)).or_insert(i);
            }
        }
    }
    let mut setup: HashMap<SockId, Vec<usize>> = HashMap::new();
    let mut after: Vec<(SockId, usize)> = Vec::new();
    let mut connections: HashMap<SockId, Vec<usize>> = HashMap::new();
    let mut rest: Vec<usize> = Vec::new();
    // Each thread's connection events, in its own order: `(index, connection)`.
    let mut by_thread: HashMap<(Option<u32>, Option<u32>), Vec<(usize, SockId)>> = HashMap::new();
    for (i, event) in events.iter().enumerate().filter(|(i, _)| keep[*i]) {
        let id = match &event.body {
            Body::CallStart(start) => Some(start.id),
            Body::CallEnd(end) => Some(end.id),
            _ => None,
        };
        let block = match id.and_then(|id| calls.get(&id)) {
            Some(block) => block.clone(),
            None => block_of(event, &name, &cast),
        };
        match block {
            Block::Connection(conn) => {
                if event.actor.pid.is_some() {
                    by_thread.entry(thread(event)).or_default().push((i, conn.clone()));
                }
                connections.entry(conn).or_default().push(i);
            }
            Block::Server(s) if first_accept.get(&s).is_some_and(|&first| i > first) => after.push((s, i)),
            Block::Server(s) => setup.entry(s).or_default().push(i),
            Block::Other => rest.push(i),
        }
    }
    // A server socket's event after it first handed over a connection goes with the
    // connection its thread was in the middle of serving (a one-client server that closes its
    // listening socket, then talks), else after every connection (a server that closes it
    // once its clients are done). Only the thread's own order decides, which no scheduling
    // changes; when the other side's last packet came is a race.
    let mut teardown: HashMap<SockId, Vec<usize>> = HashMap::new();
    // A kernel's event (the listening socket's LISTEN → CLOSED) goes where the call it
    // happened during went: the open call on its socket.
    let mut open_call: HashMap<SockId, Option<SockId>> = HashMap::new();
    for (s, i) in after {
        let event = &events[i];
        let serving = if event.actor.pid.is_none() {
            open_call.get(&s).cloned().flatten()
        } else {
            let mine = by_thread.get(&thread(event)).map(Vec::as_slice).unwrap_or_default();
            let split = mine.partition_point(|(k, _)| *k < i);
            match (split.checked_sub(1).map(|k| &mine[k]), mine.get(split)) {
                (Some((_, before)), Some((_, next))) if before == next => Some(before.clone()),
                _ => None,
            }
        };
        match &event.body {
            Body::CallStart(_) => {
                open_call.insert(s.clone(), serving.clone());
            }
            Body::CallEnd(_) => {
                open_call.remove(&s);
            }
            _ => {}
        }
        match serving {
            Some(conn) => {
                let block = connections.entry(conn).or_default();
                let at = block.partition_point(|&k| k < i);
                block.insert(at, i);
            }
            None => teardown.entry(s).or_default().push(i),
        }
    }
    let mut out = Vec::new();
    for s in &cast.servers {
        out.extend(setup.remove(s));
    }
    for conn in &cast.order {
        out.extend(connections.remove(conn));
    }
    for s in &cast.servers {
        out.extend(teardown.remove(s));
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The thread an event is of (a packet or a kernel state change: none).
fn thread(event: &Event) -> (Option<u32>, Option<u32>) {
    (event.actor.pid, event.actor.tid)
}

fn is_datagram_server(cast: &Cast, socket: &SockId) -> bool {
    cast.servers.contains(socket) && !cast.listening.contains(socket)
}

fn block_of(event: &Event, name: &dyn Fn(&SockId) -> SockId, cast: &Cast) -> Block {
    let socket = event.socket.as_ref().map(name);
    let to = match &event.body {
        Body::Packet(p) => p.to.as_ref().map(name),
        _ => None,
    };
    // A packet between a client and a server socket (the SYN, the SYN|ACK; a datagram) is the
    // client's connection's.
    for s in socket.iter().chain(to.iter()) {
        if let Some(conn) = cast.connection_of.get(s) {
            return Block::Connection(conn.clone());
        }
    }
    if let Body::Process(change) = &event.body {
        if let Some(conn) = change.sockets().map(name).find_map(|s| cast.connection_of.get(&s).cloned()) {
            return Block::Connection(conn);
        }
    }
    let Some(socket) = socket else { return Block::Other };
    if cast.servers.contains(&socket) {
        // A server socket's copy in a process that serves one connection (a forked child).
        let maker = cast.maker.get(&socket).copied().flatten();
        if let Some(conn) = event.actor.pid.filter(|p| Some(*p) != maker).and_then(|p| cast.serves.get(&p)) {
            return Block::Connection(conn.clone());
        }
        return Block::Server(socket);
    }
    Block::Other
}
