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

/// Renders a whole trace.
pub fn render_all(renderer: &mut dyn Renderer, header: &Header, events: &[Event], end: Option<&End>, out: &mut dyn Write) -> io::Result<()> {
    renderer.header(header, out)?;
    for event in events {
        renderer.event(event, out)?;
    }
    renderer.end(end, out)
}
