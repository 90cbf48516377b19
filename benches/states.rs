//! The kernel-state lens under load: `cargo bench --bench states` (as root: tracefs and perf
//! events).
//!
//! Loopback connections as fast as CLIENTS client threads make them, CONNS in all, each run
//! to its end (the client waits for the server's FIN), traced through real perf events. Prints connections/s, events/s and per connection, the reader's CPU per event,
//! what was lost, skipped or malformed, the delivery latency (how long after the kernel
//! stamped an event it reached the channel) and what the events were.
//!
//! Env: CONNS (default 20000), CLIENTS (default 1).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc::channel;
use std::time::Instant;

use common::env_or;
use socktrace::capture::clock::now_ns;
use socktrace::capture::privilege::is_root;
use socktrace::capture::tracefs::StateTracer;
use socktrace::event::{Body, Event, KernelNote};

/// At most this many connections, whatever CONNS says.
const MAX_CONNS: usize = 1_000_000;

fn main() -> ExitCode {
    common::exit("states", run())
}

fn run() -> Result<(), String> {
    if !is_root() {
        return Err("needs root (tracefs, perf events): run `sudo -E cargo bench --bench states`".into());
    }
    let clients = env_or("CLIENTS", 1usize).max(1);
    let conns = env_or("CONNS", 20_000usize).clamp(clients, MAX_CONNS) / clients * clients;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (tx, rx) = channel::<Vec<Event>>();
    // Tallies what arrives, and how long after the kernel stamped it.
    let counter = std::thread::spawn(move || {
        let mut kinds = BTreeMap::<String, usize>::new();
        let mut latency_us: Vec<u64> = Vec::new();
        for batch in rx.iter() {
            let now = now_ns();
            for e in &batch {
                latency_us.push(now.saturating_sub(e.t) / 1000);
                let kind = match &e.body {
                    Body::State(s) => format!("{} -> {}", s.from, s.to),
                    Body::Kernel(KernelNote::ResetSent { .. }) => "reset sent".into(),
                    Body::Kernel(KernelNote::ResetReceived { .. }) => "reset received".into(),
                    Body::Kernel(KernelNote::Retransmit { .. }) => "retransmit".into(),
                    _ => "other".into(),
                };
                *kinds.entry(kind).or_default() += 1;
            }
        }
        latency_us.sort_unstable();
        (kinds, latency_us)
    });
    let tracer = StateTracer::start(&[addr.port()], tx).map_err(|e| e.to_string())?;
    let server = std::thread::spawn(move || {
        for _ in 0..conns {
            if let Ok((conn, _)) = listener.accept() {
                drop(conn);
            }
        }
    });
    let start = Instant::now();
    let client_threads: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || -> Result<(), String> {
                for _ in 0..conns / clients {
                    let mut c = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
                    // Waits for the server's FIN, so that each connection runs its whole course.
                    c.read(&mut [0; 1]).map_err(|e| format!("read: {e}"))?;
                }
                Ok(())
            })
        })
        .collect();
    for client in client_threads {
        client.join().map_err(|_| "a client thread panicked".to_string())??;
    }
    server.join().map_err(|_| "the server thread panicked".to_string())?;
    let secs = start.elapsed().as_secs_f64();
    let stats = tracer.stop();
    let (kinds, latency_us) = counter.join().map_err(|_| "the counting thread panicked".to_string())?;
    let pct = |p: usize| latency_us.get(latency_us.len().saturating_sub(1) * p / 100).copied().unwrap_or(0);
    println!("{conns} connections from {clients} client thread(s) in {secs:.2} s ({:.0}/s)", conns as f64 / secs);
    println!(
        "{} events ({:.0}/s, {:.2} per connection), reader CPU {:.2} µs/event",
        stats.events,
        stats.events as f64 / secs,
        stats.events as f64 / conns as f64,
        stats.reader_cpu_ns as f64 / 1e3 / stats.events.max(1) as f64
    );
    println!("lost {}, skipped {}, malformed {}", stats.lost, stats.skipped, stats.malformed);
    println!("delivery latency p50 {} µs, p99 {} µs, max {} µs", pct(50), pct(99), pct(100));
    println!("events: {kinds:?}");
    if latency_us.len() as u64 != stats.events {
        return Err(format!("{} events reached the channel, the tracer counts {}", latency_us.len(), stats.events));
    }
    Ok(())
}
