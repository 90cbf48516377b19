//! `trace echo --summary` under load: `cargo bench --bench summary` (as root).
//!
//! 64 clients make 2,000 and then 20,000 connections in all, each sending one line and
//! reading its echo, closed with FIN and then with RST (SO_LINGER 0). Each run is a fresh
//! `trace` process, so that its peak resident memory (getrusage's ru_maxrss, read with wait4)
//! is its own. Printed per close and size, medians over ROUNDS rounds: connections/s, kernel
//! drops, lost tracepoint events, connections accounted for (lines of the summary against
//! connections begun), and peak RSS; then the ratio of peak RSS at 20,000 to that at 2,000.
//!
//! Peak RSS moves with how long the timeline waits for a lens that the machine keeps off its
//! CPU (events wait in memory meanwhile), so the load average is printed beside the figures.
//!
//! Env: ROUNDS (default 5), SMALL (default 2000), LARGE (default 20000).

mod common;

use common::{env_or, median};
use std::io::Read;
use std::process::{Command, ExitCode, Stdio};

const CLIENTS: &str = "64";

fn main() -> ExitCode {
    common::exit("summary", run())
}

/// What one `trace echo --summary` run printed and used.
struct Run {
    rate: f64,
    begun: u64,
    lines: u64,
    drops: u64,
    lost: u64,
    open_at_end: u64,
    peak_rss_kb: u64,
}

fn run() -> Result<(), String> {
    if !socktrace::capture::privilege::is_root() {
        return Err("needs root for packet capture and tracefs: run `sudo -E cargo bench --bench summary`".into());
    }
    let rounds = env_or("ROUNDS", 5).max(1);
    let sizes = [env_or("SMALL", 2_000), env_or("LARGE", 20_000)];
    println!("{CLIENTS} clients, one line each per connection; medians of {rounds} rounds; load average {}", load_average());
    println!("{:<6} {:>12} {:>10} {:>8} {:>8} {:>14} {:>14}", "close", "connections", "conn/s", "drops", "lost", "accounted", "peak RSS KB");
    for close in ["fin", "rst"] {
        let mut rss = Vec::new();
        for &size in &sizes {
            let runs: Vec<Run> = (0..rounds).map(|_| one_run(close, size)).collect::<Result<_, _>>()?;
            let accounted = runs.iter().all(|r| r.lines == r.begun && r.begun == size && r.open_at_end == 0);
            let (drops, lost) = (runs.iter().map(|r| r.drops).sum::<u64>(), runs.iter().map(|r| r.lost).sum::<u64>());
            let peak = median(runs.iter().map(|r| r.peak_rss_kb as f64));
            rss.push(peak);
            println!(
                "{close:<6} {size:>12} {:>10.0} {drops:>8} {lost:>8} {:>14} {peak:>14.0}",
                median(runs.iter().map(|r| r.rate)),
                if accounted { "all".to_string() } else { format!("{}/{size}", runs.iter().map(|r| r.lines).min().unwrap_or(0)) },
            );
        }
        println!("{close:<6} peak RSS at {} / at {}: {:.2}x (target ≤ 1.5x)", sizes[1], sizes[0], rss[1] / rss[0]);
    }
    println!("load average at the end {}", load_average());
    Ok(())
}

/// One fresh `trace echo --summary` process.
fn one_run(close: &str, connections: u64) -> Result<Run, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trace"))
        .args(["echo", "--summary", "--clients", CLIENTS, "--close", close, "-m", "ping", "--connections"])
        .arg(connections.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("trace: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text); // what could not be read is reported as missing below
        text
    });
    let mut out = String::new();
    stdout.read_to_string(&mut out).map_err(|e| format!("reading stdout: {e}"))?;
    let (mut status, mut usage) = (0, unsafe_zeroed_rusage());
    // SAFETY: waits for our own child, writing only into `status` and `usage`.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    if pid < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let err = err.join().map_err(|_| "stderr reader panicked")?;
    // Exit 2 with a totals line is a summary that is not whole: a figure to show, not a failure.
    let exit = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let totals = out.lines().last().filter(|l| l.starts_with("connections ")).filter(|_| matches!(exit, Some(0 | 2)));
    let Some(totals) = totals else {
        return Err(format!("trace echo --summary --close {close} --connections {connections} failed: {err}"));
    };
    if exit == Some(2) {
        eprintln!("{totals}\n{err}");
    }
    let lines = out.lines().count() as u64 - 2; // the header and the totals
    let rate = between(&err, "(", "/s)")?;
    Ok(Run {
        rate,
        begun: between(&err, "trace: ", " connections begun")? as u64,
        lines,
        drops: between(totals, "kernel drops ", ",")? as u64,
        lost: after(totals, "lost tracepoint events ")? as u64,
        open_at_end: between(totals, "(open at the end ", ")")? as u64,
        peak_rss_kb: usage.ru_maxrss as u64,
    })
}

fn unsafe_zeroed_rusage() -> libc::rusage {
    // SAFETY: rusage is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// The number in `text` between `start` and the next `end`.
fn between(text: &str, start: &str, end: &str) -> Result<f64, String> {
    let from = text.find(start).ok_or_else(|| format!("{start:?} not in {text:?}"))? + start.len();
    let rest = &text[from..];
    let to = rest.find(end).ok_or_else(|| format!("{end:?} not after {start:?} in {text:?}"))?;
    rest[..to].trim().parse().map_err(|_| format!("not a number between {start:?} and {end:?}: {:?}", &rest[..to]))
}

/// The number at the end of `text`, after `start`.
fn after(text: &str, start: &str) -> Result<f64, String> {
    let from = text.rfind(start).ok_or_else(|| format!("{start:?} not in {text:?}"))? + start.len();
    text[from..].trim().parse().map_err(|_| format!("not a number after {start:?}: {text:?}"))
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
