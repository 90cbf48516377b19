//! The trace file: a header line, one JSON line per event, and an end line (DESIGN §3).
//!
//! The file is written as events happen, one whole line at a time, so a trace cut short by
//! Ctrl-C or a crash still reads back: it simply has no end line.

pub(crate) mod format;
mod line;
pub(crate) mod reader;
pub(crate) mod room;
pub(crate) mod save;
pub(crate) mod writer;
mod written;

pub use format::{End, Exit, Header, LensStatus, Lenses, ProgramEnd, Source, FORMAT, FORMAT_MAJOR};
pub use reader::{read_trace, Limits, Trace, TraceError, TraceReader};
pub use save::SaveError;
pub use writer::TraceWriter;
