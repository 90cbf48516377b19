//! Reading a stopped tracee's memory: `process_vm_readv`, one system call for any length, and
//! `PTRACE_PEEKDATA`, a word at a time, where the former is not permitted.

use std::io;

/// Reads up to `len` bytes at `addr` in `tid`'s memory; fewer when the range runs into an
/// unmapped page.
pub fn read(tid: i32, addr: u64, len: usize) -> io::Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if addr == 0 {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    let mut buf = vec![0u8; len];
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: len };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: len };
    // SAFETY: `local` describes `buf`, writable for `len` bytes; the remote range is only read
    // by the kernel, which checks it.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    if n >= 0 {
        buf.truncate(n as usize);
        return Ok(buf);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EPERM | libc::ENOSYS) => peek(tid, addr, len),
        _ => Err(err),
    }
}

/// The same through `PTRACE_PEEKDATA`, which needs only the ptrace relationship.
fn peek(tid: i32, addr: u64, len: usize) -> io::Result<Vec<u8>> {
    const WORD: u64 = std::mem::size_of::<libc::c_long>() as u64;
    let start = addr - addr % WORD;
    let end = addr + len as u64;
    let mut bytes = Vec::with_capacity(len + 2 * WORD as usize);
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
        bytes.extend_from_slice(&word.to_ne_bytes());
        at += WORD;
    }
    let skip = (addr - start) as usize;
    let have = bytes.len().saturating_sub(skip).min(len);
    Ok(bytes[skip..skip + have].to_vec())
}

/// A native-endian `u64` at `addr`.
pub fn read_u64(tid: i32, addr: u64) -> io::Result<u64> {
    let b = read(tid, addr, 8)?;
    b.as_slice().try_into().map(u64::from_ne_bytes).map_err(|_| io::Error::from_raw_os_error(libc::EFAULT))
}

/// A native-endian `u32` at `addr`.
pub fn read_u32(tid: i32, addr: u64) -> io::Result<u32> {
    let b = read(tid, addr, 4)?;
    b.as_slice().try_into().map(u32::from_ne_bytes).map_err(|_| io::Error::from_raw_os_error(libc::EFAULT))
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
