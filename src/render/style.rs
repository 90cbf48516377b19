//! Terminal colour: on for a terminal, off for a pipe or when `NO_COLOR` is set
//! (no-color.org).

use std::io::IsTerminal;

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
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Calls in cyan, packets in yellow (red for RST), states in green, modelled in magenta.
    pub fn call(self, text: &str) -> String {
        self.paint("36", text)
    }

    pub fn packet(self, text: &str, reset: bool) -> String {
        self.paint(if reset { "31" } else { "33" }, text)
    }

    pub fn state(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn modelled(self, text: &str) -> String {
        self.paint("35", text)
    }
}
