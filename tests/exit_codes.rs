//! The table of exit codes (`socktrace::exit_codes::EXIT_CASES`, which the book's reference
//! shows), run row by row: each row's command, from the repository's root, must exit with
//! the row's code, and never by a signal or a panic. The rows that need root are live tests:
//! ignored without root, failing under `CI=true` without it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use socktrace::capture::privilege::{is_root, live_test_allowed, NobodyDir};
use socktrace::exit_codes::{ExitCase, Setup, EXIT_CASES, FREE_PORT};

use crate::support::trace_bin;

/// How long a row may take: a live session is a second or two, a Ctrl-C'd one a few more.
const PATIENCE: Duration = Duration::from_secs(60);

/// A row's arguments, with a loopback port nobody listens on for [`FREE_PORT`].
fn arguments(case: &ExitCase) -> Vec<String> {
    let free = || std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port().to_string();
    case.args.iter().map(|arg| if arg.contains(FREE_PORT) { arg.replace(FREE_PORT, &free()) } else { arg.to_string() }).collect()
}

/// `trace` with a row's arguments, from the repository's root, colour off, nothing on stdin.
fn command(case: &ExitCase, program: &Path) -> Command {
    let mut command = Command::new(program);
    command.args(arguments(case)).current_dir(env!("CARGO_MANIFEST_DIR")).env("NO_COLOR", "1").stdin(Stdio::null());
    command
}

/// Runs a row to its end, Ctrl-C included: its exit code, or why it has none.
fn run(case: &ExitCase) -> Result<i32, String> {
    let out = match case.setup {
        Setup::Nothing | Setup::Root => command(case, Path::new(trace_bin())).output(),
        Setup::Unprivileged if is_root() => {
            // A copy `nobody` may run, wherever the build directory is; `nobody` runs it from
            // there (the rows without privileges name no file of the repository).
            let dir = NobodyDir::new("exit-codes").map_err(|e| format!("a directory for nobody: {e}"))?;
            let bin = dir.copy(Path::new(trace_bin())).map_err(|e| format!("copy trace: {e}"))?;
            let mut as_nobody = dir.command(&bin);
            as_nobody.args(arguments(case)).env("NO_COLOR", "1").stdin(Stdio::null());
            as_nobody.output()
        }
        Setup::Unprivileged => command(case, Path::new(trace_bin())).output(),
        Setup::CtrlC { after } => return interrupted(case, after),
    };
    let out = out.map_err(|e| format!("trace does not start: {e}"))?;
    judged(&out)
}

/// A finished `trace`'s exit code; an end by a signal or a panic is no exit code.
fn judged(out: &Output) -> Result<i32, String> {
    let err = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        _ if err.contains("panicked") => Err(format!("it panicked: {err}")),
        Some(code) => Ok(code),
        None => Err(format!("it was ended by a signal ({}): {err}", out.status)),
    }
}

/// Runs a row until a line of its standard output holds every text of `after`, then sends
/// Ctrl-C as a terminal does, to its whole process group (its own: the row's programs, not
/// the test's), and waits for its end.
fn interrupted(case: &ExitCase, after: &[&str]) -> Result<i32, String> {
    use std::os::unix::process::CommandExt;
    let mut child = command(case, Path::new(trace_bin()))
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("trace does not start: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    // Read on a thread, so that a row that never shows the line cannot hang the test.
    let (seen, seen_rx) = std::sync::mpsc::channel();
    let wanted: Vec<String> = after.iter().map(|s| s.to_string()).collect();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        if lines.any(|line| wanted.iter().all(|w| line.contains(w.as_str()))) {
            let _ = seen.send(());
        }
        // Drained to the end, so that `trace` never blocks on a full pipe.
        lines.for_each(drop);
    });
    let shown = seen_rx.recv_timeout(PATIENCE).is_ok();
    if shown {
        // SAFETY: kill(2) on the process group of the child this test started and has not
        // waited for yet (`process_group(0)` made its pid the group's id).
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGINT) };
    } else {
        let _ = child.kill();
    }
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = reader.join();
    if !shown {
        return Err(format!("standard output never showed a line with {after:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    judged(&out)
}

/// Runs every row `chosen` picks; fails with every row that does not hold.
fn rows_hold(chosen: impl Fn(Setup) -> bool) {
    let mut failed = Vec::new();
    let mut ran = 0;
    for case in EXIT_CASES.iter().filter(|c| chosen(c.setup)) {
        ran += 1;
        let shown = format!("trace {}", case.args.join(" "));
        match run(case) {
            Ok(code) if code == i32::from(case.code) => {}
            Ok(code) => failed.push(format!("`{shown}` ({}): exit {code}, the table says {}", case.situation, case.code)),
            Err(why) => failed.push(format!("`{shown}` ({}): {why}", case.situation)),
        }
    }
    assert!(ran > 0, "no row was run");
    assert!(failed.is_empty(), "rows of the exit-code table that do not hold:\n{}", failed.join("\n"));
}

#[test]
fn every_row_that_needs_no_privilege_exits_as_the_table_says() {
    rows_hold(|setup| matches!(setup, Setup::Nothing | Setup::Unprivileged));
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn every_live_row_exits_as_the_table_says() {
    if !live_test_allowed("the exit-code table's live rows") {
        return;
    }
    rows_hold(|setup| matches!(setup, Setup::Root | Setup::CtrlC { .. }));
}

/// The table covers the whole command line: every subcommand `trace --help` lists has rows,
/// and each row names one of them; every code of the rule appears.
#[test]
fn every_subcommand_has_rows_and_every_code_appears() {
    let cli = socktrace::cli::command();
    // `release-held` is hidden: the child a live session leaves its release to, no user's.
    let subcommands: Vec<&str> = cli.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name()).filter(|name| *name != "help").collect();
    for name in &subcommands {
        assert!(EXIT_CASES.iter().any(|c| c.command == *name), "no row for `trace {name}`");
    }
    for case in EXIT_CASES {
        assert!(case.command.is_empty() || subcommands.contains(&case.command), "a row for a subcommand trace has not: {case:?}");
        assert_eq!(case.args.first().copied().filter(|_| !case.command.is_empty()), (!case.command.is_empty()).then_some(case.command), "{case:?}");
    }
    for code in [0, 1, 2, 130] {
        assert!(EXIT_CASES.iter().any(|c| c.code == code), "no row exits {code}");
    }
}
