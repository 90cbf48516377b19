//! Starts the kernel lenses of a session and stops them: each one that cannot run is
//! reported with its reason and remedy, and the session goes on with the others.
//!
//! A lens's start and stop wait on the kernel (the packet ring's setup, 11–14 ms; the state
//! lens's perf events open in 0.3 ms), so the two are started side by side and stopped side by
//! side; the RCU grace periods of their close are left to a child process where the command
//! allows (`capture::release`). `trace run` learns its ports only as its
//! programs bind and connect: its lenses are [armed](KernelLenses::armed), and start with the
//! first port, so that a program that never gets one pays for neither.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::capture::clock;
use crate::capture::packets::{packet_event, CaptureError, Loopback, PacketBatch, PacketCapture};
use crate::capture::tracefs::{self, StateTracer, TracefsError};
use crate::event::Event;
use crate::netns::Hosts;
use crate::trace::{LensStatus, Lenses};

/// The lenses, shared with [`PortControl`] (which may change their ports, or start them, from
/// another thread while the session runs); `None` while not running.
struct Running {
    /// What starts the lenses with the session's first port (`trace run`); `None` once
    /// started or stopped.
    armed: Mutex<Option<Armed>>,
    /// When a start in flight began (`u64::MAX`: none): the lenses being started may deliver
    /// events from then on.
    starting: AtomicU64,
    packets: Mutex<Option<PacketCapture>>,
    tracer: Mutex<Option<StateTracer>>,
    /// Armed lenses that failed to start, reported with the session's losses.
    failed: Mutex<Vec<String>>,
}

/// Lenses known to be able to run, not started yet.
struct Armed {
    packets: Option<Loopback>,
    states: Option<tracefs::Prepared>,
}

/// Locks a lens, also after a panic elsewhere: a lens is still stopped and accounted for.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct KernelLenses {
    running: Arc<Running>,
    /// Other sources of events that hold some back (see [`KernelLenses::hold_for`]).
    holds: Vec<Box<dyn Fn() -> u64 + Send>>,
    pub status: Lenses,
    /// One line per lens that could not run: what is missing and how to get it.
    pub unavailable: Vec<String>,
}

/// What the lenses lost, for the trace's end line.
#[derive(Default)]
pub struct Losses {
    pub packets_dropped: u64,
    pub states_lost: u64,
    pub problems: Vec<String>,
}

/// Changes which ports the running lenses follow, from any thread (`trace run` learns the
/// ports of a session as its programs bind and connect). It holds the sender of the lenses
/// it starts: armed lenses hold none, so a session whose programs end without a port (and
/// so drop this handle) sees its channel close at once.
#[derive(Clone)]
pub struct PortControl {
    running: Arc<Running>,
    sink: Sender<Vec<Event>>,
}

impl PortControl {
    /// Follows `ports` from now on: the filters are in place when this returns (armed lenses
    /// are started on them first; one that fails to start is reported with the losses). A
    /// lens that is not running is skipped; a lens that refuses is reported (e.g. too many
    /// ports).
    pub fn set_ports(&self, ports: &[u16]) -> Result<(), String> {
        // Held to the end: a second caller must not find the lenses neither armed nor running.
        let mut armed = lock(&self.running.armed);
        if !ports.is_empty() {
            if let Some(armed) = armed.take() {
                self.running.start(armed, ports, &self.sink);
                return Ok(());
            }
        }
        if let Some(capture) = lock(&self.running.packets).as_mut() {
            capture.set_ports(ports).map_err(|e| format!("packet capture: {e}"))?;
        }
        if let Some(tracer) = lock(&self.running.tracer).as_ref() {
            tracer.set_ports(ports).map_err(|e| format!("kernel states: {e}"))?;
        }
        Ok(())
    }

    /// Follows `ports` from now on where that takes microseconds, for lenses started with no
    /// port: the packet filter, and the state lens's own check (which keeps a server's LISTEN,
    /// the one change its kernel filter lets through until [`set_ports`](Self::set_ports)
    /// narrows it; see [`StateTracer::follow`]). A session calls it between its server's
    /// `bind` and `listen`, where a wait would show as a pause of the server's, and
    /// `set_ports` before its clients run.
    pub fn follow(&self, ports: &[u16]) -> Result<(), String> {
        if let Some(capture) = lock(&self.running.packets).as_mut() {
            capture.set_ports(ports).map_err(|e| format!("packet capture: {e}"))?;
        }
        if let Some(tracer) = lock(&self.running.tracer).as_ref() {
            tracer.follow(ports);
        }
        Ok(())
    }
}

impl Running {
    fn new(armed: Option<Armed>, packets: Option<PacketCapture>, tracer: Option<StateTracer>) -> Running {
        Running {
            armed: Mutex::new(armed),
            starting: AtomicU64::new(u64::MAX),
            packets: Mutex::new(packets),
            tracer: Mutex::new(tracer),
            failed: Mutex::new(Vec::new()),
        }
    }

    /// Starts the armed lenses on `ports`. One that fails is left out and reported at the
    /// end: the ports are still followed by the other.
    fn start(&self, armed: Armed, ports: &[u16], sink: &Sender<Vec<Event>>) {
        self.starting.store(clock::now_ns(), Ordering::SeqCst);
        let Armed { packets, states } = armed;
        let deliver = deliver_to(sink.clone());
        let tx = sink.clone();
        let (packets, tracer) = open_both(packets.map(|lo| move || lo.open(ports, true, deliver)), states.map(|prepared| move || prepared.start(ports, tx)));
        let mut failed = lock(&self.failed);
        *lock(&self.packets) = packets.and_then(|opened| opened.map_err(|e| failed.push(e.to_string())).ok());
        *lock(&self.tracer) = tracer.and_then(|started| started.map_err(|e| failed.push(e.to_string())).ok());
        // The lenses' own marks say how far they have delivered from here on.
        self.starting.store(u64::MAX, Ordering::SeqCst);
    }
}

/// What each lens's opening gave, where one was asked for.
type Opened = (Option<Result<PacketCapture, CaptureError>>, Option<Result<StateTracer, TracefsError>>);

/// Runs both openings at once (each is given only if its lens can run).
fn open_both(
    packets: Option<impl FnOnce() -> Result<PacketCapture, CaptureError> + Send>,
    states: Option<impl FnOnce() -> Result<StateTracer, TracefsError>>,
) -> Opened {
    std::thread::scope(|scope| {
        let packets = packets.map(|open| scope.spawn(open));
        let states = states.map(|start| start());
        let packets = packets.map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        (packets, states)
    })
}

/// The packet lens's delivery: each batch as events, into the session's channel.
fn deliver_to(tx: Sender<Vec<Event>>) -> impl FnMut(PacketBatch) -> bool + Send + 'static {
    move |batch: PacketBatch| tx.send(batch.into_iter().map(|(t, p)| packet_event(t, p)).collect()).is_ok()
}

/// A lens's status in the header, and its reason for the unavailable list.
fn status_of<T, E: ToString>(lens: &Result<T, E>, unavailable: &mut Vec<String>) -> LensStatus {
    match lens {
        Ok(_) => LensStatus::Observed,
        Err(err) => {
            unavailable.push(err.to_string());
            LensStatus::Unavailable { reason: err.to_string() }
        }
    }
}

impl KernelLenses {
    /// Starts the lenses on the session's `ports` (none yet, for a server about to bind port
    /// 0: see [`PortControl::follow`]); they send what they see to `sink`. With `hosts`, the packets are captured on the server host's link and the kernel
    /// states are those of the two hosts' addresses; with `udp`, the packet lens also takes
    /// UDP datagrams.
    pub fn start_on(ports: &[u16], hosts: Option<&Hosts>, udp: bool, sink: &Sender<Vec<Event>>) -> KernelLenses {
        let deliver = deliver_to(sink.clone());
        let addresses: Vec<IpAddr> = hosts.map_or_else(Vec::new, |h| vec![h.client.addr, h.server.addr]);
        let tx = sink.clone();
        let (packets, tracer) = open_both(
            Some(move || match hosts {
                None => PacketCapture::open(ports, udp, deliver),
                Some(hosts) => hosts.capture_on_server(ports, udp, deliver),
            }),
            Some(|| StateTracer::start_on_hosts(ports, &addresses, tx)),
        );
        let (Some(packets), Some(tracer)) = (packets, tracer) else { unreachable!("both lenses were asked to open") };
        let mut unavailable = Vec::new();
        let status = Lenses { calls: LensStatus::Observed, packets: status_of(&packets, &mut unavailable), states: status_of(&tracer, &mut unavailable) };
        let running = Running::new(None, packets.ok(), tracer.ok());
        KernelLenses { running: Arc::new(running), holds: Vec::new(), status, unavailable }
    }

    /// Lenses that start with the first port given to [`PortControl::set_ports`], the packet
    /// lens taking UDP datagrams as well as TCP segments (`trace run`: a program may use
    /// either): whether
    /// each can run is known now (and reported in the header), what each costs is paid only
    /// if the session has a port to follow.
    pub fn armed() -> KernelLenses {
        let packets = Loopback::find();
        let states = StateTracer::prepare(&[]);
        let mut unavailable = Vec::new();
        let status = Lenses { calls: LensStatus::Observed, packets: status_of(&packets, &mut unavailable), states: status_of(&states, &mut unavailable) };
        let armed = Armed { packets: packets.ok(), states: states.ok() };
        let running = Running::new(Some(armed), None, None);
        KernelLenses { running: Arc::new(running), holds: Vec::new(), status, unavailable }
    }

    /// A handle that changes the lenses' ports while the session runs; the lenses it starts
    /// send what they see to `sink`.
    pub fn port_control(&self, sink: Sender<Vec<Event>>) -> PortControl {
        PortControl { running: self.running.clone(), sink }
    }

    /// Also waits for another source of events that holds some back: `oldest` says the time
    /// of the oldest event it still holds (`u64::MAX` for none), and nothing later is
    /// released before it.
    pub fn hold_for(&mut self, oldest: impl Fn() -> u64 + Send + 'static) {
        self.holds.push(Box::new(oldest));
    }

    /// How far every running lens has delivered: the timeline releases events up to here.
    pub fn progress(&self) -> u64 {
        // Read first: a start that ends meanwhile leaves lenses whose own marks are read below.
        let starting = self.running.starting.load(Ordering::SeqCst);
        let packets = lock(&self.running.packets).as_ref().map_or(u64::MAX, |p| p.progress().get());
        let states = lock(&self.running.tracer).as_ref().map_or(u64::MAX, StateTracer::progress);
        let held = self.holds.iter().map(|oldest| oldest()).min().unwrap_or(u64::MAX);
        starting.min(packets).min(states).min(held)
    }

    /// Whether any lens runs (or is starting), and so may still deliver events.
    pub fn any_running(&self) -> bool {
        self.running.starting.load(Ordering::SeqCst) != u64::MAX || lock(&self.running.packets).is_some() || self.follows_states()
    }

    /// Whether the kernel-state lens runs: the session's sockets are seen to close.
    pub fn follows_states(&self) -> bool {
        lock(&self.running.tracer).is_some()
    }

    /// Stops every lens after it has delivered all it saw. A lens that failed while running
    /// is reported, with what it lost, rather than hidden.
    pub fn stop(self) -> Losses {
        // A stopped session starts no lens.
        drop(lock(&self.running.armed).take());
        let packets = lock(&self.running.packets).take();
        let tracer = lock(&self.running.tracer).take();
        let (packets, tracer) = std::thread::scope(|scope| {
            let packets = packets.map(|capture| scope.spawn(|| capture.stop()));
            let tracer = tracer.map(StateTracer::stop);
            (packets.map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))), tracer)
        });
        let mut problems = std::mem::take(&mut *lock(&self.running.failed));
        let packets_dropped = match packets {
            Some(Ok(stats)) => stats.kernel_drops,
            Some(Err(err)) => {
                problems.push(format!("packet capture: {err}"));
                0
            }
            None => 0,
        };
        let states_lost = match tracer {
            Some(stats) => {
                problems.extend(stats.problems.iter().map(|p| format!("kernel states: {p}")));
                stats.lost
            }
            None => 0,
        };
        Losses { packets_dropped, states_lost, problems }
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use crate::capture::privilege::live_test_allowed;
    use std::net::{TcpListener, TcpStream};

    #[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
    #[test]
    fn armed__start_with_the_first_port__see_its_connection() {
        if !live_test_allowed("armed__start_with_the_first_port__see_its_connection") {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let lenses = KernelLenses::armed();
        assert_eq!(lenses.unavailable, Vec::<String>::new());
        let control = lenses.port_control(tx);
        control.set_ports(&[]).expect("no port: nothing to start");
        assert!(!lenses.any_running(), "nothing runs before a port");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        control.set_ports(&[listener.local_addr().expect("address").port()]).expect("the lenses start");
        assert!(lenses.any_running() && lenses.follows_states());
        drop(TcpStream::connect(listener.local_addr().expect("address")).expect("connect"));
        let losses = lenses.stop();
        assert_eq!((losses.packets_dropped, losses.states_lost, losses.problems), (0, 0, Vec::<String>::new()));
        drop(control);
        // Every sender is gone: the channel ends.
        let events: Vec<Event> = rx.iter().flatten().collect();
        assert!(events.iter().any(|e| e.segment().is_some_and(|t| t.flags.to_string() == "SYN")), "the SYN: {events:?}");
        assert!(events.iter().any(|e| e.enters(crate::tcp::State::SynSent)), "SYN-SENT: {events:?}");
    }
}
