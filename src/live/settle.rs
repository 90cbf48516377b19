//! When a finished session's lenses have seen all there is: once every socket the kernel
//! reported has closed, the wire has nothing more to say about the session. Closing is what
//! takes time after the programs end (the last ACK of a close crosses the wire after the last
//! call returned), so this is what the session waits for, not a fixed while.

use std::collections::HashMap;

use crate::event::{Body, Event};
use crate::tcp::State;

/// The latest state of every socket the state lens reported, by the kernel's address of it.
/// The kernel reuses addresses, so a socket is forgotten once closed, as soon as no earlier
/// change of it can still arrive.
#[derive(Debug, Default)]
pub struct OpenSockets {
    latest: HashMap<u64, (u64, State)>,
}

impl OpenSockets {
    /// Takes note of the state changes among `events` (in any order: each lens CPU delivers
    /// its own batches).
    pub fn see(&mut self, events: &[Event]) {
        for event in events {
            if let Body::State(change) = &event.body {
                let Some(sk) = change.sk else { continue };
                let latest = self.latest.entry(sk).or_insert((event.t, change.to));
                if latest.0 <= event.t {
                    *latest = (event.t, change.to);
                }
            }
        }
    }

    /// Whether every socket seen has closed, given that every change stamped before
    /// `delivered` has been seen (a lens's progress mark).
    pub fn all_closed(&mut self, delivered: u64) -> bool {
        // Linux logs FIN-WAIT-2 -> CLOSE where a timewait socket takes over: CLOSE is the end
        // either way, and TIME-WAIT is kept for a kernel that would log it.
        let closed = |state: State| matches!(state, State::Closed | State::TimeWait);
        self.latest.retain(|_, (t, state)| !(closed(*state) && *t < delivered));
        self.latest.values().all(|(_, state)| closed(*state))
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use crate::event::{Actor, Origin, Role, StateChange};

    fn change(t: u64, sk: u64, from: State, to: State) -> Event {
        let body = Body::State(StateChange { from, to, local: None, remote: None, sk: Some(sk), model: None });
        Event { t, actor: Actor::role(Role::Unknown), socket: None, origin: Origin::Observed, body }
    }

    #[test]
    fn nothing_seen__all_closed() {
        assert!(OpenSockets::default().all_closed(0));
    }

    #[test]
    fn last_ack_then_close__closed_only_after_the_close() {
        let mut sockets = OpenSockets::default();
        sockets.see(&[change(1, 7, State::CloseWait, State::LastAck)]);
        assert!(!sockets.all_closed(2));
        sockets.see(&[change(3, 7, State::LastAck, State::Closed)]);
        assert!(sockets.all_closed(4));
    }

    #[test]
    fn batches_out_of_order__the_latest_change_counts() {
        let mut sockets = OpenSockets::default();
        sockets.see(&[change(5, 7, State::FinWait2, State::Closed)]);
        sockets.see(&[change(3, 7, State::Established, State::FinWait1)]);
        assert!(sockets.all_closed(6));
    }

    #[test]
    fn address_reused_after_the_close__the_new_socket_is_open() {
        let mut sockets = OpenSockets::default();
        sockets.see(&[change(1, 7, State::FinWait2, State::Closed)]);
        assert!(sockets.all_closed(2), "closed, and forgotten");
        sockets.see(&[change(3, 7, State::Closed, State::SynSent)]);
        assert!(!sockets.all_closed(4));
    }
}
