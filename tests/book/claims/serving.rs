//! The claims of "Three ways to serve many clients" (`lessons/serving-many.md`): the same
//! passive open served by a process per client, a thread per client and one event loop.

use std::collections::{BTreeMap, BTreeSet};

use socktrace::event::{Body, CallName, ProcessChange, Role, SockId, Verb};
use socktrace::query::Query;
use socktrace::sequence;
use socktrace::tcp::flags::TcpFlags;
use socktrace::trace::Trace;

use super::{deviations, packets, sock, tcp, ticked_at_the_end, Claim};
use crate::support::story::Story;

const FORK: &[&str] = &["serve-fork.jsonl"];
const THREADS: &[&str] = &["serve-threads.jsonl"];
const EPOLL: &[&str] = &["serve-epoll.jsonl"];
const ALL: &[&str] = &["serve-fork.jsonl", "serve-threads.jsonl", "serve-epoll.jsonl"];

pub const CLAIMS: &[Claim] = &[
    Claim { id: "serve-same-passive-open", fixtures: ALL, check: same_passive_open },
    Claim { id: "serve-both-open", fixtures: ALL, check: both_open },
    Claim { id: "serve-check-conforms", fixtures: ALL, check: check_conforms },
    Claim { id: "serve-fork-children", fixtures: FORK, check: fork_children },
    Claim { id: "serve-fork-last-close", fixtures: FORK, check: fork_last_close },
    Claim { id: "serve-fork-waits", fixtures: FORK, check: fork_waits },
    Claim { id: "serve-threads-one-process", fixtures: THREADS, check: threads_one_process },
    Claim { id: "serve-threads-waits", fixtures: THREADS, check: threads_waits },
    Claim { id: "serve-epoll-one-thread", fixtures: EPOLL, check: epoll_one_thread },
    Claim { id: "serve-epoll-ready-first", fixtures: EPOLL, check: epoll_ready_first },
    Claim { id: "serve-epoll-waits", fixtures: EPOLL, check: epoll_waits },
];

/// The sockets accept returned, in order.
fn accepted(t: &Trace) -> Vec<String> {
    Story::new(&t.events).created(Role::Server, CallName::Accept).into_iter().map(|s| s.0.to_string()).collect()
}

fn same_passive_open(t: &[Trace]) {
    let all: Vec<&str> = sequence::PASSIVE_OPEN.steps.iter().map(|s| s.id).collect();
    for t in t {
        let calls: Vec<Verb> = t.events.calls_of("s1").map(|(_, _, s)| s.call.verb()).filter(|v| matches!(v, Verb::Bind | Verb::Listen)).collect();
        assert_eq!(calls, [Verb::Bind, Verb::Listen], "{}: s1 binds, then listens", t.header.command);
        assert_eq!(accepted(t), ["s2", "s3"], "{}: two accepts", t.header.command);
        assert_eq!(ticked_at_the_end(t, 0), all, "{}: every step of the passive open", t.header.command);
    }
}

fn both_open(t: &[Trace]) {
    for t in t {
        let story = Story::new(&t.events);
        let second = story.accept_returning(&SockId("s3".into()));
        let first_fin = packets(t).into_iter().find(|(_, _, p)| tcp(p).flags.contains(TcpFlags::FIN)).expect("a FIN").0;
        assert!(second < first_fin, "{}: the second connection is accepted before either ends", t.header.command);
    }
}

fn check_conforms(t: &[Trace]) {
    for t in t {
        assert_eq!(deviations(t), Vec::<(String, &str)>::new(), "{}", t.header.command);
        let report = socktrace::check::check(t, &socktrace::check::CheckOptions::default());
        assert_eq!(report.sockets.len(), 5, "{}: a listening socket, two accepted, two clients", t.header.command);
    }
}

/// The process and thread of each server call, by socket: `(pid, tid)` sets.
fn callers(t: &Trace, socket: &str, verb: Verb) -> BTreeSet<(u32, u32)> {
    t.events
        .calls_of(socket)
        .filter(|(_, e, s)| s.call.verb() == verb && e.actor.role == Role::Server)
        .map(|(_, e, _)| (e.actor.pid.expect("a pid"), e.actor.tid.expect("a tid")))
        .collect()
}

/// The process that made `s1`: the server's first process.
fn server_pid(t: &Trace) -> u32 {
    let made = t.events.iter().find(|e| e.new_socket().is_some_and(|s| s.0 == "s1")).expect("s1 is made");
    made.actor.pid.expect("a pid")
}

/// The server's forks: (index, child, sockets it holds copies of).
fn forks(t: &Trace) -> Vec<(usize, u32, Vec<String>)> {
    t.events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.actor.role == Role::Server)
        .filter_map(|(i, e)| match &e.body {
            Body::Process(ProcessChange::Fork { child, sockets, .. }) => Some((i, *child, sockets.iter().map(|s| s.0.to_string()).collect())),
            _ => None,
        })
        .collect()
}

/// `close(socket)` calls: (index of the start, pid, how many other descriptors it left).
fn closes(t: &Trace, socket: &str) -> Vec<(usize, u32, u32)> {
    t.events
        .calls_of(socket)
        .filter(|(_, _, s)| s.call == CallName::Close)
        .map(|(i, e, s)| (i, e.actor.pid.expect("a pid"), s.args.other_fds.unwrap_or(0)))
        .collect()
}

fn fork_children(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let parent = server_pid(t);
    let forked = forks(t);
    assert_eq!(forked.len(), 2, "a child per client");
    let mut children = BTreeSet::new();
    for (conn, (at, child, held)) in accepted(t).iter().zip(&forked) {
        assert!(story.accept_returning(&SockId(conn.clone().into())) < *at, "{conn}: fork after accept");
        assert_eq!(held, &["s1".to_string(), conn.clone()], "the child holds copies of the listener and {conn}");
        assert_eq!(callers(t, conn, Verb::Recv), BTreeSet::from([(*child, *child)]), "{conn} is read by its child alone");
        assert_eq!(callers(t, conn, Verb::Send), BTreeSet::from([(*child, *child)]), "{conn} is written by its child alone");
        let conn_closes = closes(t, conn);
        assert_eq!(
            conn_closes.iter().map(|(_, pid, left)| (*pid, *left)).collect::<Vec<_>>(),
            [(parent, 1), (*child, 0)],
            "{conn}: the parent drops its copy, the child closes the last"
        );
        let child_closes_listener = closes(t, "s1").into_iter().any(|(_, pid, left)| pid == *child && left >= 1);
        assert!(child_closes_listener, "the child closes its copy of the listener");
        children.insert(*child);
    }
    assert_eq!(children.len(), 2);
    assert!(!children.contains(&parent));
    assert_eq!(callers(t, "s1", Verb::Accept), BTreeSet::from([(parent, parent)]), "the parent alone accepts");
}

fn fork_last_close(t: &[Trace]) {
    let t = &t[0];
    for conn in accepted(t) {
        let conn_closes = closes(t, &conn);
        let (parent_close, child_close) = (conn_closes[0].0, conn_closes[1].0);
        let fin = packets(t).into_iter().find(|(_, e, p)| sock(e) == Some(conn.as_str()) && tcp(p).flags.contains(TcpFlags::FIN)).expect("a FIN").0;
        assert!(parent_close < child_close && child_close < fin, "{conn}: the FIN leaves with the child's close, not the parent's");
        let changed = t.events[parent_close..child_close].states_of(&conn).filter(|(_, e, _)| e.actor.pid == Some(server_pid(t))).count();
        assert_eq!(changed, 0, "{conn}: the parent's close changes nothing");
    }
}

/// The calls that waited longer than 50 ms, as (call, pid, tid).
fn long_waits(t: &Trace) -> Vec<(CallName, u32, u32)> {
    let mut started: BTreeMap<u64, u64> = BTreeMap::new();
    let mut long = Vec::new();
    for e in t.events.iter().filter(|e| e.actor.role == Role::Server) {
        if let Some(s) = e.call_start() {
            started.insert(s.id, e.t);
        }
        if let Some(end) = e.call_end() {
            if started.get(&end.id).is_some_and(|&t0| e.t - t0 > 50_000_000) {
                long.push((end.call, e.actor.pid.expect("a pid"), e.actor.tid.expect("a tid")));
            }
        }
    }
    long
}

fn fork_waits(t: &[Trace]) {
    let t = &t[0];
    let parent = server_pid(t);
    let children: BTreeSet<u32> = forks(t).into_iter().map(|(_, child, _)| child).collect();
    let long = long_waits(t);
    assert!(long.iter().any(|(c, pid, _)| *c == CallName::Accept && *pid == parent), "the parent waits in accept: {long:?}");
    for child in &children {
        assert!(long.iter().any(|(c, pid, _)| *c == CallName::Recvfrom && pid == child), "child {child} waits in recv: {long:?}");
    }
    for (call, pid, _) in &long {
        let expected = if *pid == parent { CallName::Accept } else { CallName::Recvfrom };
        assert_eq!(*call, expected, "{long:?}");
    }
}

fn threads_one_process(t: &[Trace]) {
    let t = &t[0];
    let pid = server_pid(t);
    assert!(t.events.iter().filter(|e| e.actor.role == Role::Server).all(|e| e.actor.pid.is_none_or(|p| p == pid)), "one process");
    assert!(forks(t).is_empty(), "no fork");
    assert_eq!(callers(t, "s1", Verb::Accept), BTreeSet::from([(pid, pid)]), "the main thread accepts");
    let mut threads = BTreeSet::new();
    for conn in accepted(t) {
        let mut used = callers(t, &conn, Verb::Recv);
        used.extend(callers(t, &conn, Verb::Send));
        used.extend(callers(t, &conn, Verb::Close));
        assert_eq!(used.len(), 1, "{conn}: one thread does all its work: {used:?}");
        let (_, tid) = used.into_iter().next().expect("a thread");
        assert_ne!(tid, pid, "{conn}: not the main thread");
        threads.insert(tid);
        assert_eq!(closes(t, &conn).iter().map(|(_, _, left)| *left).collect::<Vec<_>>(), [0], "{conn}: closed once, no copies");
    }
    assert_eq!(threads.len(), 2, "a thread per connection");
}

fn threads_waits(t: &[Trace]) {
    let t = &t[0];
    let pid = server_pid(t);
    let long = long_waits(t);
    assert!(long.iter().any(|(c, _, tid)| *c == CallName::Accept && *tid == pid), "the main thread waits in accept: {long:?}");
    let readers: BTreeSet<u32> = long.iter().filter(|(c, _, _)| *c == CallName::Recvfrom).map(|(_, _, tid)| *tid).collect();
    assert_eq!(readers.len(), 2, "each thread waits in recv: {long:?}");
    assert!(!readers.contains(&pid));
    assert!(long.iter().all(|(c, _, _)| matches!(c, CallName::Accept | CallName::Recvfrom)), "{long:?}");
}

fn epoll_one_thread(t: &[Trace]) {
    let t = &t[0];
    let pid = server_pid(t);
    let who: BTreeSet<(Option<u32>, Option<u32>)> =
        t.events.iter().filter(|e| e.actor.role == Role::Server && e.call_start().is_some()).map(|e| (e.actor.pid, e.actor.tid)).collect();
    assert_eq!(who, BTreeSet::from([(Some(pid), Some(pid))]), "one process, one thread, every call");
    let made = t.events.iter().find_map(|e| e.call_start().filter(|s| s.call == CallName::Socket && e.actor.role == Role::Server)).expect("socket()");
    assert!(made.args.ty.as_deref().is_some_and(|ty| ty.contains("SOCK_NONBLOCK")), "a non-blocking listener: {:?}", made.args.ty);
    for (_, _, s) in t.events.calls_of("s1").filter(|(_, _, s)| s.call == CallName::Accept4) {
        assert_eq!(s.args.flags.as_deref(), Some("SOCK_NONBLOCK"), "non-blocking connections");
    }
}

/// Whether the last `epoll_wait` that returned before event `i` found `socket` ready.
fn reported_ready(t: &Trace, i: usize, socket: &str) -> bool {
    let last_wait = t.events[..i].iter().rev().find_map(|e| e.call_end().filter(|end| end.call == CallName::EpollWait));
    last_wait.is_some_and(|end| end.ready.iter().any(|w| w.socket.as_ref().is_some_and(|s| s.0 == socket)))
}

fn epoll_ready_first(t: &[Trace]) {
    let t = &t[0];
    let mut again = 0;
    for socket in ["s1", "s2", "s3"] {
        for (i, _, end) in t.events.call_ends_of(socket).filter(|(_, _, end)| matches!(end.call.verb(), Verb::Accept | Verb::Recv)) {
            assert!(reported_ready(t, i, socket), "{} on {socket} at event {i} follows an epoll_wait that found {socket} ready", end.call);
            if end.errno.as_ref().is_some_and(|e| e.name == "EAGAIN") {
                again += 1;
            }
        }
    }
    assert!(again >= 3, "the loop reads until EAGAIN, \"nothing more for now\": {again}");
}

fn epoll_waits(t: &[Trace]) {
    let long = long_waits(&t[0]);
    assert!(long.len() >= 2, "{long:?}");
    assert!(long.iter().all(|(c, _, _)| *c == CallName::EpollWait), "only epoll_wait waits: {long:?}");
}
