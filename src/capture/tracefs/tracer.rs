//! [`StateTracer`]: the kernel-state lens from start to stop.

use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::decode::{event_dir, Decoder, TRACEPOINTS};
use super::error::TracefsError;
use super::format::Format;
use super::perf::{self, Ring};
use super::ports::{port_filter, PortSet};
use super::reader::{self, ReaderStats, Shared, StopSignal};
use super::stats::TracerStats;
use super::{cpus, mount};
use crate::capture::progress::Progress;
use crate::capture::release;
use crate::event::Event;

/// The ring of each CPU, in pages (a power of two): 2 MiB with 4 KiB pages. At 200k events/s
/// (16k connections/s, ~10 state events each, 104 bytes a sample) two CPUs fill 10.4 MB/s
/// each; 2 MiB holds 200 ms of that, fifty progress ticks, for a reader kept off its CPU by
/// the load it traces.
const RING_PAGES: usize = 512;

/// The state filter of a tracer with no port yet: the changes of listening sockets only (a
/// listener has no remote port, and few sockets on a machine listen), which the reader keeps
/// once it is told their port ([`StateTracer::follow`]).
pub const LISTENERS: &str = "protocol == 6 && dport == 0";

/// `tcp:tcp_send_reset`, whose event on each CPU owns that CPU's ring: it has no port filter
/// (its addresses are sockaddr arrays a filter cannot look into: [`PortSet`] does it), so it
/// is never replaced.
const OWNER: usize = 1;

/// Traces the TCP state changes, resets and retransmissions of the sockets on a set of ports,
/// with a perf event per tracepoint and CPU, and sends them as batches of [`Event`]s.
///
/// Each batch holds one CPU's events in time order; batches of different CPUs interleave, so a
/// consumer merges by `t`. Dropping the tracer (on an error or a panic) lets go of its events
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
    events: Mutex<Events>,
    ids: [u16; 4],
    cpus: Vec<u32>,
    ports: Arc<PortSet>,
    stop: Arc<StopSignal>,
    readers: Vec<JoinHandle<ReaderStats>>,
    progress: Vec<Progress>,
    stopped: bool,
}

/// The open perf events, by tracepoint ([`TRACEPOINTS`] order), one per CPU each.
#[derive(Default)]
struct Events {
    by_tracepoint: [Vec<OwnedFd>; 4],
    /// The hits counted by events closed when their filters were replaced.
    retired: u64,
    /// What went wrong replacing them, for the account.
    problems: Vec<String>,
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

    /// Learns what a start needs without opening anything: tracefs is there and readable, and
    /// this kernel has the tracepoints, in layouts we can read. `trace run` knows up front
    /// whether the lens can run, and starts it only once there is a port.
    pub fn prepare(hosts: &[IpAddr]) -> Result<Prepared, TracefsError> {
        let root = mount::tracefs_root()?;
        let [a, b, c, d] = TRACEPOINTS.map(|tp| read_format(&root, tp));
        let formats = [a?, b?, c?, d?];
        let ids = [0, 1, 2, 3].map(|i| formats[i].id);
        let decoder = Decoder::new(&formats).map_err(|(i, err)| TracefsError::Format { name: TRACEPOINTS[i], err })?;
        Ok(Prepared { decoder: Arc::new(decoder), ids, cpus: cpus::online()?, hosts: Arc::from(hosts) })
    }

    /// How far every CPU's ring has been delivered: the slowest CPU's mark.
    pub fn progress(&self) -> u64 {
        self.progress.iter().map(Progress::get).min().unwrap_or(u64::MAX)
    }

    /// Traces the sockets on `ports` from now on, instead of the previous ones. Events of a
    /// port taken out that are still in the rings are left out too.
    ///
    /// A perf event's filter is set once: the filtered events are replaced by new ones on the
    /// new filters (0.1 ms). The new ones are on before the old ones are off, so that no hit
    /// falls between them; a hit both let through is written twice, and the reader drops the
    /// second copy. An old event switched off while writing such a copy has counted the hit
    /// but never writes it: the account then says lost what the new event kept (a few in
    /// 20,000 replacements made back to back under load; over-reported, never hidden).
    pub fn set_ports(&self, ports: &[u16]) -> Result<(), TracefsError> {
        self.follow(ports);
        let mut events = lock(&self.events);
        let mut result = Ok(());
        let mut old = Vec::new();
        for tp in filtered() {
            match open_filtered(&self.ids, &self.cpus, tp, ports, &events.by_tracepoint[OWNER]) {
                Ok(new) => old.push(std::mem::replace(&mut events.by_tracepoint[tp], new)),
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        // Each closes in microseconds: its tracepoint stays held by the new events.
        for event in old.into_iter().flatten() {
            match perf::disable(event.as_fd()).and_then(|()| perf::count(event.as_fd())) {
                Ok(n) => events.retired += n,
                Err(err) => events.problems.push(format!("could not count a replaced perf event's hits: {err}")),
            }
        }
        result
    }

    /// Keeps the events of `ports` from now on, at once, in the reader only; the kernel's
    /// filters stay as they are until [`set_ports`](Self::set_ports). A tracer started with no
    /// port lets every listening socket's changes through (see [`LISTENERS`]), so this is
    /// enough to see a server's LISTEN (`trace echo` calls it between `bind` and `listen`,
    /// where even a short wait would show as a pause of the server's).
    pub fn follow(&self, ports: &[u16]) {
        self.ports.replace(ports);
    }

    /// Stops tracing, delivers every event recorded so far, lets go of the perf events and
    /// accounts for what was delivered and lost.
    pub fn stop(mut self) -> TracerStats {
        self.shutdown()
    }

    fn shutdown(&mut self) -> TracerStats {
        let mut stats = TracerStats::default();
        if self.stopped {
            return stats;
        }
        self.stopped = true;
        let mut events = std::mem::take(&mut *lock(&self.events));
        stats.problems.append(&mut events.problems);
        // No new samples, then one last drain: nothing recorded before this point is lost.
        for event in events.by_tracepoint.iter().flatten() {
            if let Err(err) = perf::disable(event.as_fd()) {
                stats.problems.push(format!("could not disable a perf event: {err}"));
            }
        }
        let mut samples = 0;
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
                            samples += r.samples;
                        }
                        Err(_) => stats.problems.push("a kernel-state reader thread panicked".to_string()),
                    }
                }
            }
            // The readers cannot be woken; they stay blocked, and so do their rings.
            Err(err) => stats.problems.push(format!("could not wake the kernel-state readers: {err}")),
        }
        // The events' own counts cover what the rings reported lost, and what no ring did
        // (a loss at the very end, before any sample could say so).
        let mut counted = events.retired;
        for event in events.by_tracepoint.iter().flatten() {
            match perf::count(event.as_fd()) {
                Ok(n) => counted += n,
                Err(err) => stats.problems.push(format!("could not count a perf event's hits: {err}")),
            }
        }
        stats.lost = stats.lost.max(counted.saturating_sub(samples));
        // Closing the last event of a tracepoint waits for the kernel (25–45 ms a tracepoint).
        if !release::in_a_child() {
            hold_tracepoints(&self.ids, self.cpus.first().copied().unwrap_or(0));
        }
        release::let_go_of_events(events.by_tracepoint.into_iter().flatten().collect());
        stats
    }
}

/// A tracer ready to start: see [`StateTracer::prepare`].
pub struct Prepared {
    decoder: Arc<Decoder>,
    ids: [u16; 4],
    cpus: Vec<u32>,
    hosts: Arc<[IpAddr]>,
}

impl Prepared {
    /// Starts tracing the sockets on `ports` with perf events of its own; events go to `sink`.
    pub fn start(self, ports: &[u16], sink: Sender<Vec<Event>>) -> Result<StateTracer, TracefsError> {
        let Prepared { decoder, ids, cpus, hosts } = self;
        let mut tracer = StateTracer {
            events: Mutex::new(Events::default()),
            ids,
            cpus,
            ports: Arc::new(PortSet::new(ports)),
            stop: Arc::new(StopSignal::new()?),
            readers: Vec::new(),
            progress: Vec::new(),
            stopped: false,
        };
        // From here on an early return drops `tracer`, which lets go of what is open.
        let shared = Shared { decoder, ports: tracer.ports.clone(), hosts, stop: tracer.stop.clone(), sink };
        let owner_tp = TRACEPOINTS[OWNER];
        let events = tracer.events.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut rings = Vec::with_capacity(tracer.cpus.len());
        for &cpu in &tracer.cpus {
            let owner = perf::open(ids[OWNER], cpu).map_err(|err| TracefsError::perf("open a perf event", owner_tp, err))?;
            let ring = Ring::map(owner.as_fd(), RING_PAGES, page_size());
            events.by_tracepoint[OWNER].push(owner);
            rings.push(ring.map_err(|err| TracefsError::perf("map a CPU's ring", owner_tp, err))?);
        }
        for tp in filtered() {
            events.by_tracepoint[tp] = open_filtered(&ids, &tracer.cpus, tp, ports, &events.by_tracepoint[OWNER])?;
        }
        for ((&cpu, ring), owner) in tracer.cpus.iter().zip(rings).zip(&events.by_tracepoint[OWNER]) {
            perf::enable(owner.as_fd()).map_err(|err| TracefsError::perf("enable a perf event", owner_tp, err))?;
            let progress = Progress::default();
            tracer.readers.push(reader::spawn(cpu, ring, shared.clone(), progress.clone())?);
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

/// The tracepoints whose events are filtered on the session's ports, and replaced with them.
fn filtered() -> impl Iterator<Item = usize> {
    (0..TRACEPOINTS.len()).filter(|&tp| tp != OWNER)
}

/// Opens tracepoint `tp`'s events on every CPU, filtered on `ports`, writing into the rings of
/// `owners` (one per CPU), and turns them on.
fn open_filtered(ids: &[u16; 4], cpus: &[u32], tp: usize, ports: &[u16], owners: &[OwnedFd]) -> Result<Vec<OwnedFd>, TracefsError> {
    let filter = match TRACEPOINTS[tp] {
        "sock:inet_sock_set_state" if ports.is_empty() => Some(LISTENERS.to_string()),
        "sock:inet_sock_set_state" => port_filter(ports, true),
        _ => port_filter(ports, false),
    };
    let mut opened = Vec::with_capacity(cpus.len());
    for (&cpu, owner) in cpus.iter().zip(owners) {
        let event = perf::open(ids[tp], cpu).map_err(|err| TracefsError::perf("open a perf event", TRACEPOINTS[tp], err))?;
        if let Some(filter) = &filter {
            perf::set_filter(event.as_fd(), filter).map_err(|err| match err.raw_os_error() {
                Some(libc::EACCES | libc::EPERM) => TracefsError::perf("set a filter", TRACEPOINTS[tp], err),
                _ => TracefsError::FilterRejected { tracepoint: TRACEPOINTS[tp], filter: filter.clone(), err },
            })?;
        }
        perf::set_output(event.as_fd(), owner.as_fd()).map_err(|err| TracefsError::perf("share a CPU's ring", TRACEPOINTS[tp], err))?;
        opened.push(event);
    }
    for event in &opened {
        perf::enable(event.as_fd()).map_err(|err| TracefsError::perf("enable a perf event", TRACEPOINTS[tp], err))?;
    }
    Ok(opened)
}

/// One disabled event per tracepoint, held by a process that lets go of its sessions' events in
/// place (`trace grade`, library users) for as long as it runs. The last close of a
/// tracepoint's events waits for a grace period under the kernel's `event_mutex` (95–130 ms
/// for the four); with these held, a session's close takes microseconds, and the process's
/// exit waits once for all of them. A disabled event records nothing.
static HELD: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

/// Makes sure this process holds the tracepoints (see [`HELD`]); without them, a close only
/// waits.
fn hold_tracepoints(ids: &[u16; 4], cpu: u32) {
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    if held.len() < ids.len() {
        *held = ids.iter().filter_map(|&id| perf::open(id, cpu).ok()).collect();
    }
}

/// Locks the events, also after a panic elsewhere: they are still let go of.
fn lock(events: &Mutex<Events>) -> MutexGuard<'_, Events> {
    events.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A tracepoint's format, refusing a tracepoint that is absent. The layouts are the kernel's.
fn read_format(root: &Path, tracepoint: &'static str) -> Result<Format, TracefsError> {
    let path = root.join(format!("{}/format", event_dir(tracepoint)));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(TracefsError::TracepointMissing { name: tracepoint }),
        Err(err) => return Err(TracefsError::io("read a tracepoint format", &path, err)),
    };
    Format::parse(&text).map_err(|err| TracefsError::Format { name: tracepoint, err })
}

fn page_size() -> usize {
    let n = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten();
    n.and_then(|n| usize::try_from(n).ok()).unwrap_or(4096)
}
