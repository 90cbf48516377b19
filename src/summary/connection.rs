//! One connection of a summary: what its packets and kernel state changes showed, from its
//! first SYN to the last side's CLOSED.

use std::fmt;
use std::net::SocketAddr;

use crate::import::conversation::End;
use crate::state_path::Path;
use crate::tcp::State;

/// Who ended the connection first, and how: the first FIN or RST on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closer {
    pub side: End,
    /// An RST (an abort, RFC 9293 §3.10.5) rather than a FIN (a close, §3.10.4).
    pub reset: bool,
}

/// A connection as the summary follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The client's initial sequence number, from its SYN.
    pub isn: u32,
    /// Time of its first and last event (trace clock, ns).
    pub first: u64,
    pub last: u64,
    pub packets: u64,
    /// Payload bytes each way, as the wire carried them (a retransmission counts again).
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    pub closer: Option<Closer>,
    /// The states each side's socket was observed to enter, in order.
    pub client_states: Vec<State>,
    pub server_states: Vec<State>,
    /// Each side's state path, as every view follows it.
    pub client_path: Path,
    pub server_path: Path,
    /// Both sides' sockets were seen to reach CLOSED (or the server had none: a refused
    /// connect); `false` for a connection still open when the trace ended, or whose 4-tuple
    /// a new SYN took before its end was seen.
    pub finished: bool,
}

impl Connection {
    pub fn new(t: u64, client: SocketAddr, server: SocketAddr, isn: u32) -> Connection {
        Connection {
            client,
            server,
            isn,
            first: t,
            last: t,
            packets: 0,
            bytes_to_server: 0,
            bytes_to_client: 0,
            closer: None,
            client_states: Vec::new(),
            server_states: Vec::new(),
            client_path: Path::default(),
            server_path: Path::default(),
            finished: false,
        }
    }

    pub fn states_mut(&mut self, side: End) -> &mut Vec<State> {
        match side {
            End::Client => &mut self.client_states,
            End::Server => &mut self.server_states,
        }
    }

    pub fn path_mut(&mut self, side: End) -> &mut Path {
        match side {
            End::Client => &mut self.client_path,
            End::Server => &mut self.server_path,
        }
    }

    /// Whether the kernel has let go of every socket of the connection: the client's, and the
    /// server's if it ever had one (a refused connect leaves no socket on the server). What
    /// a timewait socket still holds is the kernel's, not the programs'.
    pub fn is_over(&self) -> bool {
        self.client_path.kernel_closed() && (self.server_states.is_empty() || self.server_path.kernel_closed())
    }

    pub fn duration_ms(&self) -> f64 {
        (self.last - self.first) as f64 / 1e6
    }
}

/// The column titles above [`Connection`]'s lines, tcplife-style.
pub const HEADER: &str = "CLIENT                 SERVER                       MS   TX_B   RX_B  FIRST-CLOSE   STATES client / server";

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let closer = match self.closer {
            Some(c) => format!("{} {}", c.side, if c.reset { "RST" } else { "FIN" }),
            None => "-".to_string(),
        };
        let states = |s: &[State]| if s.is_empty() { "-".to_string() } else { s.iter().map(|s| s.name()).collect::<Vec<_>>().join(" ") };
        write!(
            f,
            "{:<22} {:<22} {:>8.3} {:>6} {:>6}  {:<12}  {} / {}",
            self.client.to_string(),
            self.server.to_string(),
            self.duration_ms(),
            self.bytes_to_server,
            self.bytes_to_client,
            closer,
            states(&self.client_states),
            states(&self.server_states),
        )?;
        if !self.finished {
            f.write_str("  (its end was not seen)")?;
        }
        Ok(())
    }
}
