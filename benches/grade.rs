//! `trace grade`'s throughput and the cost of its sandbox: `cargo bench --bench grade` (as
//! root, with python3).
//!
//! COPIES (default 200) copies of the template's good Python submission are graded with the
//! template's rubric cut to its first scenario (one client), without a cache: at 1 worker and
//! at 2, submissions per second each (the reference's own runs included, as `trace grade`
//! makes them).
//!
//! The sandbox's cost: the same server and reference client traced COPIES times without it,
//! one after another (`socktrace::record::server_and_client`, what `trace run --server
//! --client` does: no user of its own, no private network, no limits, no copy of the files),
//! in the same run of the bench; the ratio of the time per submission graded at 1 worker to
//! the time per unisolated run.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use common::env_or;
use socktrace::capture::privilege::is_root;
use socktrace::grade::rubric::Rubric;
use socktrace::grade::{grade_class, Options};

/// The sandbox's PATH (`grade::sandbox::launch`).
const SANDBOX_PATH: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];

fn main() -> ExitCode {
    common::exit("grade", run())
}

fn run() -> Result<(), String> {
    if !is_root() {
        return Err("needs root (the sandbox's users and networks, the kernel lenses): run `sudo -E cargo bench --bench grade`".into());
    }
    let copies: usize = env_or("COPIES", 200).clamp(1, 10_000);
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/grade");
    let text = std::fs::read_to_string(template.join("rubric.toml")).map_err(|e| e.to_string())?;
    let mut rubric = Rubric::parse(&text, &template)?;
    rubric.scenarios.truncate(1);
    let subs = std::env::temp_dir().join(format!("socktrace-bench-grade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&subs);
    let good = template.join("submissions/good_python/server.py");
    for n in 0..copies {
        let dir = subs.join(format!("student-{n:04}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::copy(&good, dir.join("server.py")).map_err(|e| e.to_string())?;
    }
    let result = measure(rubric, &subs, &template, copies);
    let _ = std::fs::remove_dir_all(&subs);
    result
}

fn measure(rubric: Rubric, subs: &Path, template: &Path, copies: usize) -> Result<(), String> {
    static NEVER: AtomicBool = AtomicBool::new(false);
    println!("trace grade: {copies} copies of fixtures/grade/submissions/good_python, one scenario (one client) each");
    let mut per_submission_1 = f64::NAN;
    for jobs in [1, 2] {
        let options = Options { rubric: rubric.clone(), submissions: subs.to_path_buf(), jobs, cache: None, progress: false };
        let started = Instant::now();
        let class = grade_class(&options, &NEVER)?;
        let secs = started.elapsed().as_secs_f64();
        let full = class.grades.iter().filter(|g| g.score >= g.max_score).count();
        if full != copies {
            return Err(format!("{full} of {copies} copies got full marks at {jobs} workers"));
        }
        println!("{jobs} worker{}  {:>7.1} submissions/s  ({secs:.1} s)", if jobs == 1 { " " } else { "s" }, copies as f64 / secs);
        if jobs == 1 {
            per_submission_1 = secs / copies as f64;
        }
    }
    let server: PathBuf = template.join("submissions/good_python/server.py");
    let client = template.join("reference/client.py");
    let (server, client) = (server.to_string_lossy(), client.to_string_lossy());
    // The interpreter the sandbox finds on its PATH, not a shim that ours may hold.
    let python = SANDBOX_PATH.iter().map(|d| Path::new(d).join("python3")).find(|p| p.exists()).ok_or("no python3 in /usr/local/bin, /usr/bin or /bin")?;
    let python = python.to_string_lossy();
    let started = Instant::now();
    for _ in 0..copies {
        socktrace::record::server_and_client(&[&python, &server, "1"], &[&python, &client, "{port}", "127.0.0.1", "3"]).map_err(|e| e.to_string())?;
    }
    let per_run = started.elapsed().as_secs_f64() / copies as f64;
    println!("unisolated trace run  {:>7.1} runs/s  ({:.1} ms a run)", 1.0 / per_run, per_run * 1e3);
    println!(
        "isolation's cost     {:.2}× the unisolated run's time ({:.1} ms a submission at 1 worker, {:+.1} ms)",
        per_submission_1 / per_run,
        per_submission_1 * 1e3,
        (per_submission_1 - per_run) * 1e3
    );
    Ok(())
}
