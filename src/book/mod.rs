//! The lesson book: mdBook sources in `lessons/`, its configuration and the replay widget in
//! `book/`, the traces it replays in `fixtures/lessons/`; built into `target/book/`.
//!
//! - `directives.rs`: the book's own `{{#…}}` directives (replay widgets and generated tables),
//!   `markup.rs` the escaping and the state diagram every page the book writes shares;
//! - `replay_options.rs`: the options of `{{#trace}}` (where a replay opens, its lenses, its steps);
//! - `quiz.rs`: the chapters' questions (```` ```quiz ```` blocks), asked and scored in the page;
//! - `preprocess.rs`: the mdBook preprocessor that expands them, in-process or as a command;
//! - `log.rs`: mdBook's log, captured, so that a logged error fails the build;
//! - `serve.rs`: a loopback HTTP server of the built book that rebuilds on change, `http.rs`
//!   the little HTTP it speaks, `upload.rs` the reader's own trace it replays and checks for
//!   the "Your trace" page, whose drop zone `workbench.rs` writes;
//! - `page.rs`: pages that stand alone (`trace replay --html`, the live page), and `live.rs`
//!   the loopback server that streams a live session into its page (`trace echo --web`);
//! - `fixtures.rs`: the fixtures and the one command that records them.

pub(crate) mod directives;
pub mod fixtures;
mod http;
pub mod live;
pub mod log;
pub(crate) mod markup;
pub mod page;
mod preprocess;
pub(crate) mod quiz;
pub mod replay_options;
pub(crate) mod serve;
pub mod upload;
mod workbench;

use std::fmt;
use std::path::{Path, PathBuf};

use mdbook_driver::MDBook;
use tracing::Level;

pub use preprocess::{run_protocol, supports, Socktrace, NAME};

/// A built book.
#[derive(Debug)]
pub struct Built {
    /// Where the HTML went.
    pub dest: PathBuf,
    /// Everything mdBook logged (INFO and above).
    pub log: Vec<log::Line>,
}

/// Why the book did not build.
#[derive(Debug)]
pub enum BookError {
    /// mdBook failed (a missing chapter, a directive that could not be expanded, …).
    Failed { book: PathBuf, message: String },
    /// mdBook logged errors while building, which it does not count as failures.
    Logged { book: PathBuf, errors: Vec<log::Line> },
}

impl fmt::Display for BookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BookError::Failed { book, message } => write!(f, "the book in {} did not build: {message}", book.display()),
            BookError::Logged { book, errors } => {
                let lines: Vec<String> = errors.iter().map(|l| l.text.clone()).collect();
                write!(f, "the book in {} built, but mdBook logged errors (it may have left out parts of it): {}", book.display(), lines.join(" | "))
            }
        }
    }
}

impl std::error::Error for BookError {}

/// Builds the book whose `book.toml` is in `book_dir` with the `socktrace` preprocessor
/// in-process, into `dest` (default: the `build-dir` of `book.toml`). `echo_log` prints
/// mdBook's log to standard error as it comes. `commands` is the `trace` command line's
/// definition (`socktrace::cli::command()`), which the reference lists.
pub fn build(book_dir: &Path, dest: Option<&Path>, echo_log: bool, commands: &clap::Command) -> Result<Built, BookError> {
    let failed = |message: String| BookError::Failed { book: book_dir.to_path_buf(), message };
    if !book_dir.join("book.toml").is_file() {
        return Err(failed(format!(
            "there is no book.toml in {}: run `trace book` from the socktrace repository's root, or pass --book DIR",
            book_dir.display()
        )));
    }
    let (result, log) = log::capture(echo_log, || {
        let mut book = MDBook::load(book_dir)?;
        if let Some(dest) = dest {
            book.config.build.build_dir = std::path::absolute(dest)?;
        }
        book.with_preprocessor(Socktrace { commands: commands.clone() });
        book.build()?;
        let dest = book.build_dir_for("html");
        Ok::<PathBuf, mdbook_driver::errors::Error>(std::fs::canonicalize(&dest).unwrap_or(dest))
    });
    let dest = result.map_err(|e| failed(format!("{e:#}")))?;
    let errors: Vec<log::Line> = log.iter().filter(|l| l.level == Level::ERROR).cloned().collect();
    if !errors.is_empty() {
        return Err(BookError::Logged { book: book_dir.to_path_buf(), errors });
    }
    Ok(Built { dest, log })
}

/// The directories whose changes call for a rebuild: the book's own, its sources and the
/// `extra-watch-dirs` of `book.toml` (the fixtures).
fn watched_dirs(book_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![book_dir.to_path_buf()];
    if let Ok(config) = mdbook_driver::config::Config::from_disk(book_dir.join("book.toml")) {
        dirs.push(book_dir.join(&config.book.src));
        dirs.extend(config.build.extra_watch_dirs.iter().map(|d| book_dir.join(d)));
    }
    dirs
}
