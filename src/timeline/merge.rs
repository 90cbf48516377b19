//! Merges events from several lenses into time order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::event::Event;

/// A reorder buffer: events go in as they arrive, come out in order of their time stamp.
/// Events with the same time stamp keep their arrival order, so the result is deterministic
/// for a given input.
///
/// The heap orders small keys, not the events: an event is a few hundred bytes, and a heap
/// moves its items at every step. The events wait in slots, reused as they leave.
#[derive(Default)]
pub struct Merger {
    /// (time, arrival, slot), smallest first.
    heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
    slots: Vec<Option<Event>>,
    free: Vec<usize>,
    arrivals: u64,
}

impl Merger {
    /// Takes events in the order a lens delivered them.
    pub fn push(&mut self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            self.push_one(event);
        }
    }

    /// Takes one event.
    pub fn push_one(&mut self, event: Event) {
        let t = event.t;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse((t, self.arrivals, slot)));
        self.arrivals += 1;
    }

    /// Moves every event stamped at or before `watermark` to `out`, oldest first.
    pub fn release(&mut self, watermark: u64, out: &mut Vec<Event>) {
        while let Some(event) = self.pop(watermark) {
            out.push(event);
        }
    }

    /// The oldest event, if it is stamped at or before `watermark`.
    pub fn pop(&mut self, watermark: u64) -> Option<Event> {
        if self.heap.peek().is_none_or(|Reverse((t, _, _))| *t > watermark) {
            return None;
        }
        let Reverse((_, _, slot)) = self.heap.pop()?;
        self.free.push(slot);
        self.slots[slot].take()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, Body, CallName, CallStart, Origin, Role};

    fn at(t: u64, id: u64) -> Event {
        Event {
            t,
            actor: Actor::role(Role::Client),
            socket: None,
            origin: Origin::Observed,
            body: Body::CallStart(CallStart { id, call: CallName::Send, fd: None, args: Box::default() }),
        }
    }

    #[test]
    fn late_lens_events_are_put_back_in_time_order() {
        let mut m = Merger::default();
        m.push(vec![at(30, 1), at(10, 2)]);
        m.push(vec![at(20, 3), at(10, 4)]);
        let mut out = Vec::new();
        m.release(25, &mut out);
        let order: Vec<_> = out
            .iter()
            .map(|e| {
                (
                    e.t,
                    match &e.body {
                        Body::CallStart(c) => c.id,
                        _ => 0,
                    },
                )
            })
            .collect();
        assert_eq!(order, vec![(10, 2), (10, 4), (20, 3)]);
        out.clear();
        m.release(u64::MAX, &mut out);
        assert_eq!(out.len(), 1);
        assert!(m.is_empty());
    }
}
