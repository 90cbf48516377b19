//! Which key makes which move on `trace replay`'s screen ([`crate::render::replay_state`]
//! says what each move does).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::render::replay_state::{Ask, Screen};
use crate::replay::Replay;

/// Whether to carry on after a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Carry,
    Quit,
}

/// Applies `key` to `screen`.
pub fn press(screen: &mut Screen, replay: &Replay, key: KeyEvent) -> Flow {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Flow::Quit;
    }
    // A note says what became of the last key: the next one replaces it.
    screen.note = None;
    if screen.input.is_some() {
        match key.code {
            KeyCode::Char(c) => screen.typed(Some(c)),
            KeyCode::Backspace => screen.typed(None),
            KeyCode::Esc => screen.cancel(),
            KeyCode::Enter => screen.enter(replay),
            _ => {}
        }
        return Flow::Carry;
    }
    match key.code {
        KeyCode::Right | KeyCode::Char(' ' | 'n') => screen.next(replay),
        KeyCode::Left | KeyCode::Char('b') => screen.back(),
        KeyCode::Home => screen.first(),
        KeyCode::End => screen.last(replay),
        KeyCode::Char('/') => screen.ask(Ask::Search),
        KeyCode::Char('g') => screen.ask(Ask::GoTo),
        KeyCode::Enter => screen.enter(replay),
        KeyCode::Char('N') => screen.find_previous(replay),
        KeyCode::Char('q') | KeyCode::Esc => return Flow::Quit,
        _ => {}
    }
    Flow::Carry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_move_and_type_text_q_esc_ctrl_c_quit() {
        let replay = Replay::of(&crate::sim::trace("echo", &crate::sim::Options::default(), "trace simulate echo").expect("echo"));
        let mut screen = Screen::default();
        let last = replay.steps.len() - 1;
        let moves = [(KeyCode::Right, 1), (KeyCode::Char(' '), 2), (KeyCode::Char('n'), 3), (KeyCode::Left, 2), (KeyCode::Char('b'), 1)];
        for (code, at) in moves.into_iter().chain([(KeyCode::End, last), (KeyCode::Home, 0), (KeyCode::Enter, 1)]) {
            assert_eq!(press(&mut screen, &replay, key(code)), Flow::Carry);
            assert_eq!(screen.at, at, "{code:?}");
        }
        for c in "/qn".chars() {
            assert_eq!(press(&mut screen, &replay, key(KeyCode::Char(c))), Flow::Carry, "{c} is typed");
        }
        press(&mut screen, &replay, key(KeyCode::Backspace));
        assert_eq!(screen.input.as_ref().map(|i| i.text.as_str()), Some("q"));
        assert_eq!(press(&mut screen, &replay, key(KeyCode::Esc)), Flow::Carry, "Esc leaves the typing, not the replay");
        assert_eq!(press(&mut screen, &replay, key(KeyCode::Char('g'))), Flow::Carry);
        assert_eq!(press(&mut screen, &replay, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Flow::Quit, "Ctrl-C, even typing");
        assert_eq!(press(&mut Screen::default(), &replay, key(KeyCode::Char('q'))), Flow::Quit);
        assert_eq!(press(&mut Screen::default(), &replay, key(KeyCode::Esc)), Flow::Quit);
        screen.note = Some("no step says “x”".into());
        press(&mut screen, &replay, key(KeyCode::Right));
        assert_eq!(screen.note, None, "a note lasts one key");
    }
}
