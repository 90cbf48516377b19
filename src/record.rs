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
//! Or record a piece of Rust code from inside a test with [`record_code!`](crate::record_code):
//! the test re-runs itself, alone, in a child process that `trace run` traces, and only that
//! child runs the code (a process cannot trace its own threads):
//!
//! ```no_run
//! use std::io::{BufRead, BufReader, Write};
//! use std::net::{TcpListener, TcpStream};
//!
//! #[test]
//! fn my_echo_follows_the_sequences() {
//!     let trace = socktrace::record_code!(|| {
//!         let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!         let addr = listener.local_addr().unwrap();
//!         let server = std::thread::spawn(move || {
//!             let (conn, _) = listener.accept().unwrap();
//!             let mut line = String::new();
//!             BufReader::new(&conn).read_line(&mut line).unwrap();
//!             (&conn).write_all(line.as_bytes()).unwrap();
//!         });
//!         let mut client = TcpStream::connect(addr).unwrap();
//!         client.write_all(b"hello\n").unwrap();
//!         let mut echoed = String::new();
//!         BufReader::new(&client).read_line(&mut echoed).unwrap();
//!         server.join().unwrap();
//!     })
//!     .unwrap();
//!     insta::assert_snapshot!(trace.snapshot());
//! }
//! ```
//!
//! Packets and kernel states need root (as `trace run` does); without it the trace holds the
//! calls only, and its snapshot says so on its first line, so it cannot pass for a full one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::capture::ptrace::{Launch, Programs};
use crate::live::run::{self, RunError, RunPlan};
use crate::live::Output;
use crate::trace::{read_trace, Exit, Trace, TraceError};

#[derive(Debug)]
pub enum RecordError {
    Run(RunError),
    Read(TraceError),
    /// The test binary to re-run for [`code`] cannot be found.
    TestBinary(std::io::Error),
    /// The recorded code failed in its traced child (its panic message is in the output above).
    CodeFailed(String),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Run(err) => write!(f, "recording failed: {err}"),
            RecordError::Read(err) => write!(f, "the recorded trace cannot be read: {err}"),
            RecordError::TestBinary(err) => write!(f, "cannot find the test binary to re-run the recorded code in: {err}"),
            RecordError::CodeFailed(end) => write!(f, "the recorded code failed in its traced child: {end} (its output is above)"),
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
    record(Programs::ServerClient {
        server: owned(server),
        client: owned(client),
        wait: crate::capture::ptrace::LISTEN_WAIT,
        after: crate::capture::ptrace::AfterClient::Runs,
    })
}

/// The traced child's exit status when the recorded code panicked (the harness's own).
const PANICKED: i32 = 101;

/// The environment variable that tells a test process it is the child [`code`] traces, and
/// which test it is to run the code of.
const CHILD_TEST: &str = "SOCKTRACE_RECORD_TEST";

/// Records `code`, run by the test named `test` (as the test harness names it, e.g.
/// `coursework::my_echo`). Use [`record_code!`](crate::record_code), which finds the name.
///
/// In the test process itself, this re-runs that one test under `trace run` and returns the
/// trace; in that traced child it runs `code` and ends the process (exit 0, or 101 if `code`
/// panics, as the harness would), so nothing after it runs twice.
pub fn code<F: FnOnce()>(test: &str, code: F) -> Result<Trace, RecordError> {
    if std::env::var(CHILD_TEST).as_deref() == Ok(test) {
        // A panic is caught here, not by the harness: the harness would print its own FAILED
        // lines, read in the test's output as the outer test failing. The panic's message
        // (printed by the panic hook) and the exit status say what happened.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(code));
        std::process::exit(if ran.is_ok() { 0 } else { PANICKED });
    }
    let exe = std::env::current_exe().map_err(RecordError::TestBinary)?;
    // `env` sets the marker for the child alone: the test process's environment is shared by
    // its threads and is not ours to change.
    let argv = ["/usr/bin/env", &format!("{CHILD_TEST}={test}"), &exe.to_string_lossy(), test, "--exact", "--nocapture", "--test-threads=1", "--quiet"];
    let trace = record(Programs::One(owned(&argv)))?;
    let failed = trace.end.iter().flat_map(|end| &end.programs).find(|p| p.exit != Exit::Status { code: 0 });
    match failed {
        Some(end) => Err(RecordError::CodeFailed(end.to_string())),
        None => Ok(trace),
    }
}

/// The harness's name of the test a function path belongs to: `std::any::type_name` of an
/// item inside the test, without the crate, the item and any closures around it.
#[doc(hidden)]
pub fn test_name(item_path: &str) -> String {
    let mut parts: Vec<&str> = item_path.split("::").filter(|p| *p != "{{closure}}").collect();
    parts.pop();
    parts.drain(..parts.len().min(1));
    parts.join("::")
}

/// Records the code of a closure run inside the calling test; see [`code`].
#[macro_export]
macro_rules! record_code {
    ($code:expr) => {{
        fn here() {}
        fn name_of<T>(_: T) -> &'static str {
            ::std::any::type_name::<T>()
        }
        $crate::record::code(&$crate::record::test_name(name_of(here)), $code)
    }};
}

fn owned(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn record(programs: Programs) -> Result<Trace, RecordError> {
    static RECORDINGS: AtomicU32 = AtomicU32::new(0);
    let command = command_of(&programs);
    let n = RECORDINGS.fetch_add(1, Ordering::Relaxed);
    let path: PathBuf = std::env::temp_dir().join(format!("socktrace-record-{}-{n}.jsonl", std::process::id()));
    recorded(RunPlan { programs, launch: Launch::default(), seccomp: true }, &command, &path)
}

/// Traces `programs` started as `launch` says (as another user, confined: `trace grade`),
/// through the trace file `path`, which is removed afterwards. The trace's end says how each
/// program ended.
pub fn launched(programs: Programs, launch: Launch, path: &Path) -> Result<Trace, RecordError> {
    let command = command_of(&programs);
    recorded(RunPlan { programs, launch, seccomp: true }, &command, path)
}

/// The `trace run` command line that would trace `programs`, for the trace's header.
fn command_of(programs: &Programs) -> String {
    match programs {
        Programs::One(argv) => format!("trace run -- {}", argv.join(" ")),
        Programs::ServerClient { server, client, .. } => format!("trace run --server '{}' --client '{}'", server.join(" "), client.join(" ")),
    }
}

fn recorded(plan: RunPlan, command: &str, path: &Path) -> Result<Trace, RecordError> {
    let result = run::run(plan, command, Output { renderer: None, save: Some(path.to_path_buf()) });
    let trace = result.map_err(RecordError::Run).and_then(|_| read_trace(path).map_err(RecordError::Read));
    let _ = std::fs::remove_file(path);
    trace
}
