//! Which sockets of a trace are datagram (UDP) sockets: the `socket(…, SOCK_DGRAM)` calls say
//! so, and the socket each one returned keeps that type for its whole life.

use crate::event::{Body, CallName, Event, SockId};
use crate::hash::FastSet;

#[derive(Default)]
pub struct DatagramSockets {
    /// `socket(…, SOCK_DGRAM)` calls that have started and not yet returned, by call id.
    calls: FastSet<u64>,
    sockets: FastSet<SockId>,
}

impl DatagramSockets {
    /// Learns from one event, taken in any order in which a call's start precedes its end.
    pub fn learn(&mut self, event: &Event) {
        match &event.body {
            Body::CallStart(start) if start.call == CallName::Socket && start.args.is_datagram() => {
                self.calls.insert(start.id);
            }
            Body::CallEnd(end) if self.calls.remove(&end.id) => {
                self.sockets.extend(end.new_socket.clone());
            }
            _ => {}
        }
    }

    pub fn contains(&self, socket: &SockId) -> bool {
        self.sockets.contains(socket)
    }
}
