//! The HTML report: `index.html`, a table of the class linking one page per student; each
//! student's page holds their grade and feedback, their first scenario's replay (the book's
//! widget: the pages are the book's pages that stand alone, [`crate::book::page`], which need
//! nothing but themselves and open from `file://`), the check's verdict per scenario, and
//! their output. Every text from a submission is escaped.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::report_table::points;
use super::score::Grade;
use super::ClassGrades;
use crate::book::markup::{esc, script_json};
use crate::book::page::{esc_pre, page};

/// Styles of the report's own tables (the widget's come with the page).
const REPORT_CSS: &str = "<style>.st-grade table{border-collapse:collapse;margin:1em 0}\
.st-grade td,.st-grade th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
.st-grade .full{background:#e6f4e6}.st-grade .zero{background:#fbe3e3}\
.st-grade pre{white-space:pre-wrap}</style>";

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

/// A report page: no network at all (`'none'`), the report's styles first.
fn report_page(title: &str, body: &str) -> String {
    page(title, "'none'", &format!("{REPORT_CSS}<div class=\"st-grade\">{body}</div>"), None)
}

fn index(class: &ClassGrades) -> String {
    let mut out = format!("<h1>{}</h1>\n<table><tr><th>student</th><th>score</th><th>language</th><th>failures</th></tr>\n", esc(&class.title));
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
    out.push_str("</table>\n");
    report_page(&class.title, &out)
}

fn student(class: &ClassGrades, g: &Grade) -> String {
    let mut out =
        format!("<p><a href=\"index.html\">{}</a></p><h1>{}: {} / {}</h1>\n", esc(&class.title), esc(&g.student), points(g.score), points(g.max_score));
    out.push_str("<h2>Rubric</h2>\n<table><tr><th>item</th><th>points</th><th>feedback</th></tr>\n");
    for item in &g.items {
        let feedback = if item.feedback.is_empty() { "met".to_string() } else { item.feedback.iter().map(|f| esc(f)).collect::<Vec<_>>().join("<br>") };
        let _ = writeln!(out, "<tr><td>{}</td><td>{} / {}</td><td>{feedback}</td></tr>", esc(&item.name), points(item.score), points(item.max_score));
    }
    for d in &g.deductions {
        let _ = writeln!(out, "<tr><td>deduction: {}</td><td>-{}</td><td>{}</td></tr>", esc(&d.name), points(d.points), d.when);
    }
    out.push_str("</table>\n");
    if !g.feedback.is_empty() {
        let _ = writeln!(out, "<h2>Feedback</h2>\n<pre>{}</pre>", esc_pre(&g.feedback.join("\n")));
    }
    if let Some(replay) = &g.replay {
        let _ = writeln!(
            out,
            "<h2>Replay</h2>\n<div class=\"st-replay\" id=\"replay-1\" data-fixture=\"{}\"><script type=\"application/json\">{}</script>\
             <p class=\"st-fallback\">The replay needs JavaScript.</p></div>",
            esc(&g.student),
            script_json(replay),
        );
    }
    for (scenario, check) in &g.checks {
        let _ = writeln!(out, "<h2>Check: {}</h2>\n<pre>{}</pre>", esc(scenario), esc_pre(check));
    }
    let _ = writeln!(out, "<h2>Output</h2>\n<p>{} bytes written.</p><pre>{}</pre>", g.output_bytes, esc_pre(&g.output));
    report_page(&format!("{} · {}", g.student, class.title), &out)
}
