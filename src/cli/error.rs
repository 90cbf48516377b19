//! A subcommand's failure: the line for the user, and the exit codes beside success.

/// An error for the user: one line saying what was wrong and what to do.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(err: E) -> CliError {
        CliError(err.to_string())
    }
}

pub const EXIT_DEVIATIONS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;
