//! TCP as RFC 9293 describes it: the states and their Linux names ([`state`]), the header
//! fields a trace keeps ([`flags`], [`header`]), segments in
//! the RFC's notation ([`segment`]), and a sans-I/O model of one endpoint ([`endpoint`]) that
//! the simulator runs and a live trace can be held against.

pub(crate) mod endpoint;
pub mod flags;
pub mod header;
pub(crate) mod linux;
pub(crate) mod segment;
pub mod state;

#[cfg(test)]
mod tests;

pub use endpoint::{CallError, Config, Endpoint, Failure, Output, Received, Tcb, SECOND};
pub use segment::{reset_for, Control, Segment};
pub use state::State;
