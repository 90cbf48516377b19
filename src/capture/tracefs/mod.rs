//! The kernel-state lens: TCP state changes, resets and retransmissions as the kernel reports
//! them through tracepoints, found in tracefs and recorded with perf events, in binary.
//!
//! - `mount`: finds tracefs, mounts it on a fresh machine;
//! - `format`: tracepoint format files, so ids and field offsets come from the running kernel;
//! - `ports`: which sockets belong to the session (kernel filters and the reader's check);
//! - `perf`: perf events on the tracepoints, and the per-CPU rings they write into;
//! - `decode`: records to [`Event`](crate::event::Event)s;
//! - `reader`: one thread per CPU, and how it reads with low latency;
//! - `tracer`: [`StateTracer`], start to stop; `stats`: its account, [`TracerStats`].

mod cpus;
pub(crate) mod decode;
mod error;
pub(crate) mod format;
pub mod mount;
mod perf;
pub(crate) mod ports;
mod reader;
mod stats;
mod tracer;

#[cfg(test)]
mod live_tests;

pub use error::TracefsError;
pub use stats::TracerStats;
pub use tracer::{Prepared, StateTracer};
