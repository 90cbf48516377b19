//! SIGINT (Ctrl-C) and SIGTERM taken over from their default, which ends `trace` at once: the
//! one place their handlers are installed, for `trace run` (passed on to the traced programs,
//! see [`super::ptrace::signals`]) and for `trace import` (a flag the import polls, so that it
//! stops between two packets and every trace it wrote is whole).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Set by SIGINT and SIGTERM once [`stop_on_termination`] was called.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// From now on SIGINT and SIGTERM only raise the flag returned, for a loop to stop at.
pub fn stop_on_termination() -> io::Result<&'static AtomicBool> {
    on_termination(SigHandler::Handler(request_stop))?;
    Ok(&STOP)
}

/// Installs `handler` for SIGINT and SIGTERM, restarting the system calls they interrupt
/// (nix adds SA_SIGINFO for a `SigHandler::SigAction`). The handler must make
/// async-signal-safe calls only.
pub(crate) fn on_termination(handler: SigHandler) -> io::Result<()> {
    let action = SigAction::new(handler, SaFlags::SA_RESTART, SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler (the caller's promise) makes async-signal-safe calls only; the
        // old action is not needed.
        unsafe { sigaction(sig, &action) }?;
    }
    Ok(())
}
