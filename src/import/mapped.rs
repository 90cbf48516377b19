//! A capture file mapped into memory, read in place: no copy from the page cache into a
//! buffer (a quarter of the import's time), and the pages already read are handed back as
//! the reader moves on, so resident memory stays bounded however large the file.

use std::fs::File;
use std::io;

use memmap2::{Advice, Mmap, MmapOptions, UncheckedAdvice};

/// How much of the file may stay mapped in behind the reader before it is handed back.
const KEEP_BEHIND: usize = 4 << 20;

/// A read-only private mapping of a whole file, unmapped when dropped.
pub struct Mapped {
    map: Mmap,
    /// Everything before this offset has been handed back.
    released: usize,
}

impl Mapped {
    /// Maps `file` (a regular file that is not empty).
    pub fn new(file: &File, len: usize) -> io::Result<Mapped> {
        // SAFETY: a read-only private mapping. Its bytes stay as they are while mapped, save if
        // another program cut the file shorter meanwhile (an access would then fault): captures
        // only ever grow while they are written.
        let map = unsafe { MmapOptions::new().len(len).map_copy_read_only(file) }?;
        // The advice only tunes read-ahead; a kernel that ignores it reads as fast.
        let _ = map.advise(Advice::Sequential);
        Ok(Mapped { map, released: 0 })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The reader is at `offset`: pages well behind it are handed back.
    pub fn consumed(&mut self, offset: usize) {
        if offset < self.released + 2 * KEEP_BEHIND {
            return;
        }
        let page = 4096;
        let upto = (offset - KEEP_BEHIND) / page * page;
        // SAFETY: a page-aligned range inside the mapping that is no longer borrowed (the
        // reader's frames all lie after it, and `&mut self` holds no slice of `bytes`); the
        // pages are read again from the file if touched.
        let _ = unsafe { self.map.unchecked_advise_range(UncheckedAdvice::DontNeed, self.released, upto - self.released) };
        self.released = upto;
    }
}
