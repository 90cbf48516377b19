//! A learner's own trace in the served book: the "Your trace" page POSTs a trace (JSON
//! Lines) or a capture (pcap, pcapng) to `trace book serve`, which reads it as `trace replay`
//! and `trace check` do (the same reader and its bounds, the same import of a capture, the
//! same check) and answers with the replay's steps and the check's verdict, for the page's
//! widget (`book/replay/workbench.js`).

use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

use super::http::{percent_decode, respond, respond_text, Request};
use crate::check::{check, CheckOptions};
use crate::import::pcap::Reader;
use crate::import::table::Table;
use crate::import::{self, ImportError, Kept, Wanted};
use crate::replay::Replay;
use crate::trace::{End, Trace, TraceReader};

/// Where the page sends a file.
pub const ENDPOINT: &str = "/your-trace";

/// The largest file taken: a trace of some 50,000 events, or a capture of as many packets;
/// the page says so before sending a larger one.
pub const MAX_BYTES: u64 = 16 << 20;

/// Files replayed at once; more wait for none, they are told to try again.
const MAX_AT_ONCE: usize = 2;

static AT_ONCE: AtomicUsize = AtomicUsize::new(0);

/// What the page gets back.
#[derive(Debug, Serialize)]
pub struct Replayed {
    /// The file's name, as the page sent it.
    pub name: String,
    /// `trace check`'s report, as plain text.
    pub verdict: String,
    pub conforms: bool,
    /// A capture's conversations, and the one replayed (from 1); `None` for a trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<(u64, u64)>,
    pub replay: Replay,
}

/// Answers `POST /your-trace[?conversation=N]`: the replay and the verdict as JSON, or one line
/// of text saying what was wrong.
pub fn answer(request: Request, out: &mut TcpStream) -> io::Result<()> {
    let Some(length) = request.length else {
        return respond_text(out, "411 Length Required", "the upload says no Content-Length: send the file as the page does");
    };
    if length > MAX_BYTES {
        return respond_text(out, "413 Content Too Large", &too_big(length));
    }
    let Some(_slot) = Slot::take() else {
        return respond_text(out, "503 Service Unavailable", "trace book serve is replaying other files: try again in a moment");
    };
    let conversation = match request.query("conversation").map(str::parse::<u64>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return respond_text(out, "400 Bad Request", "conversation= takes a conversation's number, from 1"),
    };
    let name = request.file_name.as_deref().and_then(percent_decode).unwrap_or_else(|| "your file".to_string());
    let body = request.body(length)?;
    match replay_file(&name, &body, conversation).and_then(|r| serde_json::to_vec(&r).map_err(|e| e.to_string())) {
        Ok(json) => respond(out, "200 OK", "application/json", &json, true),
        Err(why) => respond_text(out, "422 Unprocessable Content", &why),
    }
}

/// The one line for a file over [`MAX_BYTES`].
pub fn too_big(length: u64) -> String {
    format!(
        "the file is {:.1} MiB, more than the {} MiB the page replays: cut the trace shorter, or replay it in a terminal with `trace replay FILE`",
        length as f64 / f64::from(1 << 20),
        MAX_BYTES >> 20
    )
}

/// A place among the [`MAX_AT_ONCE`] files replayed at once, given back when dropped.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        AT_ONCE.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < MAX_AT_ONCE).then_some(n + 1)).ok().map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        AT_ONCE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Replays the file `name` holding `bytes`: a capture (by its first bytes) through `trace
/// import`'s reader, its conversation `conversation`; anything else as a trace. Errors are the
/// command line's one-line errors, naming the file.
pub fn replay_file(name: &str, bytes: &[u8], conversation: u64) -> Result<Replayed, String> {
    let (trace, conversation) = if is_capture(bytes) {
        let (trace, of) = capture_conversation(name, bytes, conversation)?;
        (trace, Some((conversation, of)))
    } else {
        (TraceReader::new(Path::new(name), bytes).and_then(TraceReader::read_all).map_err(|e| e.to_string())?, None)
    };
    let report = check(&trace, &CheckOptions::default());
    let (verdict, conforms) = (report.to_string(), report.conforms());
    Ok(Replayed { name: name.to_string(), verdict, conforms, conversation, replay: Replay::of(&trace) })
}

/// pcap's magic numbers (either byte order, micro- or nanosecond times) and pcapng's.
fn is_capture(bytes: &[u8]) -> bool {
    const MAGIC: [[u8; 4]; 5] =
        [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d], [0x0a, 0x0d, 0x0d, 0x0a]];
    bytes.get(..4).is_some_and(|head| MAGIC.iter().any(|m| m == head))
}

/// Conversation `number` of the capture `bytes`, as `trace import --conversation N` shows it;
/// and how many the capture holds.
fn capture_conversation(name: &str, bytes: &[u8], number: u64) -> Result<(Trace, u64), String> {
    let mut reader = Reader::new(bytes).map_err(|err| format!("{name} {err}"))?;
    let mut wanted = Wanted { kept: Some(Kept::new(number)), ..Wanted::default() };
    let never = AtomicBool::new(false);
    let outcome = import::import(&mut reader, &mut Table::default(), &mut wanted, &never, &mut |_| {}, &mut |_| {});
    match outcome.error {
        Some(ImportError::Capture(err)) => return Err(format!("{name} {err}")),
        Some(ImportError::Save(err)) => return Err(err.to_string()),
        None => {}
    }
    let totals = outcome.totals;
    if let Some(cut) = import::cut_short(&totals) {
        return Err(format!("{name}: {cut}"));
    }
    let events = wanted.kept.map(|k| k.events_out).unwrap_or_default();
    if events.is_empty() {
        return Err(format!("{name} has no conversation {number}: it has {} (choose one of them)", totals.conversations));
    }
    let end = End { events: events.len() as u64, ..End::default() };
    let header = import::header(format!("trace import {name} --conversation {number}"));
    Ok((Trace { header, events, end: Some(end) }, totals.conversations))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lessons").join(name)).expect("the fixture")
    }

    #[test]
    fn a_trace_is_replayed_and_checked_as_the_command_line_does() {
        let bytes = fixture("echo.jsonl");
        let replayed = replay_file("echo.jsonl", &bytes, 1).expect("a trace");
        let trace = crate::trace::read_trace(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lessons/echo.jsonl")).expect("the fixture");
        assert_eq!(replayed.replay.steps.len(), Replay::of(&trace).steps.len());
        assert_eq!(replayed.verdict, check(&trace, &CheckOptions::default()).to_string());
        assert!(replayed.conforms && replayed.conversation.is_none());
    }

    #[test]
    fn what_is_not_a_trace_is_the_readers_one_line_error_naming_the_file() {
        let err = replay_file("notes.txt", b"hello\n", 1).unwrap_err();
        assert!(err.starts_with("notes.txt is not a socktrace trace"), "{err}");
        assert!(!err.contains('\n'));
        let err = replay_file("empty.jsonl", b"", 1).unwrap_err();
        assert!(err.contains("empty.jsonl is empty"), "{err}");
    }

    #[test]
    fn a_capture_is_imported_and_its_conversations_counted() {
        let trace = crate::trace::read_trace(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lessons/echo.jsonl")).expect("the fixture");
        let mut bytes = Vec::new();
        crate::export::pcap::write_pcap(&trace.events, &mut bytes).expect("a pcap");
        let replayed = replay_file("echo.pcap", &bytes, 1).expect("a capture");
        assert_eq!(replayed.conversation, Some((1, 1)));
        assert!(replayed.replay.steps.iter().any(|s| s.label == "SYN"), "its packets replayed");
        let err = replay_file("echo.pcap", &bytes, 2).unwrap_err();
        assert!(err.contains("has no conversation 2: it has 1"), "{err}");
    }

    #[test]
    fn too_big_says_the_size_and_the_limit() {
        assert_eq!(
            too_big(20 << 20),
            "the file is 20.0 MiB, more than the 16 MiB the page replays: cut the trace shorter, or replay it in a terminal with `trace replay FILE`"
        );
    }
}
