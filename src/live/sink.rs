//! Where a session's released events go: the screen, through a renderer, and the trace file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::error::LiveError;
use crate::event::Event;
use crate::render::Renderer;
use crate::trace::{End, Header, SaveError, TraceWriter};

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
    file: Option<TraceFile>,
    events: u64,
}

impl Sink {
    pub fn open(output: Output, header: &Header) -> Result<Sink, LiveError> {
        let file = output.save.map(|path| TraceFile::start(path, header)).transpose()?;
        let mut sink = Sink { renderer: output.renderer, screen: Screen::new(BufWriter::with_capacity(BATCH_BYTES, io::stdout())), file, events: 0 };
        if let Some(renderer) = &mut sink.renderer {
            sink.screen.show(|out| renderer.header(header, out));
        }
        Ok(sink)
    }

    /// Shows and saves released events.
    pub fn emit(&mut self, events: &[Event], watermark: u64) -> Result<(), LiveError> {
        if let Some(renderer) = &mut self.renderer {
            self.screen.show(|out| {
                for event in events {
                    renderer.event(event, out)?;
                }
                renderer.idle(watermark, out)
            });
        }
        if let (Some(file), false) = (&mut self.file, events.is_empty()) {
            file.write(events)?;
        }
        self.events += events.len() as u64;
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
        if let Some(file) = self.file.take() {
            file.finish(&end)?;
        }
        Ok(end)
    }
}

/// The trace file, written as events are released.
struct TraceFile {
    path: PathBuf,
    writer: TraceWriter<BufWriter<File>>,
}

impl TraceFile {
    /// Creates the file and writes its header here, so that one that cannot be written stops
    /// the session before its programs run.
    fn start(path: PathBuf, header: &Header) -> Result<TraceFile, LiveError> {
        let writer = File::create(&path).and_then(|file| TraceWriter::new(BufWriter::with_capacity(BATCH_BYTES, file), header));
        match writer {
            Ok(writer) => Ok(TraceFile { path, writer }),
            Err(err) => Err(LiveError::Save(SaveError { path, err })),
        }
    }

    /// Saves released events and flushes them, so that what was shown is also on disk if the
    /// session is killed.
    fn write(&mut self, events: &[Event]) -> Result<(), LiveError> {
        let writer = &mut self.writer;
        let written = events.iter().try_for_each(|event| writer.event(event)).and_then(|()| writer.flush());
        written.map_err(|err| LiveError::Save(SaveError { path: self.path.clone(), err }))
    }

    fn finish(self, end: &End) -> Result<(), LiveError> {
        self.writer.finish(end).map(drop).map_err(|err| LiveError::Save(SaveError { path: self.path, err }))
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
