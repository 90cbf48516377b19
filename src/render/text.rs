//! Plain words for calls, packets and state changes, shared by every text renderer.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::event::{Actor, Arp, ArpOp, Body, CallEnd, CallName, CallStart, Event, KernelNote, Packet, Peer, Role, SockId, StateChange, Transport};
use crate::tcp::linux;
use crate::wire::flags::TcpFlags;

fn target(socket: Option<&str>, fd: Option<i32>) -> String {
    match (socket, fd) {
        (Some(s), _) => s.to_string(),
        (None, Some(fd)) => format!("fd {fd}"),
        (None, None) => "?".to_string(),
    }
}

/// The call as written in a program: `connect(c1, 127.0.0.1:4000)`.
pub fn call_start(start: &CallStart, socket: Option<&str>) -> String {
    let a = &start.args;
    let s = target(socket, start.fd);
    match start.call {
        CallName::Socket => format!("socket({}, {})", a.domain.as_deref().unwrap_or("?"), a.ty.as_deref().unwrap_or("?")),
        CallName::Bind | CallName::Connect => {
            format!("{}({s}, {})", start.call, a.addr.map_or("?".to_string(), |x| x.to_string()))
        }
        CallName::Listen => format!("listen({s}, {})", a.backlog.unwrap_or(0)),
        CallName::Send | CallName::Sendto => match (&a.data, a.addr) {
            (Some(d), Some(to)) => format!("{}({s}, {d}, {to})", start.call),
            (Some(d), None) => format!("{}({s}, {d})", start.call),
            (None, _) => format!("{}({s}, {} bytes)", start.call, a.len.unwrap_or(0)),
        },
        CallName::Recv | CallName::Recvfrom => format!("{}({s}, {})", start.call, a.len.unwrap_or(0)),
        CallName::Shutdown => format!("shutdown({s}, {})", a.how.as_deref().unwrap_or("?")),
        CallName::Setsockopt => format!("setsockopt({s}, {}, 1)", a.option.as_deref().unwrap_or("?")),
        CallName::Accept | CallName::Close => format!("{}({s})", start.call),
    }
}

/// The result: `= 0`, `= s2 (fd 10) from 127.0.0.1:5000`, `= -1 ECONNREFUSED`.
pub fn call_result(end: &CallEnd) -> String {
    if let Some(errno) = &end.errno {
        return format!("= -1 {}", errno.name);
    }
    let mut text = match &end.new_socket {
        Some(id) => format!("= {id} (fd {})", end.ret),
        None => format!("= {}", end.ret),
    };
    match end.call {
        CallName::Bind => {
            if let Some(local) = end.local {
                let _ = write!(text, " [{local}]");
            }
        }
        CallName::Accept | CallName::Recvfrom => {
            if let Some(peer) = end.peer {
                let _ = write!(text, " from {peer}");
            }
        }
        CallName::Connect => {
            if let Some(local) = end.local {
                let _ = write!(text, " [from {local}]");
            }
        }
        _ => {}
    }
    if let Some(data) = &end.data {
        let _ = write!(text, " {data}");
    }
    text
}

/// The return of a call shown apart from its start: `… connect(c1) = 0`. (`socket()` has no
/// socket to name until it returns one.)
pub fn call_end(end: &CallEnd, socket: Option<&str>) -> String {
    let target = if end.call == CallName::Socket { "" } else { socket.unwrap_or("?") };
    format!("… {}({target}) {}", end.call, call_result(end))
}

/// A call that returned right away, on one line: `listen(s1, 128) = 0`.
pub fn call_whole(start: &CallStart, end: &CallEnd, socket: Option<&str>) -> String {
    format!("{} {}", call_start(start, socket), call_result(end))
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
    let mut text = tcp.flags.to_string();
    let carries_seq = packet.len > 0 || tcp.flags.contains(TcpFlags::SYN) || tcp.flags.contains(TcpFlags::FIN) || tcp.flags.contains(TcpFlags::RST);
    if carries_seq {
        let _ = write!(text, " seq {}", tcp.rel_seq.unwrap_or(tcp.seq));
    }
    if tcp.flags.contains(TcpFlags::ACK) {
        let _ = write!(text, " ack {}", tcp.rel_ack.unwrap_or(tcp.ack));
    }
    let _ = write!(text, " win {}", tcp.win);
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
    match packet.arp.as_ref()? {
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
    for (l, r) in &o.sack {
        parts.push(format!("sack {l}:{r}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("<{}>", parts.join(","))
    }
}

/// `c1: CLOSED → SYN-SENT`, and beside it what the model expects: `= model` when it agrees,
/// `model: TIME-WAIT (time-wait-unreported)` when it does not.
pub fn state_change(change: &StateChange, socket: Option<&str>) -> String {
    let mut text = format!("{}: {} → {}", socket.unwrap_or("?"), change.from, change.to);
    match change.model {
        Some(model) if model == change.to => text.push_str("  = model"),
        Some(model) => {
            let _ = write!(text, "  model: {model}");
            match linux::explains(change.to, model) {
                Some(difference) => {
                    let _ = write!(text, " ({})", difference.id);
                }
                None => text.push_str(" (differs!)"),
            }
        }
        None => {}
    }
    text
}

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
    pub fn end(&self, name: &str) -> String {
        match self.0.get(&SockId(name.to_string())) {
            Some(peer) => format!("{peer}:{name}"),
            None => name.to_string(),
        }
    }
}

/// What leads a row of a peer's event: `A  `; nothing when programs have one role each.
pub fn peer_lead(event: &Event) -> String {
    event.actor.peer.map_or_else(String::new, |peer| format!("{peer}  "))
}

/// Who acted, in words: `client`, or `A client` in a session of peers.
pub fn actor_label(actor: &Actor) -> String {
    match actor.peer {
        Some(peer) => format!("{peer} {}", actor.role),
        None => actor.role.to_string(),
    }
}
