//! A TPACKET_V3 receive ring: the kernel writes captured frames straight into memory shared
//! with us, in blocks, and hands a block over when it is full or when it has waited
//! `retire_ms`. Reading costs no system call per packet (see `packets.rs` for the numbers).
//!
//! Each block starts with a `tpacket_block_desc`; its `block_status` says who owns it
//! (`TP_STATUS_KERNEL` or `TP_STATUS_USER`). We read the blocks in ring order, the order the
//! kernel fills them, and give each back by writing `TP_STATUS_KERNEL`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// The shape of a ring.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Bytes per block: a multiple of the page size.
    pub block_size: u32,
    pub blocks: u32,
    /// How long the kernel keeps a partly filled block before handing it over, in ms.
    pub retire_ms: u32,
}

/// The mapped ring of one AF_PACKET socket.
pub(crate) struct Ring {
    map: NonNull<u8>,
    len: usize,
    block_size: usize,
    blocks: usize,
    /// The next block to read.
    current: usize,
}

// SAFETY: the ring is plain shared memory; `Ring` is its only user-space reader, and the
// kernel synchronises with it through each block's status word alone.
unsafe impl Send for Ring {}

impl Ring {
    /// Switches the socket to TPACKET_V3 and maps a receive ring of the given shape. Must be
    /// called before the socket is bound, like every setting that shapes what it receives.
    pub fn map(socket: BorrowedFd<'_>, geometry: Geometry) -> io::Result<Ring> {
        let fd = socket.as_raw_fd();
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setsockopt(fd, libc::PACKET_VERSION, &version)?;
        // In V3 frames are packed into blocks at their own size; the frame size only has to
        // divide the block size and bounds nothing we use.
        let frame_size = 2048;
        let req = libc::tpacket_req3 {
            tp_block_size: geometry.block_size,
            tp_block_nr: geometry.blocks,
            tp_frame_size: frame_size,
            tp_frame_nr: geometry.block_size / frame_size * geometry.blocks,
            tp_retire_blk_tov: geometry.retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(fd, libc::PACKET_RX_RING, &req)?;
        let len = geometry.block_size as usize * geometry.blocks as usize;
        // SAFETY: maps the ring the kernel just allocated for this socket; no existing memory
        // is touched, and the result is checked against MAP_FAILED.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0) };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = NonNull::new(map.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Ring { map, len, block_size: geometry.block_size as usize, blocks: geometry.blocks as usize, current: 0 })
    }

    /// The next block, if the kernel has handed it over.
    pub fn next_block(&mut self) -> Option<Block<'_>> {
        let desc = self.block_desc(self.current);
        // Acquire: the frames the kernel wrote before it set TP_STATUS_USER are visible.
        if status(desc).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            return None;
        }
        Some(Block { ring: self, desc })
    }

    /// Whether frames wait in the next block: handed over, or still being filled by the kernel
    /// (it hands a block over when full or when its retire timer fires).
    pub fn pending(&self) -> bool {
        let desc = self.block_desc(self.current);
        if status(desc).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0 {
            return true;
        }
        // A block given back but not yet reopened (after the ring was full) still counts its
        // old frames until the kernel reopens it, within one retire period: that only waits.
        // SAFETY: as for `status`: an aligned u32 of the mapping, which the kernel updates
        // while it fills the block.
        let count = unsafe { AtomicU32::from_ptr(&raw mut (*desc.as_ptr()).hdr.bh1.num_pkts) };
        count.load(Ordering::Relaxed) != 0
    }

    fn block_desc(&self, index: usize) -> NonNull<libc::tpacket_block_desc> {
        // SAFETY: `index < blocks`, so the offset stays inside the mapping.
        unsafe { self.map.add(index * self.block_size).cast() }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; no `Block` borrows it any more.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.len) };
    }
}

/// The block status word, shared with the kernel.
fn status<'a>(desc: NonNull<libc::tpacket_block_desc>) -> &'a AtomicU32 {
    // SAFETY: `block_status` is an aligned u32 inside the mapping, which outlives every
    // borrow handed out here; the kernel and we access it only atomically (it uses
    // smp_wmb/smp_rmb around it).
    unsafe { AtomicU32::from_ptr(&raw mut (*desc.as_ptr()).hdr.bh1.block_status) }
}

/// A block handed over by the kernel; dropping it hands it back.
pub(crate) struct Block<'r> {
    ring: &'r mut Ring,
    desc: NonNull<libc::tpacket_block_desc>,
}

impl Block<'_> {
    /// The frames of the block, in the order the kernel received them.
    pub fn frames(&self) -> Frames<'_> {
        // SAFETY: the block is ours (TP_STATUS_USER) until `drop`, so its header is stable.
        let h = unsafe { &(*self.desc.as_ptr()).hdr.bh1 };
        // SAFETY: the block spans `block_size` bytes of the mapping from `desc`.
        let bytes = unsafe { std::slice::from_raw_parts(self.desc.as_ptr().cast::<u8>(), self.ring.block_size) };
        Frames { block: bytes, next: h.offset_to_first_pkt as usize, left: h.num_pkts }
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        // Release: we are done reading the frames before the kernel may overwrite them.
        status(self.desc).store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.ring.current = (self.ring.current + 1) % self.ring.blocks;
    }
}

/// One captured frame.
pub(crate) struct Frame<'b> {
    /// The kernel's receive time, CLOCK_REALTIME in ns.
    pub realtime_ns: u64,
    /// The captured bytes (at most the filter's snap length), from the link header on.
    pub data: &'b [u8],
}

/// Walks the frames of a block, bounds-checked against the block.
pub(crate) struct Frames<'b> {
    block: &'b [u8],
    next: usize,
    left: u32,
}

impl<'b> Iterator for Frames<'b> {
    type Item = Frame<'b>;

    fn next(&mut self) -> Option<Frame<'b>> {
        if self.left == 0 {
            return None;
        }
        let header = self.block.get(self.next..self.next + std::mem::size_of::<libc::tpacket3_hdr>())?;
        // SAFETY: `header` holds a whole tpacket3_hdr; read_unaligned copies it out whatever
        // its alignment (the kernel aligns it to 16 bytes anyway).
        let h = unsafe { header.as_ptr().cast::<libc::tpacket3_hdr>().read_unaligned() };
        let start = self.next + usize::from(h.tp_mac);
        let data = self.block.get(start..start + h.tp_snaplen as usize)?;
        self.left -= 1;
        // The last frame has no successor; a zero offset would loop on the same frame.
        if h.tp_next_offset == 0 {
            self.left = 0;
        }
        self.next += h.tp_next_offset as usize;
        Some(Frame { realtime_ns: u64::from(h.tp_sec) * 1_000_000_000 + u64::from(h.tp_nsec), data })
    }

    /// At most the block's packet count (fewer only if the block were malformed).
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// Sets a SOL_PACKET option.
pub(crate) fn setsockopt<T>(fd: libc::c_int, option: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live, initialised T of the size passed; the kernel only reads it.
    let rc = unsafe { libc::setsockopt(fd, libc::SOL_PACKET, option, (value as *const T).cast(), std::mem::size_of::<T>() as libc::socklen_t) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
