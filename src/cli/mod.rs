//! The `trace` command line: argument parsing and one function per subcommand. Exit codes:
//! 0 success; 1 the traced session or the check failed; 2 bad input, or a lens the session
//! needed could not run; 130 interrupted by Ctrl-C or SIGTERM, after writing what it had
//! whole. [`crate::exit_codes`] has them, and their table by subcommand.

mod book;
mod check;
mod command_line;
mod completions;
mod diff;
mod echo;
mod echo_summary;
mod error;
mod export;
mod grade;
mod import;
mod output_file;
mod p2p;
mod replay;
mod run;
mod session;
mod show;
mod simulate;
mod stdout;
mod web;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub use error::{CliError, EXIT_DEVIATIONS, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_SESSION_FAILED};

/// See how sockets live and die: the socket calls of real programs, the packets on the wire
/// and the kernel's TCP states, on one timeline.
#[derive(Parser, Debug)]
#[command(name = "trace", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a real echo server and client on loopback and show their calls, packets and states live.
    Echo(echo::EchoArgs),
    /// Run two peers on loopback, each listening and connecting to the other, and show both
    /// connections live: each program plays the server on one and the client on the other.
    P2p(p2p::P2pArgs),
    /// Trace any program's socket calls (read with ptrace), packets and states, live.
    ///
    /// The program's standard output goes to standard error, so that standard output holds
    /// the timeline alone. Exits 0 when every program exited with status 0; 1 when one did
    /// not (said on standard error, and in the trace's end line); 2 when a lens is missing;
    /// 130 after Ctrl-C, which reaches the programs.
    Run(run::RunArgs),
    /// Show a saved trace exactly as it was shown live.
    Show(show::ShowArgs),
    /// Hold a trace against the documented client and server sequences (exit 0 conforms, 1
    /// deviations, 2 unreadable).
    Check(check::CheckArgs),
    /// What differs between two traces after normalization: the first differing event and the
    /// documented step it belongs to (exit 0 same, 1 different, 2 unreadable).
    Diff(diff::DiffArgs),
    /// Write a saved trace's packets in another tool's format (pcap).
    Export(export::ExportArgs),
    /// The TCP and UDP conversations of a pcap or pcapng capture: one summary line each, or
    /// one trace each (--save-dir), or one as a timeline (--conversation N).
    ///
    /// Packets are as captured; states are modelled (RFC 9293), since a capture holds no
    /// socket calls. Exits 2 on a file that is missing, not a capture, truncated (after
    /// listing what it holds) or of a link type it cannot read; 130 when interrupted.
    Import(import::ImportArgs),
    /// Produce a trace from the RFC 9293 model, without privileges: every event is modelled.
    Simulate(simulate::SimulateArgs),
    /// Grade a class's echo servers (or clients): each submission runs sandboxed against the
    /// reference client (or server), is traced, and is graded by the documented sequence its
    /// sockets follow.
    ///
    /// Needs root (the sandbox's users and networks, the kernel lenses). Exits 0 once every
    /// submission is graded (the grades are in the reports); 2 on a bad rubric or folder, or
    /// without root; 130 after Ctrl-C, which ends every submission's processes.
    Grade(grade::GradeArgs),
    /// Step through a saved trace beside the documented sequences (every step at once into a pipe).
    Replay(replay::ReplayArgs),
    /// The lesson book: build it, serve it, record its fixtures, or run as its mdBook preprocessor.
    Book(book::BookArgs),
    /// Print the shell's completion script for `trace` (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print `trace`'s man page (roff): `trace manpage > trace.1; man ./trace.1`.
    Manpage,
    /// The child a live session leaves its kernel objects to (`capture::release`): it closes
    /// the inherited descriptors, after `trace` has returned.
    #[command(hide = true)]
    ReleaseHeld(ReleaseArgs),
}

#[derive(clap::Args, Debug)]
struct ReleaseArgs {
    /// The pid of the `trace` that left them (so that `ps` says whose they are).
    #[arg(long)]
    session: Option<u32>,
    /// How long to hold them before closing them (see `capture::release::EVENTS_LINGER`).
    #[arg(long, default_value_t = 0)]
    after_ms: u64,
    /// An inherited descriptor to close (a packet socket, a perf event).
    #[arg(long = "fd")]
    fds: Vec<i32>,
}

/// The command line's definition: its subcommands, options and help.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses the command line and runs the subcommand.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with success, usage errors to stderr.
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(EXIT_ERROR) } else { ExitCode::SUCCESS };
        }
    };
    // A live session's work is done once its trace is written: the kernel's release of its
    // lenses (tens of milliseconds of grace periods) is left to a child process. `trace grade`
    // runs many sessions in one process, each released in place.
    if matches!(cli.command, Command::Echo(_) | Command::P2p(_) | Command::Run(_)) {
        if let Ok(program) = std::env::current_exe() {
            crate::capture::release::in_background(program);
        }
    }
    let result = match cli.command {
        Command::Echo(args) => echo::run(args),
        Command::P2p(args) => p2p::run(args),
        Command::Run(args) => run::run(args),
        Command::Show(args) => show::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Export(args) => export::run(args),
        Command::Import(args) => import::run(args),
        Command::Check(args) => check::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Grade(args) => grade::run(args),
        Command::Book(args) => book::run(args, Cli::command()),
        Command::Completions(args) => completions::completions(args, Cli::command()),
        Command::Manpage => completions::manpage(Cli::command()),
        Command::ReleaseHeld(args) => {
            crate::capture::release::release_held(&args.fds, std::time::Duration::from_millis(args.after_ms));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("trace: {}", err.line());
            ExitCode::from(EXIT_ERROR)
        }
    }
}
