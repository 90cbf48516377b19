//! The model beside the kernel: an RFC 9293 endpoint shadows each socket of a live trace,
//! driven by what the trace observed (the calls that open and close, the segments that
//! arrive). Each state change the kernel reports is given the state the model expects at that
//! moment. Where the kernel's own reports say what happened, in Linux's way (the accepted
//! socket's SYN-RECEIVED, reported at the third ACK; TIME-WAIT, reported as CLOSED when a
//! timewait socket takes the connection over), they stand alone and `state_path` reads them;
//! the model adds, labelled modelled, only the changes no report will show: a timewait
//! socket's own (FIN-WAIT-2 to TIME-WAIT), or all of them when the kernel's states are not
//! traced.

use std::net::SocketAddr;

use super::sockets::SocketResolver;
use crate::event::{Actor, Body, CallName, Event, Origin, Packet, ProcessChange, Role, SockId, SockKind, StateChange, Verb};
use crate::hash::{FastMap, FastSet};
use crate::tcp::flags::TcpFlags;
use crate::tcp::linux::{self, Reported};
use crate::tcp::{Config, Endpoint, Output, Segment, State};

type Pair = (SocketAddr, SocketAddr);

/// One shadowed connection socket.
struct Conn {
    ep: Endpoint,
    socket: Option<SockId>,
    role: Role,
    /// Born of a listening socket (the server's side of the connection).
    accepted: bool,
    /// That listening socket.
    listener: Option<SockId>,
    /// The states the model entered since the kernel last reported one of this socket: the
    /// kernel reports its changes in order but may report them late (after the segment that
    /// caused the next one, when both sides close at once), and a late report of a state the
    /// model passed through agrees with it.
    entered: Vec<State>,
    /// The kernel reported the socket CLOSED: what is left of the connection is a timewait
    /// socket, whose changes no tracepoint reports.
    kernel_closed: bool,
}

/// Which CLOSE a call (or a process's end) makes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Close {
    /// `shutdown(SHUT_WR)`: of the sending side; receiving goes on.
    Sending,
    /// `shutdown(SHUT_RDWR)`: of the sending side, and nothing more is read.
    SendingNotReading,
    /// A Berkeley close: of both ways; data received and not read is lost (a reset).
    Both,
    /// The same, where the kernel's report shows it sent its FIN: data the model holds
    /// unread reached the socket only after the close.
    BothFinFirst,
    /// A close with `SO_LINGER` on and a timeout of 0: ABORT (RFC 9293 §3.10.5), a reset.
    Abort,
}

impl Close {
    /// This close as the kernel's report of it shows it: a Berkeley close that sent a FIN
    /// (`fin_first`) left the data the model holds unread to arrive after it.
    fn shown(self, fin_first: bool) -> Close {
        if self == Close::Both && fin_first {
            Close::BothFinFirst
        } else {
            self
        }
    }
}

#[derive(Default)]
pub struct Shadow {
    /// The kernel's state changes are traced (the trace's states lens observed).
    states_traced: bool,
    listeners: FastMap<SockId, Endpoint>,
    /// Active opens whose SYN has not been seen yet, so whose port is not known.
    opening: FastMap<SockId, Endpoint>,
    /// Connection sockets by (local, remote) address.
    conns: FastMap<Pair, Conn>,
    names: FastMap<SockId, Pair>,
    /// Closes (and shutdowns) of connection sockets that have started but shown no effect yet.
    unsettled_closes: FastMap<SockId, Close>,
    /// The sockets that the ends of processes taken in but not yet released close, with how
    /// many such ends close each (see [`Shadow::ending`]).
    exit_closes: FastMap<SockId, u32>,
    /// Those whose close showed before their process's end was released.
    closed_by_exit: FastSet<SockId>,
    /// The receiving calls under way, by call id: what they return is read from the model's
    /// socket, so that the model knows what a close leaves unread.
    reads: FastSet<u64>,
    /// `setsockopt(SO_LINGER)` calls under way, by call id: whether each sets a linger of 0 s.
    lingers: FastMap<u64, bool>,
    /// The sockets whose close is an abort: `SO_LINGER` on with a timeout of 0.
    abortive: FastSet<SockId>,
}

impl Shadow {
    /// A shadow for a trace whose kernel states are traced (`states_traced`) or not.
    pub fn new(states_traced: bool) -> Shadow {
        Shadow { states_traced, ..Shadow::default() }
    }

    /// Takes note of an event as it comes in, before its turn: a process's end, or its exec
    /// of a new program. The kernel closes the sockets whose descriptors they let go of (at the
    /// end, all; at an exec, those marked close-on-exec) and reports their changes before the
    /// tracer sees the end or the exec; in time order those changes come first. It is known
    /// here while they wait their turn, so the first change of such a socket that the model
    /// does not expect is that close showing, as a close call's would.
    pub fn ending(&mut self, event: &Event) {
        for socket in closed_by(event) {
            *self.exit_closes.entry(socket.clone()).or_default() += 1;
        }
    }

    /// The end or exec of [`Shadow::ending`] has its turn: its sockets are not awaited any more.
    /// Whether each showed its close first.
    fn ended(&mut self, socket: &SockId) -> bool {
        if let Some(n) = self.exit_closes.get_mut(socket) {
            *n -= 1;
            if *n == 0 {
                self.exit_closes.remove(socket);
            }
        }
        self.closed_by_exit.remove(socket)
    }
}

/// The model's view of a Linux socket on loopback; the ISS is adopted from the real SYN.
fn endpoint() -> Endpoint {
    Endpoint::new(Config::linux_loopback(0))
}

impl Shadow {
    /// Feeds one released event to the model; `extra` receives the modelled changes the kernel
    /// does not report as they happen.
    pub fn observe(&mut self, event: &mut Event, sockets: &SocketResolver, extra: &mut Vec<Event>) {
        let t = event.t;
        match &mut event.body {
            Body::CallStart(start) => {
                let Some(socket) = event.socket.clone() else { return };
                match start.verb() {
                    Verb::Listen => {
                        let mut ep = endpoint();
                        let _ = ep.open_passive(t);
                        ep.take_output();
                        self.listeners.insert(socket, ep);
                    }
                    Verb::Connect => {
                        let mut ep = endpoint();
                        let _ = ep.open_active(t);
                        ep.take_output();
                        self.opening.insert(socket, ep);
                    }
                    // Whether a close will be an abort (see `Close::Abort`).
                    Verb::Option if start.call == CallName::Setsockopt && start.args.option.as_deref().is_some_and(|o| o.starts_with("SO_LINGER")) => {
                        self.lingers.insert(start.id, start.args.option.as_deref() == Some("SO_LINGER=on,0s"));
                    }
                    // A peek leaves what it saw to be read again.
                    Verb::Recv if !start.args.flags.as_deref().is_some_and(|f| f.contains("MSG_PEEK")) => {
                        self.reads.insert(start.id);
                    }
                    // RFC 9293 §3.10.4: CLOSE, and a shutdown of the sending side, send a FIN;
                    // a close is the socket's CLOSE only when no other descriptor holds it.
                    // A call takes effect somewhere between its start and its end: a segment
                    // may arrive first (both sides closing at once). The model applies it at
                    // the first sign of it: the socket's next segment or state change, or the
                    // call's return.
                    verb @ (Verb::Close | Verb::Shutdown) if start.args.how.as_deref() != Some("SHUT_RD") && start.args.other_fds.is_none_or(|n| n == 0) => {
                        let close = match verb {
                            Verb::Close if self.abortive.contains(&socket) => Close::Abort,
                            Verb::Close => Close::Both,
                            _ if start.args.how.as_deref() == Some("SHUT_RDWR") => Close::SendingNotReading,
                            _ => Close::Sending,
                        };
                        if self.names.contains_key(&socket) {
                            self.unsettled_closes.insert(socket, close);
                        } else {
                            self.close(t, &socket, close, extra);
                        }
                    }
                    _ => {}
                }
            }
            Body::CallEnd(end) if matches!(end.call.verb(), Verb::Close | Verb::Shutdown) => {
                if let Some(socket) = &event.socket {
                    self.settle_close(t, socket, extra);
                }
            }
            Body::CallEnd(end) if self.lingers.contains_key(&end.id) => {
                let abortive = self.lingers.remove(&end.id) == Some(true);
                if let (Some(socket), true) = (&event.socket, end.ret == 0) {
                    if abortive {
                        self.abortive.insert(socket.clone());
                    } else {
                        self.abortive.remove(socket);
                    }
                }
            }
            Body::CallEnd(end) if self.reads.remove(&end.id) => {
                let conn = event.socket.as_ref().and_then(|s| self.names.get(s)).and_then(|pair| self.conns.get_mut(pair));
                if let (Some(conn), Ok(n @ 1..)) = (conn, usize::try_from(end.ret)) {
                    let _ = conn.ep.receive(n);
                }
            }
            // A connection named while it waited in the listener's queue is the socket
            // `accept` returns: one connection, one shadow.
            Body::CallEnd(end) => {
                if let (Some(queued), Some(new)) = (&end.queued, &end.new_socket) {
                    if let Some(pair) = self.names.get(queued).copied() {
                        self.names.insert(new.clone(), pair);
                        if let Some(conn) = self.conns.get_mut(&pair) {
                            conn.socket = Some(new.clone());
                        }
                    }
                }
            }
            Body::Packet(packet) => {
                if let Some(sender) = &event.socket {
                    self.settle_close(t, sender, extra);
                }
                self.packet(t, event.socket.clone(), packet, sockets, extra)
            }
            // A process's end closes the sockets whose last descriptor it held: their CLOSE,
            // made by the kernel (RFC 9293 §3.10.4), not by a call; here, unless it showed first.
            Body::Process(ProcessChange::Exit { closed, .. }) => {
                for socket in closed.clone() {
                    if !self.ended(&socket) {
                        self.close(t, &socket, Close::Both, extra);
                    }
                }
            }
            // An exec's closes are of descriptors: a socket another process still holds lives
            // on, and only a change the kernel reported shows that one closed (above).
            Body::Process(ProcessChange::Exec { closed, .. }) => {
                for socket in closed.clone() {
                    self.ended(&socket);
                }
            }
            Body::State(change) if event.origin == Origin::Observed => {
                let (from, to) = (change.from, change.to);
                // The kernel's report of a close says whether it sent a FIN rather than a reset.
                let fin_first = matches!(to, State::FinWait1 | State::LastAck);
                if let Some(socket) = event.socket.as_ref().filter(|_| closing_shows(from, to)) {
                    self.settle_close_shown(t, socket, fin_first, extra);
                }
                // A listener's close shows at once (it has no connection to wind down).
                let closes = closing_shows(from, to) || (from, to) == (State::Listen, State::Closed);
                if let Some(socket) = event.socket.as_ref().filter(|s| closes && self.exit_closes.contains_key(*s) && !self.closed_by_exit.contains(*s)) {
                    if self.would_expect(socket, from, to) != Some(to) {
                        self.close(t, socket, Close::Both.shown(fin_first), extra);
                        self.closed_by_exit.insert(socket.clone());
                    }
                }
                if let Some(conn) = event.socket.as_ref().and_then(|s| self.names.get(s)).and_then(|pair| self.conns.get_mut(pair)) {
                    conn.kernel_closed = change.to == State::Closed;
                }
                change.model = event.socket.as_ref().and_then(|s| self.expected(s, from, to));
            }
            _ => {}
        }
    }

    /// The state the model expects a socket the kernel reports moving `from` → `to` to be in:
    /// `to`, if the model entered it since the kernel's last report, else its current state.
    /// A change Linux is documented to report late keeps the model's current state, so that
    /// the documented difference shows.
    fn expected(&mut self, socket: &SockId, from: State, to: State) -> Option<State> {
        if let Some(k) = self.entered_at(socket, from, to) {
            if let Some(conn) = self.names.get(socket).and_then(|pair| self.conns.get_mut(pair)) {
                conn.entered.drain(..=k);
            }
            return Some(to);
        }
        self.state_of(socket)
    }

    /// What [`Shadow::expected`] would say, without taking the report in.
    fn would_expect(&self, socket: &SockId, from: State, to: State) -> Option<State> {
        match self.entered_at(socket, from, to) {
            Some(_) => Some(to),
            None => self.state_of(socket),
        }
    }

    /// Where `to` is among the states the model entered since the kernel's last report of
    /// `socket`, unless Linux is documented to report `from` → `to` late.
    fn entered_at(&self, socket: &SockId, from: State, to: State) -> Option<usize> {
        let conn = self.names.get(socket).and_then(|pair| self.conns.get(pair))?;
        let documented = matches!(linux::reported(from, to, conn.accepted), Reported::Differently(_));
        conn.entered.iter().position(|s| *s == to).filter(|_| !documented)
    }

    fn state_of(&self, socket: &SockId) -> Option<crate::tcp::State> {
        if let Some(ep) = self.listeners.get(socket).or_else(|| self.opening.get(socket)) {
            return Some(ep.state());
        }
        self.names.get(socket).and_then(|pair| self.conns.get(pair)).map(|c| c.ep.state())
    }

    /// Applies a close of `socket` that started earlier and has now shown itself.
    fn settle_close(&mut self, t: u64, socket: &SockId, extra: &mut Vec<Event>) {
        self.settle_close_shown(t, socket, false, extra);
    }

    /// The same, shown by the kernel's report of the close, which says whether it sent a FIN
    /// (`fin_first`) rather than a reset.
    fn settle_close_shown(&mut self, t: u64, socket: &SockId, fin_first: bool, extra: &mut Vec<Event>) {
        if let Some(close) = self.unsettled_closes.remove(socket) {
            self.close(t, socket, close.shown(fin_first), extra);
        }
    }

    /// CLOSE of `socket` (a process's end closes both ways, as a Berkeley close does).
    fn close(&mut self, t: u64, socket: &SockId, close: Close, extra: &mut Vec<Event>) {
        if let Some(ep) = self.listeners.get_mut(socket) {
            let _ = ep.close(t);
            ep.take_output();
            // The connections still in its queue, which no `accept` returned, go with it: Linux
            // aborts each (RFC 9293 §3.10.5, ABORT: a reset, and CLOSED), as no program holds
            // them. RFC 9293 has no queue: its listening TCB becomes the connection.
            let queued = |c: &Conn| c.listener.as_ref() == Some(socket) && c.socket.as_ref().is_none_or(|s| s.kind() == Some(SockKind::Queued));
            let mut pairs: Vec<Pair> = self.conns.iter().filter(|(_, c)| queued(c)).map(|(pair, _)| *pair).collect();
            pairs.sort_unstable();
            for pair in pairs {
                if let Some(conn) = self.conns.get_mut(&pair) {
                    let _ = conn.ep.abort(t);
                    emit(t, pair, conn, self.states_traced, extra);
                }
            }
            return;
        }
        if let Some(ep) = self.opening.get_mut(socket) {
            let _ = ep.close(t);
            ep.take_output();
            return;
        }
        if let Some(pair) = self.names.get(socket).copied() {
            if let Some(conn) = self.conns.get_mut(&pair) {
                let _ = match close {
                    Close::Sending => conn.ep.close(t),
                    Close::SendingNotReading => {
                        conn.ep.stop_receiving();
                        conn.ep.close(t)
                    }
                    Close::Both => conn.ep.close_both(t),
                    Close::BothFinFirst => conn.ep.close_before_unread(t),
                    Close::Abort => conn.ep.abort(t),
                };
                emit(t, pair, conn, self.states_traced, extra);
            }
        }
    }

    fn packet(&mut self, t: u64, sender: Option<SockId>, packet: &Packet, sockets: &SocketResolver, extra: &mut Vec<Event>) {
        let Some(tcp) = &packet.tcp else { return };
        let (src, dst) = (packet.src, packet.dst);
        let syn = tcp.flags.contains(TcpFlags::SYN);

        // Our side sent it: an active open learns its port and ISS from its SYN.
        if let Some(s) = sender.as_ref().filter(|_| syn && !tcp.flags.contains(TcpFlags::ACK)) {
            if let Some(mut ep) = self.opening.remove(s) {
                ep.adopt_iss(tcp.seq);
                self.names.insert(s.clone(), (src, dst));
                self.conns.insert(
                    (src, dst),
                    Conn { ep, socket: Some(s.clone()), role: Role::Client, accepted: false, listener: None, entered: Vec::new(), kernel_closed: false },
                );
            }
        }
        if let Some(conn) = self.conns.get_mut(&(src, dst)) {
            if syn {
                conn.ep.adopt_iss(tcp.seq);
            }
            // Only data beyond what was sent before: a retransmission is not new data.
            let beyond = tcp.seq.wrapping_add(packet.len).wrapping_sub(conn.ep.tcb().snd_nxt) as i32;
            if packet.len > 0 && beyond > 0 {
                let _ = conn.ep.send(t, &vec![0; beyond.unsigned_abs().min(packet.len) as usize]);
            }
            conn.ep.take_output();
        }
        // A packet dropped on its way (`--drop`) was sent but never arrives.
        if packet.dropped.is_some() {
            return;
        }

        // It arrives: at a connection socket, or as a SYN at a listening one.
        let segment = Segment::from_wire(tcp, vec![0; packet.len as usize]);
        let pair = (dst, src);
        if !self.conns.contains_key(&pair) {
            let listener = packet.to.as_ref().and_then(|to| self.listeners.get(to));
            match listener {
                Some(listener) if syn && !tcp.flags.contains(TcpFlags::ACK) => {
                    let socket = sockets.connected(dst, src);
                    if let Some(s) = &socket {
                        self.names.insert(s.clone(), pair);
                    }
                    let conn = Conn {
                        ep: listener.fork(0),
                        socket,
                        role: Role::Server,
                        accepted: true,
                        listener: packet.to.clone(),
                        entered: Vec::new(),
                        kernel_closed: false,
                    };
                    self.conns.insert(pair, conn);
                }
                _ => return,
            }
        }
        if let Some(conn) = self.conns.get_mut(&pair) {
            if conn.socket.is_none() {
                conn.socket = sockets.connected(dst, src);
                if let Some(s) = &conn.socket {
                    self.names.insert(s.clone(), pair);
                }
            }
            conn.ep.segment_arrives(t, &segment);
            emit(t, pair, conn, self.states_traced, extra);
        }
    }
}

/// The sockets whose descriptors a process's end or exec let go of.
fn closed_by(event: &Event) -> &[SockId] {
    match &event.body {
        Body::Process(ProcessChange::Exit { closed, .. } | ProcessChange::Exec { closed, .. }) => closed,
        _ => &[],
    }
}

/// Whether a change is one a CLOSE makes (RFC 9293 §3.10.4), not one an arriving segment
/// makes: a peer's FIN moves ESTABLISHED to CLOSE-WAIT whether or not our close has begun.
fn closing_shows(from: State, to: State) -> bool {
    use State::*;
    matches!((from, to), (_, FinWait1) | (CloseWait, LastAck) | (Established | CloseWait | SynSent | SynReceived, Closed))
}

/// Emits, labelled modelled, the model's state changes that no kernel report will show: where
/// Linux reports a change its own way, its report stands for it, unless the socket is already
/// a timewait one (or the kernel's states are not traced).
fn emit(t: u64, pair: Pair, conn: &mut Conn, states_traced: bool, extra: &mut Vec<Event>) {
    for output in conn.ep.take_output() {
        let Output::State { from, to } = output else { continue };
        conn.entered.push(to);
        let unreported = !states_traced || conn.kernel_closed;
        if let (Reported::Differently(_), true) = (linux::reported(from, to, conn.accepted), unreported) {
            extra.push(Event {
                t,
                actor: Actor::role(conn.role),
                socket: conn.socket.clone(),
                origin: Origin::Modelled,
                body: Body::State(StateChange { from, to, local: Some(pair.0), remote: Some(pair.1), sk: None, model: None }),
            });
        }
    }
}
