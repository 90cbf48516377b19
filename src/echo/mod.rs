//! The instrumented echo server and client: real tokio programs on loopback that perform the
//! documented sequence call by call and record each call's start and end on the trace clock.

pub(crate) mod client;
pub(crate) mod recorder;
pub(crate) mod server;
pub(crate) mod udp;

pub use recorder::Recorder;
