//! Merges events from several lenses into time order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::event::Event;

/// An event waiting in the buffer; ordered so that the heap's top is the oldest.
struct Pending {
    t: u64,
    arrival: u64,
    event: Event,
}

impl Ord for Pending {
    fn cmp(&self, other: &Pending) -> Ordering {
        (other.t, other.arrival).cmp(&(self.t, self.arrival))
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Pending) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Pending) -> bool {
        (self.t, self.arrival) == (other.t, other.arrival)
    }
}

impl Eq for Pending {}

/// A reorder buffer: events go in as they arrive, come out in order of their time stamp.
/// Events with the same time stamp keep their arrival order, so the result is deterministic
/// for a given input.
#[derive(Default)]
pub struct Merger {
    heap: BinaryHeap<Pending>,
    arrivals: u64,
}

impl Merger {
    pub fn push(&mut self, events: Vec<Event>) {
        for event in events {
            self.heap.push(Pending { t: event.t, arrival: self.arrivals, event });
            self.arrivals += 1;
        }
    }

    /// Moves every event stamped at or before `watermark` to `out`, oldest first.
    pub fn release(&mut self, watermark: u64, out: &mut Vec<Event>) {
        while self.heap.peek().is_some_and(|p| p.t <= watermark) {
            if let Some(p) = self.heap.pop() {
                out.push(p.event);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, Body, CallArgs, CallName, CallStart, Origin, Role};

    fn at(t: u64, id: u64) -> Event {
        Event {
            t,
            actor: Actor::role(Role::Client),
            socket: None,
            origin: Origin::Observed,
            body: Body::CallStart(CallStart { id, call: CallName::Send, fd: None, args: CallArgs::default() }),
        }
    }

    #[test]
    fn late_lens_events_are_put_back_in_time_order() {
        let mut m = Merger::default();
        m.push(vec![at(30, 1), at(10, 2)]);
        m.push(vec![at(20, 3), at(10, 4)]);
        let mut out = Vec::new();
        m.release(25, &mut out);
        let order: Vec<_> = out.iter().map(|e| (e.t, match &e.body { Body::CallStart(c) => c.id, _ => 0 })).collect();
        assert_eq!(order, vec![(10, 2), (10, 4), (20, 3)]);
        out.clear();
        m.release(u64::MAX, &mut out);
        assert_eq!(out.len(), 1);
        assert!(m.is_empty());
    }
}
