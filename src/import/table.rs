//! The open conversations of a capture, by address pair, in bounded memory: a conversation
//! leaves the table as soon as it is over (both FINs acknowledged, or a reset), and when
//! [`MAX_OPEN`] conversations are open at once the half that has been idle longest is put
//! out, reported as still open. So the table never holds more than [`MAX_OPEN`]
//! conversations (a few MB), however large the capture.

use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

use super::conversation::{Conversation, End};
use crate::event::Transport;
use crate::hash::FastMap;
use crate::wire::peek::Peek;

/// How many conversations may be open at once.
pub const MAX_OPEN: usize = 1 << 16;

/// A conversation's address pair, the same in both directions, packed in five words (half
/// the size of two [`crate::wire::peek::Addr`]s, so that more of the table stays in cache).
#[derive(Clone, Copy, Eq)]
struct Key([u64; 5]);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        // Word by word, where the derived comparison calls memcmp.
        let (a, b) = (&self.0, &other.0);
        ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0
    }
}

impl Key {
    fn of(p: &Peek) -> Key {
        let (low, high) = if p.src <= p.dst { (p.src, p.dst) } else { (p.dst, p.src) };
        let ports = (u64::from(low.port) << 16) | u64::from(high.port);
        let kind = (u64::from(p.transport == Transport::Tcp) << 32) | (u64::from(low.v6) << 33);
        Key([low.ip as u64, (low.ip >> 64) as u64, high.ip as u64, (high.ip >> 64) as u64, ports | kind])
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for word in self.0 {
            state.write_u64(word);
        }
    }
}

/// The conversations open so far.
pub struct Table {
    open: FastMap<Key, Conversation>,
    max_open: usize,
    numbered: u64,
}

impl Default for Table {
    fn default() -> Table {
        Table::with_limit(MAX_OPEN)
    }
}

impl Table {
    /// A table that holds at most `max_open` conversations at once (at least 2).
    pub fn with_limit(max_open: usize) -> Table {
        Table { open: FastMap::default(), max_open: max_open.max(2), numbered: 0 }
    }

    /// How many conversations have begun so far.
    pub fn conversations(&self) -> u64 {
        self.numbered
    }

    /// Counts `p` into its conversation and answers which one and which end sent it.
    /// Conversations that are over, or put out to make room, are pushed onto `done`.
    pub fn packet(&mut self, t: u64, p: &Peek, done: &mut Vec<Conversation>) -> (u64, End) {
        if self.open.len() >= self.max_open {
            self.make_room(done);
        }
        // One hash and one probe per packet: the entry serves the lookup and the insertion.
        match self.open.entry(Key::of(p)) {
            Entry::Occupied(mut slot) if !slot.get().is_reused_by(p) => {
                let conv = slot.get_mut();
                let answer = (conv.number, conv.end_of(p));
                if conv.add(t, p) {
                    done.push(slot.remove());
                }
                answer
            }
            // A new SYN on the ports of an open conversation starts a new one.
            Entry::Occupied(mut slot) => {
                self.numbered += 1;
                let (conv, over) = Table::begin(self.numbered, t, p);
                let answer = (conv.number, conv.end_of(p));
                let old = slot.insert(conv);
                done.push(old);
                if over {
                    done.push(slot.remove());
                }
                answer
            }
            Entry::Vacant(slot) => {
                self.numbered += 1;
                let (conv, over) = Table::begin(self.numbered, t, p);
                let answer = (conv.number, conv.end_of(p));
                if over {
                    done.push(conv);
                } else {
                    slot.insert(conv);
                }
                answer
            }
        }
    }

    /// A conversation begun by `p`, and whether that one packet already ended it.
    fn begin(number: u64, t: u64, p: &Peek) -> (Conversation, bool) {
        let mut conv = Conversation::new(number, t, p);
        let over = conv.add(t, p);
        (conv, over)
    }

    /// Puts out the half of the open conversations that has been idle longest.
    fn make_room(&mut self, done: &mut Vec<Conversation>) {
        let mut idle: Vec<u64> = self.open.values().map(|c| c.last_t).collect();
        let middle = idle.len() / 2;
        let (_, &mut cut, _) = idle.select_nth_unstable(middle);
        let mut out: Vec<Conversation> = Vec::new();
        self.open.retain(|_, c| {
            let keep = c.last_t > cut;
            if !keep {
                out.push(c.clone());
            }
            keep
        });
        out.sort_by_key(|c| c.number);
        done.extend(out);
    }

    /// Every conversation still open (the capture ended), in order of number.
    pub fn drain(&mut self, done: &mut Vec<Conversation>) {
        let mut rest: Vec<Conversation> = self.open.drain().map(|(_, c)| c).collect();
        rest.sort_by_key(|c| c.number);
        done.extend(rest);
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use crate::import::conversation::Ending;
    use crate::tcp::flags::TcpFlags;
    use crate::wire::peek::Addr;

    fn addr(port: u16) -> Addr {
        Addr { ip: 0x7f00_0001, port, v6: false }
    }

    fn tcp(from: u16, to: u16, flags: TcpFlags, seq: u32, ack: u32, len: u32) -> Peek {
        Peek { transport: Transport::Tcp, src: addr(from), dst: addr(to), flags: flags.0, seq, ack, len }
    }

    const SYN: TcpFlags = TcpFlags::SYN;
    const ACK: TcpFlags = TcpFlags::ACK;

    fn syn_ack() -> TcpFlags {
        TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0)
    }

    fn fin_ack() -> TcpFlags {
        TcpFlags(TcpFlags::FIN.0 | TcpFlags::ACK.0)
    }

    #[test]
    fn full_connection__reported_when_the_last_fin_is_acknowledged() {
        let mut table = Table::default();
        let mut done = Vec::new();
        for (t, p) in [
            tcp(40000, 80, SYN, 100, 0, 0),
            tcp(80, 40000, syn_ack(), 500, 101, 0),
            tcp(40000, 80, ACK, 101, 501, 0),
            tcp(40000, 80, ACK, 101, 501, 10),
            tcp(40000, 80, ACK, 101, 501, 10), // the same data again
            tcp(40000, 80, fin_ack(), 111, 501, 0),
            tcp(80, 40000, fin_ack(), 501, 112, 0),
        ]
        .iter()
        .enumerate()
        {
            table.packet(t as u64 * 1000, p, &mut done);
            assert!(done.is_empty(), "over only when the last FIN is acknowledged");
        }
        table.packet(7000, &tcp(40000, 80, ACK, 112, 502, 0), &mut done);
        let conv = done.pop().expect("over");
        assert_eq!(conv.ending(), Ending::Closed { first: End::Client });
        assert_eq!(conv.handshake_rtt(), Some(2000));
        assert_eq!(conv.retransmissions, [1, 0]);
        assert_eq!((conv.packets, conv.bytes), ([6, 2], [20, 0]));
    }

    #[test]
    fn new_syn_on_the_same_ports__starts_a_new_conversation() {
        let mut table = Table::default();
        let mut done = Vec::new();
        assert_eq!(table.packet(0, &tcp(40000, 80, SYN, 100, 0, 0), &mut done).0, 1);
        assert_eq!(table.packet(1, &tcp(40000, 80, SYN, 100, 0, 0), &mut done).0, 1, "a repeated SYN");
        assert_eq!(table.packet(2, &tcp(40000, 80, SYN, 9000, 0, 0), &mut done).0, 2, "another ISN");
        assert_eq!(done.iter().map(|c| (c.number, c.retransmissions[0])).collect::<Vec<_>>(), vec![(1, 1)]);
    }

    #[test]
    fn more_open_than_the_limit__the_idle_half_is_reported_open() {
        let mut table = Table::with_limit(4);
        let mut done = Vec::new();
        for port in 0..10u16 {
            table.packet(u64::from(port), &tcp(40000 + port, 80, SYN, 1, 0, 0), &mut done);
            assert!(table.open.len() <= 4);
        }
        assert!(done.iter().all(|c| c.ending() == Ending::Open));
        table.drain(&mut done);
        let mut numbers: Vec<u64> = done.iter().map(|c| c.number).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=10).collect::<Vec<_>>(), "every conversation reported once");
    }
}
