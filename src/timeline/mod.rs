//! Puts the lenses on one timeline: events are merged in time order, then each packet and
//! state change is given its socket, its role and relative sequence numbers.
//!
//! Lenses deliver events late and out of order (a packet is read a few milliseconds after it
//! crossed the wire, a connect's end may be recorded before the SYN|ACK it waited for is
//! read), so the live timeline holds events for a short window and releases them in order.

pub(crate) mod datagrams;
pub(crate) mod merge;
pub mod namespace;
pub(crate) mod relative;
pub(crate) mod shadow;
pub(crate) mod sockets;

pub use datagrams::DatagramSockets;
pub use merge::Merger;
pub use relative::RelativeNumbers;
pub use shadow::Shadow;
pub use sockets::{Sides, SocketResolver};

use crate::event::{Body, Event, Origin, Packet};
use namespace::{Namespace, ThreadOracle};

/// Merger, socket resolver, relative numbering and the model's shadow in one: events in,
/// ordered events out.
pub struct Timeline {
    merger: Merger,
    sockets: SocketResolver,
    numbers: RelativeNumbers,
    shadow: Option<Shadow>,
    /// Packets a fault injector reports it dropped after they crossed `lo` (`--drop`), not
    /// yet matched with the packet lens's copy.
    drops: Vec<Event>,
    released_up_to: u64,
    out_of_order: u64,
    /// Live: sets aside the kernel events of other network namespaces' sockets.
    namespace: Option<Namespace>,
}

/// A packet straight from a fault injector: observed, marked dropped, not yet resolved.
fn is_drop_report(event: &Event) -> bool {
    event.packet().is_some_and(|p| p.dropped.is_some()) && event.origin == Origin::Observed && event.socket.is_none()
}

/// Whether `report` (a dropper's) is the same packet as `seen` (the packet lens's), which the
/// lens saw first, on its way to the dropper.
fn same_packet(report: &Event, seen: &Event) -> bool {
    match (&report.body, &seen.body) {
        (Body::Packet(r), Body::Packet(s)) => {
            let key = |p: &Packet| (p.src, p.dst, p.len, p.tcp.as_ref().map(|t| (t.flags, t.seq, t.ack)));
            seen.t <= report.t && s.dropped.is_none() && key(r) == key(s)
        }
        _ => false,
    }
}

impl Timeline {
    pub fn new(sockets: SocketResolver) -> Timeline {
        Timeline {
            merger: Merger::default(),
            sockets,
            numbers: RelativeNumbers::default(),
            shadow: None,
            drops: Vec::new(),
            released_up_to: 0,
            out_of_order: 0,
            namespace: None,
        }
    }

    /// A live timeline keeps the kernel events of one network namespace's sockets only, as
    /// `thread` tells its threads (`None`: all) and its packets show where `packets` are
    /// captured (see [`namespace`]).
    pub fn of_namespace(self, thread: Option<ThreadOracle>, packets: bool) -> Timeline {
        Timeline { namespace: thread.map(|thread| Namespace::new(thread, packets)), ..self }
    }

    /// A timeline that also sets the RFC 9293 model beside every TCP socket (live traces);
    /// `states_traced`: the kernel's state changes are among the events.
    pub fn with_shadow(sockets: SocketResolver, states_traced: bool) -> Timeline {
        Timeline { shadow: Some(Shadow::new(states_traced)), ..Timeline::new(sockets) }
    }

    /// Takes events from a lens; what they reveal about sockets is learned at once, so that
    /// earlier events still in the window can be resolved with it.
    pub fn push(&mut self, events: Vec<Event>) {
        for event in events {
            self.sockets.learn(&event);
            if let Some(namespace) = &mut self.namespace {
                namespace.see(&event);
            }
            if let Some(shadow) = &mut self.shadow {
                shadow.ending(&event);
            }
            if is_drop_report(&event) {
                self.drops.push(event);
            } else {
                self.merger.push_one(event);
            }
        }
    }

    /// Releases, in time order, every event stamped at or before `watermark`; the shadow's
    /// modelled events follow the event that caused them.
    pub fn release(&mut self, watermark: u64, out: &mut Vec<Event>) {
        while let Some(mut event) = self.merger.pop(watermark) {
            if self.namespace.as_mut().is_some_and(|n| !n.ours(&event)) {
                continue;
            }
            if event.t < self.released_up_to {
                self.out_of_order += 1;
            }
            self.released_up_to = self.released_up_to.max(event.t);
            if let Some(i) = self.drops.iter().position(|report| same_packet(report, &event)) {
                let report = self.drops.remove(i);
                if let (Body::Packet(packet), Body::Packet(from)) = (&mut event.body, report.body) {
                    packet.dropped = from.dropped;
                }
            }
            self.sockets.resolve(&mut event);
            // Privacy: on the session's ports, a state change that names none of its sockets, or
            // a packet that names neither end, is another program's (one that took a port the
            // session gave up, say).
            let foreign = match &event.body {
                crate::event::Body::State(_) => event.socket.is_none(),
                // ARP names hosts, not sockets: it is foreign unless one end is a session's host.
                crate::event::Body::Packet(packet) if packet.transport == crate::event::Transport::Arp => event.actor.role == crate::event::Role::Unknown,
                crate::event::Body::Packet(packet) => event.socket.is_none() && packet.to.is_none(),
                _ => false,
            };
            if foreign && self.sockets.records_both_sides() {
                continue;
            }
            self.numbers.number(&mut event);
            let mut modelled = Vec::new();
            if let Some(shadow) = &mut self.shadow {
                shadow.observe(&mut event, &self.sockets, &mut modelled);
            }
            // A modelled change of a connection no call has named yet (the server's side,
            // before `accept` returns it) is named as the resolver names its packets.
            for m in &mut modelled {
                if m.socket.is_none() {
                    self.sockets.resolve(m);
                } else {
                    self.sockets.name_peer(m);
                }
            }
            out.push(event);
            out.extend(modelled);
        }
    }

    /// How many events came after later ones had already been released.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Releases everything left (the lenses have stopped). A drop report whose packet the
    /// packet lens never showed stands on its own, as the dropper observed it.
    pub fn drain(&mut self, out: &mut Vec<Event>) {
        self.release(u64::MAX, out);
        let unmatched = std::mem::take(&mut self.drops);
        self.merger.push(unmatched);
        self.release(u64::MAX, out);
    }
}

/// Orders a whole recorded event list as the live timeline would (for tests and fixtures).
pub fn order(sockets: SocketResolver, events: Vec<Event>) -> Vec<Event> {
    let mut timeline = Timeline::new(sockets);
    timeline.push(events);
    let mut out = Vec::new();
    timeline.drain(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, Role, TcpSegment};
    use crate::tcp::flags::TcpFlags;

    fn syn(t: u64, dropped: Option<&str>) -> Event {
        let tcp = TcpSegment { flags: TcpFlags::SYN, seq: 7, ack: 0, rel_seq: None, rel_ack: None, win: 1, win_shift: None, options: Default::default() };
        let packet = Packet {
            transport: crate::event::Transport::Tcp,
            src: "127.0.0.1:40000".parse().unwrap(),
            dst: "127.0.0.1:1234".parse().unwrap(),
            to: None,
            tcp: Some(tcp),
            len: 0,
            payload: None,
            eth: None,
            arp: None,
            dropped: dropped.map(String::from),
        };
        Event { t, actor: Actor::role(Role::Unknown), socket: None, origin: Origin::Observed, body: Body::Packet(packet) }
    }

    fn dropped(events: &[Event]) -> Vec<(u64, bool)> {
        events.iter().map(|e| (e.t, e.packet().is_some_and(|p| p.dropped.is_some()))).collect()
    }

    fn timeline() -> Timeline {
        Timeline::new(SocketResolver::new(vec![1234], Sides { client_recorded: false, server_recorded: false }))
    }

    #[test]
    fn a_drop_report_marks_the_lens_copy_not_its_retransmission() {
        let mut timeline = timeline();
        timeline.push(vec![syn(10, None), syn(1_000_010, None)]);
        timeline.push(vec![syn(12, Some("socktrace --drop"))]);
        let mut out = Vec::new();
        timeline.drain(&mut out);
        assert_eq!(dropped(&out), [(10, true), (1_000_010, false)]);
    }

    #[test]
    fn a_drop_report_the_lens_missed_stands_on_its_own() {
        let mut timeline = timeline();
        timeline.push(vec![syn(12, Some("socktrace --drop")), syn(1_000_010, None)]);
        let mut out = Vec::new();
        timeline.drain(&mut out);
        assert_eq!(dropped(&out), [(1_000_010, false), (12, true)], "kept, at the end");
        assert_eq!(timeline.out_of_order(), 1, "released after later events, and counted");
    }
}
