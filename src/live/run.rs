//! A live session of any program (`trace run`): the calls lens starts it under ptrace, the
//! kernel lenses follow the ports it binds and connects to as it does, and the timeline
//! merges the three.

use std::fmt;
use std::sync::mpsc;

use super::drive::drive;
use super::error::LiveError;
use super::lenses::KernelLenses;
use super::sink::{Output, Sink};
use crate::capture::ptrace::{self, Launch, Programs, SpawnError, WatchPorts};
use crate::event::Event;
use crate::timeline::{Sides, SocketResolver, Timeline};
use crate::trace::{End, Header, LensStatus, ProgramEnd, Source};

/// What `trace run` runs.
pub struct RunPlan {
    pub programs: Programs,
    /// As whom, where and under which limits the programs run.
    pub launch: Launch,
    /// Stop only at the calls the seccomp filter lists (else at every system call).
    pub seccomp: bool,
}

/// What a finished `trace run` reports besides its trace.
pub struct RunReport {
    /// Lenses that could not run, or failed while running, with the reason and remedy.
    pub unavailable: Vec<String>,
    pub programs: Vec<ProgramEnd>,
}

#[derive(Debug)]
pub enum RunError {
    /// A program could not be started: nothing was traced.
    Start(SpawnError),
    Live(LiveError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Start(err) => err.fmt(f),
            RunError::Live(err) => err.fmt(f),
        }
    }
}

impl From<LiveError> for RunError {
    fn from(err: LiveError) -> RunError {
        RunError::Live(err)
    }
}

pub fn run(plan: RunPlan, command: &str, output: Output) -> Result<RunReport, RunError> {
    let (tx, rx) = mpsc::channel::<Vec<Event>>();
    // No port yet: the lenses start once the programs bind or connect. A traced program may
    // use UDP as well as TCP: the packet lens takes both.
    let mut lenses = KernelLenses::armed();
    let ports = lenses.port_control(tx.clone());
    let watch: WatchPorts = Box::new(move |p: &[u16]| ports.set_ports(p));
    let calls = match ptrace::start(plan.programs, plan.launch, tx.clone(), watch, plan.seccomp) {
        Ok(calls) => calls,
        Err(err) => {
            lenses.stop();
            return Err(RunError::Start(err));
        }
    };
    lenses.hold_for(calls.oldest_held());
    let header = Header::new(command, Source::Live, lenses.status.clone());
    let mut unavailable = lenses.unavailable.clone();
    let mut sink = match Sink::open(output, &header) {
        Ok(sink) => sink,
        Err(err) => {
            // The programs never ran: finishing the tracer without `run` ends them.
            calls.finish();
            lenses.stop();
            return Err(err.into());
        }
    };
    drop(tx);

    // Which sides are traced is learned from the calls: a command may be a server, a
    // client, both, or a shell starting either.
    let resolver = SocketResolver::new(Vec::new(), Sides { client_recorded: true, server_recorded: true }).learning_sides();
    let mut timeline = Timeline::with_shadow(resolver, header.lenses.states == LensStatus::Observed)
        .of_namespace(crate::netns::foreign::this_namespace(), header.lenses.packets == LensStatus::Observed);
    calls.run();
    let losses = drive(rx, &mut timeline, |events, watermark| sink.emit(events, watermark), lenses, || calls.tick())?;
    let outcome = calls.finish();
    unavailable.extend(losses.problems);
    unavailable.extend(outcome.problems);
    let end = End {
        packets_dropped: losses.packets_dropped,
        states_lost: losses.states_lost,
        out_of_order: timeline.out_of_order(),
        programs: outcome.programs.clone(),
        untraced: outcome.untraced.clone(),
        ..End::default()
    };
    sink.finish_with(end)?;
    Ok(RunReport { unavailable, programs: outcome.programs })
}
