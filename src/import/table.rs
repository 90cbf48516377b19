//! The open conversations of a capture, by address pair, in bounded memory: a conversation
//! leaves the table as soon as it is over (both FINs acknowledged, or a reset), and when
//! [`MAX_OPEN`] conversations are open at once the half that has been idle longest is put
//! out, reported as still open. So the table never holds more than [`MAX_OPEN`]
//! conversations (a few MB), however large the capture.

use std::hash::{Hash, Hasher};

use super::conversation::{Conversation, End};
use crate::check::hash::FastMap;
use crate::event::Transport;
use crate::wire::peek::{Addr, Peek};

/// How many conversations may be open at once.
pub const MAX_OPEN: usize = 1 << 16;

/// A conversation's address pair, the same in both directions.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    low: Addr,
    high: Addr,
    tcp: bool,
}

impl Key {
    fn of(p: &Peek) -> Key {
        let (low, high) = if p.src <= p.dst { (p.src, p.dst) } else { (p.dst, p.src) };
        Key { low, high, tcp: p.transport == Transport::Tcp }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Five words, where the derived hash would feed the addresses byte by byte.
        state.write_u64(self.low.ip as u64);
        state.write_u64((self.low.ip >> 64) as u64);
        state.write_u64(self.high.ip as u64);
        state.write_u64((self.high.ip >> 64) as u64);
        let ports = (u64::from(self.low.port) << 16) | u64::from(self.high.port);
        state.write_u64(ports | (u64::from(self.tcp) << 32) | (u64::from(self.low.v6) << 33));
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
        let key = Key::of(p);
        if let Some(conv) = self.open.get_mut(&key) {
            if !conv.is_reused_by(p) {
                let answer = (conv.number, conv.end_of(p));
                if conv.add(t, p) {
                    done.extend(self.open.remove(&key));
                }
                return answer;
            }
            // A new SYN on the ports of an open conversation starts a new one.
            done.extend(self.open.remove(&key));
        }
        if self.open.len() >= self.max_open {
            self.make_room(done);
        }
        self.numbered += 1;
        let mut conv = Conversation::new(self.numbered, t, p);
        let answer = (conv.number, conv.end_of(p));
        if conv.add(t, p) {
            done.push(conv);
        } else {
            self.open.insert(key, conv);
        }
        answer
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
