//! A table keyed by call id, for the passes that look every call of a trace up by its id.
//!
//! A hash table puts consecutive ids anywhere in its memory: with the half a million calls of a
//! trace of a million events, more than the processor's caches hold, each look-up waited for
//! memory. A recorder hands ids out in order, so the table keeps them in pages of consecutive
//! ids, in the order first met: the calls of one stretch of the trace lie together, and the
//! hash table that finds a page is a small fraction of the size. Any id still works; one far
//! from every other costs a page of its own.

use crate::hash::FastMap;

/// Ids per page.
const PAGE: u64 = 16;

pub(crate) struct ByCallId<V> {
    /// Each page's place in `slots`, by the page's number (`id / PAGE`).
    pages: FastMap<u64, u32>,
    slots: Vec<[Option<V>; PAGE as usize]>,
}

impl<V> Default for ByCallId<V> {
    fn default() -> ByCallId<V> {
        ByCallId { pages: FastMap::default(), slots: Vec::new() }
    }
}

impl<V: Copy> ByCallId<V> {
    pub(crate) fn get(&self, id: u64) -> Option<V> {
        let page = *self.pages.get(&(id / PAGE))?;
        self.slots[page as usize][(id % PAGE) as usize]
    }

    /// The entry of `id`, made empty on first sight.
    pub(crate) fn entry(&mut self, id: u64) -> &mut Option<V> {
        let next = self.slots.len();
        let page = *self.pages.entry(id / PAGE).or_insert_with(|| u32::try_from(next).expect("fewer than 2^32 pages"));
        if page as usize == next {
            self.slots.push([None; PAGE as usize]);
        }
        &mut self.slots[page as usize][(id % PAGE) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_id_is_kept_apart_from_the_others() {
        let mut table = ByCallId::default();
        let ids = [0, 1, 15, 16, 17, 1_000_000, u64::MAX, u64::MAX - 1, 31];
        for (n, &id) in ids.iter().enumerate() {
            *table.entry(id) = Some(n);
        }
        for (n, &id) in ids.iter().enumerate() {
            assert_eq!(table.get(id), Some(n), "id {id}");
        }
        assert_eq!(table.get(2), None);
        assert_eq!(table.get(1_000_001), None);
        assert_eq!(*table.entry(3), None, "a new id of a page already made is empty");
    }
}
