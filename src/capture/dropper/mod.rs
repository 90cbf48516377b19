//! `--drop`: loses one chosen packet of a live session, on purpose, so that the trace shows
//! what TCP does about it (a retransmission after the RTO, RFC 6298; RFC 9293 §3.8.1).
//!
//! A netfilter rule (`rule.rs`) hands the first packet of the chosen kind that arrives on
//! `lo` to a queue (`queue.rs`) that this module reads on its own thread: it drops that
//! packet (any other is accepted). The packet lens saw the packet cross `lo`, stamped by the
//! kernel; the dropper reports it too, marked `dropped: "socktrace --drop"` and stamped on
//! CLOCK_MONOTONIC when the queue handed it over, and the timeline marks the lens's copy
//! with it (or keeps the dropper's own, should the lens have missed the packet).
//!
//! Nothing outlives the session: [`Dropper::stop`] (and dropping a [`Dropper`]) removes the
//! rule, then closes the queue; a session killed outright leaves a rule whose queue is gone,
//! which lets packets pass (`--queue-bypass`) and is removed by the next session.

mod queue;
pub mod rule;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::capture::clock;
use crate::capture::packets::packet_event;
use crate::event::Event;
use crate::fault::Lost;
use crate::wire::decode::{decode_frame, LinkType};
use queue::Queue;
use rule::{QueueRule, RuleError};

/// How a dropped packet names who dropped it (see [`crate::event::Packet::dropped`]).
pub const DROPPED_BY: &str = "socktrace --drop";

/// The queue numbers we try, from a start that depends on our pid; another process may hold
/// some of them.
const QUEUE_BASE: u16 = 0x5000;
const QUEUE_TRIES: u16 = 256;

/// How long the reading thread waits for a packet before it looks whether to stop.
const POLL_MS: u16 = 20;

/// Numbers our chains within this process.
static SERIAL: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
pub enum DropError {
    Rule(RuleError),
    /// The queue could not be bound.
    Queue(std::io::Error),
    /// The reading thread could not be started.
    Thread(std::io::Error),
}

impl fmt::Display for DropError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropError::Rule(err) => write!(f, "--drop: {err}"),
            DropError::Queue(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                write!(f, "--drop needs CAP_NET_ADMIN to read a netfilter queue ({err}): run as root")
            }
            DropError::Queue(err) => write!(f, "--drop: cannot bind a netfilter queue: {err} (the kernel needs nfnetlink_queue)"),
            DropError::Thread(err) => write!(f, "--drop: cannot start its thread: {err}"),
        }
    }
}

impl std::error::Error for DropError {}

pub struct Dropper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
    rule: Option<QueueRule>,
}

impl Dropper {
    /// Starts dropping the first packet of kind `lost` among the TCP packets to or from
    /// `port` on loopback; what it drops goes to `sink` as an event.
    pub fn start(lost: Lost, port: u16, ipv6: bool, sink: &Sender<Vec<Event>>) -> Result<Dropper, DropError> {
        let mut queue = bind_free_queue()?;
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let rule = QueueRule::install(ipv6, port, lost, queue.num(), serial).map_err(DropError::Rule)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, tx) = (stop.clone(), sink.clone());
        let thread = std::thread::Builder::new().name("drop".into()).spawn(move || serve(&mut queue, lost, &flag, &tx)).map_err(DropError::Thread)?;
        Ok(Dropper { stop, thread: Some(thread), rule: Some(rule) })
    }

    /// Removes the rule, then stops reading the queue; says what went wrong on the way.
    pub fn stop(mut self) -> Vec<String> {
        self.shut()
    }

    fn shut(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        // The rule goes first: once it is gone no packet waits in the queue for a verdict.
        if let Some(Err(err)) = self.rule.take().map(QueueRule::remove) {
            problems.push(format!("--drop: could not remove its rule: {err}"));
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(err)) => problems.push(format!("--drop: {err}")),
                Err(_) => problems.push("--drop: its thread panicked".to_string()),
            }
        }
        problems
    }
}

impl Drop for Dropper {
    fn drop(&mut self) {
        for problem in self.shut() {
            eprintln!("trace: {problem}");
        }
    }
}

fn bind_free_queue() -> Result<Queue, DropError> {
    let start = (std::process::id() % u32::from(QUEUE_TRIES)) as u16;
    let mut last = None;
    for i in 0..QUEUE_TRIES {
        let num = QUEUE_BASE + (start + i) % QUEUE_TRIES;
        match Queue::bind(num) {
            Ok(queue) => return Ok(queue),
            // Another process holds this queue: try the next.
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) => last = Some(err),
            Err(err) => return Err(DropError::Queue(err)),
        }
    }
    Err(DropError::Queue(last.unwrap_or_else(|| std::io::Error::other("no free queue"))))
}

/// Gives every queued packet its verdict until told to stop: the first of kind `lost` is
/// dropped and reported, any other accepted.
fn serve(queue: &mut Queue, lost: Lost, stop: &AtomicBool, sink: &Sender<Vec<Event>>) -> Result<(), String> {
    let mut dropped = false;
    while !stop.load(Ordering::Relaxed) {
        let packets = queue.recv(POLL_MS).map_err(|e| format!("reading the queue: {e}"))?;
        for queued in packets {
            let t = clock::now_ns();
            let packet = decode_frame(&queued.payload, LinkType::RawIp).ok().flatten();
            let chosen = packet.filter(|p| !dropped && p.tcp.as_ref().is_some_and(|tcp| lost.matches(tcp.flags, p.len)));
            queue.verdict(queued.id, chosen.is_none()).map_err(|e| format!("giving a verdict: {e}"))?;
            if let Some(mut packet) = chosen {
                dropped = true;
                packet.dropped = Some(DROPPED_BY.to_string());
                // The session may be over already; then nobody needs the event.
                let _ = sink.send(vec![packet_event(t, packet)]);
            }
        }
    }
    Ok(())
}
