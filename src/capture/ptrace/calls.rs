//! What each followed system call means for the trace. At entry: whether it concerns a
//! followed socket (else the tracee goes on at once, with no exit stop), and its start. At
//! exit: its end, and what it changed: a new socket or descriptor, an address, a port for the
//! kernel lenses to follow.
//!
//! Only TCP sockets (`AF_INET`/`AF_INET6`, `SOCK_STREAM`) are followed; `read` and `write`
//! count only on them. The calls are named as Berkeley sockets name them: a `write`, or a
//! `sendto` without an address, is a `send`; `read`, `recvfrom` and `recvmsg` are `recv`
//! (TCP fills in no sender address); `accept4` is `accept`. The system call's own name is
//! kept beside (`args.syscall`) wherever it differs.

use super::decode::{self, MsgHdr};
use super::fds::SockKey;
use super::syscalls::Sys;
use super::tracer::{lock, Tracer};
use crate::capture::{clock, errno};
use crate::event::{Actor, Body, CallArgs, CallEnd, CallName, CallStart, Event, Origin, Role};

/// A followed call between its entry and its exit.
pub(super) struct OpenCall {
    sys: Sys,
    args: [u64; 6],
    /// The call's start and its id; `None` for a descriptor call (`dup`…), which shows no event.
    call: Option<(CallName, u64)>,
    key: Option<SockKey>,
    /// `socket()`'s start, sent at its exit with the socket it made (unknown before).
    socket_start: Option<Event>,
}

fn event(t: u64, tid: i32, pid: i32, body: Body) -> Event {
    // The role is filled in by the namer, from the socket.
    Event { t, actor: Actor { role: Role::Unknown, peer: None, pid: Some(pid as u32), tid: Some(tid as u32) }, socket: None, origin: Origin::Observed, body }
}

/// The call's own name, for `args.syscall`, where it differs from the Berkeley name.
fn syscall_name(sys: Sys, call: CallName) -> Option<String> {
    (sys.name() != call.as_str()).then(|| sys.name().to_string())
}

fn sum_len(iov: &[(u64, u64)]) -> u64 {
    iov.iter().map(|(_, n)| n).sum()
}

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
        let mut call_args = CallArgs::default();
        let call = match sys {
            Sys::Clone => {
                task.clone_flags = Some(args[0]);
                return;
            }
            Sys::Clone3 => {
                task.clone_flags = super::memory::read_u64(tid, args[0]).ok();
                return;
            }
            Sys::Socket => {
                let (domain, ty) = (args[0] as i32, args[1] as i32);
                if !matches!(domain, libc::AF_INET | libc::AF_INET6) || ty & 0xf != libc::SOCK_STREAM {
                    return;
                }
                let args = CallArgs { domain: Some(decode::domain(domain)), ty: Some(decode::socket_type(ty)), ..CallArgs::default() };
                let id = self.new_id();
                let start = event(t, tid, pid, Body::CallStart(CallStart { id, call: CallName::Socket, fd: None, args }));
                self.open(tid, OpenCall { sys, args: [0; 6], call: Some((CallName::Socket, id)), key: None, socket_start: Some(start) });
                return;
            }
            Sys::Dup => {
                if key.is_some() {
                    self.open(tid, OpenCall { sys, args, call: None, key, socket_start: None });
                }
                return;
            }
            Sys::Dup2 | Sys::Dup3 => {
                if key.is_some() || fds.borrow().get(args[1] as i32).is_some() {
                    self.open(tid, OpenCall { sys, args, call: None, key, socket_start: None });
                }
                return;
            }
            Sys::Fcntl => {
                if key.is_some() && matches!(args[1] as i32, libc::F_DUPFD | libc::F_DUPFD_CLOEXEC) {
                    self.open(tid, OpenCall { sys, args, call: None, key, socket_start: None });
                }
                return;
            }
            Sys::CloseRange => {
                let (first, last) = (args[0], args[1]);
                if fds.borrow().fds().any(|fd| (first..=last).contains(&(fd as u64))) {
                    self.open(tid, OpenCall { sys, args, call: None, key: None, socket_start: None });
                }
                return;
            }
            _ if key.is_none() => return,
            Sys::Bind => {
                call_args.addr = decode::sockaddr_at(tid, args[1], args[2]);
                CallName::Bind
            }
            Sys::Listen => {
                call_args.backlog = Some(args[1] as i32);
                if let Some(k) = key {
                    lock(&self.namer).reveal(k, Role::Server);
                    // The LISTEN state change happens in this call: follow its port first.
                    if let Some(port) = self.sockets.get(k).and_then(|s| s.bound).map(|a| a.port()) {
                        self.watch(port);
                    }
                }
                CallName::Listen
            }
            Sys::Accept | Sys::Accept4 => CallName::Accept,
            Sys::Connect => {
                call_args.addr = decode::sockaddr_at(tid, args[1], args[2]);
                if let Some(k) = key {
                    lock(&self.namer).reveal(k, Role::Client);
                }
                // The SYN leaves in this call: the lenses follow the server's port before.
                if let Some(addr) = call_args.addr {
                    self.watch(addr.port());
                }
                CallName::Connect
            }
            Sys::Sendto | Sys::Write => {
                let len = args[2];
                call_args.len = Some(len as usize);
                call_args.data = decode::preview(tid, args[1], len);
                if sys == Sys::Sendto && args[4] != 0 {
                    call_args.addr = decode::sockaddr_at(tid, args[4], args[5]);
                }
                if call_args.addr.is_some() { CallName::Sendto } else { CallName::Send }
            }
            Sys::Sendmsg | Sys::Writev => {
                let (iov, name) = match sys {
                    Sys::Sendmsg => decode::msghdr(tid, args[1]).map_or((Vec::new(), None), |m| (m.iov, Some((m.name, m.name_len)))),
                    _ => (decode::iovecs(tid, args[1], args[2]), None),
                };
                let len = sum_len(&iov);
                call_args.len = Some(len as usize);
                call_args.data = decode::preview_iov(tid, &iov, len);
                call_args.addr = name.filter(|(p, _)| *p != 0).and_then(|(p, n)| decode::sockaddr_at(tid, p, n));
                if call_args.addr.is_some() { CallName::Sendto } else { CallName::Send }
            }
            Sys::Recvfrom | Sys::Read => {
                call_args.len = Some(args[2] as usize);
                CallName::Recv
            }
            Sys::Recvmsg | Sys::Readv => {
                let iov = match sys {
                    Sys::Recvmsg => decode::msghdr(tid, args[1]).map(|m: MsgHdr| m.iov).unwrap_or_default(),
                    _ => decode::iovecs(tid, args[1], args[2]),
                };
                call_args.len = Some(sum_len(&iov) as usize);
                CallName::Recv
            }
            Sys::Shutdown => {
                call_args.how = Some(decode::shutdown_how(args[1] as i32));
                CallName::Shutdown
            }
            Sys::Setsockopt => {
                let Some(name) = decode::option_name(args[1] as i32, args[2] as i32) else { return };
                let value = super::memory::read(tid, args[3], args[4].min(8) as usize).unwrap_or_default();
                call_args.option = Some(decode::option_value(name, &value));
                CallName::Setsockopt
            }
            Sys::Close => {
                let others = key.and_then(|k| self.sockets.get(k)).map_or(0, |s| s.refs.saturating_sub(1));
                call_args.other_fds = (others > 0).then_some(others);
                CallName::Close
            }
        };
        call_args.syscall = syscall_name(sys, call);
        let id = self.new_id();
        let start = event(t, tid, pid, Body::CallStart(CallStart { id, call, fd: Some(fd), args: call_args }));
        lock(&self.namer).emit(key, start);
        self.open(tid, OpenCall { sys, args, call: Some((call, id)), key, socket_start: None });
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn open(&mut self, tid: i32, call: OpenCall) {
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
        let mut end = CallEnd {
            id: 0,
            call: CallName::Close,
            ret: if ok { rval } else { -1 },
            errno: is_error.then(|| errno::errno(rval.saturating_neg() as i32)),
            new_socket: None,
            local: None,
            peer: None,
            data: None,
        };
        let mut key = open.key;
        // What the call released, to settle once its end is sent.
        let mut released = Vec::new();
        match open.sys {
            Sys::Socket => {
                let start = open.socket_start;
                if ok {
                    let k = self.sockets.create();
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
                if let Some(s) = key.and_then(|k| self.sockets.get_mut(k)) {
                    s.bound = local;
                }
                if let Some(local) = local {
                    self.watch(local.port());
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
                    self.listened.get_or_insert(local.port());
                }
            }
            Sys::Accept | Sys::Accept4 if ok => {
                let new_fd = rval as i32;
                let k = self.sockets.create();
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
            Sys::Recvfrom | Sys::Read if ok && rval > 0 => end.data = decode::preview(tid, args[1], rval as u64),
            Sys::Recvmsg | Sys::Readv if ok && rval > 0 => {
                let iov = match open.sys {
                    Sys::Recvmsg => decode::msghdr(tid, args[1]).map(|m| m.iov).unwrap_or_default(),
                    _ => decode::iovecs(tid, args[1], args[2]),
                };
                end.data = decode::preview_iov(tid, &iov, rval as u64);
            }
            // Linux frees the descriptor whatever close returns.
            Sys::Close => released.extend(self.sockets.detach(&mut fds.borrow_mut(), fd)),
            Sys::Dup | Sys::Dup2 | Sys::Dup3 | Sys::Fcntl if ok => {
                let new_fd = rval as i32;
                if new_fd != fd {
                    let mut table = fds.borrow_mut();
                    released.extend(match key {
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
            _ => {}
        }
        if let Some((call, id)) = open.call {
            end.id = id;
            end.call = call;
            lock(&self.namer).emit(key, event(t, tid, pid, Body::CallEnd(end)));
        }
        for k in released {
            self.settle(Some(k));
        }
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn berkeley_names__the_system_call_kept_where_it_differs() {
        assert_eq!(syscall_name(Sys::Write, CallName::Send).as_deref(), Some("write"));
        assert_eq!(syscall_name(Sys::Accept4, CallName::Accept).as_deref(), Some("accept4"));
        assert_eq!(syscall_name(Sys::Connect, CallName::Connect), None);
        assert_eq!(sum_len(&[(0, 3), (0, 4)]), 7);
    }
}
