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

use super::acks::repeated_acks;
use super::blocks::blocks;
use super::fold::fold;
use super::names::Renames;
use super::order::canonical_order;
use crate::event::{Body, CallEnd, Event, Origin, SockId, Transport};
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

/// The snapshot lines, each with the index of the (first) event it shows: the kept events
/// ([`super::fold`]), block by block ([`super::blocks`]), each block in the canonical order
/// ([`super::order`]), named as [`Renames`] names them.
pub fn snapshot_lines(events: &[Event]) -> Vec<(String, usize)> {
    let names = Renames::of(events);
    let folded = fold(events);
    let repeated = repeated_acks(events);
    let mut keep = folded.keep;
    for &i in &repeated {
        keep[i] = false;
    }
    let mut out = Vec::with_capacity(events.len());
    for block in blocks(events, &keep, &names) {
        let local: Vec<&Event> = block.iter().map(|&i| &events[i]).collect();
        let order: Vec<usize> = canonical_order(&local, &names).into_iter().map(|k| block[k]).collect();
        lines(events, &order, &names, &folded.joined, &mut out);
    }
    out
}

/// The lines of events `order`, in that order.
fn lines(events: &[Event], order: &[usize], names: &Renames, joined: &HashMap<usize, CallEnd>, out: &mut Vec<(String, usize)>) {
    let name = |socket: Option<&SockId>| socket.map(|s| names.socket_name(s).0);
    let end_of = |i: usize| match &events[i].body {
        Body::CallEnd(end) => Some(joined.get(&i).unwrap_or(end)),
        _ => None,
    };
    let mut k = 0;
    while k < order.len() {
        let event = &events[order[k]];
        // A call whose end comes right after its start reads as one line.
        if let (Body::CallStart(start), Some(end)) = (&event.body, order.get(k + 1).and_then(|&j| end_of(j))) {
            if start.id == end.id {
                let socket = name(events[order[k + 1]].socket.as_ref().or(event.socket.as_ref()));
                out.push((format!("{}{}", role(event), text::call_whole_named(start, end, socket.as_deref(), names)), order[k]));
                k += 2;
                continue;
            }
        }
        let socket = name(event.socket.as_ref());
        let socket = socket.as_deref();
        let line = match &event.body {
            Body::CallStart(start) => format!("{}{} …", role(event), text::call_start_named(start, socket, names)),
            Body::CallEnd(_) => format!("{}{}", role(event), text::call_end_named(end_of(order[k]).expect("a call end"), socket, names)),
            Body::State(change) => format!("        {}{}", text::state_change(change, socket), modelled(event)),
            Body::Kernel(note) => format!("        {}{}", text::kernel_note(note, socket), modelled(event)),
            Body::Process(change) => format!("{}{}", role(event), text::process_change(change, names)),
            Body::Packet(packet) => {
                let to = name(packet.to.as_ref());
                let (from, to) = match packet.transport {
                    Transport::Arp => text::packet_ends(socket, event.actor.role, packet),
                    _ => (socket.unwrap_or("?"), to.as_deref().unwrap_or("?")),
                };
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
