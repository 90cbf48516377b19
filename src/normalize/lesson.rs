//! The lesson-level view: what a lesson teaches about each socket, and nothing that varies
//! from run to run. Per socket, its life-cycle calls with their results, the bytes it sent and
//! received, and its states in the RFC 9293 view; per connection, the segments that open and
//! close it, with relative numbers.
//!
//! Left out on purpose: times, addresses, ports, descriptors and buffer sizes; `setsockopt`;
//! how data was cut into `recv` calls and segments, and when data was acknowledged (both
//! depend on scheduling); windows and options. A socket's states are its path
//! (`state_path`) in the RFC 9293 view: the states the RFC has, so a step only Linux takes
//! (FIN-WAIT-2 between an ACK and a FIN that came in one segment) is left out, and the
//! timewait socket's state stands where Linux reports CLOSED. Leaving TIME-WAIT is left out,
//! since a live session ends long before 2×MSL.

use std::fmt::Write as _;

use super::aspects::{Aspect, Items, Lines};
use super::sockets::{self, Named, PathsByNumber, Raw};
use crate::event::{Body, Event, Role, SockId, Verb};
use crate::hash::{FastMap, FastSet};
use crate::inert;
use crate::tcp::flags::TcpFlags;
use crate::tcp::State;
use crate::trace::room::{string_with_room, vec_with_room};
use crate::wording;
use crate::wording::PeerNames;

#[derive(Default)]
struct Socket {
    items: Items,
    /// The last segment shown, when it was a pure ACK of a FIN: its direction and number.
    fin_ack: Option<(&'static str, u32)>,
    /// Whether a FIN was shown going out (`>`), and coming in (`<`).
    fins: [bool; 2],
}

/// A direction's place in [`Socket::fins`].
fn side(arrow: &str) -> usize {
    usize::from(arrow == "<")
}

/// The entry of socket `at`, made on first sight.
fn entry(sockets: &mut [Option<Socket>], at: Named) -> &mut Socket {
    sockets[at.index()].get_or_insert_with(Socket::default)
}

/// The lesson-level view as text, one line per socket and aspect, sockets in name order.
pub fn lesson_view(events: &[Event]) -> String {
    // One name per socket: a connection named while it waited to be accepted is the socket
    // `accept` returned (see `names.rs`). Sockets by number (see `sockets.rs`).
    let (_, numbers) = sockets::read(events);
    let name = |raw: Raw| numbers.view_name(numbers.named(raw));
    // Megabytes for a large trace: room at once (see `vec_with_room`).
    let mut sockets: Vec<Option<Socket>> = vec_with_room(numbers.view_count());
    sockets.resize_with(numbers.view_count(), || None);
    let mut opening = OpeningAcks::default();
    // In a session of peers each socket is named with its program: `A:s1`.
    let mut peers = PeerNames::default();
    // Each socket's states as its path shows them (`state_path`), in the RFC 9293 view.
    let mut paths = PathsByNumber::default();
    // Where a call's or a segment's words are made, before they go in as one item.
    let mut item = String::new();
    for (i, event) in events.iter().enumerate() {
        peers.learn(event);
        let row = numbers.follow(&mut paths, i, event);
        match &event.body {
            Body::CallStart(start) => {
                let Some(socket) = numbers.socket(i) else { continue };
                if start.verb() == Verb::Send {
                    if let Some(data) = &start.args.data {
                        entry(&mut sockets, numbers.named(socket)).items.push(Aspect::Sent, &inert::terminal(&data.text));
                    }
                }
            }
            Body::CallEnd(end) => {
                // A call's socket, or (`socket()`) the one it returned.
                let Some(socket) = numbers.socket(i).or(numbers.other(i)) else { continue };
                let entry = entry(&mut sockets, numbers.named(socket));
                match end.call.verb() {
                    Verb::Recv => {
                        if let Some(data) = &end.data {
                            entry.items.push(Aspect::Received, &inert::terminal(&data.text));
                        }
                    }
                    Verb::Send | Verb::Option | Verb::Name | Verb::Mode | Verb::Descriptor | Verb::Wait => {}
                    call => {
                        item.clear();
                        let _ = match (&end.errno, numbers.other(i)) {
                            (Some(errno), _) => write!(item, "{call} = {}", inert::terminal(&errno.name)),
                            (None, Some(new)) => write!(item, "{call} = {}", inert::terminal(&name(new).0)),
                            (None, None) => write!(item, "{call} = {}", end.ret),
                        };
                        entry.items.push(Aspect::Call, &item);
                    }
                }
            }
            Body::State(_) => {
                // Leaving TIME-WAIT is left out: a live session ends long before 2×MSL.
                let row = row.filter(|r| r.from != State::TimeWait);
                let (Some(socket), Some(state)) = (numbers.socket(i), row.and_then(|r| r.rfc_state())) else { continue };
                entry(&mut sockets, numbers.named(socket)).items.push(Aspect::State, state.name());
            }
            Body::Packet(packet) => {
                // A timewait socket the reset ended (`state_path`) is CLOSED now.
                let ended = row.and_then(|row| Some((if row.receiver { numbers.other(i) } else { numbers.socket(i) }?, row.rfc_state()?)));
                if let Some((socket, state)) = ended {
                    entry(&mut sockets, numbers.named(socket)).items.push(Aspect::State, state.name());
                }
                let Some(tcp) = &packet.tcp else { continue };
                if !opening.keeps(packet.src, packet.dst, tcp.flags, tcp.seq, tcp.ack, packet.len) {
                    continue;
                }
                // A connection is named by its client's socket: the server's side changes
                // names (the listening socket answers the SYN, the accepted one the rest).
                let (client, arrow) = if event.actor.role == Role::Server { (numbers.other(i), "<") } else { (numbers.socket(i), ">") };
                let Some(client) = client else { continue };
                let socket = entry(&mut sockets, numbers.named(client));
                // A pure ACK of the peer's FIN that the same side's FIN repeats at once says
                // nothing the FIN does not: whether Linux sends it alone first is its
                // delayed-ACK timer's choice (RFC 9293 §3.8.6.3), not the programs'.
                if tcp.flags.contains(TcpFlags::FIN) && socket.fin_ack == Some((arrow, tcp.ack)) {
                    socket.items.withdraw_last_wire();
                }
                let acks_a_fin = tcp.flags == TcpFlags::ACK && packet.len == 0 && socket.fins[1 - side(arrow)];
                socket.fin_ack = acks_a_fin.then_some((arrow, tcp.ack));
                if tcp.flags.contains(TcpFlags::FIN) {
                    socket.fins[side(arrow)] = true;
                }
                item.clear();
                let _ = write!(item, "{arrow} ");
                wording::write_segment(&mut item, tcp.flags.without_psh(), tcp, packet.len);
                socket.items.push(Aspect::Wire, &item);
            }
            Body::Kernel(_) | Body::Process(_) => {}
        }
    }
    let mut sockets: Vec<(&SockId, &Socket)> = numbers.view_names().iter().zip(&sockets).filter_map(|(id, socket)| Some((id, socket.as_ref()?))).collect();
    sockets.sort_unstable_by_key(|(id, _)| *id);
    // Room for the whole text at once (the words and a peer's name are a few dozen bytes a
    // socket): grown as it came, a large trace's text was copied and faulted in again and again.
    let mut out = string_with_room(sockets.iter().map(|(_, s)| 128 + s.items.room()).sum());
    let mut lines = Lines::default();
    for (id, s) in sockets {
        let id = peers.end(&id.0);
        s.items.write(&inert::terminal(&id), &mut out, &mut lines);
    }
    out
}

/// Which pure ACKs open or close something: the first to acknowledge a SYN or a FIN.
#[derive(Default)]
struct OpeningAcks {
    /// Sequence numbers whose acknowledgment completes a SYN or FIN, per sender.
    awaited: FastMap<std::net::SocketAddr, FastSet<u32>>,
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
