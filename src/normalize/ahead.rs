//! Fetching from memory ahead of use. A trace of a million events is hundreds of megabytes,
//! far more than the processor's caches hold, and the snapshot reads it in pieces the
//! processor cannot foresee: a block's events ([`super::order`]), with the text each call sent
//! (an allocation of its own). Read one by one, each waited for memory in turn, and a trace of
//! 10^6 events cost a third more time per event than one of 10^5. Read a little of each of
//! the next block's events at once, the processor fetches them side by side while the work on
//! this block goes on. (Where a view reads the events in order, the processor foresees it.)

use crate::event::{Body, Event, Preview};

/// Reads what `touch` reads of each of `items`, all at once.
pub(crate) fn fetch<'a, T: 'a>(items: impl IntoIterator<Item = &'a T>, touch: impl Fn(&T) -> u64) {
    let seen = items.into_iter().fold(0u64, |seen, item| seen.wrapping_add(touch(item)));
    // Kept, so that the reads are made.
    std::hint::black_box(seen);
}

/// What the views read first of an event: its own fields, its body's, and the text it carries.
pub(crate) fn event(event: &Event) -> u64 {
    let body = match &event.body {
        Body::CallStart(start) => start.id ^ text(start.args.data.as_ref()),
        Body::CallEnd(end) => end.ret as u64 ^ text(end.data.as_ref()),
        Body::Packet(packet) => u64::from(packet.len) ^ packet.tcp.as_ref().map_or(0, |tcp| u64::from(tcp.seq)) ^ text(packet.payload.as_ref()),
        Body::State(change) => change.to as u64,
        Body::Kernel(_) | Body::Process(_) => 0,
    };
    event.t ^ body
}

/// The first byte of a text, which lies apart from its event.
fn text(preview: Option<&Preview>) -> u64 {
    preview.and_then(|p| p.text.bytes().next()).map_or(0, u64::from)
}
