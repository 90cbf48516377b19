//! How the replay scales (issue 18): the steps `trace replay` and the book's `{{#trace}}`
//! directive compute, on big traces of two shapes. The live echo fixture repeated with fresh
//! socket names and times (460 sessions: about 35,000 events and 1,400 sockets), and one
//! state change on each of 4,000 and 16,000 sockets (the shape that grew with the square of
//! the socket count when every step held every socket's view).
//!
//! Each trace is measured in a child process of its own (this bench run again with the
//! trace's path), so that its peak memory (`VmHWM`) is its own: reading the trace, computing
//! the replay, and writing it as the book embeds it (JSON). Printed beside the goals: under
//! 1 s and 100 MB each, and the page's JSON under 10× the trace's size. Nothing is asserted:
//! a timing depends on the machine and what else it runs.
//!
//! Run with `cargo bench --bench replay`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use socktrace::event::{Actor, Body, Event, Origin, Role, SockId, StateChange};
use socktrace::replay::Replay;
use socktrace::tcp::state::State;
use socktrace::trace::{read_trace, End, Trace, TraceWriter};

fn write(trace: &Trace, path: &Path) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("a scratch file"));
    let mut writer = TraceWriter::new(file, &trace.header).expect("the header");
    for event in &trace.events {
        writer.event(event).expect("an event");
    }
    writer.finish(trace.end.as_ref().expect("an end")).expect("the end");
}

/// The echo fixture `rounds` times, each round's sockets renamed and its times moved on.
fn repeated(rounds: usize) -> Trace {
    let echo = read_trace(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/lessons/echo.jsonl"))).expect("the echo fixture");
    let span = echo.events.last().map_or(0, |e| e.t) - echo.events[0].t + 1_000;
    let rename = |id: &mut SockId, round: usize| *id = SockId(format!("{}r{round}", id.0).into());
    let mut events = Vec::with_capacity(rounds * echo.events.len());
    for round in 0..rounds {
        for event in &echo.events {
            let mut event = event.clone();
            event.t += round as u64 * span;
            if let Some(id) = &mut event.socket {
                rename(id, round);
            }
            match &mut event.body {
                Body::CallEnd(end) => {
                    end.id += (round * 1_000) as u64;
                    for id in [&mut end.new_socket, &mut end.queued].into_iter().flatten() {
                        rename(id, round);
                    }
                }
                Body::CallStart(start) => start.id += (round * 1_000) as u64,
                Body::Packet(packet) => {
                    if let Some(id) = &mut packet.to {
                        rename(id, round);
                    }
                    // Each connection on the same addresses starts from its own ISN, as
                    // Linux picks them (RFC 6528).
                    if let Some(tcp) = &mut packet.tcp {
                        let shift = (round as u32).wrapping_mul(1_000_003);
                        tcp.seq = tcp.seq.wrapping_add(shift);
                        tcp.ack = tcp.ack.wrapping_add(if tcp.ack == 0 { 0 } else { shift });
                    }
                }
                _ => {}
            }
            events.push(event);
        }
    }
    let end = End { events: events.len() as u64, ..End::default() };
    Trace { header: echo.header, events, end: Some(end) }
}

/// One state change on each of `sockets` sockets.
fn one_change_each(sockets: usize) -> Trace {
    let echo = read_trace(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/lessons/echo.jsonl"))).expect("the echo fixture");
    let events: Vec<Event> = (0..sockets)
        .map(|i| Event {
            t: 1_000 + i as u64,
            actor: Actor::role(Role::Server),
            socket: Some(SockId(format!("s{i}").into())),
            origin: Origin::Observed,
            body: Body::State(StateChange { from: State::Closed, to: State::Listen, local: None, remote: None, sk: None, model: None }),
        })
        .collect();
    let end = End { events: events.len() as u64, ..End::default() };
    Trace { header: echo.header, events, end: Some(end) }
}

/// The child's work: read, replay, write as the book embeds it; prints its figures.
fn measure(path: &Path) {
    let start = Instant::now();
    let trace = read_trace(path).expect("the trace");
    let replay = Replay::of(&trace);
    let json = serde_json::to_string(&replay).expect("json");
    let took = start.elapsed();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()).unwrap_or(0);
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    println!(
        "{:>7} events {:>6} steps  {:>7.3} s (goal < 1)  peak {:>6.1} MB (goal < 100)  page JSON {:>5.1}× the trace (goal < 10)",
        trace.events.len(),
        replay.steps.len(),
        took.as_secs_f64(),
        peak_kb as f64 / 1024.0,
        json.len() as f64 / size.max(1) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--measure") {
        measure(Path::new(&args[at + 1]));
        return;
    }
    let dir = std::env::temp_dir().join(format!("socktrace-bench-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let traces: Vec<(&str, PathBuf, Trace)> = vec![
        ("echo ×460 (1,380 sockets)", dir.join("echo460.jsonl"), repeated(460)),
        ("4,000 sockets, one change each", dir.join("s4000.jsonl"), one_change_each(4_000)),
        ("16,000 sockets, one change each", dir.join("s16000.jsonl"), one_change_each(16_000)),
    ];
    println!("replay: read the trace, compute its steps, write them as the book embeds them (one child process each)");
    for (name, path, trace) in &traces {
        write(trace, path);
        print!("{name:<34}");
        let out = Command::new(&args[0]).args(["--measure", path.to_str().expect("utf-8")]).output().expect("the bench runs itself");
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
