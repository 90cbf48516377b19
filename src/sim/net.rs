//! The loopback link between the two programs: a fixed delay per packet, the losses a
//! scenario asks for, and the relative numbering a capture tool would show.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use crate::event::{Actor, Packet, Preview, Transport};
use crate::fault::Lost;
use crate::tcp::Segment;
use crate::timeline::RelativeNumbers;

/// One trip across the link, in ns: loopback-like.
pub(super) const HOP_NS: u64 = 30_000;

/// What a packet carries.
#[derive(Clone, Debug)]
pub(super) enum Wire {
    Tcp(Segment),
    Udp(Vec<u8>),
}

/// A packet on its way.
#[derive(Clone, Debug)]
pub(super) struct InFlight {
    pub at: u64,
    /// The side that sent it (the kernel answering for a port counts as that port's side).
    pub sender: Actor,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub wire: Wire,
}

/// A packet the link loses: the `nth` (from 1) TCP segment of the kind `packet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Loss {
    pub packet: Lost,
    pub nth: u32,
}

/// How the trace names who lost a packet of the model (see [`Packet::dropped`]).
pub(super) const LOST_BY: &str = "trace simulate";

#[derive(Debug, Default)]
pub(super) struct Net {
    /// In sending order, which is arrival order: the delay is the same for every packet.
    in_flight: VecDeque<InFlight>,
    losses: Vec<Loss>,
    /// TCP segments sent so far, by the kind of loss they would be.
    sent: BTreeMap<&'static str, u32>,
    /// Relative numbers and window scales, as the live timeline gives them.
    numbers: RelativeNumbers,
}

impl Net {
    pub fn new(losses: &[Loss]) -> Net {
        Net { losses: losses.to_vec(), ..Net::default() }
    }

    /// Puts a packet on the link at `now`, unless it is one to lose, and returns it as a
    /// capture at the sender would show it (a lost packet was still sent, and is marked).
    pub fn send(&mut self, now: u64, sender: Actor, src: SocketAddr, dst: SocketAddr, wire: Wire) -> Packet {
        let mut packet = self.describe(src, dst, &wire);
        if self.loses(&wire) {
            packet.dropped = Some(LOST_BY.to_string());
        } else {
            self.in_flight.push_back(InFlight { at: now + HOP_NS, sender, src, dst, wire });
        }
        packet
    }

    /// When the next packet arrives.
    pub fn next_at(&self) -> Option<u64> {
        self.in_flight.front().map(|p| p.at)
    }

    /// Takes the packets that have arrived by `now`.
    pub fn arrived(&mut self, now: u64) -> Vec<InFlight> {
        let n = self.in_flight.iter().take_while(|p| p.at <= now).count();
        self.in_flight.drain(..n).collect()
    }

    fn loses(&mut self, wire: &Wire) -> bool {
        let Wire::Tcp(seg) = wire else { return false };
        let (flags, len) = (seg.flags(), seg.payload.len() as u32);
        let Some(kind) = Lost::ALL.into_iter().find(|k| k.matches(flags, len)) else { return false };
        let count = self.sent.entry(kind.name()).or_insert(0);
        *count += 1;
        let nth = *count;
        self.losses.iter().any(|loss| loss.packet == kind && loss.nth == nth)
    }

    fn describe(&mut self, src: SocketAddr, dst: SocketAddr, wire: &Wire) -> Packet {
        let (transport, tcp, payload) = match wire {
            Wire::Tcp(seg) => (Transport::Tcp, Some(seg.to_wire()), seg.payload.as_slice()),
            Wire::Udp(data) => (Transport::Udp, None, data.as_slice()),
        };
        let mut packet = Packet {
            transport,
            src,
            dst,
            to: None,
            tcp,
            len: payload.len() as u32,
            payload: (!payload.is_empty()).then(|| Preview::of(payload)),
            eth: None,
            arp: None,
            dropped: None,
        };
        self.numbers.number_packet(&mut packet);
        packet
    }
}
