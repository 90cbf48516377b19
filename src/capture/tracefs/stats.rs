//! What a trace of kernel states cost and lost.

use std::fmt;

/// The account a [`StateTracer`](super::StateTracer) gives when stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TracerStats {
    /// Events delivered.
    pub events: u64,
    /// Events the kernel recorded but we never read: the ring buffer overwrote or dropped them
    /// (`per_cpu/cpuN/stats`), or the pages said so.
    pub lost: u64,
    /// Records read and left out: sockets outside the session's ports, other protocols.
    pub skipped: u64,
    /// Records or pages that could not be decoded.
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

/// Overwritten plus dropped events, from the text of `per_cpu/cpuN/stats`.
pub fn lost_in_cpu_stats(text: &str) -> u64 {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| matches!(key.trim(), "overrun" | "dropped events"))
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stats_overrun_plus_dropped() {
        let text = "entries: 3\noverrun: 5\ncommit overrun: 9\nbytes: 0\noldest event ts:     0.000000\n\
                    now ts:   290.920680\ndropped events: 2\nread events: 40\n";
        assert_eq!(lost_in_cpu_stats(text), 7);
    }
}
