//! `trace run`'s own cost, side by side with strace's: `cargo bench --bench run` (as root,
//! with strace and a C compiler).
//!
//! `pingpong.c`, compiled here with `cc -O2`, makes N round trips of 16 bytes on one loopback
//! TCP connection (a server and its client, two processes; four socket calls a round trip).
//! It runs alone, under `strace -f -o /dev/null`, under `strace -f --seccomp-bpf` stopping only
//! at the calls socktrace follows (its seccomp list), under `trace run --save` with every lens,
//! and alone, under strace and under `trace run` again held on one CPU, each in turn, round
//! after round;
//! min, median and max of each.
//!
//! Fixed cost of a session: one round trip (`pingpong 1`), less the program alone. This is
//! what a short program pays: `trace run` starts its kernel lenses when the first socket
//! binds or connects and stops them after the programs end (perf events opened and closed, a
//! packet ring mapped and closed; the closes are left to a child process). `trace run -- true`, which makes no socket and
//! so starts no lens, is shown beside it.
//!
//! Cost per traced call: the slope between CALLS round trips and one, over the socket calls
//! the extra round trips made (the trace's call starts; strace -c's count of the same set of
//! calls is shown beside it, which also counts the loader's reads and closes of files). The
//! fixed cost, counted above, is not counted again here.
//!
//! The saved trace of a run is removed before the next one, outside the timing: emptying tens
//! of MB that an earlier run left takes the file system a while, which is not a call's cost.
//!
//! Wall time on a virtual machine moves with how fast an idle CPU is woken for the next stop
//! (strace's own medians move twofold from one minute to the next here): the per-call figures
//! are given by the medians, by the fastest rounds, and by CPU time (all processes and threads
//! of a run, which such waits do not count). Each stop hands the CPU from the tracee to the
//! tracer and back; where they run on two CPUs, the one woken is often idle, and waking an
//! idle virtual CPU costs the host a round of its own: 20,000 round trips under strace took
//! 1.23 s with both CPUs of this machine idle, 0.46 s with a busy program on the other CPU,
//! and 0.46 s with strace and its tracees all held on one CPU. So the program alone, strace
//! and `trace run` are also measured held on one CPU (`sched_setaffinity`, which the traced
//! programs inherit): there no stop waits for a CPU to wake, and the slope, counted from the
//! program alone on one CPU, is each tool's own work per call.
//!
//! Env: ROUNDS (default 10, for the fixed cost), CALLS (default 20000), CALL_ROUNDS (default 5).

mod common;

use common::{env_or, median};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use socktrace::capture::privilege::is_root;
use socktrace::capture::ptrace::syscalls::Sys;
use socktrace::event::Body;
use socktrace::trace::{LensStatus, TraceReader};

/// No run lasts longer than this: it is killed, and the bench fails.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// At most this many round trips, whatever CALLS says (traced, ~0.1 ms each).
const MAX_CALLS: u64 = 200_000;

const TRACE: &str = env!("CARGO_BIN_EXE_trace");

fn main() -> ExitCode {
    common::exit("run", run())
}

fn run() -> Result<(), String> {
    if !is_root() {
        return Err("needs root (packet capture, tracefs, perf events): run `sudo -E cargo bench --bench run`".into());
    }
    for (tool, package) in [("strace", "strace"), ("cc", "gcc")] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Err(format!("{tool} is not installed: run `apt-get install -y {package}`, then this bench again"));
        }
    }
    let rounds = env_or("ROUNDS", 10).max(1);
    let calls = env_or("CALLS", 20_000).clamp(2, MAX_CALLS);
    let call_rounds = env_or("CALL_ROUNDS", 5).max(1);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let program = compile(&dir)?;
    let workload = Workload::new(&program, &dir)?;
    println!("load average {}", load_average());
    without_sockets(rounds, &dir)?;
    println!();
    let one = workload.measure(1, rounds, &dir)?;
    one.print(&format!("fixed cost of a session: one round trip of 16 bytes on one loopback TCP connection, {rounds} rounds"));
    let fixed = |i: usize| one.median(i) - one.median(alone(i));
    println!(
        "fixed cost (median less the program alone): trace run {:.1} ms (goal ≤ 50 ms), strace -f {:.1} ms; on one CPU: trace run {:.1} ms, strace -f {:.1} ms",
        fixed(TRACE_RUN) * 1e3,
        fixed(STRACE) * 1e3,
        fixed(TRACE_RUN_1) * 1e3,
        fixed(STRACE_1) * 1e3
    );
    println!();
    let many = workload.measure(calls, call_rounds, &dir)?;
    many.print(&format!("cost per traced call: {calls} round trips, {call_rounds} rounds"));
    let strace_count = strace_count(&[workload.program.as_str(), &calls.to_string()], &workload.trace_set, &dir)?;
    // The calls the extra round trips made, and each tool's time for them: by the medians and
    // by the fastest rounds of wall time (on a virtual machine, how fast an idle CPU wakes for
    // the next stop varies from minute to minute), and by CPU time, which that does not move.
    let extra_calls = many.socket_calls() - one.socket_calls();
    let slope = |at: Figure, i: usize| ((at(&many, i) - at(&many, alone(i))) - (at(&one, i) - at(&one, alone(i)))) * 1e6 / extra_calls;
    let by: [(&str, Figure); 3] = [("wall, medians", &Measured::median), ("wall, fastest rounds", &Measured::min), ("CPU, medians", &Measured::median_cpu)];
    println!(
        "socket calls made: {:.0} (the trace's call starts, {:.0} of them beyond one round trip); strace -c counts {strace_count} calls of the same set",
        many.socket_calls(),
        extra_calls
    );
    println!("{:<48} {:>14} {:>14} {:>14}", "µs per call", by[0].0, by[1].0, by[2].0);
    for (i, label) in LABELS.iter().enumerate().filter(|&(i, _)| alone(i) != i) {
        println!("{label:<48} {:>14.2} {:>14.2} {:>14.2}", slope(by[0].1, i), slope(by[1].1, i), slope(by[2].1, i));
    }
    for (name, at) in by {
        println!(
            "trace run ÷ strace -f, {name}: {:.2}× (goal ≤ 1.0×); ÷ strace -f --seccomp-bpf: {:.2}×; both on one CPU: {:.2}×",
            slope(at, TRACE_RUN) / slope(at, STRACE),
            slope(at, TRACE_RUN) / slope(at, STRACE_BPF),
            slope(at, TRACE_RUN_1) / slope(at, STRACE_1)
        );
    }
    let recorded = one.recorded.iter().chain(&many.recorded);
    let lost: u64 = recorded.map(|r| r.lost).sum();
    println!(
        "trace run recorded {:.0} events a run of {calls} round trips; packets dropped + state events lost + events out of order, all runs: {lost}",
        median(many.recorded.iter().map(|r| r.events as f64))
    );
    println!("load average at the end {}", load_average());
    Ok(())
}

/// `true` alone, under strace and under trace run: a program without sockets, for which
/// `trace run` starts no kernel lens.
fn without_sockets(rounds: usize, dir: &Path) -> Result<(), String> {
    let commands: [(&str, Vec<&str>); 3] = [
        ("true", vec!["true"]),
        ("strace -f -o /dev/null true", vec!["strace", "-f", "-o", "/dev/null", "true"]),
        ("trace run -- true (no socket: no lens starts)", vec![TRACE, "run", "--", "true"]),
    ];
    // A first round unmeasured: binaries and libraries into the page cache.
    for (_, argv) in &commands {
        timed(argv, false, dir)?;
    }
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        for ((_, argv), times) in commands.iter().zip(&mut times) {
            times.push(timed(argv, false, dir)?.wall * 1e3);
        }
    }
    println!("a program without sockets, {rounds} rounds (ms):");
    println!("{:<48} {:>8} {:>8} {:>8}", "", "min", "median", "max");
    for ((label, _), times) in commands.iter().zip(&times) {
        let (min, max) = (times.iter().copied().fold(f64::INFINITY, f64::min), times.iter().copied().fold(0.0, f64::max));
        println!("{label:<48} {min:>8.2} {:>8.2} {max:>8.2}", median(times.iter().copied()));
    }
    Ok(())
}

/// What one `trace run` of the workload recorded.
struct Recorded {
    call_starts: u64,
    events: u64,
    /// Packets dropped, state events lost, events out of order.
    lost: u64,
}

/// One figure of a way of running the workload: its median wall time, say.
type Figure<'a> = &'a dyn Fn(&Measured, usize) -> f64;

/// The ways the workload runs, in this order: alone and under each tool, then again alone and
/// under the two tools held on one CPU.
const LABELS: [&str; WAYS] = [
    "pingpong alone",
    "strace -f -o /dev/null",
    "strace -f --seccomp-bpf (socktrace's calls)",
    "trace run --save (every lens)",
    "pingpong alone, on one CPU",
    "strace -f -o /dev/null, on one CPU",
    "trace run --save, on one CPU",
];

/// Each way's place in [`LABELS`].
const ALONE: usize = 0;
const STRACE: usize = 1;
const STRACE_BPF: usize = 2;
const TRACE_RUN: usize = 3;
const ALONE_1: usize = 4;
const STRACE_1: usize = 5;
const TRACE_RUN_1: usize = 6;
const WAYS: usize = 7;

/// The ways `trace run` saves a trace.
const TRACE_RUNS: [usize; 2] = [TRACE_RUN, TRACE_RUN_1];

/// The ways held on one CPU.
const ON_ONE_CPU: [usize; 3] = [ALONE_1, STRACE_1, TRACE_RUN_1];

/// The program alone, as way `i` runs it: the baseline its tool's cost is counted from.
fn alone(i: usize) -> usize {
    if ON_ONE_CPU.contains(&i) {
        ALONE_1
    } else {
        ALONE
    }
}

/// The workload and the settings of the tools that trace it.
struct Workload {
    program: String,
    /// strace's `-e trace=` list: the calls socktrace follows.
    trace_set: String,
    saved: PathBuf,
}

/// The wall times of each way of running the workload (seconds), and what each trace run
/// recorded.
struct Measured {
    times: [Vec<f64>; WAYS],
    cpu: [Vec<f64>; WAYS],
    recorded: Vec<Recorded>,
}

impl Workload {
    fn new(program: &Path, dir: &Path) -> Result<Workload, String> {
        let program = program.to_str().ok_or("the target dir's path is not UTF-8")?.to_string();
        let followed: Vec<&str> = Sys::ALL.iter().filter(|s| s.nr().is_some()).map(|s| s.name()).collect();
        Ok(Workload { program, trace_set: format!("trace={}", followed.join(",")), saved: dir.join("pingpong.jsonl") })
    }

    /// `rounds` rounds of `n` round trips, each way in turn.
    fn measure(&self, n: u64, rounds: usize, dir: &Path) -> Result<Measured, String> {
        let n = n.to_string();
        let saved = self.saved.to_str().ok_or("the target dir's path is not UTF-8")?;
        let program = self.program.as_str();
        let strace = vec!["strace", "-f", "-o", "/dev/null", program, &n];
        let trace = vec![TRACE, "run", "--save", saved, "--", program, &n];
        let commands: [Vec<&str>; WAYS] = [
            vec![program, &n],
            strace.clone(),
            vec!["strace", "-f", "--seccomp-bpf", "-e", &self.trace_set, "-o", "/dev/null", program, &n],
            trace.clone(),
            vec![program, &n],
            strace,
            trace,
        ];
        let mut measured = Measured { times: Default::default(), cpu: Default::default(), recorded: Vec::new() };
        for _ in 0..rounds {
            for (i, argv) in commands.iter().enumerate() {
                let saves = TRACE_RUNS.contains(&i);
                if saves {
                    let _ = std::fs::remove_file(&self.saved); // see the module's words
                }
                let run = timed(argv, ON_ONE_CPU.contains(&i), dir)?;
                measured.times[i].push(run.wall);
                measured.cpu[i].push(run.cpu);
                if saves {
                    measured.recorded.push(read_recorded(&self.saved)?);
                }
            }
        }
        let _ = std::fs::remove_file(&self.saved); // tens of MB; a leftover is only disk space
        Ok(measured)
    }
}

impl Measured {
    fn median(&self, i: usize) -> f64 {
        median(self.times[i].iter().copied())
    }

    fn min(&self, i: usize) -> f64 {
        self.times[i].iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn median_cpu(&self, i: usize) -> f64 {
        median(self.cpu[i].iter().copied())
    }

    /// The socket calls a trace run saw (median of the rounds).
    fn socket_calls(&self) -> f64 {
        median(self.recorded.iter().map(|r| r.call_starts as f64))
    }

    fn print(&self, title: &str) {
        println!("{title} (s):");
        println!("{:<48} {:>8} {:>8} {:>8} {:>10}", "", "min", "median", "max", "CPU median");
        for (i, (label, times)) in LABELS.iter().zip(&self.times).enumerate() {
            let max = times.iter().copied().fold(0.0, f64::max);
            println!("{label:<48} {:>8.4} {:>8.4} {max:>8.4} {:>10.4}", self.min(i), self.median(i), self.median_cpu(i));
        }
    }
}

/// Compiles `pingpong.c` into `dir`.
fn compile(dir: &Path) -> Result<PathBuf, String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pingpong.c");
    let out = dir.join("pingpong");
    let status = Command::new("cc").args(["-O2", "-Wall", "-o"]).arg(&out).arg(&source).status().map_err(|e| format!("cc: {e}"))?;
    if !status.success() {
        return Err(format!("cc could not compile {} ({status})", source.display()));
    }
    Ok(out)
}

/// The call starts, event count and losses of a saved trace, which must have every lens.
fn read_recorded(path: &Path) -> Result<Recorded, String> {
    let mut reader = TraceReader::open(path).map_err(|e| e.to_string())?;
    let lenses = &reader.header().lenses;
    if [&lenses.calls, &lenses.packets, &lenses.states].iter().any(|l| **l != LensStatus::Observed) {
        return Err(format!("trace run ran without every lens: {lenses:?}"));
    }
    let (mut call_starts, mut events) = (0, 0);
    for event in reader.by_ref() {
        let event = event.map_err(|e| e.to_string())?;
        events += 1;
        call_starts += u64::from(matches!(event.body, Body::CallStart(_)));
    }
    let end = reader.end().ok_or_else(|| format!("{} has no end record", path.display()))?;
    Ok(Recorded { call_starts, events, lost: end.packets_dropped + end.states_lost + end.out_of_order })
}

/// How many calls of `trace_set` strace counts in one run of `argv` (`strace -c`'s total).
fn strace_count(argv: &[&str], trace_set: &str, dir: &Path) -> Result<u64, String> {
    let table = dir.join("strace-c.txt");
    let table_arg = table.to_str().ok_or("the target dir's path is not UTF-8")?;
    let mut all = vec!["strace", "-f", "-c", "--seccomp-bpf", "-e", trace_set, "-o", table_arg];
    all.extend_from_slice(argv);
    timed(&all, false, dir)?;
    let text = std::fs::read_to_string(&table).map_err(|e| format!("{}: {e}", table.display()))?;
    // `100.00    0.123456           1     80012        12 total`: the calls are the 4th column.
    let total = text.lines().find(|l| l.trim_end().ends_with(" total")).ok_or_else(|| format!("no total in strace -c's table: {text}"))?;
    total.split_whitespace().nth(3).and_then(|n| n.parse().ok()).ok_or_else(|| format!("strace -c's total line: {total}"))
}

/// What one run took: its wall time, and the CPU time of every process it made (user and
/// system, all threads), in seconds.
struct Run {
    wall: f64,
    cpu: f64,
}

/// User and system CPU time of the children reaped so far, in seconds.
fn children_cpu() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the pointer it is given.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    // SAFETY: zeroed is a valid rusage, and getrusage filled it.
    let usage = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Runs `argv` to its end, its output discarded, and gives its wall and CPU time (a process's
/// CPU time counts those of the children it reaped: the traced programs'). A run that fails
/// or outlasts RUN_LIMIT (then killed) is an error that quotes its standard error. With
/// `one_cpu`, it and every process and thread it makes run on the first CPU this bench may
/// use (see the module's words).
fn timed(argv: &[&str], one_cpu: bool, dir: &Path) -> Result<Run, String> {
    let what = argv.join(" ");
    let errors = dir.join("stderr.txt");
    let err_file = File::create(&errors).map_err(|e| format!("{}: {e}", errors.display()))?;
    let cpu_before = children_cpu();
    let start = Instant::now();
    let mut command = Command::new(argv[0]);
    command.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(err_file);
    if one_cpu {
        let cpu = first_cpu()?;
        // SAFETY: between fork and exec the child only makes one system call, which neither
        // allocates nor takes a lock.
        unsafe {
            command.pre_exec(move || {
                let mut set = std::mem::zeroed::<libc::cpu_set_t>();
                libc::CPU_SET(cpu, &mut set);
                match libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
    }
    let mut child = command.spawn().map_err(|e| format!("{what}: {e}"))?;
    // Waits on a pidfd, which says when the child ends without reaping it: a child that
    // outlasts the limit is still ours to kill.
    if !exits_within(child.id(), RUN_LIMIT)? {
        let _ = child.kill(); // already gone is fine: it is reaped below either way
        let _ = child.wait();
        return Err(format!("`{what}` ran longer than {RUN_LIMIT:?}: killed"));
    }
    let status = child.wait().map_err(|e| format!("{what}: {e}"))?;
    let run = Run { wall: start.elapsed().as_secs_f64(), cpu: children_cpu() - cpu_before };
    if !status.success() {
        let text = std::fs::read_to_string(&errors).unwrap_or_default();
        return Err(format!("`{what}` failed ({status}): {}", text.trim()));
    }
    Ok(run)
}

/// Whether process `pid` (our child) ends within `limit`.
fn exits_within(pid: u32, limit: Duration) -> Result<bool, String> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(format!("pidfd_open: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as libc::c_int) };
    let mut poll = libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&fd), events: libc::POLLIN, revents: 0 };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // SAFETY: one live pollfd, its count passed alongside.
        let n = unsafe { libc::poll(&mut poll, 1, left.as_millis() as libc::c_int) };
        match n {
            1.. => return Ok(true),
            0 => return Ok(false),
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => continue,
            _ => return Err(format!("poll(pidfd): {}", std::io::Error::last_os_error())),
        }
    }
}

/// The first CPU this process may run on.
fn first_cpu() -> Result<usize, String> {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity fills the one it is given.
    let mut set = unsafe { std::mem::zeroed::<libc::cpu_set_t>() };
    // SAFETY: the set's size is passed alongside it.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return Err(format!("sched_getaffinity: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: CPU_ISSET reads the set for an index below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize).find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }).ok_or_else(|| "no CPU to run on".to_string())
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
