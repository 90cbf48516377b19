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
use super::{fit, Renderer};
use crate::event::{Body, Event, Origin, Packet, Role, TcpOptions, Transport, Verb};
use crate::hash::FastMap;
use crate::inert;
use crate::state_path::{Row, StatePaths};
use crate::tcp::flags::TcpFlags;
use crate::timeline::DatagramSockets;
use crate::trace::{End, Header, LensStatus};
use crate::wording;

const TIME_W: usize = 9;
/// The columns' widths where nothing bounds them (a pipe, a file): the server column, last,
/// takes what its text needs.
const SIDE_W: usize = 48;
const WIRE_W: usize = 56;
/// What a three-column row spends besides its columns: the time and a space, then ` ┊ `
/// twice.
const COLUMNS_FIXED: usize = TIME_W + 1 + 3 + 3;
/// Below this width one column is read better than three narrow ones.
const THREE_COLUMNS_FROM: usize = 150;
/// A one-column row's lead: the time, the actor (`client`, `server`, `wire`) and ` ┊ `.
const ACTOR_W: usize = 6;
const SINGLE_LEAD: usize = TIME_W + 1 + ACTOR_W + 3;
/// However narrow the terminal, a one-column row keeps this much room for its text.
const SINGLE_MIN: usize = 20;

/// Where a learner looks for a TCP connection's opening and its end, a UDP trace has nothing;
/// these rows say so (they are the ladder's words, not events of the trace).
const NO_HANDSHAKE: &str = "UDP: no handshake, no connection, no states";
const NO_FIN: &str = "UDP: no FIN and no TIME-WAIT after close";

/// A call that returns within this long after it started, with nothing in between, is shown
/// on one row. Decided on trace time alone, so a saved trace shows the same rows.
const MERGE_NS: u64 = 2_000_000;

/// How the rows are laid out for the terminal's width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// client ┊ wire ┊ server; `server: None` leaves the last column unbounded.
    Columns { client: usize, wire: usize, server: Option<usize> },
    /// One column, each row led by who acted.
    Single { text: usize },
}

impl Layout {
    fn for_width(width: Option<usize>) -> Layout {
        match width {
            None => Layout::Columns { client: SIDE_W, wire: WIRE_W, server: None },
            Some(w) if w >= THREE_COLUMNS_FROM => {
                let sides = w - COLUMNS_FIXED - WIRE_W;
                Layout::Columns { client: sides / 2, wire: WIRE_W, server: Some(sides - sides / 2) }
            }
            Some(w) => Layout::Single { text: w.saturating_sub(SINGLE_LEAD).max(SINGLE_MIN) },
        }
    }

    /// How wide a packet's arrow is drawn.
    fn arrow(self) -> usize {
        match self {
            Layout::Columns { wire, .. } => wire,
            Layout::Single { text } => text.min(WIRE_W),
        }
    }

    /// The whole width, where one bounds the rows.
    fn width(self) -> Option<usize> {
        match self {
            Layout::Columns { client, wire, server } => server.map(|s| COLUMNS_FIXED + client + wire + s),
            Layout::Single { text } => Some(SINGLE_LEAD + text),
        }
    }
}

pub struct Ladder {
    style: Style,
    layout: Layout,
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
    /// Each socket's states, as one unbroken path.
    paths: StatePaths,
    /// The row being drawn, and the text of its cell before it is fitted: each row is built
    /// here and written at once.
    line: String,
    cell: String,
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

impl Run {
    /// The run as whole slices of its character's string.
    fn pieces(&self) -> impl Iterator<Item = &'static str> {
        let (of, width) = (self.of, self.of.chars().next().map_or(1, char::len_utf8));
        let mut left = self.n;
        std::iter::from_fn(move || {
            let take = left.min(of.len() / width);
            left -= take;
            (take > 0).then(|| &of[..take * width])
        })
    }

    /// Appends the run to `line` (every row pads: straight, not through a formatter).
    fn push_to(&self, line: &mut String) {
        self.pieces().for_each(|piece| line.push_str(piece));
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pieces().try_for_each(|piece| f.write_str(piece))
    }
}

/// The actor's word at the head of a one-column row.
fn actor_word(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Server => "server",
        Role::Unknown => "?",
    }
}

impl Ladder {
    /// The timeline for a terminal `width` columns wide (`None`: no bound, for a pipe or a
    /// file).
    pub fn new(style: Style, width: Option<usize>) -> Ladder {
        Ladder {
            style,
            layout: Layout::for_width(width),
            label_modelled: true,
            first: None,
            pending: None,
            open: FastMap::default(),
            datagram: DatagramSockets::default(),
            exchanged: HashSet::new(),
            peers: wording::PeerNames::default(),
            legend_shown: false,
            paths: StatePaths::default(),
            line: String::with_capacity(256),
            cell: String::with_capacity(128),
        }
    }

    /// Starts a row with its time: milliseconds since the first event, to the µs (in
    /// integers: this runs for every row), right-aligned; `None` for a row beneath another.
    fn start_row(&mut self, t: Option<u64>) {
        self.line.clear();
        let Some(t) = t else {
            spaces(TIME_W + 1).push_to(&mut self.line);
            return;
        };
        let first = *self.first.get_or_insert(t);
        let us = t.saturating_sub(first) / 1_000;
        let (ms, frac) = (us / 1_000, us % 1_000);
        let width = ms.checked_ilog10().map_or(1, |d| d as usize + 1) + 4;
        spaces(TIME_W.saturating_sub(width)).push_to(&mut self.line);
        let _ = write!(self.line, "{ms}.{frac:03} ");
    }

    /// The column separator, with a space either side.
    fn bar(&mut self) {
        self.line.push(' ');
        self.style.paint_into(style::DIM, format_args!("┊"), &mut self.line);
        self.line.push(' ');
    }

    /// `text` painted, then padded to `width` cells.
    fn padded(&mut self, code: style::Paint, text: &str, width: usize) {
        self.style.paint_into(code, format_args!("{text}"), &mut self.line);
        spaces(width.saturating_sub(fit::width(text))).push_to(&mut self.line);
    }

    fn end_row(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let kept = self.line.trim_end_matches(' ').len();
        self.line.truncate(kept);
        self.line.push('\n');
        out.write_all(self.line.as_bytes())
    }

    /// A one-column row's lead: the actor on a row with a time, blank beneath it.
    fn single_lead(&mut self, t: Option<u64>, actor: &str) {
        let actor = if t.is_some() { actor } else { "" };
        self.line.push_str(actor);
        spaces(ACTOR_W.saturating_sub(actor.len())).push_to(&mut self.line);
        self.bar();
    }

    /// The cell text in `self.cell`, in the client or the server column, painted with
    /// `code`, wrapped onto rows of its own beneath when it is wider than its column.
    fn side_rows(&mut self, t: Option<u64>, role: Role, code: style::Paint, out: &mut dyn Write) -> io::Result<()> {
        let cell = std::mem::take(&mut self.cell);
        let result = self.side_lines(t, role, code, &cell, out);
        self.cell = cell;
        result
    }

    fn side_lines(&mut self, t: Option<u64>, role: Role, code: style::Paint, text: &str, out: &mut dyn Write) -> io::Result<()> {
        let text = &*inert::terminal(text);
        let layout = self.layout;
        let width = match layout {
            Layout::Columns { server, .. } if role == Role::Server => server,
            Layout::Columns { client, .. } => Some(client),
            Layout::Single { text } => Some(text),
        };
        let lines = match width {
            Some(width) => fit::wrap(text, width),
            None => vec![text.into()],
        };
        for (k, piece) in lines.iter().enumerate() {
            let t = if k == 0 { t } else { None };
            self.start_row(t);
            match layout {
                Layout::Single { .. } => {
                    self.single_lead(t, actor_word(role));
                    self.style.paint_into(code, format_args!("{piece}"), &mut self.line);
                }
                Layout::Columns { client, wire, .. } if role == Role::Server => {
                    spaces(client).push_to(&mut self.line);
                    self.bar();
                    spaces(wire).push_to(&mut self.line);
                    self.bar();
                    self.style.paint_into(code, format_args!("{piece}"), &mut self.line);
                }
                Layout::Columns { client, wire, .. } => {
                    self.padded(code, piece, client);
                    self.bar();
                    spaces(wire).push_to(&mut self.line);
                    self.bar();
                }
            }
            self.end_row(out)?;
        }
        Ok(())
    }

    /// The cell text in `self.cell`, in the wire column, painted with `code`: one row, cut
    /// with `…` when it is wider than the column.
    fn wire_row(&mut self, t: Option<u64>, code: style::Paint, out: &mut dyn Write) -> io::Result<()> {
        let cell = std::mem::take(&mut self.cell);
        self.start_row(t);
        let text = inert::terminal(&cell);
        match self.layout {
            Layout::Single { text: width } => {
                self.single_lead(t, "wire");
                self.style.paint_into(code, format_args!("{}", fit::cut(&text, width)), &mut self.line);
            }
            Layout::Columns { client, wire, .. } => {
                spaces(client).push_to(&mut self.line);
                self.bar();
                self.padded(code, &fit::cut(&text, wire), wire);
                self.bar();
            }
        }
        self.cell = cell;
        self.end_row(out)
    }

    /// A text row beneath a packet, in the wire column and without a time.
    fn wire_detail(&mut self, detail: impl fmt::Display, out: &mut dyn Write) -> io::Result<()> {
        self.cell.clear();
        let _ = write!(self.cell, "   {detail}");
        self.wire_row(None, style::DIM, out)
    }

    /// A line across the columns (a legend, the end line), wrapped at the width.
    fn full_line(&self, code: style::Paint, text: &str, out: &mut dyn Write) -> io::Result<()> {
        let text = inert::terminal(text);
        let lines = match self.layout.width() {
            Some(width) => fit::wrap(&text, width),
            None => vec![text.as_ref().into()],
        };
        for piece in lines {
            writeln!(out, "{}", self.style.paint(code, &piece))?;
        }
        Ok(())
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
        self.cell.clear();
        let _ = match event.body {
            Body::CallStart(_) | Body::CallEnd(_) | Body::Process(_) => {
                write!(self.cell, "{lead}{}{text}{label}", wording::process_tag(&event.actor))
            }
            _ => write!(self.cell, "{lead}{text}{label}"),
        };
        self.side_rows(Some(event.t), event.actor.role, code, out)
    }

    fn draw(&mut self, event: &Event, row: Option<&Row>, out: &mut dyn Write) -> io::Result<()> {
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
            Body::State(_) => {
                let Some(row) = row else { return Ok(()) };
                self.side_text(event, format_args!("{}", wording::state_row(row, socket)), style::STATE, out)?;
                self.row_note(row, event.actor.role, out)
            }
            Body::Kernel(note) => self.side_text(event, format_args!("{}", wording::kernel_note(note, socket)), style::STATE, out),
            Body::Process(change) => self.side_text(event, format_args!("{}", wording::process_change(change, &wording::AsTraced)), style::STATE, out),
            Body::Packet(packet) => {
                self.packet(event, packet, socket, out)?;
                // A timewait socket the packet's reset ended: its row, in its own column.
                let Some(row) = row else { return Ok(()) };
                let role = if row.receiver { event.actor.role.other() } else { event.actor.role };
                self.cell.clear();
                wording::write_state_row(&mut self.cell, row, row.socket(event).map(|s| s.0.as_str()));
                self.side_rows(None, role, style::STATE, out)?;
                self.row_note(row, role, out)
            }
        }
    }

    /// The words under a state row, where Linux and the RFC part ways.
    fn row_note(&mut self, row: &Row, role: Role, out: &mut dyn Write) -> io::Result<()> {
        let Some(note) = row.note() else { return Ok(()) };
        self.cell.clear();
        let _ = write!(self.cell, "↳ {note}");
        self.side_rows(None, role, style::DIM, out)
    }

    fn packet(&mut self, event: &Event, packet: &Packet, socket: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
        let headline = wording::packet_headline(packet);
        let modelled = if event.origin == Origin::Modelled && self.label_modelled { " (modelled)" } else { "" };
        let rightward = event.actor.role != Role::Server;
        let (from, to) = wording::packet_ends(socket, event.actor.role, packet);
        let (from, to) = (self.peers.end(from), self.peers.end(to));
        let (left, right) = if rightward { (from, to) } else { (to, from) };
        if packet.transport == Transport::Udp && self.exchanged.insert((left.to_string(), right.to_string())) {
            self.wire_detail(NO_HANDSHAKE, out)?;
        }
        // The arrow fills its width: ` ─ {inner} ───▶ ` between the two ends, with a rule of
        // at least two; a headline too long for that is cut.
        let ends = fit::width(&left) + fit::width(&right) + 6;
        let room = self.layout.arrow().saturating_sub(ends + 2);
        let inner = format!("{headline}{modelled}");
        let inner = fit::cut(&inner, room);
        let fill = Run { of: RULE, n: self.layout.arrow().saturating_sub(ends + fit::width(&inner)).max(2) };
        let reset = packet.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::RST));
        let code = match (event.origin, reset) {
            (Origin::Modelled, _) => style::MODELLED,
            (_, true) => style::RESET_PACKET,
            (_, false) => style::PACKET,
        };
        self.cell.clear();
        let _ = if rightward { write!(self.cell, "{left} ─ {inner} {fill}▶ {right}") } else { write!(self.cell, "{left} ◀{fill} {inner} ─ {right}") };
        self.wire_row(Some(event.t), code, out)?;
        // Timestamps ride on every segment once negotiated: options get a row of their own
        // only when there is more to them than that.
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

    /// One event's rows: a call's start is held back to share a row with its end.
    fn show(&mut self, event: &Event, row: Option<&Row>, out: &mut dyn Write) -> io::Result<()> {
        if let Some(pending) = self.pending.take() {
            if let (Body::CallStart(start), Body::CallEnd(end)) = (&pending.body, &event.body) {
                if start.id == end.id && event.t.saturating_sub(pending.t) <= MERGE_NS {
                    let socket = event.socket.as_ref().or(pending.socket.as_ref()).map(|s| s.0.as_str());
                    let whole = wording::call_whole(start, end, socket);
                    return self.side_text(&pending, format_args!("{whole}"), style::CALL, out);
                }
            }
            self.draw(&pending, None, out)?;
        }
        if matches!(event.body, Body::CallStart(_)) {
            self.pending = Some(event.clone());
            return Ok(());
        }
        self.draw(event, row, out)
    }

    fn flush_pending(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match self.pending.take() {
            Some(start) => self.draw(&start, None, out),
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
        let title = format!("{} · {source} · {}, {}, {}", header.command, lens("calls", &l.calls), lens("packets", &l.packets), lens("states", &l.states));
        self.full_line(style::BOLD, &title, out)?;
        for status in [&l.calls, &l.packets, &l.states] {
            if let LensStatus::Unavailable { reason } = status {
                self.full_line(style::DIM, &format!("  {reason}"), out)?;
            }
        }
        if !matches!(l.states, LensStatus::Unavailable { .. }) {
            self.full_line(style::DIM, wording::STATES_LEGEND, out)?;
        }
        let bar = self.style.dim("┊");
        match self.layout {
            Layout::Columns { client, wire, .. } => writeln!(out, "{:>TIME_W$} {:<client$} {bar} {:<wire$} {bar} server", "ms", "client", "wire"),
            Layout::Single { .. } => writeln!(out, "{:>TIME_W$} {:<ACTOR_W$} {bar} what", "ms", "who"),
        }
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        if event.actor.peer.is_some() && !self.legend_shown {
            self.legend_shown = true;
            let legend = "peers: each row names its program; a program stands in the client column on the connection it made, in the server column on the one it accepted";
            self.full_line(style::DIM, legend, out)?;
        }
        self.peers.learn(event);
        self.datagram.learn(event);
        let row = self.paths.follow(event);
        if matches!(event.body, Body::State(_)) && row.is_none() {
            // A report of where the socket's path already is: nothing to show.
            return Ok(());
        }
        self.show(event, row.as_ref(), out)?;
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
                self.full_line(style::DIM, &line, out)
            }
            None => self.full_line(style::DIM, "— the trace ends without its end record: it was interrupted", out),
        }
    }
}
