//! Which descriptors of each traced process are sockets we follow, and how many descriptors
//! refer to each socket.
//!
//! A socket is the kernel's object; a descriptor is a process's number for it. `dup` gives a
//! socket another number, `fork` gives the child a copy of every number, threads share one
//! table. The kernel closes the connection only when the last descriptor is gone, so each
//! socket counts its descriptors across all tables.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::hash::FastMap;

/// A followed socket, for the whole session (keys are never reused).
pub type SockKey = usize;

/// What the lens knows about one socket.
#[derive(Debug)]
pub struct Socket {
    /// Descriptors that refer to it, in every table.
    pub refs: u32,
    /// Its own address once bound (learned at `bind`, or at `listen` for an unbound one).
    pub bound: Option<SocketAddr>,
    /// A datagram (UDP) socket, else a stream (TCP) one.
    pub datagram: bool,
}

/// One process's descriptor numbers for followed sockets; every other number is not one.
/// Also the followed sockets each of its epoll instances watches, by the number the program
/// asked `epoll_ctl` to hand back (`epoll_wait` answers with that number, not the
/// descriptor).
#[derive(Debug, Default, Clone)]
pub struct FdTable {
    fds: FastMap<i32, SockKey>,
    epolls: FastMap<i32, FastMap<u64, (i32, SockKey)>>,
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Option<SockKey> {
        self.fds.get(&fd).copied()
    }

    pub fn fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.fds.keys().copied()
    }

    /// `epoll_ctl(epfd, ADD or MOD, fd)` of a followed socket, with the number to hand back.
    pub fn watch(&mut self, epfd: i32, data: u64, fd: i32, key: SockKey) {
        let set = self.epolls.entry(epfd).or_default();
        set.retain(|_, (f, _)| *f != fd);
        set.insert(data, (fd, key));
    }

    /// `epoll_ctl(epfd, DEL, fd)`, or the socket's descriptor closed.
    pub fn unwatch(&mut self, epfd: Option<i32>, fd: i32) {
        for (_, set) in self.epolls.iter_mut().filter(|(e, _)| epfd.is_none_or(|x| x == **e)) {
            set.retain(|_, (f, _)| *f != fd);
        }
    }

    /// Whether epoll instance `epfd` watches a followed socket.
    pub fn watches(&self, epfd: i32) -> bool {
        self.epolls.get(&epfd).is_some_and(|s| !s.is_empty())
    }

    /// The followed socket behind the number `epoll_wait` handed back, if any.
    pub fn ready(&self, epfd: i32, data: u64) -> Option<(i32, SockKey)> {
        self.epolls.get(&epfd)?.get(&data).copied()
    }
}

/// A table shared by the tasks that use it (threads, and `clone(CLONE_FILES)`).
pub type SharedTable = Rc<RefCell<FdTable>>;

#[derive(Debug, Default)]
pub struct Sockets {
    all: Vec<Socket>,
}

impl Sockets {
    pub fn create(&mut self, datagram: bool) -> SockKey {
        self.all.push(Socket { refs: 0, bound: None, datagram });
        self.all.len() - 1
    }

    pub fn get(&self, key: SockKey) -> Option<&Socket> {
        self.all.get(key)
    }

    pub fn get_mut(&mut self, key: SockKey) -> Option<&mut Socket> {
        self.all.get_mut(key)
    }

    /// Gives `key` the number `fd` in `table`. A socket that had that number loses it; if it
    /// was its last descriptor, it is returned as released.
    pub fn attach(&mut self, table: &mut FdTable, fd: i32, key: SockKey) -> Option<SockKey> {
        if let Some(s) = self.all.get_mut(key) {
            s.refs += 1;
        }
        let old = table.fds.insert(fd, key)?;
        self.unref(old)
    }

    /// Removes the number `fd` from `table`; returns the socket if that was its last
    /// descriptor.
    pub fn detach(&mut self, table: &mut FdTable, fd: i32) -> Option<SockKey> {
        let key = table.fds.remove(&fd)?;
        // Linux drops an epoll registration when the file's last descriptor goes; a
        // duplicate keeps it, but the program can no longer name it by this number.
        table.unwatch(None, fd);
        self.unref(key)
    }

    fn unref(&mut self, key: SockKey) -> Option<SockKey> {
        let s = self.all.get_mut(key)?;
        s.refs = s.refs.saturating_sub(1);
        (s.refs == 0).then_some(key)
    }

    /// A copy of `table` for a new process (`fork`): each socket gains a descriptor.
    pub fn copy(&mut self, table: &FdTable) -> FdTable {
        for &key in table.fds.values() {
            if let Some(s) = self.all.get_mut(key) {
                s.refs += 1;
            }
        }
        table.clone()
    }

    /// Drops a table no task uses any more (its process exited): returns the sockets whose
    /// last descriptor it held.
    pub fn drop_table(&mut self, table: &mut FdTable) -> Vec<SockKey> {
        let mut fds: Vec<i32> = table.fds().collect();
        fds.sort_unstable();
        fds.into_iter().filter_map(|fd| self.detach(table, fd)).collect()
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn dup_and_fork__the_socket_is_released_with_its_last_descriptor() {
        let mut sockets = Sockets::default();
        let mut parent = FdTable::default();
        let s = sockets.create(false);
        assert_eq!(sockets.attach(&mut parent, 3, s), None);
        assert_eq!(sockets.attach(&mut parent, 4, s), None, "dup");
        let mut child = sockets.copy(&parent);
        assert_eq!(sockets.get(s).map(|s| s.refs), Some(4));
        assert_eq!(sockets.detach(&mut parent, 3), None);
        assert_eq!(sockets.detach(&mut parent, 4), None, "the child still holds it");
        assert_eq!(sockets.drop_table(&mut child), vec![s]);
    }

    #[test]
    fn dup2_over_a_socket__releases_the_one_it_replaced() {
        let mut sockets = Sockets::default();
        let mut table = FdTable::default();
        let (a, b) = (sockets.create(false), sockets.create(false));
        sockets.attach(&mut table, 3, a);
        sockets.attach(&mut table, 4, b);
        assert_eq!(sockets.attach(&mut table, 4, a), Some(b));
        assert_eq!(table.get(4), Some(a));
    }
}
