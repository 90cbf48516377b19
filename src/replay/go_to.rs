//! Going to a step of a replay by its number or by the documented step it shows
//! (`trace replay`'s `g STEP`).

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
            .find(|&i| self.sequences.iter().zip(&self.steps[i].progress).any(|(s, p)| sequence.is_none_or(|want| s.id == want) && p.at.contains(&id)))
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
        assert!(replay.steps[accept].progress[0].at.contains(&"accept"));
        let again = replay.go_to(accept, "accept").expect("more evidence of accept");
        assert!(again > accept);
        let close = replay.go_to(0, "active-open/close").expect("the client's close");
        assert!(replay.steps[close].progress[1].at.contains(&"close"));
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
}
