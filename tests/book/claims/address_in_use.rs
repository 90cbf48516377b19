//! The claims of "Address already in use" (`lessons/address-in-use.md`): a server restarted
//! on its port while its last connection is in TIME-WAIT, without and with SO_REUSEADDR.

use socktrace::event::{CallName, Role};
use socktrace::query::Query;
use socktrace::state_path::StatePaths;
use socktrace::tcp::state::State;
use socktrace::trace::Trace;

use super::{bound_port, deviations, ends, first_fin, packets, sock, time_waiters, Claim};
use crate::support::story::Story;

const IN_USE: &[&str] = &["addr-in-use.jsonl"];
const REUSE: &[&str] = &["addr-in-use-reuseaddr.jsonl"];

pub const CLAIMS: &[Claim] = &[
    Claim { id: "addr-server-hangs-up-first", fixtures: IN_USE, check: server_hangs_up_first },
    Claim { id: "addr-bind-fails-in-time-wait", fixtures: IN_USE, check: bind_fails_in_time_wait },
    Claim { id: "addr-nothing-listens", fixtures: IN_USE, check: nothing_listens },
    Claim { id: "addr-bind-sends-nothing", fixtures: IN_USE, check: bind_sends_nothing },
    Claim { id: "addr-check-bind", fixtures: IN_USE, check: check_deviates_at_bind },
    Claim { id: "addr-reuse-before-bind", fixtures: REUSE, check: reuse_before_bind },
    Claim { id: "addr-reuse-binds-in-time-wait", fixtures: REUSE, check: reuse_binds_in_time_wait },
    Claim { id: "addr-reuse-twin-refused", fixtures: REUSE, check: twin_refused },
    Claim { id: "addr-client-fresh-port", fixtures: REUSE, check: client_fresh_port },
    Claim { id: "addr-reuse-check", fixtures: REUSE, check: reuse_check_deviates_at_the_twin },
];

/// A `bind` that failed with EADDRINUSE: the index of its start and of its end, its socket,
/// and the port it asked for.
struct FailedBind {
    start: usize,
    end: usize,
    socket: String,
    port: u16,
}

fn failed_binds(t: &Trace) -> Vec<FailedBind> {
    ends(t, Role::Server, CallName::Bind)
        .into_iter()
        .filter(|(_, _, end)| end.errno.as_ref().is_some_and(|e| e.name == "EADDRINUSE"))
        .map(|(end, e, _)| {
            let socket = sock(e).expect("bind is on a socket").to_string();
            let (start, _, call) = t.events.calls_of(&socket).find(|(_, _, s)| s.call == CallName::Bind).expect("the bind's start");
            let port = call.args.addr.expect("bind names its address").port();
            FailedBind { start, end, socket, port }
        })
        .collect()
}

/// The one failed bind of a fixture.
fn failed_bind(t: &Trace) -> FailedBind {
    let mut all = failed_binds(t);
    assert_eq!(all.len(), 1, "one bind fails");
    all.remove(0)
}

/// The event where `socket`'s state path enters TIME-WAIT, and the last row of its path.
fn time_wait_row(t: &Trace, socket: &str) -> (usize, usize) {
    let rows = StatePaths::rows(&t.events);
    let on = |i: &usize| rows[*i].is_some() && t.events[*i].is_on(socket);
    let entered = (0..rows.len()).filter(on).find(|&i| rows[i].is_some_and(|r| r.to == State::TimeWait)).unwrap_or_else(|| panic!("{socket} enters TIME-WAIT"));
    let last = (0..rows.len()).rev().find(on).expect("a row");
    (entered, last)
}

/// The socket an `accept` returned, and the port of its own side.
fn accepted(t: &Trace) -> Vec<(String, u16)> {
    ends(t, Role::Server, CallName::Accept)
        .into_iter()
        .filter_map(|(_, _, end)| Some((end.new_socket.as_ref()?.0.to_string(), end.local.expect("accept's own address").port())))
        .collect()
}

fn server_hangs_up_first(t: &[Trace]) {
    let t = &t[0];
    let (first, _) = accepted(t)[0].clone();
    assert_eq!(first_fin(t).1, first, "the server's side sends the first FIN");
    assert!(time_waiters(t).iter().eq([first.as_str()].iter()), "only the server's side passes through TIME-WAIT: {:?}", time_waiters(t));
    let (entered, _) = time_wait_row(t, &first);
    let row = StatePaths::rows(&t.events)[entered].expect("a row");
    assert_eq!(row.reported, Some(State::Closed), "shown where the kernel reports CLOSED");
}

fn bind_fails_in_time_wait(t: &[Trace]) {
    let t = &t[0];
    let failed = failed_bind(t);
    let (conversation, port) = accepted(t)[0].clone();
    assert_eq!(failed.port, bound_port(t), "the restart asks for the port the server had");
    assert_eq!(port, failed.port, "the port of the connection's server side");
    assert!(failed.socket != "s1" && failed.socket != conversation, "on a new socket of the server: {}", failed.socket);
    assert_eq!(t.events[failed.end].actor.role, Role::Server);
    let (entered, last) = time_wait_row(t, &conversation);
    assert_eq!(entered, last, "{conversation}'s path ends in TIME-WAIT");
    assert!(entered < failed.start, "TIME-WAIT comes before the restart");
    let waited = t.events[failed.start].t - t.events[entered].t;
    assert!(waited < 60_000_000_000, "well within TIME-WAIT's 60 s: {waited} ns");
}

fn nothing_listens(t: &[Trace]) {
    let t = &t[0];
    let failed = failed_bind(t);
    let story = Story::new(&t.events);
    assert!(story.state("s1", State::Listen, State::Closed) < failed.start, "the listening socket was closed before");
    let listening = t.events.iter().filter(|e| e.state().is_some_and(|s| s.to == State::Listen)).count();
    assert_eq!(listening, 1, "and nothing else listened");
    let client_closed = story.state("c1", State::LastAck, State::Closed);
    assert!(client_closed < failed.start, "the client's socket is gone too");
}

fn bind_sends_nothing(t: &[Trace]) {
    let t = &t[0];
    let failed = failed_bind(t);
    let last_packet = packets(t).last().expect("packets").0;
    assert!(last_packet < failed.start, "no packet from the restart on");
    assert!(t.events[failed.end].t - t.events[failed.start].t < 10_000_000, "bind answers at once");
}

fn check_deviates_at_bind(t: &[Trace]) {
    let failed = failed_bind(&t[0]);
    assert_eq!(deviations(&t[0]), [(failed.socket, "bind")]);
}

/// The sockets that listened, in order.
fn listeners(t: &Trace) -> Vec<String> {
    ends(t, Role::Server, CallName::Listen).into_iter().filter(|(_, _, end)| end.ret == 0).map(|(_, e, _)| sock(e).expect("a socket").to_string()).collect()
}

/// Where `socket` set SO_REUSEADDR, and where its bind started.
fn reuse_then_bind(t: &Trace, socket: &str) -> (usize, usize) {
    let set = t.events.calls_of(socket).find(|(_, _, s)| s.call == CallName::Setsockopt && s.args.option.as_deref() == Some("SO_REUSEADDR"));
    let bind = t.events.calls_of(socket).find(|(_, _, s)| s.call == CallName::Bind);
    (set.unwrap_or_else(|| panic!("{socket} sets SO_REUSEADDR")).0, bind.unwrap_or_else(|| panic!("{socket} binds")).0)
}

fn reuse_before_bind(t: &[Trace]) {
    let t = &t[0];
    let listening = listeners(t);
    assert_eq!(listening.len(), 2, "the first server and the restarted one");
    for socket in listening.iter().map(String::as_str).chain([failed_bind(t).socket.as_str()]) {
        let (set, bind) = reuse_then_bind(t, socket);
        assert!(set < bind, "{socket}: SO_REUSEADDR before bind");
    }
}

fn reuse_binds_in_time_wait(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let listening = listeners(t);
    let restarted = &listening[1];
    let (first_conversation, _) = accepted(t)[0].clone();
    let (entered, last) = time_wait_row(t, &first_conversation);
    assert_eq!(entered, last, "{first_conversation} stays in TIME-WAIT to the end");
    let bind = story.call_end(CallName::Bind, restarted);
    let end = story.end_of(bind);
    assert_eq!((end.ret, end.local.map(|a| a.port())), (0, Some(bound_port(t))), "the restarted server binds the same port");
    assert!(entered < bind, "while the first connection is in TIME-WAIT");
    let (second, port) = accepted(t)[1].clone();
    assert_eq!(port, bound_port(t));
    assert_eq!(story.accept_returning(&socktrace::event::SockId(second.clone().into())), story.call_end(CallName::Accept, restarted));
    let answers: Vec<String> = ["c1", "c2"].iter().flat_map(|c| t.events.call_ends_of(c).filter_map(|(_, _, e)| Some(e.data.as_ref()?.text.clone()))).collect();
    assert_eq!(answers, ["you said: hello\\n", "you said: hello\\n"], "both visits were answered");
}

fn twin_refused(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let restarted = listeners(t)[1].clone();
    let twin = failed_bind(t);
    assert_eq!(twin.port, bound_port(t));
    let (set, bind) = reuse_then_bind(t, &twin.socket);
    assert!(set < bind, "the twin set SO_REUSEADDR too");
    story.in_order(&[
        ("the restarted server listens", story.state(&restarted, State::Closed, State::Listen)),
        ("the twin's bind fails", twin.end),
        ("the restarted server stops listening", story.state(&restarted, State::Listen, State::Closed)),
    ]);
}

fn client_fresh_port(t: &[Trace]) {
    let t = &t[0];
    assert!(ends(t, Role::Client, CallName::Bind).is_empty(), "the client never binds");
    let ports: Vec<u16> = ends(t, Role::Client, CallName::Connect).iter().map(|(_, _, e)| e.local.expect("connect's own address").port()).collect();
    assert_eq!(ports.len(), 2, "two visits");
    assert_ne!(ports[0], ports[1], "each connect got a port of its own");
    assert!(ports.iter().all(|p| (32768..=60999).contains(p)), "ephemeral ports: {ports:?}");
}

fn reuse_check_deviates_at_the_twin(t: &[Trace]) {
    let twin = failed_bind(&t[0]);
    assert_eq!(deviations(&t[0]), [(twin.socket, "bind")]);
}
