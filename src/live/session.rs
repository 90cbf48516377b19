//! Runs a live session and drives the timeline: merge, render, save, as events happen.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;

use super::drive::{drive, Reorder};
use super::error::LiveError;
use super::hosts::{how_to_connect, on_server, Runtime, SignalsHeld};
use super::lenses::{KernelLenses, Losses};
use super::programs::{self, Mode, Plan, Program, Story};
use super::sink::{Output, Sink};
use crate::capture::dropper::Dropper;
use crate::echo::Recorder;
use crate::event::{Event, Role};
use crate::netns::Hosts;
use crate::timeline::{Sides, SocketResolver, Timeline};
use crate::trace::{End, Header, LensStatus, Source};

/// What a finished session reports besides its trace.
pub struct Report {
    pub end: End,
    /// Lenses that could not run, with the reason and remedy.
    pub unavailable: Vec<String>,
    /// A program that failed (e.g. connect refused): part of the story, reported after it.
    pub program_error: Option<String>,
    pub interrupted: bool,
}

/// Runs the session of `plan`; `serving` is told, once a server of `--serve` listens, how
/// another client reaches it (one line, for the user).
pub fn run(plan: &Plan, command: &str, output: Output, serving: impl FnOnce(&str)) -> Result<Report, LiveError> {
    // Ctrl-C waits until the session listens for it (below): until then it would end the
    // process at once, leaving the separate hosts behind.
    let held = SignalsHeld::hold();
    // Separate hosts first, so that the runtime's threads start on the client's; dropping
    // `hosts` removes them, on every way out of this function.
    let hosts = if plan.hosts { Some(Hosts::create().map_err(LiveError::Hosts)?) } else { None };
    let runtime = Runtime::new(hosts.as_ref()).map_err(LiveError::Runtime)?;
    let rt = &runtime.rt;
    let (tx, rx) = mpsc::channel::<Vec<Event>>();
    let _enter = rt.enter();
    let stop = Stop::on_signal();
    drop(held);

    // The lenses start before any traced call, on the ports known by then (none, when the
    // server is to bind port 0): starting them takes ~100 ms of the kernel's time, which
    // between the server's `bind` and `listen` the student would take for TCP's. Between the
    // two they only follow the port where that takes microseconds (`PortControl::follow`).
    let refused = plan.story == Story::Refused;
    // Held until the session ends, so that the refusing port stays ours.
    let reserved = if refused { Some(on_server(hosts.as_ref(), || programs::reserve_refusing_port(plan)).map_err(LiveError::Server)?) } else { None };
    // The server's address where it is known before the server binds: our client's server,
    // or the refusing port.
    let known = match (&plan.mode, &reserved) {
        (Mode::Connect { server }, _) => Some(*server),
        (_, Some((_, addr))) => Some(*addr),
        (_, None) => None,
    };
    let ports: Vec<u16> = known.iter().map(SocketAddr::port).collect();
    let lenses = start_lenses(&ports, hosts.as_ref(), plan.udp, &tx, plan.live_only)?;
    let mut unavailable = lenses.unavailable.clone();

    let server_rec = Recorder::new(Role::Server, tx.clone());
    let client_rec = server_rec.peer(Role::Client);
    let bound = match plan.mode {
        Mode::Both { .. } | Mode::Serve { .. } if !refused => {
            Some(on_server(hosts.as_ref(), || programs::bind_server(&server_rec, plan)).map_err(LiveError::Server)?)
        }
        _ => None,
    };
    let control = lenses.port_control(tx.clone());
    let server_addr = match (known, &bound) {
        (Some(addr), _) => addr,
        (None, Some(b)) => {
            // A lens that cannot follow the port leaves the trace without it: said, exit 2.
            unavailable.extend(control.follow(&[b.addr.port()]).err());
            b.addr
        }
        (None, None) => return Err(LiveError::Server(io::Error::other("no server address: --serve cannot refuse"))),
    };

    let mut parts: Vec<Program> = Vec::new();
    if let Some(bound) = bound {
        let connections = match plan.mode {
            Mode::Both { clients } => Some(u64::from(clients)),
            Mode::Serve { connections } => connections,
            Mode::Connect { .. } => None,
        };
        parts.push(bound.serve(plan, connections, stop.stopped()).map_err(LiveError::Server)?);
        // Listening: the kernel's filters follow the port too, before any client runs.
        unavailable.extend(control.set_ports(&[server_addr.port()]).err());
        if matches!(plan.mode, Mode::Serve { .. }) {
            serving(&how_to_connect(server_addr, hosts.as_ref()));
        }
    }
    // Before any client runs, so that the packet to lose is among the first the rule sees; a
    // guard, so that the rule goes with the session however it ends.
    let mut dropper = match plan.drop.map(|lost| Dropper::start(lost, server_addr.port(), plan.ipv6, &tx)).transpose() {
        Ok(dropper) => dropper,
        Err(err) => {
            lenses.stop();
            return Err(LiveError::Drop(err));
        }
    };
    let header = Header::new(command, Source::Live, lenses.status.clone());
    let mut sink = Sink::open(output, &header)?;
    match plan.mode {
        Mode::Both { clients } => parts.push(programs::clients(client_rec.clone(), server_addr, clients, plan.client_options())),
        Mode::Connect { .. } => parts.push(programs::clients(client_rec.clone(), server_addr, 1, plan.client_options())),
        Mode::Serve { .. } => {}
    }
    drop((server_rec, client_rec, control, tx));

    // A refusing port has no socket on the server side to name: its RST is the kernel's own.
    let sides = Sides { client_recorded: !matches!(plan.mode, Mode::Serve { .. }), server_recorded: !matches!(plan.mode, Mode::Connect { .. }) || refused };
    let resolver = SocketResolver::new(vec![server_addr.port()], sides);
    // The model follows the segments: it shadows the sockets only when packets are seen.
    let mut timeline = if header.lenses.packets == LensStatus::Observed {
        Timeline::with_shadow(resolver, header.lenses.states == LensStatus::Observed)
    } else {
        Timeline::new(resolver)
    }
    .of_namespace(crate::netns::foreign::this_namespace(), header.lenses.packets == LensStatus::Observed);

    let mut drop_problems = Vec::new();
    let (program_result, interrupted, losses) = run_programs(
        rt,
        parts,
        stop,
        (rx, lenses),
        &mut timeline,
        |events, watermark| sink.emit(events, watermark),
        || {
            // The programs are done: nothing more to lose, and the timeline needs its sender gone.
            drop_problems.extend(dropper.take().map(Dropper::stop).unwrap_or_default());
        },
    )?;
    drop(reserved);
    // In the refused story, the refusal is the story, not a failure.
    let program_result = match program_result {
        Err(err) if refused && err.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        other => other,
    };
    unavailable.extend(losses.problems.iter().cloned());
    unavailable.extend(runtime.problem());
    if let Some(hosts) = hosts {
        unavailable.extend(hosts.remove().err().map(|e| e.to_string()));
    }
    unavailable.extend(drop_problems);
    let end = sink.finish(losses.packets_dropped, losses.states_lost, timeline.out_of_order())?;
    Ok(Report { end, unavailable, program_error: program_result.err().map(|e| e.to_string()), interrupted })
}

/// Starts the kernel lenses on `ports` (on the hosts' link, with `--hosts`). A lens without
/// its privilege ends the session before anything was shown or saved (the caller may
/// simulate it instead), unless the plan is `live_only`.
pub(super) fn start_lenses(ports: &[u16], hosts: Option<&Hosts>, udp: bool, tx: &mpsc::Sender<Vec<Event>>, live_only: bool) -> Result<KernelLenses, LiveError> {
    let lenses = KernelLenses::start_on(ports, hosts, udp, tx);
    if !lenses.unavailable.is_empty() && !live_only {
        let reasons = lenses.unavailable.clone();
        lenses.stop();
        return Err(LiveError::Unprivileged(reasons));
    }
    Ok(lenses)
}

/// How a session is stopped before its programs are done: the first SIGINT (Ctrl-C) or
/// SIGTERM raises a flag that the programs (and the session) watch.
pub(super) struct Stop {
    tx: tokio::sync::watch::Sender<bool>,
    rx: tokio::sync::watch::Receiver<bool>,
    signalled: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl Stop {
    /// Listens for the signals from now on; call it in the runtime's context.
    pub(super) fn on_signal() -> Stop {
        let (tx, rx) = tokio::sync::watch::channel(false);
        Stop { tx, rx, signalled: Box::pin(on_signal()) }
    }

    /// Resolves once the session is to stop.
    pub(super) fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }
}

/// How long stopped programs have to wind down.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the programs while the timeline is driven, until they are done (or a signal stops
/// them) and every lens has delivered what `rx` carries; `done` is called once the programs
/// are. Gives the programs' first error, whether the session was interrupted, and what the
/// lenses lost.
pub(super) fn run_programs(
    rt: &tokio::runtime::Runtime,
    parts: Vec<Program>,
    stop: Stop,
    (rx, lenses): (mpsc::Receiver<Vec<Event>>, KernelLenses),
    timeline: &mut impl Reorder,
    emit: impl FnMut(&[Event], u64) -> Result<(), LiveError>,
    mut done: impl FnMut(),
) -> Result<(io::Result<()>, bool, Losses), LiveError> {
    let stopped = stop.stopped();
    let mut programs = Some(rt.spawn(async move {
        let mut all = std::pin::pin!(run_all(parts));
        tokio::select! {
            // The stop first: the programs watch the same flag and may be done by the time
            // this task runs, and a session they ended because of a signal is interrupted.
            biased;
            () = stopped => {
                // They wind down, closing their sockets (in the trace); one that does not
                // within the grace period is left behind.
                let result = tokio::time::timeout(STOP_GRACE, all).await.unwrap_or(Ok(()));
                (result, true)
            }
            result = &mut all => (result, false),
        }
    }));
    let Stop { tx, signalled, .. } = stop;
    rt.spawn(async move {
        signalled.await;
        let _ = tx.send(true);
    });

    let mut result: Option<(io::Result<()>, bool)> = None;
    let losses = drive(rx, timeline, emit, lenses, || {
        if let Some(handle) = programs.take_if(|h| h.is_finished()) {
            result = Some(rt.block_on(handle).unwrap_or_else(|join| (Err(io::Error::other(join)), false)));
            done();
        }
        result.is_some()
    })?;
    let (program_result, interrupted) = result.unwrap_or((Ok(()), true));
    Ok((program_result, interrupted, losses))
}

/// Runs every program to its end; the first error is reported once all have finished.
pub(super) async fn run_all(parts: Vec<Program>) -> io::Result<()> {
    let mut set = tokio::task::JoinSet::new();
    for part in parts {
        set.spawn(part);
    }
    let mut first_error = None;
    while let Some(done) = set.join_next().await {
        let result = done.unwrap_or_else(|join| Err(io::Error::other(join)));
        if let Err(err) = result {
            first_error.get_or_insert(err);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from now on (in the runtime's context); the
/// future resolves on the first.
fn on_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let listening = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
    async move {
        let (Ok(mut int), Ok(mut term)) = listening else {
            // Without signal handling the session still ends when its programs do.
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}
