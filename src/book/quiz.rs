//! The chapters' questions: a fenced block of the `quiz` language becomes a question the page
//! asks and scores (`book/replay/quiz.js`), readable without JavaScript as the question, its
//! choices and its answer folded away.
//!
//! ````text
//! ```quiz trace=../fixtures/lessons/echo.jsonl step=syn-ack
//! ? What acknowledgment number does the SYN|ACK carry?
//! + the client's ISN + 1
//! - the client's ISN
//! = The SYN takes up one sequence number …
//! ```
//! ````
//!
//! `?` starts the question, `+` a right choice, `-` a wrong one, `=` the explanation, each at
//! the start of a line; any other line (indented, say) goes on with the item above it, and a blank line starts a new paragraph of the
//! explanation. A question without choices is answered in the head, then checked against the
//! explanation by the learner. `trace=PATH step=STEP` (a STEP as `{{#trace … start=}}` takes it)
//! ties the question to that step of the page's replay of that trace. Every text is escaped;
//! `` `code` ``, `*emphasis*` and links to other chapters (`[text](chapter.md)`) are kept.

use std::path::Path;

use super::directives::esc_code_spans;
use super::markup::esc;
use super::replay_options::ReplayOptions;
use crate::replay::Replay;
use crate::trace::read_trace;

/// A question as written.
#[derive(Debug, Default, PartialEq, Eq)]
struct Question {
    question: String,
    choices: Vec<(bool, String)>,
    explanation: Vec<String>,
}

/// Replaces each ```` ```quiz ```` block of `content` (a chapter in `dir`) by its HTML.
pub fn expand(content: &str, dir: &Path) -> Result<String, String> {
    let mut out = String::with_capacity(content.len());
    let mut lines = content.split_inclusive('\n');
    let mut number = 0;
    // The fence of another code block the lines are in (a page may show a quiz block as text).
    let mut fence: Option<&str> = None;
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        let opening = trimmed.len() - trimmed.trim_start_matches(['`', '~']).len();
        match fence {
            Some(open) if trimmed.starts_with(open) && trimmed.trim_start_matches(['`', '~']).is_empty() => fence = None,
            None if opening >= 3 && !trimmed.starts_with("```quiz") => fence = Some(&trimmed[..opening]),
            _ => {}
        }
        let quiz = if fence.is_none() { trimmed.strip_prefix("```quiz") } else { None };
        let Some(info) = quiz else {
            out.push_str(line);
            continue;
        };
        number += 1;
        let mut body = Vec::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                closed = true;
                break;
            }
            body.push(inner.trim_end_matches(['\n', '\r']));
        }
        let at = |message: String| format!("question {number} (```quiz{}): {message}", info.trim_end());
        if !closed {
            return Err(at("the block is not closed: end it with a line of ```".to_string()));
        }
        let question = parse(&body).map_err(at)?;
        let tie = tie(info.trim(), dir).map_err(at)?;
        out.push_str(&html(&question, number, tie.as_ref()));
        out.push('\n');
    }
    Ok(out)
}

fn parse(body: &[&str]) -> Result<Question, String> {
    let mut q = Question::default();
    // Which item the next plain line goes on with.
    enum Item {
        None,
        Question,
        Choice,
        Explanation,
    }
    let mut item = Item::None;
    let append = |to: &mut String, text: &str| {
        if !to.is_empty() && !text.is_empty() {
            to.push(' ');
        }
        to.push_str(text);
    };
    for line in body {
        // A mark counts at the start of a line only: an indented line goes on with its item.
        let text = line.trim();
        let (mark, rest) = (line.get(..2).unwrap_or(""), line.get(2..).unwrap_or("").trim());
        match mark {
            "? " if q.question.is_empty() => {
                q.question = rest.to_string();
                item = Item::Question;
            }
            "? " => return Err("a block holds one question (one line starting with `? `)".to_string()),
            "+ " | "- " => {
                q.choices.push((mark == "+ ", rest.to_string()));
                item = Item::Choice;
            }
            "= " => {
                q.explanation.push(rest.to_string());
                item = Item::Explanation;
            }
            _ if text.is_empty() => {
                if let Item::Explanation = item {
                    q.explanation.push(String::new());
                }
            }
            _ => match item {
                Item::None => return Err(format!("{text:?} comes before the question: start the block with `? `")),
                Item::Question => append(&mut q.question, text),
                Item::Choice => append(&mut q.choices.last_mut().expect("a choice").1, text),
                Item::Explanation => append(q.explanation.last_mut().expect("a paragraph"), text),
            },
        }
    }
    q.explanation.retain(|p| !p.is_empty());
    if q.question.is_empty() {
        return Err("no question: write it on a line starting with `? `".to_string());
    }
    if q.explanation.is_empty() {
        return Err("no explanation: write why on a line starting with `= `".to_string());
    }
    if !q.choices.is_empty() && !q.choices.iter().any(|(right, _)| *right) {
        return Err("no right choice: mark it with `+ ` (the wrong ones with `- `)".to_string());
    }
    if q.choices.len() == 1 {
        return Err("one choice is no choice: give at least one wrong one (`- `), or none at all".to_string());
    }
    Ok(q)
}

/// The replay step a question is about: (the trace's file name, the step's index).
fn tie(info: &str, dir: &Path) -> Result<Option<(String, usize)>, String> {
    let (mut path, mut step) = (None, None);
    for word in info.split_whitespace() {
        match word.split_once('=') {
            Some(("trace", value)) => path = Some(value),
            Some(("step", value)) => step = Some(value),
            _ => return Err(format!("unknown option {word:?}: write trace=PATH step=STEP, or nothing")),
        }
    }
    let (path, step) = match (path, step) {
        (None, None) => return Ok(None),
        (Some(path), Some(step)) => (dir.join(path), step),
        _ => return Err("trace= and step= go together: the step of which replay".to_string()),
    };
    let trace = read_trace(&path).map_err(|e| e.to_string())?;
    let replay = Replay::of(&trace);
    let options = ReplayOptions::parse(&format!("start={step}"), &trace.events, &replay)?;
    let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Ok(options.start.map(|start| (name, start)))
}

/// One line of HTML (a blank line would end mdBook's HTML block).
fn html(q: &Question, number: usize, tie: Option<&(String, usize)>) -> String {
    let tied = tie.map_or(String::new(), |(fixture, step)| format!(" data-fixture=\"{}\" data-step=\"{step}\"", esc(fixture)));
    let mut html =
        format!("<div class=\"st-quiz\" id=\"quiz-{number}\"{tied}><p class=\"st-quiz-q\"><strong>Question {number}.</strong> {}</p>", inline(&q.question));
    if !q.choices.is_empty() {
        html.push_str("<ol class=\"st-quiz-options\" type=\"a\">");
        for (right, text) in &q.choices {
            html.push_str(&format!("<li{}>{}</li>", if *right { " data-right" } else { "" }, inline(text)));
        }
        html.push_str("</ol>");
    }
    html.push_str("<details class=\"st-quiz-answer\"><summary>Answer</summary>");
    let right: Vec<String> = q.choices.iter().filter(|(right, _)| *right).map(|(_, text)| inline(text)).collect();
    if !right.is_empty() {
        html.push_str(&format!("<p class=\"st-quiz-right-is\">{}</p>", right.join(" — or — ")));
    }
    html.push_str("<div class=\"st-quiz-explanation\">");
    for paragraph in &q.explanation {
        html.push_str(&format!("<p>{}</p>", inline(paragraph)));
    }
    html.push_str("</div></details></div>");
    html
}

/// Escaped text with its code spans, emphasis and links to chapters: the block is raw HTML,
/// in which mdBook renders no Markdown.
fn inline(text: &str) -> String {
    let mut out = String::new();
    // Code spans first: nothing inside them is a link or emphasis.
    for (k, part) in text.split('`').enumerate() {
        if k % 2 == 1 && text.matches('`').count() % 2 == 0 {
            out.push_str(&esc_code_spans(&format!("`{part}`")));
        } else if k % 2 == 1 {
            out.push('`');
            out.push_str(&prose(part));
        } else {
            out.push_str(&prose(part));
        }
    }
    out
}

/// `*emphasis*` and `[text](chapter.md#anchor)` in escaped prose; a link anywhere but to a
/// relative page stays text.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(link) = rest.strip_prefix('[').and_then(|r| {
            let (label, after) = r.split_once("](")?;
            let (target, after) = after.split_once(')')?;
            Some((label, target, after))
        }) {
            let (label, target, after) = link;
            let relative = !target.contains(':') && !target.starts_with("//") && !label.contains('[');
            if relative {
                let href = match target.split_once('#') {
                    Some((page, anchor)) => format!("{}#{anchor}", page.replace(".md", ".html")),
                    None => target.replace(".md", ".html"),
                };
                out.push_str(&format!("<a href=\"{}\">{}</a>", esc(&href), emphasis(label)));
                rest = after;
                continue;
            }
        }
        let next = rest[1..].find('[').map_or(rest.len(), |at| at + 1);
        out.push_str(&emphasis(&rest[..next]));
        rest = &rest[next..];
    }
    out
}

/// `*words*` as `<em>`, the rest escaped.
fn emphasis(text: &str) -> String {
    let parts: Vec<&str> = text.split('*').collect();
    let paired = if parts.len() % 2 == 1 { parts.len() } else { parts.len() - 1 };
    let mut out = String::new();
    for (k, part) in parts.iter().enumerate() {
        match k {
            _ if k >= paired => out.push_str(&format!("*{}", esc(part))),
            _ if k % 2 == 1 && !part.is_empty() && !part.starts_with(' ') => out.push_str(&format!("<em>{}</em>", esc(part))),
            _ if k % 2 == 1 => out.push_str(&format!("*{}*", esc(part))),
            _ => out.push_str(&esc(part)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/lessons"))
    }

    #[test]
    fn a_question_with_choices_becomes_an_ordered_list_and_a_folded_answer() {
        let md = "before\n```quiz\n? Which *one*?\n  really\n+ `a<b>`\n- b\n= Because\n  of [this](closing.md#x).\n\n= More.\n```\nafter\n";
        let html = expand(md, dir()).unwrap();
        assert!(html.starts_with("before\n<div class=\"st-quiz\" id=\"quiz-1\">"), "{html}");
        assert!(html.contains("<strong>Question 1.</strong> Which <em>one</em>? really</p>"), "{html}");
        assert!(html.contains("<li data-right><code>a&lt;b&gt;</code></li><li>b</li>"), "{html}");
        assert!(html.contains("<p>Because of <a href=\"closing.html#x\">this</a>.</p><p>More.</p>"), "{html}");
        assert!(html.ends_with("</div>\nafter\n"), "{html}");
        assert_eq!(html.lines().count(), 3, "one line of HTML: {html}");
    }

    #[test]
    fn a_quiz_block_shown_inside_another_code_block_stays_text() {
        let md = "````text\n```quiz\n? q\n= e\n```\n````\n```rust\nlet x = 1;\n```\n```quiz\n? real\n= e\n```\n";
        let html = expand(md, dir()).unwrap();
        assert!(html.starts_with("````text\n```quiz\n? q\n= e\n```\n````\n```rust\nlet x = 1;\n```\n<div class=\"st-quiz\" id=\"quiz-1\">"), "{html}");
        assert!(html.contains("Question 1.</strong> real"), "{html}");
    }

    #[test]
    fn everything_is_inert_text() {
        let md = "```quiz\n? <script>x</script> {{#include y}}\n= [a](javascript:alert(1)) <img src=x>\n```\n";
        let html = expand(md, dir()).unwrap();
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("href=\"javascript") && !html.contains("{{"), "{html}");
    }

    #[test]
    fn a_tied_question_names_its_replay_and_step() {
        let md = "```quiz trace=../fixtures/lessons/echo.jsonl step=syn-ack\n? q\n= e\n```\n";
        let html = expand(md, dir()).unwrap();
        let trace = read_trace(&dir().join("../fixtures/lessons/echo.jsonl")).unwrap();
        let replay = Replay::of(&trace);
        let syn_ack = replay.steps.iter().position(|s| s.label == "SYN|ACK").unwrap();
        assert!(html.contains(&format!("data-fixture=\"echo.jsonl\" data-step=\"{syn_ack}\"")), "{html}");
    }

    #[test]
    fn a_bad_block_says_what_to_write() {
        for (md, says) in [
            ("```quiz\n= e\n```\n", "no question"),
            ("```quiz\n? q\n```\n", "no explanation"),
            ("```quiz\n? q\n- a\n- b\n= e\n```\n", "no right choice"),
            ("```quiz\n? q\n+ a\n= e\n```\n", "one choice"),
            ("```quiz\n? q\n= e\n", "not closed"),
            ("```quiz step=syn\n? q\n= e\n```\n", "go together"),
            ("```quiz replay=1\n? q\n= e\n```\n", "unknown option"),
            ("```quiz trace=../fixtures/lessons/echo.jsonl step=nowhere\n? q\n= e\n```\n", "nowhere"),
        ] {
            let err = expand(md, dir()).unwrap_err();
            assert!(err.contains(says) && err.starts_with("question 1"), "{md:?}: {err}");
        }
    }
}
