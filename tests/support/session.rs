//! A `trace` session running in the background, for tests that act on it while it runs
//! (connect to its server, signal it): its standard output's lines arrive as it shows them.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use socktrace::trace::read_trace;

use super::{trace, trace_bin};

/// How long a step may take before the test gives up: generous, for a loaded machine; it only
/// stops a hung test, it measures nothing.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// `trace ARGS` running, its standard output's lines arriving on the receiver.
pub struct Running {
    pub child: Child,
    lines: Receiver<String>,
    /// The lines shown so far.
    pub shown: Vec<String>,
}

impl Running {
    /// Starts `trace ARGS`.
    pub fn start(args: &[&str]) -> Running {
        let mut command = Command::new(trace_bin());
        command.args(args);
        Running::spawn(command)
    }

    /// Starts `command`, which runs `trace` (itself, or by exec as its last step).
    pub fn spawn(mut command: Command) -> Running {
        let mut child = command.env("NO_COLOR", "1").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("trace starts");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines, shown: Vec::new() }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a shown line that holds every one of `needles`; returns it.
    pub fn wait_for(&mut self, needles: &[&str]) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.shown.push(line.clone());
                    if needles.iter().all(|n| line.contains(n)) {
                        return line;
                    }
                }
                Err(_) => {
                    panic!("trace never showed a line with {needles:?}; it showed:\n{}", self.shown.join("\n"));
                }
            }
        }
    }

    /// The port the traced server listens on on loopback (see [`Running::port_bound_on`]).
    pub fn server_port(&mut self) -> u16 {
        self.port_bound_on("127.0.0.1")
    }

    /// The port the traced server bound on `ip`, from its `bind` call's end, once its `listen`
    /// has returned: connected to between the two, a server refuses (a loaded machine showed
    /// the bind before the listen had run).
    pub fn port_bound_on(&mut self, ip: &str) -> u16 {
        let local = format!(r#""local":"{ip}:"#);
        let line = self.wait_for(&[r#""kind":"call_end""#, r#""call":"bind""#, &local]);
        let local = line.split(local.as_str()).nth(1).expect("an address");
        let port = local[..local.find('"').expect("its end")].parse().expect("a port");
        self.wait_for(&[r#""kind":"call_end""#, r#""call":"listen""#]);
        port
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on the process this test started (not yet waited for, so its pid is
        // still its own).
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0, "signal trace");
    }

    /// Waits for `trace` to exit; returns its exit code and standard error.
    pub fn wait_exit(mut self) -> (Option<i32>, String, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                panic!("trace did not end after the signal");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        self.child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
        self.shown.extend(self.lines.iter());
        (status.code(), err, std::mem::take(&mut self.shown))
    }
}

impl Drop for Running {
    /// A test that fails midway must not leave its `trace` running: it is interrupted as a
    /// user would (so that it lets go of its kernel lenses), then killed if that did not end it.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        self.signal(libc::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The children `trace` process `pid` left its kernel lenses to (`capture::release`) that
/// still run.
pub fn releasers_of(pid: i32) -> usize {
    let session = format!("release-held --session {pid} ");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).replace('\0', " ").contains(&session))
        .count()
}

/// Waits until the children `trace` process `pid` left its kernel lenses to have ended,
/// within moments of its exit.
pub fn assert_released(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while releasers_of(pid) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(releasers_of(pid), 0, "the releasing child has ended");
}

/// What every interrupted session must leave: a trace that reads back whole, holding every
/// event shown before the signal, that `show` and `check` read; its lenses let go of.
pub fn assert_left_whole(path: &Path, pid: i32, shown_before: &[String]) {
    let saved = read_trace(path).unwrap_or_else(|e| panic!("the trace reads back: {e}"));
    assert!(saved.end.is_some(), "the trace has its end line");
    let text = std::fs::read_to_string(path).expect("the trace");
    let lines: std::collections::HashSet<&str> = text.lines().collect();
    for line in shown_before.iter().filter(|l| l.starts_with(r#"{"t":"#)) {
        assert!(lines.contains(line.as_str()), "shown before the signal but not saved: {line}");
    }
    let file = path.to_string_lossy();
    let show = trace(&["show", &file]);
    assert_eq!(show.status.code(), Some(0), "trace show: {}", String::from_utf8_lossy(&show.stderr));
    let check = trace(&["check", &file]);
    assert_ne!(check.status.code(), Some(2), "trace check reads it: {}", String::from_utf8_lossy(&check.stderr));
    assert_released(pid);
}
