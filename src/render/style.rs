//! Terminal colour: on for a terminal, off for a pipe or when `NO_COLOR` is set
//! (no-color.org).

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

/// The colours, as SGR codes: the frame dim, headings bold, calls in cyan, packets in yellow
/// (red for RST), states in green, modelled events in magenta.
pub const DIM: &str = "2";
pub const BOLD: &str = "1";
pub const CALL: &str = "36";
pub const PACKET: &str = "33";
pub const RESET_PACKET: &str = "31";
pub const STATE: &str = "32";
pub const MODELLED: &str = "35";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn plain() -> Style {
        Style { color: false }
    }

    /// Colour for standard output, following the terminal and `NO_COLOR`.
    pub fn for_stdout() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style { color: !no_color && std::io::stdout().is_terminal() }
    }

    pub fn paint(self, code: &str, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 9);
        self.paint_into(code, format_args!("{text}"), &mut out);
        out
    }

    /// Appends `text` to `out` as [`Style::paint`] returns it, written in place (the ladder
    /// draws each row into one buffer). Gives the text's length in characters, to which its
    /// colour codes add nothing.
    pub fn paint_into(self, code: &str, text: fmt::Arguments, out: &mut String) -> usize {
        if self.color {
            let _ = write!(out, "\x1b[{code}m");
        }
        let start = out.len();
        let _ = out.write_fmt(text);
        let chars = out[start..].chars().count();
        if self.color {
            out.push_str("\x1b[0m");
        }
        chars
    }

    pub fn dim(self, text: &str) -> String {
        self.paint(DIM, text)
    }

    pub fn bold(self, text: &str) -> String {
        self.paint(BOLD, text)
    }

    pub fn call(self, text: &str) -> String {
        self.paint(CALL, text)
    }

    pub fn packet(self, text: &str, reset: bool) -> String {
        self.paint(if reset { RESET_PACKET } else { PACKET }, text)
    }

    pub fn state(self, text: &str) -> String {
        self.paint(STATE, text)
    }

    pub fn modelled(self, text: &str) -> String {
        self.paint(MODELLED, text)
    }
}
