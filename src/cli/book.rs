//! `trace book`: build or serve the lesson book, record its fixtures, or answer mdBook as its
//! preprocessor.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use crate::book;

#[derive(Args, Debug)]
pub struct BookArgs {
    #[command(subcommand)]
    command: BookCommand,
}

#[derive(Subcommand, Debug)]
enum BookCommand {
    /// Build the book into target/book (open target/book/index.html; it works offline).
    Build(Where),
    /// Build the book and serve it on 127.0.0.1, rebuilding it when its sources change.
    Serve {
        #[command(flatten)]
        at: Where,
        /// The port (0: any free port; the URL is printed).
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
    /// Record every fixture the book replays into fixtures/lessons (live ones need root).
    RecordFixtures {
        /// Where the fixtures go.
        #[arg(long, default_value = "fixtures/lessons")]
        dir: PathBuf,
        /// Record only this fixture (e.g. echo.jsonl).
        #[arg(long, value_name = "FILE")]
        only: Option<String>,
    },
    /// Run as mdBook's preprocessor (book.toml's [preprocessor.socktrace]): `supports RENDERER`,
    /// or the book as JSON on standard input.
    Preprocess {
        #[command(subcommand)]
        supports: Option<Supports>,
    },
}

#[derive(Args, Debug)]
struct Where {
    /// The directory holding book.toml.
    #[arg(long, default_value = "book")]
    book: PathBuf,
    /// Where the built book goes (default: book.toml's build-dir, target/book).
    #[arg(long)]
    dest: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Supports {
    /// Exit 0 when the preprocessor supports RENDERER (html), 1 otherwise.
    Supports { renderer: String },
}

/// `commands`: the command line's definition, which the book's reference lists.
pub fn run(args: BookArgs, commands: clap::Command) -> Result<ExitCode, CliError> {
    match args.command {
        BookCommand::Build(at) => {
            let built = book::build(&at.book, at.dest.as_deref(), false, &commands)?;
            for line in built.log.iter().filter(|l| l.level == tracing::Level::WARN) {
                eprintln!("trace book: mdBook warns: {}", line.text);
            }
            println!("built the book into {}; open {} (it works offline)", built.dest.display(), built.dest.join("index.html").display());
            Ok(ExitCode::SUCCESS)
        }
        BookCommand::Serve { at, port } => {
            book::serve::serve(&at.book, at.dest.as_deref(), port, &commands).map_err(CliError::new)?;
            Ok(ExitCode::SUCCESS)
        }
        BookCommand::RecordFixtures { dir, only } => {
            book::fixtures::record(&dir, only.as_deref()).map_err(CliError::new)?;
            Ok(ExitCode::SUCCESS)
        }
        BookCommand::Preprocess { supports: Some(Supports::Supports { renderer }) } => {
            Ok(if book::supports(&renderer) { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        BookCommand::Preprocess { supports: None } => {
            book::run_protocol(std::io::stdin().lock(), std::io::stdout().lock(), commands)
                .map_err(|e| CliError::new(format!("as mdBook's preprocessor: {e:#}")))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
