//! The kernel-state lens: TCP state changes, resets and retransmissions as the kernel reports
//! them through tracepoints, read from a private tracefs instance in binary.
//!
//! - `mount`: finds tracefs, mounts it on a fresh machine;
//! - `instance`: the private instance, created and removed;
//! - `ports`: which sockets belong to the session (kernel filters and the reader's check);
//! - `format`: tracepoint format files, so field offsets come from the running kernel;
//! - `page`: the ring buffer's binary pages, parsed without trusting them;
//! - `decode`: records to [`Event`](crate::event::Event)s;
//! - `reader`: one thread per CPU, and how it reads with low latency;
//! - `tracer`: [`StateTracer`], start to stop; `stats`: its account, [`TracerStats`].

mod cpus;
pub(crate) mod decode;
mod error;
pub(crate) mod format;
mod instance;
pub mod mount;
pub(crate) mod page;
pub(crate) mod ports;
mod reader;
mod stats;
mod tracer;

#[cfg(test)]
mod live_tests;

pub use error::TracefsError;
pub use stats::TracerStats;
pub use tracer::{Prepared, StateTracer};
