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

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn trace_echo_snapshot_is_byte_identical_across_runs_under_load() {
    if !live_test_allowed("snapshot stability of trace echo") {
        return;
    }
    assert_echo_snapshots_identical("stability_echo", &[]);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
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

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
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

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn trace_echo_snapshot() {
    if !live_test_allowed("snapshot of trace echo") {
        return;
    }
    let text = echo_snapshot(&scratch("snapshot_echo"), 0, &["-m", "hello", "-m", "bye"]);
    insta::assert_snapshot!("trace_echo", text);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn trace_echo_udp_snapshot() {
    if !live_test_allowed("snapshot of trace echo --udp") {
        return;
    }
    let text = echo_snapshot(&scratch("snapshot_echo_udp"), 0, &["--udp", "-m", "hello", "-m", "bye"]);
    insta::assert_snapshot!("trace_echo_udp", text);
}

/// The first line where two snapshots differ, with its neighbours, for a failure message.
fn first_difference(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let at = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)).unwrap_or(0);
    let from = at.saturating_sub(3);
    format!("line {}:\n  run 0: {:?}\n  run k: {:?}\n  before: {:?}", at + 1, a.get(at), b.get(at), &a[from..at.min(a.len())])
}

/// Every correct program of the style matrix (`fixtures/programs/matrix/`), recorded again and
/// again with both cores kept busy, gives one snapshot: concurrent clients, forked children,
/// event loops, runtimes with threads of their own, UDP, IPv6.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn matrix_styles_give_byte_identical_snapshots_across_runs_under_load() {
    use crate::support::matrix::{self, STYLES};
    if !live_test_allowed("snapshot stability of the style matrix") {
        return;
    }
    let dir = scratch("stability_matrix");
    let n = runs();
    let mut failures = Vec::new();
    for style in STYLES.iter().filter(|s| s.wrong.is_none()) {
        let missing = matrix::missing_tools(style);
        if !missing.is_empty() {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "the {} style needs {}: .ci/run installs it", style.name, missing.join(", "));
            eprintln!("SKIPPED the {} style: it needs {}", style.name, missing.join(", "));
            continue;
        }
        let built = matrix::build(style, &dir.join("build")).unwrap_or_else(|e| panic!("{e}"));
        let _load = Load::start();
        let snap = |i: usize| -> Result<String, String> {
            let trace = matrix::record(style, &built, &dir.join(format!("{}-{i}.jsonl", style.name)))?;
            Ok(snapshot(&trace))
        };
        let first = match snap(0) {
            Ok(first) => first,
            Err(e) => {
                failures.push(format!("{}: {e}", style.name));
                continue;
            }
        };
        let mut same = 1;
        let mut differing = None;
        for i in 1..n {
            match snap(i) {
                Ok(next) if next == first => same += 1,
                Ok(next) => {
                    differing.get_or_insert_with(|| format!("run {i}: {}", first_difference(&first, &next)));
                }
                Err(e) => {
                    differing.get_or_insert(format!("run {i}: {e}"));
                }
            }
        }
        eprintln!("{}: {same}/{n} snapshots identical", style.name);
        if let Some(d) = differing {
            failures.push(format!("{}: {same}/{n} identical; {d}", style.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Two recorded runs of the Node echo (`fixtures/timing/`): in one the server accepted before
/// the client wrote; in the other, slowed down, it accepted only after the client's data had
/// reached the connection waiting in its queue (named `q1` until `accept` returned it as
/// `s2`). The same programs, so the same snapshot and the same verdict.
#[test]
fn a_connection_accepted_after_its_data_arrived_gives_the_snapshot_of_one_accepted_before() {
    let read = |name: &str| {
        socktrace::trace::read_trace(std::path::Path::new(&crate::support::fixture_path(&format!("timing/{name}")))).unwrap_or_else(|e| panic!("{e}"))
    };
    let (early, late) = (read("node-accept-then-data.jsonl"), read("node-data-then-accept.jsonl"));
    assert!(
        late.events.iter().any(|e| matches!(&e.body, socktrace::event::Body::Packet(p) if p.len > 0 && p.to.as_ref().is_some_and(|to| to.0 == "q1"))),
        "the late run's data reaches the queued connection"
    );
    // Both conform: the queued connection's handshake is the accepted socket's.
    for trace in [&early, &late] {
        let report = socktrace::check::check(trace, &socktrace::check::CheckOptions::default());
        assert_eq!(report.verdict(), socktrace::check::Verdict::Conforms, "{report}");
    }
    let (early, late) = (snapshot(&early), snapshot(&late));
    assert_eq!(early, late);
    assert!(!late.contains("(was"), "the queued name is the accepted socket's in a snapshot:\n{late}");
}

/// A live half-close (`fixtures/timing/`) in which the server's kernel acknowledged the
/// client's FIN alone before its own FIN: its lesson-level view is the model's, where the
/// server's FIN carries that acknowledgment.
#[test]
fn a_fin_acknowledged_alone_before_the_peers_fin_gives_the_lesson_view_of_one_acknowledged_with_it() {
    let path = crate::support::fixture_path("timing/half-close-fin-acked-alone.jsonl");
    let live = socktrace::trace::read_trace(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let wire = |view: String| view.lines().find(|l| l.starts_with("c1 wire:")).map(str::to_string);
    // The server's FIN, and the same acknowledgment sent on its own before it.
    let server_segments: Vec<&socktrace::event::TcpSegment> = live
        .events
        .iter()
        .filter_map(|e| match &e.body {
            socktrace::event::Body::Packet(p) if e.actor.role == socktrace::event::Role::Server => p.tcp.as_ref(),
            _ => None,
        })
        .collect();
    let fin = server_segments.iter().position(|t| t.flags.contains(socktrace::tcp::flags::TcpFlags::FIN)).expect("the server's FIN");
    assert!(
        fin > 0 && server_segments[fin - 1].flags == socktrace::tcp::flags::TcpFlags::ACK && server_segments[fin - 1].ack == server_segments[fin].ack,
        "the fixture holds the ACK of the client's FIN on its own, just before the server's FIN"
    );
    let model = socktrace::sim::trace("half-close", &socktrace::sim::Options::default(), "test").expect("the model's half-close");
    let (live, model) = (wire(socktrace::normalize::lesson_view(&live.events)), wire(socktrace::normalize::lesson_view(&model.events)));
    assert_eq!(live, model);
}
