//! `trace check FILE`: from a path to an exit status, for the command line: reads the trace,
//! checks it ([`crate::check`]) and writes the report ([`super::check`]).

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use super::Style;
use crate::check::{check, CheckOptions, Verdict};
use crate::trace::{read_trace, TraceError};

/// Why `trace check` could not give a verdict (exit 2).
#[derive(Debug)]
pub enum CheckError {
    /// The file is not a readable trace: the reader's one-line error.
    Trace(TraceError),
    /// The report could not be written.
    Output(io::Error),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Trace(err) => err.fmt(f),
            CheckError::Output(err) => write!(f, "cannot write the check's report: {err}"),
        }
    }
}

impl std::error::Error for CheckError {}

impl From<TraceError> for CheckError {
    fn from(err: TraceError) -> CheckError {
        CheckError::Trace(err)
    }
}

/// Reads the trace at `path`, checks it and writes the report to `out`. A reader that went
/// away (`trace check f | head`) is not an error: the verdict stands.
pub fn run_check(path: &Path, options: &CheckOptions, style: Style, out: &mut dyn Write) -> Result<Verdict, CheckError> {
    let trace = read_trace(path)?;
    let report = check(&trace, options);
    match report.render(style, out).and_then(|()| out.flush()) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(CheckError::Output(err)),
        _ => Ok(report.verdict()),
    }
}
