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
//!   events it waits for or causes (see [`links`]);
//! - among the events that may come next, the first of the first socket's chain is taken:
//!   server sockets before client sockets, in name order; kernel events before calls.
//!
//! The result is a topological order of that graph, chosen without looking at times.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;

use super::names::Renames;
use crate::event::{Body, CallName, Event, Origin, Role, SockId, Verb};
use crate::tcp::State;
use crate::wire::flags::TcpFlags;

/// A chain of events that keep their order: a socket's calls, or its kernel events. Ordered
/// as the tie-break takes them: server sockets before clients, then by number; kernel events
/// (0) before calls (1); a listening socket's kernel events split per peer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Chain {
    class: u8,
    number: u64,
    name: SockId,
    calls: u8,
    process: usize,
    peer: Option<SocketAddr>,
}

/// The rank a socket's chains take: (role class, its number, its name).
fn rank(socket: &SockId, role: Role) -> (u8, u64) {
    let class = match role {
        Role::Server => 0,
        Role::Client => 1,
        Role::Unknown => 2,
    };
    // `s10` after `s9`: compare the number, not the text.
    let number = socket.0.bytes().filter(u8::is_ascii_digit).fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')));
    (class, number)
}

/// The canonical order of `events`, as indices into it.
pub fn canonical_order(events: &[&Event], names: &Renames) -> Vec<usize> {
    let roles = socket_roles(events);
    let listeners = listening_sockets(events);
    let socket_of_call = call_sockets(events);

    // Each process by its order of appearance: calls on one socket by two processes (a forked
    // child's and its parent's) are two chains, in no fixed order between them.
    let mut processes: Vec<Option<u32>> = Vec::new();
    for event in events {
        if matches!(event.body, Body::CallStart(_) | Body::CallEnd(_)) && !processes.contains(&event.actor.pid) {
            processes.push(event.actor.pid);
        }
    }
    let process = |event: &Event| processes.iter().position(|p| *p == event.actor.pid).unwrap_or(0);

    // The chains each event is on, interned: (socket, calls?, peer, process) -> chain id.
    let mut ids: HashMap<(&SockId, u8, Option<SocketAddr>, usize), usize> = HashMap::new();
    let mut chains: Vec<(Chain, Vec<usize>)> = Vec::new();
    let mut on: Vec<[usize; 2]> = vec![[usize::MAX; 2]; events.len()];
    for (i, event) in events.iter().enumerate() {
        for (slot, (socket, calls, peer)) in memberships(i, event, &socket_of_call, &listeners).into_iter().flatten().enumerate() {
            let by = if calls == 1 { process(event) } else { 0 };
            let id = *ids.entry((socket, calls, peer, by)).or_insert_with(|| {
                let renamed = names.socket_name(socket);
                let (class, number) = rank(&renamed, roles.get(socket).copied().unwrap_or(Role::Unknown));
                chains.push((Chain { class, number, name: renamed, calls, process: by, peer }, Vec::new()));
                chains.len() - 1
            });
            chains[id].1.push(i);
            on[i][slot] = id;
        }
    }
    // Each chain's rank in the tie-break, computed once.
    let mut by_rank: Vec<usize> = (0..chains.len()).collect();
    by_rank.sort_by(|&a, &b| chains[a].0.cmp(&chains[b].0));
    let mut rank_of = vec![0usize; chains.len()];
    for (r, &id) in by_rank.iter().enumerate() {
        rank_of[id] = r;
    }

    // Edges: along each chain, and between calls and kernel events.
    let mut followers: Vec<Vec<usize>> = vec![Vec::new(); events.len()];
    let mut waiting = vec![0usize; events.len()];
    let mut edge = |before: usize, later: usize| {
        followers[before].push(later);
        waiting[later] += 1;
    };
    for (_, members) in &chains {
        for pair in members.windows(2) {
            edge(pair[0], pair[1]);
        }
    }
    for (before, later) in links(events, &socket_of_call) {
        edge(before, later);
    }
    for (before, later) in program_order(events, &socket_of_call) {
        edge(before, later);
    }
    // The model's changes beside a live trace follow the event that caused them, which the
    // timeline put just before them.
    for i in 1..events.len() {
        if events[i].origin == Origin::Modelled && events[i - 1].origin == Origin::Observed {
            edge(i - 1, i);
        }
    }

    // Kahn's algorithm, always taking the ready event of the first chain.
    let key = |i: usize| on[i].iter().filter(|&&c| c != usize::MAX).map(|&c| rank_of[c]).min().unwrap_or(usize::MAX);
    let mut ready: BinaryHeap<Reverse<(usize, usize)>> = (0..events.len()).filter(|&i| waiting[i] == 0).map(|i| Reverse((key(i), i))).collect();
    let mut order = Vec::with_capacity(events.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &later in &followers[i] {
            waiting[later] -= 1;
            if waiting[later] == 0 {
                ready.push(Reverse((key(later), later)));
            }
        }
    }
    // A cycle would mean contradictory observations; keep what is left in observed order
    // rather than lose events.
    if order.len() < events.len() {
        let mut placed = vec![false; events.len()];
        for &i in &order {
            placed[i] = true;
        }
        order.extend((0..events.len()).filter(|&i| !placed[i]));
    }
    order
}

/// The chains event `i` is on (at most two): a call is on its socket's call chain (and an
/// `accept`'s return on the new socket's too); a packet on its sender's and receiver's kernel
/// chains; a state change on its socket's.
fn memberships<'e>(
    i: usize,
    event: &'e Event,
    socket_of_call: &'e HashMap<usize, SockId>,
    listeners: &std::collections::HashSet<&SockId>,
) -> [Option<(&'e SockId, u8, Option<SocketAddr>)>; 2] {
    match &event.body {
        Body::CallStart(_) | Body::CallEnd(_) => {
            let own = socket_of_call.get(&i).map(|s| (s, 1, None));
            // `accept` returns a socket: its return is the new socket's first call.
            let new = match (&event.body, &event.socket) {
                (Body::CallEnd(end), Some(socket)) => end.new_socket.as_ref().filter(|&n| n != socket).map(|n| (n, 1, None)),
                _ => None,
            };
            [own, new]
        }
        Body::Packet(packet) => {
            let peer_of = |socket: &SockId, peer: SocketAddr| listeners.contains(socket).then_some(peer);
            [
                event.socket.as_ref().map(|s| (s, 0, peer_of(s, packet.dst))),
                packet.to.as_ref().map(|s| (s, 0, peer_of(s, packet.src))),
            ]
        }
        Body::State(_) | Body::Kernel(_) => [event.socket.as_ref().map(|s| (s, 0, None)), None],
        // A process change is on the call chains of the sockets it names (a fork's copies, the
        // sockets an exit closes); program order places it among its process's calls. One that
        // names no socket is on no chain: it says nothing of a socket's life.
        Body::Process(change) => {
            let mut named = change.sockets().map(|s| (s, 1, None));
            let first = named.next();
            // Two names of one socket (a socket kept as two descriptors) are one membership.
            let second = named.find(|n| Some(n.0) != first.map(|f| f.0));
            [first, second]
        }
    }
}

/// A program's life-cycle calls (socket, bind, listen, accept, connect, shutdown, close) on
/// different sockets keep their observed order: it is the program's logic (a server closes
/// its listening socket after serving, say). Sends and receives on different connections do
/// not: those run concurrently.
fn program_order(events: &[&Event], socket_of_call: &HashMap<usize, SockId>) -> Vec<(usize, usize)> {
    let life_cycle = |verb: Verb| {
        matches!(verb, Verb::Socket | Verb::Bind | Verb::Listen | Verb::Accept | Verb::Connect | Verb::Shutdown | Verb::Close)
    };
    let mut last: HashMap<(Option<u32>, Role), usize> = HashMap::new();
    let mut edges = Vec::new();
    for (i, event) in events.iter().enumerate() {
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
            if socket_of_call.get(&previous) != socket_of_call.get(&i) {
                edges.push((previous, i));
            }
        }
        last.insert(program, i);
    }
    edges
}

/// The role of each socket, from the calls that created it.
fn socket_roles(events: &[&Event]) -> HashMap<SockId, Role> {
    let mut roles = HashMap::new();
    for event in events {
        if let Body::CallEnd(end) = &event.body {
            if let Some(new) = &end.new_socket {
                roles.insert(new.clone(), event.actor.role);
            }
        }
        if let Some(socket) = &event.socket {
            roles.entry(socket.clone()).or_insert(event.actor.role);
        }
    }
    roles
}

fn listening_sockets<'e>(events: &[&'e Event]) -> std::collections::HashSet<&'e SockId> {
    events
        .iter()
        .filter(|e| matches!(&e.body, Body::CallStart(s) if s.verb() == Verb::Listen))
        .filter_map(|e| e.socket.as_ref())
        .collect()
}

/// The socket each call event is about; `socket()`'s start has none, so it takes the socket
/// its end returns.
fn call_sockets(events: &[&Event]) -> HashMap<usize, SockId> {
    let mut by_id: HashMap<u64, SockId> = HashMap::new();
    for event in events {
        if let Body::CallEnd(end) = &event.body {
            if let Some(socket) = event.socket.as_ref().or(end.new_socket.as_ref()) {
                by_id.insert(end.id, socket.clone());
            }
        }
    }
    let mut sockets = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        let id = match &event.body {
            Body::CallStart(start) => start.id,
            Body::CallEnd(end) => end.id,
            _ => continue,
        };
        // A `socket()` start has no socket yet: it belongs with the socket its end returns.
        let own = if matches!(&event.body, Body::CallStart(s) if s.call == CallName::Socket) { None } else { event.socket.clone() };
        if let Some(socket) = own.or_else(|| by_id.get(&id).cloned()) {
            sockets.insert(i, socket);
        }
    }
    sockets
}

/// Edges (before, after) between calls and kernel events, of two kinds:
/// - caused: what happens inside the system call (connect's SYN-SENT and SYN, listen's LISTEN,
///   close's and shutdown's FIN and state change, send's data) sits between start and end;
/// - awaited: what a blocking call waits for (connect: leaving SYN-SENT; accept: the new
///   socket's establishment; recv: the data or FIN it returns) comes before its end, however
///   early it happened, so that the graph does not depend on when the call began.
fn links(events: &[&Event], socket_of_call: &HashMap<usize, SockId>) -> Vec<(usize, usize)> {
    let mut kernel_of: HashMap<&SockId, Vec<usize>> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        match &event.body {
            Body::Packet(packet) => {
                for socket in event.socket.iter().chain(packet.to.iter()) {
                    kernel_of.entry(socket).or_default().push(i);
                }
            }
            Body::State(_) | Body::Kernel(_) => {
                if let Some(socket) = &event.socket {
                    kernel_of.entry(socket).or_default().push(i);
                }
            }
            _ => {}
        }
    }
    let mut starts: HashMap<u64, usize> = HashMap::new();
    let mut edges = Vec::new();
    // The program each socket belongs to, and the last call each program made so far.
    let mut program_of: HashMap<&SockId, (Option<u32>, Role)> = HashMap::new();
    let mut last_call: HashMap<(Option<u32>, Role), usize> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        if let (Body::CallStart(_) | Body::CallEnd(_), Some(socket)) = (&event.body, socket_of_call.get(&i)) {
            let program = (event.actor.pid, event.actor.role);
            program_of.insert(socket, program);
            last_call.insert(program, i);
        }
        // A listening socket closes only because it is closed: by a call (linked below), or
        // when its process exits, after the last call the program made.
        if let (Body::State(change), Some(socket)) = (&event.body, &event.socket) {
            if change.from == State::Listen && change.to == State::Closed {
                if let Some(&call) = program_of.get(socket).and_then(|program| last_call.get(program)) {
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
                let Some(socket) = socket_of_call.get(&i) else { continue };
                let (t0, t1) = (events[s].t, event.t);
                let kernel = kernel_of.get(socket).map_or(&[][..], Vec::as_slice);
                let sent = |k: usize| events[k].socket.as_ref() == Some(socket);
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
                        (Verb::Close | Verb::Shutdown, Body::State(c)) => {
                            (matches!(c.to, State::FinWait1 | State::LastAck) || c.from == State::Listen)
                        }
                        (Verb::Close | Verb::Shutdown, Body::Packet(p)) => sent(k) && fin(p),
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
                    Verb::Recv => {
                        before_end.rfind(|&k| matches!(&events[k].body, Body::Packet(p) if !sent(k) && (p.len > 0 || fin(p))))
                    }
                    _ => None,
                };
                if let Some(k) = awaited {
                    edges.push((k, i));
                }
                // `accept` returns once the new socket is established.
                if let (Verb::Accept, Some(new)) = (verb, &end.new_socket) {
                    let theirs = kernel_of.get(new).map_or(&[][..], Vec::as_slice);
                    let mut established = theirs[..theirs.partition_point(|&k| events[k].t <= t1)].iter().copied();
                    if let Some(k) = established.rfind(|&k| matches!(&events[k].body, Body::State(c) if c.to == State::Established)) {
                        edges.push((k, i));
                    }
                }
            }
            _ => {}
        }
    }
    edges
}

fn syn(p: &crate::event::Packet) -> bool {
    p.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::SYN))
}

fn fin(p: &crate::event::Packet) -> bool {
    p.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::FIN))
}
