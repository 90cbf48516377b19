//! Starts the kernel lenses of a session and stops them: each one that cannot run is
//! reported with its reason and remedy, and the session goes on with the others.

use std::sync::mpsc::Sender;

use crate::capture::tracefs::StateTracer;
use crate::event::Event;
use crate::trace::{LensStatus, Lenses};

pub struct KernelLenses {
    tracer: Option<StateTracer>,
    pub status: Lenses,
    /// One line per lens that could not run: what is missing and how to get it.
    pub unavailable: Vec<String>,
}

/// What the lenses lost, for the trace's end line.
pub struct Losses {
    pub packets_dropped: u64,
    pub states_lost: u64,
}

impl KernelLenses {
    /// Starts the lenses on the session's `ports`; they send what they see to `sink`.
    pub fn start(ports: &[u16], sink: &Sender<Vec<Event>>) -> KernelLenses {
        let mut unavailable = Vec::new();
        let (tracer, states) = match StateTracer::start(ports, sink.clone()) {
            Ok(tracer) => (Some(tracer), LensStatus::Observed),
            Err(err) => {
                unavailable.push(err.to_string());
                (None, LensStatus::Unavailable { reason: err.to_string() })
            }
        };
        let status = Lenses { calls: LensStatus::Observed, packets: LensStatus::Unavailable { reason: String::new() }, states };
        KernelLenses { tracer, status, unavailable }
    }

    /// Stops every lens after it has delivered all it saw.
    pub fn stop(self) -> Losses {
        let states_lost = self.tracer.map_or(0, |t| t.stop().lost);
        Losses { packets_dropped: 0, states_lost }
    }
}
