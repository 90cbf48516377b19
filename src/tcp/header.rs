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
    pub win: u16,
    #[serde(default)]
    pub options: TcpOptions,
}
