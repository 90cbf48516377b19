//! Reads a trace back, checking its format and version and saying exactly what is wrong
//! with a file that is not a readable trace.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, TrySendError};

use super::format::{End, Header, FORMAT, FORMAT_MAJOR};
use super::line::{self, NotAnEvent};
use crate::event::Event;

/// Why a file could not be read as a trace. Each message is one line: what was wrong, where,
/// and what to do.
#[derive(Debug)]
pub enum TraceError {
    Open {
        path: PathBuf,
        err: io::Error,
    },
    Read {
        path: PathBuf,
        line: usize,
        err: io::Error,
    },
    Empty {
        path: PathBuf,
    },
    NotATrace {
        path: PathBuf,
        found: String,
    },
    Version {
        path: PathBuf,
        found: String,
    },
    Malformed {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    NotText {
        path: PathBuf,
        line: usize,
    },
    Truncated {
        path: PathBuf,
        line: usize,
        complete: usize,
    },
    AfterEnd {
        path: PathBuf,
        line: usize,
    },
    SecondHeader {
        path: PathBuf,
        line: usize,
    },
    TooLong {
        path: PathBuf,
        line: usize,
        max: usize,
    },
    TooMany {
        path: PathBuf,
        max: usize,
    },
    /// The end line counts other events than the file holds.
    Count {
        path: PathBuf,
        claimed: u64,
        read: usize,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Open { path, err } => {
                write!(f, "cannot open trace {}: {err} (check the path; traces are saved with `trace echo --save FILE`)", path.display())
            }
            TraceError::Read { path, line, err } => {
                write!(f, "cannot read trace {} at line {line}: {err} (give the path of a trace file you may read)", path.display())
            }
            TraceError::Empty { path } => {
                write!(f, "{} is empty, not a trace (record one with `trace echo --save FILE`)", path.display())
            }
            TraceError::NotATrace { path, found } => write!(
                f,
                "{} is not a socktrace trace: line 1 should be a header like {{\"format\":\"{FORMAT}\",…}} but is {found} (record one with `trace echo --save FILE`)",
                path.display()
            ),
            TraceError::Version { path, found } => write!(
                f,
                "{} has format {found:?}, which this socktrace ({}) cannot read: it reads socktrace/{FORMAT_MAJOR}.x (use a matching socktrace version)",
                path.display(),
                env!("CARGO_PKG_VERSION")
            ),
            TraceError::NotText { path, line } => {
                write!(f, "{} line {line} is not text (UTF-8): not a trace, or a damaged one (record one with `trace echo --save FILE`)", path.display())
            }
            TraceError::Malformed { path, line, msg } => {
                write!(f, "{} line {line} is not a valid trace event: {msg} (re-record the trace; the book's trace format reference lists every field)", path.display())
            }
            TraceError::Truncated { path, line, complete } => write!(
                f,
                "{} is truncated: line {line} was cut off mid-record ({complete} complete events before it); re-record the trace, or cut the partial last line to read the rest",
                path.display()
            ),
            TraceError::AfterEnd { path, line } => {
                write!(f, "{} has records after its end line (line {line}): two traces were written into one file? (keep one: a file holds one trace)", path.display())
            }
            TraceError::SecondHeader { path, line } => {
                write!(f, "{} has a second header at line {line}: two traces were written into one file? (keep one: a file holds one trace)", path.display())
            }
            TraceError::TooLong { path, line, max } => write!(
                f,
                "{} line {line} is longer than {max} bytes, more than any socktrace writes: not a trace? (if it is one, raise the limit with {MAX_LINE_VAR}=BYTES)",
                path.display()
            ),
            TraceError::TooMany { path, max } => write!(
                f,
                "{} holds more than {max} events, more than this reader takes at once (raise the limit with {MAX_EVENTS_VAR}=N, given the memory: about 400 bytes an event)",
                path.display()
            ),
            TraceError::Count { path, claimed, read } => write!(
                f,
                "{} ends with a line counting {claimed} events but holds {read}: the file was cut or edited (re-record it, or delete its last line to read the events it holds)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for TraceError {}

/// What a reader takes, at most: bounds against a file that is no trace (`/dev/zero`, a
/// disk image) or one too big for memory, each raised by an environment variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one line. socktrace's longest lines are a few KiB (a payload preview is cut).
    pub max_line: usize,
    /// Events in a trace read whole.
    pub max_events: usize,
}

const MAX_LINE_VAR: &str = "SOCKTRACE_MAX_LINE_BYTES";
const MAX_EVENTS_VAR: &str = "SOCKTRACE_MAX_EVENTS";

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_line: 1 << 20, max_events: 20_000_000 }
    }
}

impl Limits {
    /// The defaults, or what the environment raises them to.
    pub fn from_env() -> Limits {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n > 0);
        let default = Limits::default();
        Limits { max_line: var(MAX_LINE_VAR).unwrap_or(default.max_line), max_events: var(MAX_EVENTS_VAR).unwrap_or(default.max_events) }
    }
}

/// Describes the start of a line that failed to parse, short enough for a one-line error.
fn describe(line: &str) -> String {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return "empty".to_string();
    }
    let shown: String = trimmed.chars().take(40).collect();
    if trimmed.chars().count() > 40 {
        format!("{shown:?}…")
    } else {
        format!("{shown:?}")
    }
}

/// Checks a header's `format` field: `socktrace/MAJOR.MINOR` with a major version we read.
fn check_version(path: &Path, format: &str) -> Result<(), TraceError> {
    let version_error = || TraceError::Version { path: path.to_path_buf(), found: format.to_string() };
    let version = format.strip_prefix("socktrace/").ok_or_else(version_error)?;
    let major = version.split('.').next().unwrap_or("");
    match major.parse::<u32>() {
        Ok(m) if m == FORMAT_MAJOR => Ok(()),
        _ => Err(version_error()),
    }
}

/// A streaming reader: the header is read on open, then events one at a time, so that a
/// trace of millions of events is never held in memory whole.
pub struct TraceReader<R: Read> {
    path: PathBuf,
    input: BufReader<R>,
    /// The number of the last line taken.
    line_no: usize,
    bytes: Vec<u8>,
    header: Header,
    end: Option<End>,
    events: usize,
    limits: Limits,
    /// The input's size in bytes, where known (a file): what [`TraceReader::read_all`] makes
    /// room for at once.
    size: Option<u64>,
}

impl TraceReader<File> {
    pub fn open(path: &Path) -> Result<TraceReader<File>, TraceError> {
        let file = File::open(path).map_err(|err| TraceError::Open { path: path.to_path_buf(), err })?;
        // The size only sizes the room made for the events: unknown, they make room as they come.
        let size = file.metadata().ok().map(|m| m.len());
        Ok(TraceReader { size, ..TraceReader::new(path, file)? })
    }
}

impl<R: Read> TraceReader<R> {
    /// Reads the header of a trace coming from `input`; `path` only names it in errors.
    pub fn new(path: &Path, input: R) -> Result<TraceReader<R>, TraceError> {
        TraceReader::with_limits(path, input, Limits::from_env())
    }

    /// The same, within `limits`.
    pub fn with_limits(path: &Path, input: R, limits: Limits) -> Result<TraceReader<R>, TraceError> {
        let path = path.to_path_buf();
        let mut input = BufReader::with_capacity(1 << 16, input);
        let mut bytes = Vec::new();
        let n =
            (&mut input).take(limits.max_line as u64 + 1).read_until(b'\n', &mut bytes).map_err(|err| TraceError::Read { path: path.clone(), line: 1, err })?;
        if n == 0 {
            return Err(TraceError::Empty { path });
        }
        if n > limits.max_line {
            return Err(TraceError::TooLong { path, line: 1, max: limits.max_line });
        }
        let Ok(buf) = String::from_utf8(bytes) else { return Err(TraceError::NotText { path, line: 1 }) };
        let value: serde_json::Value = serde_json::from_str(&buf).map_err(|_| TraceError::NotATrace { path: path.clone(), found: describe(&buf) })?;
        let format = match value.get("format").and_then(|f| f.as_str()) {
            Some(f) => f.to_string(),
            None => return Err(TraceError::NotATrace { path, found: describe(&buf) }),
        };
        check_version(&path, &format)?;
        if !buf.ends_with('\n') {
            return Err(TraceError::Truncated { path, line: 1, complete: 0 });
        }
        let header: Header = serde_json::from_value(value).map_err(|e| TraceError::Malformed { path: path.clone(), line: 1, msg: e.to_string() })?;
        Ok(TraceReader { path, input, line_no: 1, bytes: Vec::new(), header, end: None, events: 0, limits, size: None })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The end record, once the reader has reached it (`None` for an interrupted trace).
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    fn next_event(&mut self) -> Result<Option<Event>, TraceError> {
        loop {
            self.bytes.clear();
            let max = self.limits.max_line;
            let n = (&mut self.input).take(max as u64 + 1).read_until(b'\n', &mut self.bytes).map_err(|err| self.read_error(err))?;
            if n == 0 {
                self.check_count()?;
                return Ok(None);
            }
            let line = if n > max { Err(NotAnEvent::TooLong) } else { line::read(&self.bytes) };
            if let Some(event) = self.take(line)? {
                return Ok(Some(event));
            }
        }
    }

    /// Takes the next line, in file order: here the lines are counted, the end line kept, and
    /// a line placed in the errors that say where it is.
    fn take(&mut self, line: Result<Event, NotAnEvent>) -> Result<Option<Event>, TraceError> {
        self.line_no += 1;
        let (path, line_no) = (&self.path, self.line_no);
        let malformed = |e: serde_json::Error| TraceError::Malformed { path: path.clone(), line: line_no, msg: e.to_string() };
        match line {
            Err(NotAnEvent::NotText) => Err(TraceError::NotText { path: path.clone(), line: line_no }),
            Err(NotAnEvent::TooLong) => Err(TraceError::TooLong { path: path.clone(), line: line_no, max: self.limits.max_line }),
            Err(NotAnEvent::Header) => Err(TraceError::SecondHeader { path: path.clone(), line: line_no }),
            Err(NotAnEvent::CutOff) => Err(TraceError::Truncated { path: path.clone(), line: line_no, complete: self.events }),
            Err(NotAnEvent::Blank) => Ok(None),
            Err(NotAnEvent::End(_) | NotAnEvent::Malformed(_)) | Ok(_) if self.end.is_some() => Err(TraceError::AfterEnd { path: path.clone(), line: line_no }),
            Err(NotAnEvent::End(end)) => {
                self.end = Some(end.map_err(malformed)?);
                Ok(None)
            }
            Err(NotAnEvent::Malformed(e)) => Err(malformed(e)),
            Ok(_) if self.events >= self.limits.max_events => Err(TraceError::TooMany { path: path.clone(), max: self.limits.max_events }),
            Ok(event) => {
                self.events += 1;
                Ok(Some(event))
            }
        }
    }

    /// A failure to read the line after the last one taken.
    fn read_error(&self, err: io::Error) -> TraceError {
        TraceError::Read { path: self.path.clone(), line: self.line_no + 1, err }
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

/// A whole trace in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub header: Header,
    pub events: Vec<Event>,
    /// `None` when the trace was interrupted before its end line.
    pub end: Option<End>,
}

/// Reads a whole trace file.
pub fn read_trace(path: &Path) -> Result<Trace, TraceError> {
    TraceReader::open(path)?.read_all()
}

impl<R: Read> TraceReader<R> {
    /// Reads every event that is left, into a whole trace. Reading JSON is the cost of it, so
    /// where there are two cores and more than one chunk of the file to read, a second thread
    /// reads chunks too; the lines are taken in order, so a trace reads, and fails, exactly as
    /// line by line.
    pub fn read_all(mut self) -> Result<Trace, TraceError> {
        let mut rest = Vec::new();
        let first = self.chunk(&mut rest);
        let mut events = self.room_for_events(&first.bytes);
        if first.last.is_some() || !crate::parallel::two_cores() {
            let mut chunk = first;
            loop {
                self.take_all(ReadLines::of(&chunk.bytes, self.limits.max_line), &mut events)?;
                match chunk.last {
                    Some(last) => return self.finish(last, events),
                    None => chunk = self.chunk(&mut rest),
                }
            }
        }
        std::thread::scope(|scope| {
            // Up to two chunks wait for the helper: while this thread reads a chunk itself, the
            // helper still has one to read after the one it is reading.
            let (to_helper, chunks) = mpsc::sync_channel::<Vec<u8>>(2);
            let (helper_done, read) = mpsc::channel::<ReadLines>();
            let max_line = self.limits.max_line;
            scope.spawn(move || {
                for chunk in chunks {
                    if helper_done.send(ReadLines::of(&chunk, max_line)).is_err() {
                        break;
                    }
                }
            });
            // The chunks read and not yet taken, in file order: read here, or (`None`) given
            // to the helper, whose answers come in the order it was given them.
            let mut pending: VecDeque<Option<ReadLines>> = VecDeque::new();
            let mut chunk = first;
            loop {
                let last = chunk.last.take();
                // This thread also reads the file and takes every line, so it reads a chunk
                // itself only when the helper has one waiting already: with a fixed share, the
                // thread that finished first would wait for the other.
                match to_helper.try_send(std::mem::take(&mut chunk.bytes)) {
                    Ok(()) => pending.push_back(None),
                    Err(TrySendError::Full(bytes)) => pending.push_back(Some(ReadLines::of(&bytes, self.limits.max_line))),
                    Err(TrySendError::Disconnected(_)) => panic!("the helper reads while chunks come"),
                }
                // Take what is read, in order; after the last chunk, wait for all of it.
                while let Some(front) = pending.front_mut() {
                    let lines = match front.take() {
                        Some(lines) => lines,
                        None if last.is_some() => read.recv().expect("the helper reads every chunk it is given"),
                        None => match read.try_recv() {
                            Ok(lines) => lines,
                            Err(_) => break,
                        },
                    };
                    pending.pop_front();
                    self.take_all(lines, &mut events)?;
                }
                match last {
                    Some(last) => return self.finish(last, events),
                    None => chunk = self.chunk(&mut rest),
                }
            }
        })
    }

    /// A vector with room for the events of a file of known size, as many as its first chunk
    /// says it holds (its lines are of a size); backed by huge pages where the kernel has them.
    /// A trace of a million events takes 330 MB: grown as they come, in 4 KB pages, it cost
    /// 80,000 page faults on the thread that takes the events in, and every later pass over
    /// the events a miss of the address cache every dozen events.
    fn room_for_events(&self, first: &[u8]) -> Vec<Event> {
        let lines = first.iter().filter(|&&b| b == b'\n').count();
        let (Some(size), true) = (self.size, lines > 0) else { return Vec::new() };
        let estimate = usize::try_from(size / first.len() as u64 * lines as u64).unwrap_or(usize::MAX);
        let mut events = Vec::new();
        // Room the machine cannot give is made as the events come, as for an input of unknown size.
        if events.try_reserve_exact(estimate.saturating_add(estimate / 16).min(self.limits.max_events)).is_ok() {
            super::room::ask_for_huge_pages(&mut events);
        }
        events
    }

    /// The next whole lines of the input, about [`CHUNK`] bytes of them (a longer line whole);
    /// `rest` holds the start of the line after them, from one call to the next.
    fn chunk(&mut self, rest: &mut Vec<u8>) -> Chunk {
        let mut bytes = std::mem::take(rest);
        loop {
            let read_from = bytes.len();
            match (&mut self.input).take(CHUNK as u64).read_to_end(&mut bytes) {
                // The end: the last line goes as it is, cut off or not.
                Ok(0) => return Chunk { bytes, last: Some(Last::End) },
                Ok(_) => {
                    if let Some(end) = bytes[read_from..].iter().rposition(|&b| b == b'\n') {
                        *rest = bytes.split_off(read_from + end + 1);
                        return Chunk { bytes, last: None };
                    }
                    // A line without end (`/dev/zero`): the lines before it are taken first.
                    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |end| end + 1);
                    if bytes.len() - whole > self.limits.max_line {
                        bytes.truncate(whole);
                        return Chunk { bytes, last: Some(Last::TooLong) };
                    }
                }
                // The lines before the failure are taken first, as line by line.
                Err(err) => {
                    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |end| end + 1);
                    bytes.truncate(whole);
                    return Chunk { bytes, last: Some(Last::Failed(err)) };
                }
            }
        }
    }

    /// Takes a chunk's lines, in order.
    fn take_all(&mut self, read: ReadLines, events: &mut Vec<Event>) -> Result<(), TraceError> {
        let mut read_events = read.events.into_iter();
        // How many of the chunk's lines are taken.
        let mut taken = 0;
        for (at, other) in read.others {
            self.take_events(at - taken, &mut read_events, events)?;
            events.extend(self.take(Err(other))?);
            taken = at + 1;
        }
        let rest = read_events.len();
        self.take_events(rest, &mut read_events, events)
    }

    /// Takes the next `n` lines, all events that read.
    fn take_events(&mut self, n: usize, read: &mut std::vec::IntoIter<Event>, events: &mut Vec<Event>) -> Result<(), TraceError> {
        if n > 0 && self.end.is_some() {
            return Err(TraceError::AfterEnd { path: self.path.clone(), line: self.line_no + 1 });
        }
        if self.events + n > self.limits.max_events {
            return Err(TraceError::TooMany { path: self.path.clone(), max: self.limits.max_events });
        }
        // All that is left moves at once.
        if n == read.len() {
            events.extend(std::mem::take(read));
        } else {
            events.extend(read.by_ref().take(n));
        }
        self.line_no += n;
        self.events += n;
        Ok(())
    }

    fn finish(self, last: Last, events: Vec<Event>) -> Result<Trace, TraceError> {
        match last {
            Last::End => {
                self.check_count()?;
                Ok(Trace { header: self.header, events, end: self.end })
            }
            Last::Failed(err) => Err(self.read_error(err)),
            Last::TooLong => Err(TraceError::TooLong { path: self.path, line: self.line_no + 1, max: self.limits.max_line }),
        }
    }

    /// The end line's count against the events read: a file cut in the middle, or edited,
    /// keeps its end line but not its events.
    fn check_count(&self) -> Result<(), TraceError> {
        match &self.end {
            Some(end) if end.events != self.events as u64 => Err(TraceError::Count { path: self.path.clone(), claimed: end.events, read: self.events }),
            _ => Ok(()),
        }
    }
}

/// How much of a trace one thread reads at a time: a few thousand lines, so that handing a
/// chunk to the other thread costs nothing next to reading it.
const CHUNK: usize = 1 << 20;

/// Whole lines of the input, and whether the input ends after them.
struct Chunk {
    bytes: Vec<u8>,
    last: Option<Last>,
}

enum Last {
    End,
    Failed(io::Error),
    /// A line longer than the limit, after the lines before it.
    TooLong,
}

/// A chunk's lines, each read on its own: its events, and every other line (blank, the end
/// line, one that does not read) with its place among the chunk's lines. Events are most
/// lines, and moving one costs: they go straight to their vector.
struct ReadLines {
    events: Vec<Event>,
    others: Vec<(usize, NotAnEvent)>,
}

impl ReadLines {
    /// Reads the lines of `bytes`, each no longer than `max_line`.
    fn of(bytes: &[u8], max_line: usize) -> ReadLines {
        let mut read = ReadLines { events: Vec::new(), others: Vec::new() };
        let too_long = |n: usize| n > max_line;
        match std::str::from_utf8(bytes) {
            // Text, as a trace is: its lines are found by the string search, which looks at
            // many bytes at a time, once, and counted before they are read (room for the events).
            Ok(text) => {
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                read.events.reserve(lines.len());
                for (at, text) in lines.into_iter().enumerate() {
                    read.add(at, if too_long(text.len()) { Err(NotAnEvent::TooLong) } else { line::read_text(text) });
                }
            }
            Err(_) => {
                for (at, bytes) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
                    read.add(at, if too_long(bytes.len()) { Err(NotAnEvent::TooLong) } else { line::read(bytes) });
                }
            }
        }
        read
    }

    fn add(&mut self, at: usize, line: Result<Event, NotAnEvent>) {
        match line {
            Ok(event) => self.events.push(event),
            Err(other) => self.others.push((at, other)),
        }
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    /// A trace of several chunks: the live echo's events over and over, then `tail`.
    fn long_trace(tail: &[u8]) -> Vec<u8> {
        let echo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/live/echo.jsonl")).unwrap();
        let mut lines = echo.lines();
        let header = lines.next().unwrap();
        let events: Vec<&str> = lines.filter(|l| !l.starts_with("{\"end\"")).collect();
        let mut text = format!("{header}\n");
        while text.len() < 5 * CHUNK {
            for line in &events {
                text.push_str(line);
                text.push('\n');
            }
        }
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(tail);
        bytes
    }

    /// What reading line by line makes of a trace: its events, or the first error.
    fn line_by_line(bytes: &[u8]) -> Result<Vec<Event>, String> {
        let reader = TraceReader::new(Path::new("t.jsonl"), bytes).map_err(|e| e.to_string())?;
        reader.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
    }

    #[test]
    fn read_all__reads_and_fails_as_line_by_line__past_the_first_chunks() {
        let events = long_trace(b"").iter().filter(|&&b| b == b'\n').count() - 1;
        let end = format!(r#"{{"end":{{"events":{events},"packets_dropped":0,"states_lost":0}}}}"#);
        let tails = [
            format!("{end}\n").into_bytes(),
            format!("\n\n{end}\n").into_bytes(),
            // Cut off; not an event; two end lines; not text.
            br#"{"t":1,"actor":{"role":"client"},"origin":"observed""#.to_vec(),
            b"{\"t\":1,\"kind\":\"nonsense\"}\n".to_vec(),
            format!("{end}\n{end}\n").into_bytes(),
            b"{\"t\":\xff}\n".to_vec(),
        ];
        let mut failures = 0;
        for tail in &tails {
            let tail = &tail[..];
            let bytes = long_trace(tail);
            let whole = TraceReader::new(Path::new("t.jsonl"), &bytes[..]).and_then(TraceReader::read_all);
            let whole = whole.map(|trace| trace.events).map_err(|e| e.to_string());
            let expected = line_by_line(&bytes);
            assert_eq!(whole.as_ref().map(Vec::len), expected.as_ref().map(Vec::len), "tail {:?}", String::from_utf8_lossy(tail));
            assert!(whole == expected, "tail {:?}", String::from_utf8_lossy(tail));
            failures += usize::from(expected.is_err());
        }
        assert_eq!(failures, 4, "all but the first two tails spoil the trace");
    }

    /// Reads `bytes` whole within `limits`: the error, if any.
    fn read_within(bytes: &[u8], limits: Limits) -> Option<String> {
        TraceReader::with_limits(Path::new("t.jsonl"), bytes, limits).and_then(TraceReader::read_all).err().map(|e| e.to_string())
    }

    #[test]
    fn a_line_longer_than_the_limit__is_refused_where_it_is__whole_or_streamed() {
        let limits = Limits { max_line: 4096, max_events: 1_000_000 };
        // A line without end after whole chunks of events, and one long line among them.
        let mut runaway = long_trace(b"");
        runaway.extend(std::iter::repeat_n(b'a', 3 * CHUNK));
        let lines = runaway.iter().filter(|&&b| b == b'\n').count();
        let said = read_within(&runaway, limits).expect("refused");
        assert!(said.contains(&format!("line {} is longer than 4096 bytes", lines + 1)), "{said}");
        let mut long = long_trace(b"");
        long.extend(std::iter::repeat_n(b'a', 5000));
        long.push(b'\n');
        let said = read_within(&long, limits).expect("refused");
        assert!(said.contains(&format!("line {} is longer than 4096 bytes", lines + 1)), "{said}");
        let streamed = TraceReader::with_limits(Path::new("t.jsonl"), &long[..], limits).expect("a header").find_map(Result::err).expect("refused");
        assert!(streamed.to_string().contains("is longer than 4096 bytes"), "{streamed}");
    }

    #[test]
    fn more_events_than_the_limit__are_refused_not_held() {
        let bytes = long_trace(b"");
        let said = read_within(&bytes, Limits { max_line: 1 << 20, max_events: 100 }).expect("refused");
        assert!(said.contains("holds more than 100 events"), "{said}");
        assert_eq!(read_within(&bytes, Limits::default()), None, "within the default");
    }
}
