//! The sockets of a trace, numbered once: a trace of a million events names its sockets
//! about two million times, and the views' passes look each one up several times. Hashing
//! the name at every look-up cost more than all the rest of their work; with numbers, a
//! socket's facts are found in a vector.
//!
//! Two numberings: a socket as the trace names it ([`Numbering`]: `q1` and `s2` are two
//! names), and as the view names it ([`Sockets`], after [`Renames`]: `q1` is `s2`, one
//! connection). The first needs no names of the view, so it is made while they are.

use super::names::{Renames, Seen};
use crate::event::{Body, Event, SockId, SockKind};
use crate::hash::FastMap;
use crate::parallel::{both, WORTH_A_THREAD};
use crate::state_path::{self, Path, PathTable, Row};
use crate::trace::room::vec_with_room;

/// A socket as the trace names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Raw(u32);

/// A socket as the view names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Named(u32);

impl Named {
    /// Its place in a vector of one entry per socket of the view.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Every socket the events name, by the trace's names, and the sockets each event names.
pub struct Numbering {
    /// The names are copied out of the events (each is a few bytes, kept in place), to be
    /// read together: where they lie in the events, they were read from all over a trace's
    /// memory, for the look-ups and for every line that names a socket.
    names: Vec<SockId>,
    by_name: FastMap<SockId, Raw>,
    /// Per event: its socket, and a packet's receiver or a call end's new socket ([`NONE`]
    /// where it has none): 8 bytes an event, where two `Option<Raw>` took 16, and a trace of
    /// a million events took 8 MB more of fresh memory, every page of it a fault to the kernel.
    of_event: Vec<[u32; 2]>,
}

impl Numbering {
    /// With room for the sockets of `events` events.
    fn with_room(events: usize) -> Numbering {
        Numbering { names: Vec::new(), by_name: FastMap::default(), of_event: vec_with_room(events) }
    }

    /// Numbers the sockets of the next events.
    fn add<'e>(&mut self, events: &'e [Event]) {
        // Consecutive events are mostly about one connection, whose two sockets take turns
        // (a packet names its sender and its receiver): their numbers are at hand.
        let mut last: [Option<(&'e SockId, Raw)>; 2] = [None, None];
        let mut number = |id: &'e SockId| match last {
            [Some((name, raw)), _] if name == id => raw,
            [_, Some((name, raw))] if name == id => {
                last.swap(0, 1);
                raw
            }
            _ => {
                let raw = self.number(id);
                last = [Some((id, raw)), last[0]];
                raw
            }
        };
        let mut of_event = Vec::with_capacity(events.len());
        for event in events {
            // A process change's sockets are numbered too, to be found by name.
            if let Body::Process(change) = &event.body {
                for socket in change.sockets() {
                    number(socket);
                }
            }
            let other = match &event.body {
                Body::Packet(packet) => packet.to.as_ref(),
                Body::CallEnd(end) => end.new_socket.as_ref(),
                _ => None,
            };
            let numbers = [event.socket.as_ref().map(&mut number), other.map(&mut number)];
            of_event.push(numbers.map(|n| n.map_or(NONE, |Raw(n)| n)));
        }
        self.of_event.extend(of_event);
    }

    /// A socket's number: the one it has, or the next.
    fn number(&mut self, id: &SockId) -> Raw {
        if let Some(&raw) = self.by_name.get(id) {
            return raw;
        }
        let raw = Raw(u32::try_from(self.names.len()).ok().filter(|&n| n != NONE).expect("fewer than 2^32 - 1 sockets"));
        self.names.push(id.clone());
        self.by_name.insert(id.clone(), raw);
        raw
    }

    /// These events' numbering and the `later` ones', as if numbered one after another: the
    /// later events' sockets seen here keep their numbers, the others follow in the order
    /// the later events first named them.
    fn then(mut self, later: Numbering) -> Numbering {
        let renumbered: Vec<u32> = later.names.iter().map(|id| self.number(id).0).collect();
        let number = |n: u32| if n == NONE { NONE } else { renumbered[n as usize] };
        self.of_event.extend(later.of_event.into_iter().map(|numbers| numbers.map(number)));
        self
    }
}

/// The names a view gives its sockets and addresses ([`Renames`]), and its sockets by number:
/// both found in one read of the events, half of them on each core, a few thousand events at
/// a time (see [`TOGETHER`]). Read whole by each (one core named, the other numbered), the
/// events of a trace too large for the caches came from memory twice over.
pub fn read<'e>(events: &'e [Event]) -> (Renames, Sockets) {
    let (first, second) = events.split_at(events.len() / 2);
    let half = |events: &'e [Event], room: usize| {
        let (mut seen, mut numbering) = (Seen::default(), Numbering::with_room(room));
        for together in events.chunks(TOGETHER) {
            together.iter().for_each(|event| seen.see(event));
            numbering.add(together);
        }
        (seen, numbering)
    };
    // The first half's numbering takes the second's after it: room for all of them.
    let ((seen, numbering), (later_seen, later)) = both(events.len() >= WORTH_A_THREAD, || half(first, events.len()), || half(second, second.len()));
    let renames = seen.then(later_seen).renames();
    let sockets = Sockets::of(numbering.then(later), &renames);
    (renames, sockets)
}

/// How many events are named and numbered one after the other: few enough that the second
/// finds them in the cache the first brought them into.
const TOGETHER: usize = 1024;

/// No socket, in [`Numbering`]'s list of each event's sockets.
const NONE: u32 = u32::MAX;

/// A socket as [`Numbering`] lists it.
fn listed(number: u32) -> Option<Raw> {
    (number != NONE).then_some(Raw(number))
}

/// Every socket of a trace by both numberings, and the sockets each event names.
pub struct Sockets {
    numbering: Numbering,
    /// Each socket's number in the view.
    named: Vec<Named>,
    /// The view's name of each of its numbers, what kind of socket it says, and its number.
    view_names: Vec<SockId>,
    kinds: Vec<Option<SockKind>>,
    numbers: Vec<u64>,
}

impl Sockets {
    /// The sockets of `numbering` as `renames` names them.
    fn of(numbering: Numbering, renames: &Renames) -> Sockets {
        let (mut view_names, mut kinds, mut numbers) = (Vec::new(), Vec::new(), Vec::new());
        let mut named = Vec::with_capacity(numbering.names.len());
        let mut view_by_name: FastMap<&SockId, Named> = FastMap::default();
        for id in &numbering.names {
            let view_name = renames.socket_name(id);
            named.push(*view_by_name.entry(view_name).or_insert_with(|| {
                view_names.push(view_name.clone());
                kinds.push(view_name.kind());
                numbers.push(number_in(view_name));
                Named(view_names.len() as u32 - 1)
            }));
        }
        Sockets { numbering, named, view_names, kinds, numbers }
    }

    /// Event `i`'s socket.
    pub fn socket(&self, i: usize) -> Option<Raw> {
        listed(self.numbering.of_event[i][0])
    }

    /// Event `i`'s other socket: a packet's receiver, the socket a call returned.
    pub fn other(&self, i: usize) -> Option<Raw> {
        listed(self.numbering.of_event[i][1])
    }

    /// The number of a socket the events name elsewhere (a process change's list).
    pub fn raw(&self, id: &SockId) -> Option<Raw> {
        self.numbering.by_name.get(id).copied()
    }

    /// The socket in the view.
    pub fn named(&self, raw: Raw) -> Named {
        self.named[raw.0 as usize]
    }

    /// The name the view gives a socket.
    pub fn view_name(&self, named: Named) -> &SockId {
        &self.view_names[named.index()]
    }

    /// The view's names, by number.
    pub fn view_names(&self) -> &[SockId] {
        &self.view_names
    }

    /// What kind of socket the view's name says.
    pub fn kind(&self, named: Named) -> Option<SockKind> {
        self.kinds[named.index()]
    }

    /// The number in the view's name of a socket: `s10` after `s9`.
    pub fn number(&self, named: Named) -> u64 {
        self.numbers[named.index()]
    }

    /// How many sockets the view has.
    pub fn view_count(&self) -> usize {
        self.view_names.len()
    }

    /// Follows event `i` in its sockets' state paths (`state_path`), by their numbers.
    pub fn follow(&self, paths: &mut PathsByNumber, i: usize, event: &Event) -> Option<Row> {
        state_path::follow_in(paths, event, self.socket(i), || self.other(i), |name| self.raw(name))
    }
}

/// Each socket's state path, by the socket's number as the trace names it (a connection that
/// waited in its listener's queue hands its path over to the socket `accept` returned).
#[derive(Default)]
pub struct PathsByNumber(Vec<Option<Path>>);

impl PathTable for PathsByNumber {
    type Key = Raw;

    fn path(&mut self, socket: Raw) -> &mut Path {
        let at = socket.0 as usize;
        if at >= self.0.len() {
            self.0.resize(at + 1, None);
        }
        self.0[at].get_or_insert_with(Path::default)
    }

    fn hand_over(&mut self, from: Raw, to: Raw) {
        if let Some(path) = self.0.get_mut(from.0 as usize).and_then(Option::take) {
            *self.path(to) = path;
        }
    }
}

/// The digits of a name, read as one number.
fn number_in(name: &SockId) -> u64 {
    name.0.bytes().filter(u8::is_ascii_digit).fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;
    use crate::wording::Names;

    /// The names and numbers of `events` seen in two parts, cut at `cut`.
    fn in_parts(events: &[Event], cut: usize) -> (Renames, Numbering) {
        fn part(events: &[Event]) -> (Seen<'_>, Numbering) {
            let (mut seen, mut numbering) = (Seen::default(), Numbering::with_room(0));
            events.iter().for_each(|event| seen.see(event));
            numbering.add(events);
            (seen, numbering)
        }
        let (first, second) = events.split_at(cut);
        let ((seen, numbering), (later_seen, later)) = (part(first), part(second));
        (seen.then(later_seen).renames(), numbering.then(later))
    }

    /// Every trace of the lessons and the timing fixtures, cut anywhere, names and numbers its
    /// sockets and addresses as it does whole.
    #[test]
    fn read_in_two_parts__names_and_numbers_as_whole() {
        let mut traces = 0;
        for dir in ["lessons", "timing", "live", "broken"] {
            for entry in std::fs::read_dir(format!("{}/fixtures/{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
                let Ok(trace) = crate::trace::read_trace(&entry.unwrap().path()) else { continue };
                let events = &trace.events;
                let (renames, numbering) = in_parts(events, events.len());
                let addresses: Vec<std::net::SocketAddr> = events
                    .iter()
                    .flat_map(|e| match &e.body {
                        Body::CallEnd(end) => vec![end.local, end.peer],
                        Body::Packet(p) => vec![Some(p.src), Some(p.dst)],
                        _ => vec![],
                    })
                    .flatten()
                    .collect();
                for cut in [0, 1, events.len() / 3, events.len() / 2, events.len().saturating_sub(1)] {
                    let (cut_renames, cut_numbering) = in_parts(events, cut);
                    assert_eq!((&cut_numbering.names, &cut_numbering.of_event), (&numbering.names, &numbering.of_event), "cut at {cut}");
                    for id in &numbering.names {
                        assert_eq!(cut_renames.socket_name(id), renames.socket_name(id), "{id} cut at {cut}");
                    }
                    for &addr in &addresses {
                        assert_eq!(cut_renames.addr(addr), renames.addr(addr), "{addr} cut at {cut}");
                    }
                }
                traces += 1;
            }
        }
        assert!(traces > 15, "the fixtures hold traces ({traces})");
    }
}
