//! The one clock of a live trace: CLOCK_MONOTONIC in nanoseconds.
//!
//! Calls are stamped with it directly, tracepoints by perf events asked for it (`clockid`), and
//! packets by the kernel's receive timestamp, which is CLOCK_REALTIME and is converted here.

use nix::time::{clock_gettime, ClockId};

/// Reads a clock in nanoseconds.
fn read(clock: ClockId) -> u64 {
    // The clocks read here always exist on Linux; a failure would be a kernel bug.
    let ts = clock_gettime(clock).expect("clock_gettime failed");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// CPU time the calling thread has used, in ns (what a lens costs).
pub fn thread_cpu_ns() -> u64 {
    read(ClockId::CLOCK_THREAD_CPUTIME_ID)
}

/// Now, on the trace clock.
pub fn now_ns() -> u64 {
    read(ClockId::CLOCK_MONOTONIC)
}

/// The distance between CLOCK_REALTIME and CLOCK_MONOTONIC, to put kernel packet timestamps
/// on the trace clock.
#[derive(Clone, Copy, Debug)]
pub struct RealtimeOffset {
    /// realtime − monotonic, in ns.
    offset: i128,
}

impl RealtimeOffset {
    /// Measures the offset, taking the tightest of a few bracketed readings so that the error
    /// stays well under a microsecond.
    pub fn measure() -> RealtimeOffset {
        let mut best: Option<(u64, i128)> = None;
        for _ in 0..16 {
            let m1 = read(ClockId::CLOCK_MONOTONIC);
            let r = read(ClockId::CLOCK_REALTIME);
            let m2 = read(ClockId::CLOCK_MONOTONIC);
            let width = m2 - m1;
            let offset = r as i128 - (m1 as i128 + (width / 2) as i128);
            if best.is_none_or(|(w, _)| width < w) {
                best = Some((width, offset));
            }
        }
        RealtimeOffset { offset: best.map_or(0, |(_, o)| o) }
    }

    /// How far apart two measurements are, in ns: a few tens from the measuring alone, the
    /// size of the step when the realtime clock was set in between.
    pub fn apart(self, other: RealtimeOffset) -> u64 {
        self.offset.abs_diff(other.offset).try_into().unwrap_or(u64::MAX)
    }

    /// Converts a CLOCK_REALTIME timestamp (as in SO_TIMESTAMPNS) to the trace clock.
    pub fn to_mono(self, realtime_ns: u64) -> u64 {
        (realtime_ns as i128 - self.offset).max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_measurements_of_the_offset_are_far_closer_than_a_step() {
        let (a, b) = (RealtimeOffset::measure(), RealtimeOffset::measure());
        assert!(a.apart(b) < 10_000, "{} ns apart", a.apart(b));
        let stepped = RealtimeOffset { offset: a.offset + 500_000 };
        assert_eq!(a.apart(stepped), 500_000);
    }

    #[test]
    fn realtime_now_converts_to_monotonic_now() {
        let off = RealtimeOffset::measure();
        let m1 = now_ns();
        let r = read(ClockId::CLOCK_REALTIME);
        let m2 = now_ns();
        let converted = off.to_mono(r);
        // Allow 1 ms of slack for a descheduled test thread; the offset itself is far tighter.
        assert!(converted + 1_000_000 >= m1 && converted <= m2 + 1_000_000, "{m1} <= {converted} <= {m2}");
    }
}
