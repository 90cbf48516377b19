//! A TCP segment as the model sees it, shown in RFC 9293's own notation:
//! `<SEQ=300><ACK=101><CTL=SYN,ACK>`.

use std::fmt;

use super::header::{TcpOptions, TcpSegment};
use crate::tcp::flags::TcpFlags;

/// The control bit a segment carries besides ACK. PSH is not one: the model sets it on every
/// data segment, as Linux does, and it changes nothing in the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    None,
    Syn,
    Fin,
    Rst,
}

impl Control {
    /// Reads the control bit from header flags. A reset outranks SYN and FIN: whatever else
    /// it carries, a segment with RST is processed as a reset.
    pub fn from_flags(flags: TcpFlags) -> Control {
        if flags.contains(TcpFlags::RST) {
            Control::Rst
        } else if flags.contains(TcpFlags::SYN) {
            Control::Syn
        } else if flags.contains(TcpFlags::FIN) {
            Control::Fin
        } else {
            Control::None
        }
    }

    fn flags(self) -> TcpFlags {
        match self {
            Control::None => TcpFlags(0),
            Control::Syn => TcpFlags::SYN,
            Control::Fin => TcpFlags::FIN,
            Control::Rst => TcpFlags::RST,
        }
    }

    /// The sequence space the control bit takes: SYN and FIN count as one octet each.
    pub fn seq_len(self) -> u32 {
        match self {
            Control::Syn | Control::Fin => 1,
            Control::None | Control::Rst => 0,
        }
    }
}

/// One segment: what the model sends, or what it is fed (from another model endpoint, or
/// from a packet observed on the wire).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub control: Control,
    pub seq: u32,
    /// The acknowledgment number; `None` when the ACK bit is off.
    pub ack: Option<u32>,
    /// The window field as sent (scaled once window scaling is in use).
    pub wnd: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
}

impl Segment {
    /// A reset: no window, no options, no data.
    pub fn reset(seq: u32, ack: Option<u32>) -> Segment {
        Segment { control: Control::Rst, seq, ack, wnd: 0, options: TcpOptions::default(), payload: Vec::new() }
    }

    /// SEG.LEN: the sequence space the segment occupies, counting SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + self.control.seq_len()
    }

    /// The header flags: the control bit, ACK when an acknowledgment is carried, PSH on data.
    pub fn flags(&self) -> TcpFlags {
        let mut flags = self.control.flags();
        if self.ack.is_some() {
            flags = flags.union(TcpFlags::ACK);
        }
        if !self.payload.is_empty() {
            flags = flags.union(TcpFlags::PSH);
        }
        flags
    }

    /// The segment as a trace shows it; relative numbers are left for whoever knows both ISNs.
    pub fn to_wire(&self) -> TcpSegment {
        TcpSegment {
            flags: self.flags(),
            seq: self.seq,
            ack: self.ack.unwrap_or(0),
            rel_seq: None,
            rel_ack: None,
            win: self.wnd,
            win_shift: None,
            options: self.options.clone(),
        }
    }

    /// A segment observed on the wire, to feed a model endpoint (the payload comes separately,
    /// since a trace keeps only a preview of it).
    pub fn from_wire(tcp: &TcpSegment, payload: Vec<u8>) -> Segment {
        Segment {
            control: Control::from_flags(tcp.flags),
            seq: tcp.seq,
            ack: tcp.flags.contains(TcpFlags::ACK).then_some(tcp.ack),
            wnd: tcp.win,
            options: tcp.options.clone(),
            payload,
        }
    }
}

/// RFC 9293 §3.10.7.1: the reset that answers a segment for which no connection exists, its
/// numbers chosen so that the sender accepts it. A reset is never answered.
pub fn reset_for(seg: &Segment) -> Option<Segment> {
    match (seg.control, seg.ack) {
        (Control::Rst, _) => None,
        (_, Some(ack)) => Some(Segment::reset(ack, None)),
        (_, None) => Some(Segment::reset(0, Some(seg.seq.wrapping_add(seg.seq_len())))),
    }
}

/// `a < b` in sequence space, where numbers wrap around (RFC 9293 §3.4).
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Whether a SYN whose sequence number is `isn` opens another connection on an address pair
/// whose current one opened with `current`: a SYN sent again repeats its ISN, a new
/// connection picks another (RFC 9293 §3.4.1), even on the same pair of addresses.
pub fn opens_anew(current: Option<u32>, isn: u32) -> bool {
    current.is_some_and(|c| c != isn)
}

/// `a =< b` in sequence space.
pub fn seq_le(a: u32, b: u32) -> bool {
    a == b || seq_lt(a, b)
}

impl fmt::Display for Segment {
    /// `<SEQ=100><ACK=301><CTL=SYN,ACK><DATA=6>`, as the RFC's figures write segments.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<SEQ={}>", self.seq)?;
        if let Some(ack) = self.ack {
            write!(f, "<ACK={ack}>")?;
        }
        let control = match self.control {
            Control::None => None,
            Control::Syn => Some("SYN"),
            Control::Fin => Some("FIN"),
            Control::Rst => Some("RST"),
        };
        match (control, self.ack.is_some()) {
            (Some(c), true) => write!(f, "<CTL={c},ACK>")?,
            (Some(c), false) => write!(f, "<CTL={c}>")?,
            (None, true) => f.write_str("<CTL=ACK>")?,
            (None, false) => {}
        }
        if !self.payload.is_empty() {
            write!(f, "<DATA={}>", self.payload.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn(seq: u32) -> Segment {
        Segment { control: Control::Syn, seq, ack: None, wnd: 65495, options: TcpOptions::default(), payload: Vec::new() }
    }

    #[test]
    fn prints_in_rfc_notation() {
        let mut seg = syn(300);
        seg.ack = Some(101);
        assert_eq!(seg.to_string(), "<SEQ=300><ACK=101><CTL=SYN,ACK>");
        let data = Segment { control: Control::None, payload: b"hello\n".to_vec(), ..seg };
        assert_eq!(data.to_string(), "<SEQ=300><ACK=101><CTL=ACK><DATA=6>");
        assert_eq!(data.flags().to_string(), "PSH|ACK");
    }

    #[test]
    fn syn_and_fin_take_one_sequence_number() {
        assert_eq!(syn(7).seq_len(), 1);
        let fin = Segment { control: Control::Fin, payload: b"ab".to_vec(), ..syn(7) };
        assert_eq!(fin.seq_len(), 3);
    }

    #[test]
    fn reset_for_a_syn_acknowledges_it() {
        assert_eq!(reset_for(&syn(100)).map(|r| r.to_string()).as_deref(), Some("<SEQ=0><ACK=101><CTL=RST,ACK>"));
    }

    #[test]
    fn reset_for_an_ack_takes_its_number() {
        let ack = Segment { control: Control::None, ack: Some(77), ..syn(5) };
        assert_eq!(reset_for(&ack).map(|r| r.to_string()).as_deref(), Some("<SEQ=77><CTL=RST>"));
        assert_eq!(reset_for(&Segment::reset(1, None)), None);
    }

    #[test]
    fn sequence_comparison_wraps() {
        assert!(seq_lt(u32::MAX, 0));
        assert!(!seq_lt(0, u32::MAX));
        assert!(seq_le(5, 5));
    }

    #[test]
    fn wire_round_trip_keeps_what_the_model_reads() {
        let mut seg = syn(9);
        seg.ack = Some(42);
        seg.options.mss = Some(65495);
        assert_eq!(Segment::from_wire(&seg.to_wire(), Vec::new()), seg);
        let wire = TcpSegment { flags: TcpFlags::RST.union(TcpFlags::SYN), ..seg.to_wire() };
        assert_eq!(Segment::from_wire(&wire, Vec::new()).control, Control::Rst);
    }
}
