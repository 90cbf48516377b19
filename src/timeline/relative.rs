//! Sequence and acknowledgment numbers relative to each side's initial sequence number, as
//! Wireshark and packetdrill show them: the SYN has seq 0, and the ACK of a SYN is 1.

use std::net::SocketAddr;

use crate::event::{Body, Event};
use crate::hash::FastMap;
use crate::tcp::flags::TcpFlags;

/// Tracks the ISN of each direction of each connection.
#[derive(Default)]
pub struct RelativeNumbers {
    /// Keyed by (sender, receiver): the number that counts as 0 for that sender.
    base: FastMap<(SocketAddr, SocketAddr), u32>,
}

impl RelativeNumbers {
    pub fn number(&mut self, event: &mut Event) {
        let Body::Packet(packet) = &mut event.body else { return };
        let Some(tcp) = &mut packet.tcp else { return };
        let key = (packet.src, packet.dst);
        // RFC 9293 §3.4: a SYN carries the sender's ISN. A new SYN on the same address pair
        // starts a new connection and a new count. Without a SYN (capture began mid-stream, or
        // a RST from a closed port) the first number seen counts as 0.
        let base = if tcp.flags.contains(TcpFlags::SYN) {
            self.base.insert(key, tcp.seq);
            tcp.seq
        } else {
            *self.base.entry(key).or_insert(tcp.seq)
        };
        tcp.rel_seq = Some(tcp.seq.wrapping_sub(base));
        tcp.rel_ack = if tcp.flags.contains(TcpFlags::ACK) { self.base.get(&(packet.dst, packet.src)).map(|peer| tcp.ack.wrapping_sub(*peer)) } else { None };
    }
}
