//! `trace run` on programs it did not write: the style matrix (`fixtures/programs/matrix/`),
//! echo pairs in the styles courses and real servers use, in C, Python, Java, Go, Node, Perl
//! and Rust. For every style, on witnesses other than socktrace itself:
//!
//! - its calls equal what `strace -f` reports for the same kind of run: per process, the same
//!   system calls on TCP and UDP sockets, by the same names, with the same results, in the
//!   same order (per socket when clients run at once);
//! - its packets equal what tcpdump captured on the same run, packet for packet;
//! - nothing of one socket is written on another: a listening socket only ever moves
//!   CLOSED → LISTEN → CLOSED, sends nothing but SYN|ACKs and receives nothing but SYNs;
//! - every call names its process, and every data segment has the call that sent it;
//! - the RFC 9293 model beside each socket explains every state change the kernel reported
//!   (as the RFC's, or as a documented Linux difference), closes made by a process's end too;
//! - `trace check` conforms for a correct program and names a wrong one's own wrong step
//!   first; every piece of evidence it cites is its own socket's, and the replay lights it.

#![allow(non_snake_case)] // names read situation__outcome

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use socktrace::capture::privilege::live_test_allowed;
use socktrace::check::{check, CheckOptions, Verdict};
use socktrace::event::{Body, Event, Packet, Role, SockId, Transport, Verb};
use socktrace::sequence::Part;
use socktrace::tcp::flags::TcpFlags;
use socktrace::tcp::state::State;
use socktrace::trace::Trace;

use crate::support::matrix::{self, Style, STYLES};
use crate::support::strace::{self, Call, Process};
use crate::support::tcpdump::{self, Tcpdump};
use crate::support::{load, scratch, stderr, stdout, trace};

/// Whether a style's tools are here; without them the style cannot run, which CI forbids.
fn available(style: &Style) -> bool {
    let missing = matrix::missing_tools(style);
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the {} style needs {} and CI=true forbids skipping it: .ci/run installs them", style.name, missing.join(", "));
    }
    eprintln!("SKIPPED the {} style: it needs {}", style.name, missing.join(", "));
    false
}

/// The same pair under strace: the server first, the client once strace shows the server's
/// port. Returns the per-process calls of each.
fn straced(style: &Style, built: &matrix::Built, dir: &Path) -> Result<(Vec<Process>, Vec<Process>), String> {
    let server = strace::start(&built.server, &dir.join(format!("{}.server.strace", style.name)));
    let deadline = Instant::now() + Duration::from_secs(60);
    let port = loop {
        if let Some(port) = server.port() {
            break port;
        }
        if Instant::now() > deadline {
            return Err("the server under strace never bound a port".to_string());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let argv: Vec<String> = built.client.iter().map(|w| w.replace("{port}", &port.to_string())).collect();
    let client = strace::start(&argv, &dir.join(format!("{}.client.strace", style.name)));
    let client = strace::from_strace(&client.wait());
    let server = strace::from_strace(&server.wait());
    Ok((server, client))
}

/// The calls of one program's processes as compared: in order, or, when several clients run
/// at once, per socket (which client a server serves first is not the program's choice).
///
/// A new socket's descriptor is compared as one, not by its number: the kernel gives the
/// lowest free number, and which are free depends on what else the process had open at that
/// instant — the connections still open when clients overlap, the files a runtime's own
/// threads open as they go (a JVM's class loading). Which socket each call is on is compared
/// all the same (`#N`, in order of creation).
fn comparable(processes: &[Process], concurrent: bool) -> Vec<Vec<Vec<(String, String)>>> {
    let result = |c: &Call| {
        let made = c.name == "socket" || c.name.starts_with("accept");
        if made && !c.result.starts_with('-') {
            "fd".to_string()
        } else {
            c.result.clone()
        }
    };
    processes
        .iter()
        .map(|p| {
            let sockets = p.calls.iter().map(|c| c.socket).max().map_or(0, |m| m + 1);
            if concurrent {
                let mut per_socket: Vec<Vec<(String, String)>> = vec![Vec::new(); sockets];
                for c in &p.calls {
                    per_socket[c.socket].push((c.name.clone(), result(c)));
                }
                per_socket.sort();
                per_socket
            } else {
                vec![p.calls.iter().map(|c| (format!("#{} {}", c.socket, c.name), result(c))).collect()]
            }
        })
        .collect()
}

/// Compares a trace's calls with strace's, program by program.
fn calls_equal_strace(style: &Style, traced: &Trace, server: &[Process], client: &[Process]) -> Result<(), String> {
    for (role, witness) in [(Role::Server, server), (Role::Client, client)] {
        let ours = strace::from_trace(&traced.events, role);
        let (a, b) = (comparable(&ours, style.concurrent), comparable(witness, style.concurrent));
        if a != b {
            // The first process, then the first of its lists of calls, where they part: the
            // whole lists run to hundreds of calls.
            let p = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            let (x, y) = (a.get(p).cloned().unwrap_or_default(), b.get(p).cloned().unwrap_or_default());
            let l = x.iter().zip(&y).take_while(|(x, y)| x == y).count();
            let (x, y) = (x.get(l).cloned().unwrap_or_default(), y.get(l).cloned().unwrap_or_default());
            return Err(format!(
                "the {role}'s calls differ from strace's ({} processes in the trace, {} under strace): process {p}, list {l}, {}",
                a.len(),
                b.len(),
                parting(&x, &y)
            ));
        }
        // Readiness calls: the trace shows those about a traced socket, strace all of them.
        for (mine, theirs) in ours.iter().zip(witness) {
            if let Some(extra) = mine.waits.iter().find(|w| !theirs.waits.contains(w)) {
                return Err(format!("the {role} made {extra} in the trace but not under strace ({:?})", theirs.waits));
            }
        }
    }
    Ok(())
}

/// The sockets that listened.
fn listeners(events: &[Event]) -> HashSet<&SockId> {
    events.iter().filter(|e| e.call_start().is_some_and(|c| c.verb() == Verb::Listen)).filter_map(|e| e.socket.as_ref()).collect()
}

/// Nothing of one socket is written on another: a listening socket's only states are LISTEN
/// and CLOSED, it sends only SYN|ACKs and receives only SYNs; every other packet comes from
/// the socket whose ends its calls showed.
fn identity_holds(traced: &Trace) -> Result<(), String> {
    let listening = listeners(&traced.events);
    // Each connected socket's (local, remote), from its connect or accept.
    let mut ends: HashMap<&SockId, (SocketAddr, SocketAddr)> = HashMap::new();
    for event in &traced.events {
        if let Body::CallEnd(end) = &event.body {
            let socket = match end.call.verb() {
                Verb::Accept => end.new_socket.as_ref(),
                Verb::Connect => event.socket.as_ref(),
                _ => None,
            };
            if let (Some(socket), Some(local), Some(peer)) = (socket, end.local, end.peer) {
                ends.insert(socket, (canon(local), canon(peer)));
            }
        }
    }
    for (i, event) in traced.events.iter().enumerate() {
        match &event.body {
            Body::State(change) if event.socket.as_ref().is_some_and(|s| listening.contains(s)) => {
                let allowed = matches!((change.from, change.to), (State::Closed, State::Listen) | (State::Listen, State::Closed));
                if !allowed {
                    return Err(format!("event {i}: the listening socket {:?} moved {} → {}", event.socket, change.from, change.to));
                }
            }
            Body::Packet(packet) if packet.transport == Transport::Tcp => {
                let flags = packet.tcp.as_ref().map_or(TcpFlags(0), |t| t.flags.without_psh());
                let syn_ack = TcpFlags::SYN.union(TcpFlags::ACK);
                if event.socket.as_ref().is_some_and(|s| listening.contains(s)) && flags != syn_ack {
                    return Err(format!("event {i}: the listening socket sent {flags}"));
                }
                if packet.to.as_ref().is_some_and(|s| listening.contains(s)) && flags != TcpFlags::SYN {
                    return Err(format!("event {i}: the listening socket received {flags}"));
                }
                if let Some((local, remote)) = event.socket.as_ref().and_then(|s| ends.get(s)) {
                    if (canon(packet.src), canon(packet.dst)) != (*local, *remote) {
                        return Err(format!("event {i}: {:?} sent a packet of another connection: {} → {}", event.socket, packet.src, packet.dst));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The model explains every state change the kernel reported: no row of the timeline is
/// marked ⚠, for a wrong program as for a correct one. The wrong ones leave closes to the
/// kernel (a listener at the program's end, which the tracer sees after the kernel reported
/// the close; the connections in a closed listener's queue) and end in resets: data that
/// arrives after a close (RFC 1122 §4.2.2.13), a reset numbered before the peer's FIN.
fn model_explains_every_state(traced: &Trace) -> Result<(), String> {
    crate::support::model::unexplained(&traced.events).map_or(Ok(()), Err)
}

/// Sockets that played no part (made, maybe given options or a port-0 bind, and closed: a
/// runtime's probes) are named as idle (`o1`…), and idle sockets carry no traffic.
fn idle_sockets_set_aside(traced: &Trace) -> Result<(), String> {
    let mut acted: HashSet<&SockId> = HashSet::new();
    let mut seen: HashSet<&SockId> = HashSet::new();
    for event in &traced.events {
        let Some(socket) = &event.socket else { continue };
        seen.insert(socket);
        let part = match &event.body {
            Body::CallStart(start) => match start.verb() {
                Verb::Bind => start.args.addr.is_some_and(|a| a.port() != 0),
                verb => verb.is_step() && !matches!(verb, Verb::Socket | Verb::Close),
            },
            Body::Packet(_) | Body::State(_) | Body::Kernel(_) => true,
            _ => false,
        };
        if part {
            acted.insert(socket);
        }
    }
    for socket in seen {
        let idle = socket.kind() == Some(socktrace::event::SockKind::Idle);
        if idle == acted.contains(socket) {
            return Err(format!("{socket} is {}named as idle, but it {} a part", if idle { "" } else { "not " }, if idle { "played" } else { "played no" }));
        }
    }
    Ok(())
}

/// The verdict `trace check` must give each style: a correct program conforms; a wrong one
/// that breaks the documented sequences deviates, and its first deviation is its own wrong
/// step (the part, the step); one that breaks only the echo protocol (speaking first,
/// answering twice) follows the sequences, and no kernel reaction to it is blamed on it.
fn expected_verdict(style: &Style) -> Option<(Part, &'static str)> {
    match style.name {
        "wrong_no_listener_close" => Some((Part::Listening, "close")),
        "wrong_never_accepts" => Some((Part::Listening, "accept")),
        "wrong_no_exchange" => Some((Part::Accepted, "exchange")),
        "wrong_client_never_closes" => Some((Part::Client, "close")),
        _ => None,
    }
}

fn verdict_is_fair(style: &Style, traced: &Trace) -> Result<(), String> {
    let report = check(traced, &CheckOptions::default());
    match expected_verdict(style) {
        None if report.verdict() == Verdict::Conforms => Ok(()),
        None => Err(format!("trace check finds deviations in a program that follows the sequences:\n{report}")),
        Some((part, step)) => {
            let first = report.deviations().next().map(|(socket, st)| (socket.part, st.step.id));
            if report.verdict() == Verdict::Deviations && first == Some((part, step)) {
                Ok(())
            } else {
                Err(format!("trace check should name the {} at {step} first, but names {first:?}:\n{report}", part.noun()))
            }
        }
    }
}

fn canon(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Every call and process change names its process, and every data segment or datagram has
/// calls behind it: the bytes it carries were handed to its sender socket by calls that had
/// started when it left (the kernel may send them later, several calls' bytes at once).
fn processes_and_senders_shown(traced: &Trace) -> Result<(), String> {
    let events = &traced.events;
    // Per socket, the calls that handed it bytes: (start time, bytes).
    let mut handed: HashMap<&SockId, Vec<(u64, u64)>> = HashMap::new();
    let mut open: HashMap<u64, (usize, Verb, u64)> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        match &event.body {
            Body::CallStart(start) => {
                open.insert(start.id, (i, start.verb(), start.args.len.unwrap_or(0) as u64));
            }
            Body::CallEnd(end) => {
                if let Some((s, Verb::Send, _)) = open.remove(&end.id) {
                    if let Some(socket) = event.socket.as_ref().or(events[s].socket.as_ref()) {
                        handed.entry(socket).or_default().push((events[s].t, end.ret.max(0) as u64));
                    }
                }
            }
            _ => {}
        }
        if matches!(event.body, Body::CallStart(_) | Body::CallEnd(_) | Body::Process(_)) && event.actor.pid.is_none() {
            return Err(format!("event {i} names no process: {event:?}"));
        }
    }
    // A call still running hands at most what it was asked to send.
    for (s, verb, len) in open.into_values() {
        if let (Verb::Send, Some(socket)) = (verb, events[s].socket.as_ref()) {
            handed.entry(socket).or_default().push((events[s].t, len));
        }
    }
    let mut datagrams: HashMap<&SockId, u64> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        let Body::Packet(packet) = &event.body else { continue };
        if packet.len == 0 {
            continue;
        }
        let Some(sender) = &event.socket else { return Err(format!("event {i}: a data segment with no sender socket")) };
        let calls = handed.get(sender).map_or(&[][..], Vec::as_slice);
        let started: Vec<u64> = calls.iter().filter(|(t, _)| *t <= event.t).map(|(_, n)| *n).collect();
        let behind = match &packet.tcp {
            // Its last byte, counted from 1 after the SYN, was handed over already.
            Some(tcp) => u64::from(tcp.rel_seq.unwrap_or(1)) + u64::from(packet.len) - 1 <= started.iter().sum::<u64>(),
            None => {
                let n = datagrams.entry(sender).or_default();
                *n += 1;
                *n <= started.len() as u64
            }
        };
        if !behind {
            return Err(format!("event {i}: no call of {sender} handed over the bytes that left: {}", socktrace::wording::packet_headline(packet)));
        }
    }
    Ok(())
}

/// Where two lists part, with a few items of context on each side: a failure's message stays
/// short enough to be read whole in a CI log.
fn parting<T: PartialEq + std::fmt::Debug>(ours: &[T], theirs: &[T]) -> String {
    let at = ours.iter().zip(theirs).take_while(|(a, b)| a == b).count();
    fn around<T>(w: &[T], at: usize) -> &[T] {
        &w[at.saturating_sub(2).min(w.len())..(at + 3).min(w.len())]
    }
    format!("they part at item {at}\n  trace:   {:?}\n  witness: {:?}", around(ours, at), around(theirs, at))
}

/// The TCP and UDP packets of a trace, as (src, dst, flags, length).
type Wire = (SocketAddr, SocketAddr, u8, u32);

fn wire(packet: &Packet) -> Option<Wire> {
    matches!(packet.transport, Transport::Tcp | Transport::Udp).then(|| (packet.src, packet.dst, packet.tcp.as_ref().map_or(0, |t| t.flags.0), packet.len))
}

/// The trace's packets equal tcpdump's on its connections: the same packets, in the same order
/// on each connection. Between connections, packets a few ns apart on the two CPUs may reach
/// tcpdump's ring in another order than their kernel stamps put them in the timeline: no one
/// order of those is the true one.
fn packets_equal_tcpdump(traced: &Trace, captured: &[Packet]) -> Result<(), String> {
    let ours: Vec<Wire> = traced
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Packet(p) => wire(p),
            _ => None,
        })
        .collect();
    if ours.is_empty() {
        return Err("no packets in the trace".to_string());
    }
    let pairs: HashSet<(SocketAddr, SocketAddr)> = ours.iter().map(|(s, d, _, _)| (*s, *d)).collect();
    let theirs: Vec<Wire> = captured.iter().filter_map(wire).filter(|(s, d, _, _)| pairs.contains(&(*s, *d))).collect();
    let per_connection = |wires: &[Wire]| {
        let mut connections: BTreeMap<(SocketAddr, SocketAddr), Vec<Wire>> = BTreeMap::new();
        for &w in wires {
            connections.entry((w.0.min(w.1), w.0.max(w.1))).or_default().push(w);
        }
        connections
    };
    let (mine, witness) = (per_connection(&ours), per_connection(&theirs));
    if mine != witness {
        let at = mine.iter().find(|(k, v)| witness.get(*k) != Some(*v)).map(|(k, _)| *k);
        let (a, b) = at.map_or((&ours, &theirs), |k| (&mine[&k], witness.get(&k).unwrap_or(&theirs)));
        return Err(format!("{} packets in the trace, {} captured by tcpdump on the same connections; on {at:?}, {}", ours.len(), theirs.len(), parting(a, b)));
    }
    Ok(())
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn matrix__calls_equal_strace__packets_equal_tcpdump__each_socket_its_own() {
    if !live_test_allowed("trace run on the style matrix") {
        return;
    }
    let dir = scratch("matrix");
    let build = dir.join("build");
    let dump = Tcpdump::start(dir.join("lo.pcap"), "tcp or udp");
    let mut failures: Vec<String> = Vec::new();
    let mut recorded: Vec<(&Style, Trace)> = Vec::new();
    for style in STYLES.iter().filter(|s| available(s)) {
        let built = match matrix::build(style, &build) {
            Ok(built) => built,
            Err(e) => {
                failures.push(format!("{}: cannot build: {e}", style.name));
                continue;
            }
        };
        let path = dir.join(format!("{}.jsonl", style.name));
        let outcome = matrix::record(style, &built, &path).and_then(|t| {
            identity_holds(&t)?;
            idle_sockets_set_aside(&t)?;
            processes_and_senders_shown(&t)?;
            model_explains_every_state(&t)?;
            verdict_is_fair(style, &t)?;
            crate::support::evidence::evidence_is_its_own_sockets(&t)?;
            crate::support::evidence::replay_agrees_with_check(&t)?;
            // A wrong pair's run is not the same from run to run (whether the client reads the
            // server's greeting with its echo, or a reset first, is a matter of timing): its
            // calls are compared with strace's in `trace check`'s tests, not here.
            if style.wrong.is_none() {
                let (server, client) = straced(style, &built, &dir)?;
                calls_equal_strace(style, &t, &server, &client)?;
            }
            Ok(t)
        });
        match outcome {
            Ok(t) => recorded.push((style, t)),
            Err(e) => failures.push(format!("{}: {e}", style.name)),
        }
    }
    let captured = tcpdump::packets(&dump.stop());
    for (style, traced) in &recorded {
        if let Err(e) = packets_equal_tcpdump(traced, &captured) {
            failures.push(format!("{}: {e}", style.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} styles fail:\n{}", failures.len(), STYLES.len(), failures.join("\n\n"));
}

/// A non-blocking connect to a port nobody listens on: `EINPROGRESS`, then the refusal, which
/// the program learns from `poll` and `getsockopt(SO_ERROR)` — each of them in the trace, as
/// strace shows them, with the reset that refused it.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn nonblocking_connect_refused__the_outcome_is_in_the_trace() {
    if !live_test_allowed("a refused non-blocking connect") {
        return;
    }
    let style = matrix::named("c_nonblock_connect").expect("the style");
    if !available(style) {
        return;
    }
    let dir = scratch("matrix_refused");
    let built = matrix::build(style, &dir).unwrap_or_else(|e| panic!("{e}"));
    // A port that was free a moment ago: nobody listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port().to_string();
    let argv: Vec<String> = built.client.iter().map(|w| w.replace("{port}", &port)).collect();
    let path = dir.join("refused.jsonl");
    let mut args = vec!["run", "--save", path.to_str().expect("utf-8 path"), "--"];
    args.extend(argv.iter().map(String::as_str));
    let out = trace(&args);
    assert!(stderr(&out).contains("exited with status 1"), "the client reports the refusal: {}", stderr(&out));
    let traced = load(&path);
    let events = &traced.events;
    let named = |call: &str| events.iter().position(|e| e.call_end().is_some_and(|end| end.call.as_str() == call));
    let connect = named("connect").expect("connect returns");
    assert!(events[connect].call_end().is_some_and(|end| end.errno.as_ref().is_some_and(|e| e.name == "EINPROGRESS")));
    let outcome = named("getsockopt").expect("getsockopt tells the outcome");
    assert!(events[outcome].call_end().is_some_and(|end| end.value.as_deref() == Some("SO_ERROR=ECONNREFUSED")), "{:?}", events[outcome]);
    let reset = events.iter().position(|e| e.segment().is_some_and(|t| t.flags.contains(TcpFlags::RST))).expect("the reset");
    assert!(named("poll").is_some_and(|p| p > reset), "poll returns after the reset");
    // The refusal ends the client's story as a blocking connect's refusal does: not a
    // deviation of the program's.
    let report = check(&traced, &CheckOptions::default());
    assert_eq!(report.verdict(), Verdict::Conforms, "{report}");
    let connect = report.sockets.iter().flat_map(|s| &s.steps).find(|st| st.step.id == "connect").expect("the connect step");
    assert_eq!(connect.outcome(), socktrace::check::Outcome::Ended, "{report}");
    let straced = strace::start(&argv, &dir.join("refused.strace"));
    let witness = strace::from_strace(&straced.wait());
    let ours = strace::from_trace(events, Role::Client);
    assert_eq!(comparable(&ours, false), comparable(&witness, false), "the same calls as strace");
}

/// A server that follows the documented sequences but breaks the echo protocol is shown by
/// `trace diff` against the correct program (the same C server, but for its mistake): the
/// first difference is the wrong program's first wrong call, whatever the kernel did around
/// it (an ACK sent alone rather than with the client's next data is TCP's timing).
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn echo_protocol_broken__diff_shows_the_first_wrong_call() {
    if !live_test_allowed("trace diff of wrong echo servers") {
        return;
    }
    let dir = scratch("matrix_diff");
    let style = |name: &str| matrix::named(name).expect("a style of the matrix");
    let built = |name: &str| matrix::build(style(name), &dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let record = |name: &str, pair: &matrix::Built| {
        let path = dir.join(format!("{name}.jsonl"));
        matrix::record(style(name), pair, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
        path.to_string_lossy().into_owned()
    };
    // The reference: the correct server, with the client the wrong servers are run with (one
    // that gives up waiting for an echo that does not come).
    let reference = matrix::Built { server: built("c_blocking").server, client: built("wrong_speaks_first").client };
    let correct = record("c_blocking", &reference);
    // The correct server's next call, the wrong one's instead of it.
    for (wrong, expected) in [
        ("wrong_speaks_first", ("server  recvfrom(s2, 4096) …", "server  sendto(s2, \"hi\\n\") …")),
        ("wrong_answers_twice", ("server  recvfrom(s2, 4096) …", "server  sendto(s2, \"hello\\n\") …")),
    ] {
        let out = trace(&["diff", &correct, &record(wrong, &built(wrong))]);
        assert_eq!(out.status.code(), Some(1), "{wrong}: {}", stderr(&out));
        let text = stdout(&out);
        let first = |sign: &str| text.lines().find_map(|l| l.strip_prefix(sign)).map(str::to_string);
        assert_eq!(
            (first("  - "), first("  + ")),
            (Some(expected.0.to_string()), Some(expected.1.to_string())),
            "{wrong}: the first difference is not its first wrong call:\n{text}"
        );
    }
}
