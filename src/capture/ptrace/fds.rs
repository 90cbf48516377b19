//! Which descriptors of each traced process are sockets we follow, and how many descriptors
//! refer to each socket.
//!
//! A socket is the kernel's object; a descriptor is a process's number for it. `dup` gives a
//! socket another number, `fork` gives the child a copy of every number, threads share one
//! table. The kernel closes the connection only when the last descriptor is gone, so each
//! socket counts its descriptors across all tables.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

/// A followed socket, for the whole session (keys are never reused).
pub type SockKey = usize;

/// What the lens knows about one socket.
#[derive(Debug)]
pub struct Socket {
    /// Descriptors that refer to it, in every table.
    pub refs: u32,
    /// Its own address once bound (learned at `bind`, or at `listen` for an unbound one).
    pub bound: Option<SocketAddr>,
}

/// One process's descriptor numbers for followed sockets; every other number is not one.
#[derive(Debug, Default)]
pub struct FdTable {
    fds: HashMap<i32, SockKey>,
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Option<SockKey> {
        self.fds.get(&fd).copied()
    }

    pub fn fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.fds.keys().copied()
    }
}

/// A table shared by the tasks that use it (threads, and `clone(CLONE_FILES)`).
pub type SharedTable = Rc<RefCell<FdTable>>;

#[derive(Debug, Default)]
pub struct Sockets {
    all: Vec<Socket>,
}

impl Sockets {
    pub fn create(&mut self) -> SockKey {
        self.all.push(Socket { refs: 0, bound: None });
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
        FdTable { fds: table.fds.clone() }
    }

    /// Drops a table no task uses any more (its process exited): returns the sockets whose
    /// last descriptor it held.
    pub fn drop_table(&mut self, table: &mut FdTable) -> Vec<SockKey> {
        let fds: Vec<i32> = table.fds().collect();
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
        let s = sockets.create();
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
        let (a, b) = (sockets.create(), sockets.create());
        sockets.attach(&mut table, 3, a);
        sockets.attach(&mut table, 4, b);
        assert_eq!(sockets.attach(&mut table, 4, a), Some(b));
        assert_eq!(table.get(4), Some(a));
    }
}
