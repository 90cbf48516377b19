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

use std::borrow::Cow;
use std::fmt::Write as _;

use super::acks::RepeatedAcks;
use super::ahead;
use super::blocks::{blocks, places};
use super::fold::{Folded, LeftOut};
use super::names::Renames;
use super::order::Orderer;
use super::sockets::{self, PathsByNumber, Raw, Sockets};
use crate::event::{Body, CallEnd, Event, Origin, Packet, Transport};
use crate::hash::FastMap;
use crate::inert;
use crate::parallel::{both, WORTH_A_THREAD};
use crate::state_path::{self, Row};
use crate::trace::room::{string_with_room, vec_with_room};
use crate::trace::{LensStatus, Trace};
use crate::wording;

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
    Lines::of(events, false).text
}

/// The snapshot lines, each with the index of the (first) event it shows.
pub fn snapshot_lines(events: &[Event]) -> Vec<(String, usize)> {
    let lines = Lines::of(events, true);
    let mut start = 0;
    let ends = lines.ends.unwrap_or_default();
    let mut out = Vec::with_capacity(ends.len());
    for &(end, event) in &ends {
        out.push((lines.text[start..end].to_string(), event));
        start = end + 1;
    }
    out
}

/// The snapshot text, and (where asked) where each of its lines ends, with the (first) event
/// it shows. Written into one string: a string per line cost more than the rest of the
/// snapshot.
#[derive(Default)]
struct Lines {
    text: String,
    /// Kept only for a view that cites the lines' events (`trace diff`): 16 bytes a line.
    ends: Option<Vec<(usize, usize)>>,
    /// Where the line being written starts.
    line_start: usize,
}

impl Lines {
    /// The kept events ([`super::fold`]), block by block ([`super::blocks`]), each block in the
    /// canonical order ([`super::order`]), named as [`Renames`] names them. What does not
    /// depend on each other is done at once where there are two cores (see [`both`]): the
    /// names and the sockets' numbers of each half of the events ([`sockets::read`]); where
    /// each event goes and which events stay; the two halves of the blocks.
    fn of(events: &[Event], with_ends: bool) -> Lines {
        let worth_it = events.len() >= WORTH_A_THREAD;
        let (names, sockets) = sockets::read(events);
        let (places, (Folded { keep, joined }, rows)) = both(worth_it, || places(events, &sockets), || kept(events, &sockets));
        let blocks = blocks(events, &keep, &places);
        // The first half's text takes the second's after it: room for all of it.
        let total: usize = blocks.iter().map(Vec::len).sum();
        let write = |blocks: &[Vec<usize>], room: usize| {
            let mut lines = Lines { text: string_with_room(room * BYTES_A_LINE), ends: with_ends.then(Vec::new), ..Lines::default() };
            let mut orderer = Orderer::default();
            for (k, block) in blocks.iter().enumerate() {
                // The next block's events, while this one is ordered and written.
                ahead::fetch(blocks.get(k + 1).into_iter().flatten().map(|&i| &events[i]), ahead::event);
                let order = orderer.order(events, block, &sockets, places.listening());
                lines.write(events, order, &names, &sockets, &joined, &rows);
            }
            lines
        };
        // The first half of the blocks: as many as hold half the events, or fewer.
        let half = blocks.iter().scan(0, |so_far, block| {
            *so_far += block.len();
            Some(*so_far)
        });
        let half = half.take_while(|&so_far| so_far <= total / 2).count();
        let (first, second) = blocks.split_at(half);
        let later: usize = second.iter().map(Vec::len).sum();
        let (mut lines, second) = both(worth_it, || write(first, total), || write(second, later));
        lines.append(second);
        lines
    }

    /// Adds the lines written after these.
    fn append(&mut self, other: Lines) {
        let offset = self.text.len();
        self.text.push_str(&other.text);
        if let (Some(ends), Some(more)) = (&mut self.ends, other.ends) {
            ends.extend(more.into_iter().map(|(end, event)| (end + offset, event)));
        }
        self.line_start = self.text.len();
    }

    /// Writes the lines of events `order`, in that order.
    fn write(&mut self, events: &[Event], order: &[usize], names: &Renames, sockets: &Sockets, joined: &FastMap<usize, CallEnd>, rows: &Rows) {
        let name = |socket: Option<Raw>| socket.map(|s| sockets.view_name(sockets.named(s)).0.as_str());
        let end_of = |i: usize| match &events[i].body {
            Body::CallEnd(end) => Some(joined.get(&i).unwrap_or(end)),
            _ => None,
        };
        let mut k = 0;
        while k < order.len() {
            let (i, start) = (order[k], self.text.len());
            let event = &events[i];
            let out = &mut self.text;
            // A call whose end comes right after its start reads as one line.
            if let (Body::CallStart(start_of_call), Some(end)) = (&event.body, order.get(k + 1).and_then(|&j| end_of(j))) {
                if start_of_call.id == end.id {
                    let socket = name(sockets.socket(order[k + 1]).or(sockets.socket(i)));
                    write_role(out, event);
                    wording::write_call_whole(out, start_of_call, end, socket, names);
                    self.end_line(i);
                    k += 2;
                    continue;
                }
            }
            let socket = name(sockets.socket(i));
            match &event.body {
                Body::CallStart(call) => {
                    write_role(out, event);
                    wording::write_call_start(out, call, socket, names);
                    out.push_str(" …");
                }
                Body::CallEnd(_) => {
                    write_role(out, event);
                    wording::write_call_end(out, end_of(i).expect("a call end"), socket, names);
                }
                Body::State(change) => {
                    out.push_str("        ");
                    let row = rows.get(i).unwrap_or_else(|| state_path::row_alone(change, event.origin));
                    wording::write_state_row(out, &row, socket);
                    out.push_str(modelled(event));
                }
                Body::Kernel(note) => {
                    let _ = write!(out, "        {}{}", wording::kernel_note(note, socket), modelled(event));
                }
                Body::Process(change) => {
                    write_role(out, event);
                    out.push_str(&wording::process_change(change, names));
                }
                Body::Packet(packet) => write_packet(out, event, packet, socket, name(sockets.other(i))),
            }
            let kept = self.text[start..].trim_end().len();
            self.text.truncate(start + kept);
            self.end_line(i);
            // A timewait socket a packet's reset ended (`state_path`): its row, on a line of its own.
            if let (Body::Packet(_), Some(row)) = (&event.body, rows.get(i)) {
                self.text.push_str("        ");
                wording::write_state_row(&mut self.text, &row, name(if row.receiver { sockets.other(i) } else { sockets.socket(i) }));
                self.end_line(i);
            }
            k += 1;
        }
    }

    /// Ends the line being written, which shows `event`.
    fn end_line(&mut self, event: usize) {
        // What a trace's text brought into the line is made inert (`inert`): one line, shown.
        let start = self.line_start;
        if let Cow::Owned(inert) = inert::terminal(&self.text[start..]) {
            self.text.truncate(start);
            self.text.push_str(&inert);
        }
        if let Some(ends) = &mut self.ends {
            ends.push((self.text.len(), event));
        }
        self.text.push('\n');
        self.line_start = self.text.len();
    }
}

/// The events kept ([`super::fold`], less the repeated ACKs of [`super::acks`] and the
/// state changes that show nothing), the reads joined, and each event's row of its socket's
/// state path. What they depend on is found in one pass over the events, the noise and joins
/// in a second: each pass over a trace of a million events reads it from memory anew.
fn kept(events: &[Event], sockets: &Sockets) -> (Folded, Rows) {
    let (mut left_out, mut acks, mut paths) = (LeftOut::default(), RepeatedAcks::default(), PathsByNumber::default());
    let mut rows = Rows { of_event: vec_with_room(events.len()), rows: Vec::new() };
    // A kernel report of where a socket's path already is shows nothing.
    let mut unshown = Vec::new();
    for (i, event) in events.iter().enumerate() {
        left_out.see(event);
        acks.see(i, event);
        let row = sockets.follow(&mut paths, i, event);
        if row.is_none() && matches!(event.body, Body::State(_)) {
            unshown.push(i);
        }
        rows.push(row);
    }
    let mut folded = left_out.fold(events);
    for i in acks.repeated().into_iter().chain(unshown) {
        folded.keep[i] = false;
    }
    (folded, rows)
}

/// About how long a snapshot line is, with room to spare: what its text makes room for at
/// once, per event (a line shows one event, or two).
const BYTES_A_LINE: usize = 48;

/// Each event's row of its socket's state path, if it has one. Few events have one: a vector
/// of them, and each event's place in it, take a sixth of the memory of a row (or none) for
/// every event, which the lines, written in another order than the trace's, look up at random.
struct Rows {
    /// Per event: its row's place in `rows`, or [`Rows::NONE`].
    of_event: Vec<u32>,
    rows: Vec<Row>,
}

impl Rows {
    const NONE: u32 = u32::MAX;

    /// The row of the next event.
    fn push(&mut self, row: Option<Row>) {
        let at = match row {
            Some(row) => {
                self.rows.push(row);
                u32::try_from(self.rows.len() - 1).expect("fewer than 2^32 rows")
            }
            None => Rows::NONE,
        };
        self.of_event.push(at);
    }

    fn get(&self, event: usize) -> Option<Row> {
        // `NONE` is past the end of `rows`, which holds fewer.
        self.rows.get(self.of_event[event] as usize).copied()
    }
}

/// A packet's line: `  c1 > s1  SYN seq 0`.
fn write_packet(out: &mut String, event: &Event, packet: &Packet, socket: Option<&str>, to: Option<&str>) {
    let (from, to) = match packet.transport {
        Transport::Arp => wording::packet_ends(socket, event.actor.role, packet),
        _ => (socket.unwrap_or("?"), to.unwrap_or("?")),
    };
    let _ = write!(out, "  {from} > {to}  ");
    match &packet.tcp {
        // The addresses ARP names are the same on every run of `--hosts`.
        None if packet.transport == Transport::Arp => out.push_str(&wording::packet_headline(packet)),
        Some(tcp) => wording::write_segment(out, tcp.flags, tcp, packet.len),
        None => out.push_str("UDP"),
    }
    if packet.len > 0 {
        let _ = write!(out, " len {}", packet.len);
    }
    if let Some(payload) = &packet.payload {
        let _ = write!(out, " {payload}");
    }
    if packet.dropped.is_some() {
        out.push_str(" ✗ lost");
    }
    out.push_str(modelled(event));
}

/// Who made the call, padded to the calls' column: `client`, or `A client` for a peer.
fn write_role(out: &mut String, event: &Event) {
    let start = out.len();
    wording::write_actor_label(out, &event.actor);
    let width = out[start..].chars().count();
    out.extend(std::iter::repeat_n(' ', 7usize.saturating_sub(width) + 1));
}

fn modelled(event: &Event) -> &'static str {
    if event.origin == Origin::Modelled {
        " (modelled)"
    } else {
        ""
    }
}
