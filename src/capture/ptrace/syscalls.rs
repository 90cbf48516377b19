//! The system calls the lens follows, by number, and what `PTRACE_GET_SYSCALL_INFO` says about
//! the call a tracee is stopped in.

use std::io;

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
    Shutdown,
    Close,
    Setsockopt,
    Read,
    Write,
    Readv,
    Writev,
    /// The descriptor calls: a socket may get another number, or lose one.
    Dup,
    Dup2,
    Dup3,
    Fcntl,
    CloseRange,
    /// A new thread shares its creator's descriptors, a new process gets a copy: the flags
    /// say which.
    Clone,
    Clone3,
}

impl Sys {
    pub const ALL: [Sys; 24] = [
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
        Sys::Shutdown,
        Sys::Close,
        Sys::Setsockopt,
        Sys::Read,
        Sys::Write,
        Sys::Readv,
        Sys::Writev,
        Sys::Dup,
        Sys::Dup2,
        Sys::Dup3,
        Sys::Fcntl,
        Sys::CloseRange,
        Sys::Clone,
        Sys::Clone3,
    ];

    /// The call's number on this architecture; `None` where it does not exist (aarch64 has
    /// no `dup2`, only `dup3`).
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
            Sys::Shutdown => libc::SYS_shutdown,
            Sys::Close => libc::SYS_close,
            Sys::Setsockopt => libc::SYS_setsockopt,
            Sys::Read => libc::SYS_read,
            Sys::Write => libc::SYS_write,
            Sys::Readv => libc::SYS_readv,
            Sys::Writev => libc::SYS_writev,
            Sys::Dup => libc::SYS_dup,
            #[cfg(target_arch = "x86_64")]
            Sys::Dup2 => libc::SYS_dup2,
            #[cfg(not(target_arch = "x86_64"))]
            Sys::Dup2 => return None,
            Sys::Dup3 => libc::SYS_dup3,
            Sys::Fcntl => libc::SYS_fcntl,
            Sys::CloseRange => libc::SYS_close_range,
            Sys::Clone => libc::SYS_clone,
            Sys::Clone3 => libc::SYS_clone3,
        })
    }

    pub fn from_nr(nr: u64) -> Option<Sys> {
        Sys::ALL.into_iter().find(|s| s.nr().is_some_and(|n| n as u64 == nr))
    }

    /// The name strace and the manual pages use.
    pub fn name(self) -> &'static str {
        match self {
            Sys::Socket => "socket",
            Sys::Bind => "bind",
            Sys::Listen => "listen",
            Sys::Accept => "accept",
            Sys::Accept4 => "accept4",
            Sys::Connect => "connect",
            Sys::Sendto => "sendto",
            Sys::Recvfrom => "recvfrom",
            Sys::Sendmsg => "sendmsg",
            Sys::Recvmsg => "recvmsg",
            Sys::Shutdown => "shutdown",
            Sys::Close => "close",
            Sys::Setsockopt => "setsockopt",
            Sys::Read => "read",
            Sys::Write => "write",
            Sys::Readv => "readv",
            Sys::Writev => "writev",
            Sys::Dup => "dup",
            Sys::Dup2 => "dup2",
            Sys::Dup3 => "dup3",
            Sys::Fcntl => "fcntl",
            Sys::CloseRange => "close_range",
            Sys::Clone => "clone",
            Sys::Clone3 => "clone3",
        }
    }
}

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
    /// About to run call `nr` (a syscall-entry stop, or the seccomp filter's stop).
    Entry { nr: u64, args: [u64; 6] },
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
    let mut buf = [0u64; INFO_LEN / 8];
    // SAFETY: `buf` is a writable buffer of INFO_LEN bytes, and the kernel writes at most the
    // size passed as `addr`.
    let n = unsafe { libc::ptrace(libc::PTRACE_GET_SYSCALL_INFO, tid, INFO_LEN as *mut libc::c_void, buf.as_mut_ptr()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
    Ok(parse(&bytes[..(n as usize).min(INFO_LEN)]))
}

fn parse(info: &[u8]) -> Stop {
    let u64_at = |off: usize| info.get(off..off + 8).and_then(|b| b.try_into().ok()).map(u64::from_ne_bytes);
    let arch = info.get(4..8).and_then(|b| b.try_into().ok()).map(u32::from_ne_bytes);
    match info.first().copied() {
        Some(OP_ENTRY | OP_SECCOMP) if arch.is_some() && arch == NATIVE_ARCH => {
            let (Some(nr), Some(args)) = (u64_at(24), (0..6).map(|i| u64_at(32 + 8 * i)).collect::<Option<Vec<u64>>>()) else {
                return Stop::Other;
            };
            let mut a = [0u64; 6];
            a.copy_from_slice(&args);
            Stop::Entry { nr, args: a }
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
