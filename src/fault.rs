//! The faults a session can be given to show what goes wrong: which packet of the connection
//! is lost, once. `trace echo --drop KIND` loses it on the live loopback (see
//! [`crate::capture::dropper`]); the simulator's `lost-KIND` scenario loses the same packet in
//! the model, so that both tell the same story.

use std::fmt;

use crate::tcp::flags::TcpFlags;

/// Which packet is lost: the first TCP segment of the session of this kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// The client's SYN: connect() waits for the initial RTO and sends it again.
    Syn,
    /// The server's SYN|ACK: both sides' timers run, and the handshake is repeated.
    SynAck,
    /// The client's ACK that ends the handshake: the next segment's ACK stands in for it.
    Ack,
    /// The first FIN: its sender sends it again after its RTO.
    Fin,
    /// The first segment that carries data: its sender sends it again.
    Data,
}

impl Lost {
    pub const ALL: [Lost; 5] = [Lost::Syn, Lost::SynAck, Lost::Ack, Lost::Fin, Lost::Data];

    /// The name on the command line (`--drop syn-ack`).
    pub fn name(self) -> &'static str {
        match self {
            Lost::Syn => "syn",
            Lost::SynAck => "syn-ack",
            Lost::Ack => "ack",
            Lost::Fin => "fin",
            Lost::Data => "data",
        }
    }

    pub fn from_name(name: &str) -> Option<Lost> {
        Lost::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The simulator's scenario that loses the same packet.
    pub fn scenario(self) -> &'static str {
        match self {
            Lost::Syn => "lost-syn",
            Lost::SynAck => "lost-syn-ack",
            Lost::Ack => "lost-ack",
            Lost::Fin => "lost-fin",
            Lost::Data => "lost-data",
        }
    }

    /// Whether a TCP segment with these flags and `len` bytes of data is of this kind (PSH
    /// left aside).
    pub fn matches(self, flags: TcpFlags, len: u32) -> bool {
        let flags = flags.without_psh();
        let syn_ack = TcpFlags::SYN.union(TcpFlags::ACK);
        match self {
            Lost::Syn => flags == TcpFlags::SYN,
            Lost::SynAck => flags == syn_ack,
            Lost::Ack => flags == TcpFlags::ACK && len == 0,
            Lost::Fin => flags == TcpFlags::FIN.union(TcpFlags::ACK),
            Lost::Data => flags == TcpFlags::ACK && len > 0,
        }
    }
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for lost in Lost::ALL {
            assert_eq!(Lost::from_name(lost.name()), Some(lost));
        }
        assert_eq!(Lost::from_name("rst"), None);
    }

    #[test]
    fn each_segment_is_of_one_kind_at_most() {
        let ack = TcpFlags::ACK;
        let cases = [
            (TcpFlags::SYN, 0, Some(Lost::Syn)),
            (TcpFlags::SYN.union(ack), 0, Some(Lost::SynAck)),
            (ack, 0, Some(Lost::Ack)),
            (ack.union(TcpFlags::PSH), 6, Some(Lost::Data)),
            (TcpFlags::FIN.union(ack), 0, Some(Lost::Fin)),
            (TcpFlags::RST.union(ack), 0, None),
        ];
        for (flags, len, kind) in cases {
            let found: Vec<Lost> = Lost::ALL.into_iter().filter(|k| k.matches(flags, len)).collect();
            assert_eq!(found, kind.into_iter().collect::<Vec<_>>(), "{flags} with {len} bytes");
        }
    }
}
