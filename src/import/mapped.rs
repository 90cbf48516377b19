//! A capture file mapped into memory, read in place: no copy from the page cache into a
//! buffer (a quarter of the import's time), and the pages already read are handed back as
//! the reader moves on, so resident memory stays bounded however large the file.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// How much of the file may stay mapped in behind the reader before it is handed back.
const KEEP_BEHIND: usize = 4 << 20;

/// A read-only private mapping of a whole file.
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
    /// Everything before this offset has been handed back.
    released: usize,
}

impl Mapped {
    /// Maps `file` (a regular file that is not empty).
    pub fn new(file: &File, len: usize) -> io::Result<Mapped> {
        // SAFETY: a fresh read-only private mapping of an open file; the kernel picks the address.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `ptr..ptr+len` is the mapping just made; the advice only tunes read-ahead.
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL) };
        Ok(Mapped { ptr, len, released: 0 })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for as long as `self` lives. (A file
        // cut shorter by another program while it is mapped would fault on access: captures
        // only ever grow while they are written.)
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    /// The reader is at `offset`: pages well behind it are handed back.
    pub fn consumed(&mut self, offset: usize) {
        if offset < self.released + 2 * KEEP_BEHIND {
            return;
        }
        let page = 4096;
        let upto = (offset - KEEP_BEHIND) / page * page;
        // SAFETY: a page-aligned range inside the mapping that is no longer borrowed (the
        // reader's frames all lie after it); the pages are read again from the file if touched.
        unsafe { libc::madvise(self.ptr.add(self.released), upto - self.released, libc::MADV_DONTNEED) };
        self.released = upto;
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}
