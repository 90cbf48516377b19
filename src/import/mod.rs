//! `trace import FILE`: the TCP and UDP conversations of a pcap or pcapng capture, each
//! summarized (handshake round trip, who closed first, resets, retransmissions) and, when
//! asked, turned into a trace of its own: the packets observed, the states modelled.
//!
//! - `pcap.rs`: the zero-copy capture reader ([`pcap::Reader::new`] is the fuzz targets'
//!   entry point), `mapped.rs` the file mapped into memory that it reads in place;
//! - [`crate::wire::peek`]: the few header fields a summary needs, read in place;
//! - `conversation.rs`: one conversation's summary, a few dozen bytes;
//! - `table.rs`: the open conversations, bounded ([`table::MAX_OPEN`]);
//! - `events.rs`: one conversation as trace events, its states from the RFC 9293 model;
//! - `save.rs`: one trace file per conversation, in bounded memory;
//! - `listing.rs`: the list `trace import` writes, one line per conversation, and
//!   `progress_bar.rs` the bar it shows on a terminal while it reads a large capture.
//!
//! The summary path never builds an [`crate::event::Event`]: only the conversations whose
//! traces are wanted are decoded in full.

pub mod conversation;
pub(crate) mod events;
pub(crate) mod listing;
pub(crate) mod mapped;
pub mod pcap;
pub(crate) mod progress_bar;
pub(crate) mod save;
pub(crate) mod table;

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use conversation::{Conversation, End};
use events::ConversationEvents;
use pcap::{Frame, PcapError, Reader};
use save::{SaveError, TraceSet};
use table::Table;

use crate::event::Event;
use crate::trace::{Header, LensStatus, Lenses, Source};
use crate::wire::decode::decode_frame;
use crate::wire::peek::{peek_or_skip, Peek, Skipped};

/// Why the calls lens of an imported trace is unavailable.
pub const NO_CALLS: &str = "a capture holds no socket calls";

/// The header of an imported trace: packets observed, states modelled, no calls.
pub fn header(command: impl Into<String>) -> Header {
    let lenses = Lenses { calls: LensStatus::Unavailable { reason: NO_CALLS.to_string() }, packets: LensStatus::Observed, states: LensStatus::Modelled };
    Header::new(command, Source::Imported, lenses)
}

/// Counts over the whole capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub packets: u64,
    /// Bytes of the capture file read.
    pub file_bytes: u64,
    /// Packets that are not TCP or UDP over IP (ARP, ICMP, fragments).
    pub other: u64,
    /// IP packets the capture's snap length cut before their headers ended, and the most
    /// bytes any of them kept (its snap length, as far as the packets tell).
    pub cut: u64,
    pub cut_to: usize,
    pub conversations: u64,
    pub first_t: u64,
    pub last_t: u64,
}

/// Why an import stopped before the end of its capture.
#[derive(Debug)]
pub enum ImportError {
    Capture(PcapError),
    Save(SaveError),
}

/// What an import did: its totals, and why it stopped early, if it did.
#[derive(Debug)]
pub struct Imported {
    pub totals: Totals,
    pub error: Option<ImportError>,
    /// Stopped by `stop` (Ctrl-C): the conversations still open were not reported.
    pub interrupted: bool,
}

/// One conversation kept whole in memory (`trace import --conversation N`).
pub struct Kept {
    pub number: u64,
    events: Option<ConversationEvents>,
    pub events_out: Vec<Event>,
}

impl Kept {
    pub fn new(number: u64) -> Kept {
        Kept { number, events: None, events_out: Vec::new() }
    }
}

/// What to do beside summarizing.
#[derive(Default)]
pub struct Wanted {
    /// Write every conversation's trace.
    pub traces: Option<TraceSet>,
    /// Keep one conversation's events.
    pub kept: Option<Kept>,
}

/// How often (in packets) progress is reported and the stop flag read.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Reads the whole capture: `done` is called with each conversation once it is over (in the
/// order they end, the rest in number order at the end of the capture); `progress` now and
/// then with the bytes read so far. Stops early, cleanly, when `stop` is set.
pub fn import<R: Read>(
    reader: &mut Reader<R>,
    table: &mut Table,
    wanted: &mut Wanted,
    stop: &AtomicBool,
    done: &mut dyn FnMut(&Conversation),
    progress: &mut dyn FnMut(u64),
) -> Imported {
    let mut totals = Totals::default();
    let mut finished = Vec::new();
    let mut error = None;
    let mut interrupted = false;
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(err) => {
                error = Some(ImportError::Capture(err));
                break;
            }
        };
        totals.packets += 1;
        if totals.packets == 1 {
            totals.first_t = frame.t;
        }
        totals.last_t = frame.t;
        match peek_or_skip(frame.data, frame.link) {
            Ok(p) => {
                let (number, end) = table.packet(frame.t, &p, &mut finished);
                if let Err(err) = keep(wanted, number, end, &p, &frame) {
                    error = Some(ImportError::Save(err));
                    break;
                }
            }
            Err(Skipped::Other) => totals.other += 1,
            Err(Skipped::Cut) => {
                totals.cut += 1;
                totals.cut_to = totals.cut_to.max(frame.data.len());
            }
        }
        if !finished.is_empty() {
            if let Err(err) = report(wanted, &mut finished, done) {
                error = Some(ImportError::Save(err));
                break;
            }
        }
        if totals.packets % PROGRESS_EVERY == 0 {
            progress(reader.offset());
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
        }
    }
    totals.file_bytes = reader.offset();
    if interrupted {
        // Whole lines only, and no end line: the traces of open conversations read as interrupted.
        if let Some(Err(err)) = wanted.traces.as_mut().map(TraceSet::flush) {
            error.get_or_insert(ImportError::Save(err));
        }
    } else {
        table.drain(&mut finished);
        if let Err(err) = report(wanted, &mut finished, done) {
            error.get_or_insert(ImportError::Save(err));
        }
    }
    totals.conversations = table.conversations();
    Imported { totals, error, interrupted }
}

/// What to do about packets a capture's snap length cut short.
const RECAPTURE: &str = "capture again with a larger snap length: leave out tcpdump's -s, whose default keeps whole packets";

/// Why the conversations of a capture cannot be trusted, if they cannot: packets cut before
/// their headers ended make it a damaged capture, as a truncated one is, since every count of
/// a conversation that lost packets is wrong.
pub fn cut_short(totals: &Totals) -> Option<String> {
    if totals.cut == 0 {
        return None;
    }
    let so = if totals.conversations == 0 { "so no conversation could be read" } else { "so the conversations read leave them out" };
    Some(format!("{}, {so} ({RECAPTURE})", cut_words(totals)))
}

/// `all 22 of its packets were cut to 44 bytes …`: how many packets the snap length cut, and
/// where.
fn cut_words(totals: &Totals) -> String {
    let which = match (totals.cut, totals.packets) {
        (1, 1) => "its only packet was".to_string(),
        (cut, all) if cut == all => format!("all {cut} of its packets were"),
        (1, all) => format!("1 of its {all} packets was"),
        (cut, all) => format!("{cut} of its {all} packets were"),
    };
    format!("{which} cut to {} bytes by the capture's snap length before their TCP or UDP headers ended", totals.cut_to)
}

/// Hands the packet to the traces that want it, decoded in full.
fn keep(wanted: &mut Wanted, number: u64, end: End, p: &Peek, frame: &Frame<'_>) -> Result<(), SaveError> {
    let wants_kept = wanted.kept.as_ref().is_some_and(|k| k.number == number);
    if wanted.traces.is_none() && !wants_kept {
        return Ok(());
    }
    // The peek read the headers, so the full decoder reads them too; a frame it rejects
    // (a TCP option list cut short, say) is left out of the trace, not out of the summary.
    let Ok(Some(packet)) = decode_frame(frame.data, frame.link) else { return Ok(()) };
    let (client, server) = match end {
        End::Client => (p.src.socket_addr(), p.dst.socket_addr()),
        End::Server => (p.dst.socket_addr(), p.src.socket_addr()),
    };
    if let Some(kept) = wanted.kept.as_mut().filter(|_| wants_kept) {
        let events = kept.events.get_or_insert_with(|| ConversationEvents::new(client, server));
        events.packet(frame.t, end, packet.clone(), &mut kept.events_out);
    }
    if let Some(traces) = &mut wanted.traces {
        traces.packet(number, end, client, server, frame.t, packet)?;
    }
    Ok(())
}

fn report(wanted: &mut Wanted, finished: &mut Vec<Conversation>, done: &mut dyn FnMut(&Conversation)) -> Result<(), SaveError> {
    for conv in finished.drain(..) {
        if let Some(kept) = wanted.kept.as_mut().filter(|k| k.number == conv.number) {
            if let Some(events) = kept.events.as_mut() {
                events.finish(&mut kept.events_out);
            }
        }
        if let Some(traces) = &mut wanted.traces {
            traces.finish(&conv)?;
        }
        done(&conv);
    }
    Ok(())
}
