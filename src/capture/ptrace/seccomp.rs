//! The seccomp filter that makes tracing cheap: the kernel stops a traced program only at the
//! system calls the lens follows ([`Sys`]); every other call runs without a stop. Installed in
//! the program before its `execve`, inherited by every process and thread it starts.

use std::io;

use super::syscalls::{Sys, NATIVE_ARCH};

/// `struct seccomp_data` (linux/seccomp.h): the call's number, then its architecture.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

/// The filter: a call of this ABI listed in [`Sys::ALL`] stops for the tracer
/// (`SECCOMP_RET_TRACE`), anything else is allowed.
pub fn filter() -> Vec<libc::sock_filter> {
    let Some(arch) = NATIVE_ARCH else { return Vec::new() };
    let numbers: Vec<u32> = Sys::ALL.iter().filter_map(|s| s.nr()).map(|n| n as u32).collect();
    let stmt = |code: u32, k: u32| libc::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let jump = |k: u32, jt: usize, jf: usize| libc::sock_filter { code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16, jt: jt as u8, jf: jf as u8, k };
    let load = |offset| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    // Layout: load arch; another ABI jumps to ALLOW; load nr; one test per call jumping to
    // TRACE; ALLOW; TRACE. A jump skips the instructions between it and its target.
    let n = numbers.len();
    let mut prog = vec![load(ARCH_OFFSET), jump(arch, 0, n + 1), load(NR_OFFSET)];
    for (i, nr) in numbers.iter().enumerate() {
        // From test i, ALLOW is n - i - 1 instructions ahead and TRACE one further.
        prog.push(jump(*nr, n - i, 0));
    }
    prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_TRACE));
    prog
}

/// Installs `filter` in the calling process. Runs in the child between `fork` and `execve`,
/// so it only makes system calls. Without CAP_SYS_ADMIN the kernel asks for no-new-privs
/// first (the program then cannot gain privileges through a set-uid `execve`).
pub fn install(filter: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr().cast_mut() };
    let set = || {
        // Neither nix nor rustix has seccomp(2).
        // SAFETY: `prog` points to `filter`, which outlives the call; the kernel copies it.
        unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, std::ptr::addr_of!(prog)) }
    };
    if set() == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EACCES) {
        return Err(err);
    }
    nix::sys::prctl::set_no_new_privs()?;
    if set() == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    /// Runs the classic BPF program on a `seccomp_data` with `nr` and `arch`.
    fn run(prog: &[libc::sock_filter], nr: u32, arch: u32) -> u32 {
        let mut pc = 0;
        let mut acc = 0u32;
        for _ in 0..prog.len() {
            let i = prog[pc];
            match u32::from(i.code) {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => acc = if i.k == ARCH_OFFSET { arch } else { nr },
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    pc += usize::from(if acc == i.k { i.jt } else { i.jf });
                }
                c if c == libc::BPF_RET | libc::BPF_K => return i.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
            pc += 1;
        }
        panic!("the program fell off its end")
    }

    #[test]
    fn listed_calls_trace__others_and_other_abis_run() {
        let prog = filter();
        let arch = NATIVE_ARCH.expect("a supported architecture");
        for sys in Sys::ALL {
            if let Some(nr) = sys.nr() {
                assert_eq!(run(&prog, nr as u32, arch), libc::SECCOMP_RET_TRACE, "{}", sys.name());
                assert_eq!(run(&prog, nr as u32, 0x4000_0003), libc::SECCOMP_RET_ALLOW, "{} of another ABI", sys.name());
            }
        }
        assert_eq!(run(&prog, libc::SYS_getpid as u32, arch), libc::SECCOMP_RET_ALLOW);
    }
}
