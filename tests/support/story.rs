//! Finding events in a trace by what they are, for assertions that read like the story.

use socktrace::event::{Event, Origin, Packet, SockId, Verb};
use socktrace::tcp::flags::TcpFlags;
use socktrace::tcp::state::State;

pub struct Story<'a> {
    pub events: &'a [Event],
}

impl<'a> Story<'a> {
    pub fn new(events: &'a [Event]) -> Story<'a> {
        Story { events }
    }

    fn find(&self, what: &str, pred: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().position(pred).unwrap_or_else(|| panic!("not in the trace: {what}"))
    }

    fn find_after(&self, after: usize, what: &str, pred: impl Fn(&Event) -> bool) -> usize {
        self.events[after + 1..].iter().position(pred).map(|i| i + after + 1).unwrap_or_else(|| panic!("not in the trace after event {after}: {what}"))
    }

    /// The sockets the `socket()` and `accept()` calls of one role created, in order. Calls
    /// are found by what they do: `CallName::Accept` finds an `accept4` too.
    pub fn created(&self, role: socktrace::event::Role, call: impl Into<Verb>) -> Vec<SockId> {
        let call = call.into();
        self.events.iter().filter(|e| e.actor.role == role).filter(|e| e.ends(call)).filter_map(|e| e.new_socket().cloned()).collect()
    }

    pub fn call_start(&self, call: impl Into<Verb>, socket: &str) -> usize {
        let call = call.into();
        self.find(&format!("{call}({socket}) start"), |e| e.starts(call) && e.is_on(socket))
    }

    pub fn call_end(&self, call: impl Into<Verb>, socket: &str) -> usize {
        let call = call.into();
        self.find(&format!("{call}({socket}) end"), |e| e.ends(call) && e.is_on(socket))
    }

    /// The `recv` on `socket` that returned 0: the end of the peer's stream.
    pub fn recv_eof(&self, socket: &str) -> usize {
        self.find(&format!("recv({socket}) = 0"), |e| e.ends(Verb::Recv) && e.call_end().is_some_and(|c| c.ret == 0) && e.is_on(socket))
    }

    pub fn end_of(&self, i: usize) -> &socktrace::event::CallEnd {
        self.events[i].call_end().unwrap_or_else(|| panic!("event {i} is not a call end: {:?}", self.events[i].body))
    }

    /// The accept that returned `socket`.
    pub fn accept_returning(&self, socket: &SockId) -> usize {
        self.find(&format!("accept returning {socket}"), |e| e.ends(Verb::Accept) && e.new_socket() == Some(socket))
    }

    /// The first packet from `from` to `to` whose flags (without PSH) are exactly `flags`,
    /// after event `after` (or from the start).
    pub fn packet(&self, after: Option<usize>, from: &str, to: &str, flags: TcpFlags, what: &str) -> usize {
        let pred = |e: &Event| {
            e.is_on(from) && e.packet().is_some_and(|p| p.to.as_ref().is_some_and(|s| s.0 == to)) && e.segment().is_some_and(|t| t.flags.without_psh() == flags)
        };
        match after {
            Some(a) => self.find_after(a, what, pred),
            None => self.find(what, pred),
        }
    }

    /// The first data segment from `from` whose payload preview is `text`.
    pub fn data(&self, from: &str, text: &str) -> usize {
        self.find(&format!("data {text:?} from {from}"), |e| e.is_on(from) && e.packet().and_then(|p| p.payload.as_ref()).is_some_and(|pl| pl.text == text))
    }

    pub fn packet_at(&self, i: usize) -> &Packet {
        self.events[i].packet().unwrap_or_else(|| panic!("event {i} is not a packet: {:?}", self.events[i].body))
    }

    /// The state change of `socket` from `from` to `to`, as the kernel reported it.
    pub fn state(&self, socket: &str, from: State, to: State) -> usize {
        self.change(socket, from, to, Origin::Observed)
    }

    /// The same change, as the RFC 9293 model made it beside the kernel.
    pub fn modelled_state(&self, socket: &str, from: State, to: State) -> usize {
        self.change(socket, from, to, Origin::Modelled)
    }

    fn change(&self, socket: &str, from: State, to: State, origin: Origin) -> usize {
        self.find(&format!("{socket}: {from} -> {to} ({origin:?})"), |e| {
            e.origin == origin && e.is_on(socket) && e.state().is_some_and(|s| s.from == from && s.to == to)
        })
    }

    /// Asserts that the events happen in the order given, each with its name for the message.
    pub fn in_order(&self, steps: &[(&str, usize)]) {
        for pair in steps.windows(2) {
            let ((a, ia), (b, ib)) = (pair[0], pair[1]);
            assert!(ia < ib, "{a} (event {ia}, t={}) must come before {b} (event {ib}, t={})", self.events[ia].t, self.events[ib].t);
        }
    }
}
