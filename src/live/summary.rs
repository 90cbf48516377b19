//! A live summary (`trace echo --summary`): `clients` of our clients at once make
//! `connections` connections in all against our server, each client connecting again as soon
//! as its last connection is done. The kernel lenses watch; each connection becomes one line
//! once both its sockets have closed, and is then forgotten, so that memory stays bounded
//! however many connections there are.
//!
//! The programs record no calls (at thousands of connections a second a record per call would
//! slow them and the timeline): the summary is the kernel's view, packets and states, put in
//! time order by the merger alone.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::error::LiveError;
use super::hosts::Runtime;
use super::programs::{self, Client, Mode, Plan, Program, Story};
use super::request::PlanError;
use super::session::{run_all, run_programs, start_lenses, Stop};
use super::sink::{Output, Screen, Sink};
use crate::echo::client::{run_client, ClientOptions, Ending};
use crate::echo::Recorder;
use crate::event::{Event, Role};
use crate::summary::{Connection, Summary, Totals, TotalsLine, HEADER};
use crate::timeline::Merger;
use crate::trace::{End, Header, LensStatus, Lenses, Source};

/// How the clients end each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// `close()`: FIN, and the client's socket passes through TIME-WAIT.
    Fin,
    /// `SO_LINGER` 0, then `close()`: RST, no TIME-WAIT.
    Rst,
}

/// The load a summary session runs.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Clients at once.
    pub clients: u32,
    /// Connections in all.
    pub connections: u64,
    pub close: Close,
}

impl Load {
    /// The load `plan` runs with `--summary`: `connections` in all, one per client unless
    /// given.
    pub fn for_plan(plan: &Plan, connections: Option<u64>, close: Close) -> Result<Load, PlanError> {
        let Mode::Both { clients } = plan.mode else {
            return Err(PlanError::SummaryNeedsOwnPair);
        };
        if close == Close::Rst && plan.story != Story::Echo {
            return Err(PlanError::RstNeedsEcho(plan.story));
        }
        Ok(Load { clients, connections: connections.unwrap_or(u64::from(clients)), close })
    }
}

/// What a finished summary session reports.
pub struct SummaryReport {
    pub totals: Totals,
    pub end: End,
    /// Connections the clients began (each one `connect()`).
    pub attempted: u64,
    /// From the programs' start to their end.
    pub elapsed: Duration,
    /// The most connections the summary held open at once.
    pub peak_open: usize,
    pub unavailable: Vec<String>,
    pub program_error: Option<String>,
    pub interrupted: bool,
}

impl SummaryReport {
    pub fn connections_per_second(&self) -> f64 {
        self.attempted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Every connection begun was seen, and the kernel lost nothing on the way.
    pub fn is_whole(&self) -> bool {
        self.totals.connections == self.attempted && self.end.packets_dropped == 0 && self.end.states_lost == 0
    }
}

/// Runs the load of `plan` (its server, message and address choices) and `load`, and writes
/// the summary to `out`; `save` streams the full trace (packets and states) to a file.
pub fn run<W: Write>(plan: &Plan, load: &Load, command: &str, out: W, save: Option<PathBuf>) -> Result<SummaryReport, LiveError> {
    let Client::Stream(mut options) = plan.client_options() else {
        return Err(LiveError::Server(io::Error::other("--summary follows TCP connections: leave out --udp")));
    };
    if load.close == Close::Rst {
        options.ending = Ending::Abort;
    }
    let runtime = Runtime::new(None).map_err(LiveError::Runtime)?;
    let rt = &runtime.rt;
    let (tx, rx) = mpsc::channel::<Vec<Event>>();
    let _enter = rt.enter();
    let stop = Stop::on_signal();

    let bound = programs::bind_server(&Recorder::silent(Role::Server), plan).map_err(LiveError::Server)?;
    let server_addr = bound.addr;
    // A summary is the kernel's view: without it there is nothing to summarise.
    let lenses = start_lenses(&[server_addr.port()], None, false, &tx, false)?;
    drop(tx);
    let reason = "not recorded with --summary, which follows the kernel's view only (run without --summary to see the calls)";
    let status = Lenses { calls: LensStatus::Unavailable { reason: reason.to_string() }, ..lenses.status.clone() };
    let header = Header::new(command, Source::Live, status);
    let mut sink = Sink::open(Output { renderer: None, save }, &header)?;
    let mut screen = Screen::new(out);
    screen.show(|out| writeln!(out, "{HEADER}"));

    let attempted = Arc::new(AtomicU64::new(0));
    let (clients_done, clients_done_rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = stop.stopped();
    // The server serves until the clients are done (or the session is interrupted).
    let server = bound
        .serve(plan, None, async move {
            tokio::select! {
                () = stopped => {}
                _ = clients_done_rx => {}
            }
        })
        .map_err(LiveError::Server)?;
    let clients = many_clients(server_addr, load, options, attempted.clone(), &stop);
    let clients: Program = Box::pin(async move {
        let result = clients.await;
        let _ = clients_done.send(()); // the server may already have stopped on a signal
        result
    });

    let mut summary = Summary::default();
    let mut finished: Vec<Connection> = Vec::new();
    let mut peak_open = 0;
    let emit = |events: &[Event], watermark: u64| {
        for event in events {
            summary.observe(event, &mut finished);
            peak_open = peak_open.max(summary.open());
        }
        show(&mut screen, &mut finished);
        sink.emit(events, watermark)
    };
    let started = Instant::now();
    let mut elapsed = Duration::ZERO;
    let (program_result, interrupted, losses) = run_programs(rt, vec![server, clients], stop, (rx, lenses), &mut Merger::default(), emit, || {
        elapsed = started.elapsed();
    })?;
    let totals = summary.finish(&mut finished);
    show(&mut screen, &mut finished);
    let end = sink.finish(losses.packets_dropped, losses.states_lost, 0)?;
    screen.show(|out| writeln!(out, "{}", TotalsLine { totals: &totals, packets_dropped: end.packets_dropped, states_lost: end.states_lost }));
    let mut unavailable = losses.problems;
    unavailable.extend(runtime.problem());
    Ok(SummaryReport {
        totals,
        end,
        attempted: attempted.load(Ordering::Relaxed),
        elapsed,
        peak_open,
        unavailable,
        program_error: program_result.err().map(|e| e.to_string()),
        interrupted,
    })
}

/// One line per finished connection, a batch at a time.
fn show<W: Write>(screen: &mut Screen<W>, finished: &mut Vec<Connection>) {
    if finished.is_empty() {
        return;
    }
    screen.show(|out| finished.iter().try_for_each(|c| writeln!(out, "{c}")));
    finished.clear();
}

/// `load.clients` clients at once, each connecting again as soon as its last connection is
/// done, until `load.connections` have begun in all or `stop` says the session is stopping (a
/// connection under way is then closed where it stands); a client stops at its first error.
fn many_clients(server: SocketAddr, load: &Load, options: ClientOptions, attempted: Arc<AtomicU64>, stop: &Stop) -> Program {
    let rec = Recorder::silent(Role::Client);
    let total = load.connections;
    let clients = (0..load.clients)
        .map(|_| {
            let (rec, options, attempted, stopped) = (rec.clone(), options.clone(), attempted.clone(), stop.stopped());
            let client: Program = Box::pin(async move {
                let mut stopped = std::pin::pin!(stopped);
                while attempted.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < total).then_some(n + 1)).is_ok() {
                    tokio::select! {
                        // Stopping first: the server's winding down resets connections too.
                        biased;
                        () = &mut stopped => break,
                        done = run_client(rec.clone(), server, options.clone()) => done?,
                    }
                }
                Ok(())
            });
            client
        })
        .collect();
    Box::pin(run_all(clients))
}
