//! A TPACKET_V3 receive ring: the kernel writes captured frames straight into memory shared
//! with us, in blocks, and hands a block over when it is full or when it has waited
//! `retire_ms`. Reading costs no system call per packet (see `packets.rs` for the numbers).
//!
//! Each block starts with a `tpacket_block_desc`; its `block_status` says who owns it
//! (`TP_STATUS_KERNEL` or `TP_STATUS_USER`). We read the blocks in ring order, the order the
//! kernel fills them, and give each back by writing `TP_STATUS_KERNEL`.
//!
//! The ring is memory the kernel writes while we read it, so two functions touch it, and
//! only they need `unsafe`: [`Ring::header_word`], a word of a block's header that the
//! kernel and we share (read and written atomically), and [`Ring::block_bytes`], a block
//! while it is ours. Everything else reads those bytes, bounds-checked.

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use memmap2::{MmapOptions, MmapRaw};
use nix::sys::socket::setsockopt;

use crate::capture::sockopts::{PacketRxRing, PacketVersion};

/// Where the header of a block (`tpacket_block_desc`, its `hdr` a `tpacket_hdr_v1`) keeps
/// what we read.
const BLOCK_HEADER: usize = offset_of!(libc::tpacket_block_desc, hdr);
const BLOCK_STATUS: usize = BLOCK_HEADER + offset_of!(libc::tpacket_hdr_v1, block_status);
const NUM_PKTS: usize = BLOCK_HEADER + offset_of!(libc::tpacket_hdr_v1, num_pkts);
const OFFSET_TO_FIRST_PKT: usize = BLOCK_HEADER + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt);

/// The shape of a ring.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Bytes per block: a multiple of the page size.
    pub block_size: u32,
    pub blocks: u32,
    /// How long the kernel keeps a partly filled block before handing it over, in ms.
    pub retire_ms: u32,
}

/// The mapped ring of one AF_PACKET socket, unmapped when dropped.
pub(crate) struct Ring {
    map: MmapRaw,
    block_size: usize,
    blocks: usize,
    /// The next block to read.
    current: usize,
}

impl Ring {
    /// Switches the socket to TPACKET_V3 and maps a receive ring of the given shape. Must be
    /// called before the socket is bound, like every setting that shapes what it receives.
    pub fn map(socket: BorrowedFd<'_>, geometry: Geometry) -> io::Result<Ring> {
        setsockopt(&socket, PacketVersion, &(libc::tpacket_versions::TPACKET_V3 as libc::c_int))?;
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
        setsockopt(&socket, PacketRxRing, &req)?;
        let len = geometry.block_size as usize * geometry.blocks as usize;
        // The ring the kernel just allocated for this socket, shared with it (read and write).
        let map = MmapOptions::new().len(len).map_raw(socket.as_raw_fd())?;
        Ok(Ring { map, block_size: geometry.block_size as usize, blocks: geometry.blocks as usize, current: 0 })
    }

    /// The next block, if the kernel has handed it over.
    pub fn next_block(&mut self) -> Option<Block<'_>> {
        // Acquire: the frames the kernel wrote before it set TP_STATUS_USER are visible.
        if self.header_word(self.current, BLOCK_STATUS).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            return None;
        }
        Some(Block { ring: self })
    }

    /// Whether frames wait in the next block: handed over, or still being filled by the kernel
    /// (it hands a block over when full or when its retire timer fires).
    pub fn pending(&self) -> bool {
        if self.header_word(self.current, BLOCK_STATUS).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0 {
            return true;
        }
        // A block given back but not yet reopened (after the ring was full) still counts its
        // old frames until the kernel reopens it, within one retire period: that only waits.
        self.header_word(self.current, NUM_PKTS).load(Ordering::Relaxed) != 0
    }

    /// The u32 at `offset` in the header of block `index`, which the kernel updates while it
    /// owns the block.
    fn header_word(&self, index: usize, offset: usize) -> &AtomicU32 {
        assert!(index < self.blocks && offset + size_of::<u32>() <= size_of::<libc::tpacket_block_desc>());
        let word = self.map.as_mut_ptr().wrapping_add(index * self.block_size + offset);
        // SAFETY: the word lies inside the mapping (checked above), which lives as long as
        // `self`; it is aligned (a block starts on a page, and the header's u32 fields on
        // multiples of 4); and the kernel and we access it only atomically (it orders its
        // accesses with smp_wmb/smp_rmb around them).
        unsafe { AtomicU32::from_ptr(word.cast()) }
    }

    /// The bytes of block `index`, which the kernel has handed over: they stay as they are
    /// until the block is given back (its status word is written only then, after the last
    /// read of these bytes: `Block` borrows them until it is dropped).
    fn block_bytes(&self, index: usize) -> &[u8] {
        assert!(index < self.blocks);
        // SAFETY: the block spans `block_size` bytes of the mapping, which lives as long as
        // `self`, and the kernel writes none of them while the block is ours.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().wrapping_add(index * self.block_size), self.block_size) }
    }
}

/// A block handed over by the kernel; dropping it hands it back.
pub(crate) struct Block<'r> {
    ring: &'r mut Ring,
}

impl Block<'_> {
    /// The frames of the block, in the order the kernel received them.
    pub fn frames(&self) -> Frames<'_> {
        let bytes = self.ring.block_bytes(self.ring.current);
        Frames { block: bytes, next: ne_u32(bytes, OFFSET_TO_FIRST_PKT) as usize, left: ne_u32(bytes, NUM_PKTS) }
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        // Release: we are done reading the frames before the kernel may overwrite them.
        self.ring.header_word(self.ring.current, BLOCK_STATUS).store(libc::TP_STATUS_KERNEL, Ordering::Release);
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
        // A frame starts with a `tpacket3_hdr`.
        let header = self.block.get(self.next..self.next + size_of::<libc::tpacket3_hdr>())?;
        let field = |offset| ne_u32(header, offset);
        let mac = offset_of!(libc::tpacket3_hdr, tp_mac);
        let start = self.next + usize::from(u16::from_ne_bytes([header[mac], header[mac + 1]]));
        let data = self.block.get(start..start + field(offset_of!(libc::tpacket3_hdr, tp_snaplen)) as usize)?;
        self.left -= 1;
        // The last frame has no successor; a zero offset would loop on the same frame.
        let next_offset = field(offset_of!(libc::tpacket3_hdr, tp_next_offset));
        if next_offset == 0 {
            self.left = 0;
        }
        self.next += next_offset as usize;
        let (sec, nsec) = (field(offset_of!(libc::tpacket3_hdr, tp_sec)), field(offset_of!(libc::tpacket3_hdr, tp_nsec)));
        Some(Frame { realtime_ns: u64::from(sec) * 1_000_000_000 + u64::from(nsec), data })
    }

    /// At most the block's packet count (fewer only if the block were malformed).
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// The native-endian u32 at `offset` of a header whose size was checked.
fn ne_u32(header: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes([header[offset], header[offset + 1], header[offset + 2], header[offset + 3]])
}
