//! Items in the order first seen, each once: the clients in the order they first act, each
//! process's sockets in the order it first used them.

use std::hash::Hash;

use crate::hash::FastSet;

pub(crate) struct FirstSeen<T> {
    pub(crate) list: Vec<T>,
    seen: FastSet<T>,
}

impl<T> Default for FirstSeen<T> {
    fn default() -> FirstSeen<T> {
        FirstSeen { list: Vec::new(), seen: FastSet::default() }
    }
}

impl<T: Copy + Eq + Hash> FirstSeen<T> {
    pub(crate) fn push(&mut self, item: T) {
        // A socket's events come together: the last item pushed is most often pushed again,
        // and is at hand, where the set's copy of it may lie anywhere in memory.
        if self.list.last() == Some(&item) {
            return;
        }
        if self.seen.insert(item) {
            self.list.push(item);
        }
    }
}
