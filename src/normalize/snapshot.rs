//! The snapshot text of a trace: one event per line, in the canonical order, with nothing that
//! changes from run to run of the same programs: sockets by name, addresses by the socket they
//! belong to (`SERVER` for the listening address), no descriptors, pids or times, sequence
//! numbers relative to each side's ISN. Made to be read in a diff and to be handed to insta.
//!
//! Pure ACKs of data that the same side's next segment acknowledges again are left out too
//! (see [`super::acks`]): whether the kernel sends them is a matter of its timers.
//!
//! Windows and options are left out: they depend on the machine (Linux scales its window to
//! its memory), and a snapshot recorded by a student must match on the grader's machine.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use super::acks::repeated_acks;
use super::order::canonical_order;
use crate::event::{Body, CallName, Event, Origin, ProcessChange, Transport};
use crate::render::text;
use crate::trace::{LensStatus, Trace};
use crate::wire::flags::TcpFlags;

impl Trace {
    /// The snapshot text (see [`snapshot`]), for `insta::assert_snapshot!`.
    pub fn snapshot(&self) -> String {
        snapshot(self)
    }
}

/// The snapshot text of a whole trace.
pub fn snapshot(trace: &Trace) -> String {
    let lens = |status: &LensStatus| match status {
        LensStatus::Observed => "observed",
        LensStatus::Modelled => "modelled",
        LensStatus::Unavailable { .. } => "unavailable",
    };
    let l = &trace.header.lenses;
    let mut out = format!("# socktrace snapshot · calls {} · packets {} · states {}\n", lens(&l.calls), lens(&l.packets), lens(&l.states));
    out.push_str(&snapshot_events(&trace.events));
    out
}

/// The snapshot lines of a list of events.
pub fn snapshot_events(events: &[Event]) -> String {
    let mut out = String::new();
    for (line, _) in snapshot_lines(events) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The snapshot lines, each with the index of the (first) event it shows.
pub fn snapshot_lines(events: &[Event]) -> Vec<(String, usize)> {
    let events = super::names::Renames::of(events).apply(events);
    let events = &events[..];
    let names = address_names(events);
    let peers = text::PeerNames::of(events);
    let repeated = repeated_acks(events);
    // A process change that names no socket (a launcher's `exec`, a helper's exit) says
    // nothing of a socket's life, and names programs that differ from machine to machine.
    let about_sockets = |i: &usize| !matches!(&events[*i].body, Body::Process(change) if change.sockets().next().is_none() && !matches!(change, ProcessChange::Untraced { .. }));
    let order: Vec<usize> = canonical_order(events).into_iter().filter(|i| !repeated.contains(i)).filter(about_sockets).collect();
    let mut out = Vec::with_capacity(events.len());
    let mut k = 0;
    while k < order.len() {
        let event = &events[order[k]];
        // A call whose end comes right after its start reads as one line.
        if let (Body::CallStart(start), Some(Body::CallEnd(end))) = (&event.body, order.get(k + 1).map(|&j| &events[j].body)) {
            if start.id == end.id {
                let socket = events[order[k + 1]].socket.as_ref().or(event.socket.as_ref()).map(|s| s.0.as_str());
                let line = text::call_whole(start, end, socket);
                out.push((format!("{}{}", role(event), names.rename(&line)), order[k]));
                k += 2;
                continue;
            }
        }
        let socket = event.socket.as_ref().map(|s| s.0.as_str());
        let line = match &event.body {
            Body::CallStart(start) => format!("{}{} …", role(event), names.rename(&text::call_start(start, socket))),
            Body::CallEnd(end) => format!("{}{}", role(event), names.rename(&text::call_end(end, socket))),
            Body::State(change) => format!("        {}{}", text::state_change(change, socket), modelled(event)),
            Body::Kernel(note) => format!("        {}{}", text::kernel_note(note, socket), modelled(event)),
            Body::Process(change) => format!("{}{}", role(event), text::process_change(change, false)),
            Body::Packet(packet) => {
                let (from, to) = text::packet_ends(socket, event.actor.role, packet);
                let (from, to) = (peers.end(from), peers.end(to));
                let mut line = format!("  {from} > {to}  ");
                match &packet.tcp {
                    // The addresses ARP names are the same on every run of `--hosts`.
                    None if packet.transport == Transport::Arp => line.push_str(&text::packet_headline(packet)),
                    Some(tcp) => {
                        line.push_str(&tcp.flags.to_string());
                        let carries_seq = packet.len > 0 || [TcpFlags::SYN, TcpFlags::FIN, TcpFlags::RST].iter().any(|f| tcp.flags.contains(*f));
                        if carries_seq {
                            let _ = write!(line, " seq {}", tcp.rel_seq.unwrap_or(tcp.seq));
                        }
                        if tcp.flags.contains(TcpFlags::ACK) {
                            let _ = write!(line, " ack {}", tcp.rel_ack.unwrap_or(tcp.ack));
                        }
                    }
                    None => line.push_str("UDP"),
                }
                if packet.len > 0 {
                    let _ = write!(line, " len {}", packet.len);
                }
                if let Some(payload) = &packet.payload {
                    let _ = write!(line, " {payload}");
                }
                if packet.dropped.is_some() {
                    line.push_str(" ✗ lost");
                }
                line.push_str(modelled(event));
                line
            }
        };
        out.push((line.trim_end().to_string(), order[k]));
        k += 1;
    }
    out
}

/// Who made the call, padded to the calls' column: `client`, or `A client` for a peer.
fn role(event: &Event) -> String {
    format!("{:<7} ", text::actor_label(&event.actor))
}

fn modelled(event: &Event) -> &'static str {
    if event.origin == Origin::Modelled {
        " (modelled)"
    } else {
        ""
    }
}

/// Names for the addresses a trace shows: the listening address is `SERVER`, a connected or
/// datagram socket's own address is its name.
struct AddressNames {
    names: HashMap<SocketAddr, String>,
}

impl AddressNames {
    /// The name of `addr`, or of the wildcard address on its port: a socket bound to the
    /// wildcard (a datagram socket bound by its first sendto, say) takes every local address.
    fn name(&self, addr: SocketAddr) -> Option<&String> {
        self.names.get(&addr).or_else(|| self.names.get(&crate::timeline::sockets::wildcard(addr)))
    }

    /// Replaces every address in `text` that has a name, in one pass over the text: each run
    /// of the characters an address is written with is looked up as a whole.
    fn rename(&self, text: &str) -> String {
        let is_addr_char = |c: char| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']');
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_addr_char) {
            out.push_str(&rest[..start]);
            let run = &rest[start..];
            let len = run.find(|c: char| !is_addr_char(c)).unwrap_or(run.len());
            let token = &run[..len];
            // `[127.0.0.1:80]` is an address in brackets; `[::1]:80` is an address.
            let (open, inner, close) = match token.parse::<SocketAddr>() {
                Ok(_) => ("", token, ""),
                Err(_) => {
                    let inner = token.strip_prefix('[').unwrap_or(token);
                    let inner = inner.strip_suffix(']').unwrap_or(inner);
                    (if inner.len() < token.len() && token.starts_with('[') { "[" } else { "" }, inner, if token.ends_with(']') && inner.len() < token.len() { "]" } else { "" })
                }
            };
            out.push_str(open);
            match inner.parse::<SocketAddr>().ok().and_then(|a| self.name(a)) {
                Some(name) => out.push_str(name),
                None => out.push_str(inner),
            }
            out.push_str(close);
            rest = &run[len..];
        }
        out.push_str(rest);
        strip_fds(&out)
    }
}

/// Descriptor numbers depend on what the process had open: `= s2 (fd 17)` becomes `= s2`.
fn strip_fds(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" (fd ") {
        out.push_str(&rest[..at]);
        match rest[at..].find(')') {
            Some(close) => rest = &rest[at + close + 1..],
            None => {
                rest = &rest[at..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn address_names(events: &[Event]) -> AddressNames {
    let mut names: HashMap<SocketAddr, String> = HashMap::new();
    let mut listening = std::collections::HashSet::new();
    for event in events {
        match &event.body {
            Body::CallStart(start) if start.call == CallName::Listen => listening.extend(event.socket.clone()),
            Body::CallEnd(end) => {
                let Some(local) = end.local.filter(|l| l.port() != 0) else { continue };
                match (end.call, &event.socket) {
                    (CallName::Bind, Some(socket)) => {
                        names.insert(local, socket.0.clone());
                    }
                    (CallName::Connect, Some(socket)) => {
                        names.insert(local, socket.0.clone());
                    }
                    // A datagram socket that never bound is given its address by its first sendto.
                    (CallName::Sendto, Some(socket)) => {
                        names.entry(local).or_insert_with(|| socket.0.clone());
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    // The listening socket's address is the server's address, whatever socket it names; in a
    // session of peers, each peer's (`SERVER_A`).
    for event in events {
        if let Body::CallEnd(end) = &event.body {
            if end.call == CallName::Bind && event.socket.as_ref().is_some_and(|s| listening.contains(s)) {
                if let Some(local) = end.local {
                    let name = event.actor.peer.map_or_else(|| "SERVER".to_string(), |peer| format!("SERVER_{peer}"));
                    names.insert(local, name);
                }
            }
        }
    }
    AddressNames { names }
}
