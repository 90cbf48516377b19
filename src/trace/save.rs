//! A whole trace written to a file at once (a simulated trace, `--save FILE`); a live one is
//! written as it grows, by the session's sink.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::reader::Trace;
use super::writer::TraceWriter;

/// A trace file that could not be written, and where.
#[derive(Debug)]
pub struct SaveError {
    pub path: PathBuf,
    pub err: io::Error,
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write the trace to {}: {} (check the directory exists and is writable)", self.path.display(), self.err)
    }
}

impl std::error::Error for SaveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.err)
    }
}

impl Trace {
    /// Writes the whole trace to `path`: header, events, end line.
    pub fn save(&self, path: &Path) -> Result<(), SaveError> {
        let save_error = |err: io::Error| SaveError { path: path.to_path_buf(), err };
        let file = std::fs::File::create(path).map_err(save_error)?;
        let mut writer = TraceWriter::new(io::BufWriter::new(file), &self.header).map_err(save_error)?;
        for event in &self.events {
            writer.event(event).map_err(save_error)?;
        }
        let end = self.end.clone().unwrap_or_default();
        writer.finish(&end).map_err(save_error)?;
        Ok(())
    }
}
