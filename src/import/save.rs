//! Writes one trace per conversation (`trace import --save-dir DIR`: `DIR/conn-N.jsonl`), in
//! bounded memory: each trace's lines are held in memory until [`BUFFER_BUDGET`] bytes are
//! held for all of them together, then appended to their files, whole lines only. A trace gets
//! its end line when its conversation is over; an import cut short (Ctrl-C) leaves the traces
//! of the conversations still open without one, which is how a trace says it was interrupted.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::conversation::{Conversation, End};
use super::events::ConversationEvents;
use crate::event::{Event, Packet};
use crate::hash::FastMap;
use crate::trace::{Header, TraceWriter};

/// The bytes of trace lines held in memory, all conversations together.
pub const BUFFER_BUDGET: usize = 8 << 20;

/// A file written in whole lines: what is written is held until `flush`, which appends it.
struct Spill {
    path: PathBuf,
    lines: Vec<u8>,
    created: bool,
    held: Rc<Cell<usize>>,
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lines.extend_from_slice(buf);
        self.held.set(self.held.get() + buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.lines.is_empty() && self.created {
            return Ok(());
        }
        // The first flush creates the file (replacing one of an earlier import), later ones append.
        let mut file = if self.created { OpenOptions::new().append(true).open(&self.path)? } else { File::create(&self.path)? };
        self.created = true;
        file.write_all(&self.lines)?;
        self.held.set(self.held.get() - self.lines.len());
        self.lines.clear();
        Ok(())
    }
}

/// The path of conversation `number`'s trace in `dir`.
pub fn trace_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("conn-{number}.jsonl"))
}

/// Why a trace could not be written.
#[derive(Debug)]
pub struct SaveError {
    pub path: PathBuf,
    pub err: io::Error,
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write the trace {}: {} (check the directory exists and is writable)", self.path.display(), self.err)
    }
}

impl std::error::Error for SaveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.err)
    }
}

struct Open {
    events: ConversationEvents,
    writer: TraceWriter<Spill>,
}

/// The traces of the conversations being imported.
pub struct TraceSet {
    dir: PathBuf,
    header: Header,
    open: FastMap<u64, Open>,
    held: Rc<Cell<usize>>,
    scratch: Vec<Event>,
    written: u64,
}

impl TraceSet {
    pub fn new(dir: &Path, header: Header) -> TraceSet {
        TraceSet { dir: dir.to_path_buf(), header, open: FastMap::default(), held: Rc::default(), scratch: Vec::new(), written: 0 }
    }

    /// How many traces have been completed (with their end line).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Adds one packet of conversation `number`, sent by `end`; `client` and `server` are
    /// the conversation's addresses.
    pub fn packet(
        &mut self,
        number: u64,
        end: End,
        client: std::net::SocketAddr,
        server: std::net::SocketAddr,
        t: u64,
        packet: Packet,
    ) -> Result<(), SaveError> {
        let path = trace_path(&self.dir, number);
        let error = |err| SaveError { path: path.clone(), err };
        if !self.open.contains_key(&number) {
            let spill = Spill { path: path.clone(), lines: Vec::new(), created: false, held: self.held.clone() };
            let writer = TraceWriter::new(spill, &self.header).map_err(error)?;
            self.open.insert(number, Open { events: ConversationEvents::new(client, server), writer });
        }
        let Some(open) = self.open.get_mut(&number) else { return Ok(()) };
        self.scratch.clear();
        open.events.packet(t, end, packet, &mut self.scratch);
        for event in &self.scratch {
            open.writer.event(event).map_err(error)?;
        }
        if self.held.get() > BUFFER_BUDGET {
            self.flush()?;
        }
        Ok(())
    }

    /// Completes the trace of a conversation that is over.
    pub fn finish(&mut self, conv: &Conversation) -> Result<(), SaveError> {
        let Some(mut open) = self.open.remove(&conv.number) else { return Ok(()) };
        let path = trace_path(&self.dir, conv.number);
        let error = |err| SaveError { path: path.clone(), err };
        self.scratch.clear();
        open.events.finish(&mut self.scratch);
        for event in &self.scratch {
            open.writer.event(event).map_err(error)?;
        }
        open.writer.finish(&crate::trace::End::default()).map_err(error)?;
        self.written += 1;
        Ok(())
    }

    /// Writes every held line to its file (the import was interrupted, or memory is full).
    pub fn flush(&mut self) -> Result<(), SaveError> {
        for (number, open) in &mut self.open {
            open.writer.flush().map_err(|err| SaveError { path: trace_path(&self.dir, *number), err })?;
        }
        Ok(())
    }
}
