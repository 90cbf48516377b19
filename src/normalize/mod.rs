//! Normalized views of a trace: what stays the same from run to run of the same programs,
//! so that traces can be compared with each other and with the model.

pub(crate) mod acks;
mod ahead;
mod aspects;
pub(crate) mod blocks;
mod call_ids;
pub mod diff;
mod first_seen;
pub(crate) mod fold;
pub(crate) mod lesson;
pub(crate) mod names;
pub(crate) mod order;
pub mod snapshot;
pub(crate) mod sockets;

pub use lesson::lesson_view;
pub use snapshot::snapshot;
