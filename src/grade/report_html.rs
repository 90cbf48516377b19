//! The HTML report: `index.html`, a table of the class linking one page per student; each
//! student's page holds their grade and feedback, their first scenario's replay (the book's
//! widget, its script and style inline: the report works offline, from `file://`), the
//! check's verdict per scenario, and their output. Every text from a submission is escaped.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::report_junit::xml as esc;
use super::report_table::points;
use super::score::Grade;
use super::ClassGrades;
use crate::book::markup::{script_json, states_template};

const REPLAY_JS: &str = include_str!("../../book/replay/replay.js");
const STATES_JS: &str = include_str!("../../book/replay/states.js");
const REPLAY_CSS: &str = include_str!("../../book/replay/replay.css");

/// Styles of the report's own (the widget's are its own file's).
const PAGE_CSS: &str = "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.full{background:#e6f4e6}.zero{background:#fbe3e3}\
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}";

pub fn write(class: &ClassGrades, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("index.html"), index(class))?;
    for (n, grade) in class.grades.iter().enumerate() {
        std::fs::write(dir.join(page_name(n)), student(class, grade))?;
    }
    Ok(())
}

/// A student's page, by their place in the class: a student's folder name is theirs to
/// choose, and is no safe file name on every system.
fn page_name(n: usize) -> String {
    format!("student-{}.html", n + 1)
}

fn head(title: &str, replay: bool) -> String {
    let widget = if replay { format!("<style>{REPLAY_CSS}</style>") } else { String::new() };
    format!("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{PAGE_CSS}</style>{widget}</head><body>\n", esc(title))
}

fn index(class: &ClassGrades) -> String {
    let mut out = head(&class.title, false);
    let _ = writeln!(out, "<h1>{}</h1>\n<table><tr><th>student</th><th>score</th><th>language</th><th>failures</th></tr>", esc(&class.title));
    for (n, g) in class.grades.iter().enumerate() {
        let class_attr = if g.score >= g.max_score {
            "full"
        } else if g.score <= 0.0 {
            "zero"
        } else {
            ""
        };
        let failures: Vec<String> = g.failures.iter().map(|f| f.to_string()).collect();
        let _ = writeln!(
            out,
            "<tr class=\"{class_attr}\"><td><a href=\"{}\">{}</a></td><td>{} / {}</td><td>{}</td><td>{}</td></tr>",
            page_name(n),
            esc(&g.student),
            points(g.score),
            points(g.max_score),
            esc(g.language.as_deref().unwrap_or("-")),
            failures.join(", ")
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

fn student(class: &ClassGrades, g: &Grade) -> String {
    let mut out = head(&format!("{} · {}", g.student, class.title), g.replay.is_some());
    let _ = writeln!(out, "<p><a href=\"index.html\">{}</a></p><h1>{}: {} / {}</h1>", esc(&class.title), esc(&g.student), points(g.score), points(g.max_score));
    out.push_str("<h2>Rubric</h2>\n<table><tr><th>item</th><th>points</th><th>feedback</th></tr>\n");
    for item in &g.items {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{} / {}</td><td>{}</td></tr>",
            esc(&item.name),
            points(item.score),
            points(item.max_score),
            if item.feedback.is_empty() { "met".to_string() } else { item.feedback.iter().map(|f| esc(f)).collect::<Vec<_>>().join("<br>") }
        );
    }
    for d in &g.deductions {
        let _ = writeln!(out, "<tr><td>deduction: {}</td><td>-{}</td><td>{}</td></tr>", esc(&d.name), points(d.points), d.when);
    }
    out.push_str("</table>\n");
    if !g.feedback.is_empty() {
        let _ = writeln!(out, "<h2>Feedback</h2>\n<pre>{}</pre>", esc(&g.feedback.join("\n")));
    }
    if let Some(replay) = &g.replay {
        let _ = writeln!(
            out,
            "<h2>Replay</h2>\n<div class=\"st-replay\" id=\"replay-1\" data-fixture=\"{}\"><script type=\"application/json\">{}</script>{}\
             <p class=\"st-fallback\">The replay needs JavaScript.</p></div>\n<script>{STATES_JS}</script>\n<script>{REPLAY_JS}</script>",
            esc(&g.student),
            script_json(replay),
            states_template()
        );
    }
    for (scenario, check) in &g.checks {
        let _ = writeln!(out, "<h2>Check: {}</h2>\n<pre>{}</pre>", esc(scenario), esc(check));
    }
    let _ = writeln!(out, "<h2>Output</h2>\n<p>{} bytes written.</p><pre>{}</pre>", g.output_bytes, esc(&g.output));
    out.push_str("</body></html>\n");
    out
}
