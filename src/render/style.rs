//! Terminal colour, when the caller asks for it (the command line does for a terminal, unless
//! `NO_COLOR` is set). The escape codes are `anstyle`'s.

use std::fmt::{self, Write as _};

use anstyle::{AnsiColor, Color};

/// A colour (and weight) to paint text in.
pub type Paint = anstyle::Style;

const fn fg(color: AnsiColor) -> Paint {
    Paint::new().fg_color(Some(Color::Ansi(color)))
}

/// The colours: the frame dim, headings bold, calls in cyan, packets in yellow (red for RST),
/// states in green, modelled events in magenta.
pub const DIM: Paint = Paint::new().dimmed();
pub const BOLD: Paint = Paint::new().bold();
pub const CALL: Paint = fg(AnsiColor::Cyan);
pub const PACKET: Paint = fg(AnsiColor::Yellow);
pub const RESET_PACKET: Paint = fg(AnsiColor::Red);
pub const STATE: Paint = fg(AnsiColor::Green);
pub const MODELLED: Paint = fg(AnsiColor::Magenta);

/// The check's report: a documented step met (green), ended with the trace (yellow), or not
/// met (bold red, as is a failing verdict); what is missing and why (red); a verdict that
/// conforms (bold green).
pub const MET: Paint = fg(AnsiColor::Green);
pub const ENDED: Paint = fg(AnsiColor::Yellow);
pub const NOT_MET: Paint = fg(AnsiColor::Red).bold();
pub const MISSING: Paint = fg(AnsiColor::Red);
pub const CONFORMS: Paint = fg(AnsiColor::Green).bold();

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn plain() -> Style {
        Style { color: false }
    }

    pub fn paint(self, paint: Paint, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 9);
        self.paint_into(paint, format_args!("{text}"), &mut out);
        out
    }

    /// Appends `text` to `out` as [`Style::paint`] returns it, written in place (the ladder
    /// draws each row into one buffer). Gives the text's length in characters, to which its
    /// colour codes add nothing.
    pub fn paint_into(self, paint: Paint, text: fmt::Arguments, out: &mut String) -> usize {
        if self.color {
            let _ = write!(out, "{}", paint.render());
        }
        let start = out.len();
        let _ = out.write_fmt(text);
        let chars = out[start..].chars().count();
        if self.color {
            let _ = write!(out, "{}", paint.render_reset());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_the_sgr_codes_a_terminal_knows() {
        let on = Style { color: true };
        assert_eq!(on.call("connect"), "\x1b[36mconnect\x1b[0m");
        assert_eq!(on.dim("┊"), "\x1b[2m┊\x1b[0m");
        assert_eq!(on.packet("RST", true), "\x1b[31mRST\x1b[0m");
        assert_eq!(on.paint(NOT_MET, "not met"), "\x1b[1m\x1b[31mnot met\x1b[0m");
        assert_eq!(Style::plain().call("connect"), "connect");
    }
}
