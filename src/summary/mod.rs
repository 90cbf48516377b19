//! The summary of many connections (`trace echo --summary`): one line per finished
//! connection, tcplife-style, and totals, computed from the packets and the kernel's state
//! changes alone, fed in time order.
//!
//! Memory is bounded by the connections open at once, not by how many there were: a
//! connection is dropped the moment both of its sockets have closed. A connection is known by
//! its 4-tuple from its first SYN on. At thousands of connections a second the kernel reuses
//! a 4-tuple within about a second, so a SYN on a pair whose connection has begun to close
//! starts a new connection.

mod connection;

pub use connection::{Closer, Connection, HEADER};

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use crate::event::{Body, Event, Origin, Packet, StateChange};
use crate::import::conversation::End;
use crate::tcp::flags::TcpFlags;
use crate::tcp::segment::opens_anew;
use crate::tcp::State;
use crate::wire::addr::canon;

/// (client, server): the client sent the first SYN.
type Pair = (SocketAddr, SocketAddr);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Connections seen from their first SYN: one line each.
    pub connections: u64,
    /// Of those, connections still open when the trace ended.
    pub open_at_end: u64,
    pub packets: u64,
    /// Packets and state changes of no connection seen from its SYN (one that began before
    /// the capture did).
    pub unattributed: u64,
}

#[derive(Default)]
pub struct Summary {
    open: HashMap<Pair, Connection>,
    /// Sockets the kernel moved into SYN-SENT before it chose their port (logged with local
    /// port 0), by `sk`, with the time: the socket's next change names its pair.
    connecting: HashMap<u64, u64>,
    totals: Totals,
}

impl Summary {
    /// Follows one event (packets and state changes: the kernel's, and the model's where
    /// no kernel report will show one, as a timewait socket's TIME-WAIT; calls are not
    /// needed); connections it finishes are moved to `finished`.
    pub fn observe(&mut self, event: &Event, finished: &mut Vec<Connection>) {
        match &event.body {
            Body::Packet(packet) => self.packet(event.t, packet, finished),
            Body::State(change) => self.state(event.t, change, event.origin, finished),
            _ => {}
        }
    }

    /// How many connections are open now: what the summary holds in memory.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// Ends the summary: connections still open are moved to `finished`, oldest first,
    /// marked unfinished.
    pub fn finish(mut self, finished: &mut Vec<Connection>) -> Totals {
        let mut open: Vec<Connection> = self.open.drain().map(|(_, c)| c).collect();
        open.sort_by_key(|c| (c.first, c.client));
        self.totals.open_at_end += open.len() as u64;
        self.totals.connections += open.len() as u64;
        finished.extend(open);
        self.totals
    }

    fn packet(&mut self, t: u64, packet: &Packet, finished: &mut Vec<Connection>) {
        let Some(tcp) = &packet.tcp else { return };
        self.totals.packets += 1;
        let (src, dst) = (canon(packet.src), canon(packet.dst));
        if tcp.flags.contains(TcpFlags::SYN) && !tcp.flags.contains(TcpFlags::ACK) {
            // The same 4-tuple, reused: a new connection once the old one has begun to close,
            // or whenever the SYN carries another ISN (a retransmitted SYN repeats its own;
            // RFC 9293 §3.4.1), in case the old one's FIN or RST is stamped after it.
            if self.open.get(&(src, dst)).is_some_and(|c| c.closer.is_some() || opens_anew(Some(c.isn), tcp.seq)) {
                if let Some(old) = self.open.remove(&(src, dst)) {
                    self.report(old, finished);
                }
            }
            self.open.entry((src, dst)).or_insert_with(|| Connection::new(t, src, dst, tcp.seq));
        }
        let Some((conn, from)) = self.find(src, dst) else {
            self.totals.unattributed += 1;
            return;
        };
        conn.last = t;
        conn.packets += 1;
        match from {
            End::Client => conn.bytes_to_server += u64::from(packet.len),
            End::Server => conn.bytes_to_client += u64::from(packet.len),
        }
        let reset = tcp.flags.contains(TcpFlags::RST);
        // Each side's path learns the segment (`state_path`): a reset ends a timewait socket.
        if let Some(row) = conn.path_mut(from).sent(tcp.flags) {
            conn.states_mut(from).push(row.to);
        }
        if let Some(row) = packet.dropped.is_none().then(|| conn.path_mut(from.other()).received(tcp.flags)).flatten() {
            conn.states_mut(from.other()).push(row.to);
        }
        if conn.closer.is_none() && (reset || tcp.flags.contains(TcpFlags::FIN)) {
            conn.closer = Some(Closer { side: from, reset });
        }
    }

    fn state(&mut self, t: u64, change: &StateChange, origin: Origin, finished: &mut Vec<Connection>) {
        let (Some(local), Some(remote)) = (change.local.map(canon), change.remote.map(canon)) else { return };
        if local.port() == 0 {
            if let Some(sk) = change.sk {
                self.connecting.insert(sk, t);
            }
            return;
        }
        // Taken whatever the pair: an entry never outlives the socket's next change.
        let syn_sent = change.sk.and_then(|sk| self.connecting.remove(&sk));
        if remote.port() == 0 {
            return; // a listening socket: no connection
        }
        let Some((conn, side)) = self.find(local, remote) else {
            self.totals.unattributed += 1;
            return;
        };
        if let Some(at) = syn_sent.filter(|_| side == End::Client) {
            conn.first = conn.first.min(at);
            conn.client_states.push(State::SynSent);
        }
        // The socket's path (`state_path`): TIME-WAIT where the kernel reports CLOSED on
        // handing the connection to a timewait socket.
        if let Some(row) = conn.path_mut(side).step(change, origin).filter(|row| row.to != row.from) {
            conn.states_mut(side).push(row.to);
        }
        conn.last = t;
        if conn.is_over() {
            let key = (conn.client, conn.server);
            if let Some(mut done) = self.open.remove(&key) {
                done.finished = true;
                self.report(done, finished);
            }
        }
    }

    /// The open connection between `from` and `to`, and which side `from` is.
    fn find(&mut self, from: SocketAddr, to: SocketAddr) -> Option<(&mut Connection, End)> {
        if self.open.contains_key(&(from, to)) {
            return self.open.get_mut(&(from, to)).map(|c| (c, End::Client));
        }
        self.open.get_mut(&(to, from)).map(|c| (c, End::Server))
    }

    fn report(&mut self, conn: Connection, finished: &mut Vec<Connection>) {
        self.totals.connections += 1;
        finished.push(conn);
    }
}

/// The totals line, with what the lenses lost: both must be 0 for the summary to be whole.
pub struct TotalsLine<'a> {
    pub totals: &'a Totals,
    pub packets_dropped: u64,
    pub states_lost: u64,
}

impl fmt::Display for TotalsLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.totals;
        write!(
            f,
            "connections {} (open at the end {}), packets {}, unattributed {}, kernel drops {}, lost tracepoint events {}",
            t.connections, t.open_at_end, t.packets, t.unattributed, self.packets_dropped, self.states_lost
        )
    }
}
