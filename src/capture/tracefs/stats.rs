//! What a trace of kernel states cost and lost.

use std::fmt;

/// The account a [`StateTracer`](super::StateTracer) gives when stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TracerStats {
    /// Events delivered.
    pub events: u64,
    /// Events the kernel counted but we never read: a ring had no room for them (the ring
    /// said so, or the events' own counts exceed the samples read). Rarely, a second copy of
    /// a hit dropped while the port filters were replaced (see
    /// [`StateTracer::set_ports`](super::StateTracer::set_ports)).
    pub lost: u64,
    /// Records read and left out: sockets outside the session's ports, other protocols, the
    /// second copy of a hit written while the port filters were replaced.
    pub skipped: u64,
    /// Records that could not be decoded.
    pub malformed: u64,
    /// CPU time of the reader threads, in ns.
    pub reader_cpu_ns: u64,
    /// What went wrong while reading or cleaning up, one line each.
    pub problems: Vec<String>,
}

impl fmt::Display for TracerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} kernel events, {} lost, {} skipped, {} malformed, reader CPU {:.1} ms",
            self.events,
            self.lost,
            self.skipped,
            self.malformed,
            self.reader_cpu_ns as f64 / 1e6
        )?;
        for problem in &self.problems {
            write!(f, "; {problem}")?;
        }
        Ok(())
    }
}
