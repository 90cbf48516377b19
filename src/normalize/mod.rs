//! Normalized views of a trace: what stays the same from run to run of the same programs,
//! so that traces can be compared with each other and with the model.

pub mod acks;
pub mod blocks;
pub mod diff;
mod first_seen;
pub mod fold;
pub mod lesson;
pub mod names;
pub mod order;
pub mod snapshot;
pub mod sockets;

pub use lesson::lesson_view;
pub use snapshot::snapshot;
