//! Without the privileges for packets and kernel states, a session of our own programs is
//! told by the RFC 9293 model instead (unless it is live or nothing): the same story, its
//! first line saying so and why.

use super::p2p::PeerPlan;
use super::programs::{Mode, Plan};
use crate::sim::{self, UnknownScenario};
use crate::trace::Trace;

/// The model's telling of a session that could not run live.
#[derive(Clone, Debug)]
pub struct Simulation {
    /// What is shown instead, and why: the line before the timeline.
    pub first_line: String,
    pub scenario: &'static str,
    pub messages: Vec<String>,
}

impl Simulation {
    /// `trace echo`'s session, which lacked `reasons`.
    pub fn of_echo(plan: &Plan, reasons: &[String]) -> Simulation {
        let many = if matches!(plan.mode, Mode::Both { clients } if clients > 1) { " (the model runs one client)" } else { "" };
        let lead = format!("trace echo: showing the RFC 9293 model's simulation of this session{many}");
        Simulation::new(&lead, plan.scenario(), &plan.messages, reasons)
    }

    /// `trace p2p`'s session, which lacked `reasons`.
    pub fn of_peers(plan: &PeerPlan, reasons: &[String]) -> Simulation {
        let lead = "trace p2p: showing the RFC 9293 model's simulation of the two peers (trace simulate p2p)";
        Simulation::new(lead, "p2p", &plan.messages, reasons)
    }

    fn new(lead: &str, scenario: &'static str, messages: &[String], reasons: &[String]) -> Simulation {
        let first_line = format!("{lead}, not a live trace: {} (or use --live for live or nothing)", reasons.join("; "));
        Simulation { first_line, scenario, messages: messages.to_vec() }
    }

    /// The model's trace of the session, recorded for `command`.
    pub fn trace(&self, command: &str) -> Result<Trace, UnknownScenario> {
        let options = sim::Options { messages: self.messages.clone(), ..sim::Options::default() };
        sim::trace(self.scenario, &options, command)
    }
}
