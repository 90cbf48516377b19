//! Starts the kernel lenses of a session and stops them: each one that cannot run is
//! reported with its reason and remedy, and the session goes on with the others.

use std::sync::mpsc::Sender;

use crate::capture::packets::{packet_event, PacketCapture};
use crate::capture::tracefs::StateTracer;
use crate::event::Event;
use crate::trace::{LensStatus, Lenses};

pub struct KernelLenses {
    packets: Option<PacketCapture>,
    tracer: Option<StateTracer>,
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

impl KernelLenses {
    /// Starts the lenses on the session's `ports`; they send what they see to `sink`.
    pub fn start(ports: &[u16], sink: &Sender<Vec<Event>>) -> KernelLenses {
        let mut unavailable = Vec::new();
        let tx = sink.clone();
        let deliver = move |batch: Vec<(u64, crate::event::Packet)>| tx.send(batch.into_iter().map(|(t, p)| packet_event(t, p)).collect()).is_ok();
        let (packets, packet_status) = match PacketCapture::open(ports, false, deliver) {
            Ok(capture) => (Some(capture), LensStatus::Observed),
            Err(err) => {
                unavailable.push(err.to_string());
                (None, LensStatus::Unavailable { reason: err.to_string() })
            }
        };
        let (tracer, states) = match StateTracer::start(ports, sink.clone()) {
            Ok(tracer) => (Some(tracer), LensStatus::Observed),
            Err(err) => {
                unavailable.push(err.to_string());
                (None, LensStatus::Unavailable { reason: err.to_string() })
            }
        };
        let status = Lenses { calls: LensStatus::Observed, packets: packet_status, states };
        KernelLenses { packets, tracer, status, unavailable }
    }

    /// How far every running lens has delivered: the timeline releases events up to here.
    pub fn progress(&self) -> u64 {
        let packets = self.packets.as_ref().map_or(u64::MAX, |p| p.progress().get());
        let states = self.tracer.as_ref().map_or(u64::MAX, StateTracer::progress);
        packets.min(states)
    }

    /// Stops every lens after it has delivered all it saw. A lens that failed while running
    /// is reported, with what it lost, rather than hidden.
    pub fn stop(self) -> Losses {
        let mut problems = Vec::new();
        let packets_dropped = match self.packets.map(PacketCapture::stop) {
            Some(Ok(stats)) => stats.kernel_drops,
            Some(Err(err)) => {
                problems.push(format!("packet capture: {err}"));
                0
            }
            None => 0,
        };
        let states_lost = match self.tracer.map(StateTracer::stop) {
            Some(stats) => {
                problems.extend(stats.problems.iter().map(|p| format!("kernel states: {p}")));
                stats.lost
            }
            None => 0,
        };
        Losses { packets_dropped, states_lost, problems }
    }
}
