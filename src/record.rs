//! Recording a trace from Rust, for tests: what `trace run` does, without a screen, handing
//! back the [`Trace`]. With [`Trace::snapshot`] it makes a snapshot test of a student's echo
//! server, graded with insta:
//!
//! ```no_run
//! # fn main() -> Result<(), socktrace::record::RecordError> {
//! let trace = socktrace::record::server_and_client(
//!     &["python3", "echo_server.py"],
//!     &["python3", "echo_client.py", "{port}"],
//! )?;
//! insta::assert_snapshot!(trace.snapshot());
//! # Ok(())
//! # }
//! ```
//!
//! Packets and kernel states need root (as `trace run` does); without it the trace holds the
//! calls only, and its snapshot says so on its first line, so it cannot pass for a full one.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::capture::ptrace::Programs;
use crate::live::run::{self, RunError, RunPlan};
use crate::live::Output;
use crate::trace::{read_trace, Trace, TraceError};

#[derive(Debug)]
pub enum RecordError {
    Run(RunError),
    Read(TraceError),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Run(err) => write!(f, "recording failed: {err}"),
            RecordError::Read(err) => write!(f, "the recorded trace cannot be read: {err}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// Traces one command (and every process it starts) to its end.
pub fn command(argv: &[&str]) -> Result<Trace, RecordError> {
    record(Programs::One(owned(argv)))
}

/// Traces a server and a client started once the server listens; `{port}` in the client's
/// words becomes the port the server listens on.
pub fn server_and_client(server: &[&str], client: &[&str]) -> Result<Trace, RecordError> {
    record(Programs::ServerClient { server: owned(server), client: owned(client) })
}

fn owned(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn record(programs: Programs) -> Result<Trace, RecordError> {
    static RECORDINGS: AtomicU32 = AtomicU32::new(0);
    let command = match &programs {
        Programs::One(argv) => format!("trace run -- {}", argv.join(" ")),
        Programs::ServerClient { server, client } => format!("trace run --server '{}' --client '{}'", server.join(" "), client.join(" ")),
    };
    let n = RECORDINGS.fetch_add(1, Ordering::Relaxed);
    let path: PathBuf = std::env::temp_dir().join(format!("socktrace-record-{}-{n}.jsonl", std::process::id()));
    let result = run::run(RunPlan { programs, seccomp: true }, &command, Output { renderer: None, save: Some(path.clone()) });
    let trace = result.map_err(RecordError::Run).and_then(|_| read_trace(&path).map_err(RecordError::Read));
    let _ = std::fs::remove_file(&path);
    trace
}
