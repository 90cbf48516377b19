//! The lesson book: every claim a chapter makes holds on its fixture, the book builds (in
//! process, and through mdBook's own command protocol), `trace replay` and `trace book
//! serve` work, and a real browser replays every chapter offline.

mod browser;
mod build;
mod cdp;
mod claims;
mod lessons;
mod live_page;
mod reader;
mod record_fixtures;
mod upload;
mod yours;

use std::path::{Path, PathBuf};

use socktrace::trace::Trace;

/// The repository's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_path(name: &str) -> PathBuf {
    root().join("fixtures/lessons").join(name)
}

fn fixture(name: &str) -> Trace {
    crate::support::load(&fixture_path(name))
}

/// Builds the book once per test run, into the target directory; returns where.
fn built_book() -> &'static Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let dest = crate::support::scratch("book");
        socktrace::book::build(&root().join("book"), Some(&dest), false, &socktrace::cli::command()).unwrap_or_else(|e| panic!("{e}")).dest
    })
}
