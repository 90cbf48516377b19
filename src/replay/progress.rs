//! Where the documented sequences stand at each step of a replay, read from the story
//! ([`crate::story`]): the same evidence `trace check` cites, lit as the replay reaches it.
//!
//! A connection's story on the server's side is told by two sockets: the listening one (it
//! makes the socket, binds, listens, accepts) and the one `accept` returned (it exchanges and
//! closes). The replay shows them as one story, as the documented sequence does: a step is
//! shown in full once every piece of its evidence, on either socket, has been shown.
//!
//! Everything here is computed once for the whole trace: each replay step then costs a few
//! lookups, whatever the trace's length or its number of sockets.

use std::collections::HashMap;

use serde::ser::SerializeStruct;
use serde::Serialize;

use crate::event::SockId;
use crate::sequence::{Part, Sequence};
use crate::story::{SocketReport, Story};

/// Where one documented sequence stands at a step. The documented steps are kept as sets of
/// the sequence's step numbers, a few words per replay step however long the trace (a big
/// replay has tens of thousands of steps), and serialized as the lists of ids the book's
/// widget reads.
#[derive(Clone, PartialEq, Eq)]
pub struct Progress {
    sequence: &'static Sequence,
    /// The documented steps this replay step is evidence of.
    at: StepSet,
    /// When `at` is empty: the documented step shown most recently.
    last: Option<u8>,
    /// The socket whose story those steps tell.
    pub socket: Option<SockId>,
    /// For that socket's story, the steps whose evidence is all shown by now, and those shown
    /// in part.
    done: StepSet,
    partial: StepSet,
}

/// Documented steps of one sequence: bit `k` stands for `sequence.steps[k]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct StepSet(u32);

impl StepSet {
    fn insert(&mut self, k: usize) {
        self.0 |= 1 << k;
    }

    fn ids(self, sequence: &'static Sequence) -> impl Iterator<Item = &'static str> {
        sequence.steps.iter().enumerate().filter(move |(k, _)| self.0 & (1 << k) != 0).map(|(_, s)| s.id)
    }
}

impl Progress {
    /// Nothing of `sequence` shown yet.
    fn none(sequence: &'static Sequence) -> Progress {
        Progress { sequence, at: StepSet::default(), last: None, socket: None, done: StepSet::default(), partial: StepSet::default() }
    }

    /// The documented steps this replay step is evidence of, in the sequence's order.
    pub fn at(&self) -> impl Iterator<Item = &'static str> {
        self.at.ids(self.sequence)
    }

    /// When this replay step is evidence of none: the documented step shown most recently.
    pub fn last(&self) -> Option<&'static str> {
        self.last.map(|k| self.sequence.steps[usize::from(k)].id)
    }

    /// The steps of the story whose evidence is all shown by now.
    pub fn done(&self) -> impl Iterator<Item = &'static str> {
        self.done.ids(self.sequence)
    }

    /// The steps of the story shown in part.
    pub fn partial(&self) -> impl Iterator<Item = &'static str> {
        self.partial.ids(self.sequence)
    }

    pub fn is_at(&self, id: &str) -> bool {
        self.at().any(|a| a == id)
    }

    pub fn is_done(&self, id: &str) -> bool {
        self.done().any(|d| d == id)
    }

    pub fn is_partial(&self, id: &str) -> bool {
        self.partial().any(|p| p == id)
    }
}

/// The lists the widget reads: `{"at": [ids], "last"?, "socket"?, "done": [ids], "partial": [ids]}`.
impl Serialize for Progress {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Ids(&'static Sequence, StepSet);
        impl Serialize for Ids {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.1.ids(self.0))
            }
        }
        let mut out = serializer.serialize_struct("Progress", 5)?;
        out.serialize_field("at", &Ids(self.sequence, self.at))?;
        if let Some(last) = self.last() {
            out.serialize_field("last", last)?;
        }
        if let Some(socket) = &self.socket {
            out.serialize_field("socket", socket)?;
        }
        out.serialize_field("done", &Ids(self.sequence, self.done))?;
        out.serialize_field("partial", &Ids(self.sequence, self.partial))?;
        out.end()
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("sequence", &self.sequence.id)
            .field("at", &self.at().collect::<Vec<_>>())
            .field("last", &self.last())
            .field("socket", &self.socket)
            .field("done", &self.done().collect::<Vec<_>>())
            .field("partial", &self.partial().collect::<Vec<_>>())
            .finish()
    }
}

/// One socket's story in one sequence: per documented step, per piece of evidence, the first
/// event that shows it (`None`: not shown).
struct Told {
    socket: SockId,
    part: Part,
    /// The listening socket of an accepted one.
    listener: Option<SockId>,
    steps: Vec<(&'static str, Vec<Option<usize>>)>,
}

/// A documented step one event is evidence of: (sequence, player, step).
type Tick = (usize, usize, usize);

/// The story's evidence, arranged for a replay.
pub struct Ticks {
    sequences: [&'static Sequence; 2],
    told: Vec<Told>,
    /// Per event, the documented steps it is evidence of.
    by_event: Vec<Vec<Tick>>,
    /// Per sequence, its players (indices into `told`).
    players: [Vec<usize>; 2],
    /// Each socket's player, per sequence.
    by_socket: [HashMap<SockId, usize>; 2],
    /// Per listening socket (by player), the first socket it accepted.
    first_accepted: HashMap<usize, usize>,
}

/// The step's rank for choosing whose story an event tells: the accepted socket's over its
/// listener's (the connection is the more specific story).
fn rank(part: Part) -> u8 {
    match part {
        Part::Listening | Part::Bound => 0,
        Part::Client => 1,
        Part::Accepted => 2,
    }
}

impl Ticks {
    pub fn of(story: &Story, sequences: [&'static Sequence; 2], events: usize) -> Ticks {
        let mut ticks = Ticks {
            sequences,
            told: Vec::new(),
            by_event: vec![Vec::new(); events],
            players: [Vec::new(), Vec::new()],
            by_socket: [HashMap::new(), HashMap::new()],
            first_accepted: HashMap::new(),
        };
        for report in &story.sockets {
            let Some(seq) = sequences.iter().position(|s| std::ptr::eq(*s, report.sequence)) else { continue };
            let player = ticks.told.len();
            ticks.told.push(told(report));
            for (k, step) in report.steps.iter().enumerate() {
                for observation in &step.evidence {
                    for event in observation.events() {
                        if let Some(at) = ticks.by_event.get_mut(event) {
                            if !at.contains(&(seq, player, k)) {
                                at.push((seq, player, k));
                            }
                        }
                    }
                }
            }
            ticks.players[seq].push(player);
            ticks.by_socket[seq].insert(report.socket.clone(), player);
        }
        for seq in 0..2 {
            for &player in &ticks.players[seq] {
                let listener = ticks.told[player].listener.as_ref().and_then(|l| ticks.by_socket[seq].get(l)).copied();
                if let Some(listener) = listener {
                    ticks.first_accepted.entry(listener).or_insert(player);
                }
            }
        }
        ticks
    }

    /// The part a socket plays, where it plays one.
    pub fn part_of(&self, socket: &SockId) -> Option<Part> {
        self.by_socket.iter().find_map(|m| m.get(socket)).map(|&p| self.told[p].part)
    }

    /// Where each sequence stands at the replay step showing events `a..=b`; `shown` keeps,
    /// per sequence, the story shown last (the replay walks its steps in order).
    pub fn progress(&self, a: usize, b: usize, shown: &mut [Option<(usize, usize)>; 2]) -> [Progress; 2] {
        std::array::from_fn(|seq| self.progress_of(seq, a, b, &mut shown[seq]))
    }

    fn progress_of(&self, seq: usize, a: usize, b: usize, shown: &mut Option<(usize, usize)>) -> Progress {
        let sequence = self.sequences[seq];
        let here: Vec<Tick> = (a..=b).filter_map(|e| self.by_event.get(e)).flatten().copied().filter(|t| t.0 == seq).collect();
        // Whose story: the most specific socket this step is evidence for, else the last shown.
        let story = here.iter().max_by_key(|&&(_, p, _)| rank(self.told[p].part)).map(|&(_, p, k)| (p, k));
        let Some((player, step)) = story.or(*shown) else { return Progress::none(sequence) };
        if story.is_some() {
            *shown = Some((player, step));
        }
        let members = self.members(seq, player);
        let mut progress = Progress { socket: Some(self.told[player].socket.clone()), ..Progress::none(sequence) };
        let position = |id: &str| sequence.steps.iter().position(|s| s.id == id);
        for (k, documented) in sequence.steps.iter().enumerate() {
            // Every piece of this step's evidence, on every socket of the story.
            let firsts: Vec<Option<usize>> = members
                .iter()
                .filter_map(|&m| self.told[m].steps.iter().find(|(id, _)| *id == documented.id))
                .flat_map(|(_, firsts)| firsts.iter().copied())
                .collect();
            let shown_by = |f: &Option<usize>| f.is_some_and(|e| e <= b);
            if !firsts.is_empty() && firsts.iter().all(shown_by) {
                progress.done.insert(k);
            } else if firsts.iter().any(shown_by) {
                progress.partial.insert(k);
            }
        }
        for &(_, p, k) in &here {
            if let Some(at) = members.contains(&p).then(|| position(self.told[p].steps[k].0)).flatten() {
                progress.at.insert(at);
            }
        }
        if progress.at == StepSet::default() {
            progress.last = position(self.told[player].steps[step].0).and_then(|k| u8::try_from(k).ok());
        }
        progress
    }

    /// The sockets whose steps make up `player`'s story: an accepted socket and its listener;
    /// a listener and the first socket it accepted; any other socket alone.
    fn members(&self, seq: usize, player: usize) -> Vec<usize> {
        let told = &self.told[player];
        match (told.part, told.listener.as_ref().and_then(|l| self.by_socket[seq].get(l))) {
            (Part::Accepted, Some(&listener)) => vec![listener, player],
            (Part::Listening, _) => std::iter::once(player).chain(self.first_accepted.get(&player).copied()).collect(),
            _ => vec![player],
        }
    }
}

fn told(report: &SocketReport) -> Told {
    Told {
        socket: report.socket.clone(),
        part: report.part,
        listener: report.listener.clone(),
        steps: report.steps.iter().map(|step| (step.step.id, step.evidence.iter().map(|o| o.events().min()).collect())).collect(),
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read scenario__story
mod tests {
    use super::*;
    use crate::event::{Body, Event, Verb};
    use crate::replay::Replay;
    use crate::sim;
    use crate::tcp::flags::TcpFlags;
    use crate::trace::{Header, LensStatus, Lenses, Source, Trace};

    fn simulated(name: &str) -> Trace {
        let events = sim::run(name, &sim::Options::default()).expect("a known scenario");
        let lenses = Lenses { calls: LensStatus::Modelled, packets: LensStatus::Modelled, states: LensStatus::Modelled };
        Trace { header: Header::new(format!("trace simulate {name}"), Source::Simulated, lenses), events, end: None }
    }

    /// The replay steps (by their first event) at which `sequence`'s step `id` is lit.
    fn lit(replay: &Replay, sequence: usize, id: &str) -> Vec<usize> {
        replay.steps.iter().filter(|s| s.progress[sequence].is_at(id)).map(|s| s.first).collect()
    }

    fn position(trace: &Trace, what: impl Fn(&Event) -> bool) -> usize {
        trace.events.iter().position(what).expect("in the trace")
    }

    #[test]
    fn every_documented_sequence_fits_a_step_set() {
        for sequence in crate::sequence::documented() {
            assert!(sequence.steps.len() <= 32, "{} has {} steps: widen StepSet", sequence.id, sequence.steps.len());
        }
    }

    #[test]
    fn echo__every_step_of_both_sequences_is_shown_by_the_end() {
        let trace = simulated("echo");
        let replay = Replay::of(&trace);
        let last = replay.steps.last().expect("steps");
        for (k, sequence) in replay.sequences.iter().enumerate() {
            let ids: Vec<&str> = sequence.steps.iter().map(|s| s.id).collect();
            assert_eq!(last.progress[k].done().collect::<Vec<_>>(), ids, "{}", sequence.id);
        }
    }

    #[test]
    fn echo__accept_is_lit_by_the_handshake_and_by_the_call_that_returns_s2() {
        let trace = simulated("echo");
        let replay = Replay::of(&trace);
        let syn = position(&trace, |e| e.segment().is_some_and(|t| t.flags == TcpFlags::SYN));
        let accept_end = position(&trace, |e| e.ends(Verb::Accept));
        let accept = lit(&replay, 0, "accept");
        assert!(accept.contains(&syn), "the SYN is evidence of accept: {accept:?}");
        assert!(replay.steps.iter().any(|s| (s.first..=s.last).contains(&accept_end) && s.progress[0].is_at("accept")));
        assert!(lit(&replay, 1, "connect").contains(&syn), "and of connect");
    }

    #[test]
    fn refused__connect_partial_nothing_accepted() {
        let trace = simulated("refused");
        let replay = Replay::of(&trace);
        let last = replay.steps.last().expect("steps");
        assert!(last.progress[1].is_partial("connect"), "{:?}", last.progress[1]);
        assert!(last.progress[1].is_done("address"));
        assert!(lit(&replay, 0, "accept").is_empty(), "no socket was accepted");
    }

    #[test]
    fn lost_syn__the_retransmitted_syn_is_lit_too() {
        let trace = simulated("lost-syn");
        let replay = Replay::of(&trace);
        let syns: Vec<usize> = trace.events.iter().enumerate().filter(|(_, e)| e.segment().is_some_and(|t| t.flags == TcpFlags::SYN)).map(|(i, _)| i).collect();
        assert_eq!(syns.len(), 2);
        let connect = lit(&replay, 1, "connect");
        assert!(syns.iter().all(|s| connect.contains(s)), "both SYNs: {connect:?}");
    }

    #[test]
    fn udp_echo__both_connectionless_sequences_shown__every_datagram_lit() {
        let trace = simulated("udp-echo");
        let replay = Replay::of(&trace);
        assert_eq!(replay.sequences, crate::sequence::connectionless());
        let last = replay.steps.last().expect("steps");
        assert!(last.progress.iter().all(|p| p.partial().next().is_none()), "{:?}", last.progress);
        let datagrams = trace.events.iter().filter(|e| e.packet().is_some()).count();
        let lit_datagrams = replay.steps.iter().filter(|s| matches!(trace.events[s.first].body, Body::Packet(_)) && s.progress[1].is_at("exchange")).count();
        assert_eq!(lit_datagrams, datagrams, "every datagram is evidence of the exchange");
        let s1 = replay.sockets_at(replay.steps.len() - 1).into_iter().find(|v| v.id.0 == "s1").and_then(|v| v.part);
        assert_eq!(s1, Some(Part::Bound));
    }
}
