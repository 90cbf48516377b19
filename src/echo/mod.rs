//! The instrumented echo server and client: real tokio programs on loopback that perform the
//! documented sequence call by call and record each call's start and end on the trace clock.

pub mod client;
pub mod recorder;
pub mod server;
pub mod udp;

pub use recorder::Recorder;
