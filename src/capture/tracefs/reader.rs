//! One thread per CPU reading that CPU's ring buffer (`per_cpu/cpuN/trace_pipe_raw`) in binary
//! pages, decoding them and sending each read's events as one batch.
//!
//! Measured on Linux 6.18: with the instance's `buffer_percent` at 0, `poll` wakes on the first
//! event; a read returns one page, a partial one if that is all there is, and `EAGAIN` (with
//! `O_NONBLOCK`) once the buffer is empty, even after tracing is switched off. So a reader
//! sleeps in `poll` while nothing happens (zero CPU, first event at once), and after each read
//! waits [`CADENCE`] before the next poll, so that a burst costs one wake-up per cadence, not
//! one per event.

use crate::capture::clock::{now_ns, thread_cpu_ns};
use crate::capture::progress::{self, Progress};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::decode::{Decoded, Decoder};
use super::error::TracefsError;
use super::page::{Missed, Page, PageLayout};
use super::ports::{on_hosts, PortSet};
use crate::event::Event;

/// The pause after a read: bounds wake-ups under load, and is the added latency of an event
/// that arrives behind another (the live display wants events within 10–20 ms).
pub const CADENCE: Duration = Duration::from_millis(5);

/// Wakes every reader for its last drain.
pub struct StopSignal(EventFd);

impl StopSignal {
    pub fn new() -> Result<StopSignal, TracefsError> {
        let fd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK);
        Ok(StopSignal(fd.map_err(|err| TracefsError::io("create an eventfd", "eventfd", err.into()))?))
    }

    /// Sleeps until the signal is raised or `timeout` has passed.
    fn wait(&self, timeout: Duration) -> io::Result<()> {
        let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        match poll(&mut [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)], timeout) {
            Ok(_) | Err(Errno::EINTR) => Ok(()),
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
    /// Records of sockets outside the session's ports, or of other protocols.
    pub skipped: u64,
    /// Records or pages that could not be decoded.
    pub malformed: u64,
    /// Events the pages say the ring buffer lost (overwritten before we read them).
    pub missed: u64,
    /// CPU time the thread used, in ns.
    pub cpu_ns: u64,
    /// A read or poll failure that ended the thread early.
    pub error: Option<String>,
}

/// Everything a reader thread needs besides its file.
#[derive(Clone)]
pub struct Shared {
    pub layout: PageLayout,
    pub page_size: usize,
    pub decoder: Arc<Decoder>,
    pub ports: Arc<PortSet>,
    /// The session's host addresses, when it has its own (empty: any address).
    pub hosts: Arc<[IpAddr]>,
    pub stop: Arc<StopSignal>,
    pub sink: Sender<Vec<Event>>,
}

/// Opens `trace_pipe_raw` here, so that a failure is the caller's error, and reads it on a
/// thread of its own.
pub fn spawn(cpu: u32, pipe: &Path, shared: Shared, progress: Progress) -> Result<JoinHandle<ReaderStats>, TracefsError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(pipe)
        .map_err(|err| TracefsError::io("open a CPU's ring buffer", pipe, err))?;
    thread::Builder::new()
        .name(format!("tracefs-cpu{cpu}"))
        .spawn(move || Reader { file, shared, progress, stats: ReaderStats::default() }.run())
        .map_err(|err| TracefsError::io("start a reader thread", pipe, err))
}

struct Reader {
    file: File,
    shared: Shared,
    /// This CPU's buffer has been read up to here.
    progress: Progress,
    stats: ReaderStats,
}

impl Reader {
    fn run(mut self) -> ReaderStats {
        let mut page = vec![0u8; self.shared.page_size];
        loop {
            let stopping = match self.wait() {
                Ok(stopping) => stopping,
                Err(err) => {
                    self.stats.error = Some(format!("poll: {err}"));
                    break;
                }
            };
            // Every event stamped before the drain begins is in the buffer by then, so it is
            // read by this drain.
            let drained_at = now_ns();
            // After the stop signal the events are disabled: this drain is the last one.
            if let Err(err) = self.drain(&mut page) {
                self.stats.error = Some(format!("read: {err}"));
                break;
            }
            self.progress.mark(drained_at);
            if stopping {
                break;
            }
            // The stop cuts the pause short: the last drain need not wait for it.
            if let Err(err) = self.shared.stop.wait(CADENCE) {
                self.stats.error = Some(format!("poll: {err}"));
                break;
            }
        }
        self.progress.finish();
        self.stats.cpu_ns = thread_cpu_ns();
        self.stats
    }

    /// Sleeps until the buffer has data, the stop signal is raised (`true`), or a progress
    /// tick has passed.
    fn wait(&self) -> io::Result<bool> {
        let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN), PollFd::new(self.shared.stop.0.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, progress::TICK.as_millis() as u16) {
                Ok(_) => return Ok(fds[1].revents().is_some_and(|r| !r.is_empty())),
                Err(Errno::EINTR) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Reads pages until the buffer is empty, and sends their events as one batch.
    fn drain(&mut self, page: &mut [u8]) -> io::Result<()> {
        let mut batch = Vec::new();
        loop {
            let n = match self.file.read(page) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            self.decode_page(&page[..n], &mut batch);
        }
        if !batch.is_empty() {
            // A closed receiver means nobody wants events any more; we keep draining the
            // buffer until stopped, so the counts stay true.
            let _ = self.shared.sink.send(batch);
        }
        Ok(())
    }

    fn decode_page(&mut self, bytes: &[u8], batch: &mut Vec<Event>) {
        let Ok(page) = Page::parse(bytes, &self.shared.layout) else {
            self.stats.malformed += 1;
            return;
        };
        self.stats.missed += match page.missed {
            Missed::None => 0,
            Missed::Count(n) => n,
            Missed::Unknown => 1,
        };
        for record in page.records() {
            let Ok(record) = record else {
                self.stats.malformed += 1;
                continue;
            };
            match self.shared.decoder.decode(record.time, record.data) {
                Decoded::Event { event, ports } if self.shared.ports.matches(ports) && on_hosts(&self.shared.hosts, &event) => {
                    self.stats.events += 1;
                    batch.push(event);
                }
                Decoded::Event { .. } | Decoded::NotTcp | Decoded::Unknown { .. } => self.stats.skipped += 1,
                Decoded::Malformed { .. } => self.stats.malformed += 1,
            }
        }
    }
}
