//! Puts the lenses on one timeline: events are merged in time order, then each packet and
//! state change is given its socket, its role and relative sequence numbers.
//!
//! Lenses deliver events late and out of order (a packet is read a few milliseconds after it
//! crossed the wire, a connect's end may be recorded before the SYN|ACK it waited for is
//! read), so the live timeline holds events for a short window and releases them in order.

pub mod merge;
pub mod relative;
pub mod shadow;
pub mod sockets;

pub use merge::Merger;
pub use relative::RelativeNumbers;
pub use shadow::Shadow;
pub use sockets::{Sides, SocketResolver};

use crate::event::Event;

/// Merger, socket resolver, relative numbering and the model's shadow in one: events in,
/// ordered events out.
pub struct Timeline {
    merger: Merger,
    sockets: SocketResolver,
    numbers: RelativeNumbers,
    shadow: Option<Shadow>,
    released_up_to: u64,
    out_of_order: u64,
}

impl Timeline {
    pub fn new(sockets: SocketResolver) -> Timeline {
        Timeline { merger: Merger::default(), sockets, numbers: RelativeNumbers::default(), shadow: None, released_up_to: 0, out_of_order: 0 }
    }

    /// A timeline that also sets the RFC 9293 model beside every TCP socket (live traces).
    pub fn with_shadow(sockets: SocketResolver) -> Timeline {
        Timeline { shadow: Some(Shadow::default()), ..Timeline::new(sockets) }
    }

    /// Takes events from a lens; what they reveal about sockets is learned at once, so that
    /// earlier events still in the window can be resolved with it.
    pub fn push(&mut self, events: Vec<Event>) {
        for event in &events {
            self.sockets.learn(event);
        }
        self.merger.push(events);
    }

    /// Releases, in time order, every event stamped at or before `watermark`; the shadow's
    /// modelled events follow the event that caused them.
    pub fn release(&mut self, watermark: u64, out: &mut Vec<Event>) {
        let mut ready = Vec::new();
        self.merger.release(watermark, &mut ready);
        for mut event in ready {
            if event.t < self.released_up_to {
                self.out_of_order += 1;
            }
            self.released_up_to = self.released_up_to.max(event.t);
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
            out.push(event);
            out.extend(modelled);
        }
    }

    /// How many events came after later ones had already been released.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Releases everything left (the lenses have stopped).
    pub fn drain(&mut self, out: &mut Vec<Event>) {
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
