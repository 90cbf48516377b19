//! The system calls the lens follows, by number, and what `PTRACE_GET_SYSCALL_INFO` says about
//! the call a tracee is stopped in.

use std::io;

use crate::event::CallName;

/// Every system call the lens stops at. The seccomp filter lists exactly these, so a traced
/// program runs every other call at full speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sys {
    Socket,
    Bind,
    Listen,
    Accept,
    Accept4,
    Connect,
    Sendto,
    Recvfrom,
    Sendmsg,
    Recvmsg,
    Sendmmsg,
    Recvmmsg,
    Shutdown,
    Close,
    Setsockopt,
    Getsockopt,
    Getsockname,
    Getpeername,
    Read,
    Write,
    Readv,
    Writev,
    /// Calls that move bytes between two descriptors without a copy through the program.
    Sendfile,
    Splice,
    CopyFileRange,
    /// The descriptor calls: a socket may get another number, or lose one, or change mode.
    Dup,
    Dup2,
    Dup3,
    Fcntl,
    Ioctl,
    CloseRange,
    /// Waiting for sockets to be ready.
    Poll,
    Ppoll,
    Select,
    Pselect6,
    EpollCtl,
    EpollWait,
    EpollPwait,
    EpollPwait2,
    /// A new thread shares its creator's descriptors, a new process gets a copy: the flags
    /// say which.
    Clone,
    Clone3,
    /// Socket I/O without a system call per operation: detected, named as not traced.
    IoUringSetup,
}

impl Sys {
    pub const ALL: [Sys; 42] = [
        Sys::Socket,
        Sys::Bind,
        Sys::Listen,
        Sys::Accept,
        Sys::Accept4,
        Sys::Connect,
        Sys::Sendto,
        Sys::Recvfrom,
        Sys::Sendmsg,
        Sys::Recvmsg,
        Sys::Sendmmsg,
        Sys::Recvmmsg,
        Sys::Shutdown,
        Sys::Close,
        Sys::Setsockopt,
        Sys::Getsockopt,
        Sys::Getsockname,
        Sys::Getpeername,
        Sys::Read,
        Sys::Write,
        Sys::Readv,
        Sys::Writev,
        Sys::Sendfile,
        Sys::Splice,
        Sys::CopyFileRange,
        Sys::Dup,
        Sys::Dup2,
        Sys::Dup3,
        Sys::Fcntl,
        Sys::Ioctl,
        Sys::CloseRange,
        Sys::Poll,
        Sys::Ppoll,
        Sys::Select,
        Sys::Pselect6,
        Sys::EpollCtl,
        Sys::EpollWait,
        Sys::EpollPwait,
        Sys::EpollPwait2,
        Sys::Clone,
        Sys::Clone3,
        Sys::IoUringSetup,
    ];

    /// The call's number on this architecture; `None` where it does not exist (aarch64 has
    /// no `dup2`, `poll`, `select` or `epoll_wait`, only their newer forms).
    pub fn nr(self) -> Option<i64> {
        Some(match self {
            Sys::Socket => libc::SYS_socket,
            Sys::Bind => libc::SYS_bind,
            Sys::Listen => libc::SYS_listen,
            Sys::Accept => libc::SYS_accept,
            Sys::Accept4 => libc::SYS_accept4,
            Sys::Connect => libc::SYS_connect,
            Sys::Sendto => libc::SYS_sendto,
            Sys::Recvfrom => libc::SYS_recvfrom,
            Sys::Sendmsg => libc::SYS_sendmsg,
            Sys::Recvmsg => libc::SYS_recvmsg,
            Sys::Sendmmsg => libc::SYS_sendmmsg,
            Sys::Recvmmsg => libc::SYS_recvmmsg,
            Sys::Shutdown => libc::SYS_shutdown,
            Sys::Close => libc::SYS_close,
            Sys::Setsockopt => libc::SYS_setsockopt,
            Sys::Getsockopt => libc::SYS_getsockopt,
            Sys::Getsockname => libc::SYS_getsockname,
            Sys::Getpeername => libc::SYS_getpeername,
            Sys::Read => libc::SYS_read,
            Sys::Write => libc::SYS_write,
            Sys::Readv => libc::SYS_readv,
            Sys::Writev => libc::SYS_writev,
            Sys::Sendfile => libc::SYS_sendfile,
            Sys::Splice => libc::SYS_splice,
            Sys::CopyFileRange => libc::SYS_copy_file_range,
            Sys::Dup => libc::SYS_dup,
            Sys::Dup3 => libc::SYS_dup3,
            Sys::Fcntl => libc::SYS_fcntl,
            Sys::Ioctl => libc::SYS_ioctl,
            Sys::CloseRange => libc::SYS_close_range,
            Sys::Ppoll => libc::SYS_ppoll,
            Sys::Pselect6 => libc::SYS_pselect6,
            Sys::EpollCtl => libc::SYS_epoll_ctl,
            Sys::EpollPwait => libc::SYS_epoll_pwait,
            Sys::EpollPwait2 => libc::SYS_epoll_pwait2,
            Sys::Clone => libc::SYS_clone,
            Sys::Clone3 => libc::SYS_clone3,
            Sys::IoUringSetup => libc::SYS_io_uring_setup,
            #[cfg(target_arch = "x86_64")]
            Sys::Dup2 => libc::SYS_dup2,
            #[cfg(target_arch = "x86_64")]
            Sys::Poll => libc::SYS_poll,
            #[cfg(target_arch = "x86_64")]
            Sys::Select => libc::SYS_select,
            #[cfg(target_arch = "x86_64")]
            Sys::EpollWait => libc::SYS_epoll_wait,
            #[cfg(not(target_arch = "x86_64"))]
            Sys::Dup2 | Sys::Poll | Sys::Select | Sys::EpollWait => return None,
        })
    }

    /// The call numbered `nr`, looked up in a table built once: this runs at every stop.
    pub fn from_nr(nr: u64) -> Option<Sys> {
        static TABLE: std::sync::OnceLock<Vec<Option<Sys>>> = std::sync::OnceLock::new();
        let table = TABLE.get_or_init(|| {
            let mut table = vec![None; 1024];
            for sys in Sys::ALL {
                if let Some(slot) = sys.nr().and_then(|n| table.get_mut(n as usize)) {
                    *slot = Some(sys);
                }
            }
            table
        });
        table.get(usize::try_from(nr).ok()?).copied().flatten()
    }

    /// The name strace and the manual pages use.
    pub fn name(self) -> &'static str {
        match self {
            Sys::CloseRange => "close_range",
            Sys::Clone => "clone",
            Sys::Clone3 => "clone3",
            Sys::IoUringSetup => "io_uring_setup",
            other => other.call().map_or("?", CallName::as_str),
        }
    }

    /// The call as a trace names it; `None` for the calls that show as no call of their own
    /// (`clone`, `close_range`, `io_uring_setup`: their effects are shown instead).
    pub fn call(self) -> Option<CallName> {
        Some(match self {
            Sys::Socket => CallName::Socket,
            Sys::Bind => CallName::Bind,
            Sys::Listen => CallName::Listen,
            Sys::Accept => CallName::Accept,
            Sys::Accept4 => CallName::Accept4,
            Sys::Connect => CallName::Connect,
            Sys::Sendto => CallName::Sendto,
            Sys::Recvfrom => CallName::Recvfrom,
            Sys::Sendmsg => CallName::Sendmsg,
            Sys::Recvmsg => CallName::Recvmsg,
            Sys::Sendmmsg => CallName::Sendmmsg,
            Sys::Recvmmsg => CallName::Recvmmsg,
            Sys::Shutdown => CallName::Shutdown,
            Sys::Close => CallName::Close,
            Sys::Setsockopt => CallName::Setsockopt,
            Sys::Getsockopt => CallName::Getsockopt,
            Sys::Getsockname => CallName::Getsockname,
            Sys::Getpeername => CallName::Getpeername,
            Sys::Read => CallName::Read,
            Sys::Write => CallName::Write,
            Sys::Readv => CallName::Readv,
            Sys::Writev => CallName::Writev,
            Sys::Sendfile => CallName::Sendfile,
            Sys::Splice => CallName::Splice,
            Sys::CopyFileRange => CallName::CopyFileRange,
            Sys::Dup => CallName::Dup,
            Sys::Dup2 => CallName::Dup2,
            Sys::Dup3 => CallName::Dup3,
            Sys::Fcntl => CallName::Fcntl,
            Sys::Ioctl => CallName::Ioctl,
            Sys::Poll => CallName::Poll,
            Sys::Ppoll => CallName::Ppoll,
            Sys::Select => CallName::Select,
            Sys::Pselect6 => CallName::Pselect6,
            Sys::EpollCtl => CallName::EpollCtl,
            Sys::EpollWait => CallName::EpollWait,
            Sys::EpollPwait => CallName::EpollPwait,
            Sys::EpollPwait2 => CallName::EpollPwait2,
            Sys::CloseRange | Sys::Clone | Sys::Clone3 | Sys::IoUringSetup => return None,
        })
    }
}

/// Calls the lens does not stop at, whose entries it watches only while a signal has
/// interrupted a followed call (see `restart.rs`): the handler's return, and the kernel's
/// restart of a call whose state it kept (`poll`, `nanosleep`).
pub const RT_SIGRETURN: u64 = libc::SYS_rt_sigreturn as u64;
pub const RESTART_SYSCALL: u64 = libc::SYS_restart_syscall as u64;

/// The audit architecture of this build's system calls (`linux/audit.h`): a call made through
/// another ABI (a 32-bit `int 0x80` on x86_64) has other numbers and is not followed.
#[cfg(target_arch = "x86_64")]
pub const NATIVE_ARCH: Option<u32> = Some(0xC000_003E);
#[cfg(target_arch = "aarch64")]
pub const NATIVE_ARCH: Option<u32> = Some(0xC000_00B7);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const NATIVE_ARCH: Option<u32> = None;

/// Where in a system call a tracee is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// About to run call `nr`: the seccomp filter's stop (`seccomp`), or a syscall-entry stop
    /// (when the tracee was resumed with `PTRACE_SYSCALL`). The kernel makes the entry stop
    /// first, then runs the filter: a followed call resumed with `PTRACE_SYSCALL` from its
    /// entry stop stops again at the filter.
    Entry { nr: u64, args: [u64; 6], seccomp: bool },
    /// The call returned `rval` (a negative errno when `is_error`).
    Exit { rval: i64, is_error: bool },
    /// Not in a call, or a call of another ABI.
    Other,
}

/// `struct ptrace_syscall_info` (linux/ptrace.h) is 88 bytes: op, arch, ip, sp, then a union
/// of the entry (nr, args), exit (rval, is_error) and seccomp (nr, args, ret_data) views.
const INFO_LEN: usize = 88;
const OP_ENTRY: u8 = 1;
const OP_EXIT: u8 = 2;
const OP_SECCOMP: u8 = 3;

/// Asks the kernel where `tid`, stopped, is in its system call.
pub fn stop_of(tid: i32) -> io::Result<Stop> {
    // Raw, not nix's `syscall_info`: the kernel writes only the part of the struct the stop
    // has (an exit stop's view is shorter than an entry's), which the count returned says and
    // nix's typed struct does not, and its union would need unsafe reads all the same.
    let mut buf = [0u64; INFO_LEN / 8];
    // SAFETY: `buf` is a writable buffer of INFO_LEN bytes, and the kernel writes at most the
    // size passed as `addr`.
    let n = unsafe { libc::ptrace(libc::PTRACE_GET_SYSCALL_INFO, tid, INFO_LEN as *mut libc::c_void, buf.as_mut_ptr()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut bytes = [0u8; INFO_LEN];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(buf) {
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    Ok(parse(&bytes[..(n as usize).min(INFO_LEN)]))
}

fn parse(info: &[u8]) -> Stop {
    let u64_at = |off: usize| info.get(off..off + 8).and_then(|b| b.try_into().ok()).map(u64::from_ne_bytes);
    let arch = info.get(4..8).and_then(|b| b.try_into().ok()).map(u32::from_ne_bytes);
    match info.first().copied() {
        Some(op @ (OP_ENTRY | OP_SECCOMP)) if arch.is_some() && arch == NATIVE_ARCH => {
            let Some(nr) = u64_at(24) else { return Stop::Other };
            let mut args = [0u64; 6];
            for (i, arg) in args.iter_mut().enumerate() {
                let Some(value) = u64_at(32 + 8 * i) else { return Stop::Other };
                *arg = value;
            }
            Stop::Entry { nr, args, seccomp: op == OP_SECCOMP }
        }
        Some(OP_EXIT) => match (u64_at(24), info.get(32)) {
            (Some(rval), Some(&is_error)) => Stop::Exit { rval: rval as i64, is_error: is_error != 0 },
            _ => Stop::Other,
        },
        _ => Stop::Other,
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn every_call_found_by_its_number() {
        for sys in Sys::ALL {
            if let Some(nr) = sys.nr() {
                assert_eq!(Sys::from_nr(nr as u64), Some(sys), "{}", sys.name());
            }
        }
        assert_eq!(Sys::from_nr(libc::SYS_getpid as u64), None);
    }

    #[test]
    fn exit_info__rval_and_error_flag() {
        let mut info = vec![0u8; INFO_LEN];
        info[0] = OP_EXIT;
        info[24..32].copy_from_slice(&(-111i64).to_ne_bytes());
        info[32] = 1;
        assert_eq!(parse(&info), Stop::Exit { rval: -111, is_error: true });
        assert_eq!(parse(&info[..10]), Stop::Other, "a short answer is not an exit");
    }
}
