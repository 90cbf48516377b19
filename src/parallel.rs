//! Two pieces of work at once, on a machine with a second core, when the work is worth a
//! thread: reading a trace of a million events, or normalizing it, takes a second or so on
//! one core, starting a thread some microseconds.

use std::sync::OnceLock;

/// How many events a piece of work must be about for a second thread to pay: tens of
/// microseconds to start one, about a microsecond of work per event.
pub(crate) const WORTH_A_THREAD: usize = 10_000;

/// Whether the machine has a second core to run a thread on.
pub(crate) fn two_cores() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) >= 2
}

/// Runs `a` and `b`, at once when `worth_it` and there are two cores, else one after the
/// other.
pub(crate) fn both<A: Send, B: Send>(worth_it: bool, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    if !worth_it || !two_cores() {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        // A panic in `b` is this call's panic, as it would be on one thread.
        (a, b.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}
