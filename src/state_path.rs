//! Each socket's states as every view shows them (the timeline, `--summary`, the lesson view
//! and snapshots, the replay and the book): one unbroken path. Every change shown starts
//! where the one before it ended, and the last one shown is where the socket really is.
//!
//! The kernel's tracepoint is the source. Its reports alone are not such a path, for three
//! reasons, each handled here once:
//! - Linux hands a closing connection to a lightweight timewait socket and reports the full
//!   socket CLOSED; the connection is then in TIME-WAIT (RFC 9293 §3.3.2), or in FIN-WAIT-2
//!   until the peer's FIN comes, as `ss -tan` lists it. The row shows that state, saying what
//!   was reported.
//! - Where Linux differs from RFC 9293 in a documented way (`tcp::linux`), the kernel's row is
//!   shown with the difference named, not beside a second, modelled row.
//! - A live trace's model adds, labelled modelled, only the changes the kernel never reports
//!   (the timewait socket's move to TIME-WAIT). Traces saved by earlier versions also hold
//!   modelled changes that the kernel reports later: a later report of where the path already
//!   is adds no row.

use crate::event::{Body, Event, KernelNote, Origin, SockId, StateChange};
use crate::hash::FastMap;
use crate::tcp::flags::TcpFlags;
use crate::tcp::linux::{self, Difference};
use crate::tcp::State;

/// One change of a socket's path, as shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub from: State,
    /// Where the socket is after it: `from` again when the kernel reported a change that left
    /// the connection where it was (handed to a timewait socket in FIN-WAIT-2).
    pub to: State,
    /// What the kernel reported, where the row shows another state.
    pub reported: Option<State>,
    pub mark: Mark,
    /// The row is about the socket a packet reached, not the one that sent it (see
    /// [`Row::socket`]).
    pub receiver: bool,
}

/// How a row relates the kernel's report to RFC 9293.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Reported by the kernel, and the RFC 9293 model (where one ran) agrees.
    Agreed,
    /// The model's, where the kernel reports nothing (or a simulated trace).
    Modelled,
    /// Reported by the kernel where Linux differs from RFC 9293 in a documented way.
    Linux(&'static Difference),
    /// Reported by the kernel where the model expected another state, and no documented
    /// difference explains it.
    Unexplained { model: State },
}

impl Row {
    /// The socket whose path this row of `event` is: a state change's socket, or for a
    /// packet (a timewait socket's reset) its sender or its receiver.
    pub fn socket<'e>(&self, event: &'e Event) -> Option<&'e SockId> {
        match (&event.body, self.receiver) {
            (Body::Packet(packet), true) => packet.to.as_ref(),
            _ => event.socket.as_ref(),
        }
    }

    /// The state this row adds to the RFC 9293 view of the path (the lesson view), which
    /// keeps the RFC's states and leaves out the steps only Linux takes.
    pub fn rfc_state(&self) -> Option<State> {
        match self.mark {
            Mark::Linux(d) if *d == linux::FIN_ACK_IN_TWO_STEPS => None,
            _ if self.to == self.from => None,
            _ => Some(self.to),
        }
    }

    /// What a learner should read under the row: where Linux and the RFC part ways.
    pub fn note(&self) -> Option<String> {
        match self.mark {
            Mark::Agreed | Mark::Modelled => None,
            Mark::Linux(d) if *d == linux::TIME_WAIT_UNREPORTED && self.to == State::Closed => {
                Some("the timewait socket that held the connection met a reset, sent or received, and is gone; no tracepoint reports it".to_string())
            }
            Mark::Linux(d) if *d == linux::TIME_WAIT_UNREPORTED => {
                Some(format!("a timewait socket holds the connection in {} (up to 60 s): no tracepoint reports it, `ss -tan` lists it", self.to))
            }
            Mark::Linux(d) if *d == linux::CHILD_BORN_AT_THIRD_ACK => {
                Some("Linux makes this socket only now, at the third ACK; RFC 9293 has it in SYN-RECEIVED since the SYN".to_string())
            }
            Mark::Linux(d) if *d == linux::FIN_ACK_IN_TWO_STEPS => {
                Some("one segment acked our FIN and brought the peer's: RFC 9293 goes straight to TIME-WAIT, Linux takes the ACK first".to_string())
            }
            Mark::Linux(d) => Some(d.linux.to_string()),
            Mark::Unexplained { model } => {
                Some(format!("the RFC 9293 model, fed the same segments, expected {model}: no documented Linux difference explains it"))
            }
        }
    }
}

/// One socket's path so far, and what it knows to read the kernel's next report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path {
    at: Option<State>,
    /// The kernel's last report put the socket in CLOSED.
    kernel_closed: bool,
    /// What the segments that reached the socket showed: any at all, a FIN, a reset.
    segments: bool,
    fin: bool,
    reset: bool,
}

impl Path {
    /// Where the path is: the state the socket is in after the rows shown so far.
    pub fn state(&self) -> Option<State> {
        self.at
    }

    /// Whether the kernel has reported the socket CLOSED (it may live on as a timewait one).
    pub fn kernel_closed(&self) -> bool {
        self.kernel_closed
    }

    /// A segment with `flags` reached the socket; the row of a timewait socket its reset
    /// ended (see [`Path::reset_met`]).
    pub fn received(&mut self, flags: TcpFlags) -> Option<Row> {
        self.segments = true;
        self.fin |= flags.contains(TcpFlags::FIN);
        flags.contains(TcpFlags::RST).then(|| self.reset_met()).flatten()
    }

    /// The socket sent a segment with `flags`: a reset aborts (RFC 9293 §3.10.5), and ends a
    /// timewait socket (its row).
    pub fn sent(&mut self, flags: TcpFlags) -> Option<Row> {
        flags.contains(TcpFlags::RST).then(|| self.reset_met()).flatten()
    }

    /// The connection was reset (an RST sent or received): a CLOSED that follows is real.
    pub fn reset(&mut self) {
        self.reset = true;
    }

    /// A reset the socket sent or received, as a row when a timewait socket held the
    /// connection (the kernel reported it CLOSED, the path shows FIN-WAIT-2 or TIME-WAIT):
    /// Linux's timewait socket answers an unexpected segment with a reset, or takes one, and
    /// is gone (RFC 9293 §3.10.7.4 has TIME-WAIT ignore a reset only under RFC 1337), with no
    /// tracepoint to say so.
    fn reset_met(&mut self) -> Option<Row> {
        self.reset = true;
        let at = self.at.filter(|at| self.kernel_closed && matches!(at, State::FinWait2 | State::TimeWait))?;
        self.at = Some(State::Closed);
        Some(Row { from: at, to: State::Closed, reported: None, mark: Mark::Linux(&linux::TIME_WAIT_UNREPORTED), receiver: false })
    }

    /// The row a state change adds to the path; `None` when it adds none (it reports where
    /// the path already is).
    pub fn step(&mut self, change: &StateChange, origin: Origin) -> Option<Row> {
        if origin == Origin::Observed {
            self.kernel_closed = change.to == State::Closed;
        }
        let (to, reported, mark) = self.reading(change, origin);
        if let Some(at) = self.at.filter(|&at| at != change.from) {
            // The path is past the change's start: a model got there first.
            if to == at || (origin == Origin::Observed && change.model == Some(at)) {
                return None;
            }
        }
        let from = self.at.unwrap_or(change.from);
        if from == to && reported.is_none() {
            return None;
        }
        self.at = Some(to);
        Some(Row { from, to, reported, mark, receiver: false })
    }

    /// Where a change leaves the socket, what the kernel reported if that differs, and how
    /// it stands to RFC 9293.
    fn reading(&self, change: &StateChange, origin: Origin) -> (State, Option<State>, Mark) {
        if origin == Origin::Modelled {
            return (change.to, None, Mark::Modelled);
        }
        if let Some(held) = self.held_by_timewait(change) {
            return (held, Some(change.to), Mark::Linux(&linux::TIME_WAIT_UNREPORTED));
        }
        let mark = match change.model {
            Some(model) if model != change.to => linux::explains(change.to, model).map_or(Mark::Unexplained { model }, Mark::Linux),
            _ => Mark::Agreed,
        };
        (change.to, None, mark)
    }

    /// The state a timewait socket holds the connection in, when the kernel reports CLOSED on
    /// handing it over: from FIN-WAIT-2 or CLOSING, not after a reset. A model that ran says
    /// which; without one, the peer's FIN decides (when segments were seen at all).
    fn held_by_timewait(&self, change: &StateChange) -> Option<State> {
        if change.to != State::Closed || !matches!(change.from, State::FinWait2 | State::Closing) || self.reset {
            return None;
        }
        match change.model {
            Some(model @ (State::TimeWait | State::FinWait2)) => Some(model),
            Some(_) => None,
            None if change.from == State::Closing || self.fin || !self.segments => Some(State::TimeWait),
            None => Some(State::FinWait2),
        }
    }
}

/// Where a view keeps its sockets' paths: by name ([`StatePaths`]), or by the numbers the view
/// gave its sockets (the snapshot and the lesson view follow every event of a trace, and a
/// look-up by name cost them more than the rest of following).
pub trait PathTable {
    type Key;
    /// The socket's path, begun at its first sight.
    fn path(&mut self, socket: Self::Key) -> &mut Path;
    /// Moves `from`'s path, if it has one, to `to`, in place of any `to` had.
    fn hand_over(&mut self, from: Self::Key, to: Self::Key);
}

/// Follows one event in `paths`, trace order: a state change's row, if it shows one. The
/// event's sockets as `paths` knows them: its own socket, its other one (a packet's receiver,
/// the socket a call returned, computed only for those), and a name it holds (`accept`'s
/// `queued`).
pub fn follow_in<T: PathTable>(
    paths: &mut T,
    event: &Event,
    socket: Option<T::Key>,
    other: impl FnOnce() -> Option<T::Key>,
    named: impl FnOnce(&SockId) -> Option<T::Key>,
) -> Option<Row> {
    match &event.body {
        Body::State(change) => paths.path(socket?).step(change, event.origin),
        Body::Packet(packet) => {
            let tcp = packet.tcp.as_ref()?;
            let received = other().filter(|_| packet.dropped.is_none());
            let row = received.and_then(|to| paths.path(to).received(tcp.flags)).map(|r| Row { receiver: true, ..r });
            let sent = socket.and_then(|from| paths.path(from).sent(tcp.flags));
            sent.or(row)
        }
        Body::Kernel(KernelNote::ResetSent { .. } | KernelNote::ResetReceived { .. }) => {
            paths.path(socket?).reset();
            None
        }
        // A connection named while it waited in the listener's queue is the socket `accept`
        // returns: one path.
        Body::CallEnd(end) => {
            if let Some(queued) = end.queued.as_ref() {
                if let (Some(new), Some(queued)) = (other(), named(queued)) {
                    paths.hand_over(queued, new);
                }
            }
            None
        }
        _ => None,
    }
}

impl PathTable for FastMap<SockId, Path> {
    type Key = SockId;

    fn path(&mut self, socket: SockId) -> &mut Path {
        self.entry(socket).or_default()
    }

    fn hand_over(&mut self, from: SockId, to: SockId) {
        if let Some(path) = self.remove(&from) {
            self.insert(to, path);
        }
    }
}

/// The paths of every socket of a trace by name, followed event by event in trace order.
#[derive(Default)]
pub struct StatePaths {
    paths: FastMap<SockId, Path>,
}

impl StatePaths {
    /// Follows one event; a state change's row, if it shows one.
    pub fn follow(&mut self, event: &Event) -> Option<Row> {
        let other = || match &event.body {
            Body::Packet(packet) => packet.to.clone(),
            Body::CallEnd(end) => end.new_socket.clone(),
            _ => None,
        };
        follow_in(&mut self.paths, event, event.socket.clone(), other, |name| Some(name.clone()))
    }

    /// Where `socket`'s path is now.
    pub fn state_of(&self, socket: &SockId) -> Option<State> {
        self.paths.get(socket).and_then(Path::state)
    }

    /// Every event's row (for views that show the events in another order than the trace's).
    pub fn rows(events: &[Event]) -> Vec<Option<Row>> {
        let mut paths = StatePaths::default();
        events.iter().map(|e| paths.follow(e)).collect()
    }
}

/// One change read on its own, as a view that cites a single event shows it.
pub fn row_alone(change: &StateChange, origin: Origin) -> Row {
    let (to, reported, mark) = Path::default().reading(change, origin);
    Row { from: change.from, to, reported, mark, receiver: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(from: State, to: State, model: Option<State>) -> StateChange {
        StateChange { from, to, local: None, remote: None, sk: None, model }
    }

    fn walk(path: &mut Path, changes: &[(StateChange, Origin)]) -> Vec<(State, State)> {
        changes.iter().filter_map(|(c, o)| path.step(c, *o)).map(|r| (r.from, r.to)).collect()
    }

    use Origin::{Modelled, Observed};
    use State::*;

    #[test]
    fn a_fin_acked_with_the_peers_fin_shows_linux_steps_and_ends_in_time_wait() {
        let mut path = Path::default();
        let rows = walk(
            &mut path,
            &[
                (change(Established, FinWait1, Some(FinWait1)), Observed),
                (change(FinWait1, FinWait2, Some(TimeWait)), Observed),
                (change(FinWait2, Closed, Some(TimeWait)), Observed),
            ],
        );
        assert_eq!(rows, [(Established, FinWait1), (FinWait1, FinWait2), (FinWait2, TimeWait)]);
        assert_eq!(path.state(), Some(TimeWait));
        assert!(path.kernel_closed());
    }

    #[test]
    fn an_earlier_versions_modelled_rows_are_not_repeated_by_the_kernels_later_reports() {
        let mut path = Path::default();
        let rows = walk(
            &mut path,
            &[
                (change(Listen, SynReceived, None), Modelled),
                (change(Listen, SynReceived, Some(Established)), Observed),
                (change(SynReceived, Established, Some(Established)), Observed),
                (change(Established, FinWait1, Some(FinWait1)), Observed),
                (change(FinWait1, TimeWait, None), Modelled),
                (change(FinWait1, FinWait2, Some(TimeWait)), Observed),
                (change(FinWait2, Closed, Some(TimeWait)), Observed),
            ],
        );
        assert_eq!(rows, [(Listen, SynReceived), (SynReceived, Established), (Established, FinWait1), (FinWait1, TimeWait)]);
    }

    #[test]
    fn a_timewait_socket_in_fin_wait_2_stays_there_until_the_model_moves_it() {
        let mut path = Path { at: Some(FinWait2), ..Path::default() };
        let stays = path.step(&change(FinWait2, Closed, Some(FinWait2)), Observed).expect("a row");
        assert_eq!((stays.from, stays.to, stays.reported), (FinWait2, FinWait2, Some(Closed)));
        assert_eq!(stays.rfc_state(), None);
        let later = path.step(&change(FinWait2, TimeWait, None), Modelled).expect("the modelled TIME-WAIT");
        assert_eq!((later.from, later.to), (FinWait2, TimeWait));
    }

    #[test]
    fn without_a_model_the_peers_fin_decides_and_a_reset_means_closed() {
        let mut heard_fin = Path { at: Some(FinWait2), ..Path::default() };
        heard_fin.received(TcpFlags::FIN.union(TcpFlags::ACK));
        assert_eq!(heard_fin.step(&change(FinWait2, Closed, None), Observed).map(|r| r.to), Some(TimeWait));
        let mut no_fin = Path { at: Some(FinWait2), ..Path::default() };
        no_fin.received(TcpFlags::ACK);
        assert_eq!(no_fin.step(&change(FinWait2, Closed, None), Observed).map(|r| r.to), Some(FinWait2));
        let mut reset = Path { at: Some(FinWait2), ..Path::default() };
        reset.reset();
        let row = reset.step(&change(FinWait2, Closed, None), Observed).expect("a row");
        assert_eq!((row.to, row.reported, row.mark), (Closed, None, Mark::Agreed));
    }

    #[test]
    fn a_timewait_socket_that_meets_a_reset_is_gone() {
        let mut path = Path { at: Some(FinWait2), ..Path::default() };
        path.step(&change(FinWait2, Closed, Some(FinWait2)), Observed).expect("held by a timewait socket");
        let gone = path.reset_met().expect("a row");
        assert_eq!((gone.from, gone.to), (FinWait2, Closed));
        assert!(gone.note().is_some_and(|n| n.contains("is gone")));
        assert_eq!(path.reset_met(), None, "once");
        let mut open = Path { at: Some(Established), ..Path::default() };
        assert_eq!(open.reset_met(), None, "a full socket's reset is reported by the kernel");
    }

    #[test]
    fn a_change_the_model_did_not_expect_is_marked_and_the_path_never_breaks() {
        let mut path = Path { at: Some(SynReceived), ..Path::default() };
        let row = path.step(&change(Established, CloseWait, Some(Established)), Observed).expect("a row");
        assert_eq!((row.from, row.to), (SynReceived, CloseWait), "starts where the path is");
        assert_eq!(row.mark, Mark::Unexplained { model: Established });
        assert!(row.note().is_some());
    }
}
