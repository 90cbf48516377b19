//! `trace grade` on the templates (`fixtures/grade/`, servers; `fixtures/grade/clients/`,
//! clients): every good submission gets full marks, every bad one the deduction its rubric
//! names, with feedback naming the step; the hostile ones are contained (bounded, a clear
//! verdict, the others unaffected, nothing left behind: processes, namespaces, files), also on
//! Ctrl-C; the JUnit XML holds to the JUnit schema and the Gradescope results to Gradescope's
//! documented fields.

#![allow(non_snake_case)] // names read situation__outcome

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use socktrace::capture::privilege::live_test_allowed;
use socktrace::grade::sandbox::uids_of;

use crate::support::{scratch, trace_bin};

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/grade")
}

/// The template whose submissions are clients.
fn clients_template() -> PathBuf {
    template().join("clients")
}

/// A copy of the submissions of the template in `template` (a test must not leave a cache in
/// the repository).
fn submissions(template: &Path, dir: &Path, only: &[&str]) -> PathBuf {
    let subs = dir.join("submissions");
    std::fs::create_dir_all(&subs).expect("scratch");
    for entry in std::fs::read_dir(template.join("submissions")).expect("the template") {
        let entry = entry.expect("an entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !only.is_empty() && !only.contains(&name.as_str()) {
            continue;
        }
        copy_dir(&entry.path(), &subs.join(&name));
    }
    subs
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("a folder") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("a copy");
    }
}

/// The processes of the sandbox users of the `trace grade` whose pid is `pid`, from /proc:
/// `Name`, `Umask` and `State` of each, and its command line.
fn sandbox_processes(pid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").filter_map(Result::ok) {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
        let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|u| u.split_whitespace().next()?.parse::<u32>().ok());
        if uid.is_some_and(|u| uids_of(pid).contains(&u)) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            out.push(format!("{} {}", status.lines().take(3).collect::<Vec<_>>().join(" "), String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    out
}

fn netns_list() -> String {
    let out = Command::new("ip").args(["netns", "list"]).output().expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nothing of a finished `trace grade` (pid `pid`) is left: no process of a sandbox user, no
/// network namespace, no workspace.
fn nothing_left(pid: u32, netns_before: &str) {
    assert_eq!(sandbox_processes(pid), Vec::<String>::new(), "processes left behind");
    assert_eq!(netns_list(), netns_before, "network namespaces left behind");
    let workspace = Path::new(GRADER_TMP).join(format!("socktrace-grade-{pid}"));
    assert!(!workspace.exists(), "the workspace {} was left behind", workspace.display());
}

/// Where the grader makes its workspace (its `TMPDIR`): where the hostile submission
/// `reads_others` looks for the reference's files.
const GRADER_TMP: &str = "/tmp";

/// `trace grade` of `subs` with the rubric of the template in `template`.
fn grade_command(template: &Path, subs: &Path, dir: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(trace_bin());
    command
        .args(["grade", "--rubric"])
        .arg(template.join("rubric.toml"))
        .arg("--cache")
        .arg(dir.join("cache"))
        .args(extra)
        .arg(subs)
        .env("NO_COLOR", "1")
        .env("TMPDIR", GRADER_TMP)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A student, their score, the deductions taken, and each item lost with what its feedback
/// says.
type Expected = (&'static str, f64, &'static [&'static str], &'static [(&'static str, &'static str)]);

/// What the template's rubric gives each submission: its score, the failures its deductions
/// name, and the rubric items it loses (each with feedback naming the step).
const EXPECTED: &[Expected] = &[
    ("good_c", 10.0, &[], &[]),
    ("good_python", 10.0, &[], &[]),
    ("good_java", 10.0, &[], &[]),
    ("good_go", 10.0, &[], &[]),
    ("evil<&>\"name", 10.0, &[], &[]),
    // Speaking first breaks no step of the server's sequence: the client's wrong echo says it.
    ("writes_first", 9.0, &["client-failed"], &[]),
    ("no_listener_close", 9.0, &[], &[("closes the listening socket", "step \"Close")]),
    // A client lost mid-conversation ends the whole server: its sockets are never closed.
    ("crashes_on_reset", 7.0, &["crashed"], &[("closes each connection", "never closed the accepted socket")]),
    ("never_accepts", 4.0, &["client-failed"], &[("accepts each client", "accept never called")]),
    ("hangs", 2.0, &["timeout"], &[("accepts each client", "accept never called")]),
    ("fork_bomb", 0.0, &["timeout", "never-listened"], &[("listens", "step \"Wait for clients")]),
    ("floods_output", 0.0, &["timeout", "never-listened", "output-flood"], &[("listens", "step \"Wait for clients")]),
    ("non_loopback", 0.0, &["never-listened", "crashed"], &[("listens", "step \"Wait for clients")]),
    ("fixed_port", 0.0, &["never-listened", "crashed"], &[("binds it", "bind failed with EADDRINUSE")]),
    ("reads_others", 10.0, &[], &[]),
];

#[test]
fn template__good_get_full_marks__bad_their_deductions__hostile_contained__reports_valid() {
    if !live_test_allowed("trace grade on the template") {
        return;
    }
    let dir = scratch("grade-template");
    // Plus one whose folder name is hostile text for every report.
    let subs = submissions(&template(), &dir, &[]);
    copy_dir(&subs.join("good_python"), &subs.join("evil<&>\"name"));
    let netns_before = netns_list();
    let started = Instant::now();
    let json = dir.join("grades.json");
    let junit = dir.join("junit.xml");
    let child = grade_command(
        &template(),
        &subs,
        &dir,
        &["--jobs", "2", "--json", path(&json), "--junit", path(&junit), "--gradescope", path(&dir.join("gs")), "--html", path(&dir.join("html"))],
    )
    .spawn()
    .expect("trace grade starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("trace grade ends");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "trace grade failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    nothing_left(pid, &netns_before);
    // Bounded: the hostile ones end at their limits, side by side with the others.
    assert!(elapsed < Duration::from_secs(120), "grading took {elapsed:?}");

    let grades: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).expect("JSON");
    let by_student = graded_as_expected(&grades, EXPECTED, &stdout);
    // Contained, with a clear verdict in what they wrote.
    let output = |s: &str| by_student[s]["output"].as_str().expect("output").to_string();
    assert!(output("non_loopback").contains("Network is unreachable"), "{}", output("non_loopback"));
    assert!(!output("non_loopback").contains("ESCAPED"));
    assert!(output("reads_others").contains("denied"), "{}", output("reads_others"));
    assert!(output("reads_others").contains("/rubric/reference: Permission denied"), "the reference's files: {}", output("reads_others"));
    assert!(!output("reads_others").contains("LEAKED"), "{}", output("reads_others"));
    assert!(output("fixed_port").contains("Address already in use"), "{}", output("fixed_port"));
    let flood = by_student["floods_output"];
    assert!(flood["output_bytes"].as_u64().expect("bytes") > 64 << 10);
    assert!(output("floods_output").len() <= 64 << 10);

    junit_is_valid(&std::fs::read_to_string(&junit).expect("the JUnit report"), EXPECTED.len());
    for &(student, ..) in EXPECTED {
        let results = std::fs::read_to_string(dir.join("gs").join(student).join("results.json")).expect("a results.json");
        gradescope_is_valid(&serde_json::from_str(&results).expect("JSON"), student);
    }
    html_is_escaped(&dir.join("html"));

    // Again: nothing has changed, every grade comes from the cache.
    let again = grade_command(&template(), &subs, &dir, &["--jobs", "2"]).output().expect("trace grade runs");
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(again.contains(&format!("{0} graded ({0} from the cache)", EXPECTED.len())), "{again}");
}

/// Every student of `expected` has the score and the deductions it lists, and loses the items
/// it lists (each with feedback saying what it says); nobody else is graded. The grades by
/// student.
fn graded_as_expected<'g>(grades: &'g Value, expected: &[Expected], stdout: &str) -> BTreeMap<&'g str, &'g Value> {
    let by_student: BTreeMap<&str, &Value> = grades["grades"].as_array().expect("grades").iter().map(|g| (g["student"].as_str().expect("a name"), g)).collect();
    assert_eq!(by_student.len(), expected.len(), "{stdout}");
    for &(student, score, failures, lost) in expected {
        let grade = by_student.get(student).unwrap_or_else(|| panic!("{student} not graded:\n{stdout}"));
        assert_eq!(grade["score"].as_f64(), Some(score), "{student}'s score:\n{stdout}\n{grade:#}");
        let taken: Vec<&str> = grade["deductions"].as_array().expect("deductions").iter().map(|d| d["when"].as_str().expect("when")).collect();
        assert_eq!(taken, failures, "{student}'s deductions:\n{stdout}");
        let items = grade["items"].as_array().expect("items");
        for &(item, says) in lost {
            let item = items.iter().find(|i| i["name"] == item).expect("the item");
            assert_eq!(item["score"].as_f64(), Some(0.0), "{student}: {item}");
            let feedback: Vec<&str> = item["feedback"].as_array().expect("feedback").iter().filter_map(Value::as_str).collect();
            let feedback = feedback.join("\n");
            assert!(feedback.contains(says), "{student}: the feedback does not say {says:?}: {feedback}");
        }
    }
    by_student
}

/// What the client template's rubric gives each client.
const EXPECTED_CLIENTS: &[Expected] = &[
    ("good_c", 10.0, &[], &[]),
    ("good_python", 10.0, &[], &[]),
    ("never_closes", 8.0, &[], &[("closes its socket", "step \"Close the socket\" of c1: the client never closed its socket")]),
    // Its send fails (EPIPE), it says so and exits 1; the reference server, left waiting, is
    // ended a second later. The refused scenario it meets: it reports and exits 1.
    (
        "never_connects",
        1.0,
        &["crashed", "server-failed"],
        &[("names the server", "connect never called"), ("connects", "step \"Connect"), ("sends and reads the echo", "send failed with EPIPE")],
    ),
    ("ignores_refusal", 8.0, &["refusal-ignored"], &[]),
    ("retries_forever", 6.0, &["timeout", "refusal-ignored"], &[]),
    // Refused, its connect raises: a report (a traceback) and status 1, which meets it.
    ("hangs", 3.0, &["timeout"], &[("sends and reads the echo", "the client never called send"), ("closes its socket", "never closed its socket")]),
];

#[test]
fn client_template__good_get_full_marks__bad_their_deductions__refused_reported_or_not() {
    if !live_test_allowed("trace grade on the client template") {
        return;
    }
    let dir = scratch("grade-clients");
    let subs = submissions(&clients_template(), &dir, &[]);
    let netns_before = netns_list();
    let json = dir.join("grades.json");
    let child = grade_command(&clients_template(), &subs, &dir, &["--jobs", "2", "--json", path(&json)]).spawn().expect("trace grade starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("trace grade ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "trace grade failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    nothing_left(pid, &netns_before);
    let grades: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).expect("JSON");
    let by_student = graded_as_expected(&grades, EXPECTED_CLIENTS, &stdout);
    // Those items and no others.
    for &(student, _, _, lost) in EXPECTED_CLIENTS {
        let items = by_student[student]["items"].as_array().expect("items");
        let lost_names: Vec<&str> = items.iter().filter(|i| i["score"] != i["max_score"]).filter_map(|i| i["name"].as_str()).collect();
        assert_eq!(lost_names, lost.iter().map(|(item, _)| *item).collect::<Vec<_>>(), "{student}'s items lost:\n{stdout}");
    }
    // The refused scenario's verdict names the step and how the client ended.
    let feedback = |s: &str| by_student[s]["feedback"].as_array().expect("feedback").iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n");
    assert!(
        feedback("ignores_refusal").contains("step \"Connect (active open)") && feedback("ignores_refusal").contains("exited with status 0"),
        "{}",
        feedback("ignores_refusal")
    );
    assert!(feedback("retries_forever").contains("still running at the timeout"), "{}", feedback("retries_forever"));
    let left_waiting = "the reference server was killed by signal SIGTERM, ended by trace: it still ran after the client had ended";
    assert!(feedback("never_connects").contains(left_waiting), "{}", feedback("never_connects"));
    let output = |s: &str| by_student[s]["output"].as_str().expect("output").to_string();
    assert!(output("good_c").contains("connect: Connection refused"), "{}", output("good_c"));
}

/// Submissions that are a server and its client, each pair made of the two templates'
/// samples (`fixtures/grade/both/` holds the rubric only): the same files, graded as one.
const PAIRS: &[(&str, &str, &str)] =
    &[("good_c", "good_c", "good_c"), ("good_python", "good_python", "good_python"), ("never_closes", "good_c", "never_closes")];

#[test]
fn both_sides__a_good_pair_gets_full_marks__a_client_that_never_closes_loses_that_step() {
    if !live_test_allowed("trace grade, both sides from the submission") {
        return;
    }
    let dir = scratch("grade-both");
    let subs = dir.join("submissions");
    for &(student, server, client) in PAIRS {
        let to = subs.join(student);
        copy_dir(&template().join("submissions").join(server), &to);
        copy_dir(&clients_template().join("submissions").join(client), &to);
    }
    let json = dir.join("grades.json");
    let out = grade_command(&template().join("both"), &subs, &dir, &["--jobs", "2", "--json", path(&json)]).output().expect("trace grade runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "trace grade failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let grades: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).expect("JSON");
    let expected: &[Expected] = &[
        ("good_c", 10.0, &[], &[]),
        ("good_python", 10.0, &[], &[]),
        ("never_closes", 9.0, &[], &[("closes its socket", "step \"Close the socket\" of c1: the client never closed its socket")]),
    ];
    graded_as_expected(&grades, expected, &stdout);
}

/// The rubric's folder lies under one closed to every other user (a clone under `mktemp -d`,
/// 0700): the reference, which runs as a user of its own, still reads its programs — from the
/// grader's copy, which counts as the rubric: a changed reference file grades anew.
#[test]
fn rubric_in_a_closed_folder__the_reference_runs__a_changed_reference_grades_anew() {
    use std::os::unix::fs::PermissionsExt;
    if !live_test_allowed("trace grade with a rubric under a closed folder") {
        return;
    }
    let dir = scratch("grade-closed");
    let closed = dir.join("closed");
    let rubric = closed.join("grade").join("clients");
    copy_dir(&template().join("reference"), &closed.join("grade").join("reference"));
    copy_dir(&clients_template().join("reference"), &rubric.join("reference"));
    std::fs::copy(clients_template().join("rubric.toml"), rubric.join("rubric.toml")).expect("the rubric");
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).expect("closed to others");
    let subs = submissions(&clients_template(), &dir, &["good_python"]);
    let json = dir.join("grades.json");
    let grade = || {
        let out = grade_command(&rubric, &subs, &dir, &["--json", path(&json)]).output().expect("trace grade runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "trace grade failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        stdout
    };
    let first = grade();
    let grades: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).expect("JSON");
    graded_as_expected(&grades, &[("good_python", 10.0, &[], &[])], &first);
    assert!(grade().contains("1 graded (1 from the cache)"), "unchanged: from the cache");
    let server = rubric.join("reference").join("server.py");
    let text = std::fs::read_to_string(&server).expect("the reference server");
    std::fs::write(&server, text + "# changed\n").expect("a changed reference");
    let again = grade();
    assert!(again.contains("1 graded (0 from the cache)"), "a changed reference file grades anew:\n{again}");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn ctrl_c__ends_every_submission__leaves_nothing_behind() {
    if !live_test_allowed("trace grade interrupted") {
        return;
    }
    let dir = scratch("grade-ctrl-c");
    let subs = submissions(&template(), &dir, &["hangs"]);
    copy_dir(&subs.join("hangs"), &subs.join("hangs_too"));
    let netns_before = netns_list();
    let child = grade_command(&template(), &subs, &dir, &["--jobs", "2"]).spawn().expect("trace grade starts");
    let pid = child.id();
    // Once both hanging submissions run (after the reference's runs), Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sandbox_processes(pid).iter().filter(|p| p.contains("python3 server.py")).count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let out = child.wait_with_output().expect("trace grade ends");
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(5), "Ctrl-C took {:?}", started.elapsed());
    nothing_left(pid, &netns_before);
}

/// The structure Jenkins' `junit-10.xsd` (after Ant's JUnit schema) requires: `testsuites` of
/// `testsuite`s (required `name`, `tests`), each of `properties`, `testcase`s (required `name`;
/// `classname`, `time`), `system-out`, `system-err`, in that order; a `testcase` holds at most
/// a `failure` (with `message`, `type`); well-formed XML, every text escaped.
fn junit_is_valid(xml: &str, suites: usize) {
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), "no XML declaration");
    let body = &xml[xml.find("?>").expect("declaration") + 2..];
    let allowed: BTreeMap<&str, &[&str]> = [
        ("", &["testsuites"][..]),
        ("testsuites", &["testsuite"][..]),
        ("testsuite", &["properties", "testcase", "system-out", "system-err"][..]),
        ("properties", &["property"][..]),
        ("property", &[][..]),
        ("testcase", &["failure", "error", "skipped", "system-out", "system-err"][..]),
        ("failure", &[][..]),
        ("system-out", &[][..]),
        ("system-err", &[][..]),
    ]
    .into();
    let required: BTreeMap<&str, &[&str]> = [
        ("testsuite", &["name", "tests", "failures", "errors", "time"][..]),
        ("testcase", &["name", "classname", "time"][..]),
        ("failure", &["message", "type"][..]),
        ("property", &["name", "value"][..]),
    ]
    .into();
    let mut stack: Vec<String> = Vec::new();
    let mut order: Vec<usize> = vec![0];
    let (mut rest, mut count) = (body, 0);
    while let Some(open) = rest.find('<') {
        text_is_escaped(&rest[..open]);
        let close = rest[open..].find('>').expect("an unclosed tag") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "a closing tag out of place");
            order.pop();
            continue;
        }
        let empty = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = tag.split_whitespace().next().expect("a tag name");
        let parent = stack.last().map_or("", String::as_str);
        let children = allowed.get(parent).unwrap_or_else(|| panic!("<{parent}> may hold nothing"));
        let place = children.iter().position(|c| *c == name).unwrap_or_else(|| panic!("<{name}> inside <{parent}>"));
        // Children come in the schema's order (a sequence), testcases repeated.
        let last = order.last_mut().expect("a level");
        assert!(place >= *last, "<{name}> after a later element inside <{parent}>");
        *last = place;
        let attributes = attributes(&tag[name.len()..]);
        for needed in required.get(name).copied().unwrap_or_default() {
            assert!(attributes.contains_key(*needed), "<{name}> without {needed}: {tag}");
        }
        if name == "testsuite" {
            count += 1;
            attributes["tests"].parse::<u32>().expect("tests is a number");
        }
        if !empty {
            stack.push(name.to_string());
            order.push(0);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(count, suites);
}

/// The attributes of a tag, each value checked to be escaped.
fn attributes(mut text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    loop {
        text = text.trim_start();
        let Some(eq) = text.find("=\"") else { break };
        let name = text[..eq].to_string();
        let end = text[eq + 2..].find('"').expect("a closing quote") + eq + 2;
        let value = &text[eq + 2..end];
        text_is_escaped(value);
        assert!(!value.contains('<'));
        out.insert(name, value.to_string());
        text = &text[end + 1..];
    }
    out
}

fn text_is_escaped(text: &str) {
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
        assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity), "a bare & in {text:?}");
    }
    assert!(!text.contains('>'), "a bare > in {text:?}");
    assert!(text.chars().all(|c| c >= ' ' || matches!(c, '\n' | '\r' | '\t')), "a control character XML 1.0 forbids in {text:?}");
}

/// Gradescope's documented fields ("Autograder Specifications", `results.json`): `score`,
/// `max_score`, `output`, `visibility`, `stdout_visibility`, and `tests`, each with `name`,
/// `score`, `max_score`, `output`, `visibility` (one of hidden, after_due_date,
/// after_published, visible); the tests' scores add up to the score.
fn gradescope_is_valid(results: &Value, student: &str) {
    const VISIBILITY: [&str; 4] = ["hidden", "after_due_date", "after_published", "visible"];
    let object = results.as_object().expect("an object");
    for key in object.keys() {
        assert!(["score", "max_score", "output", "visibility", "stdout_visibility", "tests", "execution_time", "extra_data"].contains(&key.as_str()), "{key}");
    }
    let score = results["score"].as_f64().expect("score");
    results["max_score"].as_f64().expect("max_score");
    results["output"].as_str().expect("output");
    assert!(VISIBILITY.contains(&results["visibility"].as_str().expect("visibility")));
    assert!(VISIBILITY.contains(&results["stdout_visibility"].as_str().expect("stdout_visibility")));
    let mut sum = 0.0;
    for test in results["tests"].as_array().expect("tests") {
        test["name"].as_str().expect("a test's name");
        sum += test["score"].as_f64().expect("a test's score");
        test["max_score"].as_f64().expect("a test's max_score");
        test["output"].as_str().expect("a test's output");
        assert!(VISIBILITY.contains(&test["visibility"].as_str().expect("a test's visibility")));
    }
    assert_eq!(sum.max(0.0), score, "{student}: the tests' scores do not add up");
}

/// The HTML report holds an index and a page per student, the replay widget inline (no file
/// or address fetched), and the hostile name only escaped.
fn html_is_escaped(dir: &Path) {
    let index = std::fs::read_to_string(dir.join("index.html")).expect("index.html");
    assert!(index.contains("evil&lt;&amp;&gt;&quot;name"), "the hostile name is not escaped");
    assert!(!index.contains("evil<"));
    let pages: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("the report").filter_map(|e| Some(e.ok()?.path())).filter(|p| p != &dir.join("index.html")).collect();
    assert_eq!(pages.len(), EXPECTED.len());
    let good = pages.iter().map(|p| std::fs::read_to_string(p).expect("a page")).find(|p| p.contains("<h1>good_c:")).expect("good_c's page");
    assert!(good.contains("class=\"st-replay\"") && good.contains("application/json"), "no replay on good_c's page");
    assert!(!good.contains("src=\"http") && !good.contains("href=\"http"), "the report fetches something");
}
