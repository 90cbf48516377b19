//! The deliberately broken traces in `fixtures/broken/`: each is the simulated echo session
//! with one documented edit (its recipe below), and `trace check` must fail it with exit 1
//! and the reason it breaks.
//!
//! The committed files are the recipes applied to today's simulator; a test keeps them so.
//! After a change to the simulator, rewrite them with
//! `SOCKTRACE_BLESS=1 cargo test --test main check::broken::broken_fixtures`.

use std::net::SocketAddr;

use socktrace::check::Verdict;
use socktrace::event::{Actor, Body, CallArgs, CallEnd, CallName, CallStart, Event, Origin, Role, SockId};
use socktrace::sim::{self, Options};
use socktrace::trace::{Trace, TraceWriter};

use super::{fixture, run};

fn echo() -> Trace {
    sim::trace("echo", &Options::default(), "trace simulate echo").expect("a known scenario")
}

fn on(event: &Event, socket: &str) -> bool {
    event.socket.as_ref().is_some_and(|s| s.0 == socket)
}

fn starts(event: &Event, socket: &str, call: CallName) -> bool {
    on(event, socket) && matches!(&event.body, Body::CallStart(c) if c.call == call)
}

fn ends(event: &Event, socket: &str, call: CallName) -> bool {
    on(event, socket) && matches!(&event.body, Body::CallEnd(c) if c.call == call)
}

fn sends_data(event: &Event, socket: &str) -> bool {
    on(event, socket) && matches!(&event.body, Body::Packet(p) if p.len > 0)
}

fn position(trace: &Trace, wanted: impl Fn(&Event) -> bool) -> usize {
    trace.events.iter().position(wanted).expect("the recipe's event is in the simulated echo")
}

/// A recipe's edit, named in the trace's header so that the file says what was done to it.
fn edited(mut trace: Trace, what: &str) -> Trace {
    trace.header.command = format!("trace simulate echo, edited: {what} (tests/check/broken.rs)");
    trace.end = trace.end.map(|end| socktrace::trace::End { events: trace.events.len() as u64, ..end });
    trace
}

/// A client-side call that returned at once, at time `t`.
fn client_call(t: u64, id: u64, call: CallName, args: CallArgs, end: CallEnd) -> [Event; 2] {
    let event = |body| Event { t, actor: Actor::role(Role::Client), socket: Some(SockId("c1".into())), origin: Origin::Modelled, body };
    [event(Body::CallStart(CallStart { id, call, fd: Some(3), args: args.into() })), event(Body::CallEnd(CallEnd { id, call, ..end }))]
}

/// The client binds its socket and listens on it before it connects. Only the calls are
/// added; everything else happens as in the echo.
fn client_listens() -> Trace {
    let mut trace = echo();
    let made = position(&trace, |e| ends(e, "c1", CallName::Socket));
    let t = trace.events[made].t;
    let addr: SocketAddr = "127.0.0.1:40000".parse().expect("an address");
    let ok = CallEnd::new(0, CallName::Bind, 0);
    let bind = client_call(t, 1001, CallName::Bind, CallArgs { addr: Some(addr), ..CallArgs::default() }, CallEnd { local: Some(addr), ..ok.clone() });
    let listen = client_call(t, 1002, CallName::Listen, CallArgs { backlog: Some(128), ..CallArgs::default() }, ok);
    trace.events.splice(made + 1..made + 1, bind.into_iter().chain(listen));
    edited(trace, "the client binds and listens before it connects")
}

/// A second thread of the client sends while connect() still waits for the SYN|ACK: the
/// send's start moves to just after the SYN (the kernel holds the data until the connection
/// is established, so the rest is unchanged).
fn send_before_connect() -> Trace {
    let mut trace = echo();
    let send = trace.events.remove(position(&trace, |e| starts(e, "c1", CallName::Send)));
    let syn = position(&trace, |e| on(e, "c1") && matches!(e.body, Body::Packet(_)));
    let send = Event { t: trace.events[syn].t, ..send };
    trace.events.insert(syn + 1, send);
    edited(trace, "the client's first send starts before connect returns")
}

/// The client never calls close: the kernel closes its socket when the program exits, so
/// the FIN and the states stay; only the call is gone.
fn client_never_closes() -> Trace {
    let mut trace = echo();
    trace.events.retain(|e| !starts(e, "c1", CallName::Close) && !ends(e, "c1", CallName::Close));
    edited(trace, "the client never calls close")
}

/// The server never closes its listening socket (the kernel does, at exit: the state stays).
fn listener_never_closed() -> Trace {
    let mut trace = echo();
    trace.events.retain(|e| !starts(e, "s1", CallName::Close) && !ends(e, "s1", CallName::Close));
    edited(trace, "the server never closes its listening socket")
}

/// The server listens but never calls accept. The kernel still completes the client's
/// handshake and acknowledges its first line; the client then waits for an echo that never
/// comes, and the recording is stopped there. The connection, never accepted, is never named.
fn accept_never_called() -> Trace {
    let mut trace = echo();
    let accepted = position(&trace, |e| ends(e, "s1", CallName::Accept));
    trace.events.truncate(accepted);
    trace.events.retain(|e| !starts(e, "s1", CallName::Accept));
    for event in &mut trace.events {
        if on(event, "s2") {
            event.socket = None;
        }
        if let Body::Packet(p) = &mut event.body {
            p.to = p.to.take().filter(|to| to.0 != "s2");
        }
    }
    edited(trace, "the server never calls accept; recording stopped while the client waits")
}

/// The client's first data segment is on the wire before its ACK of the SYN|ACK, right
/// behind the SYN|ACK: data before the handshake completed.
fn data_before_the_handshake() -> Trace {
    let mut trace = echo();
    let data = trace.events.remove(position(&trace, |e| sends_data(e, "c1")));
    let syn_ack = position(&trace, |e| matches!(&e.body, Body::Packet(p) if p.tcp.as_ref().is_some_and(|t| t.flags.to_string() == "SYN|ACK")));
    let data = Event { t: trace.events[syn_ack].t, ..data };
    trace.events.insert(syn_ack + 1, data);
    edited(trace, "the client's first data segment comes before its ACK of the SYN|ACK")
}

/// A fixture: its file's name, its recipe, and the reason `trace check` must give.
struct Fixture {
    name: &'static str,
    recipe: fn() -> Trace,
    reason: &'static str,
}

const FIXTURES: [Fixture; 6] = [
    Fixture { name: "client-listens", recipe: client_listens, reason: "the client called listen (#13)" },
    Fixture { name: "send-before-connect", recipe: send_before_connect, reason: "send before connect returned: send at #14, connect returned at #19" },
    Fixture { name: "client-never-closes", recipe: client_never_closes, reason: "the client never closed its socket" },
    Fixture { name: "listener-never-closed", recipe: listener_never_closed, reason: "the listening socket was never closed" },
    Fixture { name: "accept-never-called", recipe: accept_never_called, reason: "accept never called" },
    Fixture { name: "data-before-the-handshake", recipe: data_before_the_handshake, reason: "data before the handshake completed: #16 carries 6 bytes" },
];

fn bytes(trace: &Trace) -> Vec<u8> {
    let mut writer = TraceWriter::new(Vec::new(), &trace.header).expect("write to memory");
    for event in &trace.events {
        writer.event(event).expect("write to memory");
    }
    writer.finish(&trace.end.clone().unwrap_or_default()).expect("write to memory")
}

#[test]
fn broken_fixtures__are_their_recipes_applied_to_the_simulated_echo() {
    let bless = std::env::var_os("SOCKTRACE_BLESS").is_some();
    for Fixture { name, recipe, .. } in FIXTURES {
        let path = fixture(&format!("broken/{name}.jsonl"));
        let made = bytes(&recipe());
        if bless {
            std::fs::write(&path, &made).expect("write the fixture");
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(committed == made, "{} differs from its recipe: rewrite it with SOCKTRACE_BLESS=1", path.display());
    }
}

fn fails_with(name: &str, reason: &str) {
    let (verdict, printed) = run(&fixture(&format!("broken/{name}.jsonl")), None);
    assert_eq!(verdict, Verdict::Deviations, "{name}:\n{printed}");
    assert_eq!(verdict.exit_code(), 1);
    assert!(printed.contains(reason), "{name} should fail with {reason:?}:\n{printed}");
}

fn reason(name: &str) -> &'static str {
    FIXTURES.iter().find(|f| f.name == name).map(|f| f.reason).expect("a fixture")
}

#[test]
fn client_that_listens__fails_with_reason() {
    fails_with("client-listens", reason("client-listens"));
}

#[test]
fn send_before_connect_returned__fails_with_reason() {
    fails_with("send-before-connect", reason("send-before-connect"));
}

#[test]
fn client_that_never_closes__fails_with_reason() {
    fails_with("client-never-closes", reason("client-never-closes"));
}

#[test]
fn listening_socket_never_closed__fails_with_reason() {
    fails_with("listener-never-closed", reason("listener-never-closed"));
}

#[test]
fn accept_never_called__fails_with_reason() {
    fails_with("accept-never-called", reason("accept-never-called"));
}

#[test]
fn data_before_the_handshake_completed__fails_with_reason() {
    fails_with("data-before-the-handshake", reason("data-before-the-handshake"));
}
