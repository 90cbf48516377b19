//! The calls that move bytes through a followed socket: the `send` and `recv` families, the
//! file calls on a socket (`read`, `write`, `readv`, `writev`), the batch calls (`sendmmsg`,
//! `recvmmsg`), and the calls that move bytes between two descriptors inside the kernel
//! (`sendfile`, `splice`, `copy_file_range`: Go's `io.Copy` between two connections,
//! a static file server's reply). Each is shown by its own name on the socket it moves bytes
//! through; a datagram socket's first send or wait also reveals its part.

use std::net::SocketAddr;

use super::decode::{self, MsgHdr};
use super::flags;
use super::names::Hints;
use super::open_call::Start;
use super::syscalls::Sys;
use super::tracer::{lock, Tracer};
use crate::event::{CallEnd, OtherEnd, Role};

fn sum_len(iov: &[(u64, u64)]) -> u64 {
    iov.iter().map(|(_, n)| n).sum()
}

/// `struct mmsghdr` is a `msghdr` (56 bytes) and the count of bytes it moved (4, padded to 8).
const MMSGHDR_LEN: u64 = 64;

/// What another descriptor is, from the link `/proc` gives it: `pipe`, a traced socket's
/// kind, or `file`.
fn what_is(pid: i32, fd: i32) -> String {
    match std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) {
        Ok(link) => {
            let link = link.to_string_lossy();
            if link.starts_with("pipe:") {
                "pipe".to_string()
            } else if link.starts_with("socket:") {
                "socket".to_string()
            } else {
                "file".to_string()
            }
        }
        Err(_) => "file".to_string(),
    }
}

impl Tracer {
    /// The start of a call that moves bytes, if it concerns a followed socket.
    pub(super) fn io_entry(&mut self, tid: i32, pid: i32, sys: Sys, args: &[u64; 6]) -> Option<Start> {
        let fds = self.tasks.get(&tid)?.fds.clone();
        let table = fds.borrow();
        let name = sys.call()?;
        // The two-descriptor calls: the socket is the one end that is followed.
        if matches!(sys, Sys::Sendfile | Sys::Splice | Sys::CopyFileRange) {
            let (fd_in, fd_out) = match sys {
                Sys::Sendfile => (args[1] as i32, args[0] as i32),
                _ => (args[0] as i32, args[2] as i32),
            };
            let (fd, other, source) = match (table.get(fd_out), table.get(fd_in)) {
                (Some(_), _) => (fd_out, fd_in, true),
                (None, Some(_)) => (fd_in, fd_out, false),
                (None, None) => return None,
            };
            let mut start = Start::on(name, table.get(fd), fd);
            start.args.len = Some(match sys {
                Sys::Sendfile => args[3],
                _ => args[4],
            } as usize);
            start.args.other = Some(OtherEnd { fd: other, what: what_is(pid, other), source });
            return Some(start);
        }
        let fd = args[0] as i32;
        let key = table.get(fd)?;
        drop(table);
        let datagram = self.sockets.get(key).is_some_and(|s| s.datagram);
        let mut start = Start::on(name, Some(key), fd);
        let a = &mut start.args;
        let sends = matches!(sys, Sys::Sendto | Sys::Write | Sys::Sendmsg | Sys::Writev | Sys::Sendmmsg);
        match sys {
            Sys::Sendto | Sys::Write => {
                a.len = Some(args[2] as usize);
                a.data = decode::preview(tid, args[1], args[2]);
                if sys == Sys::Sendto {
                    a.flags = flags::msg(args[3]);
                    if args[4] != 0 {
                        a.addr = decode::sockaddr_at(tid, args[4], args[5]);
                    }
                }
            }
            Sys::Sendmsg | Sys::Writev => {
                let (iov, name) = match sys {
                    Sys::Sendmsg => {
                        a.flags = flags::msg(args[2]);
                        decode::msghdr(tid, args[1]).map_or((Vec::new(), None), |m| (m.iov, Some((m.name, m.name_len))))
                    }
                    _ => (decode::iovecs(tid, args[1], args[2]), None),
                };
                let len = sum_len(&iov);
                a.len = Some(len as usize);
                a.data = decode::preview_iov(tid, &iov, len);
                a.addr = name.filter(|(p, _)| *p != 0).and_then(|(p, n)| decode::sockaddr_at(tid, p, n));
            }
            Sys::Sendmmsg => {
                // The first message shows; the count of messages is the call's result.
                a.flags = flags::msg(args[3]);
                if let Some(first) = decode::msghdr(tid, args[1]) {
                    let len = sum_len(&first.iov);
                    a.len = Some(len as usize);
                    a.data = decode::preview_iov(tid, &first.iov, len);
                    a.addr = (first.name != 0).then(|| decode::sockaddr_at(tid, first.name, first.name_len)).flatten();
                }
            }
            Sys::Recvfrom | Sys::Read => {
                a.len = Some(args[2] as usize);
                if sys == Sys::Recvfrom {
                    a.flags = flags::msg(args[3]);
                }
            }
            Sys::Recvmsg | Sys::Readv => {
                let iov = match sys {
                    Sys::Recvmsg => {
                        a.flags = flags::msg(args[2]);
                        decode::msghdr(tid, args[1]).map(|m: MsgHdr| m.iov).unwrap_or_default()
                    }
                    _ => decode::iovecs(tid, args[1], args[2]),
                };
                a.len = Some(sum_len(&iov) as usize);
            }
            Sys::Recvmmsg => {
                a.flags = flags::msg(args[3]);
                a.len = decode::msghdr(tid, args[1]).map(|m| sum_len(&m.iov) as usize);
            }
            _ => return None,
        }
        let to = start.args.addr;
        let mut namer = lock(&self.namer);
        namer.hint(key, Hints::ACTED);
        if datagram && !namer.is_named(key) {
            // A datagram socket's first move tells its part: the one that sends first is the
            // client; the one that waits on the address it bound is the server.
            let bound = self.sockets.get(key).is_some_and(|s| s.bound.is_some());
            if sends {
                namer.reveal(key, Role::Client);
            } else if bound {
                namer.reveal(key, Role::Server);
            }
        }
        drop(namer);
        // A datagram sent to a new address: the packet lens follows its port before it leaves.
        if let Some(to) = to {
            self.watch(to.port());
        }
        Some(start)
    }

    /// What a call that moved bytes returned: the bytes received, and for a datagram the
    /// address it came from (returned as the peer).
    pub(super) fn io_exit(&mut self, tid: i32, sys: Sys, args: &[u64; 6], rval: i64, end: &mut CallEnd) -> Option<SocketAddr> {
        match sys {
            Sys::Recvfrom | Sys::Read if rval > 0 => {
                end.data = decode::preview(tid, args[1], rval as u64);
                (sys == Sys::Recvfrom).then(|| decode::returned_sockaddr(tid, args[4], args[5])).flatten()
            }
            Sys::Recvmsg | Sys::Readv if rval >= 0 => {
                let msg = (sys == Sys::Recvmsg).then(|| decode::msghdr(tid, args[1])).flatten();
                let iov = match &msg {
                    Some(m) => m.iov.clone(),
                    None => decode::iovecs(tid, args[1], args[2]),
                };
                if rval > 0 {
                    end.data = decode::preview_iov(tid, &iov, rval as u64);
                }
                msg.filter(|m| m.name != 0).and_then(|m| decode::returned_msg_name(tid, args[1], m.name))
            }
            Sys::Recvmmsg if rval > 0 => {
                // The first message: its length is in its `mmsghdr`, after the `msghdr`.
                let first = decode::msghdr(tid, args[1])?;
                let got = super::memory::read_u32(tid, args[1] + MMSGHDR_LEN - 8).ok()?;
                end.data = decode::preview_iov(tid, &first.iov, u64::from(got));
                (first.name != 0).then(|| decode::returned_msg_name(tid, args[1], first.name)).flatten()
            }
            _ => None,
        }
    }
}
