//! The README's sample output ("## What you see") is what `trace show` prints for a saved
//! fixture, plain, at a fixed width: made by this test, so that it cannot fall behind the
//! program. When the timeline's rendering changes, one command writes it again:
//! `UPDATE_README=1 cargo test --test main readme`.

use std::path::Path;
use std::process::Command;

use crate::support::trace_bin;

/// The fixture shown: a live `trace echo`, with the server's and the clients' socket options.
const FIXTURE: &str = "fixtures/lessons/echo.jsonl";
/// The terminal width it is shown at, and how many lines of it (a first screenful).
const COLUMNS: usize = 120;
const LINES: usize = 40;
const HEADING: &str = "## What you see";

/// The section's generated part: a caption that says what the block is, and the block.
fn generated() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(trace_bin())
        .args(["show", FIXTURE])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env("COLUMNS", COLUMNS.to_string())
        .output()
        .expect("the trace binary runs");
    assert_eq!(out.status.code(), Some(0), "trace show {FIXTURE}: {}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8(out.stdout).expect("the timeline is UTF-8");
    let mut block: String = shown.lines().take(LINES).map(|l| format!("{l}\n")).collect();
    if shown.lines().count() > LINES {
        block.push_str("…\n");
    }
    format!(
        "`trace show {FIXTURE}`, its first {LINES} lines at {COLUMNS} columns (a terminal shows them\n\
         in colour): a live `trace echo` that `sudo trace book record-fixtures` recorded for the\n\
         book, shown as `sudo trace echo` shows a session as it happens. The top line is the\n\
         command that recorded it.\n\n```text\n{block}```\n"
    )
}

/// The README split around the generated part: what comes before it (up to the heading's
/// blank line), the part itself (the caption and the first `text` block), and the rest.
fn split(readme: &str) -> (&str, &str, &str) {
    let heading = readme.find(&format!("\n{HEADING}\n")).expect("README.md has the heading") + HEADING.len() + 3;
    let open = heading + readme[heading..].find("```text\n").expect("a text block under the heading");
    let close = open + "```text\n".len() + readme[open + "```text\n".len()..].find("\n```\n").expect("the block's end") + "\n```\n".len();
    (&readme[..heading], &readme[heading..close], &readme[close..])
}

#[test]
fn the_readme_sample_is_what_trace_show_prints_for_its_fixture() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let (before, shown, after) = split(&readme);
    let wanted = generated();
    if shown == wanted {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some_and(|v| v == "1") {
        std::fs::write(&path, format!("{before}{wanted}{after}")).expect("rewrite README.md");
        return;
    }
    panic!(
        "README.md's sample under \"{HEADING}\" is not what `trace show {FIXTURE}` prints now: write it again with `UPDATE_README=1 cargo test --test main readme` and review the diff"
    );
}
