//! Sequence and acknowledgment numbers relative to each side's initial sequence number, as
//! Wireshark and packetdrill show them: the SYN has seq 0, and the ACK of a SYN is 1. And the
//! window scale each segment's window field is read with (RFC 7323), learned from the SYNs.

use std::net::SocketAddr;

use crate::event::{Body, Event, Packet};
use crate::hash::FastMap;
use crate::tcp::flags::TcpFlags;

/// Tracks the ISN and the window scale option of each direction of each connection.
#[derive(Debug, Default)]
pub struct RelativeNumbers {
    /// Keyed by (sender, receiver): the number that counts as 0 for that sender.
    base: FastMap<(SocketAddr, SocketAddr), u32>,
    /// Keyed by (sender, receiver): the shift the sender's SYN offered, `None` if it offered
    /// none.
    shift: FastMap<(SocketAddr, SocketAddr), Option<u8>>,
}

impl RelativeNumbers {
    pub fn number(&mut self, event: &mut Event) {
        if let Body::Packet(packet) = &mut event.body {
            self.number_packet(packet);
        }
    }

    /// The same, for a packet not yet an event (the simulator's wire).
    pub fn number_packet(&mut self, packet: &mut Packet) {
        let Some(tcp) = &mut packet.tcp else { return };
        let key = (packet.src, packet.dst);
        // RFC 9293 §3.4: a SYN carries the sender's ISN. A new SYN on the same address pair
        // starts a new connection and a new count. Without a SYN (capture began mid-stream, or
        // a RST from a closed port) the first number seen counts as 0.
        let base = if tcp.flags.contains(TcpFlags::SYN) {
            self.base.insert(key, tcp.seq);
            self.shift.insert(key, tcp.options.wscale);
            tcp.seq
        } else {
            *self.base.entry(key).or_insert(tcp.seq)
        };
        // RFC 7323 §2.2: scaling is in effect only when both SYNs carried the option; a SYN's
        // own window is never scaled. Each side scales by the shift it offered.
        if !tcp.flags.contains(TcpFlags::SYN) {
            if let (Some(&ours), Some(&theirs)) = (self.shift.get(&key), self.shift.get(&(packet.dst, packet.src))) {
                tcp.win_shift = Some(if theirs.is_some() { ours.unwrap_or(0) } else { 0 });
            }
        }
        tcp.rel_seq = Some(tcp.seq.wrapping_sub(base));
        tcp.rel_ack = if tcp.flags.contains(TcpFlags::ACK) { self.base.get(&(packet.dst, packet.src)).map(|peer| tcp.ack.wrapping_sub(*peer)) } else { None };
    }
}
