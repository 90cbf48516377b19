//! The book's table of bad input (lessons/reference/bad-input.md), run row by row: each
//! row's command, from the repository's root with the built `trace` first on the PATH, must
//! exit with the row's code and write exactly the row's message, one line, no panic. The page
//! is the one source of the cases, so the table and the tests cannot drift apart.

use std::path::Path;
use std::process::Command;

use socktrace::capture::privilege::{live_test_allowed, NobodyDir};

use crate::support::trace_bin;

const PAGE: &str = "lessons/reference/bad-input.md";
const HEADER: &str = "| Case | Before | Command | Message | Exit |";

/// One row of the table.
#[derive(Debug)]
struct Row {
    case: String,
    before: String,
    command: String,
    message: String,
    exit: i32,
}

/// The text of a table cell: the inside of its code span, if it is one.
fn cell(text: &str) -> String {
    let text = text.trim();
    for ticks in ["``", "`"] {
        if let Some(inner) = text.strip_prefix(ticks).and_then(|t| t.strip_suffix(ticks)) {
            // CommonMark drops one space at each end of a code span padded on both sides.
            let inner = inner.strip_prefix(' ').and_then(|i| i.strip_suffix(' ')).unwrap_or(inner);
            return inner.to_string();
        }
    }
    text.to_string()
}

/// Every row of every table on `page` that has the bad-input columns.
fn rows(page: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in page.lines() {
        if line.trim() == HEADER {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").collect();
        let [case, before, command, message, exit] = cells[..] else { panic!("{PAGE}: a row without five cells: {line}") };
        let exit = exit.trim().parse().unwrap_or_else(|_| panic!("{PAGE}: exit code {exit:?} in: {line}"));
        rows.push(Row { case: cell(case), before: cell(before), command: cell(command), message: cell(message), exit });
    }
    rows
}

/// Whether `line` is `pattern`, where each `⟨…⟩` in the pattern stands for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('⟨') {
        pieces.push(&rest[..open]);
        let close = rest[open..].find('⟩').map_or(rest.len(), |c| open + c + '⟩'.len_utf8());
        rest = &rest[close..];
    }
    pieces.push(rest);
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if pieces.len() == 1 {
        return line == first;
    }
    if !line.starts_with(first) || !line[first.len()..].ends_with(last) {
        return false;
    }
    let mut at = first.len();
    let end = line.len() - last.len();
    for piece in &pieces[1..pieces.len() - 1] {
        match line[at..end].find(piece) {
            Some(found) => at += found + piece.len(),
            None => return false,
        }
    }
    true
}

/// Runs one row: what it needs first, then its command through `sh`. `None` when the row
/// needs root and the test may not run it.
fn run(row: &Row) -> Option<std::process::Output> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = Path::new(trace_bin()).parent().expect("the binary's directory").to_path_buf();
    let mut _nobody = None;
    let mut _listener = None;
    let mut command = Command::new("sh");
    command.arg("-c").arg(&row.command).current_dir(root).env("NO_COLOR", "1");
    let path_first = match row.before.as_str() {
        "—" => bin_dir,
        "root" => {
            if !live_test_allowed(&format!("bad input: {}", row.case)) {
                return None;
            }
            // A copy `nobody` may run, wherever the build directory is.
            let dir = NobodyDir::new("bad-input").expect("a directory nobody can read");
            dir.copy(Path::new(trace_bin())).expect("copy trace");
            let path = dir.path.clone();
            _nobody = Some(dir);
            path
        }
        "another program listens on 127.0.0.1:$PORT" => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
            command.env("PORT", listener.local_addr().expect("its address").port().to_string());
            _listener = Some(listener);
            bin_dir
        }
        other => panic!("{PAGE}: row {:?}: this test does not know how to set up {other:?}", row.case),
    };
    let path = std::env::var("PATH").unwrap_or_default();
    command.env("PATH", format!("{}:{path}", path_first.display()));
    Some(command.output().expect("sh runs"))
}

#[test]
fn every_row_of_the_bad_input_table_holds() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE)).expect("the bad-input page");
    let rows = rows(&page);
    assert!(rows.len() >= 20, "{PAGE}: only {} rows found: is the header still {HEADER:?}?", rows.len());
    let mut failed = Vec::new();
    for row in &rows {
        let Some(out) = run(row) else { continue };
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        let fits = out.status.code() == Some(row.exit) && lines.len() == 1 && matches(&row.message, lines[0]) && !err.contains("panicked");
        if !fits {
            failed.push(format!(
                "{:?}: `{}` exited {:?} with:\n{err}expected exit {} with:\n{}\n",
                row.case,
                row.command,
                out.status.code(),
                row.exit,
                row.message
            ));
        }
    }
    assert!(failed.is_empty(), "rows of {PAGE} that do not hold:\n{}", failed.join("\n"));
}

#[test]
fn a_placeholder_matches_any_text_and_nothing_else_does() {
    assert!(matches("perl (pid ⟨pid⟩) was killed", "perl (pid 42) was killed"));
    assert!(matches("a ⟨x⟩ b ⟨y⟩", "a 1 b 2"));
    assert!(!matches("perl (pid ⟨pid⟩) was killed", "perl (pid 42) was stopped"));
    assert!(!matches("exactly this", "exactly this, and more"));
    assert!(matches("ends ⟨x⟩", "ends "));
}

#[test]
fn code_spans_are_read_as_commonmark_shows_them() {
    assert_eq!(cell(" `trace run` "), "trace run");
    assert_eq!(cell("`` a `b` c ``"), "a `b` c");
    assert_eq!(cell("— "), "—");
}
