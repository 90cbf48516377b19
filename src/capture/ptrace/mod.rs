//! The calls lens for any program: `trace run` reads an unmodified program's socket calls
//! with ptrace, following every process and thread it starts.
//!
//! A seccomp filter ([`seccomp`]) makes the kernel stop the program only at the calls that
//! can concern a socket; at such a stop the tracer reads the call's arguments
//! ([`syscalls`], [`decode`], [`memory`]), and if the call is on a followed socket ([`fds`])
//! records its start, and at the exit stop its end ([`calls`]). Sockets are named by their
//! role once a call reveals it ([`names`]); addresses the call does not carry come from the
//! kernel itself ([`sockname`]). Ports are handed to the kernel lenses while the tracee is
//! held at the stop, so that they see every packet and state of the session.

pub(crate) mod calls;
pub(crate) mod decode;
pub(crate) mod fds;
pub(crate) mod flags;
mod io;
pub mod launch;
pub(crate) mod memory;
pub(crate) mod names;
mod open_call;
mod process;
mod programs;
pub(crate) mod ready;
pub(crate) mod restart;
pub(crate) mod seccomp;
pub mod signals;
pub(crate) mod sockname;
pub(crate) mod spawn;
pub mod syscalls;
mod tracer;
mod waits;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use launch::Launch;
pub use programs::{AfterClient, Finished, Programs, WatchPorts, LISTEN_WAIT};
pub use spawn::{check_command, SpawnError};

use crate::capture::clock;
use crate::capture::sink::EventSink;
use names::Namer;

/// The running calls lens.
pub struct CallTracer {
    namer: Arc<Mutex<Namer>>,
    oldest: Arc<AtomicU64>,
    go: mpsc::Sender<bool>,
    thread: JoinHandle<Finished>,
}

/// Starts the program(s) on a tracer thread, stopped before their first instruction: the
/// caller starts the other lenses' output, then lets them run with [`CallTracer::run`]. Every
/// call goes to `sink`; `watch` is called with the session's ports as they are learned. Every
/// program is started as `launch` says.
/// `seccomp`: stop only at the filter's calls (else at every system call, strace's classic
/// way; kept for measuring the difference).
pub fn start(programs: Programs, launch: Launch, sink: EventSink, watch: WatchPorts, seccomp: bool) -> Result<CallTracer, SpawnError> {
    if let Programs::ServerClient { client, .. } = &programs {
        // The client starts mid-session: a missing program is found now, before anything runs,
        // where the client will start.
        spawn::check_launched(client.first().map_or("", String::as_str), launch.client.as_deref().unwrap_or(&launch))?;
    }
    let namer = Arc::new(Mutex::new(Namer::new(sink)));
    let oldest = tracer::lock(&namer).oldest_held();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<bool>();
    let shared = namer.clone();
    let thread = std::thread::spawn(move || {
        let (first, client) = match programs {
            Programs::One(argv) => (argv, None),
            Programs::ServerClient { server, client, wait, after } => (server, Some((client, wait, after))),
        };
        // The kernel ties a tracee to the thread that started it: this one, from here on.
        let started = match spawn::spawn(&first, &launch, seccomp) {
            Ok(started) => started,
            Err(err) => {
                let _ = ready_tx.send(Err(err));
                return Finished::default();
            }
        };
        let _ = ready_tx.send(Ok(()));
        if go_rx.recv() != Ok(true) {
            // The session could not start its output: the program must not run.
            spawn::kill_and_reap(started.pid);
            tracer::lock(&shared).finish();
            return Finished::default();
        }
        tracer::Tracer::new(started, &first, client, launch, shared, watch, seccomp).run()
    });
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(CallTracer { namer, oldest, go: go_tx, thread }),
        Ok(Err(err)) => {
            let _ = thread.join();
            Err(err)
        }
        Err(_) => Err(SpawnError { command: String::new(), err: std::io::Error::other("the tracer thread ended unexpectedly") }),
    }
}

impl CallTracer {
    /// The time of the oldest call event not yet sent, held back until its socket is named
    /// or waiting in a batch (`u64::MAX` for none): the timeline must not release anything
    /// later before it.
    pub fn oldest_held(&self) -> impl Fn() -> u64 + Send + 'static {
        let oldest = self.oldest.clone();
        move || oldest.load(Ordering::SeqCst)
    }

    /// Lets the programs run.
    pub fn run(&self) {
        let _ = self.go.send(true);
    }

    /// Called on every turn of the session: sends the calls waiting in a batch, names the
    /// sockets that waited too long for a call to reveal their role; says whether every
    /// traced program has ended.
    pub fn tick(&self) -> bool {
        // While the programs run, the tracer sends its batches itself, none older than
        // BATCH_NS: the lock is taken only when something has waited longer (the tracer is
        // idle, or a socket waits for its name). Taking it on every turn would make the tracer,
        // and with it the traced program, wait for this thread whenever it is descheduled
        // holding the lock.
        let now = clock::now_ns();
        if self.oldest.load(Ordering::SeqCst).saturating_add(2 * names::BATCH_NS) < now {
            let mut namer = tracer::lock(&self.namer);
            namer.flush_stale(now);
            namer.flush();
        }
        self.thread.is_finished()
    }

    /// Waits for the tracer to end (it ends with the last traced task).
    pub fn finish(self) -> Finished {
        drop(self.go);
        self.thread.join().unwrap_or_else(|_| Finished { problems: vec!["the tracer thread panicked".to_string()], ..Finished::default() })
    }
}
