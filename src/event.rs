//! One event of a trace: what a lens saw (or the model predicted), when, and about which socket.
//!
//! Every lens produces the same [`Event`], so that the timeline can merge them by time alone.
//! The serialized form of these types is the trace file format (see `lessons/reference/`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

pub use crate::sock_name::SockName;
pub use crate::tcp::header::{TcpOptions, TcpSegment};
use crate::tcp::state::State;

/// A symbolic socket name, stable within one trace: `c1` for a client's socket, `s1` for a
/// listening socket, `s2`… for the sockets `accept` returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SockId(pub SockName);

impl fmt::Display for SockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a socket's name says about it, by its prefix. Every name of a trace is minted by a
/// [`Mint`], so that the prefixes mean the same everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockKind {
    /// `c1`: a client's socket (it connects), or, when no call showed its part, a socket of
    /// a program playing the client.
    Client,
    /// `s1`: a server's socket: a listening one, one `accept` returned, a datagram server's.
    Server,
    /// `o1`: a socket that played no part: made and closed without binding a port, listening,
    /// connecting or moving a byte (often a language runtime's own, at start-up).
    Idle,
    /// `q1`: a connection the kernel completed on a listening socket, waiting in its queue,
    /// not (yet) returned by `accept`.
    Queued,
    /// `peer1`: the other end of a traced socket, in a program that is not traced.
    Peer,
}

impl SockKind {
    const ALL: [SockKind; 5] = [SockKind::Client, SockKind::Server, SockKind::Idle, SockKind::Queued, SockKind::Peer];

    pub fn prefix(self) -> &'static str {
        match self {
            SockKind::Client => "c",
            SockKind::Server => "s",
            SockKind::Idle => "o",
            SockKind::Queued => "q",
            SockKind::Peer => "peer",
        }
    }

    /// The kind of socket a program of role `role` names by its part.
    pub fn of_role(role: Role) -> SockKind {
        if role == Role::Server {
            SockKind::Server
        } else {
            SockKind::Client
        }
    }
}

impl SockId {
    /// The kind of socket the name says, if it is one a [`Mint`] makes.
    pub fn kind(&self) -> Option<SockKind> {
        // Each prefix starts with a letter of its own; the views ask this of every event.
        let name = self.0.as_bytes();
        let first = *name.first()?;
        let kind = SockKind::ALL.into_iter().find(|k| k.prefix().as_bytes()[0] == first)?;
        let number = name.strip_prefix(kind.prefix().as_bytes())?;
        (!number.is_empty() && number.iter().all(u8::is_ascii_digit)).then_some(kind)
    }
}

/// Mints socket names, one series per kind: `c1`, `c2`…, `s1`, `s2`… Names a program of the
/// trace gave itself are skipped by [`Mint::skip`].
#[derive(Clone, Debug, Default)]
pub struct Mint {
    counts: [u32; 5],
    taken: std::collections::HashSet<SockId>,
}

impl Mint {
    /// The `n`th name of a series: what every name of a trace is made by (the recorder's
    /// threads count theirs with an atomic, the normalizer renumbers, the rest use a `Mint`).
    pub fn name(kind: SockKind, n: u32) -> SockId {
        SockId(format!("{}{n}", kind.prefix()).into())
    }

    pub fn next(&mut self, kind: SockKind) -> SockId {
        let slot = SockKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        loop {
            self.counts[slot] += 1;
            let id = Mint::name(kind, self.counts[slot]);
            if !self.taken.contains(&id) {
                return id;
            }
        }
    }

    /// A name already given elsewhere in the trace: never minted again.
    pub fn skip(&mut self, id: &SockId) {
        self.taken.insert(id.clone());
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

impl Role {
    /// The other end's role (an unknown one stays unknown).
    pub fn other(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
            Role::Unknown => Role::Unknown,
        }
    }
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
///
/// Laid out as declared (`repr(C)`, here and in the bodies of calls and packets): what every
/// pass of the views reads first (the socket, the body's kind, a call's id and name) lies in an
/// event's first 90 bytes, where the compiler's order scattered it over all of them, and a
/// pass over a trace of a million events fetched that much more memory. Declared order is also
/// the order written, so the format does not change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[repr(C)]
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
// The kind first, then the body (see `Event`).
#[repr(u8)]
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
    /// A process of the session was made, ran a new program, or ended.
    Process(ProcessChange),
}

/// A process's end: its exit status, or the signal that killed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "exit", rename_all = "snake_case")]
pub enum Exit {
    Status {
        code: i32,
    },
    Signal {
        signal: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        core_dumped: bool,
    },
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Status { code } => write!(f, "exited with status {code}"),
            Exit::Signal { signal, core_dumped } => write!(f, "was killed by signal {signal}{}", if *core_dumped { " (core dumped)" } else { "" }),
        }
    }
}

/// What happened to the event's process (its actor's `pid`). Sockets are shared by
/// descriptor: a new process holds a copy of every descriptor of its parent, and a socket
/// lives until the last descriptor of it, in any process, is closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ProcessChange {
    /// A new process (`fork`, `vfork`, or `clone` without `CLONE_THREAD`): from now on it
    /// holds `sockets` too.
    Fork {
        child: u32,
        call: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sockets: Vec<SockId>,
    },
    /// The process runs a new program (`execve`): the sockets whose descriptors are marked
    /// close-on-exec are gone from it, the others stay open in the new program.
    Exec {
        program: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kept: Vec<SockId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        closed: Vec<SockId>,
    },
    /// The process ended, and the kernel closed every descriptor it still had: `closed`
    /// lists the sockets whose last descriptor went with it.
    Exit {
        #[serde(flatten)]
        exit: Exit,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        closed: Vec<SockId>,
    },
    /// The process set up a way to move data that makes no system call per operation
    /// (`io_uring`): what it does through it is not in the trace.
    Untraced { mechanism: String },
}

impl ProcessChange {
    /// The sockets the change names, in order.
    pub fn sockets(&self) -> impl Iterator<Item = &SockId> {
        let (a, b): (&[SockId], &[SockId]) = match self {
            ProcessChange::Fork { sockets, .. } => (sockets, &[]),
            ProcessChange::Exec { kept, closed, .. } => (kept, closed),
            ProcessChange::Exit { closed, .. } => (closed, &[]),
            ProcessChange::Untraced { .. } => (&[], &[]),
        };
        a.iter().chain(b)
    }
}

/// A call as the program made it. A traced program's calls carry the system call's own name,
/// as strace and the manual pages spell it (`write`, `accept4`, `epoll_wait`); our own echo
/// programs record the Berkeley call they make (`send`, `recv`). What a call *does* to the
/// socket, in the Berkeley API's words, is its [`Verb`]: the lessons and the documented
/// sequences speak in verbs, so that a `write` counts as sending wherever a `send` would.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallName {
    Socket,
    Bind,
    Listen,
    Accept,
    Accept4,
    Connect,
    Send,
    Sendto,
    Sendmsg,
    Sendmmsg,
    Write,
    Writev,
    Sendfile,
    Splice,
    CopyFileRange,
    Recv,
    Recvfrom,
    Recvmsg,
    Recvmmsg,
    Read,
    Readv,
    Shutdown,
    Close,
    Setsockopt,
    Getsockopt,
    Getsockname,
    Getpeername,
    Fcntl,
    Ioctl,
    Dup,
    Dup2,
    Dup3,
    Poll,
    Ppoll,
    Select,
    Pselect6,
    EpollCtl,
    EpollWait,
    EpollPwait,
    EpollPwait2,
}

/// What a call does to a socket, in the Berkeley API's words: the vocabulary of the documented
/// sequences and the lessons. [`CallName::verb`] is the one place a call is mapped to its verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    Socket,
    Bind,
    Listen,
    Accept,
    Connect,
    /// Bytes (or a datagram) handed to the socket: `send`, `write`, `sendfile` into it…
    Send,
    /// Bytes (or a datagram) taken from the socket: `recv`, `read`, `splice` out of it…
    Recv,
    Shutdown,
    Close,
    /// An option set or read (`setsockopt`, `getsockopt`): how the socket behaves, not where
    /// it is in its life.
    Option,
    /// The socket's own or its peer's address asked for (`getsockname`, `getpeername`).
    Name,
    /// The descriptor's mode changed or read (`fcntl(F_SETFL, O_NONBLOCK)`, `ioctl(FIONBIO)`).
    Mode,
    /// Another descriptor made for the socket (`dup`, `dup2`, `fcntl(F_DUPFD)`).
    Descriptor,
    /// Waiting until a socket is ready (`poll`, `select`, `epoll_wait`), or telling epoll
    /// which sockets to watch (`epoll_ctl`).
    Wait,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Socket => "socket",
            Verb::Bind => "bind",
            Verb::Listen => "listen",
            Verb::Accept => "accept",
            Verb::Connect => "connect",
            Verb::Send => "send",
            Verb::Recv => "recv",
            Verb::Shutdown => "shutdown",
            Verb::Close => "close",
            Verb::Option => "option",
            Verb::Name => "name",
            Verb::Mode => "mode",
            Verb::Descriptor => "descriptor",
            Verb::Wait => "wait",
        }
    }

    /// Whether the verb is one of the documented sequences' steps; the others (options,
    /// names, modes, descriptors, waiting) change how a program reaches a step, not which
    /// steps it takes.
    pub fn is_step(self) -> bool {
        !matches!(self, Verb::Option | Verb::Name | Verb::Mode | Verb::Descriptor | Verb::Wait)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CallName {
    /// Every call name, in the order declared.
    pub const ALL: [CallName; 40] = [
        CallName::Socket,
        CallName::Bind,
        CallName::Listen,
        CallName::Accept,
        CallName::Accept4,
        CallName::Connect,
        CallName::Send,
        CallName::Sendto,
        CallName::Sendmsg,
        CallName::Sendmmsg,
        CallName::Write,
        CallName::Writev,
        CallName::Sendfile,
        CallName::Splice,
        CallName::CopyFileRange,
        CallName::Recv,
        CallName::Recvfrom,
        CallName::Recvmsg,
        CallName::Recvmmsg,
        CallName::Read,
        CallName::Readv,
        CallName::Shutdown,
        CallName::Close,
        CallName::Setsockopt,
        CallName::Getsockopt,
        CallName::Getsockname,
        CallName::Getpeername,
        CallName::Fcntl,
        CallName::Ioctl,
        CallName::Dup,
        CallName::Dup2,
        CallName::Dup3,
        CallName::Poll,
        CallName::Ppoll,
        CallName::Select,
        CallName::Pselect6,
        CallName::EpollCtl,
        CallName::EpollWait,
        CallName::EpollPwait,
        CallName::EpollPwait2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallName::Socket => "socket",
            CallName::Bind => "bind",
            CallName::Listen => "listen",
            CallName::Accept => "accept",
            CallName::Accept4 => "accept4",
            CallName::Connect => "connect",
            CallName::Send => "send",
            CallName::Sendto => "sendto",
            CallName::Sendmsg => "sendmsg",
            CallName::Sendmmsg => "sendmmsg",
            CallName::Write => "write",
            CallName::Writev => "writev",
            CallName::Sendfile => "sendfile",
            CallName::Splice => "splice",
            CallName::CopyFileRange => "copy_file_range",
            CallName::Recv => "recv",
            CallName::Recvfrom => "recvfrom",
            CallName::Recvmsg => "recvmsg",
            CallName::Recvmmsg => "recvmmsg",
            CallName::Read => "read",
            CallName::Readv => "readv",
            CallName::Shutdown => "shutdown",
            CallName::Close => "close",
            CallName::Setsockopt => "setsockopt",
            CallName::Getsockopt => "getsockopt",
            CallName::Getsockname => "getsockname",
            CallName::Getpeername => "getpeername",
            CallName::Fcntl => "fcntl",
            CallName::Ioctl => "ioctl",
            CallName::Dup => "dup",
            CallName::Dup2 => "dup2",
            CallName::Dup3 => "dup3",
            CallName::Poll => "poll",
            CallName::Ppoll => "ppoll",
            CallName::Select => "select",
            CallName::Pselect6 => "pselect6",
            CallName::EpollCtl => "epoll_ctl",
            CallName::EpollWait => "epoll_wait",
            CallName::EpollPwait => "epoll_pwait",
            CallName::EpollPwait2 => "epoll_pwait2",
        }
    }

    /// The call named `name` (as [`CallName::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<CallName> {
        CallName::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// What the call does to the socket it is made on, as far as its name tells: a call that
    /// moves bytes between two descriptors counts as sending, and `fcntl` as a change of mode,
    /// until its start's arguments say otherwise ([`CallStart::verb`]).
    pub fn verb(self) -> Verb {
        match self {
            CallName::Socket => Verb::Socket,
            CallName::Bind => Verb::Bind,
            CallName::Listen => Verb::Listen,
            CallName::Accept | CallName::Accept4 => Verb::Accept,
            CallName::Connect => Verb::Connect,
            CallName::Send | CallName::Sendto | CallName::Sendmsg | CallName::Sendmmsg | CallName::Write | CallName::Writev => Verb::Send,
            CallName::Sendfile | CallName::Splice | CallName::CopyFileRange => Verb::Send,
            CallName::Recv | CallName::Recvfrom | CallName::Recvmsg | CallName::Recvmmsg | CallName::Read | CallName::Readv => Verb::Recv,
            CallName::Shutdown => Verb::Shutdown,
            CallName::Close => Verb::Close,
            CallName::Setsockopt | CallName::Getsockopt => Verb::Option,
            CallName::Getsockname | CallName::Getpeername => Verb::Name,
            CallName::Fcntl | CallName::Ioctl => Verb::Mode,
            CallName::Dup | CallName::Dup2 | CallName::Dup3 => Verb::Descriptor,
            CallName::Poll
            | CallName::Ppoll
            | CallName::Select
            | CallName::Pselect6
            | CallName::EpollCtl
            | CallName::EpollWait
            | CallName::EpollPwait
            | CallName::EpollPwait2 => Verb::Wait,
        }
    }
}

impl From<CallName> for Verb {
    fn from(call: CallName) -> Verb {
        call.verb()
    }
}

impl fmt::Display for CallName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The other descriptor of a call that moves bytes between a socket and another descriptor
/// (`sendfile`, `splice`, `copy_file_range`): what it is, and which way the bytes go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherEnd {
    pub fd: i32,
    /// `file`, `pipe`, or the name of a traced socket.
    pub what: String,
    /// The bytes come from it into the socket (else they go from the socket into it).
    pub source: bool,
}

/// One socket a readiness call watches or found ready: `s1 POLLIN`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub fd: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<SockId>,
    /// The events, as the manual names them (`POLLIN|POLLOUT`, `EPOLLIN`, `read`, `write`).
    pub events: String,
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
    /// `setsockopt`, `getsockopt`: the option, e.g. `SO_REUSEADDR` (set to 1),
    /// `SO_RCVBUF=65536`, `TCP_KEEPIDLE=15`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
    /// Flags and commands as the manual names them: `accept4`'s `SOCK_NONBLOCK`, a `send`'s
    /// `MSG_NOSIGNAL`, `fcntl`'s `F_SETFL, O_RDWR|O_NONBLOCK`, `ioctl`'s `FIONBIO, 1`,
    /// `epoll_ctl`'s `EPOLL_CTL_ADD, EPOLLIN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// `dup2`, `dup3`: the descriptor number the socket is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_fd: Option<i32>,
    /// `sendfile`, `splice`, `copy_file_range`: the call's other descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<OtherEnd>,
    /// `epoll_ctl`, `epoll_wait`: the epoll instance's descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoll: Option<i32>,
    /// `poll`, `select`: the traced sockets it watches (other descriptors are not listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<Watched>,
    /// `poll`, `select`, `epoll_wait`: how long it may wait, in ms (`None`: for ever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    /// `close`: how many other descriptors (duplicates, or copies a child inherited) still
    /// refer to the socket; the kernel closes the connection only with the last of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_fds: Option<u32>,
}

impl CallArgs {
    /// `socket()` made a datagram (UDP) socket: its type is `SOCK_DGRAM`, with or without
    /// the flags given alongside (`SOCK_DGRAM|SOCK_CLOEXEC`).
    pub fn is_datagram(&self) -> bool {
        self.ty.as_deref().is_some_and(|ty| ty.split('|').next() == Some("SOCK_DGRAM"))
    }
}

/// A call began: `id` pairs it with its [`CallEnd`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[repr(C)]
pub struct CallStart {
    pub id: u64,
    pub call: CallName,
    /// The file descriptor the call works on (none for `socket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd: Option<i32>,
    /// Boxed: mostly empty, and 304 bytes that every event of a trace took room for.
    #[serde(default)]
    pub args: Box<CallArgs>,
}

impl CallStart {
    /// What the call does to its socket, its arguments considered: a call that moves bytes
    /// between the socket and another descriptor (`splice`, `sendfile`, `copy_file_range`)
    /// sends when the other descriptor is its source and receives when it is its
    /// destination; `fcntl(F_DUPFD)` makes another descriptor.
    pub fn verb(&self) -> Verb {
        match self.call {
            CallName::Sendfile | CallName::Splice | CallName::CopyFileRange if self.args.other.as_ref().is_some_and(|o| !o.source) => Verb::Recv,
            CallName::Fcntl if self.args.flags.as_deref().is_some_and(|f| f.starts_with("F_DUPFD")) => Verb::Descriptor,
            name => name.verb(),
        }
    }

    /// Whether the call only reads the descriptor's flags (`fcntl(F_GETFD)`, `fcntl(F_GETFL)`):
    /// it changes nothing about the socket.
    pub fn reads_mode(&self) -> bool {
        self.call == CallName::Fcntl && self.args.flags.as_deref().is_some_and(|f| f.starts_with("F_GET"))
    }
}

/// An errno as a number and its symbolic name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errno {
    pub code: i32,
    pub name: String,
}

/// A call returned: its result and what it revealed about the socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[repr(C)]
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
    /// `poll`, `select`, `epoll_wait`: the traced sockets it found ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready: Vec<Watched>,
    /// What a call that reads a setting answered: `getsockopt`'s `SO_ERROR=ECONNREFUSED` (how
    /// a non-blocking connect learns its outcome), `fcntl(F_GETFL)`'s `O_RDWR|O_NONBLOCK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `accept`: the name its connection had while it waited, not yet accepted, in the
    /// listener's queue (the timeline names such a connection before `accept` returns it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued: Option<SockId>,
    /// A signal interrupted the call and the kernel restarted it: to the program, one call.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restarted: bool,
}

impl CallEnd {
    /// The end of call `id` returning `ret`, with nothing else revealed.
    pub fn new(id: u64, call: CallName, ret: i64) -> CallEnd {
        CallEnd {
            id,
            call,
            ret,
            errno: None,
            new_socket: None,
            local: None,
            peer: None,
            data: None,
            ready: Vec::new(),
            value: None,
            queued: None,
            restarted: false,
        }
    }
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
        // Room for a few escapes (a C string's NUL, a line's end) without growing.
        let mut text = String::with_capacity(shown.len() + 8);
        for &b in shown {
            match b {
                b'\n' => text.push_str("\\n"),
                b'\r' => text.push_str("\\r"),
                b'\t' => text.push_str("\\t"),
                b'\\' => text.push_str("\\\\"),
                0x20..=0x7e => text.push(b as char),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    text.push_str("\\x");
                    text.push(char::from(HEX[usize::from(b >> 4)]));
                    text.push(char::from(HEX[usize::from(b & 0xf)]));
                }
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
        // Written escaped, but a trace is a file anyone can write.
        write!(f, "\"{}\"{}", crate::inert::terminal(&self.text), if self.truncated { "…" } else { "" })
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

/// One packet on the wire, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(C)]
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
    /// The Ethernet header, for packets captured on a real link (`lo`'s is all zeros). Boxed,
    /// as `arp` is: rare, and every event of a trace took room for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eth: Option<Box<Ethernet>>,
    /// For `transport: arp`: the operation and the MAC addresses it carries; `src` and `dst`
    /// then hold the sender's and target's IP addresses, with port 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp: Option<Box<Arp>>,
    /// Set on a packet that a fault injector dropped on purpose, after it crossed `lo` and
    /// before the receiving socket got it: it names who dropped it (`"socktrace --drop"`;
    /// `"trace simulate"` for a loss in the model). The packet lens's copy is the one marked;
    /// should the lens have missed the packet, the event is the dropper's own observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
}

impl Packet {
    /// A packet from `src` to `dst` carrying nothing yet: no segment, no payload, no link
    /// header, not dropped.
    pub fn new(transport: Transport, src: SocketAddr, dst: SocketAddr) -> Packet {
        Packet { transport, src, dst, to: None, tcp: None, len: 0, payload: None, eth: None, arp: None, dropped: None }
    }
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
    ResetSent {
        local: SocketAddr,
        remote: SocketAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sk: Option<u64>,
    },
    ResetReceived {
        local: SocketAddr,
        remote: SocketAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sk: Option<u64>,
    },
    Retransmit {
        local: SocketAddr,
        remote: SocketAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sk: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<State>,
    },
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
