//! A submission's grade from its runs: each rubric item is a documented step of one of the
//! sockets of the side the submission plays, met in every scenario where a connection is made
//! or not (with the check's reasons, naming the step, as the feedback); each deduction is a
//! failure that happened in any run (a refused scenario's is how the client ended); the
//! snapshot is compared with the reference's, first differing line and step.

use serde::{Deserialize, Serialize};

use super::rubric::{Failure, Failures, Item, Role, Rubric, Scenario};
use super::run::{ScenarioRun, SubmissionRun};
use crate::check::{check, CheckOptions, Outcome, Side};
use crate::event::Exit;
use crate::normalize::diff::first_difference;
use crate::render::style::Style;
use crate::replay::Replay;
use crate::sequence::ACTIVE_OPEN;
use crate::trace::Trace;

/// One submission's grade: what every report shows, and what the cache keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Grade {
    pub student: String,
    pub language: Option<String>,
    pub score: f64,
    pub max_score: f64,
    pub items: Vec<ItemGrade>,
    /// The deductions taken, each once.
    pub deductions: Vec<DeductionTaken>,
    /// Everything that went wrong in a run, whether the rubric deducts for it or not.
    pub failures: Vec<Failure>,
    /// About the whole submission: a build's failure, a run that could not start, the first
    /// difference from the reference's snapshot.
    pub feedback: Vec<String>,
    /// What its programs wrote, bounded, and how many bytes they wrote in all.
    pub output: String,
    pub output_bytes: u64,
    pub seconds: f64,
    /// Per scenario: the check's verdict as the terminal prints it, plain.
    pub checks: Vec<(String, String)>,
    /// The first scenario's replay (the book widget's data, JSON), for the HTML report.
    pub replay: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ItemGrade {
    pub name: String,
    pub score: f64,
    pub max_score: f64,
    /// Why it is not met, one line each, naming the step and the scenario; empty when met.
    pub feedback: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeductionTaken {
    pub name: String,
    pub when: Failure,
    pub points: f64,
}

impl Grade {
    /// The grade of a submission that could not be run at all, and why.
    pub fn unrun(student: &str, rubric: &Rubric, why: String) -> Grade {
        let items = rubric
            .items
            .iter()
            .map(|i| ItemGrade { name: i.name.clone(), score: 0.0, max_score: i.points, feedback: vec![format!("not graded: {why}")] })
            .collect();
        Grade {
            student: student.to_string(),
            language: None,
            score: 0.0,
            max_score: rubric.max_points(),
            items,
            deductions: Vec::new(),
            failures: Vec::new(),
            feedback: vec![why],
            output: String::new(),
            output_bytes: 0,
            seconds: 0.0,
            checks: Vec::new(),
            replay: None,
        }
    }
}

/// Grades `run` of `student` against the reference's traces (one per scenario, in the
/// rubric's order).
pub fn grade(student: &str, language: Option<&str>, rubric: &Rubric, run: &SubmissionRun, reference: &[Trace]) -> Grade {
    let mut failures = Failures::new();
    let mut feedback = Vec::new();
    let mut items: Vec<ItemGrade> =
        rubric.items.iter().map(|i| ItemGrade { name: i.name.clone(), score: i.points, max_score: i.points, feedback: Vec::new() }).collect();
    if let Some(build) = &run.build_failed {
        failures.insert(Failure::BuildFailed);
        feedback.push(format!("build: {build}"));
        for item in &mut items {
            item.feedback.push("not graded: the build failed".to_string());
        }
    }
    if run.build_timed_out {
        failures.insert(Failure::Timeout);
    }
    if run.output.total > run.output.text.len() as u64 {
        failures.insert(Failure::OutputFlood);
        feedback.push(format!("output: {} bytes written, more than the {} KiB kept", run.output.total, rubric.limits.output_kb));
    }
    if !run.left_behind.is_empty() {
        feedback.push(format!("processes that could not be ended: {:?}", run.left_behind));
    }
    let mut checks = Vec::new();
    let mut replay = None;
    for (k, (scenario, planned)) in run.scenarios.iter().zip(&rubric.scenarios).enumerate() {
        let trace = match &scenario.trace {
            Ok(trace) => trace,
            Err(err) => {
                feedback.push(format!("scenario {:?}: nothing traced: {err}", scenario.scenario));
                for item in &mut items {
                    item.feedback.push(format!("scenario {:?}: not run", scenario.scenario));
                }
                continue;
            }
        };
        let ended = run_failures(rubric.role, planned, scenario, trace);
        if ended.contains(&Failure::RefusalIgnored) {
            feedback.push(refusal_feedback(scenario, trace));
        }
        let ends = trace.end.iter().flat_map(|e| &e.programs);
        for (end, failed) in ends.zip([Failure::ServerFailed, Failure::ClientFailed]).filter(|(_, f)| ended.contains(f)) {
            let side = if failed == Failure::ServerFailed { "server" } else { "client" };
            feedback.push(format!("scenario {:?}: the reference {side} {}", scenario.scenario, end.how()));
        }
        failures.extend(ended);
        let report = check(trace, &CheckOptions { side: rubric.role.checked() });
        // A refused connection ends the documented sequence at connect, as it must: how the
        // client ended is what counts there, not the steps it could not take.
        if !planned.refused {
            for (item, graded) in rubric.items.iter().zip(&mut items) {
                graded.feedback.extend(item_feedback(item, &report, &scenario.scenario));
            }
        }
        let mut text = Vec::new();
        // Into memory: cannot fail.
        let _ = report.render(Style::plain(), &mut text);
        checks.push((scenario.scenario.clone(), String::from_utf8_lossy(&text).into_owned()));
        if let Some(reference) = reference.get(k) {
            if let Some(diff) = first_difference(reference, trace) {
                failures.insert(Failure::SnapshotDiffers);
                let step = diff.step.map_or(String::new(), |s| format!(" ({s})"));
                feedback.push(format!(
                    "scenario {:?}: the snapshot differs from the reference's at line {}{step}: the reference has {:?}, yours {:?}",
                    scenario.scenario,
                    diff.line.1,
                    diff.left.as_deref().unwrap_or("(its end)").trim_end(),
                    diff.right.as_deref().unwrap_or("(its end)").trim_end()
                ));
            }
        }
        if replay.is_none() {
            replay = serde_json::to_string(&Replay::of(trace)).ok();
        }
    }
    for item in &mut items {
        if !item.feedback.is_empty() {
            item.score = 0.0;
        }
    }
    let deductions: Vec<DeductionTaken> = rubric
        .deductions
        .iter()
        .filter(|d| failures.contains(&d.when))
        .map(|d| DeductionTaken { name: d.name.clone(), when: d.when, points: d.points })
        .collect();
    let earned: f64 = items.iter().map(|i| i.score).sum::<f64>() - deductions.iter().map(|d| d.points).sum::<f64>();
    Grade {
        student: student.to_string(),
        language: language.map(str::to_string),
        score: earned.max(0.0),
        max_score: rubric.max_points(),
        items,
        deductions,
        failures: failures.into_iter().collect(),
        feedback,
        output: run.output.text.clone(),
        output_bytes: run.output.total,
        seconds: run.scenarios.iter().map(|s| s.seconds).sum(),
        checks,
        replay,
    }
}

/// What went wrong in one scenario's run, from how its programs ended (in the order they
/// were started): the server first, the client (started once the server listened) second;
/// the submission plays `role`, the reference the other side. In a refused scenario the
/// client runs alone and must end with a status other than 0 of its own. The reference's own
/// runs are held to the same: any failure there is the rubric's.
pub fn run_failures(role: Role, planned: &Scenario, scenario: &ScenarioRun, trace: &Trace) -> Failures {
    let mut failures = Failures::new();
    let ends = trace.end.as_ref().map(|e| e.programs.as_slice()).unwrap_or_default();
    if scenario.timed_out {
        failures.insert(Failure::Timeout);
    }
    // A program ended by the timeout did not crash: the timeout says what happened.
    let killed = |exit: &Exit| !scenario.timed_out && matches!(exit, Exit::Signal { .. });
    let failed = |exit: &Exit| !scenario.timed_out && *exit != Exit::Status { code: 0 };
    if planned.refused {
        let client = ends.first().map(|c| &c.exit);
        if client.is_some_and(killed) {
            failures.insert(Failure::Crashed);
        }
        if scenario.timed_out || !matches!(client, Some(Exit::Status { code: 1.. })) {
            failures.insert(Failure::RefusalIgnored);
        }
        return failures;
    }
    // Each side's failure: the submission's own, or its reference's.
    let of = |side: Side, reference: Failure| if role.plays(side) { Failure::Crashed } else { reference };
    // A reference server still running after the client (ended by trace, however it exited
    // then) was left waiting by the client.
    if ends.first().is_some_and(|server| failed(&server.exit) || server.ended_by_trace) {
        failures.insert(of(Side::Server, Failure::ServerFailed));
    }
    match ends.get(1) {
        Some(client) if failed(&client.exit) => {
            failures.insert(of(Side::Client, Failure::ClientFailed));
        }
        Some(_) => {}
        None => {
            failures.insert(Failure::NeverListened);
        }
    }
    failures
}

/// What a client that did not report a refused connection is told, naming the step.
fn refusal_feedback(scenario: &ScenarioRun, trace: &Trace) -> String {
    let connect = ACTIVE_OPEN.steps.iter().find(|s| s.id == "connect").map_or("connect", |s| s.title);
    let client = trace.end.as_ref().and_then(|e| e.programs.first());
    let how = match client {
        _ if scenario.timed_out => "was still running at the timeout".to_string(),
        Some(end) => end.exit.to_string(),
        None => "never ended".to_string(),
    };
    format!(
        "scenario {:?}: step \"{connect}\": nobody listens on the port, so the connection is refused; the client {how}: it must say so and exit with a status other than 0",
        scenario.scenario
    )
}

/// Why `item` is not met in one scenario's check (nothing when it is).
fn item_feedback(item: &Item, report: &crate::check::Report, scenario: &str) -> Vec<String> {
    let sockets: Vec<_> = report.sockets.iter().filter(|s| s.part == item.part).collect();
    let title = item.step_title();
    if sockets.is_empty() {
        return vec![format!("scenario {scenario:?}: step \"{title}\": the trace has no {}", item.part.noun().trim_start_matches("the "))];
    }
    let mut out = Vec::new();
    for socket in sockets {
        let Some(step) = socket.steps.iter().find(|s| s.step.id == item.step) else { continue };
        match step.outcome() {
            Outcome::Met | Outcome::Ended | Outcome::NotObserved => {}
            Outcome::NotReached => out.push(format!("scenario {scenario:?}: step \"{title}\" of {}: not reached (an earlier step was not met)", socket.socket)),
            Outcome::NotMet => {
                for reason in &step.reasons {
                    out.push(format!("scenario {scenario:?}: step \"{title}\" of {}: {reason}", socket.socket));
                }
            }
        }
    }
    out
}
