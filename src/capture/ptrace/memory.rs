//! Reading a stopped tracee's memory: `process_vm_readv`, one system call for any length, and
//! `PTRACE_PEEKDATA`, a word at a time, where the former is not permitted.

use std::io;

/// Reads up to `len` bytes at `addr` in `tid`'s memory; fewer when the range runs into an
/// unmapped page.
pub fn read(tid: i32, addr: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let n = read_into(tid, addr, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Fills `buf` from `addr` in `tid`'s memory, as far as the range is mapped: how many bytes
/// it read. A caller that knows its bound (a data preview) reads into a buffer of its own, with
/// nothing allocated.
pub fn read_into(tid: i32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    if addr == 0 {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` describes `buf`, writable for its length; the remote range is only read
    // by the kernel, which checks it.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    if n >= 0 {
        return Ok(n as usize);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EPERM | libc::ENOSYS) => peek(tid, addr, buf),
        _ => Err(err),
    }
}

/// The same through `PTRACE_PEEKDATA`, which needs only the ptrace relationship.
fn peek(tid: i32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    const WORD: u64 = std::mem::size_of::<libc::c_long>() as u64;
    let start = addr - addr % WORD;
    let end = addr + buf.len() as u64;
    let skip = (addr - start) as usize;
    let mut filled = 0;
    let mut at = start;
    while at < end {
        // SAFETY: errno is thread-local; PEEKDATA signals an error only through it, since any
        // word (even -1) is valid data.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: PEEKDATA reads a word of the stopped tracee; the kernel checks the address.
        let word = unsafe { libc::ptrace(libc::PTRACE_PEEKDATA, tid, at as *mut libc::c_void, std::ptr::null_mut::<libc::c_void>()) };
        let err = io::Error::last_os_error();
        if word == -1 && err.raw_os_error().is_some_and(|e| e != 0) {
            if at == start {
                return Err(err);
            }
            break;
        }
        // The first word may start before `addr`: its leading bytes are not asked for.
        let bytes = word.to_ne_bytes();
        let from = if at == start { skip } else { 0 };
        let take = (bytes.len() - from).min(buf.len() - filled);
        buf[filled..filled + take].copy_from_slice(&bytes[from..from + take]);
        filled += take;
        at += WORD;
    }
    Ok(filled)
}

/// A native-endian `u64` at `addr`.
pub fn read_u64(tid: i32, addr: u64) -> io::Result<u64> {
    let mut b = [0u8; 8];
    whole(read_into(tid, addr, &mut b)?, &b)?;
    Ok(u64::from_ne_bytes(b))
}

/// A native-endian `u32` at `addr`.
pub fn read_u32(tid: i32, addr: u64) -> io::Result<u32> {
    let mut b = [0u8; 4];
    whole(read_into(tid, addr, &mut b)?, &b)?;
    Ok(u32::from_ne_bytes(b))
}

/// A value is read whole or not at all.
fn whole(n: usize, buf: &[u8]) -> io::Result<()> {
    if n == buf.len() {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::EFAULT))
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory__also_word_by_word() {
        // process_vm_readv on ourselves needs no ptrace; PEEKDATA does, so only the first.
        let data = *b"0123456789abcdef!";
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        let got = read(me, data.as_ptr() as u64 + 3, 10).expect("readable");
        assert_eq!(got, b"3456789abc");
        assert!(read(me, 0, 4).is_err(), "a null pointer is refused");
    }
}
