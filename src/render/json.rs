//! JSON Lines: one event per line, the same records as the trace file.

use std::io::{self, Write};

use super::Renderer;
use crate::event::Event;
use crate::trace::{End, Header};

#[derive(Default)]
pub struct JsonLines;

impl Renderer for JsonLines {
    fn header(&mut self, header: &Header, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *out, header).map_err(io::Error::other)?;
        out.write_all(b"\n")
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *out, event).map_err(io::Error::other)?;
        out.write_all(b"\n")
    }

    fn end(&mut self, end: Option<&End>, out: &mut dyn Write) -> io::Result<()> {
        if let Some(end) = end {
            serde_json::to_writer(&mut *out, &serde_json::json!({ "end": end })).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}
