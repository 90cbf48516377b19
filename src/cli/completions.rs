//! `trace completions SHELL` and `trace manpage`: the shell's completion script and the man
//! page, both made from the command line's own definition, so that they never fall behind it.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use clap_complete::Shell;

use super::CliError;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: ShellName,
}

/// The shells clap_complete writes for, by the names a user types.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ShellName {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

impl From<ShellName> for Shell {
    fn from(name: ShellName) -> Shell {
        match name {
            ShellName::Bash => Shell::Bash,
            ShellName::Zsh => Shell::Zsh,
            ShellName::Fish => Shell::Fish,
            ShellName::Elvish => Shell::Elvish,
            ShellName::Powershell => Shell::PowerShell,
        }
    }
}

/// Writes the completion script to standard output: `trace completions bash > ~/.local/share/bash-completion/completions/trace`.
pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> Result<ExitCode, CliError> {
    let mut out = Vec::new();
    clap_complete::generate(Shell::from(args.shell), &mut command, "trace", &mut out);
    super::stdout::print(&String::from_utf8_lossy(&out))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the man page (roff) to standard output: `trace manpage > trace.1; man ./trace.1`.
pub fn manpage(command: clap::Command) -> Result<ExitCode, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command).render(&mut out).map_err(|e| CliError::context("cannot write the man page", e))?;
    super::stdout::print(&String::from_utf8_lossy(&out))?;
    Ok(ExitCode::SUCCESS)
}
