//! `trace grade --rubric RUBRIC SUBMISSIONS`: grades every submission, shows a table and
//! writes the reports asked for.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{CliError, EXIT_ERROR, EXIT_INTERRUPTED};
use crate::grade::rubric::Rubric;
use crate::grade::{self, report_gradescope, report_html, report_json, report_junit, report_table, ClassGrades, Options, CACHE_DIR};

#[derive(Args, Debug)]
pub struct GradeArgs {
    /// The rubric (TOML): languages, scenarios, limits, points per step, deductions.
    #[arg(long, value_name = "FILE")]
    rubric: PathBuf,
    /// The folder of submissions: one sub-folder per student, named after them.
    #[arg(value_name = "SUBMISSIONS")]
    submissions: PathBuf,
    /// How many submissions run at once (default: the machine's cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    // 256: sandbox::MAX_SLOTS.
    jobs: Option<u16>,
    /// Where grades are kept between runs (default: SUBMISSIONS/.trace-grade-cache).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Grade every submission again, keeping nothing.
    #[arg(long)]
    no_cache: bool,
    /// Write the grades as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write JUnit XML: one test suite per student, one test case per rubric item.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write Gradescope's `results.json`: one per student in the folder DIR, or, for a single
    /// submission, the file itself when DIR ends with `.json`.
    #[arg(long, value_name = "DIR|FILE")]
    gradescope: Option<PathBuf>,
    /// Write the HTML report: an index and a page per student with their replay.
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
}

pub fn run(args: GradeArgs) -> Result<ExitCode, CliError> {
    if !crate::capture::privilege::is_root() {
        eprintln!("trace grade: needs root: it runs each submission as a user of its own in a network of its own (run it with sudo)");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let text = std::fs::read_to_string(&args.rubric).map_err(|e| CliError::new(format!("grade: cannot read the rubric {}: {e}", args.rubric.display())))?;
    let dir = args.rubric.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = dir.canonicalize().map_err(|e| CliError::new(format!("grade: {}: {e}", dir.display())))?;
    let rubric = Rubric::parse(&text, &dir).map_err(|e| CliError::new(format!("grade: the rubric {}: {e}", args.rubric.display())))?;
    let cache = match (args.no_cache, args.cache) {
        (true, _) => None,
        (false, Some(dir)) => Some(dir),
        (false, None) => Some(args.submissions.join(CACHE_DIR)),
    };
    let jobs = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from);
    let options = Options { rubric, submissions: args.submissions, jobs, cache, progress: true };
    let stop = crate::capture::interrupt::stop_on_termination().map_err(|e| CliError::new(format!("grade: cannot handle signals: {e}")))?;
    let class = grade::grade_class(&options, stop).map_err(|e| CliError::new(format!("grade: {e}")))?;
    let stdout = std::io::stdout();
    report_table::write(&class, &mut stdout.lock()).map_err(|e| CliError::new(format!("grade: {e}")))?;
    write_reports(&class, args.json.as_deref(), args.junit.as_deref(), args.gradescope.as_deref(), args.html.as_deref())?;
    if class.interrupted {
        eprintln!("trace grade: interrupted: {} submissions graded, the others not run", class.grades.len());
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

fn write_reports(class: &ClassGrades, json: Option<&Path>, junit: Option<&Path>, gradescope: Option<&Path>, html: Option<&Path>) -> Result<(), CliError> {
    let fail = |what: &Path, e: std::io::Error| CliError::new(format!("grade: cannot write {}: {e}", what.display()));
    if let Some(path) = json {
        std::fs::write(path, report_json::json(class)).map_err(|e| fail(path, e))?;
    }
    if let Some(path) = junit {
        std::fs::write(path, report_junit::junit(class)).map_err(|e| fail(path, e))?;
    }
    if let Some(dir) = gradescope {
        report_gradescope::write(class, dir).map_err(|e| fail(dir, e))?;
    }
    if let Some(dir) = html {
        report_html::write(class, dir).map_err(|e| fail(dir, e))?;
    }
    Ok(())
}
