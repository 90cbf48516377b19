//! Entry points for the fuzz targets in `fuzz/` (cargo fuzz), and for the regression tests
//! that replay what they found: one function per target, so a crash found by the fuzzer and
//! the test that keeps it fixed run the same code.

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use crate::trace::{Trace, TraceReader};
use crate::wire::decode::{decode_frame as decode, LinkType};

/// Reads `data` as a trace file, to its end or its first error.
pub fn read_trace(data: &[u8]) -> Option<Trace> {
    TraceReader::new(Path::new("fuzz-input.jsonl"), Cursor::new(data)).and_then(TraceReader::read_all).ok()
}

/// Decodes `data` as a frame of every link type the decoder knows.
pub fn decode_frame(data: &[u8]) {
    for link in [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null, LinkType::RawIp] {
        let _ = decode(data, link);
    }
}

/// Reads `data` as a trace and, if it is one, runs what `trace show --snapshot`,
/// `trace show --lesson`, `trace check` and `trace diff` run on it.
pub fn snapshot_and_diff(data: &[u8]) {
    let Some(trace) = read_trace(data) else { return };
    let _ = trace.snapshot();
    let _ = crate::normalize::lesson_view(&trace.events);
    let _ = crate::check::check(&trace, &crate::check::CheckOptions::default()).to_string();
    let _ = crate::normalize::diff::first_difference(reference(), &trace);
    let _ = crate::normalize::diff::first_difference(&trace, reference());
}

/// A real recorded session to compare against.
fn reference() -> &'static Trace {
    static REFERENCE: OnceLock<Trace> = OnceLock::new();
    REFERENCE.get_or_init(|| read_trace(include_bytes!("../fixtures/live/echo.jsonl")).expect("the echo fixture is a trace"))
}

/// Reads `data` as a pcap or pcapng capture (`trace import`), to its end or its first error,
/// reading every frame's headers as the summary does.
pub fn read_capture(data: &[u8]) {
    use crate::import::{import, pcap::Reader, table::Table, Kept, Wanted};
    let Ok(mut reader) = Reader::new(data) else { return };
    // A small table, so that its limit is reached; conversation 1 kept whole, so that its
    // events (and modelled states) are built as `--conversation 1` builds them.
    let mut table = Table::with_limit(4);
    let mut wanted = Wanted { traces: None, kept: Some(Kept::new(1)) };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut summarize = |conv: &crate::import::conversation::Conversation| {
        let _ = (conv.ending().to_string(), conv.handshake_rtt());
    };
    let _ = import(&mut reader, &mut table, &mut wanted, &stop, &mut summarize, &mut |_| {});
    if let Some(kept) = wanted.kept {
        let _ = crate::normalize::snapshot::snapshot_events(&kept.events_out);
    }
}
