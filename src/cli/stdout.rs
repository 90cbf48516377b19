//! What the subcommands write to standard output, where a reader that has gone (`trace show
//! FILE | head`) ends the output quietly instead of being an error.

use std::io::{self, Write};

use super::CliError;
use crate::render;
use crate::trace::Trace;

/// Writes to standard output, where `print!` would panic once the reader has gone.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(CliError::new(format!("cannot write to standard output: {err}"))),
        _ => Ok(()),
    }
}

/// Shows a whole trace on standard output: the timeline, or JSON Lines.
pub(crate) fn present(trace: &Trace, json: bool) -> Result<(), CliError> {
    let mut renderer = render::for_stdout(json);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match render::render_all(renderer.as_mut(), &trace.header, &trace.events, trace.end.as_ref(), &mut out) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(CliError::new(format!("cannot write the timeline: {err}"))),
    }
}
