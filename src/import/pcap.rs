//! A zero-copy reader of pcap and pcapng files: frames are handed out as slices of one large
//! read buffer, or of the file itself mapped into memory ([`Reader::open`]), so a capture of
//! any size is read in bounded memory at the speed of a copy, or without one.
//!
//! The entry point, also the fuzz targets': [`Reader::new`] over anything that implements
//! [`Read`] (a file, or a byte slice), then [`Reader::next_frame`] until it answers `None`.
//!
//! - pcap: a 24-byte file header (magic `a1b2c3d4` for microsecond or `a1b23c4d` for
//!   nanosecond timestamps, in the writer's byte order), then per packet a 16-byte record
//!   header and the captured bytes.
//! - pcapng (draft-ietf-opsawg-pcapng): blocks of `type, length, body, length`. A section
//!   header gives the byte order, interface descriptions give each interface's link type and
//!   timestamp resolution, enhanced (and simple, and obsolete) packet blocks hold packets;
//!   every other block is stepped over.
//!
//! Kept hand-written rather than taken from a pcap crate because of the benchmark and the
//! fuzzing: `cargo bench --bench import` measures its parse ceiling and memory against
//! tshark's and tcpdump's, and the `capture_reader` fuzz target drives it on arbitrary bytes.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};

use super::mapped::Mapped;

use crate::wire::decode::LinkType;

/// How much is read from the input at a time.
const READ_SIZE: usize = 1 << 17;
/// The largest record or block accepted: far above any snap length (tcpdump's largest is
/// 256 KiB), so that a corrupt length cannot make the reader allocate without bound.
const MAX_RECORD: usize = 16 << 20;

const PCAP_US: u32 = 0xa1b2_c3d4;
/// Also what `trace export --pcap` writes.
pub(crate) const PCAP_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_SECTION: u32 = 0x0a0d_0d0a;
const PCAPNG_BYTE_ORDER: u32 = 0x1a2b_3c4d;
const BLOCK_INTERFACE: u32 = 1;
const BLOCK_OBSOLETE_PACKET: u32 = 2;
const BLOCK_SIMPLE_PACKET: u32 = 3;
const BLOCK_ENHANCED_PACKET: u32 = 6;
/// pcapng interface options: timestamp resolution and offset.
const OPTION_TSRESOL: u16 = 9;
const OPTION_TSOFFSET: u16 = 14;

/// One captured packet, borrowed from the reader's buffer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture time in nanoseconds since the Unix epoch (the capture's own clock).
    pub t: u64,
    pub link: LinkType,
    /// The bytes captured (at most the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: u32,
}

/// Why a capture could not be read (further). Messages name no file: the caller does.
#[derive(Debug)]
pub enum PcapError {
    Io(io::Error),
    /// The file does not begin with a pcap or pcapng magic number.
    NotACapture {
        found: Vec<u8>,
    },
    /// The file ends in the middle of a packet or block.
    Truncated {
        packets: u64,
        offset: u64,
    },
    /// A link type no decoder here reads.
    UnsupportedLink {
        link: u32,
    },
    /// A length or field that cannot be right.
    Malformed {
        offset: u64,
        what: String,
    },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Io(err) => write!(f, "cannot be read: {err} (give a capture file you can read)"),
            PcapError::NotACapture { found } => {
                let hex: Vec<String> = found.iter().map(|b| format!("{b:02x}")).collect();
                let found = if hex.is_empty() { "nothing (it is empty)".to_string() } else { hex.join(" ") };
                write!(f, "is not a pcap or pcapng capture: it begins with {found}, where a pcap begins a1 b2 c3 d4 (or d4 c3 b2 a1) and a pcapng 0a 0d 0d 0a (record one with `tcpdump -i lo -w FILE`)")
            }
            PcapError::Truncated { packets, offset } => write!(
                f,
                "is truncated: it ends at byte {offset} in the middle of a packet, after {packets} whole packets (shown above); was the capture still being written? Stop tcpdump before importing, or copy the file again"
            ),
            PcapError::UnsupportedLink { link } => write!(
                f,
                "has link type {} ({link}), which trace import cannot read: it reads Ethernet, Linux cooked (SLL, SLL2), loopback (NULL, LOOP) and raw IP captures (capture with `tcpdump -i lo` or `tcpdump -i any`)",
                link_name(*link)
            ),
            PcapError::Malformed { offset, what } => {
                write!(f, "is damaged at byte {offset}: {what} (the file is not a valid capture; try `tshark -r FILE` to see where it breaks)")
            }
        }
    }
}

impl std::error::Error for PcapError {}

/// A pcap link type's name, as libpcap spells it (the common ones).
pub fn link_name(link: u32) -> String {
    let name = match link {
        0 => "NULL",
        1 => "ETHERNET",
        6 => "IEEE802_5",
        9 => "PPP",
        101 => "RAW",
        105 => "IEEE802_11",
        108 => "LOOP",
        113 => "LINUX_SLL",
        127 => "IEEE802_11_RADIO",
        147..=162 => return format!("LINKTYPE_USER{}", link - 147),
        187 => "BLUETOOTH_HCI_H4",
        189 => "USB_LINUX",
        195 => "IEEE802_15_4",
        220 => "USB_LINUX_MMAPPED",
        228 => "IPV4",
        229 => "IPV6",
        249 => "NETLINK",
        276 => "LINUX_SLL2",
        _ => return format!("LINKTYPE {link}"),
    };
    format!("LINKTYPE_{name}")
}

/// Timestamp units of a pcapng interface, from its `if_tsresol` option.
#[derive(Clone, Copy, Debug)]
enum Resolution {
    /// 10^-n s per unit.
    Decimal(u32),
    /// 2^-n s per unit.
    Binary(u32),
}

impl Resolution {
    fn to_ns(self, units: u64) -> u64 {
        match self {
            Resolution::Decimal(n) if n <= 9 => units.saturating_mul(10u64.pow(9 - n)),
            Resolution::Decimal(n) => units / 10u64.pow((n - 9).min(19)),
            Resolution::Binary(n) => {
                let n = n.min(63);
                ((u128::from(units) * 1_000_000_000) >> n).min(u128::from(u64::MAX)) as u64
            }
        }
    }
}

/// A pcapng interface: its link type (if we decode it) and clock.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link: Result<LinkType, u32>,
    resolution: Resolution,
    /// `if_tsoffset`: seconds to add to every timestamp.
    offset_s: i64,
    snaplen: u32,
}

#[derive(Debug)]
enum Format {
    Pcap { swapped: bool, nanos: bool, link: LinkType },
    Pcapng { swapped: bool, interfaces: Vec<Interface>, last_t: u64 },
}

/// Where a reader's bytes are: a buffer filled from its input, or a mapped file.
enum Bytes {
    Buffer(Vec<u8>),
    Mapped(Mapped),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Buffer(buf) => buf,
            Bytes::Mapped(map) => map.bytes(),
        }
    }
}

/// Reads frames from a pcap or pcapng stream, in bounded memory.
pub struct Reader<R: Read> {
    input: R,
    buf: Bytes,
    /// The unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// The file offset of `buf[0]`.
    base: u64,
    eof: bool,
    format: Format,
    packets: u64,
}

impl<R: Read> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("format", &self.format).field("packets", &self.packets).finish()
    }
}

fn u16_at(b: &[u8], at: usize, swapped: bool) -> u16 {
    let v = u16::from_le_bytes([b[at], b[at + 1]]);
    if swapped {
        v.swap_bytes()
    } else {
        v
    }
}

fn u32_at(b: &[u8], at: usize, swapped: bool) -> u32 {
    let v = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    if swapped {
        v.swap_bytes()
    } else {
        v
    }
}

impl Reader<io::Empty> {
    /// Reads a capture file in place, mapped into memory (faster than [`Reader::new`], which
    /// copies). Falls back to reading when the file cannot be mapped (a pipe, say).
    pub fn open(file: File) -> Result<Reader<ReadOrMapped>, PcapError> {
        let len = file.metadata().ok().filter(|m| m.is_file()).map_or(0, |m| m.len() as usize);
        match (len > 0).then(|| Mapped::new(&file, len)) {
            Some(Ok(map)) => Reader::start(ReadOrMapped::Mapped, Bytes::Mapped(map), len),
            _ => Reader::new(ReadOrMapped::File(file)),
        }
    }
}

/// The input of [`Reader::open`]: a file read through a buffer, or nothing (it is mapped).
pub enum ReadOrMapped {
    File(File),
    Mapped,
}

impl Read for ReadOrMapped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadOrMapped::File(file) => file.read(buf),
            ReadOrMapped::Mapped => Ok(0),
        }
    }
}

impl<R: Read> Reader<R> {
    /// Reads the file header. Fails on input that is not a capture, or a pcap whose link
    /// type no decoder here reads.
    pub fn new(input: R) -> Result<Reader<R>, PcapError> {
        Reader::start(input, Bytes::Buffer(vec![0; READ_SIZE]), 0)
    }

    fn start(input: R, buf: Bytes, end: usize) -> Result<Reader<R>, PcapError> {
        let mut reader =
            Reader { input, buf, pos: 0, end, base: 0, eof: end > 0, format: Format::Pcapng { swapped: false, interfaces: Vec::new(), last_t: 0 }, packets: 0 };
        if !reader.fill(4)? {
            return Err(PcapError::NotACapture { found: reader.unread().to_vec() });
        }
        let head = &reader.buf[reader.pos..reader.pos + 4];
        let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let (swapped, nanos) = match magic {
            PCAP_US => (false, false),
            PCAP_NS => (false, true),
            m if m == PCAP_US.swap_bytes() => (true, false),
            m if m == PCAP_NS.swap_bytes() => (true, true),
            PCAPNG_SECTION => return Ok(reader),
            _ => return Err(PcapError::NotACapture { found: head.to_vec() }),
        };
        if !reader.fill(24)? {
            return Err(reader.truncated());
        }
        let header = &reader.buf[reader.pos..reader.pos + 24];
        // The link type is the low 16 bits; the upper bits may describe an FCS.
        let link = u32_at(header, 20, swapped) & 0xffff;
        let link = LinkType::from_pcap(link).ok_or(PcapError::UnsupportedLink { link })?;
        reader.pos += 24;
        reader.format = Format::Pcap { swapped, nanos, link };
        Ok(reader)
    }

    /// How many packets have been read so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// How many bytes of the input have been consumed so far.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The next frame; `None` at the end of the capture.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, PcapError> {
        match self.format {
            Format::Pcap { swapped, nanos, link } => self.next_pcap(swapped, nanos, link),
            Format::Pcapng { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self, swapped: bool, nanos: bool, link: LinkType) -> Result<Option<Frame<'_>>, PcapError> {
        if !self.fill(16)? {
            return if self.unread().is_empty() { Ok(None) } else { Err(self.truncated()) };
        }
        let h = &self.buf[self.pos..self.pos + 16];
        let (sec, frac) = (u32_at(h, 0, swapped), u32_at(h, 4, swapped));
        let (captured, wire_len) = (u32_at(h, 8, swapped) as usize, u32_at(h, 12, swapped));
        if captured > MAX_RECORD {
            return Err(self.malformed(format!("a packet record claims {captured} captured bytes")));
        }
        if !self.fill(16 + captured)? {
            return Err(self.truncated());
        }
        let start = self.pos + 16;
        self.advance(start + captured);
        self.packets += 1;
        let t = u64::from(sec) * 1_000_000_000 + if nanos { u64::from(frac) } else { u64::from(frac) * 1000 };
        Ok(Some(Frame { t, link, data: &self.buf[start..start + captured], wire_len }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Frame<'_>>, PcapError> {
        loop {
            if !self.fill(12)? {
                return if self.unread().is_empty() { Ok(None) } else { Err(self.truncated()) };
            }
            let Format::Pcapng { swapped, .. } = self.format else { unreachable!("pcapng reader") };
            let h = &self.buf[self.pos..self.pos + 12];
            let kind = u32_at(h, 0, swapped);
            if kind == PCAPNG_SECTION {
                // A new section may change the byte order: its byte-order magic says which.
                let magic = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
                let swapped = match magic {
                    PCAPNG_BYTE_ORDER => false,
                    m if m == PCAPNG_BYTE_ORDER.swap_bytes() => true,
                    _ => return Err(self.malformed(format!("a section header's byte-order magic is {magic:08x}"))),
                };
                // Interface numbers count from 0 again in every section.
                self.format = Format::Pcapng { swapped, interfaces: Vec::new(), last_t: 0 };
            }
            let Format::Pcapng { swapped, .. } = self.format else { unreachable!("pcapng reader") };
            let len = u32_at(&self.buf[self.pos..], 4, swapped) as usize;
            if len < 12 || len % 4 != 0 || len > MAX_RECORD {
                return Err(self.malformed(format!("a block claims a length of {len} bytes")));
            }
            if !self.fill(len)? {
                return Err(self.truncated());
            }
            let start = self.pos;
            self.advance(self.pos + len);
            let body = start + 8..start + len - 4;
            match kind {
                BLOCK_INTERFACE => self.interface(body)?,
                BLOCK_ENHANCED_PACKET | BLOCK_OBSOLETE_PACKET | BLOCK_SIMPLE_PACKET => {
                    let (t, link, range, wire_len) = self.packet_block(kind, body)?;
                    self.packets += 1;
                    return Ok(Some(Frame { t, link, data: &self.buf[range], wire_len }));
                }
                _ => {}
            }
        }
    }

    /// Reads an interface description block.
    fn interface(&mut self, body: std::ops::Range<usize>) -> Result<(), PcapError> {
        let Format::Pcapng { swapped, .. } = self.format else { unreachable!("pcapng reader") };
        let b = &self.buf[body.clone()];
        if b.len() < 8 {
            return Err(self.malformed("an interface description is shorter than 8 bytes".to_string()));
        }
        let link = u32::from(u16_at(b, 0, swapped));
        let snaplen = u32_at(b, 4, swapped);
        let mut interface = Interface { link: LinkType::from_pcap(link).ok_or(link), resolution: Resolution::Decimal(6), offset_s: 0, snaplen };
        let mut at = 8;
        while at + 4 <= b.len() {
            let (code, len) = (u16_at(b, at, swapped), usize::from(u16_at(b, at + 2, swapped)));
            let value = &b[(at + 4).min(b.len())..(at + 4 + len).min(b.len())];
            match code {
                0 => break,
                OPTION_TSRESOL if !value.is_empty() => {
                    let r = u32::from(value[0] & 0x7f);
                    interface.resolution = if value[0] & 0x80 != 0 { Resolution::Binary(r) } else { Resolution::Decimal(r) };
                }
                OPTION_TSOFFSET if value.len() == 8 => {
                    let raw = u64::from_le_bytes(value.try_into().unwrap_or([0; 8]));
                    interface.offset_s = (if swapped { raw.swap_bytes() } else { raw }) as i64;
                }
                _ => {}
            }
            at += 4 + len.div_ceil(4) * 4;
        }
        if let Format::Pcapng { interfaces, .. } = &mut self.format {
            interfaces.push(interface);
        }
        Ok(())
    }

    /// Reads a packet block: its time, link type, where its bytes are, and its wire length.
    fn packet_block(&mut self, kind: u32, body: std::ops::Range<usize>) -> Result<(u64, LinkType, std::ops::Range<usize>, u32), PcapError> {
        let Format::Pcapng { swapped, ref interfaces, last_t } = self.format else { unreachable!("pcapng reader") };
        let b = &self.buf[body.clone()];
        // (interface, time, captured length, wire length, where the data starts)
        let (id, t, captured, wire_len, data_at) = match kind {
            BLOCK_SIMPLE_PACKET if b.len() >= 4 => {
                let wire_len = u32_at(b, 0, swapped);
                let snaplen = interfaces.first().map_or(u32::MAX, |i| if i.snaplen == 0 { u32::MAX } else { i.snaplen });
                let captured = (wire_len.min(snaplen) as usize).min(b.len() - 4);
                // A simple packet block carries no time: it is given the last one seen.
                (0, None, captured, wire_len, 4)
            }
            BLOCK_ENHANCED_PACKET if b.len() >= 20 => {
                let id = u32_at(b, 0, swapped) as usize;
                let units = (u64::from(u32_at(b, 4, swapped)) << 32) | u64::from(u32_at(b, 8, swapped));
                (id, Some(units), u32_at(b, 12, swapped) as usize, u32_at(b, 16, swapped), 20)
            }
            BLOCK_OBSOLETE_PACKET if b.len() >= 20 => {
                let id = usize::from(u16_at(b, 0, swapped));
                let units = (u64::from(u32_at(b, 4, swapped)) << 32) | u64::from(u32_at(b, 8, swapped));
                (id, Some(units), u32_at(b, 12, swapped) as usize, u32_at(b, 16, swapped), 20)
            }
            _ => return Err(self.malformed(format!("a packet block of {} bytes is too short", b.len() + 12))),
        };
        if data_at + captured > b.len() {
            return Err(self.malformed(format!("a packet block claims {captured} captured bytes but holds {}", b.len() - data_at)));
        }
        let Some(interface) = interfaces.get(id) else {
            return Err(self.malformed(format!("a packet names interface {id}, which no interface description defined")));
        };
        let link = interface.link.map_err(|link| PcapError::UnsupportedLink { link })?;
        let t = match t {
            Some(units) => interface.resolution.to_ns(units).saturating_add_signed(interface.offset_s.saturating_mul(1_000_000_000)),
            None => last_t,
        };
        if let Format::Pcapng { last_t, .. } = &mut self.format {
            *last_t = t;
        }
        let start = body.start + data_at;
        Ok((t, link, start..start + captured, wire_len))
    }

    /// Moves past what has been read; a mapped file hands back pages left well behind.
    fn advance(&mut self, to: usize) {
        self.pos = to;
        if let Bytes::Mapped(map) = &mut self.buf {
            map.consumed(to);
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    fn truncated(&self) -> PcapError {
        PcapError::Truncated { packets: self.packets, offset: self.base + self.end as u64 }
    }

    fn malformed(&self, what: String) -> PcapError {
        PcapError::Malformed { offset: self.offset(), what }
    }

    /// Makes at least `n` unread bytes available; `false` when the input ends first.
    fn fill(&mut self, n: usize) -> Result<bool, PcapError> {
        if self.end - self.pos >= n {
            return Ok(true);
        }
        let Bytes::Buffer(buf) = &mut self.buf else {
            // A mapped file is all there from the start.
            return Ok(false);
        };
        // Move what is left to the front, growing the buffer for a record larger than it.
        buf.copy_within(self.pos..self.end, 0);
        self.base += self.pos as u64;
        self.end -= self.pos;
        self.pos = 0;
        if buf.len() < n {
            buf.resize(n.next_power_of_two(), 0);
        }
        while self.end < n && !self.eof {
            match self.input.read(&mut buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(read) => self.end += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(PcapError::Io(err)),
            }
        }
        Ok(self.end >= n)
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;

    /// A pcapng block of `kind` with `body`, big-endian when `be`, padded to 4 bytes.
    fn block(kind: u32, body: &[u8], be: bool) -> Vec<u8> {
        let word = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let padded = body.len().div_ceil(4) * 4;
        let len = (12 + padded) as u32;
        let mut out = word(kind).to_vec();
        out.extend_from_slice(&word(len));
        out.extend_from_slice(body);
        out.resize(8 + padded, 0);
        out.extend_from_slice(&word(len));
        out
    }

    fn section(be: bool) -> Vec<u8> {
        let mut body = if be { PCAPNG_BYTE_ORDER.to_be_bytes() } else { PCAPNG_BYTE_ORDER.to_le_bytes() }.to_vec();
        body.extend_from_slice(&[0, 1, 0, 0]);
        body.extend_from_slice(&[0xff; 8]);
        block(PCAPNG_SECTION, &body, be)
    }

    /// An interface of `link` with `if_tsresol` = `resol` (little-endian section).
    fn interface(link: u16, resol: Option<u8>) -> Vec<u8> {
        let mut body = link.to_le_bytes().to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&0u32.to_le_bytes());
        if let Some(r) = resol {
            body.extend_from_slice(&OPTION_TSRESOL.to_le_bytes());
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&[r, 0, 0, 0]);
        }
        block(BLOCK_INTERFACE, &body, false)
    }

    fn enhanced(interface: u32, units: u64, data: &[u8]) -> Vec<u8> {
        let mut body = interface.to_le_bytes().to_vec();
        body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(units as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32 + 100).to_le_bytes());
        body.extend_from_slice(data);
        block(BLOCK_ENHANCED_PACKET, &body, false)
    }

    /// A frame as owned values: time, link, bytes, wire length.
    type Owned = (u64, LinkType, Vec<u8>, u32);

    fn all(bytes: &[u8]) -> Result<Vec<Owned>, PcapError> {
        let mut reader = Reader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(f) = reader.next_frame()? {
            out.push((f.t, f.link, f.data.to_vec(), f.wire_len));
        }
        Ok(out)
    }

    #[test]
    fn pcapng__interfaces_set_link_and_resolution_per_packet() {
        let mut file = section(false);
        file.extend(interface(1, None));
        file.extend(interface(276, Some(9)));
        file.extend(interface(0, Some(0x80 | 10)));
        file.extend(block(5, &[1, 2, 3, 4], false)); // an interface statistics block: skipped
        file.extend(enhanced(0, 1_500_000, b"abc"));
        file.extend(enhanced(1, 7, b"de"));
        file.extend(enhanced(2, 3 << 10, b"f"));
        let frames = all(&file).expect("reads");
        assert_eq!(
            frames,
            vec![
                (1_500_000_000, LinkType::Ethernet, b"abc".to_vec(), 103),
                (7, LinkType::LinuxSll2, b"de".to_vec(), 102),
                (3_000_000_000, LinkType::Null, b"f".to_vec(), 101),
            ]
        );
    }

    #[test]
    fn pcapng__big_endian_section_header__is_read() {
        let mut file = section(true);
        let mut idb = 1u16.to_be_bytes().to_vec();
        idb.extend_from_slice(&[0; 6]);
        file.extend(block(BLOCK_INTERFACE, &idb, true));
        let mut spb = 3u32.to_be_bytes().to_vec();
        spb.extend_from_slice(b"xyz");
        file.extend(block(BLOCK_SIMPLE_PACKET, &spb, true));
        assert_eq!(all(&file).expect("reads"), vec![(0, LinkType::Ethernet, b"xyz".to_vec(), 3)]);
    }

    #[test]
    fn pcapng__packet_of_an_unknown_interface__is_damage() {
        let mut file = section(false);
        file.extend(enhanced(0, 1, b"a"));
        let err = all(&file).expect_err("no interface 0");
        assert!(err.to_string().contains("names interface 0, which no interface description defined"), "{err}");
    }

    #[test]
    fn pcapng__unsupported_link__named_at_its_first_packet() {
        let mut file = section(false);
        file.extend(interface(147, None));
        file.extend(enhanced(0, 1, b"a"));
        assert!(matches!(all(&file), Err(PcapError::UnsupportedLink { link: 147 })));
    }

    #[test]
    fn pcapng__cut_inside_a_block__is_truncated_after_the_whole_packets() {
        let mut file = section(false);
        file.extend(interface(1, None));
        file.extend(enhanced(0, 1, b"a"));
        let whole = file.len();
        file.extend(enhanced(0, 2, b"b"));
        let err = all(&file[..whole + 10]).expect_err("cut");
        assert!(matches!(err, PcapError::Truncated { packets: 1, .. }), "{err:?}");
    }

    #[test]
    fn empty_or_foreign_input__is_not_a_capture() {
        assert!(matches!(Reader::new(&[][..]), Err(PcapError::NotACapture { .. })));
        let err = Reader::new(&b"{\"format\""[..]).expect_err("json");
        assert!(err.to_string().starts_with("is not a pcap or pcapng capture: it begins with 7b 22 66 6f"), "{err}");
    }

    #[test]
    fn block_length_not_a_multiple_of_four__is_damage() {
        let mut file = section(false);
        file.extend_from_slice(&1u32.to_le_bytes());
        file.extend_from_slice(&13u32.to_le_bytes());
        file.extend_from_slice(&[0; 8]);
        assert!(matches!(all(&file), Err(PcapError::Malformed { .. })));
    }
}
