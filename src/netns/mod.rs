//! Network namespaces: two hosts of our own on one machine (`trace echo --hosts`).
//!
//! A network namespace is a private copy of the network stack: its own interfaces, addresses,
//! routes, ARP table and ports. [`Hosts`] makes two of them, joined by a veth pair (a virtual
//! Ethernet cable), so that client and server talk over a real link with real Ethernet
//! headers and ARP, as two computers would.
//!
//! A socket belongs to the namespace of the thread that created it, and keeps it for life
//! wherever it is used from; `setns(CLONE_NEWNET)` moves one thread only, and a thread starts
//! in the namespace of the thread that created it. So a thread that enters a host's namespace
//! ([`Namespace::enter`]) creates that host's sockets (or a capture on its link), and threads
//! it starts are on that host too.

pub mod foreign;
pub mod hosts;
pub mod private;

pub use hosts::{Host, Hosts, HostsError};

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use nix::sched::{setns, CloneFlags};

/// Where `ip netns` keeps its namespaces' names.
pub const DIR: &str = "/run/netns";

/// An open handle on a network namespace, enterable from any thread.
#[derive(Clone, Debug)]
pub struct Namespace {
    file: Arc<File>,
    pub name: String,
}

impl Namespace {
    /// Opens a namespace named by `ip netns` (a bind mount under /run/netns).
    pub fn open(name: &str) -> io::Result<Namespace> {
        let file = File::open(Self::path(name))?;
        Ok(Namespace { file: Arc::new(file), name: name.to_string() })
    }

    pub fn path(name: &str) -> PathBuf {
        PathBuf::from(DIR).join(name)
    }

    /// Moves the calling thread (only) into this namespace.
    pub fn enter(&self) -> io::Result<()> {
        // The kernel checks that the file is a network namespace.
        Ok(setns(&*self.file, CloneFlags::CLONE_NEWNET)?)
    }

    /// Runs `f` on a thread of its own inside this namespace, and returns what it returns.
    /// The calling thread stays where it is.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        std::thread::scope(|scope| {
            let thread = std::thread::Builder::new().name(format!("socktrace-{}", self.name)).spawn_scoped(scope, || self.enter().map(|()| f()))?;
            thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}
