//! Going to a step of a replay by its number or by the documented step it shows
//! (`trace replay`'s `g STEP`), or by its words (`/WORDS`).

use super::Replay;

impl Replay {
    /// The step numbered `target`, or the next step (after `from`, wrapping) that is evidence of
    /// the documented step `target` (`accept`, or `passive-open/accept`).
    pub fn go_to(&self, from: usize, target: &str) -> Option<usize> {
        if let Ok(n) = target.parse::<usize>() {
            return (1..=self.steps.len()).contains(&n).then(|| n - 1);
        }
        let (sequence, id) = target.split_once('/').map_or((None, target), |(s, id)| (Some(s), id));
        let count = self.steps.len();
        (1..=count)
            .map(|k| (from + k) % count)
            .find(|&i| self.sequences.iter().zip(&self.steps[i].progress).any(|(s, p)| sequence.is_none_or(|want| s.id == want) && p.is_at(id)))
    }

    /// The next step after `from` (the previous one unless `forward`), wrapping, whose words
    /// contain `words`, in any case: `fin` finds `FIN|ACK` and `FIN-WAIT-1`. `from` itself
    /// comes last, so a search that only it matches stays there.
    pub fn find(&self, from: usize, words: &str, forward: bool) -> Option<usize> {
        let count = self.steps.len();
        let words = words.to_lowercase();
        let nth = |k: usize| if forward { (from + k) % count } else { (from + count - k % count) % count };
        (1..=count).map(nth).find(|&i| self.steps[i].text.to_lowercase().contains(&words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Replay {
        Replay::of(&crate::sim::trace("echo", &crate::sim::Options::default(), "trace simulate echo").expect("echo"))
    }

    #[test]
    fn go_to_a_documented_step_finds_its_next_evidence_wrapping_around() {
        let replay = echo();
        let accept = replay.go_to(0, "accept").expect("accept is shown");
        assert!(replay.steps[accept].progress[0].is_at("accept"));
        let again = replay.go_to(accept, "accept").expect("more evidence of accept");
        assert!(again > accept);
        let close = replay.go_to(0, "active-open/close").expect("the client's close");
        assert!(replay.steps[close].progress[1].is_at("close"));
        assert_eq!(replay.go_to(replay.steps.len() - 1, "create"), Some(0), "wraps to the start");
    }

    #[test]
    fn go_to_a_number_or_nothing() {
        let replay = echo();
        assert_eq!(replay.go_to(5, "1"), Some(0));
        assert_eq!(replay.go_to(5, "0"), None);
        assert_eq!(replay.go_to(5, "listen-twice"), None);
        assert_eq!(replay.go_to(5, "active-open/listen"), None, "the client does not listen");
    }

    #[test]
    fn find_words_in_any_case_forward_or_back_wrapping() {
        let replay = echo();
        let says = |i: usize, words: &str| replay.steps[i].text.contains(words);
        let fin = replay.find(0, "fin|ack", true).expect("a FIN");
        assert!(says(fin, "FIN|ACK") && (1..fin).all(|i| !says(i, "FIN|ACK")), "the first FIN after step 1");
        let last = replay.find(0, "FIN|ACK", false).expect("wraps back to the last FIN");
        assert!(last > fin && (last + 1..replay.steps.len()).all(|i| !says(i, "FIN|ACK")));
        assert_eq!(replay.find(fin, "FIN|ACK", false), Some(last), "back from the first FIN wraps to the last");
        assert_eq!(replay.find(0, "no such words", true), None);
        let only = Replay { steps: replay.steps[fin..=fin].to_vec(), ..replay.clone() };
        assert_eq!(only.find(0, "fin", true), Some(0), "the step itself, when it alone matches");
        assert_eq!(Replay { steps: Vec::new(), ..replay.clone() }.find(0, "fin", true), None);
    }
}
