//! A followed call while the tracer holds it: what its entry decided, and what waits for
//! its exit. Below the tracer and every file that adds to it (`calls.rs`, `io.rs`, `waits.rs`,
//! `process.rs`, `restart.rs`), which all speak of calls in these terms.

use super::fds::SockKey;
use super::names::Slot;
use super::syscalls::Sys;
use crate::event::{Actor, Body, CallArgs, CallName, Event, Origin, Role};

/// A followed call between its entry and its exit.
pub(super) struct OpenCall {
    pub sys: Sys,
    pub args: [u64; 6],
    /// The call's name and id; `None` for a call that shows no event of its own
    /// (`close_range`).
    pub call: Option<(CallName, u64)>,
    pub key: Option<SockKey>,
    /// `socket()`'s start, sent at its exit with the socket it made (unknown before).
    pub socket_start: Option<Event>,
    /// The followed sockets a readiness call watches, by descriptor.
    pub watched: Vec<(i32, SockKey)>,
    /// A signal interrupted the call and the kernel restarted it.
    pub restarted: bool,
    /// A `close`'s socket, if its descriptor was the socket's last: Linux frees the number as
    /// `close` begins (another thread's `accept` may be given it before `close` returns), so
    /// the table lets go of it at the entry, and the socket is settled after the call's end.
    pub released: Option<SockKey>,
}

impl OpenCall {
    pub(super) fn new(sys: Sys, args: [u64; 6], call: Option<(CallName, u64)>, key: Option<SockKey>) -> OpenCall {
        OpenCall { sys, args, call, key, socket_start: None, watched: Vec::new(), restarted: false, released: None }
    }
}

/// A call's event, its actor's role left for the namer to fill in from the socket.
pub(super) fn event(t: u64, tid: i32, pid: i32, body: Body) -> Event {
    Event { t, actor: Actor { role: Role::Unknown, peer: None, pid: Some(pid as u32), tid: Some(tid as u32) }, socket: None, origin: Origin::Observed, body }
}

/// What an entry decided: the call's start, on which socket, naming which others.
pub(super) struct Start {
    pub call: CallName,
    pub key: Option<SockKey>,
    pub fd: Option<i32>,
    pub args: CallArgs,
    pub refs: Vec<(Slot, SockKey)>,
    pub watched: Vec<(i32, SockKey)>,
}

impl Start {
    pub fn on(call: CallName, key: Option<SockKey>, fd: i32) -> Start {
        Start { call, key, fd: Some(fd), args: CallArgs::default(), refs: Vec::new(), watched: Vec::new() }
    }
}
