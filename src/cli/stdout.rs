//! What the subcommands write to standard output, where a reader that has gone (`trace show
//! FILE | head`) ends the output quietly instead of being an error.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IsTerminal, Write};

use super::CliError;
use crate::event::Event;
use crate::render::{self, Style};
use crate::trace::{End, Header, Trace, TraceError, TraceReader};

/// Colour for standard output: on for a terminal, off for a pipe or when `NO_COLOR` is set
/// (no-color.org).
pub(crate) fn style() -> Style {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style { color: !no_color && io::stdout().is_terminal() }
}

/// How wide standard output is: `COLUMNS` when set (as a shell sets it, and as a user may, to
/// fit a narrower window or a page), else the terminal's width, else unbounded (a pipe or a
/// file keeps every row whole).
pub(crate) fn width() -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|&c| c > 0) {
        return Some(columns);
    }
    let stdout = io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    rustix::termios::tcgetwinsize(&stdout).ok().map(|size| usize::from(size.ws_col)).filter(|&c| c > 0)
}

/// The renderer for standard output: JSON Lines (`--json`), or the timeline in the colours
/// and the width standard output takes.
pub(crate) fn renderer(json: bool) -> Box<dyn render::Renderer> {
    render::renderer(json, style(), width())
}

/// Writes to standard output, where `print!` would panic once the reader has gone.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(CliError::new(format!("cannot write to standard output: {err}"))),
        _ => Ok(()),
    }
}

/// Shows a whole trace on standard output: the timeline, or JSON Lines.
pub(crate) fn present(trace: &Trace, json: bool) -> Result<(), CliError> {
    present_events(&trace.header, trace.events.iter().map(Ok), || trace.end.clone(), json)
}

/// Shows a trace file on standard output as it is read, event by event: what was readable is
/// shown, then the first line that is not is the error.
pub(crate) fn present_file(reader: TraceReader<File>, json: bool) -> Result<(), CliError> {
    let header = reader.header().clone();
    let reader = RefCell::new(reader);
    present_events(&header, std::iter::from_fn(|| reader.borrow_mut().next()), || reader.borrow().end().cloned(), json)
}

fn present_events<E: Borrow<Event>>(
    header: &Header,
    events: impl Iterator<Item = Result<E, TraceError>>,
    end: impl FnOnce() -> Option<End>,
    json: bool,
) -> Result<(), CliError> {
    let mut renderer = renderer(json);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match render::render_all(renderer.as_mut(), header, events, end, &mut out) {
        Ok(read) => Ok(read?),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(CliError::new(format!("cannot write the timeline: {err}"))),
    }
}
