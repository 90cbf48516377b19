//! `trace grade`: a class's echo servers (or clients), each run in a sandbox against the
//! instructor's reference client (or server), traced, and graded by the documented sequence
//! they follow.
//!
//! - [`rubric`]: the rubric file (TOML): languages, scenarios, limits, points, deductions;
//! - [`rubric_files`]: the rubric's own files, copied where the sandbox's users can read them;
//! - [`sandbox`]: a user, a directory and limits per worker slot, and how all of a slot's
//!   processes are ended; the private network is [`crate::netns::private`];
//! - [`run`]: one submission's build and scenarios, traced in-process as `trace run` traces;
//! - [`score`]: the grade from the traces: the check's steps, the failures, the snapshot;
//! - [`cache`]: grades kept by the hash of the submission, the rubric and our version;
//! - the reports, one file per format: [`report_table`], [`report_json`], [`report_junit`],
//!   [`report_gradescope`], [`report_html`].
//!
//! Submissions run side by side, one per worker slot; each slot's user is its own, so no
//! submission can see, signal or outlast another.

pub mod cache;
pub mod report_gradescope;
pub mod report_html;
pub mod report_json;
pub mod report_junit;
pub mod report_table;
pub mod rubric;
pub mod rubric_files;
pub mod run;
pub mod sandbox;
pub mod score;

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cache::Cache;
use rubric::Rubric;
use run::Job;
use sandbox::{Workspace, MAX_BYTES, MAX_FILES};
use score::Grade;

use crate::trace::Trace;

/// What `trace grade` is asked to do.
pub struct Options {
    pub rubric: Rubric,
    pub submissions: PathBuf,
    pub jobs: usize,
    /// Where grades are kept between runs (`None`: not kept).
    pub cache: Option<PathBuf>,
    /// Show a progress line on standard error (when it is a terminal).
    pub progress: bool,
}

/// The grades of a class, in the submissions' order (by folder name).
pub struct ClassGrades {
    pub title: String,
    pub grades: Vec<Grade>,
    /// How many grades came from the cache.
    pub cached: usize,
    /// Ctrl-C stopped the grading: `grades` holds those finished before it.
    pub interrupted: bool,
}

/// The folder a submission's cache defaults to, inside the submissions folder (and so hidden
/// from the submissions with it).
pub const CACHE_DIR: &str = ".trace-grade-cache";

/// Grades every submission (each sub-folder of `options.submissions`); `stop` (Ctrl-C) ends
/// the runs under way, and no new one starts.
pub fn grade_class(options: &Options, stop: &AtomicBool) -> Result<ClassGrades, String> {
    let submissions = list_submissions(&options.submissions)?;
    if submissions.is_empty() {
        // Nothing to run, not even the reference.
        return Ok(ClassGrades { title: options.rubric.title.clone(), grades: Vec::new(), cached: 0, interrupted: false });
    }
    let workspace = Workspace::create().map_err(|e| format!("cannot make the sandbox's workspace: {e}"))?;
    let cache = options.cache.clone().map(Cache::open).transpose().map_err(|e| format!("cannot open the cache: {e}"))?;
    let hidden = canonical(&options.submissions)?;
    let mut hide = vec![hidden.as_path()];
    let cache_dir = options.cache.as_ref().map(|c| canonical(c)).transpose()?;
    if let Some(dir) = cache_dir.as_deref().filter(|d| !d.starts_with(&hidden)) {
        hide.push(dir);
    }
    let copied = rubric_files::copy(&options.rubric, &workspace.root.join("rubric"), &hide)
        .map_err(|e| format!("cannot copy the rubric's files into the sandbox's workspace: {e}"))?;
    // A reference file changed is a rubric changed.
    let fingerprint = cache::key(&options.rubric.text, &copied.root, &copied.files).map_err(|e| format!("cannot read the rubric's files: {e}"))?;
    let rubric = Rubric { dir: copied.dir, ..options.rubric.clone() };
    let jobs = options.jobs.max(1);
    let active: Vec<AtomicBool> = (0..jobs).map(|_| AtomicBool::new(false)).collect();
    let reference = reference_traces(&rubric, &workspace, &hide, stop)?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<(Grade, bool)>>> = Mutex::new(vec![None; submissions.len()]);
    let tally = Mutex::new(Tally::default());
    let started = Instant::now();
    let class = Class { rubric: &rubric, fingerprint: &fingerprint, workspace: &workspace, cache: cache.as_ref(), hide: &hide, reference: &reference, stop };
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Ctrl-C: every slot's processes end at once; the runs then end by themselves.
        let (finished, active) = (&finished, &active);
        scope.spawn(move || {
            while !finished.load(Ordering::SeqCst) {
                if stop.load(Ordering::SeqCst) {
                    (0..jobs).filter(|&s| active[s].load(Ordering::SeqCst)).for_each(sandbox::kill_all);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let workers: Vec<_> = (0..jobs)
            .map(|slot| {
                let (next, results, tally, submissions, class) = (&next, &results, &tally, &submissions, &class);
                scope.spawn(move || loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let Some((student, dir)) = submissions.get(n) else { break };
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    active[slot].store(true, Ordering::SeqCst);
                    let graded = class.grade_one(student, dir, slot);
                    active[slot].store(false, Ordering::SeqCst);
                    if stop.load(Ordering::SeqCst) {
                        // A run cut short by Ctrl-C is no grade.
                        break;
                    }
                    let mut tally = lock(tally);
                    tally.add(&graded.0, graded.1);
                    if options.progress && io::stderr().is_terminal() {
                        tally.show(submissions.len(), started.elapsed());
                    }
                    lock(results)[n] = Some(graded);
                })
            })
            .collect();
        for worker in workers {
            let _ = worker.join();
        }
        finished.store(true, Ordering::SeqCst);
    });
    if options.progress && io::stderr().is_terminal() {
        eprintln!();
    }
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let cached = results.iter().flatten().filter(|(_, c)| *c).count();
    Ok(ClassGrades {
        title: options.rubric.title.clone(),
        grades: results.into_iter().flatten().map(|(g, _)| g).collect(),
        cached,
        interrupted: stop.load(Ordering::SeqCst),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn canonical(path: &Path) -> Result<PathBuf, String> {
    path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))
}

/// The reference's trace in each scenario (its server and client, or its client alone where
/// the connection is refused), run in a sandbox as a submission is. A reference that cannot be
/// traced, or whose programs do not end as a submission's must, is the rubric's problem:
/// nothing would be graded fairly against it.
fn reference_traces(rubric: &Rubric, workspace: &Workspace, hide: &[&Path], stop: &AtomicBool) -> Result<Vec<Trace>, String> {
    let run = run::run(&Job::reference(rubric, stop), workspace, 0, Path::new("/"), &[], hide)?;
    let mut traces = Vec::new();
    for (scenario, planned) in run.scenarios.iter().zip(&rubric.scenarios) {
        let trace = scenario.trace.as_ref().map_err(|e| format!("the reference in scenario {:?}: {e}", scenario.scenario))?;
        let failures = score::run_failures(rubric.role, planned, scenario, trace);
        if !failures.is_empty() {
            let ends: Vec<String> = trace.end.iter().flat_map(|e| &e.programs).map(|p| p.to_string()).collect();
            let failures: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
            return Err(format!(
                "the reference fails in scenario {:?} ({}): {}; its output: {}",
                scenario.scenario,
                failures.join(", "),
                if scenario.timed_out { "it ran past the timeout".to_string() } else { ends.join(", ") },
                run.output.text.trim_end()
            ));
        }
        traces.push(trace.clone());
    }
    Ok(traces)
}

/// What every submission of a class is graded with.
struct Class<'a> {
    /// The rubric, its `{rubric}` the copy of its files in the workspace.
    rubric: &'a Rubric,
    /// The hash of the rubric's text and files, for the cache's key.
    fingerprint: &'a str,
    workspace: &'a Workspace,
    cache: Option<&'a Cache>,
    /// Hidden from every submission: the submissions folder, the cache.
    hide: &'a [&'a Path],
    /// The reference's trace in each scenario.
    reference: &'a [Trace],
    stop: &'a AtomicBool,
}

impl Class<'_> {
    /// Grades one submission in `slot` (or takes its grade from the cache: the second value
    /// says so).
    fn grade_one(&self, student: &str, dir: &Path, slot: usize) -> (Grade, bool) {
        let Class { rubric, fingerprint, workspace, cache, hide, reference, stop } = *self;
        let failed = |why: String| Grade::unrun(student, rubric, why);
        let files = match list_files(dir) {
            Ok(files) => files,
            Err(err) => return (failed(err), false),
        };
        let key = cache::key(fingerprint, dir, &files).ok();
        if let (Some(cache), Some(key)) = (cache, &key) {
            if let Some(grade) = cache.get(student, key) {
                return (grade, true);
            }
        }
        let Some(language) = rubric.language_of(&files) else {
            let expected: Vec<&str> = rubric.languages.iter().map(|l| l.file.as_str()).collect();
            return (failed(format!("no file the rubric knows: a submission holds one of {}", expected.join(", "))), false);
        };
        let grade = match run::run(&Job::of(rubric, language, stop), workspace, slot, dir, &files, hide) {
            Ok(run) => score::grade(student, Some(&language.name), rubric, &run, reference),
            Err(err) => failed(err),
        };
        if let (Some(cache), Some(key), false) = (cache, &key, stop.load(Ordering::SeqCst)) {
            // A grade not kept is graded again next time: no reason to stop.
            let _ = cache.put(student, key, &grade);
        }
        (grade, false)
    }
}

/// The submissions: every folder in `dir` but hidden ones (the cache), by name.
fn list_submissions(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read the submissions folder {}: {e}", dir.display()))?;
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    out.sort();
    Ok(out)
}

/// A submission's regular files, relative to its folder, sorted; symbolic links and special
/// files are left out (a link could point anywhere).
fn list_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let (mut files, mut bytes, mut stack) = (Vec::new(), 0u64, vec![PathBuf::new()]);
    while let Some(rel) = stack.pop() {
        let entries = fs::read_dir(dir.join(&rel)).map_err(|e| format!("cannot read {}: {e}", dir.join(&rel).display()))?;
        for entry in entries.filter_map(Result::ok) {
            let Ok(kind) = entry.file_type() else { continue };
            let path = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                bytes += entry.metadata().map_or(0, |m| m.len());
                files.push(path);
            }
            if files.len() > MAX_FILES || bytes > MAX_BYTES {
                return Err(format!("more than {MAX_FILES} files or {} MiB: not graded", MAX_BYTES >> 20));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The running tally shown while grading.
#[derive(Default)]
struct Tally {
    done: usize,
    full: usize,
    zero: usize,
    cached: usize,
}

impl Tally {
    fn add(&mut self, grade: &Grade, cached: bool) {
        self.done += 1;
        self.cached += usize::from(cached);
        if grade.score >= grade.max_score {
            self.full += 1;
        } else if grade.score <= 0.0 {
            self.zero += 1;
        }
    }

    /// One line, rewritten in place: `[####    ] 12/40 · 9 full marks · 1 partial · 2 zero`.
    fn show(&self, total: usize, elapsed: Duration) {
        const WIDTH: usize = 24;
        let filled = WIDTH * self.done / total.max(1);
        let bar = format!("{}{}", "#".repeat(filled), " ".repeat(WIDTH - filled));
        let partial = self.done - self.full - self.zero;
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r[{bar}] {}/{total} · {} full marks · {partial} partial · {} zero · {} cached · {:.0} s",
            self.done,
            self.full,
            self.zero,
            self.cached,
            elapsed.as_secs_f64()
        );
        let _ = err.flush();
    }
}
