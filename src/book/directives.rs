//! The book's own directives, expanded in each chapter's Markdown:
//!
//! | directive | becomes |
//! |---|---|
//! | `{{#trace PATH [start=STEP] [lenses=LIST] [range=STEP..STEP]}}` | the replay widget's mount, the trace's replay data inline as JSON, opening where the options say ([`super::replay_options`]) |
//! | `{{#lesson-view PATH}}` | the trace's lesson-level view (`trace show --lesson`) |
//! | `{{#sequence ID}}` | a documented sequence's steps and the evidence each needs |
//! | `{{#linux-differences}}` | where Linux differs from RFC 9293, from `tcp::linux` |
//! | `{{#commands}}` | the `trace` subcommands with their help (the command line's definition, given by the caller) |
//! | `{{#exit-codes}}` | the exit codes by subcommand and situation, from [`crate::exit_codes`] |
//! | `{{#fixtures DIR}}` | the book's fixtures and the command that records each |
//! | `{{#your-trace}}` | a drop zone for the reader's own trace or capture, replayed by `trace book serve` ([`super::workbench`]) |
//!
//! PATH and DIR are relative to the chapter's file. `\{{#…}}` is left for mdBook, which
//! prints it without the backslash. Everything produced is HTML with every text escaped,
//! including `{`, so that no later preprocessor finds a directive in a trace's payload.

use std::fmt;
use std::path::{Path, PathBuf};

use super::fixtures::FIXTURES;
use super::markup::{esc, script_json, states_template};
use super::replay_options::ReplayOptions;
use crate::exit_codes::{Setup, EXIT_CASES};
use crate::replay::Replay;
use crate::sequence::{self, Evidence};
use crate::tcp::linux::DIFFERENCES;
use crate::trace::{read_trace, Source};

/// A directive that could not be expanded.
#[derive(Debug)]
pub struct DirectiveError {
    pub directive: String,
    pub message: String,
}

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.directive, self.message)
    }
}

impl std::error::Error for DirectiveError {}

/// Expands every directive of `content`, a chapter whose file is in `dir`; `commands` is the
/// `trace` command line's definition, for `{{#commands}}`.
pub fn expand(content: &str, dir: &Path, commands: &clap::Command) -> Result<String, DirectiveError> {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    let mut mounts = 0;
    while let Some(at) = rest.find("{{#") {
        let escaped = rest[..at].ends_with('\\');
        let Some(len) = rest[at..].find("}}") else { break };
        let text = &rest[at..at + len + 2];
        out.push_str(&rest[..at]);
        rest = &rest[at + len + 2..];
        let inner = text[3..text.len() - 2].trim();
        let (name, arg) = inner.split_once(char::is_whitespace).map_or((inner, ""), |(n, a)| (n, a.trim()));
        let fail = |message: String| DirectiveError { directive: text.to_string(), message };
        let expanded = match name {
            _ if escaped => None,
            "trace" => {
                mounts += 1;
                let (path, options) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
                Some(replay_mount(&dir.join(path), path, options, mounts).map_err(fail)?)
            }
            "lesson-view" => Some(lesson_view(&dir.join(arg)).map_err(fail)?),
            "sequence" => Some(sequence_table(arg).map_err(fail)?),
            "linux-differences" => Some(differences_table()),
            "commands" => Some(commands_table(commands)),
            "exit-codes" => Some(exit_codes_table()),
            "fixtures" => Some(fixtures_table(&dir.join(arg)).map_err(fail)?),
            "your-trace" => Some(super::workbench::drop_zone()),
            _ => None,
        };
        out.push_str(expanded.as_deref().unwrap_or(text));
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes text as [`esc`] does, and shows each `` `code span` `` as `<code>`: the tables are
/// raw HTML, inside which mdBook renders no Markdown. An unpaired backtick stays as it is.
pub(super) fn esc_code_spans(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let paired = if parts.len() % 2 == 1 { parts.len() } else { parts.len() - 1 };
    let mut out = String::with_capacity(text.len());
    for (i, part) in parts.iter().enumerate() {
        if i >= paired {
            out.push('`');
            out.push_str(&esc(part));
        } else if i % 2 == 1 {
            out.push_str(&format!("<code>{}</code>", esc(part)));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

fn read(path: &Path) -> Result<crate::trace::Trace, String> {
    read_trace(path).map_err(|e| e.to_string())
}

/// The file name of a fixture, for labels.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn replay_mount(path: &Path, written: &str, options: &str, n: usize) -> Result<String, String> {
    let trace = read(path)?;
    let replay = Replay::of(&trace);
    let options = ReplayOptions::parse(options, &trace.events, &replay)?;
    let json = serde_json::to_string(&replay).map_err(|e| e.to_string())?;
    let name = file_name(path);
    let kind = match trace.header.source {
        Source::Simulated => "simulated",
        _ => "recorded",
    };
    let template = if n == 1 { states_template() } else { String::new() };
    Ok(format!(
        "<div class=\"st-replay\" id=\"replay-{n}\" data-fixture=\"{}\"{}><script type=\"application/json\">{}</script>{template}\
         <p class=\"st-fallback\">The replay of the {kind} trace <code>{}</code> needs JavaScript; in a terminal, \
         <code>trace replay {}</code> steps through the same trace.</p></div>",
        esc(&name),
        options.attributes(),
        script_json(&json),
        esc(&name),
        esc(&repo_relative(written)),
    ))
}

/// `../fixtures/lessons/echo.jsonl` as a reader at the repository's root writes it.
fn repo_relative(written: &str) -> String {
    let path = PathBuf::from(written);
    let kept: PathBuf = path.components().skip_while(|c| matches!(c, std::path::Component::ParentDir | std::path::Component::CurDir)).collect();
    kept.display().to_string()
}

fn lesson_view(path: &Path) -> Result<String, String> {
    let trace = read(path)?;
    let view = crate::normalize::lesson_view(&trace.events);
    let lines: Vec<String> = view.lines().map(esc).collect();
    Ok(format!("<pre class=\"st-lesson\"><code>{}</code></pre>", lines.join("&#10;")))
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = String::from("<table class=\"st-table\"><thead><tr>");
    for h in head {
        html.push_str(&format!("<th>{}</th>", esc(h)));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            html.push_str(&format!("<td>{cell}</td>"));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

fn sequence_table(id: &str) -> Result<String, String> {
    let known: Vec<&str> = sequence::documented().iter().map(|s| s.id).collect();
    let seq =
        sequence::documented().into_iter().find(|s| s.id == id).ok_or_else(|| format!("no documented sequence {id:?}; there are {}", known.join(", ")))?;
    let rows: Vec<Vec<String>> = seq
        .steps
        .iter()
        .map(|step| {
            let evidence: Vec<String> = step.evidence.iter().map(|e| format!("<li>{}</li>", esc(&describe(e)))).collect();
            vec![
                step.number.map_or("·".to_string(), |n| n.to_string()),
                format!("<strong>{}</strong><br>{}", esc(step.title), esc(step.note)),
                format!("<ul>{}</ul>", evidence.join("")),
            ]
        })
        .collect();
    let sources: Vec<String> = seq.sources.iter().map(|s| esc(s)).collect();
    Ok(format!("{}<p class=\"st-sources\">Sources: {}.</p>", table(&["#", "step", "what a trace shows"], &rows), sources.join("; ")))
}

/// One evidence item in words, as `trace check` says it.
fn describe(evidence: &Evidence) -> String {
    evidence.describe()
}

fn differences_table() -> String {
    let rows: Vec<Vec<String>> =
        DIFFERENCES.iter().map(|d| vec![format!("<code>{}</code>", esc(d.id)), esc_code_spans(d.rfc), esc_code_spans(d.linux)]).collect();
    table(&["difference", "RFC 9293", "Linux, as its tracepoints report it"], &rows)
}

fn commands_table(cli: &clap::Command) -> String {
    let mut rows = Vec::new();
    for sub in cli.get_subcommands() {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        rows.push(vec![format!("<code>trace {}</code>", esc(sub.get_name())), esc_code_spans(&about)]);
        for nested in sub.get_subcommands() {
            let about = nested.get_about().map(|a| a.to_string()).unwrap_or_default();
            rows.push(vec![format!("<code>trace {} {}</code>", esc(sub.get_name()), esc(nested.get_name())), esc_code_spans(&about)]);
        }
    }
    table(&["command", "what it does"], &rows)
}

fn exit_codes_table() -> String {
    let rows: Vec<Vec<String>> = EXIT_CASES
        .iter()
        .map(|case| {
            let needs = match case.setup {
                Setup::Nothing => "",
                Setup::Root => " (as root)",
                Setup::Unprivileged => " (without privileges)",
                Setup::CtrlC { .. } => " (as root, then Ctrl-C)",
            };
            let command: Vec<&str> = std::iter::once("trace").chain(case.args.iter().copied()).collect();
            vec![format!("<code>{}</code>", esc(&command.join(" "))), esc(&format!("{}{needs}", case.situation)), case.code.to_string()]
        })
        .collect();
    table(&["command", "situation", "exit"], &rows)
}

fn fixtures_table(dir: &Path) -> Result<String, String> {
    let mut rows = Vec::new();
    for fixture in FIXTURES {
        let trace = read(&dir.join(fixture.file))?;
        let source = match trace.header.source {
            Source::Live => "live, recorded on loopback",
            Source::Simulated => "simulated by the RFC 9293 model",
            Source::Imported => "imported",
        };
        rows.push(vec![
            format!("<code>{}</code>", esc(fixture.file)),
            format!("<code>trace {}</code>", esc(&fixture.args.join(" "))),
            esc(source),
            esc_code_spans(fixture.about),
        ]);
    }
    Ok(table(&["fixture", "recorded with", "source", "what it shows"], &rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_and_foreign_directives_are_left_alone() {
        let text = "a \\{{#trace x.jsonl}} b {{#include y.rs}} c";
        assert_eq!(expand(text, Path::new("."), &clap::Command::new("trace")).unwrap(), text);
    }

    #[test]
    fn a_missing_fixture_names_the_directive_and_the_file() {
        let err = expand("{{#trace nowhere.jsonl}}", Path::new("/nonexistent"), &clap::Command::new("trace")).unwrap_err();
        assert_eq!(err.directive, "{{#trace nowhere.jsonl}}");
        assert!(err.message.contains("nowhere.jsonl"), "{err}");
    }

    #[test]
    fn sequence_tables_list_every_step_and_escape_flags() {
        let html = sequence_table("active-open").unwrap();
        assert_eq!(html.matches("<tr>").count(), 1 + 5);
        assert!(html.contains("a SYN|ACK from the server while connect runs"));
        assert!(sequence_table("nope").unwrap_err().contains("passive-open"));
        let datagram = sequence_table("datagram-client").unwrap();
        assert!(datagram.contains("<tr>"), "{datagram}");
    }

    #[test]
    fn code_spans_in_table_text_become_code_elements_escaped() {
        assert_eq!(esc_code_spans("run `ss -tan` <now>"), "run <code>ss -tan</code> &lt;now&gt;");
        assert_eq!(esc_code_spans("`a<b>` and `x"), "<code>a&lt;b&gt;</code> and `x");
        let html = differences_table();
        assert!(html.contains("(<code>ss -tan</code> lists it as TIME-WAIT)"), "{html}");
        assert!(!html.contains('`'), "a backtick left in the Linux differences table: {html}");
    }
}
