//! Where a session's released events go: the screen, through a renderer, and the trace file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::session::LiveError;
use crate::event::Event;
use crate::render::Renderer;
use crate::trace::{End, Header, TraceWriter};

/// Where a session's output goes.
pub struct Output {
    /// How the screen shows the session; `None` shows nothing (recording from a program).
    pub renderer: Option<Box<dyn Renderer>>,
    pub save: Option<PathBuf>,
}

/// Room for a released batch: a few ms of a busy session is a few hundred events, ~200 KB of
/// trace lines or timeline rows, which then go out in one write, not in 8 KiB pieces.
const BATCH_BYTES: usize = 256 << 10;

/// Where released events go: the screen, through the renderer, and the trace file.
pub struct Sink {
    renderer: Option<Box<dyn Renderer>>,
    /// Buffered, so that a batch is one write: standard output writes each line at once.
    screen: Screen<BufWriter<io::Stdout>>,
    writer: Option<(PathBuf, TraceWriter<BufWriter<File>>)>,
    events: u64,
}

impl Sink {
    pub fn open(output: Output, header: &Header) -> Result<Sink, LiveError> {
        let writer = match output.save {
            Some(path) => {
                let file = File::create(&path).map_err(|err| LiveError::Save { path: path.clone(), err })?;
                let writer = TraceWriter::new(BufWriter::with_capacity(BATCH_BYTES, file), header).map_err(|err| LiveError::Save { path: path.clone(), err })?;
                Some((path, writer))
            }
            None => None,
        };
        let mut sink = Sink { renderer: output.renderer, screen: Screen::new(BufWriter::with_capacity(BATCH_BYTES, io::stdout())), writer, events: 0 };
        if let Some(renderer) = &mut sink.renderer {
            sink.screen.show(|out| renderer.header(header, out));
        }
        Ok(sink)
    }

    fn save_error(&self, err: io::Error) -> LiveError {
        let path = self.writer.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
        LiveError::Save { path, err }
    }

    /// Shows and saves released events; the file is flushed after every batch, so that what
    /// was shown is also on disk if the session is killed.
    pub fn emit(&mut self, events: &[Event], watermark: u64) -> Result<(), LiveError> {
        if let Some(renderer) = &mut self.renderer {
            self.screen.show(|out| {
                for event in events {
                    renderer.event(event, out)?;
                }
                renderer.idle(watermark, out)
            });
        }
        if let Some((_, writer)) = &mut self.writer {
            for event in events {
                if let Err(err) = writer.event(event) {
                    return Err(self.save_error(err));
                }
            }
        }
        self.events += events.len() as u64;
        if let Some((_, writer)) = &mut self.writer {
            if let Err(err) = writer.flush() {
                return Err(self.save_error(err));
            }
        }
        Ok(())
    }

    pub fn finish(self, packets_dropped: u64, states_lost: u64, out_of_order: u64) -> Result<End, LiveError> {
        self.finish_with(End { packets_dropped, states_lost, out_of_order, ..End::default() })
    }

    /// Ends the trace with `end`, whose event count is this sink's own.
    pub fn finish_with(mut self, end: End) -> Result<End, LiveError> {
        let end = End { events: self.events, ..end };
        if let Some(renderer) = &mut self.renderer {
            self.screen.show(|out| renderer.end(Some(&end), out));
        }
        if let Some((path, writer)) = self.writer.take() {
            writer.finish(&end).map_err(|err| LiveError::Save { path, err })?;
        }
        Ok(end)
    }
}

/// Standard output that stops being written once its reader has gone (`trace echo | head`),
/// while the session and its saved trace go on.
pub(crate) struct Screen<W: Write> {
    out: W,
    broken: bool,
}

impl<W: Write> Screen<W> {
    pub(crate) fn new(out: W) -> Screen<W> {
        Screen { out, broken: false }
    }

    pub(crate) fn show(&mut self, draw: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        if self.broken {
            return;
        }
        if draw(&mut self.out).and_then(|()| self.out.flush()).is_err() {
            self.broken = true;
        }
    }
}
