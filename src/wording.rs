//! Plain words for calls, packets and state changes, and how names are shown, shared by every
//! text renderer, `trace check`'s report, the replay and the normalized views.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;

use crate::event::{
    Actor, Arp, ArpOp, Body, CallEnd, CallName, CallStart, Event, KernelNote, Packet, Peer, ProcessChange, Role, SockId, TcpSegment, Transport, Verb, Watched,
};
use crate::state_path::{Mark, Row};
use crate::tcp::flags::TcpFlags;

/// How a text shows the names of things: as the trace has them (the timeline, the replay, a
/// check's evidence), or as a snapshot renames them, to show nothing that changes from run
/// to run (addresses by whose they are, no descriptor numbers, no process numbers).
pub trait Names {
    fn addr(&self, addr: SocketAddr) -> Cow<'_, str> {
        Cow::Owned(addr.to_string())
    }

    fn socket<'a>(&'a self, id: &'a SockId) -> Cow<'a, str> {
        Cow::Borrowed(&id.0)
    }

    /// Whether descriptor and process numbers are shown, and how many descriptors a socket
    /// has left (how far another process got by then is the scheduler's choice).
    fn numbers(&self) -> bool {
        true
    }
}

/// Everything as the trace has it.
pub struct AsTraced;

impl Names for AsTraced {}

fn target<'a>(socket: Option<&'a str>, fd: Option<i32>, names: &dyn Names) -> Cow<'a, str> {
    match (socket, fd) {
        (Some(s), _) => Cow::Borrowed(s),
        (None, Some(fd)) if names.numbers() => Cow::Owned(format!("fd {fd}")),
        (None, _) => Cow::Borrowed("?"),
    }
}

/// A socket, or a descriptor that is not a followed socket, as a call's argument.
fn watched_list(list: &[Watched], names: &dyn Names) -> String {
    let one = |w: &Watched| match &w.socket {
        Some(s) => format!("{} {}", names.socket(s), w.events),
        None if names.numbers() => format!("fd {} {}", w.fd, w.events),
        None => format!("fd {}", w.events),
    };
    list.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// A wait's timeout: `-1` for ever, else ms.
fn timeout(ms: Option<i64>) -> String {
    ms.map_or("-1".to_string(), |ms| ms.to_string())
}

/// Runs `write` on a new string. The texts are written into a string given, so that a
/// snapshot of a million lines writes them all into one.
fn written(write: impl FnOnce(&mut String)) -> String {
    let mut text = String::new();
    write(&mut text);
    text
}

/// The call as written in a program: `connect(c1, 127.0.0.1:4000)`.
pub fn call_start(start: &CallStart, socket: Option<&str>) -> String {
    written(|out| write_call_start(out, start, socket, &AsTraced))
}

/// The same, with names as `names` gives them, at the end of `out`.
pub fn write_call_start(out: &mut String, start: &CallStart, socket: Option<&str>, names: &dyn Names) {
    let a = &start.args;
    let s = target(socket, start.fd, names);
    let name = start.call;
    let flags = a.flags.as_deref().map_or(String::new(), |f| format!(", {f}"));
    let addr = |a: Option<SocketAddr>| a.map_or(Cow::Borrowed("?"), |x| names.addr(x));
    let numbered = |what: &str, fd: Option<i32>| match fd {
        Some(fd) if names.numbers() => format!("{what} fd {fd}"),
        _ => what.to_string(),
    };
    let _ = match name {
        CallName::Socket => write!(out, "socket({}, {})", a.domain.as_deref().unwrap_or("?"), a.ty.as_deref().unwrap_or("?")),
        CallName::Bind | CallName::Connect => write!(out, "{name}({s}, {})", addr(a.addr)),
        CallName::Listen => write!(out, "listen({s}, {})", a.backlog.unwrap_or(0)),
        CallName::Send | CallName::Sendto | CallName::Sendmsg | CallName::Sendmmsg | CallName::Write | CallName::Writev => {
            let _ = write!(out, "{name}({s}, ");
            let _ = match &a.data {
                Some(d) => write!(out, "{d}"),
                None => write!(out, "{} bytes", a.len.unwrap_or(0)),
            };
            match a.addr {
                Some(to) => write!(out, ", {}{flags})", names.addr(to)),
                None => write!(out, "{flags})"),
            }
        }
        CallName::Recv | CallName::Recvfrom | CallName::Recvmsg | CallName::Recvmmsg | CallName::Read | CallName::Readv => {
            write!(out, "{name}({s}, {}{flags})", a.len.unwrap_or(0))
        }
        CallName::Sendfile | CallName::Splice | CallName::CopyFileRange => {
            let other = a.other.as_ref().map_or("?".to_string(), |o| numbered(&o.what, Some(o.fd)));
            let (from, to) = if a.other.as_ref().is_none_or(|o| o.source) { (other, s.into_owned()) } else { (s.into_owned(), other) };
            write!(out, "{name}({from} → {to}, {})", a.len.unwrap_or(0))
        }
        CallName::Shutdown => write!(out, "shutdown({s}, {})", a.how.as_deref().unwrap_or("?")),
        // `SO_REUSEADDR` is set to 1; `SO_RCVBUF=65536` to its value.
        CallName::Setsockopt => match a.option.as_deref().unwrap_or("?").split_once('=') {
            Some((option, value)) => write!(out, "setsockopt({s}, {option}, {value})"),
            None => write!(out, "setsockopt({s}, {}, 1)", a.option.as_deref().unwrap_or("?")),
        },
        CallName::Getsockopt => write!(out, "getsockopt({s}, {})", a.option.as_deref().unwrap_or("?")),
        CallName::Fcntl | CallName::Ioctl => write!(out, "{name}({s}{flags})"),
        CallName::Dup2 | CallName::Dup3 => write!(out, "{name}({s}, {})", a.to_fd.map_or("?".to_string(), |fd| fd.to_string())),
        CallName::EpollCtl => write!(out, "epoll_ctl({}, {s}{flags})", numbered("epoll", a.epoll)),
        CallName::EpollWait | CallName::EpollPwait | CallName::EpollPwait2 => {
            write!(out, "{name}({}, {})", numbered("epoll", a.epoll), timeout(a.timeout_ms))
        }
        CallName::Poll | CallName::Ppoll | CallName::Select | CallName::Pselect6 => {
            write!(out, "{name}([{}], {})", watched_list(&a.watch, names), timeout(a.timeout_ms))
        }
        // Closing one of several descriptors does not close the socket: say so.
        CallName::Close if a.other_fds.is_some() => match a.other_fds.filter(|_| names.numbers()) {
            Some(others) => write!(out, "close({s}) [{s} stays open: {others} other descriptor{}]", if others == 1 { "" } else { "s" }),
            None => write!(out, "close({s}) [{s} stays open]"),
        },
        CallName::Accept | CallName::Accept4 | CallName::Close | CallName::Getsockname | CallName::Getpeername | CallName::Dup => {
            write!(out, "{name}({s}{flags})")
        }
    };
}

/// The result: `= 0`, `= s2 (fd 10) from 127.0.0.1:5000`, `= -1 ECONNREFUSED`.
pub fn call_result(end: &CallEnd) -> String {
    written(|out| write_call_result(out, end, &AsTraced))
}

/// The same, with names as `names` gives them, at the end of `out`.
pub fn write_call_result(out: &mut String, end: &CallEnd, names: &dyn Names) {
    if let Some(errno) = &end.errno {
        let _ = write!(out, "= -1 {}", errno.name);
        return;
    }
    let _ = match &end.new_socket {
        Some(id) if names.numbers() => write!(out, "= {} (fd {})", names.socket(id), end.ret),
        Some(id) => write!(out, "= {}", names.socket(id)),
        None => write!(out, "= {}", end.ret),
    };
    match end.call.verb() {
        Verb::Bind | Verb::Name => {
            if let Some(local) = end.local {
                let _ = write!(out, " [{}]", names.addr(local));
            }
            if let Some(peer) = end.peer.filter(|_| end.call == CallName::Getpeername) {
                let _ = write!(out, " [{}]", names.addr(peer));
            }
        }
        Verb::Accept | Verb::Recv => {
            if let Some(peer) = end.peer {
                let _ = write!(out, " from {}", names.addr(peer));
            }
        }
        Verb::Connect => {
            if let Some(local) = end.local {
                let _ = write!(out, " [from {}]", names.addr(local));
            }
        }
        _ => {}
    }
    // A view that names the queued connection by the socket accept gave it (a snapshot) has
    // nothing to add.
    if let Some(queued) = end.queued.as_ref().filter(|q| end.new_socket.as_ref().is_none_or(|new| names.socket(q) != names.socket(new))) {
        let _ = write!(out, " (was {})", names.socket(queued));
    }
    if let Some(value) = &end.value {
        let _ = write!(out, " {value}");
    }
    if !end.ready.is_empty() {
        let _ = write!(out, " [{}]", watched_list(&end.ready, names));
    }
    if let Some(data) = &end.data {
        let _ = write!(out, " {data}");
    }
    if end.restarted {
        out.push_str(" (restarted after a signal)");
    }
}

/// The return of a call shown apart from its start: `… connect(c1) = 0`. (`socket()` has no
/// socket to name until it returns one.)
pub fn call_end(end: &CallEnd, socket: Option<&str>) -> String {
    written(|out| write_call_end(out, end, socket, &AsTraced))
}

/// The same, with names as `names` gives them, at the end of `out`.
pub fn write_call_end(out: &mut String, end: &CallEnd, socket: Option<&str>, names: &dyn Names) {
    let target = if end.call == CallName::Socket { "" } else { socket.unwrap_or("") };
    let _ = write!(out, "… {}({target}) ", end.call);
    write_call_result(out, end, names);
}

/// A call that returned right away, on one line: `listen(s1, 128) = 0`.
pub fn call_whole(start: &CallStart, end: &CallEnd, socket: Option<&str>) -> String {
    written(|out| write_call_whole(out, start, end, socket, &AsTraced))
}

/// The same, with names as `names` gives them, at the end of `out`.
pub fn write_call_whole(out: &mut String, start: &CallStart, end: &CallEnd, socket: Option<&str>, names: &dyn Names) {
    write_call_start(out, start, socket, names);
    out.push(' ');
    write_call_result(out, end, names);
}

/// A process's change, in words: `fork() = 4243: a new process, holding s1, s2 too`. Without
/// numbers (a snapshot), the new process's number and the program's directory, which change
/// from run to run and machine to machine, are left out.
pub fn process_change(change: &ProcessChange, names: &dyn Names) -> String {
    let pids = names.numbers();
    let list = |list: &[SockId]| list.iter().map(|s| names.socket(s)).collect::<Vec<_>>().join(", ");
    match change {
        ProcessChange::Fork { child, call, sockets } => {
            let mut text = if pids { format!("{call}() = {child}: a new process") } else { format!("{call}(): a new process") };
            if !sockets.is_empty() {
                let _ = write!(text, ", holding {} too", list(sockets));
            }
            text
        }
        ProcessChange::Exec { program, kept, closed } => {
            let program = if pids { program.as_str() } else { program.rsplit('/').next().unwrap_or(program) };
            let mut text = format!("execve({program})");
            if !kept.is_empty() {
                let _ = write!(text, ": {} stay open", list(kept));
            }
            if !closed.is_empty() {
                let _ = write!(text, "{} {} closed on exec", if kept.is_empty() { ":" } else { ";" }, list(closed));
            }
            text
        }
        ProcessChange::Exit { exit, closed } => {
            let mut text = exit.to_string();
            if !closed.is_empty() {
                let _ = write!(text, ": the kernel closes {}", list(closed));
            }
            text
        }
        ProcessChange::Untraced { mechanism } => format!("{mechanism} set up: what goes through it is not traced"),
    }
}

/// Which process (and thread, where it is not the process's first) an event is from:
/// `[4242]`, `[4242/4250]`; nothing for an event that names none.
pub fn process_tag(actor: &Actor) -> ProcessTag<'_> {
    ProcessTag(actor)
}

/// See [`process_tag`]: written where it is shown, a row of the timeline at a time.
pub struct ProcessTag<'a>(&'a Actor);

impl fmt::Display for ProcessTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.pid, self.0.tid) {
            (Some(pid), Some(tid)) if tid != pid => write!(f, "[{pid}/{tid}] "),
            (Some(pid), _) => write!(f, "[{pid}] "),
            (None, _) => Ok(()),
        }
    }
}

/// A TCP segment's flags and numbers as every view writes them: `SYN|ACK seq 0 ack 1`
/// (relative to each side's ISN where known). The sequence number is shown where the segment
/// occupies sequence space (RFC 9293 §3.4: its data, a SYN or a FIN) or resets (an RST); the
/// acknowledgment number where the ACK flag makes it count.
pub fn write_segment(out: &mut String, flags: TcpFlags, tcp: &TcpSegment, len: u32) {
    let _ = write!(out, "{flags}");
    if len > 0 || [TcpFlags::SYN, TcpFlags::FIN, TcpFlags::RST].iter().any(|f| flags.contains(*f)) {
        let _ = write!(out, " seq {}", tcp.rel_seq.unwrap_or(tcp.seq));
    }
    if flags.contains(TcpFlags::ACK) {
        let _ = write!(out, " ack {}", tcp.rel_ack.unwrap_or(tcp.ack));
    }
}

/// A packet's headline: flags and relative numbers, `SYN|ACK seq 0 ack 1 win 65483`.
pub fn packet_headline(packet: &Packet) -> String {
    let Some(tcp) = &packet.tcp else {
        return match packet.transport {
            Transport::Udp => format!("UDP len {}", packet.len),
            Transport::Tcp => format!("TCP len {}", packet.len),
            Transport::Arp => match packet.arp.as_ref().map(|a| a.op) {
                Some(ArpOp::Request) => "ARP request".to_string(),
                Some(ArpOp::Reply) => "ARP reply".to_string(),
                None => "ARP".to_string(),
            },
        };
    };
    let mut text = String::new();
    write_segment(&mut text, tcp.flags, tcp, packet.len);
    let _ = write!(text, " win {}", tcp.window());
    if packet.len > 0 {
        let _ = write!(text, " len {}", packet.len);
    }
    if packet.dropped.is_some() {
        text.push_str(" ✗ lost");
    }
    text
}

/// Who sent a packet and who it is for: their sockets; for ARP, which is between hosts and
/// names no socket, the hosts' roles (`client`, `server`); `?` where unknown.
pub fn packet_ends<'a>(sender: Option<&'a str>, role: Role, packet: &'a Packet) -> (&'a str, &'a str) {
    if packet.transport == Transport::Arp {
        return match role {
            Role::Client => ("client", "server"),
            Role::Server => ("server", "client"),
            Role::Unknown => ("?", "?"),
        };
    }
    (sender.unwrap_or("?"), packet.to.as_ref().map_or("?", |s| s.0.as_str()))
}

/// What an ARP packet says, in tcpdump's words: `who-has 192.0.2.2 tell 192.0.2.1`,
/// `192.0.2.2 is-at 02:00:00:00:00:02`; `None` for other packets.
pub fn arp_says(packet: &Packet) -> Option<String> {
    match packet.arp.as_deref()? {
        Arp { op: ArpOp::Request, .. } => Some(format!("who-has {} tell {}", packet.dst.ip(), packet.src.ip())),
        Arp { op: ArpOp::Reply, sender_mac, .. } => Some(format!("{} is-at {sender_mac}", packet.src.ip())),
    }
}

/// The options of a segment: `<mss 65495,sackOK,TS,wscale 7>`; empty when there are none.
/// Timestamp values change every run and say little on a ladder; the trace keeps them.
pub fn packet_options(packet: &Packet) -> String {
    let Some(tcp) = &packet.tcp else { return String::new() };
    let o = &tcp.options;
    let mut parts = Vec::new();
    if let Some(mss) = o.mss {
        parts.push(format!("mss {mss}"));
    }
    if o.sack_ok {
        parts.push("sackOK".to_string());
    }
    if o.ts.is_some() {
        parts.push("TS".to_string());
    }
    if let Some(ws) = o.wscale {
        parts.push(format!("wscale {ws}"));
    }
    // Relative, as every other number on the ladder is, once the ISN is known.
    for (l, r) in tcp.relative_sack().unwrap_or_else(|| o.sack.clone()) {
        parts.push(format!("sack {l}:{r}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("<{}>", parts.join(","))
    }
}

/// A row of a socket's state path: `c1: FIN-WAIT-2 → TIME-WAIT (reported CLOSED)  ≠RFC:
/// time-wait-unreported`. A modelled row's label is the caller's (a simulated trace has no
/// other kind).
pub fn state_row(row: &Row, socket: Option<&str>) -> String {
    written(|out| write_state_row(out, row, socket))
}

/// The same, at the end of `out`.
pub fn write_state_row(out: &mut String, row: &Row, socket: Option<&str>) {
    let socket = socket.unwrap_or("?");
    let _ = match row.reported {
        Some(reported) if row.to == row.from => write!(out, "{socket}: {} (reported → {reported})", row.to),
        Some(reported) => write!(out, "{socket}: {} → {} (reported {reported})", row.from, row.to),
        None => write!(out, "{socket}: {} → {}", row.from, row.to),
    };
    let _ = match row.mark {
        Mark::Agreed | Mark::Modelled => Ok(()),
        Mark::Linux(difference) => write!(out, "  ≠RFC: {}", difference.id),
        Mark::Unexplained { model } => write!(out, "  ⚠ model: {model}"),
    };
}

/// What the marks of [`write_state_row`] mean, in one line under a timeline's header.
pub const STATES_LEGEND: &str = "states: (modelled) model's alone · ≠RFC Linux differs, ↳ how · ⚠ unexplained";

/// `c1: RST sent`, `s2: retransmit`.
pub fn kernel_note(note: &KernelNote, socket: Option<&str>) -> String {
    let what = match note {
        KernelNote::ResetSent { .. } => "RST sent",
        KernelNote::ResetReceived { .. } => "RST received",
        KernelNote::Retransmit { .. } => "retransmit",
    };
    format!("{}: {what}", socket.unwrap_or("?"))
}

/// Which program each socket belongs to, in a session of peers, learned from the events as
/// they are shown: a socket's first event with a peer names it.
#[derive(Default)]
pub struct PeerNames(HashMap<SockId, Peer>);

impl PeerNames {
    pub fn learn(&mut self, event: &Event) {
        let Some(peer) = event.actor.peer else { return };
        if let Some(socket) = &event.socket {
            self.0.entry(socket.clone()).or_insert(peer);
        }
        if let Body::CallEnd(CallEnd { new_socket: Some(new), .. }) = &event.body {
            self.0.entry(new.clone()).or_insert(peer);
        }
    }

    /// Every socket's program in a whole list of events.
    pub fn of(events: &[Event]) -> PeerNames {
        let mut names = PeerNames::default();
        for event in events {
            names.learn(event);
        }
        names
    }

    pub fn peer(&self, socket: &SockId) -> Option<Peer> {
        self.0.get(socket).copied()
    }

    /// A packet's end: `A:s1` when its socket's program is known, else the name as it is.
    pub fn end<'a>(&self, name: &'a str) -> Cow<'a, str> {
        // Most sessions have no peers: then no name is looked up.
        if self.0.is_empty() {
            return Cow::Borrowed(name);
        }
        match self.0.get(&SockId(name.into())) {
            Some(peer) => Cow::Owned(format!("{peer}:{name}")),
            None => Cow::Borrowed(name),
        }
    }
}

/// What leads a row of a peer's event: `A  `; nothing when programs have one role each.
pub fn peer_lead(event: &Event) -> String {
    event.actor.peer.map_or_else(String::new, |peer| format!("{peer}  "))
}

/// Who acted, in words: `client`, or `A client` in a session of peers.
pub fn actor_label(actor: &Actor) -> String {
    written(|out| write_actor_label(out, actor))
}

/// The same, at the end of `out`.
pub fn write_actor_label(out: &mut String, actor: &Actor) {
    let _ = match actor.peer {
        Some(peer) => write!(out, "{peer} {}", actor.role),
        None => write!(out, "{}", actor.role),
    };
}

/// A span of time in the unit that reads best. Short, for a column (how long a call took, a
/// connection lasted): `42 µs` below 10 ms, `12.3 ms` below 10 s, then `12.00 s`. Exact, for one event's detail, where the
/// microseconds matter: `42 µs`, `1.300 ms`, `2.010 s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    ns: u64,
    exact: bool,
}

impl Span {
    pub fn short(ns: u64) -> Span {
        Span { ns, exact: false }
    }

    pub fn exact(ns: u64) -> Span {
        Span { ns, exact: true }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short keeps whole microseconds up to 10 ms, where a tenth of a millisecond would
        // round away what a loopback call takes.
        let (micros_below, ms_decimals, s_decimals) = if self.exact { (1_000_000, 3, 3) } else { (10_000_000, 1, 2) };
        match self.ns {
            ns if ns < micros_below => write!(f, "{} µs", ns / 1_000),
            ns if ns < 1_000 * micros_below => write!(f, "{:.*} ms", ms_decimals, ns as f64 / 1e6),
            ns => write!(f, "{:.*} s", s_decimals, ns as f64 / 1e9),
        }
    }
}

/// A count and its noun, singular for one: `1 conversation`, `3 conversations`, `0 traces`.
/// The noun is one whose plural takes an `s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count<'a>(pub u64, pub &'a str);

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Count(n, noun) = *self;
        write!(f, "{n} {noun}{}", if n == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod span_tests {
    use super::Span;

    #[test]
    fn short_for_a_column_exact_for_a_detail() {
        let short = |ns| Span::short(ns).to_string();
        let exact = |ns| Span::exact(ns).to_string();
        assert_eq!(
            [short(42_000), short(1_300_000), short(9_999_999), short(12_340_000), short(2_010_000_000), short(12_000_000_000)],
            ["42 µs", "1300 µs", "9999 µs", "12.3 ms", "2010.0 ms", "12.00 s"]
        );
        assert_eq!([super::Count(1, "trace").to_string(), super::Count(0, "trace").to_string()], ["1 trace", "0 traces"]);
        assert_eq!([exact(42_000), exact(1_300_000), exact(12_340_000), exact(2_010_000_000)], ["42 µs", "1.300 ms", "12.340 ms", "2.010 s"]);
    }
}
