//! One event of a trace: what a lens saw (or the model predicted), when, and about which socket.
//!
//! Every lens produces the same [`Event`], so that the timeline can merge them by time alone.
//! The serialized form of these types is the trace file format (see `lessons/reference/`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

use crate::tcp::state::State;
use crate::wire::flags::TcpFlags;

/// A symbolic socket name, stable within one trace: `c1` for a client's socket, `s1` for a
/// listening socket, `s2`… for the sockets `accept` returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SockId(pub String);

impl fmt::Display for SockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which program an event belongs to. Packets belong to the side that sent them; kernel
/// state changes to the side whose socket changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Client,
    Server,
    /// A packet or state of a connection whose owner is not (yet) known.
    Unknown,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
            Role::Unknown => "?",
        })
    }
}

/// One program of a session whose programs each play both roles (peer to peer): `A`, `B`…
/// There a role belongs to a connection, not to a program, so the event's role says which
/// part the program plays on this socket and the peer says which program it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Peer(pub char);

impl Peer {
    /// The two programs of a peer-to-peer session (`trace p2p`, `trace simulate p2p`).
    pub const PAIR: [Peer; 2] = [Peer('A'), Peer('B')];
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Who did it: the role, the peer where the session's programs are peers, and the process
/// and thread where a lens reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The part played on this event's socket (for a one-role program: the program's role).
    pub role: Role,
    /// In a peer-to-peer session: which program (absent when each program has one role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<u32>,
}

impl Actor {
    pub fn role(role: Role) -> Actor {
        Actor { role, peer: None, pid: None, tid: None }
    }
}

/// Whether an event was seen on the running system or predicted by the RFC 9293 model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Observed,
    Modelled,
}

/// One event on the trace's single clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds on the trace's clock (CLOCK_MONOTONIC for live traces).
    pub t: u64,
    pub actor: Actor,
    /// The socket the event is about (for a packet: the socket that sent it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<SockId>,
    pub origin: Origin,
    #[serde(flatten)]
    pub body: Body,
}

/// What the event says; the `kind` field names the lens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// A socket call began.
    CallStart(CallStart),
    /// A socket call returned.
    CallEnd(CallEnd),
    /// A packet crossed the wire.
    Packet(Packet),
    /// The kernel (or the model) moved a socket from one TCP state to another.
    State(StateChange),
    /// The kernel sent or received a reset, or retransmitted a segment.
    Kernel(KernelNote),
}

/// The socket calls the recorder knows, in Berkeley names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallName {
    Socket,
    Bind,
    Listen,
    Accept,
    Connect,
    Send,
    Recv,
    Sendto,
    Recvfrom,
    Shutdown,
    Close,
    Setsockopt,
}

impl CallName {
    pub fn as_str(self) -> &'static str {
        match self {
            CallName::Socket => "socket",
            CallName::Bind => "bind",
            CallName::Listen => "listen",
            CallName::Accept => "accept",
            CallName::Connect => "connect",
            CallName::Send => "send",
            CallName::Recv => "recv",
            CallName::Sendto => "sendto",
            CallName::Recvfrom => "recvfrom",
            CallName::Shutdown => "shutdown",
            CallName::Close => "close",
            CallName::Setsockopt => "setsockopt",
        }
    }
}

impl fmt::Display for CallName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The arguments of a call, as far as they matter for the socket's life.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallArgs {
    /// `socket()`: address family and type, e.g. `AF_INET`, `SOCK_STREAM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// `bind`, `connect`, `sendto`: the address given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    /// `listen`: the backlog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<i32>,
    /// `send`: bytes offered; `recv`: buffer size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<usize>,
    /// `send`: the bytes offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Preview>,
    /// `shutdown`: `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
    /// `setsockopt`: the option set to 1, e.g. `SO_REUSEADDR`, `TCP_NODELAY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
    /// The system call that made this call, where it is not the call's own name: a `write`
    /// on a socket is a `send`, an `accept4` an `accept` (traced programs, `trace run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    /// `close`: how many other descriptors (duplicates, or copies a child inherited) still
    /// refer to the socket; the kernel closes the connection only with the last of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_fds: Option<u32>,
}

/// A call began: `id` pairs it with its [`CallEnd`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallStart {
    pub id: u64,
    pub call: CallName,
    /// The file descriptor the call works on (none for `socket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd: Option<i32>,
    #[serde(default)]
    pub args: CallArgs,
}

/// An errno as a number and its symbolic name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errno {
    pub code: i32,
    pub name: String,
}

/// A call returned: its result and what it revealed about the socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEnd {
    pub id: u64,
    pub call: CallName,
    /// The return value (`-1` when `errno` is set).
    pub ret: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<Errno>,
    /// `socket`, `accept`: the socket created (its fd is `ret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_socket: Option<SockId>,
    /// The socket's own address once known (after `bind`, `connect`, `accept`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<SocketAddr>,
    /// The peer's address (after `connect`, `accept`, `recvfrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
    /// `recv`: the bytes received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Preview>,
}

/// A bounded, escaped view of payload bytes: printable ASCII kept, everything else as
/// `\n`, `\xNN`; at most [`Preview::MAX`] bytes shown, `truncated` when there were more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Preview {
    pub const MAX: usize = 48;

    pub fn of(bytes: &[u8]) -> Preview {
        let shown = &bytes[..bytes.len().min(Preview::MAX)];
        let mut text = String::with_capacity(shown.len());
        for &b in shown {
            match b {
                b'\n' => text.push_str("\\n"),
                b'\r' => text.push_str("\\r"),
                b'\t' => text.push_str("\\t"),
                b'\\' => text.push_str("\\\\"),
                0x20..=0x7e => text.push(b as char),
                _ => text.push_str(&format!("\\x{b:02x}")),
            }
        }
        Preview { text, truncated: bytes.len() > Preview::MAX }
    }
}

impl Preview {
    /// The bytes the preview shows, its escapes undone (at most [`Preview::MAX`]).
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len());
        let mut chars = self.text.bytes();
        while let Some(b) = chars.next() {
            if b != b'\\' {
                out.push(b);
                continue;
            }
            match chars.next() {
                Some(b'n') => out.push(b'\n'),
                Some(b'r') => out.push(b'\r'),
                Some(b't') => out.push(b'\t'),
                Some(b'x') => {
                    let hex: Vec<u8> = chars.by_ref().take(2).collect();
                    if let Some(v) = std::str::from_utf8(&hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        out.push(v);
                    }
                }
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }
}

impl fmt::Display for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"{}", self.text, if self.truncated { "…" } else { "" })
    }
}

/// The transport of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Tcp,
    Udp,
    /// An ARP request or reply (RFC 826) on a real Ethernet link: no transport at all, but the
    /// exchange that finds the peer's MAC address before the first IP packet can leave.
    Arp,
}

/// TCP options of a segment that a learner meets on a handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wscale: Option<u8>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sack_ok: bool,
    /// Timestamps option: (TSval, TSecr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<(u32, u32)>,
    /// SACK blocks, as raw (left, right) sequence numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sack: Vec<(u32, u32)>,
}

/// The TCP part of a packet. Relative numbers count from each side's ISN, as Wireshark and
/// packetdrill show them; the timeline fills them in (`None` until the ISN is known).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpSegment {
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel_seq: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel_ack: Option<u32>,
    pub win: u16,
    #[serde(default)]
    pub options: TcpOptions,
}

/// One packet on the wire, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packet {
    pub transport: Transport,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The receiving socket, where known (the sender is the event's `socket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<SockId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSegment>,
    /// Payload bytes (TCP or UDP data).
    pub len: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Preview>,
    /// The Ethernet header, for packets captured on a real link (`lo`'s is all zeros).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eth: Option<Ethernet>,
    /// For `transport: arp`: the operation and the MAC addresses it carries; `src` and `dst`
    /// then hold the sender's and target's IP addresses, with port 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp: Option<Arp>,
    /// Set on a packet that a fault injector dropped on purpose, after it crossed `lo` and
    /// before the receiving socket got it: it names who dropped it (`"socktrace --drop"`;
    /// `"trace simulate"` for a loss in the model). The packet lens's copy is the one marked;
    /// should the lens have missed the packet, the event is the dropper's own observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
}

/// An Ethernet header's addresses, as `02:00:00:00:00:01`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ethernet {
    pub src: String,
    pub dst: String,
}

/// What an ARP packet asks or answers (RFC 826).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArpOp {
    /// "Who has the target IP address? Tell the sender": sent to every host on the link.
    Request,
    /// "The sender IP address is at the sender MAC address": sent to the asker alone.
    Reply,
}

/// The body of an ARP packet; the IP addresses are the packet's `src` and `dst`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arp {
    pub op: ArpOp,
    pub sender_mac: String,
    /// All zeros in a request: it is what the request asks for.
    pub target_mac: String,
}

/// A MAC address as six colon-separated hex bytes.
pub fn mac_text(mac: &[u8]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The six bytes of a MAC address written by [`mac_text`]; `None` for anything else.
pub fn mac_bytes(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// A TCP state change of one socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub from: State,
    pub to: State,
    /// The socket's own address and its peer's, as the kernel reported them (the port may be
    /// 0 on the way into SYN-SENT, before the kernel has picked one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<SocketAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<SocketAddr>,
    /// The kernel's address of the socket: it follows one socket through its life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sk: Option<u64>,
    /// In a live trace: the state the RFC 9293 model, shadowing the socket, expects it to be
    /// in at this moment, to set beside the kernel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<State>,
}

/// Kernel events that are not state changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum KernelNote {
    ResetSent { local: SocketAddr, remote: SocketAddr, #[serde(default, skip_serializing_if = "Option::is_none")] sk: Option<u64> },
    ResetReceived { local: SocketAddr, remote: SocketAddr, #[serde(default, skip_serializing_if = "Option::is_none")] sk: Option<u64> },
    Retransmit { local: SocketAddr, remote: SocketAddr, #[serde(default, skip_serializing_if = "Option::is_none")] sk: Option<u64>, #[serde(default, skip_serializing_if = "Option::is_none")] state: Option<State> },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_bytes_undo_its_escapes() {
        let raw = b"1: hi\r\n\t\\ \x00\xff<script>";
        let preview = Preview::of(raw);
        assert_eq!(preview.bytes(), raw.to_vec());
        assert!(!preview.truncated);
    }
}
