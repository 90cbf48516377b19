//! Runs a live session and drives the timeline: merge, render, save, as events happen.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::lenses::{KernelLenses, Losses};
use super::programs::{self, Mode, Plan, Program, Story};
use crate::capture::clock;
use crate::echo::Recorder;
use crate::event::{Event, Role};
use crate::render::Renderer;
use crate::timeline::{Sides, SocketResolver, Timeline};
use crate::trace::{End, Header, Source, TraceWriter};

/// How long an event waits in the timeline at least. The kernel lenses say how far they have
/// delivered (their progress marks); our own calls are sent the moment they are stamped, and
/// this window covers a recording thread descheduled between the two.
const WINDOW_NS: u64 = 50_000_000;

/// After our programs finish, how long the lenses keep looking: the last ACK of a close
/// crosses the wire after the last call returned.
const SETTLE: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub enum LiveError {
    Runtime(io::Error),
    Server(io::Error),
    Save { path: PathBuf, err: io::Error },
    /// A kernel lens needs a privilege this process lacks (one reason per lens); the plan
    /// asked to be told rather than to go on without it.
    Unprivileged(Vec<String>),
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::Runtime(err) => write!(f, "cannot start the async runtime: {err}"),
            LiveError::Server(err) if err.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "the echo server cannot bind: the port is in use ({err}); choose another with --port, or --port 0 for any free port")
            }
            LiveError::Server(err) => write!(f, "the echo server cannot start: {err}"),
            LiveError::Save { path, err } => write!(f, "cannot write the trace to {}: {err} (check the directory exists and is writable)", path.display()),
            LiveError::Unprivileged(reasons) => f.write_str(&reasons.join("; ")),
        }
    }
}

impl std::error::Error for LiveError {}

/// What a finished session reports besides its trace.
pub struct Report {
    pub end: End,
    /// Lenses that could not run, with the reason and remedy.
    pub unavailable: Vec<String>,
    /// A program that failed (e.g. connect refused): part of the story, reported after it.
    pub program_error: Option<String>,
    pub interrupted: bool,
}

/// Where a session's output goes.
pub struct Output {
    pub renderer: Box<dyn Renderer>,
    pub save: Option<PathBuf>,
}

pub fn run(plan: &Plan, command: &str, output: Output) -> Result<Report, LiveError> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(LiveError::Runtime)?;
    let (tx, rx) = mpsc::channel::<Vec<Event>>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let _enter = rt.enter();

    let server_rec = Recorder::new(Role::Server, tx.clone());
    let client_rec = server_rec.peer(Role::Client);
    let refused = plan.story == Story::Refused;
    let bound = match plan.mode {
        Mode::Both { .. } | Mode::Serve { .. } if !refused => Some(programs::bind_server(&server_rec, plan).map_err(LiveError::Server)?),
        _ => None,
    };
    // Held until the session ends, so that the refusing port stays ours.
    let reserved = if refused { Some(programs::reserve_refusing_port(plan).map_err(LiveError::Server)?) } else { None };
    let server_addr = match (&plan.mode, &bound, &reserved) {
        (Mode::Connect { server }, _, _) => *server,
        (_, Some(b), _) => b.addr,
        (_, None, Some((_, addr))) => *addr,
        (_, None, None) => return Err(LiveError::Server(io::Error::other("no server address: --serve cannot refuse"))),
    };

    // The lenses start after bind and before listen: the port is known, and nothing of the
    // connection's life has happened yet.
    let lenses = KernelLenses::start(&[server_addr.port()], &tx);
    if !lenses.unavailable.is_empty() && !plan.live_only {
        // Nothing has been shown or saved yet: the caller simulates the session instead.
        let reasons = lenses.unavailable.clone();
        lenses.stop();
        return Err(LiveError::Unprivileged(reasons));
    }
    let header = Header::new(command, Source::Live, lenses.status.clone());
    let unavailable = lenses.unavailable.clone();

    let mut sink = Sink::open(output, &header)?;

    let mut parts: Vec<Program> = Vec::new();
    if let Some(bound) = bound {
        let listening = bound.server.listen(128).map_err(LiveError::Server)?;
        let connections = match plan.mode {
            Mode::Both { clients } => Some(u64::from(clients)),
            Mode::Serve { connections } => connections,
            Mode::Connect { .. } => None,
        };
        let mut stop = stop_rx.clone();
        parts.push(programs::serve(listening, connections, plan.serve_options(), async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
    }
    match plan.mode {
        Mode::Both { clients } => parts.push(programs::clients(client_rec.clone(), server_addr, clients, plan.client_options())),
        Mode::Connect { .. } => parts.push(programs::clients(client_rec.clone(), server_addr, 1, plan.client_options())),
        Mode::Serve { .. } => {}
    }
    drop((server_rec, client_rec, tx));

    // A refusing port has no socket on the server side to name: its RST is the kernel's own.
    let sides = Sides {
        client_recorded: !matches!(plan.mode, Mode::Serve { .. }),
        server_recorded: !matches!(plan.mode, Mode::Connect { .. }) || refused,
    };
    let mut timeline = Timeline::with_shadow(SocketResolver::new(vec![server_addr.port()], sides));

    let mut stop_signal = stop_rx.clone();
    let mut programs = Some(rt.spawn(async move {
        tokio::select! {
            result = run_all(parts) => (result, false),
            _ = stop_signal.wait_for(|s| *s) => (Ok(()), true),
        }
    }));
    rt.spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    });

    let mut released = Vec::new();
    let mut result: Option<(io::Result<()>, bool)> = None;
    let mut lenses = Some(lenses);
    let mut losses = None;
    let mut finished_at = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(batch) => timeline.push(batch),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while let Ok(batch) = rx.try_recv() {
            timeline.push(batch);
        }
        if let Some(handle) = programs.take_if(|h| h.is_finished()) {
            result = Some(rt.block_on(handle).unwrap_or_else(|join| (Err(io::Error::other(join)), false)));
            finished_at = Some(Instant::now());
        }
        if finished_at.is_some_and(|at| at.elapsed() >= SETTLE) {
            if let Some(lenses) = lenses.take() {
                // Stopping drains each lens into the channel and drops its sender; the loop
                // ends once the channel is empty and every sender is gone.
                losses = Some(lenses.stop());
            }
        }
        let lens_progress = lenses.as_ref().map_or(u64::MAX, KernelLenses::progress);
        let watermark = clock::now_ns().saturating_sub(WINDOW_NS).min(lens_progress);
        released.clear();
        timeline.release(watermark, &mut released);
        sink.emit(&released, watermark)?;
    }
    released.clear();
    timeline.drain(&mut released);
    sink.emit(&released, u64::MAX)?;
    drop(reserved);
    let (program_result, interrupted) = result.unwrap_or((Ok(()), true));
    // In the refused story, the refusal is the story, not a failure.
    let program_result = match program_result {
        Err(err) if refused && err.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        other => other,
    };
    let losses = losses.unwrap_or(Losses { packets_dropped: 0, states_lost: 0, problems: Vec::new() });
    let mut unavailable = unavailable;
    unavailable.extend(losses.problems.iter().cloned());
    let end = sink.finish(losses.packets_dropped, losses.states_lost, timeline.out_of_order())?;
    Ok(Report { end, unavailable, program_error: program_result.err().map(|e| e.to_string()), interrupted })
}

/// Runs every program to its end; the first error is reported once all have finished.
async fn run_all(parts: Vec<Program>) -> io::Result<()> {
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

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        // Without signal handling the session still ends when its programs do.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// Where released events go: the screen, through the renderer, and the trace file.
struct Sink {
    renderer: Box<dyn Renderer>,
    screen: Screen<io::Stdout>,
    writer: Option<(PathBuf, TraceWriter<BufWriter<File>>)>,
    events: u64,
}

impl Sink {
    fn open(output: Output, header: &Header) -> Result<Sink, LiveError> {
        let writer = match output.save {
            Some(path) => {
                let file = File::create(&path).map_err(|err| LiveError::Save { path: path.clone(), err })?;
                let writer = TraceWriter::new(BufWriter::new(file), header).map_err(|err| LiveError::Save { path: path.clone(), err })?;
                Some((path, writer))
            }
            None => None,
        };
        let mut sink = Sink { renderer: output.renderer, screen: Screen { out: io::stdout(), broken: false }, writer, events: 0 };
        let renderer = &mut sink.renderer;
        sink.screen.show(|out| renderer.header(header, out));
        Ok(sink)
    }

    fn save_error(&self, err: io::Error) -> LiveError {
        let path = self.writer.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
        LiveError::Save { path, err }
    }

    /// Shows and saves released events; the file is flushed after every batch, so that what
    /// was shown is also on disk if the session is killed.
    fn emit(&mut self, events: &[Event], watermark: u64) -> Result<(), LiveError> {
        for event in events {
            let renderer = &mut self.renderer;
            self.screen.show(|out| renderer.event(event, out));
            if let Some((_, writer)) = &mut self.writer {
                if let Err(err) = writer.event(event) {
                    return Err(self.save_error(err));
                }
            }
        }
        self.events += events.len() as u64;
        let renderer = &mut self.renderer;
        self.screen.show(|out| renderer.idle(watermark, out));
        if let Some((_, writer)) = &mut self.writer {
            if let Err(err) = writer.flush() {
                return Err(self.save_error(err));
            }
        }
        Ok(())
    }

    fn finish(mut self, packets_dropped: u64, states_lost: u64, out_of_order: u64) -> Result<End, LiveError> {
        let end = End { events: self.events, packets_dropped, states_lost, out_of_order };
        let renderer = &mut self.renderer;
        self.screen.show(|out| renderer.end(Some(&end), out));
        if let Some((path, writer)) = self.writer.take() {
            writer.finish(&end).map_err(|err| LiveError::Save { path, err })?;
        }
        Ok(end)
    }
}

/// Standard output that stops being written once its reader has gone (`trace echo | head`),
/// while the session and its saved trace go on.
struct Screen<W: Write> {
    out: W,
    broken: bool,
}

impl<W: Write> Screen<W> {
    fn show(&mut self, draw: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        if self.broken {
            return;
        }
        if draw(&mut self.out).and_then(|()| self.out.flush()).is_err() {
            self.broken = true;
        }
    }
}
