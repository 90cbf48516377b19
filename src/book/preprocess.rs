//! The `socktrace` mdBook preprocessor: expands the chapters' questions ([`super::quiz`]) and
//! the book's directives ([`super::directives`]) in every chapter. `trace book build` runs it
//! in-process; a stock `mdbook build` runs it as the command `trace book preprocess` named in
//! `book.toml` (mdBook's preprocessor protocol:
//! `CMD supports RENDERER` answers by exit status, then `CMD` reads `[context, book]` as JSON
//! on standard input and writes the book back on standard output).

use std::io::{Read, Write};

use mdbook_preprocessor::book::Book;
use mdbook_preprocessor::errors::{Error, Result};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};

use super::{directives, quiz};

/// The preprocessor's name, as `book.toml`'s `[preprocessor.socktrace]` names it.
pub const NAME: &str = "socktrace";

/// The book's own preprocessor, with the `trace` command line's definition that the
/// `{{#commands}}` directive lists.
pub struct Socktrace {
    pub commands: clap::Command,
}

impl Preprocessor for Socktrace {
    fn name(&self) -> &str {
        NAME
    }

    fn run(&self, ctx: &PreprocessorContext, mut book: Book) -> Result<Book> {
        let src = ctx.root.join(&ctx.config.book.src);
        let mut failure = None;
        book.for_each_chapter_mut(|chapter| {
            let Some(source) = &chapter.source_path else { return };
            if failure.is_some() {
                return;
            }
            let file = src.join(source);
            let dir = file.parent().unwrap_or(&src);
            let expanded = quiz::expand(&chapter.content, dir).and_then(|content| directives::expand(&content, dir, &self.commands).map_err(|e| e.to_string()));
            match expanded {
                Ok(content) => chapter.content = content,
                Err(err) => failure = Some(Error::msg(format!("{}: {err}", file.display()))),
            }
        });
        failure.map_or(Ok(book), Err)
    }

    fn supports_renderer(&self, renderer: &str) -> Result<bool> {
        Ok(supports(renderer))
    }
}

/// The renderers the preprocessor's output is meant for: its widgets are HTML.
pub fn supports(renderer: &str) -> bool {
    renderer == "html"
}

/// One run of the preprocessor protocol: `[context, book]` in, the expanded book out.
pub fn run_protocol(input: impl Read, output: impl Write, commands: clap::Command) -> Result<()> {
    let (ctx, book) = mdbook_preprocessor::parse_input(input)?;
    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    if minor(&ctx.mdbook_version) != minor(mdbook_preprocessor::MDBOOK_VERSION) {
        eprintln!(
            "trace book preprocess: built for mdBook {}, called by mdBook {}; if the book comes out wrong, use `trace book build`",
            mdbook_preprocessor::MDBOOK_VERSION,
            ctx.mdbook_version
        );
    }
    let book = Socktrace { commands }.run(&ctx, book)?;
    serde_json::to_writer(output, &book)?;
    Ok(())
}
