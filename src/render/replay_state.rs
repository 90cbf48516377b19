//! Where the learner is on `trace replay`'s screen, and what each of their moves does to it: a
//! step forward or back, the first or the last, words to find or a step to go to, typed at
//! the foot of the screen. Pure, as the screen drawn from it is ([`super::replay_screen`]);
//! which key makes which move is the command line's (`cli::replay::keys`).

use crate::replay::Replay;

/// Where the learner is in a replay, and what they are typing.
#[derive(Clone, Debug, Default)]
pub struct Screen {
    /// The step shown (0 in a trace without steps).
    pub at: usize,
    /// A search or a step to go to, being typed.
    pub input: Option<Input>,
    /// The last search, which Enter repeats forward and N backward.
    pub search: Option<String>,
    /// What became of the last move, when it did nothing visible ("no step says …").
    pub note: Option<String>,
    /// Steps in the timeline's colours (not under `NO_COLOR`).
    pub color: bool,
}

/// A line being typed at the foot of the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub ask: Ask,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// `/`: words to find in the steps.
    Search,
    /// `g`: a step's number or a documented step's name.
    GoTo,
}

impl Screen {
    pub fn next(&mut self, replay: &Replay) {
        self.at = (self.at + 1).min(replay.steps.len().saturating_sub(1));
    }

    pub fn back(&mut self) {
        self.at = self.at.saturating_sub(1);
    }

    pub fn first(&mut self) {
        self.at = 0;
    }

    pub fn last(&mut self, replay: &Replay) {
        self.at = replay.steps.len().saturating_sub(1);
    }

    /// Starts typing words to find or a step to go to.
    pub fn ask(&mut self, ask: Ask) {
        self.input = Some(Input { ask, text: String::new() });
    }

    /// A character typed, or the last one erased (`None`).
    pub fn typed(&mut self, c: Option<char>) {
        if let Some(input) = &mut self.input {
            match c {
                Some(c) => input.text.push(c),
                None => drop(input.text.pop()),
            }
        }
    }

    /// Leaves what is being typed, undone.
    pub fn cancel(&mut self) {
        self.input = None;
    }

    /// Enter: what was typed is done (words found, a step gone to). With nothing being typed,
    /// the last search goes on forward; with no search either, a step forward (Enter was the
    /// line-reading replay's only key).
    pub fn enter(&mut self, replay: &Replay) {
        let Some(Input { ask, text }) = self.input.take() else {
            match self.search.clone() {
                Some(words) => self.find(replay, &words, true),
                None => self.next(replay),
            }
            return;
        };
        let text = text.trim();
        match ask {
            _ if text.is_empty() => {}
            Ask::Search => {
                self.search = Some(text.to_string());
                self.find(replay, text, true);
            }
            Ask::GoTo => match replay.go_to(self.at, text) {
                Some(found) => self.at = found,
                None => {
                    let count = replay.steps.len();
                    self.note = Some(format!("no step “{text}” in this trace: a number from 1 to {count}, or a documented step such as accept"));
                }
            },
        }
    }

    /// N: the last search, backward.
    pub fn find_previous(&mut self, replay: &Replay) {
        if let Some(words) = self.search.clone() {
            self.find(replay, &words, false);
        }
    }

    fn find(&mut self, replay: &Replay, words: &str, forward: bool) {
        match replay.find(self.at, words, forward) {
            Some(found) => self.at = found,
            None => self.note = Some(format!("no step says “{words}”")),
        }
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read move__what_it_does
mod tests {
    use super::*;

    fn echo() -> Replay {
        Replay::of(&crate::sim::trace("echo", &crate::sim::Options::default(), "trace simulate echo").expect("echo"))
    }

    fn typed(screen: &mut Screen, text: &str) {
        text.chars().for_each(|c| screen.typed(Some(c)));
    }

    #[test]
    fn next_back_first_last__within_the_ends() {
        let replay = echo();
        let last = replay.steps.len() - 1;
        let mut screen = Screen::default();
        screen.back();
        assert_eq!(screen.at, 0);
        screen.next(&replay);
        screen.next(&replay);
        assert_eq!(screen.at, 2);
        screen.last(&replay);
        screen.next(&replay);
        assert_eq!(screen.at, last);
        screen.first();
        screen.enter(&replay);
        assert_eq!(screen.at, 1, "Enter with no search: a step forward");
    }

    #[test]
    fn search__finds_words__enter_and_N_go_on() {
        let replay = echo();
        let mut screen = Screen::default();
        screen.ask(Ask::Search);
        typed(&mut screen, "fin|ack");
        assert_eq!((screen.at, screen.input.clone()), (0, Some(Input { ask: Ask::Search, text: "fin|ack".into() })), "typing, not moving");
        screen.enter(&replay);
        let first = replay.find(0, "FIN|ACK", true).expect("a FIN");
        assert_eq!((screen.at, screen.input.is_none()), (first, true));
        screen.enter(&replay);
        assert_eq!(Some(screen.at), replay.find(first, "FIN|ACK", true));
        screen.find_previous(&replay);
        assert_eq!(screen.at, first);
        screen.ask(Ask::Search);
        typed(&mut screen, "no such words");
        screen.enter(&replay);
        assert_eq!((screen.at, screen.note.as_deref()), (first, Some("no step says “no such words”")));
    }

    #[test]
    fn go_to__a_documented_step_or_a_number__erase_and_cancel() {
        let replay = echo();
        let mut screen = Screen::default();
        screen.ask(Ask::GoTo);
        typed(&mut screen, " accept ");
        screen.enter(&replay);
        assert_eq!(Some(screen.at), replay.go_to(0, "accept"));
        screen.ask(Ask::GoTo);
        typed(&mut screen, "12");
        screen.typed(None);
        screen.enter(&replay);
        assert_eq!(screen.at, 0, "step 1");
        screen.ask(Ask::GoTo);
        typed(&mut screen, "listen-twice");
        screen.enter(&replay);
        assert!(screen.note.as_deref().is_some_and(|n| n.starts_with("no step “listen-twice” in this trace")), "{:?}", screen.note);
        screen.ask(Ask::GoTo);
        typed(&mut screen, "5");
        screen.cancel();
        screen.enter(&replay);
        assert_eq!((screen.at, screen.input.is_none()), (1, true), "cancelled: Enter is a step forward again");
    }

    #[test]
    fn no_steps__every_move_harmless() {
        let replay = Replay { steps: Vec::new(), ..echo() };
        let mut screen = Screen::default();
        screen.next(&replay);
        screen.last(&replay);
        screen.back();
        screen.enter(&replay);
        screen.search = Some("fin".into());
        screen.enter(&replay);
        screen.find_previous(&replay);
        screen.ask(Ask::GoTo);
        typed(&mut screen, "1");
        screen.enter(&replay);
        assert_eq!(screen.at, 0);
    }
}
