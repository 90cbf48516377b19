//! TCP control bits, printed the way learners read them: `SYN`, `SYN|ACK`, `FIN|ACK`, `RST`.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The TCP control bits of a segment (RFC 9293 §3.1), as the header's flag byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// Print order: the bits that tell the story first (`SYN|ACK`, not `ACK|SYN`).
    const NAMES: [(TcpFlags, &'static str); 8] = [
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
    ];

    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    /// The flags without PSH, which Linux sets on every data segment and which says nothing
    /// about the connection's life; learners' diagrams leave it out.
    pub fn without_psh(self) -> TcpFlags {
        TcpFlags(self.0 & !TcpFlags::PSH.0)
    }

    pub fn parse(s: &str) -> Option<TcpFlags> {
        if s == "none" {
            return Some(TcpFlags(0));
        }
        let mut bits = 0u8;
        for part in s.split('|') {
            let (flag, _) = TcpFlags::NAMES.iter().find(|(_, n)| *n == part)?;
            bits |= flag.0;
        }
        Some(TcpFlags(bits))
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut first = true;
        for (flag, name) in TcpFlags::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl Serialize for TcpFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TcpFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TcpFlags, D::Error> {
        d.deserialize_string(FlagsText)
    }
}

/// Reads the flags from the text where it lies (a trace has one per packet), and takes what
/// a `String` would, saying so in the same words.
struct FlagsText;

impl de::Visitor<'_> for FlagsText {
    type Value = TcpFlags;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<TcpFlags, E> {
        TcpFlags::parse(s).ok_or_else(|| E::custom(format!("unknown TCP flags {s:?} (expected e.g. \"SYN|ACK\")")))
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<TcpFlags, E> {
        match std::str::from_utf8(bytes) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(bytes), &self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_ack_prints_syn_first() {
        assert_eq!(TcpFlags::SYN.union(TcpFlags::ACK).to_string(), "SYN|ACK");
        assert_eq!(TcpFlags(0x11).to_string(), "FIN|ACK");
        assert_eq!(TcpFlags(0x18).without_psh().to_string(), "ACK");
    }

    #[test]
    fn flags_round_trip_through_text() {
        for bits in 0..=255u8 {
            let f = TcpFlags(bits);
            assert_eq!(TcpFlags::parse(&f.to_string()), Some(f));
        }
        assert_eq!(TcpFlags::parse("SYN|BOGUS"), None);
    }
}
