//! What a live session changes when client and server run on separate hosts (`--hosts`):
//! the runtime's threads start on the client's host, so every socket the client makes is
//! there; the server's sockets are made on the server's host (see [`Hosts::on_server`]).

use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use crate::netns::Hosts;

/// The session's async runtime; with `hosts`, every thread it starts enters the client's
/// host first.
pub struct Runtime {
    pub rt: tokio::runtime::Runtime,
    /// The first thread that could not enter the client's host, if any: a client socket made
    /// there would be on the wrong host, so the session reports it.
    entered: Arc<Mutex<Option<io::Error>>>,
}

impl Runtime {
    pub fn new(hosts: Option<&Hosts>) -> io::Result<Runtime> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2).enable_all();
        let entered = Arc::new(Mutex::new(None));
        if let Some(hosts) = hosts {
            let (client, failed) = (hosts.client.namespace.clone(), entered.clone());
            builder.on_thread_start(move || {
                if let Err(err) = client.enter() {
                    failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(err);
                }
            });
        }
        Ok(Runtime { rt: builder.build()?, entered })
    }

    /// Whether a thread failed to enter the client's host, as a line for the report.
    pub fn problem(&self) -> Option<String> {
        let failed = self.entered.lock().unwrap_or_else(|p| p.into_inner());
        failed.as_ref().map(|err| format!("a client thread could not enter the client's host: {err}"))
    }
}

/// How another client reaches a server serving at `addr` (`trace echo --serve`), as the
/// command a user types: on separate hosts, from the client's host, whose network namespace
/// the command names (the server's address is on no interface of this one).
pub fn how_to_connect(addr: SocketAddr, hosts: Option<&Hosts>) -> String {
    let (ip, port) = (addr.ip(), addr.port());
    match hosts {
        Some(hosts) => format!(
            "serving on {addr}, on the server's host; connect from the client host ({}) with: ip netns exec {} nc {ip} {port} (any client in place of nc)",
            hosts.client.addr, hosts.client.namespace.name
        ),
        None => format!("serving on {addr}; connect with: nc {ip} {port} (any client in place of nc)"),
    }
}

/// Runs `f` where the server's sockets belong: on the server's host, or right here.
pub fn on_server<T: Send>(hosts: Option<&Hosts>, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    match hosts {
        Some(hosts) => hosts.on_server(f),
        None => f(),
    }
}

/// SIGINT and SIGTERM held pending on this thread while it lives: a session sets up what it
/// must clean up (separate hosts) before it can listen for them. Threads started meanwhile
/// keep them blocked, so that a signal is taken by the thread that listens once released.
pub struct SignalsHeld {
    old: SigSet,
    /// A signal mask is per thread: the guard is released on the thread that made it.
    _this_thread: PhantomData<*const ()>,
}

impl SignalsHeld {
    pub fn hold() -> SignalsHeld {
        let mut held = SigSet::empty();
        held.add(Signal::SIGINT);
        held.add(Signal::SIGTERM);
        // It fails only for an invalid `how`: SIG_BLOCK is valid.
        let old = held.thread_swap_mask(SigmaskHow::SIG_BLOCK).unwrap_or_else(|_| SigSet::empty());
        SignalsHeld { old, _this_thread: PhantomData }
    }
}

impl Drop for SignalsHeld {
    fn drop(&mut self) {
        // Restores the mask `hold` saved, on the same thread (the guard is not Send). A signal
        // that came meanwhile is delivered now, to the handler listening for it.
        let _ = self.old.thread_set_mask();
    }
}
