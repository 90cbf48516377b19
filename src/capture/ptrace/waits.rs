//! The readiness calls on followed sockets: `poll`, `ppoll`, `select`, `pselect6` (the
//! sockets are in the call's own arguments), `epoll_ctl` (a socket joins or leaves an epoll
//! instance) and `epoll_wait` and its relatives (the instance answers with the numbers the
//! program registered). A call that watches no followed socket is not shown.
//!
//! A call about one socket is written on that socket; a call about several is the
//! process's, and names each socket it watches and each it found ready.

use super::fds::{FdTable, SockKey};
use super::flags;
use super::names::Slot;
use super::open_call::Start;
use super::ready;
use super::syscalls::Sys;
use super::tracer::Tracer;
use crate::event::{CallEnd, Watched};

/// `select`'s three sets, in argument order, and what each waits for.
const SELECT_SETS: [(usize, &str); 3] = [(1, "read"), (2, "write"), (3, "except")];

fn entry(fd: i32, events: String) -> Watched {
    Watched { fd, socket: None, events }
}

/// The followed sockets among `(fd, events)`, each once, with all its events.
fn followed(table: &FdTable, entries: impl Iterator<Item = (i32, String)>) -> Vec<(i32, SockKey, String)> {
    let mut found: Vec<(i32, SockKey, String)> = Vec::new();
    for (fd, events) in entries {
        let Some(key) = table.get(fd) else { continue };
        match found.iter_mut().find(|(f, _, _)| *f == fd) {
            Some((_, _, all)) => {
                all.push('|');
                all.push_str(&events);
            }
            None => found.push((fd, key, events)),
        }
    }
    found
}

impl Tracer {
    pub(super) fn wait_entry(&mut self, tid: i32, sys: Sys, args: &[u64; 6], table: &FdTable) -> Option<Start> {
        let name = sys.call()?;
        let (sockets, timeout, epoll) = match sys {
            Sys::Poll | Sys::Ppoll => {
                let fds = ready::read_pollfds(tid, args[0], args[1]);
                let timeout = match sys {
                    Sys::Poll => ready::ms_timeout(args[2]),
                    _ => ready::read_timeout(tid, args[2], 1_000_000),
                };
                (followed(table, fds.iter().map(|p| (p.fd, flags::poll_events(p.events)))), timeout, None)
            }
            Sys::Select | Sys::Pselect6 => {
                let nfds = args[0];
                let entries =
                    SELECT_SETS.iter().flat_map(|&(arg, what)| ready::read_fd_set(tid, args[arg], nfds).into_iter().map(move |fd| (fd, what.to_string())));
                let timeout = match sys {
                    Sys::Select => ready::read_timeout(tid, args[4], 1_000),
                    _ => ready::read_timeout(tid, args[4], 1_000_000),
                };
                (followed(table, entries), timeout, None)
            }
            _ => {
                let epfd = args[0] as i32;
                if !table.watches(epfd) {
                    return None;
                }
                let timeout = match sys {
                    Sys::EpollPwait2 => ready::read_timeout(tid, args[3], 1_000_000),
                    _ => ready::ms_timeout(args[3]),
                };
                (Vec::new(), timeout, Some(epfd))
            }
        };
        if sockets.is_empty() && epoll.is_none() {
            return None;
        }
        // One socket: the call is that socket's; several (or an epoll instance): the process's.
        let own = match sockets.as_slice() {
            [(fd, key, _)] => Some((*fd, *key)),
            _ => None,
        };
        let mut start = Start::on(name, own.map(|(_, k)| k), own.map_or(-1, |(fd, _)| fd));
        start.fd = own.map(|(fd, _)| fd);
        start.args.timeout_ms = timeout;
        start.args.epoll = epoll;
        for (i, (fd, key, events)) in sockets.into_iter().enumerate() {
            start.args.watch.push(entry(fd, events));
            start.refs.push((Slot::Watch(i), key));
            start.watched.push((fd, key));
        }
        Some(start)
    }

    /// `epoll_ctl(epfd, op, fd, event)` on a followed socket.
    pub(super) fn epoll_ctl_entry(&mut self, tid: i32, args: &[u64; 6], key: Option<SockKey>) -> Start {
        let fd = args[2] as i32;
        let op = args[1] as i32;
        let event = (op != libc::EPOLL_CTL_DEL).then(|| ready::read_epoll_event(tid, args[3])).flatten();
        let mut start = Start::on(crate::event::CallName::EpollCtl, key, fd);
        start.args.epoll = Some(args[0] as i32);
        start.args.flags = Some(flags::epoll_ctl(op, event.map(|(events, _)| events)));
        start
    }

    /// The registration takes effect: the instance now watches the socket (or no longer).
    pub(super) fn epoll_ctl_exit(&mut self, tid: i32, args: &[u64; 6], key: Option<SockKey>, table: &mut FdTable) {
        let (epfd, op, fd) = (args[0] as i32, args[1] as i32, args[2] as i32);
        match (op, key) {
            (libc::EPOLL_CTL_DEL, _) => table.unwatch(Some(epfd), fd),
            (_, Some(key)) => {
                if let Some((_, data)) = ready::read_epoll_event(tid, args[3]) {
                    table.watch(epfd, data, fd, key);
                }
            }
            _ => {}
        }
    }
}

/// Which followed sockets the call found ready: filled into `end.ready`, with the slots
/// for their names.
pub(super) fn wait_exit(
    tid: i32,
    sys: Sys,
    args: &[u64; 6],
    rval: i64,
    watched: &[(i32, SockKey)],
    table: &FdTable,
    end: &mut CallEnd,
) -> Vec<(Slot, SockKey)> {
    let mut found: Vec<(i32, SockKey, String)> = Vec::new();
    match sys {
        Sys::Poll | Sys::Ppoll => {
            for p in ready::read_pollfds(tid, args[0], args[1]) {
                if let (Some(&(fd, key)), true) = (watched.iter().find(|(f, _)| *f == p.fd), p.revents != 0) {
                    found.push((fd, key, flags::poll_events(p.revents)));
                }
            }
        }
        Sys::Select | Sys::Pselect6 => {
            let entries =
                SELECT_SETS.iter().flat_map(|&(arg, what)| ready::read_fd_set(tid, args[arg], args[0]).into_iter().map(move |fd| (fd, what.to_string())));
            found = followed(table, entries.filter(|(fd, _)| watched.iter().any(|(f, _)| f == fd)));
        }
        _ => {
            let epfd = args[0] as i32;
            for (events, data) in ready::read_epoll_events(tid, args[1], rval as u64) {
                if let Some((fd, key)) = table.ready(epfd, data) {
                    found.push((fd, key, flags::epoll_events(events)));
                }
            }
        }
    }
    found
        .into_iter()
        .enumerate()
        .map(|(i, (fd, key, events))| {
            end.ready.push(entry(fd, events));
            (Slot::Ready(i), key)
        })
        .collect()
}
