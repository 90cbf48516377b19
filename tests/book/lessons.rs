//! The chapters against their fixtures: each claim a chapter marks is checked, on a fixture
//! the chapter shows; every chapter ends with questions whose answers are given.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use socktrace::book::fixtures::FIXTURES;

use super::claims;
use super::{fixture, fixture_path, root};

/// Every chapter file: its path relative to `lessons/`, and its text.
fn chapters() -> Vec<(String, String)> {
    let lessons = root().join("lessons");
    let mut found = Vec::new();
    let mut stack = vec![lessons.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("lessons/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") && path.file_name().is_some_and(|n| n != "SUMMARY.md") {
                let name = path.strip_prefix(&lessons).expect("under lessons").display().to_string();
                found.push((name, std::fs::read_to_string(&path).expect("a chapter")));
            }
        }
    }
    found.sort();
    found
}

/// The ids after `marker` in `text` (`<!-- claim:ID -->` or `claim:ID`).
fn ids_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// The fixtures a chapter shows: `{{#trace PATH}}` and `{{#lesson-view PATH}}` (file names;
/// an escaped `\{{#…}}` shows nothing).
fn shown(text: &str) -> BTreeSet<String> {
    ["{{#trace ", "{{#lesson-view "]
        .iter()
        .flat_map(|d| text.match_indices(d).filter(|(at, _)| !text[..*at].ends_with('\\')).map(move |(at, _)| &text[at + d.len()..]))
        .filter_map(|rest| rest.split("}}").next())
        .filter_map(|directive| directive.split_whitespace().next())
        .filter_map(|path| PathBuf::from(path).file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

#[test]
fn every_claim_a_chapter_marks_is_checked_on_a_fixture_it_shows() {
    let registry: BTreeMap<&str, &claims::Claim> = claims::all().map(|c| (c.id, c)).collect();
    assert_eq!(registry.len(), claims::all().count(), "claim ids repeat");
    let mut marked = BTreeSet::new();
    for (name, text) in chapters() {
        let fixtures = shown(&text);
        for id in ids_after(&text, "<!-- claim:") {
            let claim = registry.get(id).unwrap_or_else(|| panic!("{name} marks claim {id:?}, which tests/book/claims.rs does not check"));
            for f in claim.fixtures {
                assert!(fixtures.contains(*f), "{name}: claim {id} is about {f}, which the chapter does not show");
            }
            assert!(marked.insert(claim.id), "claim {id} is marked twice");
        }
    }
    let unmarked: Vec<&str> = claims::all().map(|c| c.id).filter(|id| !marked.contains(id)).collect();
    assert!(unmarked.is_empty(), "checks for claims no chapter makes: {unmarked:?}");
}

#[test]
fn every_claim_holds_on_its_fixtures() {
    let mut failed = Vec::new();
    for claim in claims::all() {
        let traces: Vec<_> = claim.fixtures.iter().map(|f| fixture(f)).collect();
        if let Err(panic) = std::panic::catch_unwind(|| (claim.check)(&traces)) {
            let why = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            failed.push(format!("{} ({}): {why}", claim.id, claim.fixtures.join(", ")));
        }
    }
    assert!(failed.is_empty(), "claims that do not hold:\n{}", failed.join("\n"));
}

/// A line that starts with `<!--` (after the indentation a list item allows) opens a raw
/// HTML block (CommonMark's HTML block, type 2): it ends the paragraph above it, and the rest
/// of its line is shown unrendered. So a claim's marker goes at the end of its sentence's line.
#[test]
fn no_chapter_line_starts_with_a_comment() {
    let mut found = Vec::new();
    for (name, text) in chapters() {
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("<!--") {
                found.push(format!("{name}:{}: {line}", n + 1));
            }
        }
    }
    assert!(found.is_empty(), "lines opening raw HTML; put each marker at the end of its sentence's line:\n{}", found.join("\n"));
}

#[test]
fn the_concept_table_names_only_checked_claims() {
    let intro = std::fs::read_to_string(root().join("lessons/introduction.md")).expect("the introduction");
    let named = ids_after(&intro, "`claim:");
    assert!(named.len() >= 20, "the table names the claims that show each concept");
    for id in named {
        assert!(claims::all().any(|c| c.id == id), "the introduction's table names claim {id:?}, which no test checks");
    }
}

/// Every chapter ends with at least three questions in ```` ```quiz ```` blocks, each explained
/// (the build fails on a block without its `= ` explanation), and no answer left as a
/// `<details>` the page cannot score.
#[test]
fn every_chapter_ends_with_questions_and_explained_answers() {
    let mut with_choices = 0;
    for (name, text) in chapters() {
        if name.starts_with("reference/") || name == "introduction.md" {
            continue;
        }
        let questions = text.split("## Check yourself").nth(1).unwrap_or_else(|| panic!("{name} has no \"Check yourself\" section"));
        let blocks: Vec<&str> = questions.split("```quiz").skip(1).map(|b| b.split("\n```").next().unwrap_or("")).collect();
        assert!(blocks.len() >= 3, "{name}: {} questions", blocks.len());
        assert!(blocks.iter().all(|b| b.contains("\n= ")), "{name}: a question without its explanation");
        assert!(!questions.contains("<details>"), "{name}: an answer left as <details>, not a question the page asks");
        with_choices += blocks.iter().filter(|b| b.contains("\n+ ")).count();
    }
    assert!(with_choices >= 10, "{with_choices} questions with choices");
}

#[test]
fn every_fixture_is_recorded_by_the_one_command_and_shown_by_a_chapter() {
    let all_shown: BTreeSet<String> = chapters().iter().flat_map(|(_, text)| shown(text)).collect();
    let listed: BTreeSet<String> = FIXTURES.iter().map(|f| f.file.to_string()).collect();
    assert_eq!(all_shown, listed, "the chapters show exactly the fixtures `trace book record-fixtures` records");
    for f in FIXTURES {
        let trace = fixture(f.file);
        let end = trace.end.as_ref().unwrap_or_else(|| panic!("{}: no end line (an interrupted recording)", f.file));
        assert_eq!((end.packets_dropped, end.states_lost, end.out_of_order), (0, 0, 0), "{}: an incomplete trace", f.file);
        let simulated = f.args[0] == "simulate";
        assert_eq!(trace.header.source == socktrace::trace::Source::Simulated, simulated, "{}", f.file);
        assert!(trace.header.command.starts_with(&format!("trace {}", f.args.join(" "))), "{}: recorded by {:?}", f.file, trace.header.command);
        assert!(fixture_path(f.file).is_file());
    }
}

/// The chapters whose first replay has no `start=`: the text walks that whole story from its
/// first step, so the replay opens at step 1.
const STARTS_AT_THE_TOP: &[(&str, &str)] = &[
    ("introduction.md", "\"watch the server make its listening socket\": the reader's first replay, pressed through from step 1"),
    ("passive-open.md", "the text walks the server's steps from its first call, socket()"),
];

/// Every `{{#trace …}}` of the chapters (an escaped `\{{#trace …}}` is not one), in order.
fn replays(text: &str) -> Vec<&str> {
    text.match_indices("{{#trace ")
        .filter(|(at, _)| !text[..*at].ends_with('\\'))
        .filter_map(|(at, _)| text[at..].find("}}").map(|end| &text[at..at + end + 2]))
        .collect()
}

/// A replay opens where its text first talks about it: each has a `start=`, except the first
/// replay of a chapter on the short list above.
#[test]
fn every_replay_starts_where_its_text_does() {
    let mut listed = Vec::new();
    for (name, text) in chapters() {
        for (k, directive) in replays(&text).into_iter().enumerate() {
            listed.push(format!("{name}: {directive}"));
            if directive.split_whitespace().any(|w| w.starts_with("start=")) {
                continue;
            }
            let allowed = k == 0 && STARTS_AT_THE_TOP.iter().any(|(chapter, _)| *chapter == name);
            assert!(
                allowed,
                "{name}: {directive} has no start=: add one where the text first talks about the replay (lessons/reference/commands.md lists what to write)"
            );
        }
    }
    assert!(listed.len() >= 30, "{listed:#?}");
    for (chapter, _) in STARTS_AT_THE_TOP {
        let text =
            chapters().into_iter().find(|(name, _)| name == chapter).map(|(_, t)| t).unwrap_or_else(|| panic!("{chapter} is gone: drop it from the list"));
        let first = replays(&text).into_iter().next().unwrap_or_else(|| panic!("{chapter} has no replay: drop it from the list"));
        assert!(!first.contains("start="), "{chapter}'s first replay has a start= now: drop it from the list");
    }
}

/// The reference lists every word `start=` understands.
#[test]
fn the_reference_lists_every_start_word() {
    let reference = std::fs::read_to_string(root().join("lessons/reference/commands.md")).expect("commands.md");
    for (word, _) in socktrace::book::replay_options::WORDS {
        assert!(reference.contains(&format!("| `{word}` |")), "lessons/reference/commands.md does not list start={word}");
    }
}
