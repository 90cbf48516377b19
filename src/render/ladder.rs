//! The terminal timeline: a ladder with client | wire | server columns, one row per event,
//! in the order the events happened.
//!
//! ```text
//!    0.412 connect(c1, 127.0.0.1:40123) …     ┊                                           ┊
//!    0.431                                     ┊ c1 ─ SYN seq 0 win 65495 ────────────▶ s1 ┊
//! ```

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use super::style::{self, Style};
use super::Renderer;
use crate::event::{Body, Event, Origin, Role, TcpOptions, Transport, Verb};
use crate::hash::FastMap;
use crate::tcp::flags::TcpFlags;
use crate::timeline::DatagramSockets;
use crate::trace::{End, Header, LensStatus};
use crate::wording;

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
    /// When each call still running started, to time it on its end row.
    open: FastMap<u64, u64>,
    datagram: DatagramSockets,
    /// Pairs of sockets that have exchanged a datagram: the first one gets [`NO_HANDSHAKE`].
    exchanged: HashSet<(String, String)>,
    /// In a session of peers: each socket's program, and whether the legend was shown.
    peers: wording::PeerNames,
    legend_shown: bool,
    /// The row being drawn: each row is built here and written at once, with nothing
    /// allocated for its parts.
    line: String,
}

/// A run of `n` spaces (or rule characters), written in place, whole slices at a time.
struct Run {
    /// One character, repeated.
    of: &'static str,
    n: usize,
}

const SPACES: &str = "                                                                ";
const RULE: &str = "────────────────────────────────────────────────────────────────";

fn spaces(n: usize) -> Run {
    Run { of: SPACES, n }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.of.chars().next().map_or(1, char::len_utf8);
        let mut left = self.n;
        while left > 0 {
            let take = left.min(self.of.len() / width);
            f.write_str(&self.of[..take * width])?;
            left -= take;
        }
        Ok(())
    }
}

impl Ladder {
    pub fn new(style: Style) -> Ladder {
        Ladder {
            style,
            label_modelled: true,
            first: None,
            pending: None,
            open: FastMap::default(),
            datagram: DatagramSockets::default(),
            exchanged: HashSet::new(),
            peers: wording::PeerNames::default(),
            legend_shown: false,
            line: String::with_capacity(256),
        }
    }

    /// Starts a row with its time: milliseconds since the first event, to the µs (in
    /// integers: this runs for every row), right-aligned.
    fn start_row(&mut self, t: u64) {
        let first = *self.first.get_or_insert(t);
        let us = t.saturating_sub(first) / 1_000;
        let (ms, frac) = (us / 1_000, us % 1_000);
        let width = ms.checked_ilog10().map_or(1, |d| d as usize + 1) + 4;
        self.line.clear();
        let _ = write!(self.line, "{}{ms}.{frac:03} ", spaces(TIME_W.saturating_sub(width)));
    }

    /// Starts a row without a time, beneath the one before.
    fn start_detail_row(&mut self) {
        self.line.clear();
        let _ = write!(self.line, "{} ", spaces(TIME_W));
    }

    /// The column separator.
    fn bar(&mut self) {
        self.style.paint_into(style::DIM, format_args!("┊"), &mut self.line);
    }

    /// The empty client column (and the space after it).
    fn empty_client(&mut self) {
        let _ = write!(self.line, "{} ", spaces(CLIENT_W));
    }

    fn end_row(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.line.push('\n');
        out.write_all(self.line.as_bytes())
    }

    /// A row in the client or the server column, painted with `code`.
    fn side_row(&mut self, t: u64, role: Role, code: style::Paint, cell: fmt::Arguments, out: &mut dyn Write) -> io::Result<()> {
        self.start_row(t);
        match role {
            Role::Server => {
                self.empty_client();
                self.bar();
                let _ = write!(self.line, " {} ", spaces(WIRE_W));
                self.bar();
                self.line.push(' ');
                self.style.paint_into(code, cell, &mut self.line);
            }
            _ => {
                let width = self.style.paint_into(code, cell, &mut self.line);
                let _ = write!(self.line, "{} ", spaces(CLIENT_W.saturating_sub(width)));
                self.bar();
                let _ = write!(self.line, " {} ", spaces(WIRE_W));
                self.bar();
            }
        }
        self.end_row(out)
    }

    /// A row in the wire column, painted with `code`.
    fn wire_row(&mut self, t: u64, code: style::Paint, cell: fmt::Arguments, out: &mut dyn Write) -> io::Result<()> {
        self.start_row(t);
        self.wire_cell(code, cell, out)
    }

    /// A text row beneath a packet, in the wire column and without a time.
    fn wire_detail(&mut self, detail: impl fmt::Display, out: &mut dyn Write) -> io::Result<()> {
        self.start_detail_row();
        self.wire_cell(style::DIM, format_args!("   {detail}"), out)
    }

    fn wire_cell(&mut self, code: style::Paint, cell: fmt::Arguments, out: &mut dyn Write) -> io::Result<()> {
        self.empty_client();
        self.bar();
        self.line.push(' ');
        let width = self.style.paint_into(code, cell, &mut self.line);
        let _ = write!(self.line, "{} ", spaces(WIRE_W.saturating_sub(width)));
        self.bar();
        self.end_row(out)
    }

    /// A call, state or process change in its side's column: `text` after the peer's letter
    /// and the process, in colour `code` (modelled ones in theirs, and labelled).
    fn side_text(&mut self, event: &Event, text: fmt::Arguments, code: style::Paint, out: &mut dyn Write) -> io::Result<()> {
        let modelled = event.origin == Origin::Modelled;
        let label = if modelled && self.label_modelled { " (modelled)" } else { "" };
        let code = if modelled { style::MODELLED } else { code };
        // A call or a process change names its process; a state change's pid is whoever held
        // the CPU when the kernel logged it, so it names none.
        let lead = wording::peer_lead(event);
        let role = event.actor.role;
        match event.body {
            Body::CallStart(_) | Body::CallEnd(_) | Body::Process(_) => {
                let tag = wording::process_tag(&event.actor);
                self.side_row(event.t, role, code, format_args!("{lead}{tag}{text}{label}"), out)
            }
            _ => self.side_row(event.t, role, code, format_args!("{lead}{text}{label}"), out),
        }
    }

    fn draw(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        let socket = event.socket.as_ref().map(|s| s.0.as_str());
        match &event.body {
            Body::CallStart(start) => {
                self.open.insert(start.id, event.t);
                self.side_text(event, format_args!("{} …", wording::call_start(start, socket)), style::CALL, out)
            }
            Body::CallEnd(end) => match self.open.remove(&end.id) {
                Some(started) => {
                    let took = wording::Span::short(event.t.saturating_sub(started));
                    self.side_text(event, format_args!("{}  [{took}]", wording::call_end(end, socket)), style::CALL, out)
                }
                None => self.side_text(event, format_args!("{}", wording::call_end(end, socket)), style::CALL, out),
            },
            Body::State(change) => self.side_text(event, format_args!("{}", wording::state_change(change, socket)), style::STATE, out),
            Body::Kernel(note) => self.side_text(event, format_args!("{}", wording::kernel_note(note, socket)), style::STATE, out),
            Body::Process(change) => self.side_text(event, format_args!("{}", wording::process_change(change, &wording::AsTraced)), style::STATE, out),
            Body::Packet(packet) => {
                let headline = wording::packet_headline(packet);
                let modelled = if event.origin == Origin::Modelled && self.label_modelled { " (modelled)" } else { "" };
                let rightward = event.actor.role != Role::Server;
                let (from, to) = wording::packet_ends(socket, event.actor.role, packet);
                let (from, to) = (self.peers.end(from), self.peers.end(to));
                let (left, right) = if rightward { (from, to) } else { (to, from) };
                if packet.transport == Transport::Udp && self.exchanged.insert((left.to_string(), right.to_string())) {
                    self.wire_detail(NO_HANDSHAKE, out)?;
                }
                // The arrow fills the column: ` ─ {inner} ───▶ ` between the two ends.
                let inner_width = headline.chars().count() + modelled.chars().count() + 2;
                let fixed = left.chars().count() + right.chars().count() + inner_width + 4;
                let fill = Run { of: RULE, n: WIRE_W.saturating_sub(fixed).max(2) };
                let reset = packet.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::RST));
                let code = match (event.origin, reset) {
                    (Origin::Modelled, _) => style::MODELLED,
                    (_, true) => style::RESET_PACKET,
                    (_, false) => style::PACKET,
                };
                if rightward {
                    self.wire_row(event.t, code, format_args!("{left} ─ {headline}{modelled} {fill}▶ {right}"), out)?;
                } else {
                    self.wire_row(event.t, code, format_args!("{left} ◀{fill} {headline}{modelled} ─ {right}"), out)?;
                }
                // Timestamps ride on every segment once negotiated: options get a row of their
                // own only when there is more to them than that.
                let only_ts = packet.tcp.as_ref().is_some_and(|t| t.options == TcpOptions { ts: t.options.ts, ..TcpOptions::default() });
                if !only_ts {
                    let options = wording::packet_options(packet);
                    if !options.is_empty() {
                        self.wire_detail(options, out)?;
                    }
                }
                if let Some(payload) = &packet.payload {
                    self.wire_detail(payload, out)?;
                }
                if let Some(says) = wording::arp_says(packet) {
                    self.wire_detail(says, out)?;
                }
                if let Some(by) = &packet.dropped {
                    self.wire_detail(format_args!("✗ dropped by {by}"), out)?;
                }
                Ok(())
            }
        }
    }

    /// One event's rows: a call's start is held back to share a row with its end.
    fn show(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        if let Some(pending) = self.pending.take() {
            if let (Body::CallStart(start), Body::CallEnd(end)) = (&pending.body, &event.body) {
                if start.id == end.id && event.t.saturating_sub(pending.t) <= MERGE_NS {
                    let socket = event.socket.as_ref().or(pending.socket.as_ref()).map(|s| s.0.as_str());
                    let whole = wording::call_whole(start, end, socket);
                    return self.side_text(&pending, format_args!("{whole}"), style::CALL, out);
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
        let closed_datagram = event.ends(Verb::Close) && event.call_end().is_some_and(|end| end.errno.is_none());
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
                let mut line =
                    format!("— {} events · packets dropped by the kernel: {} · state events lost: {}", end.events, end.packets_dropped, end.states_lost);
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
