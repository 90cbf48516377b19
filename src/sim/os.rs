//! The sockets API the simulated programs call, in Berkeley names. Each call records its
//! start, acts on the kernel, waits on the virtual clock until it can return, and records its
//! end; a call returns [`SYSCALL_NS`] after it could.
//!
//! On a TCP socket the Berkeley calls make these RFC 9293 user calls:
//!
//! | Berkeley                   | RFC 9293                                                  |
//! |----------------------------|-----------------------------------------------------------|
//! | `listen`                   | passive OPEN                                              |
//! | `connect`                  | active OPEN, then a wait for ESTABLISHED                  |
//! | `send`                     | SEND                                                      |
//! | `recv`                     | RECEIVE (waits for data or the peer's FIN)                |
//! | `shutdown(SHUT_WR)`        | CLOSE                                                     |
//! | `close`                    | CLOSE unless `shutdown` made it already; frees the fd     |
//! | `socket`, `bind`, `accept` | none: `accept` takes a connection the kernel has opened   |

use std::cell::RefCell;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;

use super::net::Wire;
use super::world::{Kind, World};
use crate::capture::errno::errno;
use crate::event::{Actor, Body, CallArgs, CallEnd, CallName, CallStart, Errno, Preview};
use crate::tcp::{CallError, Failure, Received, State};

/// A call that need not wait returns this long after it starts, in ns.
pub(super) const SYSCALL_NS: u64 = 2_000;

/// The buffer a program offers to `recv` and `recvfrom`.
const RECV_BUFFER: usize = 1024;

/// An open descriptor. Not `Clone`: `close` takes it, so a closed descriptor cannot be used.
pub(super) struct Fd {
    num: i32,
    sock: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SockType {
    Stream,
    Datagram,
}

/// One program's view of the kernel.
pub(super) struct Os {
    world: Rc<RefCell<World>>,
    who: Actor,
}

/// A call in progress.
struct Started {
    id: u64,
    call: CallName,
    socket: Option<usize>,
}

/// How a call returned: a [`CallEnd`] before its id and name are added.
#[derive(Default)]
struct Return {
    ret: i64,
    errno: Option<Errno>,
    new_socket: Option<usize>,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    data: Option<Preview>,
}

impl Return {
    fn ok(ret: i64) -> Return {
        Return { ret, ..Return::default() }
    }

    fn error(errno: Errno) -> Return {
        Return { ret: -1, errno: Some(errno), ..Return::default() }
    }
}

/// What the user is told when a connection fails, as Linux says it.
fn failure_errno(failure: Failure) -> Errno {
    match failure {
        Failure::Refused => errno(libc::ECONNREFUSED),
        Failure::Reset => errno(libc::ECONNRESET),
        Failure::TimedOut => errno(libc::ETIMEDOUT),
    }
}

fn call_errno(error: CallError) -> Errno {
    match error {
        CallError::NotConnected => errno(libc::ENOTCONN),
        CallError::Closing => errno(libc::EPIPE),
        CallError::AlreadyOpen => errno(libc::EISCONN),
    }
}

impl Os {
    pub fn new(world: &Rc<RefCell<World>>, who: Actor) -> Os {
        Os { world: Rc::clone(world), who }
    }

    pub async fn socket(&self, ty: SockType) -> Fd {
        let ty_name = match ty {
            SockType::Stream => "SOCK_STREAM",
            SockType::Datagram => "SOCK_DGRAM",
        };
        let args = CallArgs { domain: Some("AF_INET".into()), ty: Some(ty_name.into()), ..CallArgs::default() };
        let started = self.start(CallName::Socket, None, args);
        self.finish(started, |w| {
            let kind = match ty {
                SockType::Stream => w.tcp_socket(self.who.role),
                SockType::Datagram => Kind::Udp { inbox: Default::default() },
            };
            let sock = w.add_socket(self.who, kind, None, None);
            let num = w.open_fd(self.who);
            Some((Return { new_socket: Some(sock), ..Return::ok(num.into()) }, Fd { num, sock }))
        })
        .await
    }

    pub async fn bind(&self, fd: &Fd, addr: SocketAddr) {
        let started = self.start(CallName::Bind, Some(fd), CallArgs { addr: Some(addr), ..CallArgs::default() });
        self.finish(started, |w| {
            w.socket_mut(fd.sock).local = Some(addr);
            Some((Return { local: Some(addr), ..Return::ok(0) }, ()))
        })
        .await
    }

    pub async fn listen(&self, fd: &Fd, backlog: i32) {
        let started = self.start(CallName::Listen, Some(fd), CallArgs { backlog: Some(backlog), ..CallArgs::default() });
        self.finish(started, |w| {
            let opened = w.with_tcp(fd.sock, |endpoint, now| endpoint.open_passive(now));
            Some((opened.map_or_else(|e| Return::error(call_errno(e)), |()| Return::ok(0)), ()))
        })
        .await
    }

    /// Waits for a connection whose handshake is done, and returns a new descriptor for it.
    pub async fn accept(&self, fd: &Fd) -> Fd {
        let started = self.start(CallName::Accept, Some(fd), CallArgs::default());
        self.finish(started, |w| {
            let sock = w.take_connection(fd.sock)?;
            let num = w.open_fd(self.who);
            let socket = w.socket(sock);
            let ret = Return { new_socket: Some(sock), local: socket.local, peer: socket.remote, ..Return::ok(num.into()) };
            Some((ret, Fd { num, sock }))
        })
        .await
    }

    /// Sends the SYN and waits until the connection is established or has failed.
    pub async fn connect(&self, fd: &Fd, addr: SocketAddr) -> Result<(), Errno> {
        let started = self.start(CallName::Connect, Some(fd), CallArgs { addr: Some(addr), ..CallArgs::default() });
        let opened = {
            let mut w = self.world.borrow_mut();
            w.bind_ephemeral(fd.sock);
            w.socket_mut(fd.sock).remote = Some(addr);
            w.with_tcp(fd.sock, |endpoint, now| endpoint.open_active(now))
        };
        self.finish(started, |w| {
            if let Err(e) = opened {
                return Some((Return::error(call_errno(e)), Err(call_errno(e))));
            }
            let socket = w.socket(fd.sock);
            let endpoint = socket.endpoint()?;
            match endpoint.state() {
                state if state.is_synchronized() => Some((Return { local: socket.local, peer: socket.remote, ..Return::ok(0) }, Ok(()))),
                State::Closed => {
                    let errno = failure_errno(endpoint.failure().unwrap_or(Failure::Reset));
                    Some((Return::error(errno.clone()), Err(errno)))
                }
                _ => None,
            }
        })
        .await
    }

    pub async fn send(&self, fd: &Fd, data: &[u8]) -> Result<(), Errno> {
        let args = CallArgs { len: Some(data.len()), data: Some(Preview::of(data)), ..CallArgs::default() };
        let started = self.start(CallName::Send, Some(fd), args);
        self.finish(started, |w| {
            let sent =
                w.with_tcp(fd.sock, |endpoint, now| endpoint.send(now, data).map_err(|e| endpoint.failure().map_or_else(|| call_errno(e), failure_errno)));
            Some(match sent {
                Ok(()) => (Return::ok(data.len() as i64), Ok(())),
                Err(errno) => (Return::error(errno.clone()), Err(errno)),
            })
        })
        .await
    }

    /// Waits for data; an empty result is the end of the stream (the peer's FIN).
    pub async fn recv(&self, fd: &Fd) -> Result<Vec<u8>, Errno> {
        let started = self.start(CallName::Recv, Some(fd), CallArgs { len: Some(RECV_BUFFER), ..CallArgs::default() });
        self.finish(started, |w| match w.with_tcp(fd.sock, |endpoint, _| endpoint.receive(RECV_BUFFER)) {
            Ok(Received::Nothing) => None,
            Ok(Received::End) => Some((Return::ok(0), Ok(Vec::new()))),
            Ok(Received::Data(data)) => {
                let ret = Return { data: Some(Preview::of(&data)), ..Return::ok(data.len() as i64) };
                Some((ret, Ok(data)))
            }
            Err(failure) => Some((Return::error(failure_errno(failure)), Err(failure_errno(failure)))),
        })
        .await
    }

    /// Sends one datagram, binding the socket to an ephemeral port first if it has none.
    pub async fn sendto(&self, fd: &Fd, data: &[u8], addr: SocketAddr) {
        let args = CallArgs { addr: Some(addr), len: Some(data.len()), data: Some(Preview::of(data)), ..CallArgs::default() };
        let started = self.start(CallName::Sendto, Some(fd), args);
        self.finish(started, |w| {
            let local = w.bind_ephemeral(fd.sock);
            let id = w.socket(fd.sock).id.clone();
            w.transmit(self.who, Some(id), local, addr, Wire::Udp(data.to_vec()));
            Some((Return { local: Some(local), ..Return::ok(data.len() as i64) }, ()))
        })
        .await
    }

    /// Waits for one datagram; returns it and its sender.
    pub async fn recvfrom(&self, fd: &Fd) -> (Vec<u8>, SocketAddr) {
        let started = self.start(CallName::Recvfrom, Some(fd), CallArgs { len: Some(RECV_BUFFER), ..CallArgs::default() });
        self.finish(started, |w| {
            let (from, data) = w.take_datagram(fd.sock)?;
            let ret = Return { peer: Some(from), data: Some(Preview::of(&data)), ..Return::ok(data.len() as i64) };
            Some((ret, (data, from)))
        })
        .await
    }

    /// `shutdown(SHUT_WR)`: no more data from this side; the FIN goes out, reading goes on.
    pub async fn shutdown_write(&self, fd: &Fd) {
        let started = self.start(CallName::Shutdown, Some(fd), CallArgs { how: Some("SHUT_WR".into()), ..CallArgs::default() });
        self.finish(started, |w| {
            let closed = w.with_tcp(fd.sock, |endpoint, now| endpoint.close(now));
            Some((closed.map_or_else(|e| Return::error(call_errno(e)), |()| Return::ok(0)), ()))
        })
        .await
    }

    /// Releases the descriptor; on a TCP socket whose side is still open, sends the FIN first.
    pub async fn close(&self, fd: Fd) {
        let started = self.start(CallName::Close, Some(&fd), CallArgs::default());
        self.finish(started, |w| {
            if w.socket(fd.sock).endpoint().is_some() {
                // close() always releases the descriptor: a CLOSE with nothing left to do (the
                // FIN went out with shutdown(), or there never was a connection) is no error.
                let _nothing_left = w.with_tcp(fd.sock, |endpoint, now| endpoint.close(now));
            }
            w.close_fd(self.who, fd.num);
            Some((Return::ok(0), ()))
        })
        .await
    }

    /// A stage direction, not a socket call: lets the virtual clock run on for `ns`.
    pub async fn sleep(&self, ns: u64) {
        let until = self.world.borrow().now() + ns;
        poll_fn(|_| {
            let mut w = self.world.borrow_mut();
            if w.now() >= until {
                Poll::Ready(())
            } else {
                w.wake_at(until);
                Poll::Pending
            }
        })
        .await
    }

    /// A stage direction, not a socket call: waits until every program has come here, so
    /// that they act at the same instant.
    pub async fn meet(&self) {
        self.world.borrow_mut().arrive_at_meeting();
        poll_fn(|_| if self.world.borrow().everyone_met() { Poll::Ready(()) } else { Poll::Pending }).await
    }

    /// Records the start of a call.
    fn start(&self, call: CallName, fd: Option<&Fd>, args: CallArgs) -> Started {
        let mut w = self.world.borrow_mut();
        let id = w.next_call_id();
        let socket = fd.map(|fd| fd.sock);
        let sock_id = socket.map(|idx| w.socket(idx).id.clone());
        w.record(self.who, sock_id, Body::CallStart(CallStart { id, call, fd: fd.map(|fd| fd.num), args: args.into() }));
        Started { id, call, socket }
    }

    /// Waits until `attempt` can complete the call, lets [`SYSCALL_NS`] pass, and records the
    /// end of the call.
    async fn finish<T>(&self, started: Started, mut attempt: impl FnMut(&mut World) -> Option<(Return, T)>) -> T {
        let (ret, value) = poll_fn(|_| attempt(&mut self.world.borrow_mut()).map_or(Poll::Pending, Poll::Ready)).await;
        self.sleep(SYSCALL_NS).await;
        let mut w = self.world.borrow_mut();
        let id_of = |idx: usize| w.socket(idx).id.clone();
        let socket = started.socket.or(ret.new_socket).map(id_of);
        let new_socket = ret.new_socket.map(id_of);
        let end = CallEnd { errno: ret.errno, new_socket, local: ret.local, peer: ret.peer, data: ret.data, ..CallEnd::new(started.id, started.call, ret.ret) };
        w.record(self.who, socket, Body::CallEnd(end));
        value
    }
}
