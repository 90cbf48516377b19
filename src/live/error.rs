//! What can stop a live session before or while it runs, each with what to do about it.

use std::fmt;
use std::io;

use crate::capture::dropper::DropError;
use crate::netns::HostsError;
use crate::trace::SaveError;

#[derive(Debug)]
pub enum LiveError {
    Runtime(io::Error),
    Server(io::Error),
    Save(SaveError),
    /// A kernel lens needs a privilege this process lacks (one reason per lens); the plan
    /// asked to be told rather than to go on without it.
    Unprivileged(Vec<String>),
    /// The separate hosts of `--hosts` could not be made.
    Hosts(HostsError),
    /// `--drop` could not set up its rule or queue.
    Drop(DropError),
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::Runtime(err) => write!(f, "cannot start the async runtime: {err}"),
            LiveError::Server(err) if err.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "the echo server cannot bind: the port is in use ({err}); choose another with --port, or --port 0 for any free port")
            }
            LiveError::Server(err) => write!(f, "the echo server cannot start: {err}"),
            LiveError::Save(err) => err.fmt(f),
            LiveError::Unprivileged(reasons) => f.write_str(&reasons.join("; ")),
            LiveError::Hosts(err) => err.fmt(f),
            LiveError::Drop(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for LiveError {}
