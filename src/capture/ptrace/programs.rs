//! What the calls lens runs, how the programs ended, and how it hands their ports on.

use crate::trace::ProgramEnd;

/// Follows a new set of ports in the kernel lenses (the whole set, every time).
pub type WatchPorts = Box<dyn FnMut(&[u16]) -> Result<(), String> + Send>;

/// How long `trace run --server … --client …` waits for the server to listen by default.
pub const LISTEN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What to run.
#[derive(Clone, Debug)]
pub enum Programs {
    /// One command (which may start others: a shell, a forking server).
    One(Vec<String>),
    /// A server, and a client started once the server listens (or, a datagram server, binds
    /// its port); `{port}` in the client's words becomes that port. A server that has done
    /// neither after `wait` is ended, and the client never started. With `linger`, a server
    /// still running that long after the client ended is killed (`trace grade`: a reference
    /// server left waiting by a client that never came); `None`: it runs as long as it likes.
    ServerClient { server: Vec<String>, client: Vec<String>, wait: std::time::Duration, linger: Option<std::time::Duration> },
}

/// How the traced programs ended, and what went wrong in the tracer.
#[derive(Debug, Default)]
pub struct Finished {
    pub programs: Vec<ProgramEnd>,
    pub problems: Vec<String>,
    /// Mechanisms the programs used whose socket I/O the lens cannot see (`io_uring`).
    pub untraced: Vec<String>,
}
