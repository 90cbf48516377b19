//! A normalized view tells a trace in blocks, one per connection, so that what concurrent
//! connections did at the same time, whose interleaving only scheduling decides, reads the
//! same on every run: a listening socket's setup (until it first accepts), then each
//! connection it took (its client's calls, its handshake, the `accept` that returned it, its
//! exchange and its close, a forked process's part in it), in the order `accept` returned
//! them, then the listening socket's teardown. Connections no traced listener took follow,
//! each a block of its own, as does each client of a datagram server (with the server's
//! calls that heard from it or answered it). Within a block, the order is the canonical one
//! ([`super::order`]).

use std::net::SocketAddr;

use super::call_ids::ByCallId;
use super::first_seen::FirstSeen;
use super::sockets::{Named, Sockets};
use crate::event::{Body, Event, SockKind, Verb};
use crate::hash::FastMap;
use crate::trace::room::vec_with_room;
use crate::wire::addr::canon;

/// Where an event is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// A listening (or datagram server) socket's own events.
    Server(Named),
    /// A connection's, named by its server-side socket where one is traced, else its client's.
    Connection(Named),
    /// Events about no socket of the story (a queued connection never accepted, say).
    Other,
}

/// The part each socket of the view plays; the vectors hold one entry per socket.
struct Cast {
    /// The server sockets, in the order first seen.
    servers: Vec<Named>,
    server: Vec<bool>,
    /// The servers that listen (the others serve datagrams).
    listening: Vec<bool>,
    /// Each connected socket's connection.
    connection_of: Vec<Option<Named>>,
    /// Connections in the order shown.
    order: Vec<Named>,
    /// Each client socket, by its own address.
    client_at: FastMap<SocketAddr, Named>,
    /// The process of each socket's first event, for a server socket its maker (`Some(None)`:
    /// an event with no process).
    maker: Vec<Option<Option<u32>>>,
    /// For a process other than a server socket's maker: the connection it serves.
    serves: FastMap<u32, Named>,
}

impl Cast {
    fn of(events: &[Event], sockets: &Sockets) -> Cast {
        let n = sockets.view_count();
        let mut cast = Cast {
            servers: Vec::new(),
            server: vec![false; n],
            listening: vec![false; n],
            connection_of: vec![None; n],
            order: Vec::new(),
            client_at: FastMap::default(),
            maker: vec![None; n],
            serves: FastMap::default(),
        };
        let mut clients = Vec::new();
        let mut client = vec![false; n];
        // One pass over the events; what needs the whole pass's findings is kept aside, in
        // order, and decided after it: each `accept`'s new socket and peer; each process's
        // sockets, in the order it first used them.
        let mut accepts: Vec<(Named, Option<SocketAddr>)> = Vec::new();
        let mut used_by: FirstSeen<(u32, Named)> = FirstSeen::default();
        for (i, event) in events.iter().enumerate() {
            if let Body::CallEnd(end) = &event.body {
                if let (Verb::Accept, Some(new)) = (end.call.verb(), sockets.other(i)) {
                    accepts.push((sockets.named(new), end.peer));
                }
            }
            let Some(socket) = sockets.socket(i).map(|s| sockets.named(s)) else { continue };
            // A server socket's maker: the process of its first event.
            cast.maker[socket.index()].get_or_insert(event.actor.pid);
            if let Some(pid) = event.actor.pid {
                used_by.push((pid, socket));
            }
            let kind = sockets.kind(socket);
            match &event.body {
                Body::CallStart(start) if start.verb() == Verb::Listen => {
                    cast.add_server(socket);
                    cast.listening[socket.index()] = true;
                }
                // A datagram server: the server's socket that binds.
                Body::CallEnd(end) if end.call.verb() == Verb::Bind && kind == Some(SockKind::Server) => cast.add_server(socket),
                Body::CallEnd(end) if kind == Some(SockKind::Client) => {
                    if !client[socket.index()] {
                        client[socket.index()] = true;
                        clients.push(socket);
                    }
                    if let (Verb::Connect | Verb::Send, Some(local)) = (end.call.verb(), end.local.filter(|l| l.port() != 0)) {
                        cast.client_at.entry(canon(local)).or_insert(socket);
                    }
                }
                _ => {}
            }
        }
        for (new, peer) in accepts {
            if let Some(&client) = peer.and_then(|p| cast.client_at.get(&canon(p))) {
                cast.connection_of[client.index()] = Some(new);
            }
            cast.connection_of[new.index()] = Some(new);
            cast.order.push(new);
        }
        for client in clients {
            if cast.connection_of[client.index()].is_none() {
                cast.connection_of[client.index()] = Some(client);
                cast.order.push(client);
            }
        }
        // A process serves the connection of the first socket it used that has one.
        for (pid, socket) in used_by.list {
            if let (false, Some(conn)) = (cast.server[socket.index()], cast.connection_of[socket.index()]) {
                cast.serves.entry(pid).or_insert(conn);
            }
        }
        cast
    }

    fn add_server(&mut self, socket: Named) {
        if !self.server[socket.index()] {
            self.server[socket.index()] = true;
            self.servers.push(socket);
        }
    }

    /// The connection of a datagram server's call that heard from, or answered, `addr`.
    fn datagram_client(&self, addr: Option<SocketAddr>) -> Option<Named> {
        let addr = canon(addr?);
        // A socket bound by its first datagram reports the wildcard address as its own.
        let any = crate::timeline::sockets::wildcard(addr);
        let client = self.client_at.get(&addr).or_else(|| self.client_at.get(&any))?;
        self.connection_of[client.index()]
    }

    fn is_datagram_server(&self, socket: Named) -> bool {
        self.server[socket.index()] && !self.listening[socket.index()]
    }
}

/// Where each event of a trace is told, kept or not, and the order of the blocks. Apart
/// from [`blocks`], which takes only the kept events, so that the two can run while the
/// events to keep are still being chosen.
pub struct Places {
    of_event: Vec<Place>,
    /// The thread of each event of a connection that has a process, in order: taken here,
    /// where the events are read anyway, [`blocks`] then reads no event but the few it moves
    /// (each pass over a trace of a million events fetches it from memory anew, and that pass
    /// runs alone). Only those events: a thread for every event took 16 MB of fresh memory
    /// for a trace of a million, every page of it a fault to the kernel.
    threads: Vec<(usize, Thread)>,
    /// The server sockets and the connections, in the order shown.
    servers: Vec<Named>,
    connections: Vec<Named>,
    sockets: usize,
    /// Per socket of the view: it listened (somewhere in the trace, maybe in another block).
    listening: Vec<bool>,
}

impl Places {
    /// Per socket of the view ([`Named::index`]): whether it listened.
    pub fn listening(&self) -> &[bool] {
        &self.listening
    }
}

/// Where one event is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Connection(Named),
    /// A server socket's, before it first handed over a connection, and after.
    Setup(Named),
    After(Named),
    Other,
}

/// Where each event is told.
pub fn places(events: &[Event], sockets: &Sockets) -> Places {
    let named = |raw| sockets.named(raw);
    let cast = Cast::of(events, sockets);
    // A call's block is decided by both halves: `accept`'s end says which connection it
    // returned, a datagram server's `recvfrom` end who it heard from, `sendto`'s start whom
    // it answers.
    let mut calls: ByCallId<Block> = ByCallId::default();
    for (i, event) in events.iter().enumerate() {
        let datagram_server = sockets.socket(i).is_some_and(|s| cast.is_datagram_server(named(s)));
        let (id, conn) = match &event.body {
            Body::CallEnd(end) if end.call.verb() == Verb::Accept => (end.id, sockets.other(i).and_then(|n| cast.connection_of[named(n).index()])),
            Body::CallEnd(end) if datagram_server => (end.id, cast.datagram_client(end.peer)),
            Body::CallStart(start) if datagram_server => (start.id, cast.datagram_client(start.args.addr)),
            // Any other call is where its end says: `socket()`'s start names no socket yet.
            Body::CallEnd(end) => {
                calls.entry(end.id).get_or_insert_with(|| block_of(i, event, sockets, &cast));
                continue;
            }
            _ => continue,
        };
        match conn {
            Some(conn) => {
                *calls.entry(id) = Some(Block::Connection(conn));
            }
            // A datagram server's call that heard from nobody in particular (its `socket()`):
            // where its socket is.
            None if matches!(event.body, Body::CallEnd(_)) => {
                calls.entry(id).get_or_insert_with(|| block_of(i, event, sockets, &cast));
            }
            None => {}
        }
    }
    // A server socket's setup ends where it first hands over a connection.
    let mut handed_over = vec![false; sockets.view_count()];
    let mut of_event = vec_with_room(events.len());
    let mut threads = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let id = match &event.body {
            Body::CallStart(start) => Some(start.id),
            Body::CallEnd(end) => Some(end.id),
            _ => None,
        };
        let call_block = id.and_then(|id| calls.get(id));
        of_event.push(match call_block.unwrap_or_else(|| block_of(i, event, sockets, &cast)) {
            Block::Connection(conn) => {
                if event.actor.pid.is_some() {
                    threads.push((i, thread(event)));
                }
                Place::Connection(conn)
            }
            Block::Server(s) if handed_over[s.index()] => Place::After(s),
            Block::Server(s) => Place::Setup(s),
            Block::Other => Place::Other,
        });
        if let (Body::CallEnd(_), Some(socket), Some(Block::Connection(_))) = (&event.body, sockets.socket(i), call_block) {
            handed_over[named(socket).index()] = true;
        }
    }
    Places { of_event, threads, servers: cast.servers, connections: cast.order, sockets: sockets.view_count(), listening: cast.listening }
}

/// The blocks of the kept events, each in trace order, in the order a view shows them.
pub fn blocks(events: &[Event], keep: &[bool], places: &Places) -> Vec<Vec<usize>> {
    let n = places.sockets;
    let mut setup: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut after: Vec<(Named, usize)> = Vec::new();
    let mut connections: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut rest: Vec<usize> = Vec::new();
    // Each thread's connection events, in its own order: `(index, connection)`.
    let mut by_thread: FastMap<Thread, Vec<(usize, Named)>> = FastMap::default();
    let mut threads = places.threads.iter().peekable();
    for i in (0..events.len()).filter(|&i| keep[i]) {
        match places.of_event[i] {
            Place::Connection(conn) => {
                // Both lists are in event order.
                while threads.next_if(|(k, _)| *k < i).is_some() {}
                if let Some((_, thread)) = threads.next_if(|(k, _)| *k == i) {
                    by_thread.entry(*thread).or_default().push((i, conn));
                }
                connections[conn.index()].push(i);
            }
            Place::After(s) => after.push((s, i)),
            Place::Setup(s) => setup[s.index()].push(i),
            Place::Other => rest.push(i),
        }
    }
    // A server socket's event after it first handed over a connection goes with the
    // connection its thread was in the middle of serving (a one-client server that closes its
    // listening socket, then talks), else after every connection (a server that closes it
    // once its clients are done). Only the thread's own order decides, which no scheduling
    // changes; when the other side's last packet came is a race.
    let mut teardown: Vec<Vec<usize>> = vec![Vec::new(); n];
    // A kernel's event (the listening socket's LISTEN → CLOSED) goes where the call it
    // happened during went: the open call on its socket.
    let mut open_call: FastMap<Named, Option<Named>> = FastMap::default();
    for (s, i) in after {
        let event = &events[i];
        let serving = if event.actor.pid.is_none() {
            open_call.get(&s).copied().flatten()
        } else {
            let mine = by_thread.get(&thread(event)).map(Vec::as_slice).unwrap_or_default();
            let split = mine.partition_point(|(k, _)| *k < i);
            match (split.checked_sub(1).map(|k| &mine[k]), mine.get(split)) {
                (Some((_, before)), Some((_, next))) if before == next => Some(*before),
                _ => None,
            }
        };
        match &event.body {
            Body::CallStart(_) => {
                open_call.insert(s, serving);
            }
            Body::CallEnd(_) => {
                open_call.remove(&s);
            }
            _ => {}
        }
        match serving {
            Some(conn) => {
                let block = &mut connections[conn.index()];
                let at = block.partition_point(|&k| k < i);
                block.insert(at, i);
            }
            None => teardown[s.index()].push(i),
        }
    }
    // Each block once, where its socket first comes in these lists; none empty.
    let mut out = Vec::new();
    let mut take = |list: &mut Vec<Vec<usize>>, at: Named| {
        let block = std::mem::take(&mut list[at.index()]);
        if !block.is_empty() {
            out.push(block);
        }
    };
    for &s in &places.servers {
        take(&mut setup, s);
    }
    for &conn in &places.connections {
        take(&mut connections, conn);
    }
    for &s in &places.servers {
        take(&mut teardown, s);
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// A process and thread.
type Thread = (Option<u32>, Option<u32>);

/// The thread an event is of (a packet or a kernel state change: none).
fn thread(event: &Event) -> Thread {
    (event.actor.pid, event.actor.tid)
}

/// The block of event `i` by its sockets alone.
fn block_of(i: usize, event: &Event, sockets: &Sockets, cast: &Cast) -> Block {
    let named = |raw| sockets.named(raw);
    let socket = sockets.socket(i).map(named);
    let to = match &event.body {
        Body::Packet(_) => sockets.other(i).map(named),
        _ => None,
    };
    // A packet between a client and a server socket (the SYN, the SYN|ACK; a datagram) is the
    // client's connection's.
    for s in socket.iter().chain(to.iter()) {
        if let Some(conn) = cast.connection_of[s.index()] {
            return Block::Connection(conn);
        }
    }
    if let Body::Process(change) = &event.body {
        if let Some(conn) = change.sockets().find_map(|s| cast.connection_of[named(sockets.raw(s)?).index()]) {
            return Block::Connection(conn);
        }
    }
    let Some(socket) = socket else { return Block::Other };
    if cast.server[socket.index()] {
        // A server socket's copy in a process that serves one connection (a forked child).
        let maker = cast.maker[socket.index()].flatten();
        if let Some(&conn) = event.actor.pid.filter(|p| Some(*p) != maker).and_then(|p| cast.serves.get(&p)) {
            return Block::Connection(conn);
        }
        return Block::Server(socket);
    }
    Block::Other
}
