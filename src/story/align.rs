//! Finds each step's evidence among one socket's events, step after step.
//!
//! The program's calls are the backbone: each is looked for on the socket itself (the first
//! one that succeeded, else the first one). Packets and states are looked for in the window
//! their [`Timing`] gives: while a call runs, before it returns, or anywhere from the moment
//! the previous step began — not from when it ended, since TCP is full duplex and a step may
//! overlap the one before (a half-close sends its FIN while data still flows back).
//!
//! When a step's call is missing or fails, the sequence stops there: later steps count only
//! the calls the program still made on its socket (closing it is owed whatever happened),
//! since without a connection there are no packets or states to expect.

use std::cell::RefCell;

use super::cast::{Cast, Player};
use super::index::{connection_key, Call, Index, PacketFact, Returned, SocketLog};
use super::reasons;
use super::steps::{Observation, Seen, Sighting, SocketReport, StepReport};
use crate::event::{Body, Errno, Event, Origin, Role, Verb};
use crate::sequence::{Evidence, Part, Step, Timing};
use crate::tcp::flags::TcpFlags;
use crate::tcp::linux;
use crate::tcp::state::State;
use crate::trace::{LensStatus, Trace};

/// The origin of the events a lens delivered; `None` when it did not run. A live trace may
/// also hold modelled states beside the kernel's (what Linux reports late or never); only the
/// lens's own events count as evidence.
fn lens_origin(status: &LensStatus) -> Option<Origin> {
    match status {
        LensStatus::Observed => Some(Origin::Observed),
        LensStatus::Modelled => Some(Origin::Modelled),
        LensStatus::Unavailable { .. } => None,
    }
}

/// A slot per verb, for tables indexed by call. The match has no catch-all, so that a new
/// verb must be given its slot.
pub(crate) fn slot(verb: Verb) -> usize {
    match verb {
        Verb::Socket => 0,
        Verb::Bind => 1,
        Verb::Listen => 2,
        Verb::Accept => 3,
        Verb::Connect => 4,
        Verb::Send => 5,
        Verb::Recv => 6,
        Verb::Shutdown => 7,
        Verb::Close => 8,
        Verb::Option => 9,
        Verb::Name => 10,
        Verb::Mode => 11,
        Verb::Descriptor => 12,
        Verb::Wait => 13,
    }
}

/// How many slots [`slot`] gives.
pub(crate) const CALL_SLOTS: usize = 14;

/// Whether this part of the story is told by this socket. Packets belong to the sockets
/// that carry the connection (the listening socket only hands it over); datagrams to both
/// datagram sockets.
pub(crate) fn concerns(evidence: &Evidence, part: Part) -> bool {
    match *evidence {
        Evidence::Call { socket, .. } | Evidence::NewSocket { socket, .. } | Evidence::ServerAddress { socket, .. } | Evidence::State { socket, .. } => {
            socket == part
        }
        Evidence::Packet { .. } => matches!(part, Part::Client | Part::Accepted),
        Evidence::Datagram { .. } => matches!(part, Part::Client | Part::Bound),
    }
}

fn errno<'e>(events: &'e [Event], call: &Call) -> Option<&'e Errno> {
    match &events[call.end?].body {
        Body::CallEnd(end) => end.errno.as_ref(),
        _ => None,
    }
}

/// For each call name, the call that stands for it on one socket: the first that returned
/// without error, else the first. Looked up for most evidence, so found once per socket.
struct FirstCalls<'l> {
    calls: [Option<&'l Call>; CALL_SLOTS],
}

impl<'l> FirstCalls<'l> {
    fn of(log: SocketLog<'l>) -> FirstCalls<'l> {
        let mut ok: [Option<&Call>; CALL_SLOTS] = [None; CALL_SLOTS];
        let mut any = ok;
        // Closing one descriptor among several does not close the socket.
        for call in log.calls.iter().filter(|c| !c.partial) {
            let slot = slot(call.name);
            any[slot] = any[slot].or(Some(call));
            if ok[slot].is_none() && matches!(call.returned, Returned::Ok | Returned::InProgress) {
                ok[slot] = Some(call);
            }
        }
        for (ok, any) in ok.iter_mut().zip(any) {
            *ok = ok.or(any);
        }
        FirstCalls { calls: ok }
    }

    fn get(&self, name: Verb) -> Option<&'l Call> {
        self.calls[slot(name)]
    }
}

/// The packets that can be evidence for this socket: a TCP connection's (both directions),
/// or a datagram socket's own.
pub(crate) fn packets_of<'i>(index: &'i Index, log: SocketLog<'i>) -> &'i [PacketFact] {
    match (log.is_datagram(), log.ends) {
        (true, _) => log.datagrams,
        (false, Some(ends)) => index.packets_between(ends, log.id),
        (false, None) => &[],
    }
}

/// The notes already explained in full in this report (Linux differences, the backlog):
/// later sockets cite them briefly.
#[derive(Default)]
pub(crate) struct Explained(RefCell<Vec<&'static str>>);

impl Explained {
    /// True the first time `id` is asked about.
    fn first(&self, id: &'static str) -> bool {
        let mut seen = self.0.borrow_mut();
        let first = !seen.contains(&id);
        if first {
            seen.push(id);
        }
        first
    }
}

/// The first reset on the connection from event `lo` on.
fn lo_reset(packets: &[PacketFact], lo: usize) -> Option<usize> {
    packets.iter().find(|p| p.at >= lo && p.flags.contains(TcpFlags::RST)).map(|p| p.at)
}

/// The packets (in trace order) from event `start` to event `end`, inclusive.
fn within(packets: &[PacketFact], start: usize, end: usize) -> &[PacketFact] {
    let from = packets.partition_point(|p| p.at < start);
    let to = packets.partition_point(|p| p.at <= end).max(from);
    &packets[from..to]
}

/// One player's socket, with what the search needs at hand.
struct Search<'a> {
    explained: &'a Explained,
    first: FirstCalls<'a>,
    events: &'a [Event],
    cast: &'a Cast,
    log: SocketLog<'a>,
    part: Part,
    packets: &'a [PacketFact],
    /// For a connection's packets: whether this socket's end is the first of the key's two.
    first_is_mine: bool,
    calls_lens: bool,
    packets_lens: Option<Origin>,
    states_lens: Option<Origin>,
}

/// What a search for one piece of evidence gave.
struct Found {
    seen: Seen,
    /// The other events that show it (see [`Observation::also`]).
    also: Vec<usize>,
    /// A call the sequence needs is missing or failed: later steps cannot follow.
    blocks: bool,
}

impl Found {
    fn at(event: usize, other_half: Option<usize>) -> Found {
        Found { seen: Seen::At(Sighting { event, other_half }), also: Vec::new(), blocks: false }
    }

    fn missing(blocks: bool) -> Found {
        Found { seen: Seen::Missing, also: Vec::new(), blocks }
    }

    fn unobserved() -> Found {
        Found { seen: Seen::Unobserved, also: Vec::new(), blocks: false }
    }

    fn and_also(mut self, also: impl IntoIterator<Item = usize>) -> Found {
        self.also.extend(also);
        self
    }
}

impl Search<'_> {
    /// The role this socket speaks for on the wire.
    fn me(&self) -> Role {
        match self.part {
            Part::Client => Role::Client,
            Part::Listening | Part::Accepted | Part::Bound => Role::Server,
        }
    }

    fn sender(&self, packet: &PacketFact) -> Role {
        // A datagram's `from_first` says whether this socket sent it.
        let mine = packet.from_first == (self.first_is_mine || self.log.is_datagram());
        match (mine, self.me()) {
            (true, me) => me,
            (false, Role::Client) => Role::Server,
            (false, _) => Role::Client,
        }
    }

    /// Where the call returned, for a window: a call still running at the end of the trace
    /// runs to its end; a non-blocking connect's handshake runs until the program learns its
    /// outcome (see [`Search::outcome`]).
    fn returned(&self, call: &Call) -> usize {
        if call.returned == Returned::InProgress {
            return self.outcome(call).map_or(usize::MAX, |(end, _)| end);
        }
        call.end.unwrap_or(usize::MAX)
    }

    /// How a program learns the outcome of its non-blocking `connect`: the end of its first
    /// later call on the socket that tells it — `getsockopt(SO_ERROR)`, another `connect`, or
    /// the first step of its own (a `send`, a `recv`, a `close`) — and the error it learned
    /// there, if any (`ECONNREFUSED`). Waiting for readiness (`poll`, `epoll_wait`) and
    /// setting options tell nothing.
    fn outcome(&self, connect: &Call) -> Option<(usize, Option<String>)> {
        let from = connect.at();
        let tells = |c: &&Call| c.at() > from && c.end.is_some() && (c.name.is_step() || self.end_value(c).is_some_and(|v| v.starts_with("SO_ERROR=")));
        let call = self.log.calls.iter().find(tells)?;
        let end = call.end?;
        let error = match self.end_value(call) {
            Some(value) => value.strip_prefix("SO_ERROR=").filter(|e| *e != "0").map(str::to_string),
            None => errno(self.events, call).map(|e| e.name.clone()).filter(|e| e != "EALREADY" && e != "EISCONN"),
        };
        Some((end, error))
    }

    /// What a call's end says it read (`getsockopt`'s value).
    fn end_value(&self, call: &Call) -> Option<&str> {
        match &self.events[call.end?].body {
            Body::CallEnd(end) => end.value.as_deref(),
            _ => None,
        }
    }

    /// The other calls of the same verb on the socket (every `send` of an exchange after the
    /// first): their starts, or ends where no start is in the trace.
    fn others(&self, name: Verb, chosen: &Call) -> Vec<usize> {
        self.log.calls.iter().filter(|c| c.name == name && !std::ptr::eq(*c, chosen) && !c.partial).map(Call::at).collect()
    }

    /// The events a packet or state with this timing may be found between (inclusive).
    fn window(&self, timing: Timing, lo: usize) -> Option<(usize, usize)> {
        // Without the calls there is no call to time against: anywhere after the last step.
        if !self.calls_lens {
            return Some((lo, usize::MAX));
        }
        match timing {
            Timing::Any => Some((lo, usize::MAX)),
            Timing::During(name) => {
                let call = self.first.get(name)?;
                Some((call.at(), self.returned(call)))
            }
            // The call that made this socket, or one of its own.
            Timing::Before(name) => match self.log.created {
                Some(made) if made.by == name => Some((lo, made.end)),
                _ => self.first.get(name).map(|call| (lo, self.returned(call))),
            },
        }
    }

    fn find(&self, evidence: &Evidence, lo: usize, step: &mut StepReport) -> Found {
        match *evidence {
            Evidence::Call { .. } | Evidence::NewSocket { .. } | Evidence::ServerAddress { .. } if !self.calls_lens => Found::unobserved(),
            Evidence::Call { call, .. } => self.find_call(call, step),
            Evidence::NewSocket { call, .. } => self.find_creation(call, step),
            Evidence::ServerAddress { call, .. } => self.find_address(call, step),
            Evidence::Packet { flags, from, data, timing } => match self.packets_lens {
                None => Found::unobserved(),
                Some(origin) => self.find_packet(origin, (flags, from, data), timing, lo, step),
            },
            Evidence::Datagram { from } => match self.packets_lens {
                None => Found::unobserved(),
                Some(origin) => self.find_datagram(origin, from, lo),
            },
            Evidence::State { to, timing, .. } => match self.states_lens {
                None => Found::unobserved(),
                Some(origin) => self.find_state(origin, to, timing, lo, step),
            },
        }
    }

    fn find_call(&self, name: Verb, step: &mut StepReport) -> Found {
        // A close of one descriptor among several, before the socket's own close: the
        // socket lived on in the other descriptors (a forking server's parent closing its
        // copy of the connection, the child its copy of the listening socket).
        if name == Verb::Close {
            for copy in self.log.calls.iter().filter(|c| c.partial) {
                step.notes.push(reasons::closed_a_copy(copy.at()));
            }
        }
        let Some(call) = self.first.get(name) else {
            step.reasons.push(reasons::never_called(self.part, name));
            if let (Verb::Close, Some(at)) = (name, self.log.released) {
                step.notes.push(reasons::closed_by_the_kernel(at));
            }
            return Found::missing(true);
        };
        let mut found = Found::at(call.at(), call.start.and(call.end)).and_also(self.others(name, call));
        match call.returned {
            Returned::InProgress => {
                let outcome = self.outcome(call);
                step.notes.push(reasons::in_progress(name, call.end.unwrap_or(call.at()), outcome.as_ref().map(|(end, _)| *end)));
                // Refused: the program learns it later, but the story ends as a blocking
                // connect's does (the `refused` decision above).
                if let (Verb::Connect, Some((end, Some(error)))) = (name, outcome) {
                    let reset = within(self.packets, call.at(), end).iter().find(|p| p.flags.contains(TcpFlags::RST)).map(|p| p.at);
                    let errno = Errno { code: 0, name: error };
                    if errno.name == "ECONNREFUSED" && reset.is_some() {
                        step.notes.push(reasons::failed(name, &errno, end, reset));
                        step.ended = true;
                    } else {
                        step.reasons.push(reasons::failed(name, &errno, end, reset));
                    }
                    found.blocks = true;
                }
            }
            Returned::Not => {
                step.reasons.push(reasons::never_returned(name, call.at()));
                found.blocks = true;
            }
            Returned::Failed => {
                let (Some(end), Some(errno)) = (call.end, errno(self.events, call)) else { return found };
                // The reset that answered: its packet, else the kernel's report of it.
                let rst = within(self.packets, call.at(), end).iter().find(|p| p.flags.contains(TcpFlags::RST));
                let reset = rst.map(|p| p.at).or_else(|| self.log.resets.iter().copied().find(|&i| i >= call.at() && i <= end));
                // A reset the peer sent before the call: the connection was gone when it ran.
                let earlier =
                    || self.packets.iter().rev().find(|p| p.at < call.at() && p.flags.contains(TcpFlags::RST) && self.sender(p) != self.me()).map(|p| p.at);
                // A connect refused by a reset is the documented sequence's honest end when nobody
                // listens (the `refused` story): the program did what it should, so it is a note.
                // So is a send or recv that finds the connection reset by the peer: the peer's
                // doing, told in the peer's story, not a step this program missed.
                let reset_by_peer = matches!(errno.name.as_str(), "ECONNRESET" | "EPIPE") && matches!(name, Verb::Send | Verb::Recv);
                if name == Verb::Connect && errno.name == "ECONNREFUSED" && reset.is_some() {
                    step.notes.push(reasons::failed(name, errno, end, reset));
                    step.ended = true;
                } else if reset_by_peer && (reset.is_some() || earlier().is_some()) {
                    step.notes.push(reasons::reset_by_peer(name, errno, end, reset.or_else(earlier)));
                    step.ended = true;
                } else {
                    step.reasons.push(reasons::failed(name, errno, end, reset));
                }
                found.blocks = true;
            }
            _ => {}
        }
        found
    }

    fn find_creation(&self, name: Verb, step: &mut StepReport) -> Found {
        match self.log.created {
            Some(made) if made.by == name => Found::at(made.end, made.start),
            made => {
                step.reasons.push(reasons::not_made(name, made.map(|m| m.by)));
                Found::missing(true)
            }
        }
    }

    fn find_address(&self, name: Verb, step: &mut StepReport) -> Found {
        // A datagram client may name its server once, with connect, instead of in every send.
        let connected = self.log.is_datagram().then(|| self.first.get(Verb::Connect)).flatten();
        if let (Verb::Send, Some(connect)) = (name, connected) {
            step.notes.push(reasons::connected_datagrams(connect.at()));
            return self.find_address(Verb::Connect, step);
        }
        let Some(call) = self.first.get(name) else {
            step.reasons.push(reasons::never_called(self.part, name));
            return Found::missing(true);
        };
        let addr = call.start.and_then(|s| match &self.events[s].body {
            Body::CallStart(start) => start.args.addr,
            _ => None,
        });
        match addr {
            Some(addr) => {
                if !self.cast.serves(addr) {
                    step.notes.push(reasons::no_listener(name, addr));
                }
                Found::at(call.at(), call.start.and(call.end))
            }
            None => {
                step.reasons.push(format!("{name} at {} was not given the server's address", reasons::num(call.at())));
                Found::missing(false)
            }
        }
    }

    fn find_packet(&self, origin: Origin, (flags, from, data): (TcpFlags, Role, bool), timing: Timing, lo: usize, step: &mut StepReport) -> Found {
        let Some((start, end)) = self.window(timing, lo) else { return Found::missing(false) };
        let mut matching =
            within(self.packets, start, end).iter().filter(|p| p.origin == origin && p.flags == flags && (p.len > 0) == data && self.sender(p) == from);
        let Some(first) = matching.next() else { return Found::missing(false) };
        let rest: Vec<&PacketFact> = matching.collect();
        // A handshake segment sent again (the same sequence and acknowledgment numbers) shows
        // a loss; data and FINs are counted elsewhere. Without the calls that bound the
        // handshake (an imported capture) the window holds later pure ACKs too, which are
        // not the same segment.
        if timing != Timing::Any {
            let again: Vec<usize> = rest.iter().filter(|p| p.seq_ack == first.seq_ack).map(|p| p.at).collect();
            if !again.is_empty() {
                step.notes.push(reasons::retransmitted(&flags.to_string(), from, again.len() + 1));
            }
            return Found::at(first.at, None).and_also(again);
        }
        Found::at(first.at, None).and_also(rest.into_iter().map(|p| p.at))
    }

    fn find_datagram(&self, origin: Origin, from: Role, lo: usize) -> Found {
        let mut all = within(self.packets, lo, usize::MAX).iter().filter(|p| p.origin == origin && p.len > 0 && self.sender(p) == from);
        match all.next() {
            Some(first) => Found::at(first.at, None).and_also(all.map(|p| p.at)),
            None => Found::missing(false),
        }
    }

    fn find_state(&self, origin: Origin, to: State, timing: Timing, lo: usize, step: &mut StepReport) -> Found {
        let Some((start, end)) = self.window(timing, lo) else { return Found::missing(false) };
        let states = &self.log.states;
        let found = states.iter().position(|s| s.at >= start && s.at <= end && s.origin == origin && s.to == to);
        let Some(k) = found else { return Found::missing(false) };
        self.state_notes(k, step);
        Found::at(states[k].at, None)
    }

    /// What a learner should know about a state change the kernel reported differently from
    /// the RFC (notes, not failures), and about how the socket closed.
    fn state_notes(&self, k: usize, step: &mut StepReport) {
        let change = self.log.states[k];
        let observed = change.origin == Origin::Observed;
        let linux = |difference: linux::Difference| reasons::linux(difference, change.at, self.explained.first(difference.id));
        let previous = k.checked_sub(1).map(|p| self.log.states[p]);
        match change.to {
            State::SynSent if observed && change.without_port => {
                step.notes.push(linux(linux::SYN_SENT_WITHOUT_PORT));
            }
            // The burst: the socket's change before ESTABLISHED is LISTEN → SYN-RECEIVED.
            State::Established
                if observed && self.part == Part::Accepted && previous.is_some_and(|p| p.from == State::Listen && p.to == State::SynReceived) =>
            {
                step.notes.push(linux(linux::CHILD_BORN_AT_THIRD_ACK));
            }
            State::Closed => {
                if observed && matches!(change.from, State::FinWait2 | State::Closing) {
                    step.notes.push(linux(linux::TIME_WAIT_UNREPORTED));
                }
                if let Some(closing) = self.log.states.iter().find(|s| s.to == State::Closing) {
                    step.notes.push(reasons::simultaneous_close(closing.at));
                }
            }
            _ => {}
        }
    }

    /// The accepted socket's connection may have waited in the backlog: accept() began only
    /// after the kernel had completed the handshake.
    fn backlog_note(&self, step: &mut StepReport) {
        let mut handshake_done = None;
        let mut accept_start = None;
        for observation in &step.evidence {
            match (observation.evidence, observation.seen) {
                (Evidence::NewSocket { call: Verb::Accept, .. }, Seen::At(s)) => accept_start = s.other_half,
                (Evidence::Packet { .. } | Evidence::State { .. }, Seen::At(s)) => {
                    handshake_done = handshake_done.max(Some(s.event));
                }
                _ => {}
            }
        }
        if let (Some(start), Some(done)) = (accept_start, handshake_done) {
            if start > done {
                step.notes.push(reasons::backlog(start, done, self.explained.first("listen-backlog")));
            }
        }
    }

    /// The server's reset that answered this client's SYN, if no SYN|ACK came before it.
    fn refusal(&self) -> Option<usize> {
        let synack = TcpFlags::SYN.union(TcpFlags::ACK);
        let from_server = |p: &&PacketFact| self.sender(p) != self.me();
        let answer = self.packets.iter().filter(from_server).find(|p| p.flags.contains(TcpFlags::RST) || p.flags == synack)?;
        answer.flags.contains(TcpFlags::RST).then_some(answer.at)
    }

    fn step(&self, step: &'static Step, lo: usize) -> (StepReport, bool) {
        let mut report = StepReport::new(step);
        report.evidence.reserve_exact(step.evidence.len());
        let mut blocks = false;
        for evidence in step.evidence.iter().filter(|e| concerns(e, self.part)) {
            let found = self.find(evidence, lo, &mut report);
            blocks |= found.blocks;
            report.evidence.push(Observation { evidence: *evidence, seen: found.seen, also: found.also });
        }
        // Without the calls (an imported capture), a reset answering the client's SYN is the
        // refusal connect() would have reported (RFC 9293 §3.10.7.3): the sequence's honest
        // end, as in the `refused` story.
        let connects = step.evidence.iter().any(|e| matches!(e, Evidence::Call { call: Verb::Connect, .. }));
        if !self.calls_lens && !blocks && self.part == Part::Client && connects {
            if let Some(rst) = self.refusal() {
                report.notes.push(reasons::refused_by_reset(rst));
                report.ended = true;
                blocks = true;
            }
        }
        // When the step's call failed, the packets and states it would have caused are missing
        // as a consequence: the call's failure is the reason.
        if !blocks {
            // A reset ends a connection without FINs (RFC 9293 §3.10.7.4): the FIN a step
            // asks for is then missing as the kernel's reaction — to data arriving after a
            // close, or to the peer's reset — cited as that, not as a step the program missed.
            let reset = lo_reset(self.packets, lo);
            for observation in &report.evidence {
                let wire = matches!(observation.evidence, Evidence::Packet { .. } | Evidence::Datagram { .. } | Evidence::State { .. });
                let fin = matches!(observation.evidence, Evidence::Packet { flags, .. } if flags.contains(TcpFlags::FIN));
                match (wire && observation.seen == Seen::Missing, fin, reset) {
                    (true, true, Some(rst)) => report.notes.push(reasons::reset_instead_of_fin(&observation.evidence, rst)),
                    (true, _, _) => report.reasons.push(reasons::missing(&observation.evidence)),
                    _ => {}
                }
            }
        }
        if self.part == Part::Accepted {
            self.backlog_note(&mut report);
        }
        (report, blocks)
    }

    /// A step after the sequence stopped at `failed`: only its calls count, and only a missing
    /// close is a failure (a socket that was made must be closed).
    fn step_after(&self, step: &'static Step, failed: &'static Step) -> StepReport {
        let mut report = StepReport::new(step);
        for evidence in step.evidence.iter().filter(|e| concerns(e, self.part)) {
            let seen = match *evidence {
                Evidence::Call { call, .. } if self.calls_lens => match self.first.get(call) {
                    Some(_) => self.find_call(call, &mut report).seen,
                    None if call == Verb::Close => {
                        report.reasons.push(reasons::never_called(self.part, call));
                        Seen::Missing
                    }
                    None => Seen::Moot,
                },
                _ => Seen::Moot,
            };
            report.evidence.push(Observation { evidence: *evidence, seen, also: Vec::new() });
        }
        let found = report.evidence.iter().any(|o| matches!(o.seen, Seen::At(_)));
        report.reached = found || !report.reasons.is_empty();
        if found && report.evidence.iter().any(|o| o.seen == Seen::Moot) {
            report.notes.push(reasons::moot(failed.title));
        }
        if !report.reached {
            report.notes.push(reasons::not_reached(failed.title));
        }
        report
    }
}

/// Holds one player's socket against its sequence.
pub(crate) fn align(trace: &Trace, index: &Index, cast: &Cast, player: &Player, explained: &Explained) -> SocketReport {
    let events = &trace.events;
    let log = index.socket(player.log);
    let lenses = &trace.header.lenses;
    let search = Search {
        explained,
        first: FirstCalls::of(log),
        events,
        cast,
        log,
        part: player.part,
        packets: packets_of(index, log),
        first_is_mine: log.ends.is_some_and(|(local, peer)| connection_key(local, peer).0 == local),
        calls_lens: lens_origin(&lenses.calls).is_some(),
        packets_lens: lens_origin(&lenses.packets),
        states_lens: lens_origin(&lenses.states),
    };
    let listener = log.parent.map(|p| index.socket(p));
    // An accepted connection's handshake can begin once its listening socket listens.
    let mut lo = listener.and_then(|l| l.listened).unwrap_or(0);
    let mut stopped: Option<&'static Step> = None;
    let mut steps = Vec::new();
    for step in player.sequence.steps.iter().filter(|s| s.evidence.iter().any(|e| concerns(e, player.part))) {
        let report = match stopped {
            Some(failed) => search.step_after(step, failed),
            None => {
                let (report, blocks) = search.step(step, lo);
                if blocks {
                    stopped = Some(step);
                }
                lo = report.began().unwrap_or(lo);
                report
            }
        };
        steps.push(report);
    }
    SocketReport {
        socket: log.id.clone(),
        part: player.part,
        sequence: player.sequence,
        listener: listener.map(|l| l.id.clone()),
        peer: log.ends.map(|(_, peer)| peer),
        steps,
    }
}
