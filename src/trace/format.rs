//! The records of a trace file other than events: its header and its end.

use serde::{Deserialize, Serialize};

pub use crate::event::Exit;

/// The value of the header's `format` field: name and `major.minor` version. Readers accept
/// any minor version of their major version (new minor versions only add fields).
pub const FORMAT: &str = "socktrace/1.2";
pub const FORMAT_MAJOR: u32 = 1;

/// Where a trace's events come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Recorded from running programs.
    Live,
    /// Produced by the RFC 9293 model (`trace simulate`).
    Simulated,
    /// Read from a packet capture file.
    Imported,
}

/// What one lens delivered for this trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LensStatus {
    Observed,
    Modelled,
    /// The lens could not run; `reason` says why and how to enable it.
    Unavailable {
        reason: String,
    },
}

/// The three lenses of a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lenses {
    pub calls: LensStatus,
    pub packets: LensStatus,
    pub states: LensStatus,
}

/// The first line of a trace file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`] when written by this version.
    pub format: String,
    /// The tool and version that wrote the trace.
    pub tool: String,
    /// The clock of every event's `t`.
    pub clock: String,
    /// The command line that produced the trace, for the reader's orientation.
    pub command: String,
    pub source: Source,
    pub lenses: Lenses,
}

impl Header {
    pub fn new(command: impl Into<String>, source: Source, lenses: Lenses) -> Header {
        Header {
            format: FORMAT.to_string(),
            tool: format!("socktrace {}", env!("CARGO_PKG_VERSION")),
            clock: match source {
                Source::Live => "CLOCK_MONOTONIC ns".to_string(),
                Source::Simulated => "model ns".to_string(),
                Source::Imported => "capture ns".to_string(),
            },
            command: command.into(),
            source,
            lenses,
        }
    }
}

/// The last line of a complete trace: counts a reader can check the events against, and
/// what the capture lost (a learner must know when a trace is incomplete).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub events: u64,
    /// Packets the kernel dropped before the capture could read them.
    pub packets_dropped: u64,
    /// Tracepoint events the kernel's trace buffer overwrote before they were read.
    pub states_lost: u64,
    /// Events that reached the timeline after later ones had been released, so that they
    /// stand out of time order (a lens ran later than its progress mark promised).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub out_of_order: u64,
    /// How the traced programs ended (`trace run`): a trace whose program crashed says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<ProgramEnd>,
    /// Ways the traced programs moved data that make no system call per operation
    /// (`io_uring`): what went through them is not in the trace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untraced: Vec<String>,
}

/// How one program that `trace run` started ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramEnd {
    /// The program as started (its first word).
    pub command: String,
    pub pid: u32,
    #[serde(flatten)]
    pub exit: Exit,
    /// A server `trace` ended because it still ran after the client had ended (`trace run
    /// --linger`): how it ended is then no failure of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ended_by_trace: bool,
}

impl ProgramEnd {
    /// How it ended, in words: `exited with status 0`, `was killed by signal SIGTERM, ended by
    /// trace: …`.
    pub fn how(&self) -> String {
        let by_trace = if self.ended_by_trace { ", ended by trace: it still ran after the client had ended" } else { "" };
        format!("{}{by_trace}", self.exit)
    }
}

impl std::fmt::Display for ProgramEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {}) {}", self.command, self.pid, self.how())
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The end line is an object with one key, so that no event can be mistaken for it.
#[derive(Serialize, Deserialize)]
pub(crate) struct EndRecord {
    pub end: End,
}
