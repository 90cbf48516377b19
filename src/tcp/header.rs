//! The fields of a TCP header that a trace keeps (RFC 9293 §3.1): flags, numbers, window and
//! the options a learner meets on a handshake.

use serde::{Deserialize, Serialize};

use super::flags::TcpFlags;

/// TCP options of a segment that a learner meets on a handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wscale: Option<u8>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sack_ok: bool,
    /// Timestamps option: (TSval, TSecr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<(u32, u32)>,
    /// SACK blocks, as raw (left, right) sequence numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sack: Vec<(u32, u32)>,
}

/// The TCP part of a packet. Relative numbers count from each side's ISN, as Wireshark and
/// packetdrill show them; the timeline fills them in (`None` until the ISN is known).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpSegment {
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel_seq: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel_ack: Option<u32>,
    /// The window field as sent: scaled by `win_shift` after the handshake.
    pub win: u16,
    /// The window scale in effect for this segment (RFC 7323 §2.3): the sender's shift once
    /// both SYNs are seen (0 when either lacked the option); `None` on a SYN, whose window is
    /// never scaled, and where the handshake was not seen. The timeline fills it in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub win_shift: Option<u8>,
    #[serde(default)]
    pub options: TcpOptions,
}

impl TcpSegment {
    /// The window the sender offers, in bytes: the field scaled by the shift in effect
    /// (RFC 7323 §2.3), or the field alone where no shift applies or none is known.
    pub fn window(&self) -> u32 {
        u32::from(self.win) << self.win_shift.unwrap_or(0).min(14)
    }

    /// The SACK blocks counted, like the acknowledgment, from the peer's ISN (RFC 2018 blocks
    /// name the peer's sequence numbers, as `ack` does): `None` until the ISN is known.
    pub fn relative_sack(&self) -> Option<Vec<(u32, u32)>> {
        let base = self.ack.wrapping_sub(self.rel_ack?);
        Some(self.options.sack.iter().map(|&(l, r)| (l.wrapping_sub(base), r.wrapping_sub(base))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sack_blocks_count_from_the_isn_the_ack_counts_from() {
        let options = TcpOptions { sack: vec![(1_000_101, 1_000_201)], ..TcpOptions::default() };
        let mut segment = TcpSegment { flags: TcpFlags::ACK, seq: 7, ack: 1_000_001, rel_seq: None, rel_ack: None, win: 512, win_shift: None, options };
        assert_eq!(segment.relative_sack(), None, "not before the ISN is known");
        segment.rel_ack = Some(1);
        assert_eq!(segment.relative_sack(), Some(vec![(101, 201)]));
    }
}
