//! Where every lens sends what it saw: batches of events, to the timeline that merges them.

use crate::event::Event;

/// The sending end of the channel to the timeline; each lens (and each recorded program)
/// holds a clone.
pub type EventSink = std::sync::mpsc::Sender<Vec<Event>>;
