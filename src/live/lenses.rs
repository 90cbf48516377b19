//! Starts the kernel lenses of a session and stops them: each one that cannot run is
//! reported with its reason and remedy, and the session goes on with the others.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::capture::packets::{packet_event, PacketCapture};
use crate::capture::progress::Progress;
use crate::capture::tracefs::StateTracer;
use crate::event::Event;
use crate::netns::Hosts;
use std::net::IpAddr;
use crate::trace::{LensStatus, Lenses};

/// The running lenses, shared with [`PortControl`] (which may change their ports from another
/// thread while the session runs); `None` once stopped.
#[derive(Default)]
struct Running {
    packets: Mutex<Option<PacketCapture>>,
    tracer: Mutex<Option<StateTracer>>,
}

/// Locks a lens, also after a panic elsewhere: a lens is still stopped and accounted for.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct KernelLenses {
    running: Arc<Running>,
    packet_progress: Option<Progress>,
    /// Other sources of events that hold some back (see [`KernelLenses::hold_for`]).
    holds: Vec<Box<dyn Fn() -> u64 + Send>>,
    pub status: Lenses,
    /// One line per lens that could not run: what is missing and how to get it.
    pub unavailable: Vec<String>,
}

/// What the lenses lost, for the trace's end line.
pub struct Losses {
    pub packets_dropped: u64,
    pub states_lost: u64,
    pub problems: Vec<String>,
}

/// Changes which ports the running lenses follow, from any thread (`trace run` learns the
/// ports of a session as its programs bind and connect).
#[derive(Clone)]
pub struct PortControl(Arc<Running>);

impl PortControl {
    /// Follows `ports` from now on: the filters are in place when this returns. A lens that
    /// is not running is skipped; a lens that refuses is reported (e.g. too many ports).
    pub fn set_ports(&self, ports: &[u16]) -> Result<(), String> {
        if let Some(capture) = lock(&self.0.packets).as_mut() {
            capture.set_ports(ports).map_err(|e| format!("packet capture: {e}"))?;
        }
        if let Some(tracer) = lock(&self.0.tracer).as_ref() {
            tracer.set_ports(ports).map_err(|e| format!("kernel states: {e}"))?;
        }
        Ok(())
    }
}

impl KernelLenses {
    /// Starts the lenses on the session's `ports`; they send what they see to `sink`.
    pub fn start(ports: &[u16], sink: &Sender<Vec<Event>>) -> KernelLenses {
        KernelLenses::start_on(ports, None, false, sink)
    }

    /// Like [`start`](Self::start); with `hosts`, the packets are captured on the server
    /// host's link and the kernel states are those of the two hosts' addresses; with `udp`,
    /// the packet lens also takes UDP datagrams.
    pub fn start_on(ports: &[u16], hosts: Option<&Hosts>, udp: bool, sink: &Sender<Vec<Event>>) -> KernelLenses {
        let mut unavailable = Vec::new();
        let tx = sink.clone();
        let deliver = move |batch: Vec<(u64, crate::event::Packet)>| tx.send(batch.into_iter().map(|(t, p)| packet_event(t, p)).collect()).is_ok();
        let opened = match hosts {
            None => PacketCapture::open(ports, udp, deliver),
            Some(hosts) => hosts.capture_on_server(ports, udp, deliver),
        };
        let (packets, packet_status) = match opened {
            Ok(capture) => (Some(capture), LensStatus::Observed),
            Err(err) => {
                unavailable.push(err.to_string());
                (None, LensStatus::Unavailable { reason: err.to_string() })
            }
        };
        let addresses: Vec<IpAddr> = hosts.map_or_else(Vec::new, |h| vec![h.client.addr, h.server.addr]);
        let (tracer, states) = match StateTracer::start_on_hosts(ports, &addresses, sink.clone()) {
            Ok(tracer) => (Some(tracer), LensStatus::Observed),
            Err(err) => {
                unavailable.push(err.to_string());
                (None, LensStatus::Unavailable { reason: err.to_string() })
            }
        };
        let status = Lenses { calls: LensStatus::Observed, packets: packet_status, states };
        let packet_progress = packets.as_ref().map(|p| p.progress().clone());
        let running = Arc::new(Running { packets: Mutex::new(packets), tracer: Mutex::new(tracer) });
        KernelLenses { running, packet_progress, holds: Vec::new(), status, unavailable }
    }

    /// A handle that changes the lenses' ports while the session runs.
    pub fn port_control(&self) -> PortControl {
        PortControl(self.running.clone())
    }

    /// Also waits for another source of events that holds some back: `oldest` says the time
    /// of the oldest event it still holds (`u64::MAX` for none), and nothing later is
    /// released before it.
    pub fn hold_for(&mut self, oldest: impl Fn() -> u64 + Send + 'static) {
        self.holds.push(Box::new(oldest));
    }

    /// How far every running lens has delivered: the timeline releases events up to here.
    pub fn progress(&self) -> u64 {
        let packets = self.packet_progress.as_ref().map_or(u64::MAX, Progress::get);
        let states = lock(&self.running.tracer).as_ref().map_or(u64::MAX, StateTracer::progress);
        let held = self.holds.iter().map(|oldest| oldest()).min().unwrap_or(u64::MAX);
        packets.min(states).min(held)
    }

    /// Stops every lens after it has delivered all it saw. A lens that failed while running
    /// is reported, with what it lost, rather than hidden.
    pub fn stop(self) -> Losses {
        let mut problems = Vec::new();
        let packets_dropped = match lock(&self.running.packets).take().map(PacketCapture::stop) {
            Some(Ok(stats)) => stats.kernel_drops,
            Some(Err(err)) => {
                problems.push(format!("packet capture: {err}"));
                0
            }
            None => 0,
        };
        let states_lost = match lock(&self.running.tracer).take().map(StateTracer::stop) {
            Some(stats) => {
                problems.extend(stats.problems.iter().map(|p| format!("kernel states: {p}")));
                stats.lost
            }
            None => 0,
        };
        Losses { packets_dropped, states_lost, problems }
    }
}
