//! The timeline's drive loop: take what the lenses deliver, release it in time order as far
//! as every lens has delivered, show and save it; stop the lenses once the traced programs
//! are done and their sockets have closed; end when every lens has delivered its last event.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::LiveError;
use super::lenses::{KernelLenses, Losses};
use super::settle::OpenSockets;
use crate::capture::clock;
use crate::event::Event;
use crate::timeline::{Merger, Timeline};

/// How long an event waits in the timeline at least where calls are recorded. The kernel
/// lenses say how far they have delivered (their progress marks); calls are sent the moment
/// they are stamped, and this window covers a recording thread descheduled between the two.
/// Without calls (`--summary`) the progress marks alone say what may be released.
const CALLS_WINDOW_NS: u64 = 50_000_000;

/// After the programs finish, the lenses keep looking until the session's sockets are seen to
/// close (the last ACK of a close crosses the wire after the last call returned), but no
/// longer than this: a peer outside the session may hold a socket open. Without the state
/// lens, which sees them close, they look this long.
const SETTLE_MAX: Duration = Duration::from_millis(100);

/// What puts the lenses' events in time order: the whole timeline, or the merger alone where
/// sockets need no names (`--summary`, whose memory must not grow with every connection).
pub trait Reorder {
    fn push(&mut self, events: Vec<Event>);
    fn release(&mut self, watermark: u64, out: &mut Vec<Event>);
    /// How long an event waits at least before it is released.
    fn window_ns(&self) -> u64;
}

impl Reorder for Timeline {
    fn push(&mut self, events: Vec<Event>) {
        Timeline::push(self, events);
    }
    fn release(&mut self, watermark: u64, out: &mut Vec<Event>) {
        Timeline::release(self, watermark, out);
    }
    fn window_ns(&self) -> u64 {
        CALLS_WINDOW_NS
    }
}

impl Reorder for Merger {
    fn push(&mut self, events: Vec<Event>) {
        Merger::push(self, events);
    }
    fn release(&mut self, watermark: u64, out: &mut Vec<Event>) {
        Merger::release(self, watermark, out);
    }
    /// The merger alone orders the kernel lenses' events only (`--summary` records no calls):
    /// their progress marks say what may be released.
    fn window_ns(&self) -> u64 {
        0
    }
}

/// The kernel lenses over a session: running, then being stopped on a thread of their own
/// (it waits on the kernel for tens of ms, while the timeline goes on with what it has), then
/// stopped.
enum Lenses {
    Running(KernelLenses),
    /// Everything stamped before `mark` was delivered when the stop began; what the lenses
    /// deliver until they have stopped is later.
    Stopping {
        stop: JoinHandle<Losses>,
        mark: u64,
    },
    Stopped(Losses),
}

impl Lenses {
    /// How far every lens has delivered.
    fn progress(&self) -> u64 {
        match self {
            Lenses::Running(lenses) => lenses.progress(),
            Lenses::Stopping { mark, .. } => *mark,
            Lenses::Stopped(_) => u64::MAX,
        }
    }

    /// Stops the lenses (see [`KernelLenses::stop`]) on a thread of its own, with `mark` as
    /// their progress meanwhile.
    fn stop(&mut self, mark: u64) {
        *self = match std::mem::replace(self, Lenses::Stopped(Losses::default())) {
            Lenses::Running(lenses) => Lenses::Stopping { stop: std::thread::spawn(move || lenses.stop()), mark },
            other => other,
        };
    }

    /// Takes the account of a stop that has ended.
    fn reap(&mut self) {
        if matches!(self, Lenses::Stopping { stop, .. } if stop.is_finished()) {
            let lenses = std::mem::replace(self, Lenses::Stopped(Losses::default()));
            *self = Lenses::Stopped(lenses.finish());
        }
    }

    /// What the lenses lost, once stopped (here, if they still run).
    fn finish(self) -> Losses {
        match self {
            Lenses::Running(lenses) => lenses.stop(),
            Lenses::Stopping { stop, .. } => {
                stop.join().unwrap_or_else(|_| Losses { problems: vec!["stopping the lenses panicked".to_string()], ..Losses::default() })
            }
            Lenses::Stopped(losses) => losses,
        }
    }
}

/// Runs until the channel is closed: every sender (recorders, lenses) gone. `finished` is
/// asked on every turn whether the traced programs are done; `emit` takes each batch of
/// released events with the watermark it was released at.
pub fn drive(
    rx: Receiver<Vec<Event>>,
    timeline: &mut impl Reorder,
    mut emit: impl FnMut(&[Event], u64) -> Result<(), LiveError>,
    lenses: KernelLenses,
    mut finished: impl FnMut() -> bool,
) -> Result<Losses, LiveError> {
    let mut released = Vec::new();
    let mut lenses = Lenses::Running(lenses);
    let mut finished_at: Option<(Instant, u64)> = None;
    let mut sockets = OpenSockets::default();
    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(batch) => {
                sockets.see(&batch);
                timeline.push(batch);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // A stop that has ended has sent all its lenses saw.
        lenses.reap();
        // How far the lenses have delivered is read before the channel is emptied: a lens
        // sends its events before it moves its mark, so all it sent before this mark is then
        // in the timeline (read after, a mark could pass events still in the channel).
        let lens_progress = lenses.progress();
        while let Ok(batch) = rx.try_recv() {
            sockets.see(&batch);
            timeline.push(batch);
        }
        let all_closed = sockets.all_closed(lens_progress);
        if finished_at.is_none() && finished() {
            finished_at = Some((Instant::now(), clock::now_ns()));
        }
        if let (Some((at, at_ns)), Lenses::Running(running)) = (finished_at, &lenses) {
            // Settled: no lens runs (no port was ever followed), or every socket is seen to
            // have closed by a lens that has delivered all it saw up to the programs' end.
            let settled = !running.any_running() || (running.follows_states() && lens_progress >= at_ns && all_closed);
            if settled || at.elapsed() >= SETTLE_MAX {
                // Stopping drains each lens into the channel and drops its sender; meanwhile
                // the timeline releases what they had delivered.
                lenses.stop(lens_progress);
            }
        }
        let watermark = clock::now_ns().saturating_sub(timeline.window_ns()).min(lens_progress);
        released.clear();
        timeline.release(watermark, &mut released);
        emit(&released, watermark)?;
    }
    // Every sender has gone: all there is to show is in the timeline. The lenses' readers
    // have ended, but their stop may still be waiting on the kernel: their account is taken
    // after the rest is shown. The channel also closes before a stop once no lens can send
    // any more (none started: no port was ever followed): their account is still taken.
    released.clear();
    timeline.release(u64::MAX, &mut released);
    emit(&released, u64::MAX)?;
    Ok(lenses.finish())
}
