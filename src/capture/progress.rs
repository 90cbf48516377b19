//! How far a lens has delivered. A lens marks time `t` once every event it will ever deliver
//! that is stamped before `t` has been delivered; the timeline releases events only up to the
//! slowest lens's mark, so that a lens running late never puts the timeline out of order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How often an idle lens wakes to move its mark on, so the timeline need not wait for it.
/// A finished session waits for the marks to pass its end before it stops the lenses, so
/// this is also most of that wait; a wake-up costs a few microseconds.
pub const TICK: std::time::Duration = std::time::Duration::from_millis(4);

#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    /// Everything stamped before `t` has been delivered (marks never move back).
    pub fn mark(&self, t: u64) {
        self.0.fetch_max(t, Ordering::AcqRel);
    }

    /// The lens will deliver nothing more.
    pub fn finish(&self) {
        self.mark(u64::MAX);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}
