//! What each followed system call means for the trace. At entry: whether it concerns a
//! followed socket (else the tracee goes on at once, with no exit stop), and its start. At
//! exit: its end, and what it changed: a new socket or descriptor, an address, a port for the
//! kernel lenses to follow.
//!
//! TCP and UDP sockets (`AF_INET`/`AF_INET6`, `SOCK_STREAM`/`SOCK_DGRAM`) are followed;
//! `read`, `write` and the other descriptor calls count only on them. Every call keeps the
//! name the program called it by (`write`, `accept4`, `sendmmsg`): what it does in the
//! Berkeley API's words is [`CallName::verb`]'s to say, not the capture's.
//!
//! The calls that move bytes are in `io.rs`, the readiness calls in `waits.rs`.

use super::decode;
use super::flags;
use super::names::Hints;
use super::open_call::{event, OpenCall, Start};
use super::syscalls::Sys;
use super::tracer::{lock, Tracer};
use crate::capture::clock;
use crate::errno;
use crate::event::{Body, CallArgs, CallEnd, CallName, CallStart, Role};

impl Tracer {
    /// A followed call's entry: its start is recorded if it concerns a followed socket (and
    /// then the tracee stops again at its exit).
    pub(super) fn entry(&mut self, tid: i32, sys: Sys, args: [u64; 6]) {
        let t = clock::now_ns();
        let Some(task) = self.tasks.get_mut(&tid) else { return };
        let pid = task.tgid;
        let fds = task.fds.clone();
        let fd = args[0] as i32;
        let key = fds.borrow().get(fd);
        let start = match sys {
            Sys::Clone => {
                task.clone_flags = Some(args[0]);
                return;
            }
            Sys::Clone3 => {
                task.clone_flags = super::memory::read_u64(tid, args[0]).ok();
                return;
            }
            Sys::IoUringSetup => {
                self.untraced(tid, pid, t, "io_uring");
                return;
            }
            Sys::Socket => {
                let (domain, ty) = (args[0] as i32, args[1] as i32);
                let datagram = ty & 0xf == libc::SOCK_DGRAM;
                if !matches!(domain, libc::AF_INET | libc::AF_INET6) || !(datagram || ty & 0xf == libc::SOCK_STREAM) {
                    return;
                }
                let args = CallArgs { domain: Some(decode::domain(domain)), ty: Some(decode::socket_type(ty)), ..CallArgs::default() };
                let id = self.new_id();
                let start = event(t, tid, pid, Body::CallStart(CallStart { id, call: CallName::Socket, fd: None, args: args.into() }));
                let mut open = OpenCall::new(sys, [0; 6], Some((CallName::Socket, id)), None);
                open.socket_start = Some(start);
                self.open(tid, open);
                return;
            }
            Sys::CloseRange => {
                let (first, last) = (args[0], args[1]);
                if fds.borrow().fds().any(|fd| (first..=last).contains(&(fd as u64))) {
                    self.open(tid, OpenCall::new(sys, args, None, None));
                }
                return;
            }
            Sys::Dup2 | Sys::Dup3 => {
                // Also a socket's number taken over by another file: that closes it there.
                let replaced = fds.borrow().get(args[1] as i32);
                let Some(on) = key.or(replaced) else { return };
                let mut start = Start::on(sys_call(sys), Some(on), fd);
                start.args.to_fd = Some(args[1] as i32);
                start
            }
            Sys::Sendto
            | Sys::Write
            | Sys::Sendmsg
            | Sys::Writev
            | Sys::Sendmmsg
            | Sys::Recvfrom
            | Sys::Read
            | Sys::Recvmsg
            | Sys::Readv
            | Sys::Recvmmsg
            | Sys::Sendfile
            | Sys::Splice
            | Sys::CopyFileRange => match self.io_entry(tid, pid, sys, &args) {
                Some(start) => start,
                None => return,
            },
            Sys::Poll | Sys::Ppoll | Sys::Select | Sys::Pselect6 | Sys::EpollWait | Sys::EpollPwait | Sys::EpollPwait2 => {
                match self.wait_entry(tid, sys, &args, &fds.borrow()) {
                    Some(start) => start,
                    None => return,
                }
            }
            Sys::EpollCtl => {
                // The socket is the third argument; the first is the epoll instance.
                let Some(socket) = fds.borrow().get(args[2] as i32) else { return };
                self.epoll_ctl_entry(tid, &args, Some(socket))
            }
            _ if key.is_none() => return,
            Sys::Bind => {
                let mut start = Start::on(CallName::Bind, key, fd);
                start.args.addr = decode::sockaddr_at(tid, args[1], args[2]);
                if let Some(k) = key {
                    lock(&self.namer).hint(k, Hints::bind_to(start.args.addr.map_or(0, |a| a.port())));
                }
                start
            }
            Sys::Listen => {
                let mut start = Start::on(CallName::Listen, key, fd);
                start.args.backlog = Some(args[1] as i32);
                if let Some(k) = key {
                    lock(&self.namer).reveal(k, Role::Server);
                    // The LISTEN state change happens in this call: follow its port first.
                    if let Some(port) = self.sockets.get(k).and_then(|s| s.bound).map(|a| a.port()) {
                        self.watch(port);
                    }
                }
                start
            }
            Sys::Accept | Sys::Accept4 => {
                let mut start = Start::on(sys_call(sys), key, fd);
                if sys == Sys::Accept4 {
                    start.args.flags = flags::accept4(args[3]);
                }
                if let Some(k) = key {
                    lock(&self.namer).hint(k, Hints::ACTED);
                }
                start
            }
            Sys::Connect => {
                let mut start = Start::on(CallName::Connect, key, fd);
                start.args.addr = decode::sockaddr_at(tid, args[1], args[2]);
                if let Some(k) = key {
                    lock(&self.namer).reveal(k, Role::Client);
                }
                // The SYN leaves in this call: the lenses follow the server's port before.
                if let Some(addr) = start.args.addr {
                    self.watch(addr.port());
                }
                start
            }
            Sys::Shutdown => {
                let mut start = Start::on(CallName::Shutdown, key, fd);
                start.args.how = Some(decode::shutdown_how(args[1] as i32));
                start
            }
            Sys::Setsockopt => {
                let mut start = Start::on(CallName::Setsockopt, key, fd);
                let name = flags::option_name(args[1] as i32, args[2] as i32);
                let value = super::memory::read(tid, args[3], args[4].min(32) as usize).unwrap_or_default();
                start.args.option = Some(flags::option_value(&name, &value));
                start
            }
            Sys::Getsockopt => {
                let mut start = Start::on(CallName::Getsockopt, key, fd);
                start.args.option = Some(flags::option_name(args[1] as i32, args[2] as i32));
                start
            }
            Sys::Getsockname | Sys::Getpeername | Sys::Dup => Start::on(sys_call(sys), key, fd),
            Sys::Fcntl => {
                let mut start = Start::on(CallName::Fcntl, key, fd);
                start.args.flags = Some(flags::fcntl(args[1] as i32, args[2]));
                start
            }
            Sys::Ioctl => {
                let value = (args[1] == libc::FIONBIO).then(|| super::memory::read_u32(tid, args[2]).ok().map(|v| v as i32)).flatten();
                let mut start = Start::on(CallName::Ioctl, key, fd);
                start.args.flags = Some(flags::ioctl(args[1], value));
                start
            }
            Sys::Close => {
                let mut start = Start::on(CallName::Close, key, fd);
                let others = key.and_then(|k| self.sockets.get(k)).map_or(0, |s| s.refs.saturating_sub(1));
                start.args.other_fds = (others > 0).then_some(others);
                start
            }
        };
        let id = self.new_id();
        let Start { call, key, fd, args: call_args, refs, watched } = start;
        let body = Body::CallStart(CallStart { id, call, fd, args: call_args.into() });
        lock(&self.namer).emit_about(key, refs, event(t, tid, pid, body));
        let mut open = OpenCall::new(sys, args, Some((call, id)), key);
        open.watched = watched;
        if sys == Sys::Close {
            open.released = self.sockets.detach(&mut fds.borrow_mut(), args[0] as i32);
        }
        self.open(tid, open);
    }

    pub(super) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    pub(super) fn open(&mut self, tid: i32, call: OpenCall) {
        if let Some(task) = self.tasks.get_mut(&tid) {
            task.open = Some(call);
        }
    }

    /// A followed call's exit: its end, and what it changed.
    pub(super) fn exit(&mut self, tid: i32, open: OpenCall, rval: i64, is_error: bool) {
        let t = clock::now_ns();
        let Some(task) = self.tasks.get(&tid) else { return };
        let (pid, fds) = (task.tgid, task.fds.clone());
        let args = open.args;
        let fd = args[0] as i32;
        let ok = !is_error;
        let mut end = CallEnd::new(0, CallName::Close, if ok { rval } else { -1 });
        end.errno = is_error.then(|| errno::errno(rval.saturating_neg() as i32));
        end.restarted = open.restarted;
        let mut key = open.key;
        let mut refs = Vec::new();
        // What the call released, to settle once its end is sent.
        let mut released = Vec::new();
        match open.sys {
            Sys::Socket => {
                let start = open.socket_start;
                if ok {
                    let datagram = start.as_ref().is_some_and(|s| s.call_start().is_some_and(|c| c.args.is_datagram()));
                    let k = self.sockets.create(datagram);
                    released.extend(self.sockets.attach(&mut fds.borrow_mut(), rval as i32, k));
                    lock(&self.namer).pending(k, pid as u32, start.as_ref().map_or(t, |s| s.t));
                    key = Some(k);
                }
                if let Some(start) = start {
                    lock(&self.namer).emit(key, start);
                }
            }
            Sys::Bind if ok => {
                let local = self.addresses(pid, fd).0.or_else(|| decode::sockaddr_at(tid, args[1], args[2]));
                let datagram = key.and_then(|k| self.sockets.get(k)).is_some_and(|s| s.datagram);
                if let Some(s) = key.and_then(|k| self.sockets.get_mut(k)) {
                    s.bound = local;
                }
                if let Some(k) = key {
                    lock(&self.namer).hint(k, Hints::BOUND);
                }
                if let Some(local) = local {
                    self.watch(local.port());
                    // A datagram server never listens: its bound port is where clients go.
                    if datagram {
                        self.served(tid, local.port());
                    }
                }
                end.local = local;
            }
            Sys::Listen if ok => {
                let bound = key.and_then(|k| self.sockets.get(k)).and_then(|s| s.bound);
                // Listening without bind: the kernel chose the port just now.
                let local = bound.or_else(|| self.addresses(pid, fd).0);
                if let Some(local) = local {
                    if bound.is_none() {
                        end.local = Some(local);
                        if let Some(s) = key.and_then(|k| self.sockets.get_mut(k)) {
                            s.bound = Some(local);
                        }
                    }
                    self.watch(local.port());
                    self.served(tid, local.port());
                }
            }
            Sys::Accept | Sys::Accept4 if ok => {
                let new_fd = rval as i32;
                let k = self.sockets.create(false);
                released.extend(self.sockets.attach(&mut fds.borrow_mut(), new_fd, k));
                end.new_socket = Some(lock(&self.namer).accepted(k, pid as u32));
                let (local, peer) = self.addresses(pid, new_fd);
                end.local = local;
                end.peer = peer.or_else(|| decode::returned_sockaddr(tid, args[1], args[2]));
            }
            Sys::Connect => {
                // A refused connect has given its port back: no local address to tell then.
                end.local = self.addresses(pid, fd).0.filter(|a| a.port() != 0);
                end.peer = decode::sockaddr_at(tid, args[1], args[2]);
            }
            Sys::Getsockopt if ok => {
                let len = super::memory::read_u32(tid, args[4]).unwrap_or(0).min(32);
                let value = super::memory::read(tid, args[3], len as usize).unwrap_or_default();
                end.value = Some(flags::option_value(&flags::option_name(args[1] as i32, args[2] as i32), &value));
            }
            Sys::Getsockname if ok => end.local = decode::returned_sockaddr(tid, args[1], args[2]),
            Sys::Getpeername if ok => end.peer = decode::returned_sockaddr(tid, args[1], args[2]),
            Sys::Fcntl if ok && args[1] as i32 == libc::F_GETFL => end.value = Some(flags::file_status(rval as u64)),
            // Linux frees the descriptor whatever close returns: at the entry (see `released`).
            Sys::Close => released.extend(open.released),
            Sys::Dup | Sys::Dup2 | Sys::Dup3 | Sys::Fcntl if ok && (open.sys != Sys::Fcntl || flags::fcntl_dups(args[1] as i32)) => {
                let new_fd = rval as i32;
                if new_fd != fd {
                    let source = fds.borrow().get(fd);
                    let mut table = fds.borrow_mut();
                    released.extend(match source {
                        Some(k) => self.sockets.attach(&mut table, new_fd, k),
                        // dup2 of another file over a socket's number closes the socket's.
                        None => self.sockets.detach(&mut table, new_fd),
                    });
                }
            }
            Sys::CloseRange if ok && args[2] & u64::from(libc::CLOSE_RANGE_CLOEXEC) == 0 => {
                let in_range: Vec<i32> = fds.borrow().fds().filter(|fd| (args[0]..=args[1]).contains(&(*fd as u64))).collect();
                for fd in in_range {
                    released.extend(self.sockets.detach(&mut fds.borrow_mut(), fd));
                }
            }
            Sys::EpollCtl if ok => self.epoll_ctl_exit(tid, &args, key, &mut fds.borrow_mut()),
            Sys::Poll | Sys::Ppoll | Sys::Select | Sys::Pselect6 | Sys::EpollWait | Sys::EpollPwait | Sys::EpollPwait2 if ok && rval > 0 => {
                refs = super::waits::wait_exit(tid, open.sys, &args, rval, &open.watched, &fds.borrow(), &mut end);
            }
            io if ok => {
                let peer = self.io_exit(tid, io, &args, rval, &mut end);
                if let Some(peer) = peer {
                    end.peer = Some(peer);
                }
                // A datagram socket's first send binds it to a port the kernel picks: say which,
                // so that its datagrams are known to be its own.
                if key.and_then(|k| self.sockets.get(k)).is_some_and(|s| s.datagram && s.bound.is_none()) {
                    let local = self.addresses(pid, fd).0.filter(|a| a.port() != 0);
                    if let (Some(local), Some(s)) = (local, key.and_then(|k| self.sockets.get_mut(k))) {
                        s.bound = Some(local);
                        end.local = Some(local);
                    }
                }
            }
            _ => {}
        }
        if let Some((call, id)) = open.call {
            end.id = id;
            end.call = call;
            lock(&self.namer).emit_about(key, refs, event(t, tid, pid, Body::CallEnd(end)));
        }
        for k in released {
            self.settle(Some(k));
        }
    }
}

/// The call name of a system call that always shows as itself.
fn sys_call(sys: Sys) -> CallName {
    sys.call().unwrap_or(CallName::Close)
}
