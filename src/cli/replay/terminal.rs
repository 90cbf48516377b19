//! `trace replay` on a terminal: its screen ([`crate::render::replay_screen`]) redrawn after
//! every key and every change of the terminal's size, until `q`. The terminal is given back as
//! it was (raw mode off, the alternate screen left) however the replay ends: by a key, an
//! error or a panic.

use std::io;

use ratatui::crossterm::event::{self, Event, KeyEventKind};

use super::keys::{press, Flow};
use crate::render::replay_screen::draw;
use crate::render::replay_state::Screen;
use crate::replay::Replay;

/// Gives the terminal back when dropped: on return, on an error (`?`) and while a panic
/// unwinds. ratatui's own panic hook gives it back before the panic's message is printed, so
/// that the message is not lost with the alternate screen.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        // Says on standard error what it could not restore.
        ratatui::restore();
    }
}

pub fn step_through(replay: &Replay, color: bool) -> io::Result<()> {
    // Before the set-up, which may fail half-way (raw mode on, no alternate screen).
    let _restore = Restore;
    let mut terminal = ratatui::try_init()?;
    let mut screen = Screen { color, ..Screen::default() };
    loop {
        // Each draw reads the terminal's size: a resize is a redraw.
        terminal.draw(|frame| draw(replay, &screen, frame.area(), frame.buffer_mut()))?;
        if let Event::Key(key) = event::read()? {
            // Some terminals report releases too; a key acts once.
            if key.kind == KeyEventKind::Press && press(&mut screen, replay, key) == Flow::Quit {
                return Ok(());
            }
        }
    }
}
