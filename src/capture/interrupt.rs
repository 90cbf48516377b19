//! SIGINT (Ctrl-C) and SIGTERM taken over from their default, which ends `trace` at once: the
//! one place their handlers are installed, for `trace run` (passed on to the traced programs,
//! see [`super::ptrace::signals`]) and for `trace import` (a flag the import polls, so that it
//! stops between two packets and every trace it wrote is whole).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGINT and SIGTERM once [`stop_on_termination`] was called.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// From now on SIGINT and SIGTERM only raise the flag returned, for a loop to stop at.
pub fn stop_on_termination() -> io::Result<&'static AtomicBool> {
    on_termination(request_stop as *const () as usize, libc::SA_RESTART)?;
    Ok(&STOP)
}

/// Installs `handler` (an `sa_sigaction` value, taken as `flags` say) for SIGINT and SIGTERM.
/// The handler must make async-signal-safe calls only.
pub(crate) fn on_termination(handler: usize, flags: libc::c_int) -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; it is filled before use.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        // SAFETY: `action` is a valid sigaction whose handler (the caller's promise) only makes
        // async-signal-safe calls; the old action is not needed.
        if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
