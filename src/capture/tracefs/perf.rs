//! Perf events on tracepoints: the lens's tracepoints, each recorded on each CPU into that
//! CPU's ring ([`Ring`]), stamped with CLOCK_MONOTONIC.
//!
//! Measured on Linux 6.18: opening the four tracepoints on two CPUs takes 0.3 ms, where a new
//! tracefs instance's `trace_clock` waited 18–40 ms for an RCU grace period. The wait moves to
//! the close: the last event of a tracepoint to close unregisters the kernel's probe, which
//! waits for a grace period (25–45 ms a tracepoint) holding `event_mutex` (see
//! `capture::release`, and `tracer`'s hold, for how sessions avoid it). Closing an event while another of the same
//! tracepoint stays open takes microseconds, which is how the port filters are replaced (a
//! perf event's filter can be set only once: a second `SET_FILTER` is `EEXIST`).
//!
//! The ring is memory the kernel writes while we read it: [`Ring::take`] is the only place that
//! touches it, copying what the kernel has published and handing the space back. The records
//! are then read from that copy, bounds-checked ([`records`]).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

/// `PERF_TYPE_TRACEPOINT`: `config` is the tracepoint's id (its format's `ID:`).
const TYPE_TRACEPOINT: u32 = 2;
/// `sample_type`: the event's id first (to tell two events of one tracepoint apart), then the
/// time, then the tracepoint's record as its tracefs ring holds it.
const SAMPLE_TIME: u64 = 1 << 2;
const SAMPLE_RAW: u64 = 1 << 10;
const SAMPLE_IDENTIFIER: u64 = 1 << 16;
/// `perf_event_attr` flag bits: start disabled; stamp with `clockid`.
const FLAG_DISABLED: u64 = 1 << 0;
const FLAG_USE_CLOCKID: u64 = 1 << 25;
const FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// Record types in the ring.
const RECORD_LOST: u32 = 2;
const RECORD_SAMPLE: u32 = 9;
/// Where `perf_event_mmap_page` keeps the ring's positions and shape.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
const DATA_OFFSET: usize = 1040;
const DATA_SIZE: usize = 1048;

/// `struct perf_event_attr` up to `aux_watermark` (`PERF_ATTR_SIZE_VER5`, 112 bytes); the
/// kernel takes any size it knows, and `clockid` came with `VER3`.
#[repr(C)]
#[derive(Default)]
struct Attr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved: u16,
}

nix::ioctl_none!(ioc_enable, b'$', 0);
nix::ioctl_none!(ioc_disable, b'$', 1);
nix::ioctl_write_int_bad!(ioc_set_output, nix::request_code_none!(b'$', 5));
nix::ioctl_write_ptr_bad!(ioc_set_filter, nix::request_code_write!(b'$', 6, size_of::<*const libc::c_char>()), libc::c_char);

/// Opens a perf event on tracepoint `id`, on `cpu` for every task, disabled: a sample of every
/// hit, stamped on CLOCK_MONOTONIC (the trace's clock, as the other lenses').
pub fn open(id: u16, cpu: u32) -> io::Result<OwnedFd> {
    let attr = Attr {
        kind: TYPE_TRACEPOINT,
        size: size_of::<Attr>() as u32,
        config: u64::from(id),
        sample_period: 1,
        sample_type: SAMPLE_IDENTIFIER | SAMPLE_TIME | SAMPLE_RAW,
        flags: FLAG_DISABLED | FLAG_USE_CLOCKID,
        clockid: libc::CLOCK_MONOTONIC,
        // No wake-up per sample (each would interrupt the CPU that traced it): the reader
        // looks every progress tick.
        wakeup_events: 0,
        ..Attr::default()
    };
    let cpu = libc::c_int::try_from(cpu).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `attr` is a valid perf_event_attr whose `size` is its own; the kernel only reads
    // it. pid -1 with a CPU: every task on that CPU; no group.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, &attr as *const Attr, -1, cpu, -1, FLAG_FD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Keeps only the hits that pass `filter` (ftrace's filter syntax). Once per event.
pub fn set_filter(event: BorrowedFd<'_>, filter: &str) -> io::Result<()> {
    let filter = CString::new(filter).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a perf event's descriptor and a NUL-terminated string the kernel copies.
    unsafe { ioc_set_filter(event.as_raw_fd(), filter.as_ptr()) }?;
    Ok(())
}

/// Makes `event` write its samples into `ring`'s ring (an event of the same CPU and clock).
pub fn set_output(event: BorrowedFd<'_>, ring: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: two perf event descriptors; the kernel checks that they can share a ring.
    unsafe { ioc_set_output(event.as_raw_fd(), ring.as_raw_fd()) }?;
    Ok(())
}

/// Starts recording.
pub fn enable(event: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a perf event's descriptor; the request takes no argument.
    unsafe { ioc_enable(event.as_raw_fd()) }?;
    Ok(())
}

/// Stops recording: once this returns, the event writes nothing more.
pub fn disable(event: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a perf event's descriptor; the request takes no argument.
    unsafe { ioc_disable(event.as_raw_fd()) }?;
    Ok(())
}

/// The hits the event has counted: those it recorded and those its ring had no room for.
pub fn count(event: BorrowedFd<'_>) -> io::Result<u64> {
    let mut value = [0u8; 8];
    match nix::unistd::read(event, &mut value)? {
        8 => Ok(u64::from_ne_bytes(value)),
        n => Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("a perf event's count is 8 bytes, read {n}"))),
    }
}

/// The ring of one event (and of those that [`set_output`] into it), mapped; unmapped when
/// dropped.
pub struct Ring {
    map: MmapRaw,
    data_offset: usize,
    data_size: usize,
}

impl Ring {
    /// Maps `event`'s ring: the control page and `pages` pages of data (a power of two).
    pub fn map(event: BorrowedFd<'_>, pages: usize, page_size: usize) -> io::Result<Ring> {
        let map = MmapOptions::new().len((1 + pages) * page_size).map_raw(event.as_raw_fd())?;
        let mut ring = Ring { map, data_offset: page_size, data_size: pages * page_size };
        // Kernels since 4.1 say where the data lies; older ones put it right after the page.
        let (offset, size) = (ring.control(DATA_OFFSET).load(Ordering::Relaxed), ring.control(DATA_SIZE).load(Ordering::Relaxed));
        let fits = offset.checked_add(size).is_some_and(|end| end <= ring.map.len() as u64);
        if fits && offset >= DATA_SIZE as u64 + 8 && size != 0 {
            (ring.data_offset, ring.data_size) = (offset as usize, size as usize);
        }
        Ok(ring)
    }

    /// Appends every byte the kernel has published since the last call to `out`, and gives
    /// their space back to the kernel.
    pub fn take(&mut self, out: &mut Vec<u8>) {
        // Acquire: the records before `head` are written.
        let head = self.control(DATA_HEAD).load(Ordering::Acquire);
        let tail = self.control(DATA_TAIL).load(Ordering::Relaxed);
        let len = head.wrapping_sub(tail).min(self.data_size as u64) as usize;
        let start = (tail % self.data_size as u64) as usize;
        let first = len.min(self.data_size - start);
        out.reserve(len);
        for (at, n) in [(start, first), (0, len - first)] {
            let from = self.map.as_ptr().wrapping_add(self.data_offset + at);
            // SAFETY: `[at, at + n)` lies in the data area, inside the mapping that lives as
            // long as `self`; the kernel writes none of it until `tail` moves past it below.
            out.extend_from_slice(unsafe { std::slice::from_raw_parts(from, n) });
        }
        // Release: our reads of the records are done before the kernel may reuse their space.
        self.control(DATA_TAIL).store(head, Ordering::Release);
    }

    /// A u64 of the control page, which the kernel updates while we read.
    fn control(&self, offset: usize) -> &AtomicU64 {
        assert!(offset + 8 <= self.data_offset.min(self.map.len()) && offset % 8 == 0);
        // SAFETY: the word lies in the control page (checked above), which lives as long as
        // `self` and starts on a page; the kernel and we access it only atomically.
        unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().wrapping_add(offset).cast()) }
    }
}

/// One record of a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A hit: which event recorded it, when, and the tracepoint's record.
    Sample { id: u64, time: u64, raw: &'a [u8] },
    /// The ring had no room for this many samples.
    Lost { lost: u64 },
    /// Another kind, which the lens does not ask for.
    Other,
}

/// The records in `bytes` (as [`Ring::take`] gives them); after one that contradicts its own
/// size, an error, then nothing.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = Result<Record<'_>, String>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = bytes.get(at..).filter(|r| !r.is_empty())?;
        let (kind, size) = (u32_at(rest, 0), rest.get(6..8).map(|s| usize::from(u16::from_ne_bytes([s[0], s[1]]))));
        let (Some(kind), Some(size)) = (kind, size) else {
            let found = format!("record header cut short at byte {at}");
            at = bytes.len();
            return Some(Err(found));
        };
        let Some(record) = rest.get(..size).filter(|_| size >= 8) else {
            let found = format!("record at byte {at} says {size} bytes, {} left", rest.len());
            at = bytes.len();
            return Some(Err(found));
        };
        let start = at;
        at += size;
        let parsed = match kind {
            RECORD_SAMPLE => {
                let raw_len = u32_at(record, 24).map(|n| n as usize);
                match (u64_at(record, 8), u64_at(record, 16), raw_len.and_then(|n| record.get(28..28 + n))) {
                    (Some(id), Some(time), Some(raw)) => Record::Sample { id, time, raw },
                    _ => return Some(Err(format!("sample at byte {start} of {size} bytes is shorter than its fields"))),
                }
            }
            RECORD_LOST => match u64_at(record, 16) {
                Some(lost) => Record::Lost { lost },
                None => return Some(Err(format!("lost record at byte {start} of {size} bytes is cut short"))),
            },
            _ => Record::Other,
        };
        Some(Ok(parsed))
    })
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;

    /// A record as the ring holds it: header (type, misc, size), then `body`.
    fn record(kind: u32, body: &[u8]) -> Vec<u8> {
        let mut r = kind.to_ne_bytes().to_vec();
        r.extend_from_slice(&0u16.to_ne_bytes());
        r.extend_from_slice(&((8 + body.len()) as u16).to_ne_bytes());
        r.extend_from_slice(body);
        r
    }

    fn sample(id: u64, time: u64, raw: &[u8]) -> Vec<u8> {
        let mut body = [id.to_ne_bytes(), time.to_ne_bytes()].concat();
        body.extend_from_slice(&(raw.len() as u32).to_ne_bytes());
        body.extend_from_slice(raw);
        body.resize(body.len().next_multiple_of(8), 0);
        record(RECORD_SAMPLE, &body)
    }

    #[test]
    fn samples_lost_and_other_records_in_ring_order() {
        let lost = record(RECORD_LOST, &[7u64.to_ne_bytes(), 3u64.to_ne_bytes()].concat());
        let bytes = [sample(7, 100, b"raw record"), lost, record(14, &[0; 8]), sample(8, 101, &[1; 4])].concat();
        let got: Vec<_> = records(&bytes).collect();
        assert_eq!(
            got,
            [
                Ok(Record::Sample { id: 7, time: 100, raw: b"raw record" }),
                Ok(Record::Lost { lost: 3 }),
                Ok(Record::Other),
                Ok(Record::Sample { id: 8, time: 101, raw: &[1; 4] }),
            ]
        );
    }

    #[test]
    fn record_that_contradicts_its_size__an_error_then_nothing() {
        let mut bytes = [sample(1, 1, b"ok"), sample(2, 2, b"cut")].concat();
        bytes.truncate(bytes.len() - 4);
        let got: Vec<_> = records(&bytes).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Ok(Record::Sample { id: 1, time: 1, raw: b"ok" }));
        assert!(got[1].as_ref().is_err_and(|e| e.contains("says 32 bytes, 28 left")), "{got:?}");
        // A raw size past the record's end, and a header shorter than 8 bytes.
        let mut lying = sample(3, 3, b"x");
        lying[24..28].copy_from_slice(&100u32.to_ne_bytes());
        assert!(matches!(records(&lying).collect::<Vec<_>>()[..], [Err(_)]));
        assert!(matches!(records(&[9, 0, 0, 0, 0, 0]).collect::<Vec<_>>()[..], [Err(_)]));
    }
}
