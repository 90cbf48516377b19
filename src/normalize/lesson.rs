//! The lesson-level view: what a lesson teaches about each socket, and nothing that varies
//! from run to run. Per socket, its life-cycle calls with their results, the bytes it sent and
//! received, and its states in the RFC 9293 view; per connection, the segments that open and
//! close it, with relative numbers.
//!
//! Left out on purpose: times, addresses, ports, descriptors and buffer sizes; `setsockopt`;
//! how data was cut into `recv` calls and segments, and when data was acknowledged (both
//! depend on scheduling); windows and options. A live trace's states are shown as the RFC
//! sees them: the kernel's changes the model agrees with, and the model's own where Linux
//! reports late or never (TIME-WAIT; the accepted socket's SYN-RECEIVED); leaving TIME-WAIT
//! is left out, since a live session ends long before 2×MSL.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use crate::event::{Body, Event, Origin, Role, SockId, Verb};
use crate::tcp::linux;
use crate::tcp::State;
use crate::wire::flags::TcpFlags;

#[derive(Default)]
struct Socket {
    calls: Vec<String>,
    sent: String,
    received: String,
    states: Vec<State>,
    wire: Vec<String>,
}

/// The entry of `socket`, made on first sight (the name is cloned only then).
fn entry<'m>(sockets: &'m mut HashMap<SockId, Socket>, socket: &SockId) -> &'m mut Socket {
    if !sockets.contains_key(socket) {
        sockets.insert(socket.clone(), Socket::default());
    }
    sockets.get_mut(socket).expect("inserted above")
}

/// The lesson-level view as text, one line per socket and aspect, sockets in name order.
pub fn lesson_view(events: &[Event]) -> String {
    // One name per socket: a connection named while it waited to be accepted is the socket
    // `accept` returned (see `names.rs`).
    let renames = super::names::Renames::of(events);
    let name = |id: &SockId| renames.socket_name(id);
    let mut sockets: HashMap<SockId, Socket> = HashMap::new();
    let mut opening = OpeningAcks::default();
    for event in events {
        match &event.body {
            Body::CallStart(start) => {
                let Some(socket) = &event.socket else { continue };
                if start.verb() == Verb::Send {
                    if let Some(data) = &start.args.data {
                        entry(&mut sockets, &name(socket)).sent.push_str(&data.text);
                    }
                }
            }
            Body::CallEnd(end) => {
                let Some(socket) = event.socket.as_ref().or(end.new_socket.as_ref()) else { continue };
                let entry = entry(&mut sockets, &name(socket));
                match end.call.verb() {
                    Verb::Recv => {
                        if let Some(data) = &end.data {
                            entry.received.push_str(&data.text);
                        }
                    }
                    Verb::Send | Verb::Option | Verb::Name | Verb::Mode | Verb::Descriptor | Verb::Wait => {}
                    call => {
                        let result = match (&end.errno, &end.new_socket) {
                            (Some(errno), _) => errno.name.clone(),
                            (None, Some(new)) => name(new).0,
                            (None, None) => end.ret.to_string(),
                        };
                        entry.calls.push(format!("{call} = {result}"));
                    }
                }
            }
            Body::State(change) => {
                let Some(socket) = &event.socket else { continue };
                if rfc_view_keeps(event.origin, change) {
                    entry(&mut sockets, &name(socket)).states.push(change.to);
                }
            }
            Body::Packet(packet) => {
                let Some(tcp) = &packet.tcp else { continue };
                if !opening.keeps(packet.src, packet.dst, tcp.flags, tcp.seq, tcp.ack, packet.len) {
                    continue;
                }
                // A connection is named by its client's socket: the server's side changes
                // names (the listening socket answers the SYN, the accepted one the rest).
                let (client, arrow) = if event.actor.role == Role::Server { (packet.to.as_ref(), "<") } else { (event.socket.as_ref(), ">") };
                let Some(client) = client else { continue };
                let mut line = format!("{arrow} {}", tcp.flags.without_psh());
                let carries_seq = tcp.flags.contains(TcpFlags::SYN) || tcp.flags.contains(TcpFlags::FIN) || tcp.flags.contains(TcpFlags::RST);
                if carries_seq {
                    let _ = write!(line, " seq {}", tcp.rel_seq.unwrap_or(tcp.seq));
                }
                if tcp.flags.contains(TcpFlags::ACK) {
                    let _ = write!(line, " ack {}", tcp.rel_ack.unwrap_or(tcp.ack));
                }
                entry(&mut sockets, &name(client)).wire.push(line);
            }
            Body::Kernel(_) | Body::Process(_) => {}
        }
    }
    let mut out = String::new();
    let sockets: BTreeMap<SockId, Socket> = sockets.into_iter().collect();
    // In a session of peers each socket is named with its program: `A:s1`.
    let peers = crate::render::text::PeerNames::of(events);
    for (id, s) in &sockets {
        let id = peers.end(&id.0);
        let states: Vec<&str> = s.states.iter().map(|st| st.name()).collect();
        let _ = writeln!(out, "{id} calls: {}", s.calls.join(" | "));
        let _ = writeln!(out, "{id} sent: \"{}\"", s.sent);
        let _ = writeln!(out, "{id} received: \"{}\"", s.received);
        // A datagram socket (or a trace without the states lens) has none to show.
        let states = if states.is_empty() { "(none)".to_string() } else { states.join(" ") };
        let _ = writeln!(out, "{id} states: {states}");
        if !s.wire.is_empty() {
            let _ = writeln!(out, "{id} wire: {}", s.wire.join(" | "));
        }
    }
    out
}

/// Whether a state change belongs to the RFC view of a trace.
fn rfc_view_keeps(origin: Origin, change: &crate::event::StateChange) -> bool {
    if change.from == State::TimeWait {
        return false;
    }
    match (origin, change.model) {
        (Origin::Modelled, _) | (Origin::Observed, None) => true,
        (Origin::Observed, Some(model)) => model == change.to || linux::explains(change.to, model).is_none(),
    }
}

/// Which pure ACKs open or close something: the first to acknowledge a SYN or a FIN.
#[derive(Default)]
struct OpeningAcks {
    /// Sequence numbers whose acknowledgment completes a SYN or FIN, per sender.
    awaited: HashMap<std::net::SocketAddr, HashSet<u32>>,
}

impl OpeningAcks {
    /// Segments with SYN, FIN or RST are kept; a pure ACK only when it first acknowledges
    /// the peer's SYN or FIN; data segments never (the byte streams stand for them).
    fn keeps(&mut self, src: std::net::SocketAddr, dst: std::net::SocketAddr, flags: TcpFlags, seq: u32, ack: u32, len: u32) -> bool {
        let syn_or_fin = flags.contains(TcpFlags::SYN) || flags.contains(TcpFlags::FIN);
        if syn_or_fin {
            // RFC 9293 §3.4: SYN and FIN each take one sequence number, after the data.
            self.awaited.entry(src).or_default().insert(seq.wrapping_add(len).wrapping_add(1));
        }
        if syn_or_fin || flags.contains(TcpFlags::RST) {
            return true;
        }
        len == 0 && flags.contains(TcpFlags::ACK) && self.awaited.get_mut(&dst).is_some_and(|waiting| waiting.remove(&ack))
    }
}
