//! One thread per CPU reading that CPU's perf ring, decoding its samples and sending each
//! read's events as one batch.
//!
//! The events do not wake the reader (a wake-up per sample would interrupt the CPU that traced
//! the hit): it reads every progress tick ([`progress::TICK`]), sleeping between, and is woken
//! early only by the stop signal. An event reaches the batch within a tick; a ring (see
//! `tracer`) holds fifty ticks of the heaviest load.

use crate::capture::clock::{now_ns, thread_cpu_ns};
use crate::capture::progress::{self, Progress};
use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::decode::{Decoded, Decoder};
use super::error::TracefsError;
use super::perf::{records, Record, Ring};
use super::ports::{on_hosts, PortSet};
use crate::event::Event;

/// Two samples of one hit, written by two events of one tracepoint while the port filters are
/// replaced (see `tracer`), lie this close in time at most. Measured (11,677 copies, filters
/// replaced back to back under connections on two CPUs): half within 0.11 µs, 99.9 % within
/// 5.6 µs, all within 29 µs (an interrupt between the two writes), and all but one next to
/// each other.
const COPY_WITHIN_NS: u64 = 50_000;
/// How many earlier samples a sample is compared with to find it is such a second copy.
const COPY_LOOKBACK: usize = 4;

/// Wakes every reader for its last drain.
pub struct StopSignal(EventFd);

impl StopSignal {
    pub fn new() -> Result<StopSignal, TracefsError> {
        let fd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK);
        Ok(StopSignal(fd.map_err(|err| TracefsError::io("create an eventfd", "eventfd", err.into()))?))
    }

    /// Sleeps until the signal is raised (`true`) or `timeout` has passed.
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(_) => Ok(fds[0].revents().is_some_and(|r| !r.is_empty())),
            Err(Errno::EINTR) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Makes the eventfd readable, for good: every reader's `poll` sees it.
    pub fn raise(&self) -> io::Result<()> {
        self.0.write(1)?;
        Ok(())
    }
}

/// What one reader saw.
#[derive(Clone, Debug, Default)]
pub struct ReaderStats {
    pub events: u64,
    /// Samples read, whatever became of them: with the events' own counts, what was lost.
    pub samples: u64,
    /// Records of sockets outside the session's ports, or of other protocols, and second
    /// copies of a hit.
    pub skipped: u64,
    /// Records that could not be decoded.
    pub malformed: u64,
    /// Samples the ring says it had no room for.
    pub missed: u64,
    /// CPU time the thread used, in ns.
    pub cpu_ns: u64,
    /// A failure to wait that ended the thread early.
    pub error: Option<String>,
}

/// Everything a reader thread needs besides its ring.
#[derive(Clone)]
pub struct Shared {
    pub decoder: Arc<Decoder>,
    pub ports: Arc<PortSet>,
    /// The session's host addresses, when it has its own (empty: any address).
    pub hosts: Arc<[IpAddr]>,
    pub stop: Arc<StopSignal>,
    pub sink: Sender<Vec<Event>>,
}

/// Reads `ring` on a thread of its own.
pub fn spawn(cpu: u32, ring: Ring, shared: Shared, progress: Progress) -> Result<JoinHandle<ReaderStats>, TracefsError> {
    let reader = Reader { ring, shared, progress, stats: ReaderStats::default(), bytes: Vec::new(), recent: Recent::default() };
    thread::Builder::new()
        .name(format!("states-cpu{cpu}"))
        .spawn(move || reader.run())
        .map_err(|err| TracefsError::io("start a reader thread", format!("cpu{cpu}"), err))
}

struct Reader {
    ring: Ring,
    shared: Shared,
    /// This CPU's ring has been read up to here.
    progress: Progress,
    stats: ReaderStats,
    /// The ring's bytes of one drain.
    bytes: Vec<u8>,
    recent: Recent,
}

impl Reader {
    fn run(mut self) -> ReaderStats {
        loop {
            let stopping = match self.shared.stop.wait(progress::TICK) {
                Ok(stopping) => stopping,
                Err(err) => {
                    self.stats.error = Some(format!("poll: {err}"));
                    break;
                }
            };
            // Every event stamped before the drain begins is in the ring by then, so it is
            // read by this drain.
            let drained_at = now_ns();
            // After the stop signal the events are disabled: this drain is the last one.
            self.drain();
            self.progress.mark(drained_at);
            if stopping {
                break;
            }
        }
        self.progress.finish();
        self.stats.cpu_ns = thread_cpu_ns();
        self.stats
    }

    /// Reads what the ring holds, and sends its events as one batch.
    fn drain(&mut self) {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        self.ring.take(&mut bytes);
        let mut batch = Vec::new();
        for record in records(&bytes) {
            match record {
                Ok(Record::Sample { id, time, raw }) => self.sample(id, time, raw, &mut batch),
                Ok(Record::Lost { lost }) => self.stats.missed += lost,
                Ok(Record::Other) => {}
                Err(_) => self.stats.malformed += 1,
            }
        }
        self.bytes = bytes;
        // Samples lie in the order they were written, which is their time order but for a
        // sample written by an interrupt between another's stamp and its write.
        batch.sort_by_key(|e| e.t);
        if !batch.is_empty() {
            // A closed receiver means nobody wants events any more; we keep draining the
            // ring until stopped, so the counts stay true.
            let _ = self.shared.sink.send(batch);
        }
    }

    fn sample(&mut self, id: u64, time: u64, raw: &[u8], batch: &mut Vec<Event>) {
        self.stats.samples += 1;
        if self.recent.is_copy(id, time, raw) {
            self.stats.skipped += 1;
            return;
        }
        match self.shared.decoder.decode(time, raw) {
            Decoded::Event { event, ports } if self.shared.ports.matches(ports) && on_hosts(&self.shared.hosts, &event) => {
                self.stats.events += 1;
                batch.push(event);
            }
            Decoded::Event { .. } | Decoded::NotTcp | Decoded::Unknown { .. } => self.stats.skipped += 1,
            Decoded::Malformed { .. } => self.stats.malformed += 1,
        }
    }
}

/// The last few samples of a ring, to tell a second copy of one hit: while the port filters
/// are replaced, an old and a new event of the same tracepoint are both on for a few
/// microseconds, and a hit both let through is written twice, back to back. Two samples of
/// two events with the same bytes that close in time are such a pair (a tracepoint's record
/// holds the socket's address, its states and the task: two real hits are never alike so
/// close); the second is dropped.
#[derive(Default)]
struct Recent {
    samples: Vec<(u64, u64, Vec<u8>)>,
    next: usize,
}

impl Recent {
    /// Whether this sample is the second copy of one before it; if not, it is remembered.
    fn is_copy(&mut self, id: u64, time: u64, raw: &[u8]) -> bool {
        if self.samples.iter().any(|(i, t, r)| *i != id && t.abs_diff(time) <= COPY_WITHIN_NS && r.as_slice() == raw) {
            return true;
        }
        if self.samples.len() < COPY_LOOKBACK {
            self.samples.push((id, time, raw.to_vec()));
        } else {
            let slot = &mut self.samples[self.next];
            (slot.0, slot.1) = (id, time);
            slot.2.clear();
            slot.2.extend_from_slice(raw);
        }
        self.next = (self.next + 1) % COPY_LOOKBACK;
        false
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;

    #[test]
    fn same_bytes_from_another_event_within_microseconds__a_copy() {
        let mut recent = Recent::default();
        assert!(!recent.is_copy(1, 1_000, b"hit"));
        assert!(recent.is_copy(2, 1_800, b"hit"), "the other event's copy of the hit");
        // The same event again is a new hit, as are other bytes, or the same bytes much later.
        assert!(!recent.is_copy(1, 2_000, b"hit"));
        assert!(!recent.is_copy(2, 2_100, b"other"));
        assert!(!recent.is_copy(2, 900_000, b"hit"));
    }

    #[test]
    fn only_the_last_few_samples_are_compared() {
        let mut recent = Recent::default();
        assert!(!recent.is_copy(1, 0, b"first"));
        for n in 0..COPY_LOOKBACK as u8 {
            assert!(!recent.is_copy(1, 10, &[n]));
        }
        assert!(!recent.is_copy(2, 20, b"first"), "forgotten: {} samples came between", COPY_LOOKBACK);
    }
}
