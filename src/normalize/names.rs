//! One name per socket for the normalized views. A live trace may name one connection twice:
//! while it waited, not yet accepted, in its listener's queue (`q1`), and once `accept`
//! returned it (`s2`, whose `accept` says `queued: q1`). Whether the first name appears at all
//! depends on how late the `accept` was seen, so a view that must not change from run to run
//! knows the connection by the name `accept` gave it.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::event::{Body, Event, SockId};

/// The names to replace, and by what.
#[derive(Debug, Default)]
pub struct Renames(HashMap<SockId, SockId>);

impl Renames {
    /// Each queued connection's name, mapped to the name `accept` gave it.
    pub fn of(events: &[Event]) -> Renames {
        let mut map = HashMap::new();
        for event in events {
            if let Body::CallEnd(end) = &event.body {
                if let (Some(queued), Some(new)) = (&end.queued, &end.new_socket) {
                    map.insert(queued.clone(), new.clone());
                }
            }
        }
        Renames(map)
    }

    fn name(&self, id: &mut SockId) {
        if let Some(new) = self.0.get(id) {
            *id = new.clone();
        }
    }

    /// `events` with every socket they name renamed; borrowed as they are when nothing is.
    pub fn apply<'e>(&self, events: &'e [Event]) -> Cow<'e, [Event]> {
        if self.0.is_empty() {
            return Cow::Borrowed(events);
        }
        let mut renamed = events.to_vec();
        for event in &mut renamed {
            if let Some(socket) = &mut event.socket {
                self.name(socket);
            }
            match &mut event.body {
                Body::Packet(packet) => {
                    if let Some(to) = &mut packet.to {
                        self.name(to);
                    }
                }
                Body::CallEnd(end) => end.queued = None,
                _ => {}
            }
        }
        Cow::Owned(renamed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, CallEnd, CallName, Origin, Role, StateChange};
    use crate::tcp::State;

    #[test]
    fn a_queued_connection__known_by_the_name_accept_gave_it() {
        let at = |socket: &str, body: Body| Event { t: 0, actor: Actor::role(Role::Server), socket: Some(SockId(socket.into())), origin: Origin::Observed, body };
        let state = Body::State(StateChange { from: State::SynReceived, to: State::Established, local: None, remote: None, sk: None, model: None });
        let accept = Body::CallEnd(CallEnd { new_socket: Some(SockId("s2".into())), queued: Some(SockId("q1".into())), ..CallEnd::new(1, CallName::Accept, 4) });
        let events = [at("q1", state), at("s1", accept)];
        let renamed = Renames::of(&events).apply(&events);
        assert_eq!(renamed[0].socket, Some(SockId("s2".into())));
        assert!(matches!(&renamed[1].body, Body::CallEnd(end) if end.queued.is_none()));
        let none: [Event; 0] = [];
        assert!(matches!(Renames::of(&none).apply(&none), Cow::Borrowed(_)));
    }
}
