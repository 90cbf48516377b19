//! Snapshots are a fair grader only if they are byte-identical from run to run: the same
//! session, recorded again and again while other work keeps both cores busy, must give the
//! same snapshot text every time.
//!
//! CI runs 20 repetitions. The stress command runs more and reports how many matched:
//! `SOCKTRACE_STABILITY_RUNS=100 cargo test --release --test main stability -- --nocapture`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socktrace::capture::privilege::live_test_allowed;
use socktrace::normalize::snapshot;

use crate::support::{load, scratch, stderr, trace};

/// Two threads spinning until told to stop (at most a minute): the machine is busy.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start() -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn runs() -> usize {
    std::env::var("SOCKTRACE_STABILITY_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(20)
}

/// Records `trace echo ARGS` and returns its snapshot text.
fn echo_snapshot(dir: &std::path::Path, n: usize, args: &[&str]) -> String {
    let path = dir.join(format!("run{n}.jsonl"));
    let mut all = vec!["echo", "--save", path.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    let out = trace(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    snapshot(&load(&path))
}

/// Records `trace echo ARGS` again and again under load; panics at the first snapshot that
/// differs from the first run's.
fn assert_echo_snapshots_identical(name: &str, args: &[&str]) {
    let dir = scratch(name);
    let _load = Load::start();
    let first = echo_snapshot(&dir, 0, args);
    let n = runs();
    let mut same = 1;
    let mut differing = None;
    for i in 1..n {
        let next = echo_snapshot(&dir, i, args);
        if next == first {
            same += 1;
        } else if differing.is_none() {
            differing = Some((i, next));
        }
    }
    eprintln!("trace echo {} snapshots identical: {same}/{n}", args.join(" "));
    if let Some((i, text)) = differing {
        panic!("run {i} differs from run 0 ({same}/{n} identical)\n--- run 0\n{first}\n--- run {i}\n{text}");
    }
}

#[test]
fn trace_echo_snapshot_is_byte_identical_across_runs_under_load() {
    if !live_test_allowed("snapshot stability of trace echo") {
        return;
    }
    assert_echo_snapshots_identical("stability_echo", &[]);
}

#[test]
fn trace_echo_udp_snapshot_is_byte_identical_across_runs_under_load() {
    if !live_test_allowed("snapshot stability of trace echo --udp") {
        return;
    }
    assert_echo_snapshots_identical("stability_echo_udp", &["--udp"]);
}

/// The snapshot of `trace run` over a Perl server and a Python client.
fn perl_python_snapshot() -> String {
    let programs = |name: &str| crate::support::fixture_path(&format!("programs/{name}"));
    let (server, client) = (programs("echo_server.pl"), programs("echo_client.py"));
    let trace = socktrace::record::server_and_client(&["perl", &server], &["python3", &client, "{port}"]).unwrap_or_else(|e| panic!("{e}"));
    snapshot(&trace)
}

#[test]
fn trace_run_perl_server_python_client_snapshot_is_byte_identical_across_runs_under_load() {
    if !live_test_allowed("snapshot stability of trace run") {
        return;
    }
    let _load = Load::start();
    let first = perl_python_snapshot();
    assert!(first.contains("accept4(s1"), "{first}");
    let n = runs();
    let mut same = 1;
    for i in 1..n {
        let next = perl_python_snapshot();
        if next != first {
            panic!("run {i} differs from run 0 ({same}/{n} identical so far)\n--- run 0\n{first}\n--- run {i}\n{next}");
        }
        same += 1;
    }
    eprintln!("trace run (Perl server, Python client) snapshots identical: {same}/{n}");
}

#[test]
fn trace_echo_snapshot() {
    if !live_test_allowed("snapshot of trace echo") {
        return;
    }
    let text = echo_snapshot(&scratch("snapshot_echo"), 0, &["-m", "hello", "-m", "bye"]);
    insta::assert_snapshot!("trace_echo", text);
}

#[test]
fn trace_echo_udp_snapshot() {
    if !live_test_allowed("snapshot of trace echo --udp") {
        return;
    }
    let text = echo_snapshot(&scratch("snapshot_echo_udp"), 0, &["--udp", "-m", "hello", "-m", "bye"]);
    insta::assert_snapshot!("trace_echo_udp", text);
}
