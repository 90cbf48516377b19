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

/// The most descriptors the lens holds at once on this machine: a perf event per tracepoint
/// and online CPU, and while a port filter is replaced, the new events beside the old ones
/// (see [`StateTracer::set_ports`]). A machine whose CPUs cannot be listed counts as one CPU:
/// the lens could not start there anyway.
pub fn descriptors_at_most() -> u64 {
    let cpus = cpus::online().map_or(1, |cpus| cpus.len()) as u64;
    2 * decode::TRACEPOINTS.len() as u64 * cpus
}
