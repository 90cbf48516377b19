//! Signals around a traced program: their names, for a program's end, and passing Ctrl-C and
//! `kill` on to the programs `trace run` started (and theirs), so that the trace ends when
//! they do.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{kill, SigHandler, Signal};
use nix::unistd::Pid;

/// The name of signal `sig` (`SIGSEGV`), as nix's `Signal` spells it, or its number (a
/// real-time signal).
pub fn name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

/// The programs `trace run` started (0: none), to which a signal sent to `trace` goes on.
static TARGETS: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];

/// The last termination signal for the session (0: none), for the tracer to act on (see
/// [`take_forwarded`]), and whether `trace` passed it on itself (a `kill` of `trace`) or the
/// programs got it with `trace` (a terminal's Ctrl-C reaches the whole foreground group).
static FORWARDED: AtomicI32 = AtomicI32::new(0);
static PASSED_ON: AtomicBool = AtomicBool::new(false);

/// How long the programs have to end after a termination signal (their own clean-up: a
/// server closing its listening socket, a client finishing its line) before they are killed.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Records the `slot`th program started (or, once it has ended, another traced process to
/// signal in its place; 0: none), for [`forward_termination`].
pub fn set_target(slot: usize, pid: i32) {
    if let Some(target) = TARGETS.get(slot) {
        target.store(pid, Ordering::SeqCst);
    }
}

/// Whether a signal passed on reaches `pid` directly.
pub fn is_target(pid: i32) -> bool {
    TARGETS.iter().any(|t| t.load(Ordering::SeqCst) == pid)
}

/// The termination signal since the last call, if any, and whether the processes the programs
/// started must be sent it too: a `kill` of `trace` reaches only the programs, and a shell's
/// background server would otherwise outlive the shell and the trace would never end.
pub fn take_forwarded() -> Option<(i32, bool)> {
    let sig = FORWARDED.swap(0, Ordering::SeqCst);
    (sig != 0).then(|| (sig, PASSED_ON.load(Ordering::SeqCst)))
}

/// Sends `sig` to the programs, and marks it for the tracer to send to every process they
/// started. Async-signal-safe: atomics and `kill` only.
pub fn terminate(sig: i32) {
    PASSED_ON.store(true, Ordering::SeqCst);
    // A signal to a tracee stops it first for its tracer (SIGKILL ends it): either way the
    // tracer wakes and reads this.
    FORWARDED.store(sig, Ordering::SeqCst);
    for target in &TARGETS {
        let pid = target.load(Ordering::SeqCst);
        if pid > 0 {
            send(pid, sig);
        }
    }
}

/// Sends `sig` to `pid`, a process of the session; one gone meanwhile (ESRCH) has nothing
/// left to be told. Async-signal-safe: `kill` only.
pub fn send(pid: i32, sig: i32) {
    if let Ok(sig) = Signal::try_from(sig) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// How many termination signals `trace` has received.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Whether `trace` has received a termination signal (Ctrl-C, or a `kill`) since
/// [`forward_termination`]: the session was interrupted.
pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { info.as_ref() }.map_or(0, |i| i.si_code);
    // A second one insists: programs that ignored the first (a shell's background job
    // ignores SIGINT) are ended with SIGKILL.
    if RECEIVED.fetch_add(1, Ordering::SeqCst) > 0 {
        terminate(libc::SIGKILL);
        return;
    }
    // A terminal's Ctrl-C (si_code SI_KERNEL) reached the whole foreground process group, the
    // programs too: only the grace period is left to start. A `kill` (si_code <= 0: SI_USER,
    // SI_QUEUE, SI_TKILL) reached us only: pass it on.
    if code > 0 {
        FORWARDED.store(sig, Ordering::SeqCst);
        return;
    }
    terminate(sig);
}

/// From now on SIGINT and SIGTERM do not end `trace` itself: they go on to the programs it
/// started and to the processes those started, and the trace ends, complete, when they have
/// ended; those still running [`GRACE`] later, or at a second signal, are ended with SIGKILL
/// (`PTRACE_O_EXITKILL` still ends them should `trace` itself be killed).
pub fn forward_termination() -> std::io::Result<()> {
    // `forward` makes async-signal-safe calls only (atomics and `kill`).
    crate::capture::interrupt::on_termination(SigHandler::SigAction(forward))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(super::name(libc::SIGIOT), "SIGABRT");
        assert_eq!(super::name(40), "signal 40");
    }
}
