//! Writes a trace as events happen, one whole line per record.

use std::io::{self, Write};

use super::format::{End, EndRecord, Header};
use crate::event::Event;

/// A streaming trace writer. Every record is written with a single `write_all` of one line,
/// so that an interrupted trace holds only whole records.
pub struct TraceWriter<W: Write> {
    out: W,
    line: Vec<u8>,
    events: u64,
}

impl<W: Write> TraceWriter<W> {
    pub fn new(mut out: W, header: &Header) -> io::Result<TraceWriter<W>> {
        let mut line = serde_json::to_vec(header).map_err(io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
        out.flush()?;
        Ok(TraceWriter { out, line: Vec::with_capacity(512), events: 0 })
    }

    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, event).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.events += 1;
        Ok(())
    }

    /// Pushes buffered lines to the file, so that what was shown is also saved.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes the end line: `events` is counted here, the rest comes from the capture.
    pub fn finish(mut self, end: &End) -> io::Result<W> {
        let end = End { events: self.events, ..end.clone() };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &EndRecord { end }).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
