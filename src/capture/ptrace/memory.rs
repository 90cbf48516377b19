//! Reading a stopped tracee's memory: `process_vm_readv`, one system call for any length, and
//! `PTRACE_PEEKDATA`, a word at a time, where the former is not permitted.

use std::io::{self, IoSliceMut};

use nix::sys::ptrace;
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

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
    let remote = [RemoteIoVec { base: addr as usize, len: buf.len() }];
    match process_vm_readv(Pid::from_raw(tid), &mut [IoSliceMut::new(buf)], &remote) {
        Ok(n) => Ok(n),
        Err(nix::errno::Errno::EPERM | nix::errno::Errno::ENOSYS) => peek(tid, addr, buf),
        Err(err) => Err(err.into()),
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
        // nix tells an error from a word of -1 by errno, cleared before the call.
        let word = match ptrace::read(Pid::from_raw(tid), at as ptrace::AddressType) {
            Ok(word) => word,
            Err(err) if at == start => return Err(err.into()),
            Err(_) => break,
        };
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
        let me = std::process::id() as i32;
        let got = read(me, data.as_ptr() as u64 + 3, 10).expect("readable");
        assert_eq!(got, b"3456789abc");
        assert!(read(me, 0, 4).is_err(), "a null pointer is refused");
    }
}
