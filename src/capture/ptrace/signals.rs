//! Signals around a traced program: their names, for a program's end, and passing Ctrl-C and
//! `kill` on to the programs `trace run` started, so that the trace ends when they do.

use std::sync::atomic::{AtomicI32, Ordering};

/// The name of signal `sig` (`SIGSEGV`), or its number.
pub fn name(sig: i32) -> String {
    let known = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    known.to_string()
}

/// The programs `trace run` started (0: none), to which a signal sent to `trace` goes on.
static TARGETS: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];

/// Records the `slot`th program started, for [`forward_termination`].
pub fn set_target(slot: usize, pid: i32) {
    if let Some(target) = TARGETS.get(slot) {
        target.store(pid, Ordering::SeqCst);
    }
}

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { info.as_ref() }.map_or(0, |i| i.si_code);
    // A terminal's Ctrl-C (si_code SI_KERNEL) reached the whole foreground process group,
    // the programs too; a `kill` (si_code <= 0: SI_USER, SI_QUEUE, SI_TKILL) reached us only.
    if code > 0 {
        return;
    }
    for target in &TARGETS {
        let pid = target.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe; `pid` is a program we started.
            unsafe { libc::kill(pid, sig) };
        }
    }
}

/// From now on SIGINT and SIGTERM do not end `trace` itself: they go on to the programs it
/// started, and the trace ends, complete, when they do (`PTRACE_O_EXITKILL` still ends them
/// should `trace` itself be killed).
pub fn forward_termination() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; it is filled before use.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = forward as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        // SAFETY: `action` is a valid sigaction whose handler only makes async-signal-safe
        // calls; the old action is not needed.
        if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(super::name(40), "signal 40");
    }
}
