//! Running the `trace` binary and reading what it wrote.

#![allow(dead_code)]

pub mod chatter;
pub mod evidence;
pub mod matrix;
pub mod model;
pub mod pty;
pub mod session;
pub mod story;
pub mod strace;
pub mod tcpdump;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use socktrace::trace::{read_trace, Trace};

pub fn trace_bin() -> &'static str {
    env!("CARGO_BIN_EXE_trace")
}

/// Runs `trace ARGS` with colour off; returns its output.
pub fn trace(args: &[&str]) -> Output {
    Command::new(trace_bin()).args(args).env("NO_COLOR", "1").env_remove("COLUMNS").output().expect("the trace binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the bad-input contract: exit 2, one line on stderr starting with `trace:`,
/// containing `needle`, and no panic.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit code for {needle:?}; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line of error expected, got: {err}");
    assert!(err.starts_with("trace: "), "error starts with 'trace: ': {err}");
    assert!(err.contains(needle), "error mentions {needle:?}: {err}");
    assert!(!err.contains("panicked"), "no panic: {err}");
}

/// A fresh directory under the target dir for one test's files.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub fn load(path: &Path) -> Trace {
    read_trace(path).unwrap_or_else(|e| panic!("{e}"))
}

/// A committed fixture, by its path under `fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(relative)
}

/// The same, as a command-line argument.
pub fn fixture_path(relative: &str) -> String {
    fixture(relative).to_string_lossy().into_owned()
}
