//! The terminal timeline: a ladder with client | wire | server columns, one row per event,
//! in the order the events happened.
//!
//! ```text
//!    0.412 connect(c1, 127.0.0.1:40123) …     ┊                                           ┊
//!    0.431                                     ┊ c1 ─ SYN seq 0 win 65495 ────────────▶ s1 ┊
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};

use super::style::Style;
use super::text;
use super::Renderer;
use crate::event::{Body, CallStart, Event, Origin, Role, TcpOptions, Transport, Verb};
use crate::timeline::DatagramSockets;
use crate::trace::{End, Header, LensStatus};
use crate::wire::flags::TcpFlags;

const TIME_W: usize = 9;
const CLIENT_W: usize = 48;
const WIRE_W: usize = 48;

/// Where a learner looks for a TCP connection's opening and its end, a UDP trace has nothing;
/// these rows say so (they are the ladder's words, not events of the trace).
const NO_HANDSHAKE: &str = "UDP: no handshake, no connection, no states";
const NO_FIN: &str = "UDP: no FIN and no TIME-WAIT after close";

/// A call that returns within this long after it started, with nothing in between, is shown
/// on one row. Decided on trace time alone, so a saved trace shows the same rows.
const MERGE_NS: u64 = 2_000_000;

pub struct Ladder {
    style: Style,
    /// Label modelled rows: in a simulated trace the header already says every event is.
    label_modelled: bool,
    first: Option<u64>,
    pending: Option<Event>,
    /// Calls still running, with their start time, to name and time them on their end row.
    open: HashMap<u64, (u64, CallStart)>,
    datagram: DatagramSockets,
    /// Pairs of sockets that have exchanged a datagram: the first one gets [`NO_HANDSHAKE`].
    exchanged: HashSet<(String, String)>,
    /// In a session of peers: each socket's program, and whether the legend was shown.
    peers: text::PeerNames,
    legend_shown: bool,
}

impl Ladder {
    pub fn new(style: Style) -> Ladder {
        Ladder { style, label_modelled: true, first: None, pending: None, open: HashMap::new(), datagram: DatagramSockets::default(), exchanged: HashSet::new(), peers: text::PeerNames::default(), legend_shown: false }
    }

    /// Milliseconds since the first event, to the µs (in integers: this runs for every row).
    fn time(&mut self, t: u64) -> String {
        let first = *self.first.get_or_insert(t);
        let us = t.saturating_sub(first) / 1_000;
        let mut text = String::with_capacity(TIME_W + 4);
        let _ = write!(text, "{}.{:03}", us / 1_000, us % 1_000);
        format!("{text:>w$}", w = TIME_W)
    }

    fn row(&mut self, t: u64, role: Role, cell: &str, plain_len: usize, out: &mut dyn Write) -> io::Result<()> {
        let time = self.time(t);
        let bar = self.style.dim("┊");
        match role {
            Role::Server => writeln!(out, "{time} {} {bar} {} {bar} {cell}", " ".repeat(CLIENT_W), " ".repeat(WIRE_W)),
            _ => {
                let pad = CLIENT_W.saturating_sub(plain_len);
                writeln!(out, "{time} {cell}{} {bar} {} {bar}", " ".repeat(pad), " ".repeat(WIRE_W))
            }
        }
    }

    fn wire_row(&mut self, t: u64, cell: &str, plain_len: usize, out: &mut dyn Write) -> io::Result<()> {
        let time = self.time(t);
        let bar = self.style.dim("┊");
        let pad = WIRE_W.saturating_sub(plain_len);
        writeln!(out, "{time} {} {bar} {cell}{} {bar}", " ".repeat(CLIENT_W), " ".repeat(pad))
    }

    /// A text row beneath a packet, in the wire column and without a time.
    fn wire_detail(&mut self, detail: &str, out: &mut dyn Write) -> io::Result<()> {
        let bar = self.style.dim("┊");
        let shown = format!("   {detail}");
        let pad = WIRE_W.saturating_sub(shown.chars().count());
        writeln!(out, "{} {} {bar} {}{} {bar}", " ".repeat(TIME_W), " ".repeat(CLIENT_W), self.style.dim(&shown), " ".repeat(pad))
    }

    fn side_text(&mut self, event: &Event, plain: String, paint: impl Fn(Style, &str) -> String, out: &mut dyn Write) -> io::Result<()> {
        let plain = if event.origin == Origin::Modelled && self.label_modelled { format!("{plain} (modelled)") } else { plain };
        // A call or a process change names its process; a state change's pid is whoever held
        // the CPU when the kernel logged it, so it names none.
        let tag = match event.body {
            Body::CallStart(_) | Body::CallEnd(_) | Body::Process(_) => text::process_tag(&event.actor),
            _ => String::new(),
        };
        let plain = format!("{}{tag}{plain}", text::peer_lead(event));
        let cell = if event.origin == Origin::Modelled { self.style.modelled(&plain) } else { paint(self.style, &plain) };
        self.row(event.t, event.actor.role, &cell, plain.chars().count(), out)
    }

    fn draw(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        let socket = event.socket.as_ref().map(|s| s.0.as_str());
        match &event.body {
            Body::CallStart(start) => {
                self.open.insert(start.id, (event.t, start.clone()));
                let plain = format!("{} …", text::call_start(start, socket));
                self.side_text(event, plain, Style::call, out)
            }
            Body::CallEnd(end) => {
                let plain = match self.open.remove(&end.id) {
                    Some((started, _)) => format!("{}  [{}]", text::call_end(end, socket), duration(event.t.saturating_sub(started))),
                    None => text::call_end(end, socket),
                };
                self.side_text(event, plain, Style::call, out)
            }
            Body::State(change) => self.side_text(event, text::state_change(change, socket), Style::state, out),
            Body::Kernel(note) => self.side_text(event, text::kernel_note(note, socket), Style::state, out),
            Body::Process(change) => self.side_text(event, text::process_change(change, &text::AsTraced), Style::state, out),
            Body::Packet(packet) => {
                let headline = text::packet_headline(packet);
                let modelled = if event.origin == Origin::Modelled && self.label_modelled { " (modelled)" } else { "" };
                let rightward = event.actor.role != Role::Server;
                let (from, to) = text::packet_ends(socket, event.actor.role, packet);
                let (from, to) = (self.peers.end(from), self.peers.end(to));
                let (left, right) = if rightward { (from, to) } else { (to, from) };
                if packet.transport == Transport::Udp && self.exchanged.insert((left.to_string(), right.to_string())) {
                    self.wire_detail(NO_HANDSHAKE, out)?;
                }
                let inner = format!(" {headline}{modelled} ");
                let fixed = left.chars().count() + right.chars().count() + inner.chars().count() + 4;
                let fill = "─".repeat(WIRE_W.saturating_sub(fixed).max(2));
                let plain = if rightward { format!("{left} ─{inner}{fill}▶ {right}") } else { format!("{left} ◀{fill}{inner}─ {right}") };
                let reset = packet.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::RST));
                let cell = if event.origin == Origin::Modelled { self.style.modelled(&plain) } else { self.style.packet(&plain, reset) };
                self.wire_row(event.t, &cell, plain.chars().count(), out)?;
                // Timestamps ride on every segment once negotiated: options get a row of their
                // own only when there is more to them than that.
                let options = text::packet_options(packet);
                let only_ts = packet.tcp.as_ref().is_some_and(|t| t.options == TcpOptions { ts: t.options.ts, ..TcpOptions::default() });
                if !options.is_empty() && !only_ts {
                    self.wire_detail(&options, out)?;
                }
                if let Some(payload) = &packet.payload {
                    self.wire_detail(&payload.to_string(), out)?;
                }
                if let Some(says) = text::arp_says(packet) {
                    self.wire_detail(&says, out)?;
                }
                if let Some(by) = &packet.dropped {
                    self.wire_detail(&format!("✗ dropped by {by}"), out)?;
                }
                Ok(())
            }
        }
    }

    /// One event's rows: a call's start is held back to share a row with its end.
    fn show(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        if let Some(pending) = self.pending.take() {
            let merged = match (&pending.body, &event.body) {
                (Body::CallStart(start), Body::CallEnd(end)) => start.id == end.id && event.t.saturating_sub(pending.t) <= MERGE_NS,
                _ => false,
            };
            if merged {
                if let (Body::CallStart(start), Body::CallEnd(end)) = (&pending.body, &event.body) {
                    let socket = event.socket.as_ref().or(pending.socket.as_ref()).map(|s| s.0.as_str());
                    let plain = text::call_whole(start, end, socket);
                    return self.side_text(&pending, plain, Style::call, out);
                }
            }
            self.draw(&pending, out)?;
        }
        if matches!(event.body, Body::CallStart(_)) {
            self.pending = Some(event.clone());
            return Ok(());
        }
        self.draw(event, out)
    }

    fn flush_pending(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match self.pending.take() {
            Some(start) => self.draw(&start, out),
            None => Ok(()),
        }
    }
}

/// How long a call took, in the unit that reads best: `42 µs`, `1.3 ms`, `2.01 s`.
pub(crate) fn duration(ns: u64) -> String {
    match ns {
        0..=9_999_999 => format!("{} µs", ns / 1_000),
        10_000_000..=9_999_999_999 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

impl Renderer for Ladder {
    fn header(&mut self, header: &Header, out: &mut dyn Write) -> io::Result<()> {
        let lens = |name: &str, status: &LensStatus| match status {
            LensStatus::Observed => format!("{name} observed"),
            LensStatus::Modelled => format!("{name} modelled"),
            LensStatus::Unavailable { .. } => format!("{name} unavailable"),
        };
        let l = &header.lenses;
        self.label_modelled = header.source != crate::trace::Source::Simulated;
        let source = match header.source {
            crate::trace::Source::Live => "live",
            crate::trace::Source::Simulated => "simulated by the RFC 9293 model",
            crate::trace::Source::Imported => "imported from a capture",
        };
        writeln!(
            out,
            "{}",
            self.style.bold(&format!(
                "{} · {source} · {}, {}, {}",
                header.command,
                lens("calls", &l.calls),
                lens("packets", &l.packets),
                lens("states", &l.states)
            ))
        )?;
        for status in [&l.calls, &l.packets, &l.states] {
            if let LensStatus::Unavailable { reason } = status {
                writeln!(out, "  {}", self.style.dim(reason))?;
            }
        }
        let bar = self.style.dim("┊");
        writeln!(out, "{:>w$} {:<cw$} {bar} {:<ww$} {bar} server", "ms", "client", "wire", w = TIME_W, cw = CLIENT_W, ww = WIRE_W)
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        if event.actor.peer.is_some() && !self.legend_shown {
            self.legend_shown = true;
            let legend = "peers: each row names its program; a program stands in the client column on the connection it made, in the server column on the one it accepted";
            writeln!(out, "{}", self.style.dim(legend))?;
        }
        self.peers.learn(event);
        self.datagram.learn(event);
        self.show(event, out)?;
        let closed_datagram = matches!(&event.body, Body::CallEnd(end) if end.call.verb() == Verb::Close && end.errno.is_none());
        if closed_datagram && event.socket.as_ref().is_some_and(|s| self.datagram.contains(s)) {
            self.wire_detail(NO_FIN, out)?;
        }
        Ok(())
    }

    fn idle(&mut self, watermark: u64, out: &mut dyn Write) -> io::Result<()> {
        if self.pending.as_ref().is_some_and(|p| watermark > p.t.saturating_add(MERGE_NS)) {
            self.flush_pending(out)?;
        }
        Ok(())
    }

    fn end(&mut self, end: Option<&End>, out: &mut dyn Write) -> io::Result<()> {
        self.flush_pending(out)?;
        match end {
            Some(end) => {
                let mut line = format!(
                    "— {} events · packets dropped by the kernel: {} · state events lost: {}",
                    end.events, end.packets_dropped, end.states_lost
                );
                if end.out_of_order > 0 {
                    line.push_str(&format!(" · {} events arrived late and stand out of time order", end.out_of_order));
                }
                for mechanism in &end.untraced {
                    line.push_str(&format!(" · NOT TRACED: what went through {mechanism}"));
                }
                writeln!(out, "{}", self.style.dim(&line))
            }
            None => writeln!(out, "{}", self.style.dim("— the trace ends without its end record: it was interrupted")),
        }
    }
}
