//! A fast hash for the tables every event passes through: the tracer's (per system call
//! stop), the live timeline's and its ladder's, the check's index and the capture importer's
//! (per event or packet).
//!
//! The keys are short names, call ids, descriptors, thread ids and addresses, hashed once or
//! twice per event: SipHash, which defends a table against keys chosen by an attacker, costs
//! more than the rest of the work there, so the tables use rustc's FxHash (the `rustc-hash`
//! crate). A trace's names are bounded by its events, and a hostile trace can only make its
//! own reading slower, as any large trace does.

/// A hash map with FxHash.
pub(crate) type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// A hash set with FxHash.
pub(crate) type FastSet<K> = rustc_hash::FxHashSet<K>;
