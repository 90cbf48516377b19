//! Building the book: in-process, through mdBook's own command protocol, and failing loudly
//! where mdBook would only log; `trace replay` and `trace book serve`.

use std::path::PathBuf;

use mdbook_driver::MDBook;
use socktrace::book::{self, BookError};
use socktrace::replay::Replay;
use tracing::Level;

use super::{built_book, fixture, root};
use crate::support::{assert_one_line_error, scratch, stdout, trace, trace_bin};

/// The chapters' HTML files and the number of replays each source asks for.
pub(super) fn chapters_with_replays() -> Vec<(PathBuf, usize)> {
    let lessons = root().join("lessons");
    let summary = std::fs::read_to_string(lessons.join("SUMMARY.md")).expect("SUMMARY.md");
    summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|md| {
            let text = std::fs::read_to_string(lessons.join(md)).expect("a chapter");
            let replays = text.matches("{{#trace ").count() - text.matches("\\{{#trace ").count();
            (PathBuf::from(md.replace(".md", ".html")), replays)
        })
        .collect()
}

/// The page without its `<code>` elements.
fn outside_code(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find("<code") {
        out.push_str(&rest[..at]);
        rest = rest[at..].split_once("</code>").map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out
}

#[test]
fn the_book_builds_with_every_replay_in_place() {
    let dest = built_book();
    let chapters = chapters_with_replays();
    assert!(chapters.len() >= 15, "{chapters:?}");
    for (page, replays) in chapters {
        let html = std::fs::read_to_string(dest.join(&page)).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert_eq!(html.matches("<div class=\"st-replay\"").count(), replays, "{}", page.display());
        assert!(html.contains("replay/replay-") && html.contains(".js\"") && html.contains(".css\""), "{}: the widget's script and style", page.display());
        assert!(!outside_code(&html).contains("{{#"), "{}: a directive left unexpanded (only code may show one)", page.display());
    }
}

#[test]
fn the_build_log_has_no_error_and_no_warning() {
    let dest = scratch("book_log");
    let built = book::build(&root().join("book"), Some(&dest), false, &socktrace::cli::command()).unwrap_or_else(|e| panic!("{e}"));
    let loud: Vec<String> = built.log.iter().filter(|l| l.level <= Level::WARN).map(|l| l.to_string()).collect();
    assert!(loud.is_empty(), "{loud:?}");
    assert!(built.log.iter().any(|l| l.text.contains("Book building has started")), "the log was captured: {:?}", built.log);
}

#[test]
fn payloads_stay_text_in_the_page() {
    let html = std::fs::read_to_string(built_book().join("reference/trace-format.html")).expect("the page");
    let json = html.split("<script type=\"application/json\">").nth(1).and_then(|rest| rest.split("</script>").next()).expect("the replay's data");
    assert!(!json.contains('<') && !json.contains("{{"), "the data cannot end its script or hold a directive");
    assert!(json.contains("\\u003cimg src=x onerror=window.stPwned=1\\u003e"), "the payload is there, escaped");
    assert!(!html.contains("<img src=x") && !html.contains("<script>window.stPwned"), "no payload as markup");
    assert!(!html.contains("[package]"), "the payload's mdBook directive was not expanded");
}

/// The directives' tables are raw HTML, inside which mdBook renders no Markdown: a code span
/// in their text must come out as `<code>`, never as backticks on the page.
#[test]
fn tables_show_code_as_code_not_backticks() {
    let dest = built_book();
    for page in ["reference/linux.html", "reference/fixtures.html"] {
        let html = std::fs::read_to_string(dest.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        let tables: Vec<&str> = html.split("<table").skip(1).filter_map(|t| t.split("</table>").next()).collect();
        assert!(!tables.is_empty(), "{page}: no table");
        for table in tables {
            assert!(!outside_code(table).contains('`'), "{page}: a literal backtick in a table:\n{table}");
        }
    }
    let linux = std::fs::read_to_string(dest.join("reference/linux.html")).expect("the page");
    assert!(linux.contains("(<code>ss -tan</code> lists it as TIME-WAIT)"), "the differences table shows its command as code");
}

/// The page's `open … close` elements taken out.
fn without(html: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find(open) {
        out.push_str(&rest[..at]);
        rest = rest[at..].split_once(close).map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out
}

/// No chapter shows a code span as backticks: Markdown inside raw HTML (an answer's
/// `<details>` without a blank line after it, a directive's table) is not rendered.
#[test]
fn no_chapter_shows_literal_backticks() {
    let dest = built_book();
    let summary = std::fs::read_to_string(root().join("lessons/SUMMARY.md")).expect("SUMMARY.md");
    let pages: Vec<String> = summary.split("](").skip(1).filter_map(|rest| rest.split(')').next()).map(|md| md.replace(".md", ".html")).collect();
    assert!(pages.len() >= 20, "{pages:?}");
    for page in pages {
        let html = std::fs::read_to_string(dest.join(&page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        let main = html.split("<main>").nth(1).and_then(|m| m.split("</main>").next()).unwrap_or_else(|| panic!("{page}: no <main>"));
        let text = without(&without(&outside_code(main), "<script", "</script>"), "<pre", "</pre>");
        if let Some(at) = text.find('`') {
            let before: String = text[..at].chars().rev().take(80).collect::<Vec<_>>().into_iter().rev().collect();
            let after: String = text[at..].chars().take(40).collect();
            panic!("{page}: a literal backtick, Markdown left unrendered: …{before}{after}…");
        }
    }
}

/// The reference's table of exit codes is the table the exit-code test runs: one row per
/// case, each with its command and code.
#[test]
fn the_exit_code_page_shows_every_row_the_test_runs() {
    let html = std::fs::read_to_string(built_book().join("reference/exit-codes.html")).expect("the page");
    let table = html.split("<table class=\"st-table\">").nth(1).and_then(|t| t.split("</table>").next()).expect("the table");
    let cases = socktrace::exit_codes::EXIT_CASES;
    assert_eq!(table.matches("<tr>").count(), 1 + cases.len(), "a header and a row per case");
    for case in cases {
        let command: Vec<&str> = std::iter::once("trace").chain(case.args.iter().copied()).collect();
        let escaped = command.join(" ").replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;");
        let row = format!("<code>{escaped}</code>");
        assert!(table.contains(&row), "no row {row} in:\n{table}");
    }
}

/// A one-chapter book in a scratch directory, with `extra` added to its `[output.html]`.
fn tiny_book(name: &str, chapter: &str, extra: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("src")).expect("src");
    let toml = format!(
        "[book]\ntitle = \"tiny\"\n[build]\nbuild-dir = \"out\"\ncreate-missing = false\n[preprocessor.socktrace]\ncommand = \"false\"\n[output.html]\n{extra}\n"
    );
    std::fs::write(dir.join("book.toml"), toml).expect("book.toml");
    std::fs::write(dir.join("src/SUMMARY.md"), "# Summary\n\n- [One](one.md)\n").expect("summary");
    std::fs::write(dir.join("src/one.md"), chapter).expect("chapter");
    dir
}

#[test]
fn an_error_mdbook_only_logs_fails_the_build() {
    let dir = tiny_book("book_unknown_key", "# One\n", "additional-jss = [\"x.js\"]");
    match book::build(&dir, None, false, &socktrace::cli::command()) {
        Err(BookError::Logged { errors, .. }) => assert!(errors.iter().any(|l| l.text.contains("additional-jss")), "{errors:?}"),
        other => panic!("an unknown [output.html] key must fail the build: {other:?}"),
    }
}

#[test]
fn a_missing_fixture_fails_the_build_and_names_the_directive() {
    let dir = tiny_book("book_missing_fixture", "# One\n\n{{#trace nowhere.jsonl}}\n", "");
    let err = book::build(&dir, None, false, &socktrace::cli::command()).expect_err("a missing fixture");
    let text = err.to_string();
    assert!(text.contains("{{#trace nowhere.jsonl}}") && text.contains("one.md"), "{text}");
}

/// Each bad option of `{{#trace}}` fails the build with one line naming the chapter, the
/// directive and what to write instead.
#[test]
fn a_bad_replay_option_fails_the_build_saying_what_to_write() {
    let echo = root().join("fixtures/lessons/echo.jsonl");
    let cases = [
        ("begin=3", "write start=STEP, lenses=LIST or range=STEP..STEP"),
        ("start=synack", "write a step number from 1 to"),
        ("start=rst", "one of syn, syn-ack"),
        ("start=999", "write a step number from 1 to"),
        ("start=listen-twice", "or a documented step (accept,"),
        ("lenses=packet", "write all, or a comma list of calls, packets, states"),
        ("range=12", "write e.g. range=1..20"),
        ("range=fin..syn", "write the earlier step first"),
        ("start=first-send lenses=packets", "add calls to the lenses"),
        ("start=1 range=syn..fin", "start within the range"),
    ];
    for (k, (options, instead)) in cases.iter().enumerate() {
        let directive = format!("{{{{#trace {} {options}}}}}", echo.display());
        let dir = tiny_book(&format!("book_bad_option_{k}"), &format!("# One\n\n{directive}\n"), "");
        let err = book::build(&dir, None, false, &socktrace::cli::command()).expect_err(options);
        let text = err.to_string();
        assert!(text.contains("one.md") && text.contains(&directive) && text.contains(instead), "{options}: {text}");
        assert!(!text.trim_end().contains('\n'), "{options}: one line: {text}");
    }
}

#[test]
fn mdbooks_own_command_protocol_runs_the_preprocessor() {
    // What a stock `mdbook build` does: mdbook-driver runs the command book.toml names.
    let dest = scratch("book_command");
    let ((), log) = book::log::capture(false, || {
        let mut config = mdbook_driver::config::Config::from_disk(root().join("book/book.toml")).expect("book.toml");
        config.set("preprocessor.socktrace.command", format!("{} book preprocess", trace_bin())).expect("set the command");
        config.build.build_dir = dest.clone();
        let book = MDBook::load_with_config(root().join("book"), config).expect("load");
        book.build().expect("build");
    });
    assert!(log.iter().all(|l| l.level > Level::WARN), "{log:?}");
    let html = std::fs::read_to_string(dest.join("roles.html")).expect("roles.html");
    assert!(html.contains("<div class=\"st-replay\" id=\"replay-1\" data-fixture=\"echo.jsonl\""), "the command expanded the replay");
}

#[test]
fn the_preprocessor_supports_html_only() {
    let status = |renderer: &str| trace(&["book", "preprocess", "supports", renderer]).status.code();
    assert_eq!(status("html"), Some(0));
    assert_eq!(status("markdown"), Some(1));
}

#[test]
fn trace_replay_into_a_pipe_prints_every_step_with_its_documented_steps() {
    let path = super::fixture_path("echo.jsonl");
    let out = trace(&["replay", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let replay = Replay::of(&fixture("echo.jsonl"));
    let steps: Vec<&str> = text.lines().filter(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit())).collect();
    assert_eq!(steps.len(), replay.steps.len());
    let accept = text.lines().position(|l| l.contains("… accept(s1) = s2")).expect("accept returns");
    assert_eq!(
        text.lines().nth(accept + 1).map(str::trim),
        Some("↳ the server's passive open, step 3 — Take a connection: accept() returns a new socket [s2]")
    );
    assert!(text.lines().next().is_some_and(|l| l.contains("live: calls observed, packets observed, states observed")));
}

#[test]
fn trace_replay_of_a_missing_file_is_a_one_line_error() {
    assert_one_line_error(&trace(&["replay", "no/such/trace.jsonl"]), "no/such/trace.jsonl");
}

#[test]
fn trace_book_serve_serves_the_book_on_loopback_and_nothing_else() {
    let served = super::upload::Served::start("book_serve");
    let get = |path: &str| served.request(&format!("GET {path} HTTP/1.0"), b"");
    let (status, body) = get("/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("<title>"), "the index page");
    let (status, body) = get("/roles.html?step=3");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("st-replay"));
    assert_eq!(get("/../Cargo.toml").0, "HTTP/1.1 404 Not Found");
    assert_eq!(get("/%2e%2e/Cargo.toml").0, "HTTP/1.1 404 Not Found");
    assert!(served.dest.join("index.html").is_file());
}
