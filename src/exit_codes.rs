//! `trace`'s exit codes, and the table of them by subcommand: the book's reference shows it
//! (`{{#exit-codes}}`) and a test runs every row (`tests/exit_codes.rs`), so that the two
//! cannot drift apart.
//!
//! The rule, for every subcommand: 0 success; 1 the traced session or the check failed (a
//! traced program's error, a refused `--connect`, deviations found by `trace check`, a
//! difference found by `trace diff`); 2 bad input or a missing privilege; 130 interrupted by
//! Ctrl-C (or SIGTERM), after writing a valid trace and saying so.

/// The check (`check`, `diff`) found deviations or differences.
pub const EXIT_DEVIATIONS: u8 = 1;
/// A live session ran, but a traced program failed: one of ours (a refused `--connect`), or
/// one that `trace run` started (a status other than 0, or killed by a signal).
pub const EXIT_SESSION_FAILED: u8 = 1;
/// Bad input, or a lens the session needed could not run (a missing privilege).
pub const EXIT_ERROR: u8 = 2;
/// Ctrl-C (or SIGTERM) ended the command early, after it wrote what it had whole: 128 + the
/// signal's number, as a shell reports a command killed by SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

/// One row of the table: a situation a subcommand meets, a command that meets it, and the
/// code it exits with.
#[derive(Clone, Copy, Debug)]
pub struct ExitCase {
    /// The subcommand, as `trace --help` names it (`""` for `trace` itself).
    pub command: &'static str,
    pub situation: &'static str,
    /// What follows `trace`, typed at the repository's root. [`FREE_PORT`] stands for a
    /// loopback port nobody listens on.
    pub args: &'static [&'static str],
    pub setup: Setup,
    pub code: u8,
}

/// What a row needs before its command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Nothing: any user, anywhere.
    Nothing,
    /// Root: packet capture and kernel states.
    Root,
    /// No privileges at all (a test run as root runs it as `nobody`).
    Unprivileged,
    /// Root, and Ctrl-C once a line of standard output holds every one of these texts.
    CtrlC { after: &'static [&'static str] },
}

/// Stands for a loopback port nobody listens on, in [`ExitCase::args`].
pub const FREE_PORT: &str = "⟨free port⟩";

/// What a row's `trace` prints once its session runs, with `--json`: a call's start.
const CONNECT_STARTED: &[&str] = &[r#""kind":"call_start""#, r#""call":"connect""#];
const ACCEPT_STARTED: &[&str] = &[r#""kind":"call_start""#, r#""call":"accept""#];

/// The table. Rows of one subcommand are together, in `trace --help`'s order.
pub const EXIT_CASES: &[ExitCase] = &[
    ExitCase { command: "", situation: "help", args: &["--help"], setup: Setup::Nothing, code: 0 },
    ExitCase { command: "", situation: "no subcommand", args: &[], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase { command: "", situation: "a subcommand that does not exist", args: &["ecoh"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase { command: "echo", situation: "the session ends as it should", args: &["echo", "--live", "-m", "hello"], setup: Setup::Root, code: 0 },
    ExitCase {
        command: "echo",
        situation: "our client's connect is refused: nobody listens there",
        args: &["echo", "--live", "--connect", "127.0.0.1:⟨free port⟩"],
        setup: Setup::Root,
        code: EXIT_SESSION_FAILED,
    },
    ExitCase {
        command: "echo",
        situation: "the refused story: the refusal is the story, not a failure",
        args: &["echo", "--live", "--scenario", "refused"],
        setup: Setup::Root,
        code: 0,
    },
    ExitCase {
        command: "echo",
        situation: "Ctrl-C before the session's end (its SYN|ACK lost, connect waits a second for it again)",
        args: &["echo", "--live", "--drop", "syn-ack", "--json"],
        setup: Setup::CtrlC { after: CONNECT_STARTED },
        code: EXIT_INTERRUPTED,
    },
    ExitCase {
        command: "echo",
        situation: "Ctrl-C ends a --serve that has no count of connections: its normal end",
        args: &["echo", "--live", "--serve", "--json"],
        setup: Setup::CtrlC { after: ACCEPT_STARTED },
        code: 0,
    },
    ExitCase {
        command: "echo",
        situation: "Ctrl-C before --serve has served its --connections",
        args: &["echo", "--live", "--serve", "--connections", "3", "--json"],
        setup: Setup::CtrlC { after: ACCEPT_STARTED },
        code: EXIT_INTERRUPTED,
    },
    ExitCase {
        command: "echo",
        situation: "Ctrl-C before --summary has made its --connections",
        args: &["echo", "--summary", "--connections", "10000000"],
        setup: Setup::CtrlC { after: &["CLIENT", "FIRST-CLOSE"] },
        code: EXIT_INTERRUPTED,
    },
    ExitCase {
        command: "echo",
        situation: "--live without the privileges for packets and kernel states",
        args: &["echo", "--live"],
        setup: Setup::Unprivileged,
        code: EXIT_ERROR,
    },
    ExitCase { command: "echo", situation: "a scenario that does not exist", args: &["echo", "--scenario", "nope"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase { command: "echo", situation: "a number out of range", args: &["echo", "--clients", "0"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase { command: "p2p", situation: "the session ends as it should", args: &["p2p", "--live"], setup: Setup::Root, code: 0 },
    ExitCase { command: "p2p", situation: "--live without privileges", args: &["p2p", "--live"], setup: Setup::Unprivileged, code: EXIT_ERROR },
    ExitCase { command: "run", situation: "the program exits with status 0", args: &["run", "--", "true"], setup: Setup::Root, code: 0 },
    ExitCase {
        command: "run",
        situation: "the program exits with another status",
        args: &["run", "--", "false"],
        setup: Setup::Root,
        code: EXIT_SESSION_FAILED,
    },
    ExitCase {
        command: "run",
        situation: "the program is killed by a signal (it crashes)",
        args: &["run", "--", "sh", "-c", "kill -SEGV $$"],
        setup: Setup::Root,
        code: EXIT_SESSION_FAILED,
    },
    ExitCase {
        command: "run",
        situation: "Ctrl-C: it reaches the program, and the trace ends when the program has",
        args: &["run", "--json", "--", "sleep", "30"],
        setup: Setup::CtrlC { after: &[r#""format":"socktrace/"#] },
        code: EXIT_INTERRUPTED,
    },
    ExitCase {
        command: "run",
        situation: "without privileges: the calls alone are traced",
        args: &["run", "--", "true"],
        setup: Setup::Unprivileged,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "run",
        situation: "a program that does not exist",
        args: &["run", "--", "socktrace-no-such-program"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase { command: "run", situation: "nothing to run", args: &["run"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase { command: "show", situation: "a trace", args: &["show", "fixtures/lessons/echo.jsonl"], setup: Setup::Nothing, code: 0 },
    ExitCase { command: "show", situation: "a file that does not exist", args: &["show", "no-such-trace.jsonl"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase { command: "show", situation: "a file that is not a trace", args: &["show", "Cargo.toml"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase {
        command: "show",
        situation: "a trace cut off mid-record",
        args: &["show", "fixtures/bad-input/truncated.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "show",
        situation: "an option that does not exist",
        args: &["show", "--colour", "fixtures/lessons/echo.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase { command: "check", situation: "the trace conforms", args: &["check", "fixtures/lessons/echo.jsonl"], setup: Setup::Nothing, code: 0 },
    ExitCase {
        command: "check",
        situation: "deviations: the client listens",
        args: &["check", "fixtures/broken/client-listens.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_DEVIATIONS,
    },
    ExitCase {
        command: "check",
        situation: "a trace cut off mid-record",
        args: &["check", "fixtures/bad-input/truncated.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "check",
        situation: "a role that does not exist",
        args: &["check", "--role", "both", "fixtures/lessons/echo.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "diff",
        situation: "the same after normalization",
        args: &["diff", "fixtures/lessons/echo.jsonl", "fixtures/lessons/echo.jsonl"],
        setup: Setup::Nothing,
        code: 0,
    },
    ExitCase {
        command: "diff",
        situation: "two stories that differ",
        args: &["diff", "fixtures/live/echo.jsonl", "fixtures/live/half-close.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_DEVIATIONS,
    },
    ExitCase {
        command: "diff",
        situation: "a file that does not exist",
        args: &["diff", "fixtures/lessons/echo.jsonl", "no-such-trace.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "export",
        situation: "the packets as pcap",
        args: &["export", "fixtures/lessons/echo.jsonl", "--pcap", "/dev/null"],
        setup: Setup::Nothing,
        code: 0,
    },
    ExitCase { command: "export", situation: "no format asked", args: &["export", "fixtures/lessons/echo.jsonl"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase {
        command: "export",
        situation: "a UDP trace as a packetdrill script",
        args: &["export", "fixtures/lessons/udp-echo.jsonl", "--packetdrill", "/dev/null"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase { command: "import", situation: "a capture", args: &["import", "fixtures/captures/lo.pcap"], setup: Setup::Nothing, code: 0 },
    ExitCase { command: "import", situation: "a file that is not a capture", args: &["import", "Cargo.toml"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase {
        command: "import",
        situation: "a capture cut off mid-packet (what it holds is listed first)",
        args: &["import", "fixtures/bad-input/truncated.pcap"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "import",
        situation: "a conversation the capture does not have",
        args: &["import", "fixtures/captures/lo.pcap", "--conversation", "9"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase { command: "simulate", situation: "a scenario", args: &["simulate", "echo"], setup: Setup::Nothing, code: 0 },
    ExitCase { command: "simulate", situation: "a scenario that does not exist", args: &["simulate", "nope"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase { command: "simulate", situation: "no scenario", args: &["simulate"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase {
        command: "grade",
        situation: "without root: the sandbox's users and networks need it",
        args: &["grade", "--rubric", "rubric.toml", "submissions"],
        setup: Setup::Unprivileged,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "grade",
        situation: "a rubric that is not one",
        args: &["grade", "--rubric", "Cargo.toml", "--no-cache", "fixtures/grade/submissions"],
        setup: Setup::Root,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "grade",
        situation: "a folder with no submission in it: nothing to grade",
        args: &["grade", "--rubric", "fixtures/grade/rubric.toml", "--no-cache", "fixtures/grade/reference"],
        setup: Setup::Root,
        code: 0,
    },
    ExitCase {
        command: "replay",
        situation: "a trace, into a pipe (every step)",
        args: &["replay", "fixtures/lessons/echo.jsonl"],
        setup: Setup::Nothing,
        code: 0,
    },
    ExitCase { command: "replay", situation: "a file that does not exist", args: &["replay", "no-such-trace.jsonl"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase {
        command: "replay",
        situation: "--html: the replay written as a page",
        args: &["replay", "--html", "fixtures/lessons/echo.jsonl", "-o", "/dev/null"],
        setup: Setup::Nothing,
        code: 0,
    },
    ExitCase {
        command: "replay",
        situation: "--html: the page would overwrite its own trace",
        args: &["replay", "--html", "fixtures/lessons/echo.jsonl", "-o", "fixtures/lessons/echo.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "replay",
        situation: "--html: the page cannot be written (a full disk)",
        args: &["replay", "--html", "fixtures/lessons/echo.jsonl", "-o", "/dev/full"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "book",
        situation: "mdBook asks whether html is supported: yes",
        args: &["book", "preprocess", "supports", "html"],
        setup: Setup::Nothing,
        code: 0,
    },
    ExitCase {
        command: "book",
        situation: "mdBook asks whether another renderer is: no (mdBook's protocol)",
        args: &["book", "preprocess", "supports", "latex"],
        setup: Setup::Nothing,
        code: 1,
    },
    ExitCase {
        command: "book",
        situation: "a book directory that does not exist",
        args: &["book", "build", "--book", "no-such-book"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase {
        command: "book",
        situation: "a fixture that does not exist",
        args: &["book", "record-fixtures", "--only", "no-such-fixture.jsonl"],
        setup: Setup::Nothing,
        code: EXIT_ERROR,
    },
    ExitCase { command: "completions", situation: "a shell it knows", args: &["completions", "bash"], setup: Setup::Nothing, code: 0 },
    ExitCase { command: "completions", situation: "a shell it does not know", args: &["completions", "tcsh"], setup: Setup::Nothing, code: EXIT_ERROR },
    ExitCase { command: "manpage", situation: "the man page", args: &["manpage"], setup: Setup::Nothing, code: 0 },
];
