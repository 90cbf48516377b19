//! Where a session's released events go: the screen, through a renderer, and the trace file.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::thread::JoinHandle;

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

/// The trace file: started on a thread of its own, then written as events are released.
struct TraceFile {
    path: PathBuf,
    starting: Option<JoinHandle<io::Result<TraceWriter<BufWriter<File>>>>>,
    writer: Option<TraceWriter<BufWriter<File>>>,
}

impl TraceFile {
    /// Opens the file here, so that one that cannot be written stops the session before its
    /// programs run. Emptying what an earlier run left there can take the file system tens of
    /// ms (a long trace still being written back): that, and the header, are done on a
    /// thread of their own while the programs run.
    fn start(path: PathBuf, header: &Header) -> Result<TraceFile, LiveError> {
        let file = OpenOptions::new().write(true).create(true).open(&path).map_err(|err| LiveError::Save { path: path.clone(), err })?;
        let header = header.clone();
        let starting = std::thread::spawn(move || {
            // As `File::create` would: a device or a pipe (`--save /dev/stdout`) is not emptied.
            if file.metadata()?.is_file() {
                file.set_len(0)?;
            }
            TraceWriter::new(BufWriter::with_capacity(BATCH_BYTES, file), &header)
        });
        Ok(TraceFile { path, starting: Some(starting), writer: None })
    }

    /// The writer, once the file has started (waiting for it if need be).
    fn started(&mut self) -> io::Result<&mut TraceWriter<BufWriter<File>>> {
        if let Some(starting) = self.starting.take() {
            self.writer = Some(starting.join().unwrap_or_else(|_| Err(io::Error::other("starting the trace file panicked")))?);
        }
        self.writer.as_mut().ok_or_else(|| io::Error::other("the trace file did not start"))
    }

    /// Saves released events and flushes them, so that what was shown is also on disk if the
    /// session is killed.
    fn write(&mut self, events: &[Event]) -> Result<(), LiveError> {
        let written = self.started().and_then(|writer| {
            events.iter().try_for_each(|event| writer.event(event))?;
            writer.flush()
        });
        written.map_err(|err| LiveError::Save { path: self.path.clone(), err })
    }

    fn finish(mut self, end: &End) -> Result<(), LiveError> {
        let finished = self.started().map(drop).and_then(|()| self.writer.take().map_or(Ok(()), |writer| writer.finish(end).map(drop)));
        finished.map_err(|err| LiveError::Save { path: self.path, err })
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
