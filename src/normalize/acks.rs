//! Acknowledgments whose timing belongs to the kernel, not to the programs: a pure ACK of
//! data that the same side's next segment acknowledges again. Whether Linux sends it depends
//! on its delayed-ACK timer and on how soon the program answers (RFC 9293 §3.8.6.3 lets a
//! receiver delay an ACK, up to 0.5 s); under load the same programs send it on some runs and
//! not on others. The next segment carries the same acknowledgment, so leaving the pure ACK
//! out of a snapshot loses nothing the programs did.

use std::net::SocketAddr;

use crate::event::{Body, Event};
use crate::hash::FastMap;
use crate::tcp::flags::TcpFlags;

/// Finds the pure ACKs a snapshot leaves out, event by event: a view's passes over the events
/// go together, each pass over a trace of a million events reading it from memory anew.
#[derive(Default)]
pub struct RepeatedAcks {
    /// Per direction (sender, receiver): where the data the receiver sent so far ends, and the
    /// pure ACK of that data still waiting to see the sender's next segment.
    data_end: FastMap<(SocketAddr, SocketAddr), u32>,
    waiting: FastMap<(SocketAddr, SocketAddr), (usize, u32)>,
    repeated: Vec<usize>,
}

impl RepeatedAcks {
    /// Looks at event `i`, the events before it seen already.
    pub fn see(&mut self, i: usize, event: &Event) {
        let Body::Packet(packet) = &event.body else { return };
        let Some(tcp) = &packet.tcp else { return };
        let direction = (packet.src, packet.dst);
        if let Some((ack_index, ack)) = self.waiting.remove(&direction) {
            if tcp.flags.contains(TcpFlags::ACK) && tcp.ack == ack {
                self.repeated.push(ack_index);
            }
        }
        if packet.len > 0 {
            self.data_end.insert(direction, tcp.seq.wrapping_add(packet.len));
        }
        let pure_ack = tcp.flags == TcpFlags::ACK && packet.len == 0 && packet.dropped.is_none();
        if pure_ack && self.data_end.get(&(packet.dst, packet.src)) == Some(&tcp.ack) {
            self.waiting.insert(direction, (i, tcp.ack));
        }
    }

    /// The indices of the pure ACKs left out.
    pub fn repeated(self) -> Vec<usize> {
        self.repeated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::read_trace;

    fn repeated_acks(events: &[Event]) -> Vec<usize> {
        let mut acks = RepeatedAcks::default();
        for (i, event) in events.iter().enumerate() {
            acks.see(i, event);
        }
        acks.repeated()
    }

    fn packets(path: &str) -> Vec<Event> {
        read_trace(std::path::Path::new(&format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR")))).unwrap().events
    }

    #[test]
    fn only_pure_acks_of_data_repeated_by_the_next_segment_go() {
        let events = packets("live/echo.jsonl");
        let repeated = repeated_acks(&events);
        assert!(!repeated.is_empty(), "the echo acknowledges some data alone");
        for &i in &repeated {
            let Body::Packet(p) = &events[i].body else { panic!("#{i} is not a packet") };
            let tcp = p.tcp.as_ref().unwrap();
            assert_eq!((tcp.flags, p.len), (TcpFlags::ACK, 0), "#{i}");
            let next = events[i + 1..].iter().find_map(|e| match &e.body {
                Body::Packet(q) if (q.src, q.dst) == (p.src, p.dst) => q.tcp.as_ref(),
                _ => None,
            });
            assert_eq!(next.map(|n| n.ack), Some(tcp.ack), "#{i}: the sender's next segment repeats the ack");
        }
    }

    #[test]
    fn the_handshake_and_closing_acks_stay() {
        for fixture in ["live/echo.jsonl", "live/half-close.jsonl", "live/server-closes-first.jsonl"] {
            let events = packets(fixture);
            let repeated = repeated_acks(&events);
            // The third ACK of the handshake acknowledges a SYN, the last ACK a FIN: neither is data.
            for (i, e) in events.iter().enumerate() {
                let Body::Packet(p) = &e.body else { continue };
                let Some(tcp) = &p.tcp else { continue };
                if tcp.flags == TcpFlags::ACK && matches!(tcp.rel_ack, Some(1)) {
                    assert!(!repeated.contains(&i), "{fixture} #{i}: the handshake's ACK was left out");
                }
            }
        }
    }
}
