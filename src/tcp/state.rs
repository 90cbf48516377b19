//! The TCP states, spelled as RFC 9293 §3.3.2 spells them, and the one place where Linux's
//! state numbers are mapped to them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A TCP connection state. The eleven RFC 9293 states, plus the one state Linux reports that
/// the RFC does not have; it stays distinct rather than being folded into SYN-RECEIVED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    #[serde(rename = "CLOSED")]
    Closed,
    #[serde(rename = "LISTEN")]
    Listen,
    #[serde(rename = "SYN-SENT")]
    SynSent,
    #[serde(rename = "SYN-RECEIVED")]
    SynReceived,
    #[serde(rename = "ESTABLISHED")]
    Established,
    #[serde(rename = "FIN-WAIT-1")]
    FinWait1,
    #[serde(rename = "FIN-WAIT-2")]
    FinWait2,
    #[serde(rename = "CLOSE-WAIT")]
    CloseWait,
    #[serde(rename = "CLOSING")]
    Closing,
    #[serde(rename = "LAST-ACK")]
    LastAck,
    #[serde(rename = "TIME-WAIT")]
    TimeWait,
    /// Linux's `TCP_NEW_SYN_RECV`: a request socket for a half-open connection, which Linux
    /// keeps instead of a full socket in SYN-RECEIVED until the third ACK arrives.
    #[serde(rename = "NEW-SYN-RECV")]
    NewSynRecv,
}

impl State {
    /// The RFC 9293 spelling (`SYN-RECEIVED`).
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
            State::NewSynRecv => "NEW-SYN-RECV",
        }
    }

    /// RFC 9293 §3.5: the states in which both sides know each other's sequence numbers, from
    /// ESTABLISHED to TIME-WAIT.
    pub fn is_synchronized(self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait | State::Closing | State::LastAck | State::TimeWait)
    }

    /// Maps a Linux state number (`include/net/tcp_states.h`) to its state; `None` for a
    /// number this kernel interface does not define.
    pub fn from_linux(n: u32) -> Option<State> {
        Some(match n {
            1 => State::Established,
            2 => State::SynSent,
            3 => State::SynReceived,
            4 => State::FinWait1,
            5 => State::FinWait2,
            6 => State::TimeWait,
            7 => State::Closed,
            8 => State::CloseWait,
            9 => State::LastAck,
            10 => State::Listen,
            11 => State::Closing,
            12 => State::NewSynRecv,
            _ => return None,
        })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_numbers_map_to_rfc_names() {
        assert_eq!(State::from_linux(3).map(State::name), Some("SYN-RECEIVED"));
        assert_eq!(State::from_linux(7), Some(State::Closed));
        assert_eq!(State::from_linux(12), Some(State::NewSynRecv));
        assert_eq!(State::from_linux(0), None);
        assert_eq!(State::from_linux(13), None);
    }

    #[test]
    fn serialized_with_rfc_spelling() {
        assert_eq!(serde_json::to_string(&State::FinWait2).unwrap(), "\"FIN-WAIT-2\"");
        let s: State = serde_json::from_str("\"LAST-ACK\"").unwrap();
        assert_eq!(s, State::LastAck);
    }
}
