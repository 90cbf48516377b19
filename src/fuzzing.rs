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

/// Reads `data` as a trace and, if it is one, replays it as `trace replay` does: its steps,
/// the sockets after a few of them, a search and a go-to from each end, and the terminal
/// screen drawn at a few sizes (a usual one, a narrow one, one row).
pub fn replay(data: &[u8]) {
    use crate::render::replay_state::{Ask, Input, Screen};
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    let Some(trace) = read_trace(data) else { return };
    let replay = crate::replay::Replay::of(&trace);
    let count = replay.steps.len();
    let last = count.saturating_sub(1);
    let picks = [0, 1, count / 2, last, count];
    for &at in &picks {
        let _ = replay.sockets_at(at);
    }
    for &from in &[0, last] {
        for words in ["syn", "fin|ack", "", "ÿ"] {
            if let Some(found) = replay.find(from, words, true).or(replay.find(from, words, false)) {
                assert!(found < count, "find gave step {found} of {count}");
            }
        }
        for target in ["1", "0", "accept", "passive-open/accept", "/", "99999999999999999999"] {
            if let Some(found) = replay.go_to(from, target) {
                assert!(found < count, "go_to gave step {found} of {count}");
            }
        }
    }
    let sizes = [(80, 24), (33, 7), (200, 1)];
    for (k, &at) in picks.iter().enumerate() {
        let (width, height) = sizes[k % sizes.len()];
        let area = Rect::new(0, 0, width, height);
        let mut buf = Buffer::empty(area);
        let input = (k % 2 == 1).then(|| Input { ask: Ask::Search, text: "fin".to_string() });
        let screen = Screen { at, input, search: None, note: (k == 2).then(|| "no step says \"x\"".to_string()), color: k % 2 == 0 };
        crate::render::replay_screen::draw(&replay, &screen, area, &mut buf);
    }
}

/// Reads `data` as a trace and, if it is one, exports it as `trace export` does: a pcap file
/// (which the capture reader must read back) and a packetdrill script from each side (which
/// must be inert: [`packetdrill_is_inert`]).
pub fn export(data: &[u8]) {
    use crate::event::Role;
    let Some(trace) = read_trace(data) else { return };
    let mut pcap = Vec::new();
    if let Ok(written) = crate::export::pcap::write_pcap(&trace.events, &mut pcap) {
        let mut reader = crate::import::pcap::Reader::new(&pcap[..]).expect("an exported pcap has a header the reader takes");
        let mut read = 0;
        while reader.next_frame().unwrap_or_else(|e| panic!("an exported pcap reads back: frame {}: {e}", read + 1)).is_some() {
            read += 1;
        }
        assert_eq!(read, written, "frames read back from the exported pcap");
    }
    for side in [Role::Client, Role::Server] {
        let mut script = Vec::new();
        crate::export::packetdrill::write_packetdrill(&trace, side, &mut script).expect("a Vec takes every write");
        let script = String::from_utf8(script).expect("a packetdrill script is UTF-8");
        if let Err(line) = packetdrill_is_inert(&script) {
            panic!("the {side:?} script is not inert at {line:?}");
        }
    }
}

/// Whether a packetdrill script holds nothing packetdrill would run or read as code: no line
/// that starts with a backtick (a shell command), no `%{` (Python), no control character but
/// the line breaks. The line that is not, if one is not.
pub fn packetdrill_is_inert(script: &str) -> Result<(), &str> {
    for line in script.split('\n') {
        if line.trim_start().starts_with('`') || line.contains("%{") || line.chars().any(char::is_control) {
            return Err(line);
        }
    }
    Ok(())
}
