//! Records the socket calls of our own programs as `CallStart`/`CallEnd` events.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::capture::{clock, errno};
use crate::event::{Actor, Body, CallArgs, CallEnd, CallName, CallStart, Errno, Event, Mint, Origin, Peer, Preview, Role, SockId, SockKind};

/// Where recorded events go: every lens sends batches of events to the timeline.
pub type EventSink = std::sync::mpsc::Sender<Vec<Event>>;

/// A handle shared by every task of one program (server or client side).
#[derive(Clone)]
pub struct Recorder {
    role: Role,
    /// Which program, where each program plays both roles (peer to peer).
    peer: Option<Peer>,
    /// `None` for a silent recorder: the programs run as they would, recording nothing.
    sink: Option<EventSink>,
    /// Call ids pair starts with ends across the whole session, so both programs share them.
    calls: Arc<AtomicU64>,
    /// Socket names are per side (`c1`… and `s1`…).
    sockets: Arc<AtomicU32>,
}

/// A call in flight: `end` records its return.
pub struct OpenCall {
    rec: Recorder,
    id: u64,
    call: CallName,
}

impl Recorder {
    pub fn new(role: Role, sink: EventSink) -> Recorder {
        Recorder { role, peer: None, sink: Some(sink), calls: Arc::new(AtomicU64::new(1)), sockets: Arc::new(AtomicU32::new(1)) }
    }

    /// A recorder that records nothing: for a summary of thousands of connections a second,
    /// which needs the kernel's view only and would be slowed by a call record per call.
    pub fn silent(role: Role) -> Recorder {
        Recorder { role, peer: None, sink: None, calls: Arc::new(AtomicU64::new(1)), sockets: Arc::new(AtomicU32::new(1)) }
    }

    /// A recorder for the other program of the same session: its own socket names, the
    /// session's call ids.
    pub fn peer(&self, role: Role) -> Recorder {
        Recorder { role, peer: None, sink: self.sink.clone(), calls: self.calls.clone(), sockets: Arc::new(AtomicU32::new(1)) }
    }

    /// This recorder's role played by program `peer`: the peers' sockets of one role share
    /// one series of names (`s1`, `s2`…), so every socket of the session has its own.
    pub fn as_peer(&self, peer: Peer) -> Recorder {
        Recorder { peer: Some(peer), ..self.clone() }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The next socket name of this side: `c1`, `c2`… for a client, `s1`, `s2`… for a server.
    pub fn new_socket_id(&self) -> SockId {
        Mint::name(SockKind::of_role(self.role), self.sockets.fetch_add(1, Ordering::Relaxed))
    }

    fn emit(&self, socket: Option<&SockId>, body: Body) {
        let Some(sink) = &self.sink else { return };
        let event = Event {
            t: clock::now_ns(),
            // No pid: both programs are tasks of `trace` itself, not processes of their own.
            actor: Actor { role: self.role, peer: self.peer, pid: None, tid: Some(gettid()) },
            socket: socket.cloned(),
            origin: Origin::Observed,
            body,
        };
        // The timeline only goes away after the programs have finished; a send error then
        // means the trace is being torn down, and there is nobody left to tell.
        let _ = sink.send(vec![event]);
    }

    /// Records the start of a call on `socket` (none for `socket()` itself).
    pub fn start(&self, call: CallName, socket: Option<&SockId>, fd: Option<i32>, args: CallArgs) -> OpenCall {
        let id = self.calls.fetch_add(1, Ordering::Relaxed);
        self.emit(socket, Body::CallStart(CallStart { id, call, fd, args: args.into() }));
        OpenCall { rec: self.clone(), id, call }
    }
}

impl Recorder {
    /// `setsockopt(s, option, 1)`, recorded around `set`.
    pub fn setsockopt(&self, socket: &SockId, fd: i32, option: &str, set: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let args = CallArgs { option: Some(option.to_string()), ..CallArgs::default() };
        let call = self.start(CallName::Setsockopt, Some(socket), Some(fd), args);
        let result = set();
        call.end(Some(socket), result.as_ref().map(|()| 0), Revealed::default());
        result
    }

    /// `bind(s, addr)`, recorded around `bind`, which answers the address the kernel gave.
    pub fn bind(&self, socket: &SockId, fd: i32, addr: SocketAddr, bind: impl FnOnce() -> io::Result<SocketAddr>) -> io::Result<SocketAddr> {
        let call = self.start(CallName::Bind, Some(socket), Some(fd), CallArgs { addr: Some(addr), ..CallArgs::default() });
        let result = bind();
        match &result {
            Ok(local) => call.end(Some(socket), Ok(0), Revealed { local: Some(*local), ..Revealed::default() }),
            Err(err) => call.end(Some(socket), Err(err), Revealed::default()),
        }
        result
    }
}

/// What a call revealed when it returned, besides its return value.
#[derive(Default)]
pub struct Revealed {
    pub new_socket: Option<SockId>,
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
    pub data: Option<Preview>,
}

impl OpenCall {
    /// Records the return of the call on `socket`: `Ok(ret)` or the error's errno.
    pub fn end(self, socket: Option<&SockId>, result: Result<i64, &io::Error>, outcome: Revealed) {
        let (ret, errno) = match result {
            Ok(ret) => (ret, None),
            Err(err) => (-1, Some(errno_of(err))),
        };
        let end = CallEnd {
            errno,
            new_socket: outcome.new_socket,
            local: outcome.local,
            peer: outcome.peer,
            data: outcome.data,
            ..CallEnd::new(self.id, self.call, ret)
        };
        self.rec.emit(socket, Body::CallEnd(end));
    }
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// The errno behind an I/O error, with its symbolic name (`ECONNREFUSED`).
pub fn errno_of(err: &io::Error) -> Errno {
    errno::errno(err.raw_os_error().unwrap_or(0))
}
