//! How the replay scales (issue 18): the steps `trace replay` and the book's `{{#trace}}`
//! directive compute, on big traces of three shapes:
//!
//! - a live `trace echo --serve` of 1,100 clients (1,000 at once, each echoing one line, and
//!   100 idle ones that connect first and close last): the tester's trace, recorded afresh
//!   when the bench runs as root;
//! - one state change on each of 4,000 and 16,000 sockets (the shape that grew with the
//!   square of the socket count when every step held every socket's view);
//! - the live echo fixture repeated with fresh socket names and times, at 10^4, 10^5 and 10^6
//!   events: the cost per event should not grow with the trace.
//!
//! Each trace is measured in a child process of its own (this bench run again with the
//! trace's path), so that its peak memory (`VmHWM`) is its own: reading the trace and computing
//! the replay (what `trace replay` holds), then writing it as the book embeds it (JSON).
//! Printed beside the goals: under 1 s and 100 MB each, and the page's JSON under 10× the
//! trace's size. Nothing is asserted: a timing depends on the machine and what else it runs.
//!
//! Run with `cargo bench --bench replay` (as root for the live trace: `sudo -E`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Records `trace echo --serve` answering 1,100 clients: 100 idle ones connect first, then
/// 1,000 at once each send one line, read its echo and close, then the idle ones close.
fn live_clients(trace: &Path, path: &Path) -> Result<(), String> {
    const BUSY: usize = 1_000;
    const IDLE: usize = 100;
    let connections = (BUSY + IDLE).to_string();
    let mut server = Command::new(trace)
        .args(["echo", "--serve", "--live", "--backlog", "2048", "--connections", &connections, "--save"])
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", trace.display()))?;
    let mut stderr = BufReader::new(server.stderr.take().expect("piped"));
    let mut line = String::new();
    let _ = stderr.read_line(&mut line);
    let port = line.split("127.0.0.1:").nth(1).and_then(|rest| rest.split(';').next()).and_then(|p| p.parse::<u16>().ok());
    let Some(port) = port else {
        let _ = server.kill();
        let _ = server.wait();
        return Err(format!("the server did not say its port: {line:?}"));
    };
    let connect = || {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
        Ok::<TcpStream, String>(stream)
    };
    let idle: Vec<TcpStream> = (0..IDLE).map(|_| connect()).collect::<Result<_, _>>()?;
    let busy: Vec<std::thread::JoinHandle<Result<(), String>>> = (0..BUSY)
        .map(|_| {
            let stream = connect();
            std::thread::spawn(move || {
                let mut stream = stream?;
                stream.write_all(b"hi\n").map_err(|e| e.to_string())?;
                let mut answer = [0u8; 64];
                let _ = stream.read(&mut answer).map_err(|e| e.to_string())?;
                Ok(())
            })
        })
        .collect();
    let mut failed = 0;
    for client in busy {
        failed += usize::from(!matches!(client.join(), Ok(Ok(()))));
    }
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = server.kill();
            let _ = server.wait();
            return Err("the server did not end after its 1,100 connections".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if failed > 0 {
        return Err(format!("{failed} of {BUSY} clients got no echo"));
    }
    Ok(())
}

/// The peak resident memory of this process so far, in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()).unwrap_or(0);
    kb as f64 / 1024.0
}

/// This process's CPU time so far (every thread's), in seconds: unlike the wall time, it does
/// not grow when other programs take the cores.
fn cpu_s() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).map_or(0.0, |t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
}

/// The child's work: read, replay, write as the book embeds it; prints its figures.
fn measure(path: &Path) {
    let start = Instant::now();
    let trace = read_trace(path).expect("the trace");
    let replay = Replay::of(&trace);
    let (took, cpu, peak) = (start.elapsed(), cpu_s(), peak_mb());
    let json = serde_json::to_string(&replay).expect("json");
    let (took_page, peak_page) = (start.elapsed(), peak_mb());
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    println!(
        "{:>8} events {:>8} steps {:>7.3} s {:>7.3} s {:>5.2} µs {:>7.1} MB │ {:>7.3} s {:>7.1} MB {:>5.1}×",
        trace.events.len(),
        replay.steps.len(),
        took.as_secs_f64(),
        cpu,
        cpu * 1e6 / trace.events.len().max(1) as f64,
        peak,
        took_page.as_secs_f64(),
        peak_page,
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
    let trace_binary = Path::new(env!("CARGO_BIN_EXE_trace"));
    println!(
        "replay: read the trace and compute its steps (what `trace replay` holds), then write them as the book embeds them (JSON); one child process each"
    );
    println!("goals: under 1 s and 100 MB each; the page's JSON under 10× the trace; the cost per event flat from 10^4 to 10^6 events");
    println!("{:<40}{:>24} {:>9} {:>9} {:>8} {:>10} │ {:>9} {:>10} {:>6}", "", "", "replay", "CPU", "CPU per", "peak", "+ page", "peak", "JSON");
    println!("{:<40}{:>24} {:>9} {:>9} {:>8} {:>10} │ {:>9} {:>10} {:>6}", "", "", "wall", "", "event", "", "wall", "", "");
    let run = |name: &str, path: &Path| {
        print!("{name:<40}");
        let _ = std::io::stdout().flush();
        let out = Command::new(&args[0]).args(["--measure", path.to_str().expect("utf-8")]).output().expect("the bench runs itself");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        // The CPU time per event, the figure that should stay flat.
        String::from_utf8_lossy(&out.stdout).split_whitespace().nth(8).and_then(|v| v.parse::<f64>().ok())
    };
    let live = dir.join("clients1100.jsonl");
    if !socktrace::capture::privilege::is_root() {
        println!("{:<40}skipped: recording it needs root (sudo -E cargo bench --bench replay)", "live echo --serve, 1,100 clients");
    } else {
        match live_clients(trace_binary, &live) {
            Ok(()) => {
                run("live echo --serve, 1,100 clients", &live);
            }
            Err(err) => println!("{:<40}not recorded: {err}", "live echo --serve, 1,100 clients"),
        }
    }
    for sockets in [4_000, 16_000] {
        let path = dir.join(format!("s{sockets}.jsonl"));
        write(&one_change_each(sockets), &path);
        run(&format!("{sockets} sockets, one change each"), &path);
    }
    let mut per_event = Vec::new();
    for (rounds, label) in [(129, "10^4"), (1_283, "10^5"), (12_821, "10^6")] {
        let path = dir.join(format!("echo{rounds}.jsonl"));
        write(&repeated(rounds), &path);
        per_event.push((label, run(&format!("echo ×{rounds} (~{label} events)"), &path)));
        let _ = std::fs::remove_file(&path);
    }
    if let [(_, Some(small)), .., (_, Some(big))] = per_event[..] {
        println!("CPU per event at 10^6 ÷ at 10^4: {:.2} (goal: flat, about 1)", big / small);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
