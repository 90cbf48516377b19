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
    /// neither after `wait` is ended, and the client never started; what becomes of a server
    /// still running when the client has ended is `after`'s.
    ServerClient { server: Vec<String>, client: Vec<String>, wait: std::time::Duration, after: AfterClient },
}

/// What becomes of a server still running once the client has ended. Most servers a course
/// writes serve for ever: left alone, the session would wait for them as long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterClient {
    /// It runs as long as it likes (bounded by its own limits).
    Runs,
    /// It runs as long as it likes, and, still running [`SAY_AFTER`] later, the user is told
    /// on standard error how to end it (`trace run` without `--linger`).
    RunsAndSay,
    /// Still running this long after the client ended, it is ended as Ctrl-C ends the
    /// programs: SIGTERM, so that its own clean-up runs, and SIGKILL after
    /// [`GRACE`](super::signals::GRACE) (`trace run --linger`, and `trace grade`: a reference
    /// server left waiting by a client that never came).
    Ended(std::time::Duration),
}

/// How long after the client ended a server still running is pointed out (see
/// [`AfterClient::RunsAndSay`]): a server that ends by itself has done so long before.
pub const SAY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// How the traced programs ended, and what went wrong in the tracer.
#[derive(Debug, Default)]
pub struct Finished {
    pub programs: Vec<ProgramEnd>,
    pub problems: Vec<String>,
    /// Mechanisms the programs used whose socket I/O the lens cannot see (`io_uring`).
    pub untraced: Vec<String>,
}
