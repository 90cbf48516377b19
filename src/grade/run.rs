//! One submission's runs: in its slot's sandbox, on a thread of its own moved into a private
//! network, its build step, then each scenario traced as `trace run --server … --client …`
//! traces (in-process), each bounded by the rubric's timeout. The submission plays the side
//! the rubric says, the reference the other one; a refused scenario runs the client alone.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::rubric::{Language, Role, Rubric, Scenario};
use super::sandbox::{self, Captured, Launches, OutputPipe, Workspace};
use crate::capture::ptrace::{AfterClient, Launch, Programs};
use crate::check::Side;
use crate::live::words::words;
use crate::trace::Trace;

/// How long a reference server may outlive the client it serves before it is ended.
const SERVER_LINGER: Duration = Duration::from_secs(1);

/// What one scenario's run gave.
pub struct ScenarioRun {
    pub scenario: String,
    /// `Err`: nothing could be traced (the program could not start), and why.
    pub trace: Result<Trace, String>,
    /// The run outlived the timeout: its processes were ended.
    pub timed_out: bool,
    pub seconds: f64,
}

/// Everything one submission's runs gave.
pub struct SubmissionRun {
    /// `Some` when the build step failed: its status.
    pub build_failed: Option<String>,
    pub scenarios: Vec<ScenarioRun>,
    /// Everything its processes wrote (the build's too), bounded.
    pub output: Captured,
    /// The build outlived the timeout.
    pub build_timed_out: bool,
    /// Processes of the submission's user that could not be ended (none, but for a process
    /// stuck in the kernel).
    pub left_behind: Vec<i32>,
}

/// What to run: a submission's files in `dir` (a language of the rubric), or the reference.
pub struct Job<'a> {
    pub rubric: &'a Rubric,
    /// The submission's commands (placeholders still in them) for the sides it plays: its
    /// server and its client (`None`: the reference's), and its build step, if any.
    pub server: Option<&'a str>,
    pub client: Option<&'a str>,
    pub build: Option<&'a str>,
    pub memory_mb: u64,
    /// Set by Ctrl-C: no further scenario starts.
    pub stop: &'a AtomicBool,
}

impl<'a> Job<'a> {
    pub fn of(rubric: &'a Rubric, language: &'a Language, stop: &'a AtomicBool) -> Job<'a> {
        let memory_mb = language.memory_mb.unwrap_or(rubric.limits.memory_mb);
        let (server, client) = match rubric.role {
            Role::Server => (Some(language.run.as_str()), None),
            Role::Client => (None, Some(language.run.as_str())),
            Role::Both => (Some(language.run.as_str()), language.client.as_deref()),
        };
        Job { rubric, server, client, build: language.build.as_deref(), memory_mb, stop }
    }

    pub fn reference(rubric: &'a Rubric, stop: &'a AtomicBool) -> Job<'a> {
        Job { rubric, server: None, client: None, build: None, memory_mb: rubric.limits.memory_mb, stop }
    }
}

/// Runs `job` in `slot` on the files `files` of `from`, hiding `hidden` from it; ends every
/// process it started and clears its directory before returning.
pub fn run(job: &Job, workspace: &Workspace, slot: usize, from: &Path, files: &[PathBuf], hidden: &[&Path]) -> Result<SubmissionRun, String> {
    // Nothing of an earlier run may count against this one's limits.
    sandbox::end_all(slot);
    let dir = workspace.checkout(slot, from, files).map_err(|e| format!("cannot copy the submission into its sandbox: {e}"))?;
    let pipe = OutputPipe::open((job.rubric.limits.output_kb as usize) << 10).map_err(|e| format!("cannot open a pipe for its output: {e}"))?;
    let mut launch = sandbox::launch(slot, &dir, &job.rubric.limits, job.memory_mb, pipe.writer.clone());
    // The reference's own run plays every side with the reference's programs: as its user,
    // the only one that may read its files.
    if job.server.is_none() && job.client.is_none() {
        launch.submission = launch.reference.clone();
    }
    let trace_path = workspace.private(slot);
    // `unshare` moves only the calling thread: a thread of its own, ended afterwards, so that
    // no other work ever runs in the submission's network.
    let ran = std::thread::scope(|scope| {
        let thread = scope.spawn(|| -> Result<(Option<String>, bool, Vec<ScenarioRun>), String> {
            crate::netns::private::enter(hidden).map_err(|e| format!("cannot make the private network: {e}"))?;
            // Held until the thread ends: the ports the rubric says are already taken.
            let _occupied: Vec<TcpListener> = job
                .rubric
                .occupied_ports
                .iter()
                .map(|&p| TcpListener::bind((Ipv4Addr::LOCALHOST, p)))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("cannot occupy the rubric's ports: {e}"))?;
            if let Some(build) = job.build {
                let (status, timed_out) = build_step(build, &launch.submission, slot, job.rubric.build_timeout);
                if let Err(status) = status {
                    return Ok((Some(status), timed_out, Vec::new()));
                }
            }
            let mut scenarios = Vec::new();
            for s in job.rubric.scenarios.iter().take_while(|_| !job.stop.load(Ordering::SeqCst)) {
                scenarios.push(scenario(job, s, &launch, slot, &trace_path));
            }
            Ok((None, false, scenarios))
        });
        thread.join().unwrap_or_else(|_| Err("the sandbox's thread panicked".to_string()))
    });
    let left_behind = sandbox::end_all(slot);
    drop(launch);
    let output = pipe.collect();
    workspace.clear(slot);
    let (build_failed, build_timed_out, scenarios) = ran?;
    Ok(SubmissionRun { build_failed, scenarios, output, build_timed_out, left_behind })
}

/// Fills a command's `{name}` placeholders.
fn fill(command: &str, rubric: &Rubric, clients: u32) -> String {
    command.replace("{rubric}", &rubric.dir.to_string_lossy()).replace("{clients}", &clients.to_string())
}

/// Runs the build step (untraced) as the submission would run; `Err` with its end when it
/// fails. The second value: it outlived the timeout.
fn build_step(build: &str, launch: &Launch, slot: usize, timeout: f64) -> (Result<(), String>, bool) {
    let argv = match words(build) {
        Ok(argv) => argv,
        Err(err) => return (Err(format!("the build command {build:?}: {err}")), false),
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if let Err(err) = launch.apply(&mut cmd) {
        return (Err(format!("cannot start the build: {err}")), false);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => return (Err(format!("cannot start the build {build:?}: {err}")), false),
    };
    let watchdog = Watchdog::start(slot, timeout);
    let status = child.wait();
    let timed_out = watchdog.stop();
    match status {
        Ok(s) if s.success() && !timed_out => (Ok(()), false),
        Ok(_) if timed_out => (Err(format!("the build took longer than {timeout} s")), true),
        Ok(s) => (Err(format!("the build {build:?} failed ({s})")), false),
        Err(err) => (Err(format!("the build {build:?} could not be waited for: {err}")), false),
    }
}

/// One scenario, traced: the server, then the client(s) once it listens; or, refused, the
/// client(s) alone, given a port nobody listens on.
fn scenario(job: &Job, scenario: &Scenario, launch: &Launches, slot: usize, trace_path: &Path) -> ScenarioRun {
    let rubric = job.rubric;
    let started = Instant::now();
    let not_run = |why: String| ScenarioRun { scenario: scenario.name.clone(), trace: Err(why), timed_out: false, seconds: 0.0 };
    // The submission takes the place of the reference's program of each side it plays.
    let server = job.server.unwrap_or(scenario.server.as_deref().unwrap_or(&rubric.reference.server));
    let client = job.client.unwrap_or(scenario.client.as_deref().unwrap_or(&rubric.reference.client));
    let mut client = fill(client, rubric, scenario.clients);
    if scenario.refused {
        client = client.replace("{port}", &refused_port(rubric).to_string());
    }
    let client = if scenario.clients == 1 {
        words(&client)
    } else {
        // Several clients through `sh`: at once, or one after the other; the status is a
        // failure's if any failed.
        let script = if scenario.concurrent {
            let starts: Vec<String> = (0..scenario.clients).map(|i| format!("{client} & p{i}=$!")).collect();
            let waits: Vec<String> = (0..scenario.clients).map(|i| format!("wait $p{i}")).collect();
            format!("{}; {}", starts.join("; "), waits.join(" && "))
        } else {
            vec![client.as_str(); scenario.clients as usize].join(" && ")
        };
        Ok(vec!["/bin/sh".to_string(), "-c".to_string(), script])
    };
    let (server, client) = match (words(&fill(server, rubric, scenario.clients)), client) {
        (Ok(s), Ok(c)) if !s.is_empty() && !c.is_empty() => (s, c),
        _ => return not_run("the rubric's commands cannot be read".to_string()),
    };
    // The tracer's own wait for the server to listen ends a session through signal state
    // shared by the whole process (made for one `trace run`), which would reach the sessions
    // running beside this one: it must never fire. The timeout, which ends only this slot's
    // processes, comes first.
    let wait = Duration::from_secs_f64(rubric.timeout) + Duration::from_secs(3600);
    let (programs, launch) = if scenario.refused {
        (Programs::One(client), launch.of(Side::Client, rubric.role).clone())
    } else {
        // A client's server is the reference: left waiting by a client that never connected
        // (or never closed), it is ended soon after the client, not at the timeout, which
        // would blame the client for a hang.
        let after = if rubric.role.plays(Side::Server) { AfterClient::Runs } else { AfterClient::Ended(SERVER_LINGER) };
        (Programs::ServerClient { server, client, wait, after }, launch.session(rubric.role))
    };
    let watchdog = Watchdog::start(slot, rubric.timeout);
    let trace = crate::record::launched(programs, launch, trace_path).map_err(|e| e.to_string());
    let timed_out = watchdog.stop();
    // A process that outlived the trace (none should: every one is traced) ends here, and
    // none is left to count against the next scenario's process limit.
    sandbox::end_all(slot);
    ScenarioRun { scenario: scenario.name.clone(), trace, timed_out, seconds: started.elapsed().as_secs_f64() }
}

/// The port a refused scenario's client is given: nobody listens on it in the private network
/// (nothing does but the rubric's occupied ports), and it is the same in every run, so that
/// the reference's trace and the submission's read alike.
fn refused_port(rubric: &Rubric) -> u16 {
    (1..=u16::MAX).find(|p| !rubric.occupied_ports.contains(p)).unwrap_or(u16::MAX)
}

/// Ends every process of a slot once `timeout` seconds have passed, unless stopped first.
/// It fired only if one of them still ran then: a session whose programs had all ended, and
/// whose own tracing took it past the timeout (its lenses' stop on a loaded machine), ran on
/// time.
struct Watchdog {
    stop: mpsc::Sender<()>,
    fired: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(slot: usize, timeout: f64) -> Watchdog {
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = std::thread::spawn(move || {
            if stopped.recv_timeout(Duration::from_secs_f64(timeout)) == Err(mpsc::RecvTimeoutError::Timeout) {
                let running = sandbox::any_running(slot);
                sandbox::kill_all(slot);
                return running;
            }
            false
        });
        Watchdog { stop, fired }
    }

    /// Stops the watchdog; whether it had fired.
    fn stop(self) -> bool {
        let _ = self.stop.send(());
        self.fired.join().unwrap_or(false)
    }
}
