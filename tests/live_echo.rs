//! `trace echo` as root: the calls, packets and kernel states of each connection, each at its
//! true place on the timeline.

use socktrace::capture::privilege::live_test_allowed;
use socktrace::event::{CallName, Role};
use socktrace::tcp::flags::TcpFlags;
use socktrace::tcp::state::State;

use crate::support::story::Story;
use crate::support::{load, scratch, stderr, stdout, trace};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;

fn syn_ack() -> TcpFlags {
    TcpFlags::SYN.union(TcpFlags::ACK)
}

fn fin_ack() -> TcpFlags {
    TcpFlags::FIN.union(TcpFlags::ACK)
}

/// Records `trace echo ARGS --save FILE`; returns the trace and what it printed.
pub(crate) fn record(name: &str, args: &[&str]) -> (socktrace::trace::Trace, String, std::path::PathBuf) {
    let path = scratch(name).join("echo.jsonl");
    let mut all = vec!["echo", "--save", path.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = trace(&all);
    assert_eq!(out.status.code(), Some(0), "trace echo failed: {}", stderr(&out));
    (load(&path), stdout(&out), path)
}

/// Asserts the whole life of one client's connection.
pub(crate) fn assert_connection(story: &Story, client: &str, messages: &[&str]) {
    assert_connection_to(story, "s1", client, messages);
}

/// Asserts the whole life of one client's connection to the listening socket `listener`.
pub(crate) fn assert_connection_to(story: &Story, listener: &str, client: &str, messages: &[&str]) {
    let connect_start = story.call_start(CallName::Connect, client);
    let connect_end = story.call_end(CallName::Connect, client);
    let local = story.end_of(connect_end).local.expect("connect reports the client's address");

    let syn = story.packet(None, client, listener, SYN, "the client's SYN");
    let syn_ack = story.packet(Some(syn), listener, client, syn_ack(), "the SYN|ACK");
    let child = story
        .created(Role::Server, CallName::Accept)
        .into_iter()
        .find(|s| story.end_of(story.accept_returning(s)).peer == Some(local))
        .expect("an accept returned this client's connection");
    let child = child.0.as_str();
    let third_ack = story.packet(Some(syn_ack), client, child, ACK, "the third ACK");
    let accept_end = story.accept_returning(&socktrace::event::SockId(child.into()));
    assert!(story.end_of(accept_end).ret >= 0, "accept returns a new fd");

    story.in_order(&[
        ("connect starts", connect_start),
        ("SYN-SENT", story.state(client, State::Closed, State::SynSent)),
        ("SYN", syn),
        ("SYN|ACK", syn_ack),
        ("client ESTABLISHED", story.state(client, State::SynSent, State::Established)),
        ("connect ends", connect_end),
    ]);
    story.in_order(&[("SYN|ACK", syn_ack), ("third ACK", third_ack), ("server child SYN-RECEIVED", story.state(child, State::Listen, State::SynReceived))]);
    story.in_order(&[
        ("third ACK", third_ack),
        ("server child ESTABLISHED", story.state(child, State::SynReceived, State::Established)),
        ("accept ends", accept_end),
    ]);

    // Each message is a data segment followed by its numbered echo.
    let mut last = third_ack;
    for (n, message) in messages.iter().enumerate() {
        let data = story.data(client, &format!("{message}\\n"));
        let echo = story.data(child, &format!("{}: {message}\\n", n + 1));
        story.in_order(&[("previous step", last), ("data", data), ("echo", echo)]);
        last = echo;
    }

    // The client closes first: FIN-WAIT-1, FIN-WAIT-2 on its side; CLOSE-WAIT, LAST-ACK on
    // the server's; each FIN is acknowledged.
    let client_close = story.call_start(CallName::Close, client);
    let client_fin = story.packet(Some(last), client, child, fin_ack(), "the client's FIN");
    let server_fin = story.packet(Some(client_fin), child, client, fin_ack(), "the server's FIN");
    let server_close = story.call_start(CallName::Close, child);
    let last_ack = story.packet(Some(server_fin), client, child, ACK, "the ACK of the server's FIN");
    let fin_seq = |i: usize| {
        let p = story.packet_at(i);
        let tcp = p.tcp.as_ref().expect("tcp");
        tcp.seq.wrapping_add(p.len)
    };
    assert_eq!(story.packet_at(last_ack).tcp.as_ref().expect("tcp").ack, fin_seq(server_fin).wrapping_add(1), "the last ACK acknowledges the server's FIN");
    story.in_order(&[
        ("client close starts", client_close),
        ("client FIN-WAIT-1", story.state(client, State::Established, State::FinWait1)),
        ("client FIN", client_fin),
        ("server CLOSE-WAIT", story.state(child, State::Established, State::CloseWait)),
        ("server recv returns 0", story.recv_eof(child)),
    ]);
    story.in_order(&[
        ("client FIN", client_fin),
        ("client FIN-WAIT-2", story.state(client, State::FinWait1, State::FinWait2)),
        ("client CLOSED after the server's FIN", story.state(client, State::FinWait2, State::Closed)),
    ]);
    story.in_order(&[("server FIN", server_fin), ("client CLOSED", story.state(client, State::FinWait2, State::Closed))]);
    story.in_order(&[
        ("server close starts", server_close),
        ("server LAST-ACK", story.state(child, State::CloseWait, State::LastAck)),
        ("server FIN", server_fin),
        ("last ACK", last_ack),
        ("server CLOSED", story.state(child, State::LastAck, State::Closed)),
    ]);
}

pub(crate) fn assert_listener(story: &Story) {
    story.in_order(&[
        ("listen starts", story.call_start(CallName::Listen, "s1")),
        ("s1 LISTEN", story.state("s1", State::Closed, State::Listen)),
        ("listen ends", story.call_end(CallName::Listen, "s1")),
    ]);
    story.in_order(&[
        ("close(s1) starts", story.call_start(CallName::Close, "s1")),
        ("s1 CLOSED", story.state("s1", State::Listen, State::Closed)),
        ("close(s1) ends", story.call_end(CallName::Close, "s1")),
    ]);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn one_client_handshake_echo_and_close_in_true_order() {
    if !live_test_allowed("trace echo, one client") {
        return;
    }
    let (trace, shown, path) = record("live_one_client", &["-m", "hello", "-m", "bye"]);
    let story = Story::new(&trace.events);
    assert_listener(&story);
    assert_connection(&story, "c1", &["hello", "bye"]);
    let end = trace.end.as_ref().expect("a complete trace has an end line");
    assert_eq!((end.packets_dropped, end.states_lost, end.out_of_order), (0, 0, 0), "nothing lost, everything in time order");

    // A saved trace replays exactly as it was shown live.
    let replay = trace_show(&path);
    assert_eq!(replay, shown);
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn eight_clients_each_get_their_own_accepted_socket() {
    if !live_test_allowed("trace echo --clients 8") {
        return;
    }
    let (trace, _, _) = record("live_eight_clients", &["--clients", "8", "-m", "ping"]);
    assert_eq!(trace.end.as_ref().map(|e| e.out_of_order), Some(0), "every event released in time order");
    let story = Story::new(&trace.events);
    assert_listener(&story);
    let clients = story.created(Role::Client, CallName::Socket);
    assert_eq!(clients.len(), 8);
    let accepted = story.created(Role::Server, CallName::Accept);
    assert_eq!(accepted.len(), 8, "each accept returns a new socket");
    for client in &clients {
        assert_connection(&story, &client.0, &["ping"]);
    }
    // The listening socket stays open while the connections are served.
    let listener_closed = story.call_start(CallName::Close, "s1");
    for s in &accepted {
        assert!(story.accept_returning(s) < listener_closed);
    }
}

/// The time from the end of `bind` on `socket` to the start of its `listen`.
fn bind_to_listen(story: &Story, socket: &str) -> std::time::Duration {
    let (bound, listening) = (story.call_end(CallName::Bind, socket), story.call_start(CallName::Listen, socket));
    std::time::Duration::from_nanos(story.events[listening].t - story.events[bound].t)
}

/// socktrace's own set-up (starting the lenses takes ~100 ms of the kernel's time) comes
/// before the server's first call, not between its `bind` and `listen`, where the student
/// would take it for TCP's; and the lenses still see the LISTEN state and every packet.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn bind_then_listen_back_to_back_the_lenses_miss_nothing() {
    if !live_test_allowed("trace echo, bind then listen") {
        return;
    }
    let (recorded, _, _) = record("live_bind_listen", &["--live", "-m", "hello"]);
    let story = Story::new(&recorded.events);
    let gap = bind_to_listen(&story, "s1");
    assert!(gap < std::time::Duration::from_millis(20), "bind to listen took {gap:?}");
    assert_listener(&story);
    assert_connection(&story, "c1", &["hello"]);

    // The same in a session of peers, each with a listener of its own.
    let path = scratch("live_bind_listen_p2p").join("p2p.jsonl");
    let out = trace(&["p2p", "--live", "--save", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let peers = load(&path);
    let story = Story::new(&peers.events);
    for listener in ["s1", "s2"] {
        let gap = bind_to_listen(&story, listener);
        assert!(gap < std::time::Duration::from_millis(20), "{listener}: bind to listen took {gap:?}");
        story.state(listener, State::Closed, State::Listen);
    }
}

pub(crate) fn trace_show(path: &std::path::Path) -> String {
    let out = trace(&["show", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn ipv6_one_client_calls_packets_and_states_on_loopback_v6() {
    if !live_test_allowed("trace echo --ipv6") {
        return;
    }
    let (recorded, shown, path) = record("live_ipv6", &["--ipv6", "-m", "hello", "-m", "bye"]);
    let story = Story::new(&recorded.events);
    assert_listener(&story);
    assert_connection(&story, "c1", &["hello", "bye"]);
    let v6 = |addr: &std::net::SocketAddr| addr.ip() == std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    let mut packets = 0;
    for e in &recorded.events {
        match &e.body {
            socktrace::event::Body::Packet(p) => {
                packets += 1;
                assert!(v6(&p.src) && v6(&p.dst), "every packet between [::1] addresses: {e:?}");
            }
            socktrace::event::Body::State(s) => {
                // A listening socket's change has no peer yet: `[::]:0`.
                for addr in s.local.iter().chain(s.remote.iter()).filter(|a| a.port() != 0) {
                    assert!(v6(addr), "every state change names [::1] addresses: {e:?}");
                }
            }
            socktrace::event::Body::CallEnd(end) => {
                for addr in end.local.iter().chain(end.peer.iter()) {
                    assert!(v6(addr), "every call reports [::1] addresses: {e:?}");
                }
            }
            _ => {}
        }
    }
    assert!(packets >= 10, "handshake, data, echoes and close: {packets} packets");
    assert!(shown.contains("socket(AF_INET6, SOCK_STREAM)"), "{shown}");
    assert!(shown.contains("[::1]:"), "{shown}");
    let end = recorded.end.as_ref().expect("a complete trace has an end line");
    assert_eq!((end.packets_dropped, end.states_lost, end.out_of_order), (0, 0, 0), "nothing lost, everything in time order");
    let check = trace(&["check", path.to_str().expect("utf-8 path")]);
    assert_eq!(check.status.code(), Some(0), "trace check conforms:\n{}", stdout(&check));
}

/// `--connect` to a port where nobody listens: the session is shown (connect refused, the
/// socket closed), and the failure is the exit status, 1, not a success.
#[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
#[test]
fn connect_refused_shows_the_session_and_exits_1() {
    if !live_test_allowed("trace echo --connect to a closed port") {
        return;
    }
    // A port that was free a moment ago, and now has no listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let out = trace(&["echo", "--live", "--json", "--connect", &format!("127.0.0.1:{port}")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("a traced program failed") && err.contains("refused"), "{err}");
    assert!(stdout(&out).contains("ECONNREFUSED"), "the refused connect is on the timeline");
}
