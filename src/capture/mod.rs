//! The capture edge: the only part of socktrace that touches the running system (sockets,
//! AF_PACKET, tracefs, ptrace, real time). Everything it produces is an [`Event`](crate::event::Event);
//! everything after it is pure.

pub(crate) mod bpf;
pub mod clock;
pub mod dropper;
pub(crate) mod interrupt;
pub mod packets;
pub mod privilege;
pub(crate) mod progress;
pub mod ptrace;
pub mod release;
mod ring;
pub(crate) mod sink;
mod sockopts;
pub mod tracefs;
