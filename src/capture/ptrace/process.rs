//! The processes on the timeline: a new process (it holds a copy of every descriptor, so the
//! sockets it inherits are named), a new program (`execve` keeps the descriptors not marked
//! close-on-exec), an end (the kernel closes what the process still held; a socket whose last
//! descriptor goes then is closed by the exit, not by a call), and a mechanism the calls lens
//! cannot see. Threads share their process's descriptors and make no event of their own:
//! each call carries its thread's id.

use super::fds::SockKey;
use super::names::Slot;
use super::open_call::event;
use super::tracer::{lock, Tracer};
use crate::capture::clock;
use crate::event::{Body, Exit, ProcessChange};

impl Tracer {
    /// Process `parent` (its thread `tid`) made process `child`, whose descriptor table holds
    /// `sockets` (in descriptor order).
    pub(super) fn forked(&mut self, tid: i32, parent: i32, child: i32, call: &str, sockets: Vec<SockKey>) {
        let t = clock::now_ns();
        let mut namer = lock(&self.namer);
        namer.born(child as u32, parent as u32);
        let refs = sockets.into_iter().map(|k| (Slot::Forked, k)).collect();
        let change = ProcessChange::Fork { child: child as u32, call: call.to_string(), sockets: Vec::new() };
        namer.process(child as u32, refs, event(t, tid, parent, Body::Process(change)));
    }

    /// Process `pid` runs `program` now, with `kept` still open and `closed` gone.
    pub(super) fn execed(&mut self, pid: i32, program: String, kept: Vec<SockKey>, closed: Vec<SockKey>) {
        let t = clock::now_ns();
        let refs = kept.into_iter().map(|k| (Slot::ExecKept, k)).chain(closed.into_iter().map(|k| (Slot::ExecClosed, k))).collect();
        let change = ProcessChange::Exec { program, kept: Vec::new(), closed: Vec::new() };
        lock(&self.namer).process(pid as u32, refs, event(t, pid, pid, Body::Process(change)));
    }

    /// Process `pid` ended with `exit`; `closed` lost their last descriptor with it.
    pub(super) fn ended(&mut self, pid: i32, exit: Exit, closed: Vec<SockKey>) {
        let t = clock::now_ns();
        let refs = closed.into_iter().map(|k| (Slot::ExitClosed, k)).collect();
        let change = ProcessChange::Exit { exit, closed: Vec::new() };
        lock(&self.namer).process(pid as u32, refs, event(t, pid, pid, Body::Process(change)));
    }

    /// Process `pid` set up `mechanism`, whose socket I/O makes no system call to follow:
    /// said once per process, on the timeline and at the trace's end.
    pub(super) fn untraced(&mut self, tid: i32, pid: i32, t: u64, mechanism: &str) {
        if !self.untraced.insert((pid, mechanism.to_string())) {
            return;
        }
        let change = ProcessChange::Untraced { mechanism: mechanism.to_string() };
        lock(&self.namer).emit_about(None, Vec::new(), event(t, tid, pid, Body::Process(change)));
    }
}
