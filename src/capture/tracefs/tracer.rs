//! [`StateTracer`]: the kernel-state lens from start to stop.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::decode::{event_dir, Decoder, TRACEPOINTS};
use super::error::TracefsError;
use super::format::Format;
use super::instance::{read_whole, Instance};
use super::page::PageLayout;
use super::ports::{port_filter, PortSet};
use super::reader::{self, ReaderStats, Shared, StopSignal};
use super::stats::{lost_in_cpu_stats, TracerStats};
use super::{cpus, mount};
use crate::capture::progress::Progress;
use crate::event::Event;

/// The least ring buffer per CPU. At 200k events/s (16k connections/s, ~10 state events each,
/// 76 bytes a record) two CPUs fill 7.6 MB/s each; 1 MiB holds 130 ms of that, twenty-five
/// times the readers' cadence, for a reader kept off its CPU by the load it traces. A new
/// instance's buffer is the kernel's default (1,410 KB on Linux 6.18, `trace_buf_size`), and
/// is resized only below this: a resize waits for an RCU grace period (10–30 ms), which every
/// session would pay before its first event.
const MIN_BUFFER_KB_PER_CPU: u64 = 1024;

/// The state filter of a tracer with no port yet: the changes of listening sockets only (a
/// listener has no remote port, and few sockets on a machine listen), which the reader keeps
/// once it is told their port ([`StateTracer::follow`]).
pub const LISTENERS: &str = "protocol == 6 && dport == 0";

/// Traces the TCP state changes, resets and retransmissions of the sockets on a set of ports,
/// in a private tracefs instance, and sends them as batches of [`Event`]s.
///
/// Each batch holds one CPU's events in time order; batches of different CPUs interleave, so a
/// consumer merges by `t`. Dropping the tracer (on an error or a panic) removes the instance
/// just as [`StateTracer::stop`] does, without the account.
///
/// ```no_run
/// # fn main() -> Result<(), socktrace::capture::tracefs::TracefsError> {
/// use socktrace::capture::tracefs::StateTracer;
/// let (tx, rx) = std::sync::mpsc::channel();
/// let tracer = StateTracer::start(&[8080], tx)?;
/// // ... the session runs; `rx` yields `Vec<Event>` batches within ~5 ms of each change.
/// let stats = tracer.stop(); // every event recorded so far is in `rx` now
/// let events: Vec<_> = rx.try_iter().flatten().collect();
/// eprintln!("{} events, {stats}", events.len());
/// # Ok(()) }
/// ```
pub struct StateTracer {
    instance: Instance,
    ports: Arc<PortSet>,
    stop: Arc<StopSignal>,
    readers: Vec<JoinHandle<ReaderStats>>,
    progress: Vec<Progress>,
    cpus: Vec<u32>,
    stopped: bool,
}

impl StateTracer {
    /// Starts tracing the TCP sockets with one of `ports` at either end; events go to `sink`.
    pub fn start(ports: &[u16], sink: Sender<Vec<Event>>) -> Result<StateTracer, TracefsError> {
        StateTracer::start_on_hosts(ports, &[], sink)
    }

    /// Like [`start`](Self::start), keeping only sockets with one of `hosts` at either end
    /// too (none: any address). Tracepoints see every network namespace, and a socket of
    /// another namespace may have the same port as one of the session's hosts.
    pub fn start_on_hosts(ports: &[u16], hosts: &[IpAddr], sink: Sender<Vec<Event>>) -> Result<StateTracer, TracefsError> {
        StateTracer::prepare(hosts)?.start(ports, sink)
    }

    /// Learns what a start needs without making anything: tracefs is there and readable, and
    /// this kernel has the tracepoints and a page layout we can read. Making an instance is
    /// what costs (~45 ms to set up, ~40 ms to remove: RCU grace periods), so `trace run`
    /// knows up front whether the lens can run and starts it only once there is a port.
    pub fn prepare(hosts: &[IpAddr]) -> Result<Prepared, TracefsError> {
        let root = mount::tracefs_root()?;
        let layout = page_layout(&root)?;
        let decoder = Arc::new(decoder(&root)?);
        Ok(Prepared { root, layout, decoder, cpus: cpus::online()?, hosts: Arc::from(hosts) })
    }

    /// How far every CPU's buffer has been delivered: the slowest CPU's mark.
    pub fn progress(&self) -> u64 {
        self.progress.iter().map(Progress::get).min().unwrap_or(u64::MAX)
    }

    /// Traces the sockets on `ports` from now on, instead of the previous ones. Events of a
    /// port taken out that are still in the buffers are left out too. Changing the kernel's
    /// filters may wait for an RCU grace period: tens of ms on a busy machine.
    pub fn set_ports(&self, ports: &[u16]) -> Result<(), TracefsError> {
        self.follow(ports);
        self.write_filters(ports)
    }

    /// Keeps the events of `ports` from now on, at once, in the reader only; the kernel's
    /// filters stay as they are until [`set_ports`](Self::set_ports). A tracer started with no
    /// port lets every listening socket's changes through (see [`LISTENERS`]), so this is
    /// enough to see a server's LISTEN (`trace echo` calls it between `bind` and `listen`,
    /// where a wait would show as a pause of the server's).
    pub fn follow(&self, ports: &[u16]) {
        self.ports.replace(ports);
    }

    /// The instance's directory (`.../instances/socktrace-PID-N`), gone after stop or drop.
    pub fn instance_dir(&self) -> &Path {
        self.instance.dir()
    }

    /// Stops tracing, delivers every event recorded so far, removes the instance and accounts
    /// for what was delivered and lost.
    pub fn stop(mut self) -> TracerStats {
        self.shutdown()
    }

    fn write_filters(&self, ports: &[u16]) -> Result<(), TracefsError> {
        for tp in TRACEPOINTS {
            let filter = match tp {
                "sock:inet_sock_set_state" if ports.is_empty() => LISTENERS.to_string(),
                "sock:inet_sock_set_state" => port_filter(ports, true),
                // Its addresses are sockaddr arrays a filter cannot look into: PortSet does it.
                "tcp:tcp_send_reset" => continue,
                _ => port_filter(ports, false),
            };
            let path = self.instance.path(&format!("{}/filter", event_dir(tp)));
            fs::write(&path, &filter).map_err(|err| match err.raw_os_error() {
                Some(libc::EACCES | libc::EPERM) => TracefsError::NotPermitted { path: path.clone() },
                _ => TracefsError::FilterRejected { path: path.clone(), filter, err },
            })?;
        }
        Ok(())
    }

    fn shutdown(&mut self) -> TracerStats {
        let mut stats = TracerStats::default();
        if self.stopped {
            return stats;
        }
        self.stopped = true;
        // No new events, then one last drain: nothing recorded before this point is lost.
        for tp in TRACEPOINTS {
            if let Err(err) = self.instance.write(&format!("{}/enable", event_dir(tp)), "0", "disable a tracepoint") {
                stats.problems.push(err.to_string());
            }
        }
        match self.stop.raise() {
            Ok(()) => {
                for reader in self.readers.drain(..) {
                    match reader.join() {
                        Ok(r) => {
                            stats.events += r.events;
                            stats.skipped += r.skipped;
                            stats.malformed += r.malformed;
                            stats.lost += r.missed;
                            stats.reader_cpu_ns += r.cpu_ns;
                            stats.problems.extend(r.error);
                        }
                        Err(_) => stats.problems.push("a tracefs reader thread panicked".to_string()),
                    }
                }
            }
            // The readers cannot be woken; they stay blocked, and so does the instance.
            Err(err) => stats.problems.push(format!("could not wake the tracefs readers: {err}")),
        }
        // The kernel's own count covers what the pages report, and what no page did.
        let mut counted = 0;
        for cpu in &self.cpus {
            match self.instance.read(&format!("per_cpu/cpu{cpu}/stats"), "read a CPU's ring-buffer stats") {
                Ok(text) => counted += lost_in_cpu_stats(&text),
                Err(err) => stats.problems.push(err.to_string()),
            }
        }
        stats.lost = stats.lost.max(counted);
        if let Err(err) = self.instance.remove() {
            stats.problems.push(err.to_string());
        }
        stats
    }
}

/// A tracer ready to start: see [`StateTracer::prepare`].
pub struct Prepared {
    root: PathBuf,
    layout: PageLayout,
    decoder: Arc<Decoder>,
    cpus: Vec<u32>,
    hosts: Arc<[IpAddr]>,
}

impl Prepared {
    /// Starts tracing the sockets on `ports` in an instance of its own; events go to `sink`.
    pub fn start(self, ports: &[u16], sink: Sender<Vec<Event>>) -> Result<StateTracer, TracefsError> {
        let Prepared { root, layout, decoder, cpus, hosts } = self;
        let mut tracer = StateTracer {
            instance: Instance::create(&root)?,
            ports: Arc::new(PortSet::new(ports)),
            stop: Arc::new(StopSignal::new()?),
            readers: Vec::new(),
            progress: Vec::new(),
            cpus,
            stopped: false,
        };
        // From here on an early return drops `tracer`, which stops and removes what exists.
        let i = &tracer.instance;
        i.write("trace_clock", "mono", "put the instance on the mono (CLOCK_MONOTONIC) trace clock")?;
        // `buffer_size_kb` reads `1410`, or `7 (expanded: 1408)` before the buffer is first used.
        let size = i.read("buffer_size_kb", "read the size of the instance's ring buffers")?;
        let kb = size.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse::<u64>().ok()).max().unwrap_or(0);
        if kb < MIN_BUFFER_KB_PER_CPU {
            i.write("buffer_size_kb", &MIN_BUFFER_KB_PER_CPU.to_string(), "size the instance's ring buffers")?;
        }
        // Without this, poll waits until a buffer is half full (the default of 50).
        if i.path("buffer_percent").exists() {
            i.write("buffer_percent", "0", "make readers wake on the first event")?;
        }
        let page_size = match i.read("buffer_subbuf_size_kb", "read the ring-buffer page size") {
            Ok(kb) => kb.trim().parse::<usize>().map_or(page_size(), |kb| kb * 1024),
            // Kernels before 6.8 have no such file: their pages are the memory page size.
            Err(_) => page_size(),
        };
        tracer.write_filters(ports)?;
        for tp in TRACEPOINTS {
            tracer.instance.write(&format!("{}/enable", event_dir(tp)), "1", "enable a tracepoint")?;
        }
        let shared = Shared { layout, page_size, decoder, ports: tracer.ports.clone(), hosts, stop: tracer.stop.clone(), sink };
        for cpu in tracer.cpus.clone() {
            let pipe = tracer.instance.path(&format!("per_cpu/cpu{cpu}/trace_pipe_raw"));
            let progress = Progress::default();
            tracer.readers.push(reader::spawn(cpu, &pipe, shared.clone(), progress.clone())?);
            tracer.progress.push(progress);
        }
        Ok(tracer)
    }
}

impl Drop for StateTracer {
    fn drop(&mut self) {
        for problem in self.shutdown().problems {
            eprintln!("socktrace: {problem}");
        }
    }
}

/// The binary page layout, from `events/header_page`.
fn page_layout(root: &Path) -> Result<PageLayout, TracefsError> {
    let path = root.join("events/header_page");
    let text = read_whole(&path).map_err(|err| TracefsError::io("read the ring-buffer page format", &path, err))?;
    PageLayout::from_header_page(&text).map_err(|err| TracefsError::Format { name: "events/header_page", err })
}

/// The decoder for this kernel's record layouts, refusing a tracepoint that is absent. The
/// layouts are the kernel's, the same in every instance.
fn decoder(root: &Path) -> Result<Decoder, TracefsError> {
    let [a, b, c, d] = TRACEPOINTS.map(|tp| read_format(root, tp));
    Decoder::new(&[a?, b?, c?, d?]).map_err(|(i, err)| TracefsError::Format { name: TRACEPOINTS[i], err })
}

fn read_format(root: &Path, tracepoint: &'static str) -> Result<Format, TracefsError> {
    let path = root.join(format!("{}/format", event_dir(tracepoint)));
    if !path.exists() {
        return Err(TracefsError::TracepointMissing { name: tracepoint });
    }
    let text = read_whole(&path).map_err(|err| TracefsError::io("read a tracepoint format", &path, err))?;
    Format::parse(&text).map_err(|err| TracefsError::Format { name: tracepoint, err })
}

fn page_size() -> usize {
    let n = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten();
    n.and_then(|n| usize::try_from(n).ok()).unwrap_or(4096)
}
