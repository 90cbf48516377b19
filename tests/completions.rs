//! `trace completions SHELL` and `trace manpage`: made from the command line's definition,
//! they name every subcommand, and a shell accepts the script.

use std::process::Command;

use crate::support::{stderr, stdout, trace};

/// The subcommands, as `trace --help` lists them.
fn subcommands() -> Vec<String> {
    let help = stdout(&trace(&["--help"]));
    let listed = help.split("Commands:").nth(1).expect("a list of commands");
    listed.lines().skip(1).map_while(|l| l.strip_prefix("  ")).filter_map(|l| l.split_whitespace().next()).filter(|w| *w != "help").map(String::from).collect()
}

#[test]
fn bash_completion_is_accepted_by_bash_and_knows_every_subcommand() {
    let out = trace(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let script = stdout(&out);
    let names = subcommands();
    assert!(names.len() >= 13, "every subcommand is found: {names:?}");
    for name in &names {
        assert!(script.contains(name.as_str()), "the script completes {name}");
    }
    let dir = crate::support::scratch("completions");
    let file = dir.join("trace.bash");
    std::fs::write(&file, &script).expect("write the script");
    let bash = Command::new("bash").arg("-c").arg(format!("source {} && complete -p trace", file.display())).output().expect("bash runs");
    assert!(stdout(&bash).contains("-F _trace trace"), "bash registers it: {}", stderr(&bash));
}

#[test]
fn other_shells_and_a_wrong_one() {
    assert!(stdout(&trace(&["completions", "zsh"])).starts_with("#compdef trace"));
    assert!(stdout(&trace(&["completions", "fish"])).contains("complete -c trace"));
    let out = trace(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("possible values: bash, zsh, fish"), "{}", stderr(&out));
}

#[test]
fn the_man_page_names_every_subcommand() {
    let out = trace(&["manpage"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH trace 1"), "a section 1 page");
    let names = subcommands();
    assert!(names.len() >= 13, "every subcommand is found: {names:?}");
    for name in names {
        assert!(page.contains(&format!("trace\\-{}(1)", name.replace('-', "\\-"))), "the page's SUBCOMMANDS name {name}");
    }
}
