//! Reads a trace back, checking its format and version and saying exactly what is wrong
//! with a file that is not a readable trace.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::format::{End, EndRecord, Header, FORMAT, FORMAT_MAJOR};
use crate::event::Event;

/// Why a file could not be read as a trace. Each message is one line: what was wrong, where,
/// and what to do.
#[derive(Debug)]
pub enum TraceError {
    Open { path: PathBuf, err: io::Error },
    Read { path: PathBuf, line: usize, err: io::Error },
    Empty { path: PathBuf },
    NotATrace { path: PathBuf, found: String },
    Version { path: PathBuf, found: String },
    Malformed { path: PathBuf, line: usize, msg: String },
    Truncated { path: PathBuf, line: usize, complete: usize },
    AfterEnd { path: PathBuf, line: usize },
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
        }
    }
}

impl std::error::Error for TraceError {}

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
    line_no: usize,
    buf: String,
    header: Header,
    end: Option<End>,
    events: usize,
}

impl TraceReader<File> {
    pub fn open(path: &Path) -> Result<TraceReader<File>, TraceError> {
        let file = File::open(path).map_err(|err| TraceError::Open { path: path.to_path_buf(), err })?;
        TraceReader::new(path, file)
    }
}

impl<R: Read> TraceReader<R> {
    /// Reads the header of a trace coming from `input`; `path` only names it in errors.
    pub fn new(path: &Path, input: R) -> Result<TraceReader<R>, TraceError> {
        let path = path.to_path_buf();
        let mut input = BufReader::with_capacity(1 << 16, input);
        let mut buf = String::new();
        let n = input
            .read_line(&mut buf)
            .map_err(|err| TraceError::Read { path: path.clone(), line: 1, err })?;
        if n == 0 {
            return Err(TraceError::Empty { path });
        }
        let value: serde_json::Value = serde_json::from_str(&buf)
            .map_err(|_| TraceError::NotATrace { path: path.clone(), found: describe(&buf) })?;
        let format = match value.get("format").and_then(|f| f.as_str()) {
            Some(f) => f.to_string(),
            None => return Err(TraceError::NotATrace { path, found: describe(&buf) }),
        };
        check_version(&path, &format)?;
        if !buf.ends_with('\n') {
            return Err(TraceError::Truncated { path, line: 1, complete: 0 });
        }
        let header: Header = serde_json::from_value(value)
            .map_err(|e| TraceError::Malformed { path: path.clone(), line: 1, msg: e.to_string() })?;
        Ok(TraceReader { path, input, line_no: 1, buf, header, end: None, events: 0 })
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
            self.buf.clear();
            self.line_no += 1;
            let line = self.line_no;
            let n = self
                .input
                .read_line(&mut self.buf)
                .map_err(|err| TraceError::Read { path: self.path.clone(), line, err })?;
            if n == 0 {
                return Ok(None);
            }
            if !self.buf.ends_with('\n') {
                return Err(TraceError::Truncated { path: self.path.clone(), line, complete: self.events });
            }
            if self.buf.trim().is_empty() {
                continue;
            }
            if self.end.is_some() {
                return Err(TraceError::AfterEnd { path: self.path.clone(), line });
            }
            if self.buf.starts_with("{\"end\"") {
                let rec: EndRecord = serde_json::from_str(&self.buf)
                    .map_err(|e| TraceError::Malformed { path: self.path.clone(), line, msg: e.to_string() })?;
                self.end = Some(rec.end);
                continue;
            }
            let event: Event = serde_json::from_str(&self.buf)
                .map_err(|e| TraceError::Malformed { path: self.path.clone(), line, msg: e.to_string() })?;
            self.events += 1;
            return Ok(Some(event));
        }
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
    /// Reads every event that is left, into a whole trace.
    pub fn read_all(mut self) -> Result<Trace, TraceError> {
        let mut events = Vec::new();
        for event in self.by_ref() {
            events.push(event?);
        }
        Ok(Trace { header: self.header, events, end: self.end })
    }
}
