//! Questions asked of a trace's events, answered in one place: what an event is (a call's
//! start or end, a packet, a TCP segment, a state change), which socket it is on, and, over a
//! whole list of events, the calls, states and segments of one socket. The library's views,
//! the book's claims, the broken-trace tests and the simulator's tests ask through these
//! rather than each matching on [`Body`] by hand. Which documented step an event shows is
//! the story's to say ([`crate::story`]).

use crate::event::{Body, CallEnd, CallStart, Event, KernelNote, Packet, SockId, StateChange, TcpSegment, Verb};
use crate::tcp::State;

impl Event {
    /// The call this event starts, if it starts one.
    pub fn call_start(&self) -> Option<&CallStart> {
        match &self.body {
            Body::CallStart(start) => Some(start),
            _ => None,
        }
    }

    /// The call this event ends, if it ends one.
    pub fn call_end(&self) -> Option<&CallEnd> {
        match &self.body {
            Body::CallEnd(end) => Some(end),
            _ => None,
        }
    }

    /// The packet, if the event is one.
    pub fn packet(&self) -> Option<&Packet> {
        match &self.body {
            Body::Packet(packet) => Some(packet),
            _ => None,
        }
    }

    /// The TCP segment, if the event is a TCP packet.
    pub fn segment(&self) -> Option<&TcpSegment> {
        self.packet()?.tcp.as_ref()
    }

    /// The state change, if the event is one.
    pub fn state(&self) -> Option<&StateChange> {
        match &self.body {
            Body::State(change) => Some(change),
            _ => None,
        }
    }

    /// The kernel's note, if the event is one.
    pub fn kernel(&self) -> Option<&KernelNote> {
        match &self.body {
            Body::Kernel(note) => Some(note),
            _ => None,
        }
    }

    /// The name of the event's socket (for a packet: the sender's), if it has one.
    pub fn socket_name(&self) -> Option<&str> {
        self.socket.as_ref().map(|s| s.0.as_str())
    }

    /// Whether the event is on the socket named `socket`.
    pub fn is_on(&self, socket: &str) -> bool {
        self.socket_name() == Some(socket)
    }

    /// Whether the event starts a call that does `verb` (its arguments considered: see
    /// [`CallStart::verb`]).
    pub fn starts(&self, verb: Verb) -> bool {
        self.call_start().is_some_and(|c| c.verb() == verb)
    }

    /// Whether the event ends a call that does `verb`.
    pub fn ends(&self, verb: Verb) -> bool {
        self.call_end().is_some_and(|c| c.call.verb() == verb)
    }

    /// Whether the event moves a socket into `to`.
    pub fn enters(&self, to: State) -> bool {
        self.state().is_some_and(|s| s.to == to)
    }

    /// The socket a call made (`socket`'s, `accept`'s), if the event ends such a call.
    pub fn new_socket(&self) -> Option<&SockId> {
        self.call_end()?.new_socket.as_ref()
    }
}

/// Questions about a list of events, each answered with the events' indices in the list, in
/// trace order.
pub trait Query {
    /// The events on the socket named `socket`.
    fn of<'a>(&'a self, socket: &'a str) -> impl Iterator<Item = (usize, &'a Event)> + 'a;

    /// The calls started on `socket`.
    fn calls_of<'a>(&'a self, socket: &'a str) -> impl Iterator<Item = (usize, &'a Event, &'a CallStart)> + 'a {
        self.of(socket).filter_map(|(i, e)| Some((i, e, e.call_start()?)))
    }

    /// The calls that returned on `socket`.
    fn call_ends_of<'a>(&'a self, socket: &'a str) -> impl Iterator<Item = (usize, &'a Event, &'a CallEnd)> + 'a {
        self.of(socket).filter_map(|(i, e)| Some((i, e, e.call_end()?)))
    }

    /// The state changes of `socket`.
    fn states_of<'a>(&'a self, socket: &'a str) -> impl Iterator<Item = (usize, &'a Event, &'a StateChange)> + 'a {
        self.of(socket).filter_map(|(i, e)| Some((i, e, e.state()?)))
    }

    /// The packets `socket` sent.
    fn packets_from<'a>(&'a self, socket: &'a str) -> impl Iterator<Item = (usize, &'a Event, &'a Packet)> + 'a {
        self.of(socket).filter_map(|(i, e)| Some((i, e, e.packet()?)))
    }

    /// The first event that satisfies `test`, with its index.
    fn first_where(&self, test: impl FnMut(&Event) -> bool) -> Option<(usize, &Event)>;
}

impl Query for [Event] {
    fn of<'a>(&'a self, socket: &'a str) -> impl Iterator<Item = (usize, &'a Event)> + 'a {
        self.iter().enumerate().filter(move |(_, e)| e.is_on(socket))
    }

    fn first_where(&self, mut test: impl FnMut(&Event) -> bool) -> Option<(usize, &Event)> {
        self.iter().enumerate().find(|(_, e)| test(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{self, Options};

    fn echo() -> Vec<Event> {
        sim::run("echo", &Options::default()).expect("a known scenario")
    }

    #[test]
    fn the_listener_only_listens_and_closes() {
        let events = echo();
        let states: Vec<State> = events.states_of("s1").map(|(_, _, s)| s.to).collect();
        assert_eq!(states, [State::Listen, State::Closed]);
        let calls: Vec<Verb> = events.calls_of("s1").map(|(_, _, c)| c.verb()).collect();
        assert_eq!(calls, [Verb::Bind, Verb::Listen, Verb::Accept, Verb::Close]);
    }

    #[test]
    fn accept_makes_the_conversing_socket() {
        let events = echo();
        let accepted = events.iter().filter(|e| e.ends(Verb::Accept)).find_map(Event::new_socket).expect("the server accepts");
        assert!(events.calls_of(&accepted.0).any(|(_, _, c)| c.verb() == Verb::Recv));
        assert!(events.packets_from(&accepted.0).all(|(_, e, p)| e.segment() == p.tcp.as_ref()));
    }
}
