//! How far an import has read a large capture: a bar on standard error, when that is a
//! terminal.

use std::io::IsTerminal;

/// Files smaller than this import in a blink: no progress bar.
const PROGRESS_FROM: u64 = 64 << 20;

/// A progress bar on standard error, for large files on a terminal.
pub struct Bar {
    size: u64,
    on: bool,
    shown: u64,
}

impl Bar {
    /// The bar for a capture of `size` bytes: shown only when it is large and standard error
    /// a terminal.
    pub fn for_file(size: u64) -> Bar {
        Bar { size, on: std::io::stderr().is_terminal() && size >= PROGRESS_FROM, shown: u64::MAX }
    }

    /// `offset` bytes of the file have been read.
    pub fn show(&mut self, offset: u64) {
        if !self.on || self.size == 0 {
            return;
        }
        let percent = offset.min(self.size) * 100 / self.size;
        if percent == self.shown {
            return;
        }
        self.shown = percent;
        let filled = (percent / 4) as usize;
        eprint!("\rimporting [{}{}] {percent:>3}%", "#".repeat(filled), " ".repeat(25 - filled));
    }

    /// Takes the bar off the terminal, before anything else is written there.
    pub fn clear(&mut self) {
        if self.on && self.shown != u64::MAX {
            eprint!("\r{}\r", " ".repeat(48));
        }
    }
}
