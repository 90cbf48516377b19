//! `trace show FILE`: renders a saved trace with the renderer `trace echo` used live.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::render::{self, JsonLines, Ladder, Renderer, Style};
use crate::trace::read_trace;

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The trace file (saved with `trace echo --save FILE`).
    file: PathBuf,
    /// Print the events as JSON Lines instead of the timeline.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ShowArgs) -> Result<ExitCode, CliError> {
    let trace = read_trace(&args.file)?;
    let mut renderer: Box<dyn Renderer> = if args.json { Box::new(JsonLines) } else { Box::new(Ladder::new(Style::for_stdout())) };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match render::render_all(renderer.as_mut(), &trace.header, &trace.events, trace.end.as_ref(), &mut out) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A reader that went away (`trace show f | head`) is not an error.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(CliError(format!("cannot write the timeline: {err}"))),
    }
}
