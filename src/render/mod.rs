//! How a trace is shown. One trait, one file per output format; every renderer is a pure
//! function of the header and the ordered events, so a saved trace shows exactly as it did
//! live.

pub(crate) mod check;
mod check_file;
pub(crate) mod fit;
pub(crate) mod json;
pub(crate) mod ladder;
pub(crate) mod replay;
mod replay_ladder;
pub(crate) mod replay_screen;
pub(crate) mod replay_state;
pub(crate) mod style;

use std::io::{self, Write};

use crate::event::Event;
use crate::trace::{End, Header};

pub use check_file::{run_check, CheckError};
pub use json::JsonLines;
pub use ladder::Ladder;
pub use style::Style;

pub trait Renderer {
    fn header(&mut self, header: &Header, out: &mut dyn Write) -> io::Result<()>;
    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()>;
    /// The timeline has released everything up to `watermark` (trace clock). A renderer that
    /// holds a row back to merge it with a later one may decide about it now.
    fn idle(&mut self, _watermark: u64, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// `None` when the trace was interrupted before its end line.
    fn end(&mut self, end: Option<&End>, out: &mut dyn Write) -> io::Result<()>;
}

/// JSON Lines (`--json`), or the timeline in `style`, fitted to a terminal `width` columns
/// wide (`None`: unbounded).
pub fn renderer(json: bool, style: Style, width: Option<usize>) -> Box<dyn Renderer> {
    if json {
        Box::new(JsonLines)
    } else {
        Box::new(Ladder::new(style, width))
    }
}

/// Renders a trace as its events come: a trace read from a file is shown line by line, as it
/// was live, never held whole. Stops at the first event that could not be read and hands its
/// error back (`Ok(Err(..))`), the events before it shown as far as the renderer had written
/// them (a call's start waits for the next event, to be joined with its end); `end` is asked
/// for once the events are done.
pub fn render_all<E: std::borrow::Borrow<Event>, Bad>(
    renderer: &mut dyn Renderer,
    header: &Header,
    events: impl Iterator<Item = Result<E, Bad>>,
    end: impl FnOnce() -> Option<End>,
    out: &mut dyn Write,
) -> io::Result<Result<(), Bad>> {
    renderer.header(header, out)?;
    for event in events {
        match event {
            Ok(event) => renderer.event(event.borrow(), out)?,
            Err(bad) => return Ok(Err(bad)),
        }
    }
    renderer.end(end().as_ref(), out)?;
    Ok(Ok(()))
}
