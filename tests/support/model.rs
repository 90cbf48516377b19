//! The model beside the kernel, as a test asks of it: that it explains every state change.

use socktrace::event::Event;
use socktrace::state_path::{Mark, StatePaths};

/// The first state change the RFC 9293 model does not explain (a row the timeline marks ⚠),
/// described; `None` when it explains them all.
pub fn unexplained(events: &[Event]) -> Option<String> {
    let mut paths = StatePaths::default();
    events.iter().find_map(|event| {
        let row = paths.follow(event).filter(|row| matches!(row.mark, Mark::Unexplained { .. }))?;
        Some(format!("the model does not explain {:?} at {} ns: {row:?}", event.socket, event.t))
    })
}
