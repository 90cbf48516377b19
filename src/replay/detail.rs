//! The words of a replay step: one line as the terminal timeline writes it ([`wording`]), a short
//! label for a ladder diagram, and every field of the event for a detail view.

use crate::event::{Body, CallEnd, CallName, CallStart, Event, KernelNote, Origin, Packet, SockId, StateChange, TcpOptions, Transport};
use crate::state_path::{self, Row};
use crate::tcp::linux;
use crate::wording;

/// What a step says.
pub struct Words {
    pub text: String,
    pub label: String,
    pub from: Option<SockId>,
    pub to: Option<SockId>,
    pub detail: Detail,
}

/// Every field of a step for a detail view, as (name, value), kept in one piece of text: a
/// big trace has tens of thousands of steps of a dozen fields each, and a `String` per value
/// would cost more than the words themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Detail {
    text: Box<str>,
    /// Where each name, then its value, ends in `text`.
    ends: Box<[u32]>,
}

impl Detail {
    /// The fields in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let bound = |k: usize| self.ends.get(k).map_or(0, |&e| e as usize);
        (0..self.ends.len() / 2).map(move |f| {
            let (start, middle, end) = (if f == 0 { 0 } else { bound(2 * f - 1) }, bound(2 * f), bound(2 * f + 1));
            (&self.text[start..middle], &self.text[middle..end])
        })
    }
}

/// As the widget reads it: a list of `[name, value]` pairs.
impl serde::Serialize for Detail {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// The words of the step showing `events[first..=last]` (one event, or a call's start and end).
/// `label_modelled`: say "(modelled)" on modelled events (in a simulated trace, every event is).
/// `row`: a state change's row of its socket's path.
pub fn words(events: &[Event], first: usize, last: usize, label_modelled: bool, row: Option<&Row>) -> Words {
    let event = &events[first];
    let socket = event.socket.as_ref().or(events[last].socket.as_ref()).map(|s| s.0.as_str());
    let mut fields = Fields::default();
    fields.push("time", format!("{} after the trace's first event", wording::Span::exact(event.t.saturating_sub(events[0].t))));
    fields.push("side", event.actor.role.to_string());
    if let Some(peer) = event.actor.peer {
        fields.push("peer", peer.to_string());
    }
    fields.push(
        "origin",
        match event.origin {
            Origin::Observed => "observed on this machine".to_string(),
            Origin::Modelled => "modelled by the RFC 9293 model (not observed)".to_string(),
        },
    );
    fields.opt("pid", event.actor.pid);
    fields.opt("tid", event.actor.tid);
    let mut words = Words { text: String::new(), label: String::new(), from: None, to: None, detail: Detail::default() };
    match (&event.body, &events[last].body) {
        (Body::CallStart(start), Body::CallEnd(end)) if first != last => {
            words.text = wording::call_whole(start, end, socket);
            words.label = format!("{}({}) {}", start.call, target(start, socket), short_result(end));
            call_fields(&mut fields, start, socket);
            end_fields(&mut fields, end, Some(events[last].t.saturating_sub(event.t)));
        }
        (Body::CallStart(start), _) => {
            words.text = format!("{} …", wording::call_start(start, socket));
            words.label = format!("{}({}) …", start.call, target(start, socket));
            call_fields(&mut fields, start, socket);
        }
        (Body::CallEnd(end), _) => {
            let start = events[..first].iter().rev().find_map(|e| match &e.body {
                Body::CallStart(s) if s.id == end.id => Some((e.t, s)),
                _ => None,
            });
            words.text = wording::call_end(end, socket);
            words.label = format!("… {} {}", end.call, short_result(end));
            if let Some((_, start)) = start {
                call_fields(&mut fields, start, socket);
            }
            end_fields(&mut fields, end, start.map(|(t, _)| event.t.saturating_sub(t)));
        }
        (Body::Packet(packet), _) => {
            let (from, to) = wording::packet_ends(event.socket.as_ref().map(|s| s.0.as_str()), event.actor.role, packet);
            words.text = format!("{from} → {to} {}", packet_text(packet));
            words.label = packet_label(packet);
            words.from = event.socket.clone();
            words.to = packet.to.clone();
            packet_fields(&mut fields, packet, event.socket.as_ref());
        }
        (Body::State(change), _) => {
            let row = row.copied().unwrap_or_else(|| state_path::row_alone(change, event.origin));
            words.text = wording::state_row(&row, socket);
            words.label = format!("{} → {}", socket.unwrap_or("?"), row.to);
            state_fields(&mut fields, change, socket);
            fields.opt("Linux and RFC 9293", row.note());
        }
        (Body::Kernel(note), _) => {
            words.text = wording::kernel_note(note, socket);
            words.label = words.text.clone();
            kernel_fields(&mut fields, note, socket);
        }
        (Body::Process(change), _) => {
            words.text = wording::process_change(change, &wording::AsTraced);
            words.label = words.text.clone();
        }
    }
    if event.origin == Origin::Modelled && label_modelled {
        words.text.push_str(" (modelled)");
        words.label.push_str(" (modelled)");
    }
    words.detail = Detail { text: fields.text.into_boxed_str(), ends: fields.ends.into_boxed_slice() };
    words
}

/// A step's fields as they are gathered (see [`Detail`]).
#[derive(Default)]
struct Fields {
    text: String,
    ends: Vec<u32>,
}

impl Fields {
    fn push(&mut self, name: &'static str, value: impl AsRef<str>) {
        let value = value.as_ref();
        // A step's text stays within what its offsets count; no field of a readable trace
        // comes near (trace lines are bounded far below), but a field never cuts another.
        let value = if self.text.len() + name.len() + value.len() > u32::MAX as usize { "(too long to show)" } else { value };
        for part in [name, value] {
            self.text.push_str(part);
            self.ends.push(self.text.len() as u32);
        }
    }

    fn opt(&mut self, name: &'static str, value: Option<impl ToString>) {
        if let Some(v) = value {
            self.push(name, v.to_string());
        }
    }
}

fn target<'a>(start: &CallStart, socket: Option<&'a str>) -> &'a str {
    if start.call == CallName::Socket {
        ""
    } else {
        socket.unwrap_or("?")
    }
}

/// `= 0`, `= s2`, `= -1 ECONNREFUSED`.
fn short_result(end: &CallEnd) -> String {
    match (&end.errno, &end.new_socket) {
        (Some(errno), _) => format!("= -1 {}", errno.name),
        (None, Some(id)) => format!("= {id}"),
        (None, None) => format!("= {}", end.ret),
    }
}

fn call_fields(fields: &mut Fields, start: &CallStart, socket: Option<&str>) {
    fields.push("call", wording::call_start(start, socket));
    if start.call != CallName::Socket {
        fields.opt("socket", socket);
    }
    fields.opt("fd", start.fd);
    let a = &start.args;
    fields.opt("domain", a.domain.as_ref());
    fields.opt("type", a.ty.as_ref());
    fields.opt("address", a.addr);
    fields.opt("backlog", a.backlog);
    fields.opt(if start.verb() == crate::event::Verb::Recv { "buffer size" } else { "length" }, a.len);
    fields.opt("data", a.data.as_ref());
    fields.opt("how", a.how.as_ref());
    fields.opt("option", a.option.as_ref());
}

fn end_fields(fields: &mut Fields, end: &CallEnd, took: Option<u64>) {
    fields.push("result", wording::call_result(end));
    fields.push("returned", end.ret.to_string());
    fields.opt("errno", end.errno.as_ref().map(|e| format!("{} ({})", e.name, e.code)));
    fields.opt("new socket", end.new_socket.as_ref());
    fields.opt("local address", end.local);
    fields.opt("peer address", end.peer);
    fields.opt("data", end.data.as_ref());
    fields.opt("took", took.map(wording::Span::exact));
}

/// The packet as the timeline shows it: headline, options (unless only timestamps, which
/// ride on every segment once negotiated) and payload.
fn packet_text(packet: &Packet) -> String {
    let mut text = wording::packet_headline(packet);
    let options = wording::packet_options(packet);
    let only_ts = packet.tcp.as_ref().is_some_and(|t| t.options == TcpOptions { ts: t.options.ts, ..TcpOptions::default() });
    if !options.is_empty() && !only_ts {
        text.push(' ');
        text.push_str(&options);
    }
    if let Some(payload) = &packet.payload {
        text.push(' ');
        text.push_str(&payload.to_string());
    }
    if let Some(says) = wording::arp_says(packet) {
        text.push_str(": ");
        text.push_str(&says);
    }
    text
}

/// `SYN`, `ACK 7`, `PSH|ACK len 6`, `UDP len 6`.
fn packet_label(packet: &Packet) -> String {
    match &packet.tcp {
        Some(tcp) if packet.len > 0 => format!("{} len {}", tcp.flags, packet.len),
        Some(tcp) => tcp.flags.to_string(),
        None if packet.transport == Transport::Arp => wording::packet_headline(packet),
        None => format!("UDP len {}", packet.len),
    }
}

fn packet_fields(fields: &mut Fields, packet: &Packet, from: Option<&SockId>) {
    fields.push("transport", format!("{:?}", packet.transport).to_uppercase());
    fields.push("source", packet.src.to_string());
    fields.push("destination", packet.dst.to_string());
    fields.opt("from socket", from);
    fields.opt("to socket", packet.to.as_ref());
    if let Some(tcp) = &packet.tcp {
        fields.push("flags", tcp.flags.to_string());
        fields.push("seq (raw)", tcp.seq.to_string());
        fields.push("ack (raw)", tcp.ack.to_string());
        fields.opt("seq (relative)", tcp.rel_seq);
        fields.opt("ack (relative)", tcp.rel_ack);
        fields.push(
            "window",
            match tcp.win_shift {
                Some(shift) if shift > 0 => format!("{} bytes (the field {} × 2^{shift}, the scale its SYN offered)", tcp.window(), tcp.win),
                Some(_) => format!("{} bytes (not scaled)", tcp.win),
                None => tcp.win.to_string(),
            },
        );
        let o = &tcp.options;
        fields.opt("MSS", o.mss);
        fields.opt("window scale", o.wscale);
        if o.sack_ok {
            fields.push("SACK permitted", "yes");
        }
        fields.opt("timestamps", o.ts.map(|(val, ecr)| format!("TSval {val}, TSecr {ecr}")));
        let relative = tcp.relative_sack();
        for (k, (left, right)) in o.sack.iter().enumerate() {
            let counted = relative.as_ref().map_or(String::new(), |blocks| format!(" (relative {}:{})", blocks[k].0, blocks[k].1));
            fields.push("SACK block", format!("{left}:{right}{counted}"));
        }
        if o == &Default::default() {
            fields.push("options", "none");
        }
    }
    if let Some(arp) = &packet.arp {
        fields.push("ARP", format!("{:?}", arp.op).to_lowercase());
        fields.push("sender MAC", arp.sender_mac.as_str());
        fields.push("target MAC", arp.target_mac.as_str());
    }
    if let Some(eth) = &packet.eth {
        fields.push("Ethernet source", eth.src.as_str());
        fields.push("Ethernet destination", eth.dst.as_str());
    }
    fields.push("payload length", packet.len.to_string());
    fields.opt("payload", packet.payload.as_ref());
    fields.opt("dropped", packet.dropped.as_ref().map(|by| format!("✗ lost: dropped by {by} before the receiver got it")));
}

fn state_fields(fields: &mut Fields, change: &StateChange, socket: Option<&str>) {
    fields.opt("socket", socket);
    fields.push("from", change.from.to_string());
    fields.push("to", change.to.to_string());
    if let Some(model) = change.model {
        let note = match linux::explains(change.to, model) {
            None if model == change.to => "agrees".to_string(),
            Some(d) => format!("differs, as documented ({}): {}", d.id, d.linux),
            None => "differs, and no documented difference explains it".to_string(),
        };
        fields.push("RFC 9293 model expects", format!("{model} — {note}"));
    }
    fields.opt("local address", change.local);
    fields.opt("remote address", change.remote);
    fields.opt("kernel socket (sk)", change.sk.map(|sk| format!("{sk:#x}")));
}

fn kernel_fields(fields: &mut Fields, note: &KernelNote, socket: Option<&str>) {
    fields.opt("socket", socket);
    let (what, local, remote, sk, state) = match note {
        KernelNote::ResetSent { local, remote, sk } => ("reset sent", local, remote, sk, None),
        KernelNote::ResetReceived { local, remote, sk } => ("reset received", local, remote, sk, None),
        KernelNote::Retransmit { local, remote, sk, state } => ("retransmission", local, remote, sk, *state),
    };
    fields.push("kernel note", what);
    fields.push("local address", local.to_string());
    fields.push("remote address", remote.to_string());
    fields.opt("kernel socket (sk)", sk.map(|sk| format!("{sk:#x}")));
    fields.opt("state", state);
}
