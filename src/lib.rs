//! socktrace shows how sockets live and die: the socket calls of real programs, the packets
//! on the wire and the kernel's TCP states, merged on one clock.
//!
//! The pipeline, and the room each module holds:
//!
//! ```text
//! capture (calls | packets | kernel states)  ->  events  ->  timeline  ->  trace file
//!                                                             |
//!                                  render (terminal ladder, JSON Lines)
//! ```
//!
//! - [`capture`]: the only code that touches the running system (AF_PACKET, tracefs, clocks).

//! - [`wire`]: bytes on the wire to decoded packets.
//! - [`event`]: the one event type every lens produces.
//! - [`timeline`]: merges the lenses in time order and names each packet's and state's socket.
//! - [`trace`]: the trace file format: write as events happen, read back with clear errors.
//! - [`tcp`]: TCP as RFC 9293 describes it.
//! - [`render`]: how a trace is shown.
//!
//! Everything after `capture` is synchronous, pure and deterministic, and is tested on fixtures.

pub mod capture;
pub mod event;
pub mod sequence;
pub mod sim;
pub mod tcp;
pub mod trace;
pub mod wire;
