//! Calls a signal interrupted. When a signal arrives while a followed call blocks (`accept`,
//! `recv`, `poll`), the kernel ends the call with an internal code (`ERESTARTSYS` and
//! friends) that no program ever sees: after the signal is handled, either the kernel runs
//! the call again (no handler, or one installed with `SA_RESTART`) or the program sees
//! `EINTR`. A tracer sees the internal code at the call's exit stop; what the program saw is
//! known only later, so the call is kept open and the task watched at every system call
//! until one of these tells:
//!
//! - the same call enters again (or `restart_syscall`, the kernel's way to resume a call
//!   whose state it kept, such as `poll`'s): it was restarted, and stays one call;
//! - the handler's `rt_sigreturn` returns `-EINTR`: the program saw `EINTR`, then.

use super::open_call::OpenCall;
use super::syscalls::{RESTART_SYSCALL, RT_SIGRETURN};

/// The kernel's restart codes (`include/linux/errno.h`), never seen by a program.
const ERESTARTSYS: i64 = 512;
const ERESTARTNOINTR: i64 = 513;
const ERESTARTNOHAND: i64 = 514;
const ERESTART_RESTARTBLOCK: i64 = 516;

/// Whether a call's exit is the kernel's "interrupted, to be restarted or failed with EINTR".
pub fn interrupted(rval: i64, is_error: bool) -> bool {
    is_error && matches!(-rval, ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND | ERESTART_RESTARTBLOCK)
}

/// A followed call a signal interrupted, waiting to be told what became of it.
pub(super) struct Interrupted {
    pub call: OpenCall,
    /// The call's number, to know it when it enters again.
    pub nr: u64,
    /// The handler's `rt_sigreturn` is running: its exit tells.
    pub returning: bool,
}

/// What a system call's entry says about an interrupted call.
#[derive(Debug, PartialEq, Eq)]
pub enum Entered {
    /// The interrupted call again: restarted.
    Restart,
    /// The signal handler returns: its exit tells what the program sees.
    HandlerReturn,
    /// Another call (the handler's own work): not about the interrupted one.
    Other,
}

pub fn entered(interrupted_nr: u64, nr: u64) -> Entered {
    if nr == interrupted_nr || nr == RESTART_SYSCALL {
        Entered::Restart
    } else if nr == RT_SIGRETURN {
        Entered::HandlerReturn
    } else {
        Entered::Other
    }
}

/// What the program sees when its handler returns `rval`: `EINTR` from the interrupted call,
/// or (any other value: the registers the call is restarted with) nothing yet.
pub fn handler_returned_eintr(rval: i64) -> bool {
    rval == -i64::from(libc::EINTR)
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn restart_codes__interrupted__a_real_errno_is_not() {
        assert!(interrupted(-512, true));
        assert!(interrupted(-516, true));
        assert!(!interrupted(-4, true), "EINTR is what the program sees: an end");
        assert!(!interrupted(512, false), "a call that returned 512 bytes");
    }

    #[test]
    fn after_the_signal__same_call_or_restart_syscall_restarts__sigreturn_tells() {
        let accept = libc::SYS_accept as u64;
        assert_eq!(entered(accept, accept), Entered::Restart);
        assert_eq!(entered(libc::SYS_ppoll as u64, RESTART_SYSCALL), Entered::Restart);
        assert_eq!(entered(accept, RT_SIGRETURN), Entered::HandlerReturn);
        assert_eq!(entered(accept, libc::SYS_write as u64), Entered::Other);
        assert!(handler_returned_eintr(-4));
        assert!(!handler_returned_eintr(accept as i64), "restored to run the call again");
    }
}
