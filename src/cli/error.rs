//! A subcommand's failure: the line for the user, and the exit codes beside success.

use std::error::Error;
use std::fmt;

pub use crate::exit_codes::{EXIT_DEVIATIONS, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_SESSION_FAILED};

/// An error for the user: one line saying what was wrong and what to do. It keeps the error
/// it came from as its source, so that the whole chain reaches the top ([`CliError::line`]).
#[derive(Debug)]
pub struct CliError {
    /// What the command line says about the error; none when the source says it all.
    message: Option<String>,
    source: Option<Box<dyn Error + Send + Sync + 'static>>,
}

impl CliError {
    /// An error the command line found itself (a missing argument, an unwritable output).
    pub fn new(message: impl Into<String>) -> CliError {
        CliError { message: Some(message.into()), source: None }
    }

    /// `err`, told with what the command was doing (`cannot open capture FILE`).
    pub fn context(message: impl Into<String>, err: impl Error + Send + Sync + 'static) -> CliError {
        CliError { message: Some(message.into()), source: Some(Box::new(err)) }
    }

    /// The line printed after `trace: `: the message, then each error of the chain below it
    /// that the line does not already say (many errors write their source into their own
    /// text, and the line says it once).
    pub fn line(&self) -> String {
        let mut line = self.message.clone().unwrap_or_default();
        let mut next: Option<&(dyn Error + 'static)> = self.source.as_deref().map(|e| e as &(dyn Error + 'static));
        while let Some(err) = next {
            let text = err.to_string();
            if !text.is_empty() && !line.contains(&text) {
                if !line.is_empty() {
                    line.push_str(": ");
                }
                line.push_str(&text);
            }
            next = err.source();
        }
        // One line, whatever a trace's text put in it.
        crate::inert::terminal(&line).into_owned()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

impl<E: Error + Send + Sync + 'static> From<E> for CliError {
    fn from(err: E) -> CliError {
        CliError { message: None, source: Some(Box::new(err)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot read the trace")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_chain_reaches_the_line_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(CliError::from(Outer(io())).line(), "cannot read the trace: no such file");
        assert_eq!(CliError::context("show x.jsonl", Outer(io())).line(), "show x.jsonl: cannot read the trace: no such file");
        // An error that already wrote its source into its text says it once.
        let said = std::io::Error::other(format!("cannot read the trace: {}", io()));
        assert_eq!(CliError::from(said).line(), "cannot read the trace: no such file");
        assert_eq!(CliError::new("give a command").line(), "give a command");
    }
}
