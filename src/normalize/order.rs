//! One canonical order for a trace's events: the same for every run of the same programs.
//!
//! What the kernel and the programs fix, the order keeps; what only scheduling decides, a
//! fixed rule decides instead. Measured over repeated `trace echo` runs: each socket's calls
//! come in program order, and its kernel events (packets sent and received, state changes) in
//! one order; what varies is where a call's start or end falls among the kernel events. So:
//!
//! - every socket has two chains: its calls, and its kernel events (a packet is on the chains
//!   of the socket that sent it and of the one that received it; a listening socket has a
//!   chain per peer, so that clients connecting at once do not interleave);
//! - a call's start comes before the kernel events it causes, and its end after the kernel
//!   events it waits for or causes (see `Orderer::links`);
//! - a program's life-cycle calls keep their order, and a thread's calls on a listening
//!   socket keep their place among all its calls (see `Orderer::program_order`);
//! - among the events that may come next, the first of the first socket's chain is taken:
//!   server sockets before client sockets, in name order; kernel events before calls.
//!
//! The result is a topological order of that graph, chosen without looking at times.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use super::sockets::{Named, Sockets};
use crate::event::{Body, CallName, Event, KernelNote, Origin, Role, SockId, Verb};
use crate::hash::FastMap;
use crate::tcp::flags::TcpFlags;
use crate::tcp::State;

/// A chain of events that keep their order: a socket's calls, or its kernel events. Ordered
/// as the tie-break takes them: server sockets before clients, then by number; kernel events
/// (0) before calls (1); a listening socket's kernel events split per peer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Chain<'e> {
    class: u8,
    number: u64,
    name: &'e SockId,
    calls: u8,
    process: usize,
    peer: Option<SocketAddr>,
}

/// The class a socket's chains take by its role: servers first.
fn class(role: Role) -> u8 {
    match role {
        Role::Server => 0,
        Role::Client => 1,
        Role::Unknown => 2,
    }
}

/// A chain by what it follows: (socket, calls?, peer, process).
type ChainKey = (Named, u8, Option<SocketAddr>, usize);

/// The events of one block, each with the sockets it names (see [`Sockets`]).
#[derive(Default)]
struct Block<'e> {
    events: Vec<&'e Event>,
    /// Per event: its socket, and a packet's receiver or a call end's new socket.
    sockets: Vec<[Option<Named>; 2]>,
    /// The block's sockets numbered 0, 1, 2… in the order they come, so that what the passes
    /// know of each socket is kept in a vector, not a hash table looked up at every event:
    /// each socket's number by the view's (`NOT_HERE` for the trace's other sockets), and back.
    slot_of: Vec<u32>,
    slots: Vec<Named>,
}

/// A socket of the trace that is not in the block.
const NOT_HERE: u32 = u32::MAX;

impl Block<'_> {
    /// Numbers the block's sockets, forgetting the last block's.
    fn number_sockets(&mut self, sockets: usize) {
        for named in self.slots.drain(..) {
            self.slot_of[named.index()] = NOT_HERE;
        }
        self.slot_of.resize(sockets, NOT_HERE);
        for &socket in self.sockets.iter().flatten().flatten() {
            if self.slot_of[socket.index()] == NOT_HERE {
                self.slot_of[socket.index()] = self.slots.len() as u32;
                self.slots.push(socket);
            }
        }
    }

    /// A socket's number in the block, if it is the block's.
    fn slot(&self, socket: Named) -> Option<usize> {
        self.slot_of.get(socket.index()).filter(|&&slot| slot != NOT_HERE).map(|&slot| slot as usize)
    }

    fn socket(&self, k: usize) -> Option<Named> {
        self.sockets[k][0]
    }

    fn other(&self, k: usize) -> Option<Named> {
        self.sockets[k][1]
    }
}

/// Puts blocks in the canonical order, one after another. Its tables stay from one block to
/// the next: a trace has tens of thousands of blocks of a few dozen events, and making every
/// table anew for each block cost more than the ordering.
#[derive(Default)]
pub struct Orderer<'e> {
    block: Block<'e>,
    /// The socket each call event is about.
    socket_of_call: Vec<Option<Named>>,
    /// By the block's socket numbers (see [`Block`]).
    roles: Vec<Option<Role>>,
    listeners: Vec<bool>,
    /// The processes that made calls, in order of appearance.
    processes: Vec<Option<u32>>,
    /// The chains, each with its events (the first `chains.len()` lists; the others wait for a
    /// later block), each chain's rank in the tie-break, and the chains each event is on.
    chain_ids: FastMap<ChainKey, usize>,
    chains: Vec<Chain<'e>>,
    members: Vec<Vec<usize>>,
    by_rank: Vec<usize>,
    rank_of: Vec<usize>,
    on: Vec<[usize; 2]>,
    edges: Vec<(usize, usize)>,
    graph: Graph,
    /// Each event's place in the tie-break: the rank of its first chain.
    key: Vec<usize>,
    ready: BinaryHeap<Reverse<(usize, usize)>>,
    order: Vec<usize>,
    /// For the passes over calls: call ids to events or sockets, programs to calls.
    call_socket: FastMap<u64, Named>,
    starts: FastMap<u64, usize>,
    program_of: Vec<Option<(Option<u32>, Role)>>,
    last_call: FastMap<(Option<u32>, Role), usize>,
    last_life_call: FastMap<(Option<u32>, Role), usize>,
    /// Per thread, its last call on a socket; per accept's call id, the socket it returned.
    last_thread_call: FastMap<(Option<u32>, Option<u32>), usize>,
    accepted: FastMap<u64, Named>,
    /// Each socket's kernel events, in order, by its number in the block (the lists are kept,
    /// emptied, for the next block).
    kernel_lists: Vec<Vec<usize>>,
}

impl<'e> Orderer<'e> {
    /// The canonical order of the events of `block` (indices into `all`), as indices into `all`;
    /// `listening`: per socket of the view, whether it listened anywhere in the trace.
    pub fn order(&mut self, all: &'e [Event], block: &[usize], sockets: &'e Sockets, listening: &[bool]) -> &[usize] {
        self.block.events.clear();
        self.block.events.extend(block.iter().map(|&i| &all[i]));
        self.block.sockets.clear();
        // Sockets as the view names them: a connection that waited in the listener's queue (`q1`)
        // is the socket `accept` returned (`s2`), one chain, whichever name its first events had.
        self.block.sockets.extend(block.iter().map(|&i| [sockets.socket(i).map(|s| sockets.named(s)), sockets.other(i).map(|s| sockets.named(s))]));
        self.block.number_sockets(sockets.view_count());
        let n = block.len();
        self.socket_roles();
        self.listening_sockets();
        self.call_sockets();
        self.make_chains(sockets);

        // Edges: along each chain, and between calls and kernel events.
        self.edges.clear();
        for members in &self.members[..self.chains.len()] {
            self.edges.extend(members.windows(2).map(|pair| (pair[0], pair[1])));
        }
        self.links();
        self.program_order(listening);
        // The model's changes beside a live trace follow the event that caused them, which the
        // timeline put just before them.
        let events = &self.block.events;
        for i in 1..n {
            if events[i].origin == Origin::Modelled && events[i - 1].origin == Origin::Observed {
                self.edges.push((i - 1, i));
            }
        }
        self.graph.make(n, &self.edges);

        // Kahn's algorithm, always taking the ready event of the first chain.
        let Orderer { graph, key, ready, order, .. } = self;
        ready.clear();
        ready.extend((0..n).filter(|&i| graph.waiting[i] == 0).map(|i| Reverse((key[i], i))));
        order.clear();
        while let Some(Reverse((_, i))) = ready.pop() {
            order.push(i);
            for f in graph.starts[i]..graph.starts[i + 1] {
                let later = graph.followers[f];
                graph.waiting[later] -= 1;
                if graph.waiting[later] == 0 {
                    ready.push(Reverse((key[later], later)));
                }
            }
        }
        // A cycle would mean contradictory observations; keep what is left in observed order
        // rather than lose events.
        if order.len() < n {
            let mut placed = vec![false; n];
            for &i in order.iter() {
                placed[i] = true;
            }
            order.extend((0..n).filter(|&i| !placed[i]));
        }
        for i in order.iter_mut() {
            *i = block[*i];
        }
        order
    }

    /// The role of each socket, from the calls that created it.
    fn socket_roles(&mut self) {
        let b = &self.block;
        self.roles.clear();
        self.roles.resize(b.slots.len(), None);
        for (i, event) in b.events.iter().enumerate() {
            if let (Body::CallEnd(_), Some(new)) = (&event.body, b.other(i).and_then(|s| b.slot(s))) {
                self.roles[new] = Some(event.actor.role);
            }
            if let Some(socket) = b.socket(i).and_then(|s| b.slot(s)) {
                self.roles[socket].get_or_insert(event.actor.role);
            }
        }
    }

    fn listening_sockets(&mut self) {
        let b = &self.block;
        self.listeners.clear();
        self.listeners.resize(b.slots.len(), false);
        let listens = |i: &usize| matches!(&b.events[*i].body, Body::CallStart(s) if s.verb() == Verb::Listen);
        for socket in (0..b.events.len()).filter(listens).filter_map(|i| b.socket(i).and_then(|s| b.slot(s))) {
            self.listeners[socket] = true;
        }
    }

    /// The socket each call event is about; `socket()`'s start has none, so it takes the
    /// socket its end returns.
    fn call_sockets(&mut self) {
        let b = &self.block;
        self.call_socket.clear();
        for (i, event) in b.events.iter().enumerate() {
            if let Body::CallEnd(end) = &event.body {
                if let Some(socket) = b.socket(i).or(b.other(i)) {
                    self.call_socket.insert(end.id, socket);
                }
            }
        }
        self.socket_of_call.clear();
        for (i, event) in b.events.iter().enumerate() {
            let id = match &event.body {
                Body::CallStart(start) => start.id,
                Body::CallEnd(end) => end.id,
                _ => {
                    self.socket_of_call.push(None);
                    continue;
                }
            };
            // A `socket()` start has no socket yet: it belongs with the socket its end returns.
            let own = if matches!(&event.body, Body::CallStart(s) if s.call == CallName::Socket) { None } else { b.socket(i) };
            self.socket_of_call.push(own.or_else(|| self.call_socket.get(&id).copied()));
        }
    }

    /// The chains and the events on each, and each event's key in the tie-break.
    fn make_chains(&mut self, sockets: &'e Sockets) {
        let Orderer { block: b, socket_of_call, roles, listeners, processes, chain_ids, chains, members, by_rank, rank_of, on, key, .. } = self;
        // Each process by its order of appearance: calls on one socket by two processes (a
        // forked child's and its parent's) are two chains, in no fixed order between them.
        processes.clear();
        for event in &b.events {
            if matches!(event.body, Body::CallStart(_) | Body::CallEnd(_)) && !processes.contains(&event.actor.pid) {
                processes.push(event.actor.pid);
            }
        }
        let process = |event: &Event| processes.iter().position(|p| *p == event.actor.pid).unwrap_or(0);
        chain_ids.clear();
        chains.clear();
        on.clear();
        for (i, event) in b.events.iter().enumerate() {
            let mut slots = [usize::MAX; 2];
            for (slot, (socket, calls, peer)) in memberships(i, event, b, socket_of_call, listeners, sockets).into_iter().flatten().enumerate() {
                let by = if calls == 1 { process(event) } else { 0 };
                let id = *chain_ids.entry((socket, calls, peer, by)).or_insert_with(|| {
                    let role = b.slot(socket).and_then(|s| roles[s]).unwrap_or(Role::Unknown);
                    chains.push(Chain { class: class(role), number: sockets.number(socket), name: sockets.view_name(socket), calls, process: by, peer });
                    match members.get_mut(chains.len() - 1) {
                        Some(list) => list.clear(),
                        None => members.push(Vec::new()),
                    }
                    chains.len() - 1
                });
                members[id].push(i);
                slots[slot] = id;
            }
            on.push(slots);
        }
        // Each chain's rank in the tie-break, computed once.
        by_rank.clear();
        by_rank.extend(0..chains.len());
        by_rank.sort_by(|&a, &b| chains[a].cmp(&chains[b]));
        rank_of.clear();
        rank_of.resize(chains.len(), 0);
        for (r, &id) in by_rank.iter().enumerate() {
            rank_of[id] = r;
        }
        key.clear();
        key.extend(on.iter().map(|slots| slots.iter().filter(|&&c| c != usize::MAX).map(|&c| rank_of[c]).min().unwrap_or(usize::MAX)));
    }

    /// Edges (before, after) between calls and kernel events, of two kinds:
    /// - caused: what happens inside the system call (connect's SYN-SENT and SYN, listen's
    ///   LISTEN, close's and shutdown's FIN and state change, send's data) sits between start
    ///   and end;
    /// - awaited: what a blocking call waits for (connect: leaving SYN-SENT; accept: the new
    ///   socket's establishment; recv: the data or FIN it returns) comes before its end,
    ///   however early it happened, so that the graph does not depend on when the call began.
    fn links(&mut self) {
        let Orderer { block: b, socket_of_call, edges, starts, program_of, last_call, kernel_lists, .. } = self;
        let events = &b.events;
        if kernel_lists.len() < b.slots.len() {
            kernel_lists.resize_with(b.slots.len(), Vec::new);
        }
        kernel_lists.iter_mut().take(b.slots.len()).for_each(Vec::clear);
        let mut on_kernel_chain = |socket: Named, i: usize| {
            if let Some(slot) = b.slot(socket) {
                kernel_lists[slot].push(i);
            }
        };
        for (i, event) in events.iter().enumerate() {
            match &event.body {
                Body::Packet(_) => {
                    for socket in b.socket(i).into_iter().chain(b.other(i)) {
                        on_kernel_chain(socket, i);
                    }
                }
                Body::State(_) | Body::Kernel(_) => {
                    if let Some(socket) = b.socket(i) {
                        on_kernel_chain(socket, i);
                    }
                }
                _ => {}
            }
        }
        let kernel_events = |socket: Named| b.slot(socket).map_or(&[][..], |slot| kernel_lists[slot].as_slice());
        starts.clear();
        // The program each socket belongs to, and the last call each program made so far.
        program_of.clear();
        program_of.resize(b.slots.len(), None);
        last_call.clear();
        for (i, event) in events.iter().enumerate() {
            if let (Body::CallStart(_) | Body::CallEnd(_), Some(socket)) = (&event.body, socket_of_call[i]) {
                let program = (event.actor.pid, event.actor.role);
                if let Some(slot) = b.slot(socket) {
                    program_of[slot] = Some(program);
                }
                last_call.insert(program, i);
            }
            // A listening socket closes only because it is closed: by a call (linked below),
            // or when its process exits, after the last call the program made.
            if let (Body::State(change), Some(socket)) = (&event.body, b.socket(i)) {
                if change.from == State::Listen && change.to == State::Closed {
                    if let Some(&call) = b.slot(socket).and_then(|slot| program_of[slot]).and_then(|program| last_call.get(&program)) {
                        edges.push((call, i));
                    }
                }
            }
            match &event.body {
                Body::CallStart(start) => {
                    starts.insert(start.id, i);
                }
                Body::CallEnd(end) => {
                    let Some(&s) = starts.get(&end.id) else { continue };
                    let Some(socket) = socket_of_call[i] else { continue };
                    let (t0, t1) = (events[s].t, event.t);
                    let kernel = kernel_events(socket);
                    let sent = |k: usize| b.socket(k) == Some(socket);
                    // The chain is in time order: find the call's window by binary search.
                    let (from, upto) = (kernel.partition_point(|&k| events[k].t < t0), kernel.partition_point(|&k| events[k].t <= t1));
                    // A call that ends before it starts (a trace edited by hand, or damaged)
                    // has no window.
                    let verb = match &events[s].body {
                        Body::CallStart(start) => start.verb(),
                        _ => end.call.verb(),
                    };
                    for &k in kernel.get(from..upto).unwrap_or_default() {
                        let caused = match (verb, &events[k].body) {
                            (Verb::Connect, Body::State(c)) => c.to == State::SynSent,
                            (Verb::Connect, Body::Packet(p)) => sent(k) && syn(p),
                            (Verb::Listen, Body::State(c)) => c.to == State::Listen,
                            // A close with unread data aborts: the connection goes straight to
                            // CLOSED and a RST goes out instead of a FIN (RFC 9293, 3.10.4).
                            (Verb::Close | Verb::Shutdown, Body::State(c)) => {
                                matches!(c.to, State::FinWait1 | State::LastAck)
                                    || c.from == State::Listen
                                    || (verb == Verb::Close && c.to == State::Closed && matches!(c.from, State::Established | State::CloseWait))
                            }
                            (Verb::Close | Verb::Shutdown, Body::Packet(p)) => sent(k) && (fin(p) || (verb == Verb::Close && rst(p))),
                            (Verb::Close, Body::Kernel(KernelNote::ResetSent { .. })) => true,
                            (Verb::Send, Body::Packet(p)) => sent(k) && p.len > 0,
                            _ => false,
                        };
                        if caused {
                            edges.push((s, k));
                            edges.push((k, i));
                        }
                    }
                    let mut before_end = kernel[..upto].iter().copied();
                    let awaited = match verb {
                        Verb::Connect => before_end.rfind(|&k| matches!(&events[k].body, Body::State(c) if c.from == State::SynSent)),
                        // Data, the peer's FIN (0: the end), or its RST (ECONNRESET).
                        Verb::Recv => before_end.rfind(|&k| matches!(&events[k].body, Body::Packet(p) if !sent(k) && (p.len > 0 || fin(p) || rst(p)))),
                        _ => None,
                    };
                    if let Some(k) = awaited {
                        edges.push((k, i));
                    }
                    // `accept` returns once the new socket is established.
                    if let (Verb::Accept, Some(new)) = (verb, b.other(i)) {
                        let theirs = kernel_events(new);
                        let mut established = theirs[..theirs.partition_point(|&k| events[k].t <= t1)].iter().copied();
                        if let Some(k) = established.rfind(|&k| matches!(&events[k].body, Body::State(c) if c.to == State::Established)) {
                            edges.push((k, i));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// A program's life-cycle calls (socket, bind, listen, accept, connect, shutdown, close)
    /// on different sockets keep their observed order: it is the program's logic (a server
    /// closes its listening socket after serving, say). Sends and receives on different
    /// connections do not: those run concurrently.
    ///
    /// A listening socket's own calls (its `getsockname`, its `close`) keep their place in
    /// their thread's order among all its calls: the listener is no conversation that runs
    /// beside the others, and a `close` of it that the program made after a reset must not
    /// be shown before the conversation it ended. An `accept` belongs to the connection it
    /// returns (one that returned none, to nothing), so an event loop's accepts still fall
    /// where its clients' timing puts them.
    fn program_order(&mut self, listening: &[bool]) {
        let life_cycle = |verb: Verb| matches!(verb, Verb::Socket | Verb::Bind | Verb::Listen | Verb::Accept | Verb::Connect | Verb::Shutdown | Verb::Close);
        let Orderer { block: b, socket_of_call, edges, last_life_call: last, last_thread_call, accepted, .. } = self;
        accepted.clear();
        for (i, event) in b.events.iter().enumerate() {
            if let (Body::CallEnd(end), Some(new)) = (&event.body, b.other(i)) {
                if end.call.verb() == Verb::Accept {
                    accepted.insert(end.id, new);
                }
            }
        }
        // What a call is about: the listener alone (`true`), or a connection (`false`).
        let listener_alone = |i: usize| -> Option<bool> {
            let (id, verb) = match &b.events[i].body {
                Body::CallStart(start) => (start.id, start.verb()),
                Body::CallEnd(end) => (end.id, end.call.verb()),
                _ => return None,
            };
            let socket = if verb == Verb::Accept { *accepted.get(&id)? } else { socket_of_call[i]? };
            Some(listening.get(socket.index()).copied().unwrap_or(false))
        };
        last_thread_call.clear();
        for i in 0..b.events.len() {
            let Some(alone) = listener_alone(i) else { continue };
            let thread = (b.events[i].actor.pid, b.events[i].actor.tid);
            if let Some(&previous) = last_thread_call.get(&thread) {
                if (alone || listener_alone(previous) == Some(true)) && socket_of_call[previous] != socket_of_call[i] {
                    edges.push((previous, i));
                }
            }
            last_thread_call.insert(thread, i);
        }
        last.clear();
        for (i, event) in b.events.iter().enumerate() {
            let in_life = match &event.body {
                Body::CallStart(start) => life_cycle(start.verb()),
                Body::CallEnd(end) => life_cycle(end.call.verb()),
                Body::Process(change) => change.sockets().next().is_some(),
                _ => continue,
            };
            if !in_life {
                continue;
            }
            let program = (event.actor.pid, event.actor.role);
            if let Some(&previous) = last.get(&program) {
                if socket_of_call[previous] != socket_of_call[i] {
                    edges.push((previous, i));
                }
            }
            last.insert(program, i);
        }
    }
}

/// The order's graph: each event's followers, and how many events each waits for.
#[derive(Default)]
struct Graph {
    /// Event `i`'s followers are `followers[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    followers: Vec<usize>,
    waiting: Vec<usize>,
    next: Vec<usize>,
}

impl Graph {
    fn make(&mut self, events: usize, edges: &[(usize, usize)]) {
        let Graph { starts, followers, waiting, next } = self;
        starts.clear();
        starts.resize(events + 1, 0);
        waiting.clear();
        waiting.resize(events, 0);
        for &(before, later) in edges {
            starts[before + 1] += 1;
            waiting[later] += 1;
        }
        for i in 0..events {
            starts[i + 1] += starts[i];
        }
        next.clear();
        next.extend_from_slice(starts);
        followers.clear();
        followers.resize(edges.len(), 0);
        for &(before, later) in edges {
            followers[next[before]] = later;
            next[before] += 1;
        }
    }
}

/// The chains event `i` is on (at most two): a call is on its socket's call chain (and an
/// `accept`'s return on the new socket's too); a packet on its sender's and receiver's kernel
/// chains; a state change on its socket's.
fn memberships(
    i: usize,
    event: &Event,
    b: &Block,
    socket_of_call: &[Option<Named>],
    listeners: &[bool],
    sockets: &Sockets,
) -> [Option<(Named, u8, Option<SocketAddr>)>; 2] {
    match &event.body {
        Body::CallStart(_) | Body::CallEnd(_) => {
            let own = socket_of_call[i].map(|s| (s, 1, None));
            // `accept` returns a socket: its return is the new socket's first call.
            let new = match (&event.body, b.socket(i)) {
                (Body::CallEnd(_), Some(socket)) => b.other(i).filter(|&n| n != socket).map(|n| (n, 1, None)),
                _ => None,
            };
            [own, new]
        }
        Body::Packet(packet) => {
            let peer_of = |socket: Named, peer: SocketAddr| b.slot(socket).is_some_and(|slot| listeners[slot]).then_some(peer);
            [b.socket(i).map(|s| (s, 0, peer_of(s, packet.dst))), b.other(i).map(|s| (s, 0, peer_of(s, packet.src)))]
        }
        Body::State(_) | Body::Kernel(_) => [b.socket(i).map(|s| (s, 0, None)), None],
        // A process change is on the call chains of the sockets it names (a fork's copies, the
        // sockets an exit closes); program order places it among its process's calls. One that
        // names no socket is on no chain: it says nothing of a socket's life.
        Body::Process(change) => {
            let mut named = change.sockets().filter_map(|s| sockets.raw(s)).map(|s| (sockets.named(s), 1, None));
            let first = named.next();
            // Two names of one socket (a socket kept as two descriptors) are one membership.
            let second = named.find(|n| Some(n.0) != first.map(|f| f.0));
            [first, second]
        }
    }
}

fn syn(p: &crate::event::Packet) -> bool {
    p.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::SYN))
}

fn fin(p: &crate::event::Packet) -> bool {
    p.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::FIN))
}

fn rst(p: &crate::event::Packet) -> bool {
    p.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::RST))
}
