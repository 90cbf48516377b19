//! Every claim the lessons make about a fixture, checked on that fixture. A chapter marks a
//! claim with `<!-- claim:ID -->` right after the sentence; `CLAIMS` holds the check of
//! each ID and the fixtures it reads, and the modules below those of the chapters about
//! what students trip on ([`all`] is every claim).

mod address_in_use;
mod peer_gone;
mod serving;
mod stream;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use socktrace::event::{ArpOp, Body, CallEnd, CallName, CallStart, Event, Origin, Packet, Peer, Role, SockId, TcpSegment, Transport};
use socktrace::query::Query;
use socktrace::replay::Replay;
use socktrace::sequence;
use socktrace::state_path::{Mark, StatePaths};
use socktrace::tcp::flags::TcpFlags;
use socktrace::tcp::state::State;
use socktrace::trace::{Source, Trace};

use crate::support::story::Story;

pub struct Claim {
    pub id: &'static str,
    /// The fixtures (in `fixtures/lessons/`) the check reads, in the order it gets them.
    pub fixtures: &'static [&'static str],
    pub check: fn(&[Trace]),
}

const ECHO: &[&str] = &["echo.jsonl"];
const HOSTS: &[&str] = &["hosts.jsonl"];
const P2P: &[&str] = &["p2p.jsonl"];
const RELAY: &[&str] = &["relay.jsonl"];
const FTP: &[&str] = &["ftp-active.jsonl"];

pub const CLAIMS: &[Claim] = &[
    Claim { id: "roles-client-calls", fixtures: ECHO, check: roles_client_calls },
    Claim { id: "roles-server-calls", fixtures: ECHO, check: roles_server_calls },
    Claim { id: "roles-client-speaks-first", fixtures: ECHO, check: roles_client_speaks_first },
    Claim { id: "roles-one-host", fixtures: ECHO, check: all_on_loopback },
    Claim { id: "roles-ports-differ", fixtures: ECHO, check: roles_ports_differ },
    Claim { id: "roles-hosts-two-addresses", fixtures: HOSTS, check: roles_hosts_two_addresses },
    Claim { id: "roles-hosts-arp-first", fixtures: HOSTS, check: roles_hosts_arp_first },
    Claim { id: "roles-hosts-ethernet", fixtures: HOSTS, check: roles_hosts_ethernet },
    Claim { id: "roles-hosts-mss", fixtures: &["hosts.jsonl", "echo.jsonl"], check: roles_hosts_mss },
    Claim { id: "roles-hosts-same-story", fixtures: &["echo.jsonl", "hosts.jsonl"], check: roles_hosts_same_story },
    Claim { id: "roles-relay-both", fixtures: RELAY, check: roles_relay_both },
    Claim { id: "roles-relay-accepts-then-connects", fixtures: RELAY, check: roles_relay_accepts_then_connects },
    Claim { id: "roles-relay-conforms", fixtures: RELAY, check: two_connections_conform },
    Claim { id: "roles-swap", fixtures: FTP, check: roles_swap },
    Claim { id: "roles-swap-port-names-listener", fixtures: FTP, check: roles_swap_port_names_listener },
    Claim { id: "roles-swap-one-way", fixtures: FTP, check: roles_swap_one_way },
    Claim { id: "passive-bind-port", fixtures: ECHO, check: passive_bind_port },
    Claim { id: "passive-listen-state", fixtures: ECHO, check: passive_listen_state },
    Claim { id: "passive-listen-sends-nothing", fixtures: ECHO, check: passive_listen_sends_nothing },
    Claim { id: "passive-backlog", fixtures: ECHO, check: passive_backlog },
    Claim { id: "passive-accept-after-third-ack", fixtures: ECHO, check: passive_accept_after_third_ack },
    Claim { id: "passive-accept-new-socket", fixtures: ECHO, check: passive_accept_new_socket },
    Claim { id: "passive-listener-stays", fixtures: ECHO, check: listener_stays },
    Claim { id: "passive-all-steps", fixtures: ECHO, check: passive_all_steps },
    Claim { id: "active-connect-address", fixtures: ECHO, check: active_connect_address },
    Claim { id: "active-no-bind", fixtures: ECHO, check: active_no_bind },
    Claim { id: "active-syn-sent-first", fixtures: ECHO, check: active_syn_sent_first },
    Claim { id: "active-third-ack-inside-connect", fixtures: ECHO, check: active_third_ack_inside_connect },
    Claim { id: "active-connect-returns-after-handshake", fixtures: ECHO, check: active_connect_returns_after_handshake },
    Claim { id: "active-all-steps", fixtures: ECHO, check: active_all_steps },
    Claim { id: "hs-three-segments", fixtures: ECHO, check: hs_three_segments },
    Claim { id: "hs-isn-not-zero", fixtures: ECHO, check: hs_isn_not_zero },
    Claim { id: "hs-relative-zero", fixtures: ECHO, check: hs_relative_zero },
    Claim { id: "hs-ack-is-isn-plus-one", fixtures: ECHO, check: hs_ack_is_isn_plus_one },
    Claim { id: "hs-data-starts-at-one", fixtures: ECHO, check: hs_data_starts_at_one },
    Claim { id: "hs-options", fixtures: ECHO, check: hs_options },
    Claim { id: "hs-window-scaled", fixtures: ECHO, check: hs_window_scaled },
    Claim { id: "hs-child-born-at-third-ack", fixtures: ECHO, check: hs_child_born_at_third_ack },
    Claim { id: "hs-syn-ack-from-listener", fixtures: ECHO, check: hs_syn_ack_from_listener },
    Claim { id: "ipv6-same-story", fixtures: &["echo.jsonl", "echo-ipv6.jsonl"], check: ipv6_same_story },
    Claim { id: "ipv6-mss", fixtures: &["echo-ipv6.jsonl"], check: ipv6_mss },
    Claim { id: "data-one-segment-per-send", fixtures: ECHO, check: data_one_segment_per_send },
    Claim { id: "data-psh-ack", fixtures: ECHO, check: data_psh_ack },
    Claim { id: "data-seq-counts-bytes", fixtures: ECHO, check: data_seq_counts_bytes },
    Claim { id: "data-all-acknowledged", fixtures: ECHO, check: data_all_acknowledged },
    Claim { id: "data-numbered-echo", fixtures: ECHO, check: data_numbered_echo },
    Claim { id: "data-recv-after-segment", fixtures: ECHO, check: data_recv_after_segment },
    Claim { id: "data-bytes-arrive-whole", fixtures: ECHO, check: data_bytes_arrive_whole },
    Claim { id: "close-client-fin", fixtures: ECHO, check: close_client_fin },
    Claim { id: "close-eof-after-fin", fixtures: ECHO, check: close_eof_after_fin },
    Claim { id: "close-fin-carries-ack", fixtures: ECHO, check: close_fin_carries_ack },
    Claim { id: "close-last-ack", fixtures: ECHO, check: close_last_ack },
    Claim { id: "close-linux-reports-closed", fixtures: ECHO, check: close_linux_reports_closed },
    Claim { id: "close-mirrored", fixtures: &["server-closes-first.jsonl"], check: close_mirrored },
    Claim { id: "close-only-first-closer-waits", fixtures: &["echo.jsonl", "server-closes-first.jsonl"], check: close_only_first_closer_waits },
    Claim { id: "half-close-fin-first", fixtures: &["half-close.jsonl"], check: half_close_fin_first },
    Claim { id: "half-close-answers-after-fin", fixtures: &["half-close.jsonl"], check: half_close_answers_after_fin },
    Claim { id: "half-close-client-waits", fixtures: &["half-close.jsonl"], check: half_close_client_waits },
    Claim { id: "fail-refused-rst", fixtures: &["refused.jsonl"], check: fail_refused_rst },
    Claim { id: "fail-refused-error", fixtures: &["refused.jsonl"], check: fail_refused_error },
    Claim { id: "fail-refused-fast", fixtures: &["refused.jsonl"], check: fail_refused_fast },
    Claim { id: "fail-syn-marked-lost", fixtures: &["lost-syn.jsonl"], check: fail_syn_marked_lost },
    Claim { id: "fail-syn-sent-again", fixtures: &["lost-syn.jsonl"], check: fail_syn_sent_again },
    Claim { id: "fail-syn-retransmit-note", fixtures: &["lost-syn.jsonl"], check: fail_syn_retransmit_note },
    Claim { id: "fail-connect-waits", fixtures: &["lost-syn.jsonl"], check: fail_connect_waits },
    Claim { id: "fail-model-agrees", fixtures: &["lost-syn.jsonl", "lost-syn-model.jsonl"], check: fail_model_agrees },
    Claim { id: "fail-recv-joins-lines", fixtures: &["half-close.jsonl"], check: fail_recv_joins_lines },
    Claim { id: "many-accepts", fixtures: &["clients3.jsonl"], check: many_accepts },
    Claim { id: "many-listener-stays", fixtures: &["clients3.jsonl"], check: listener_stays },
    Claim { id: "many-handshakes-before-accept", fixtures: &["clients3.jsonl"], check: many_handshakes_before_accept },
    Claim { id: "many-four-tuples", fixtures: &["clients3.jsonl"], check: many_four_tuples },
    Claim { id: "many-own-isns", fixtures: &["clients3.jsonl"], check: many_own_isns },
    Claim { id: "many-one-host", fixtures: &["clients3.jsonl"], check: all_on_loopback },
    Claim { id: "p2p-each-listens-and-connects", fixtures: P2P, check: p2p_each_listens_and_connects },
    Claim { id: "p2p-two-connections", fixtures: P2P, check: p2p_two_connections },
    Claim { id: "p2p-each-handshake", fixtures: P2P, check: p2p_each_handshake },
    Claim { id: "p2p-data-both-ways", fixtures: P2P, check: p2p_data_both_ways },
    Claim { id: "p2p-two-ports", fixtures: P2P, check: p2p_two_ports },
    Claim { id: "p2p-check-conforms", fixtures: P2P, check: two_connections_conform },
    Claim { id: "udp-no-handshake", fixtures: &["udp-echo.jsonl"], check: udp_no_handshake },
    Claim { id: "udp-no-listen", fixtures: &["udp-echo.jsonl"], check: udp_no_listen },
    Claim { id: "udp-datagrams", fixtures: &["udp-echo.jsonl"], check: udp_datagrams },
    Claim { id: "udp-answer-to-sender", fixtures: &["udp-echo.jsonl"], check: udp_answer_to_sender },
    Claim { id: "udp-port-on-first-sendto", fixtures: &["udp-echo.jsonl"], check: udp_port_on_first_sendto },
    Claim { id: "udp-close-sends-nothing", fixtures: &["udp-echo.jsonl"], check: udp_close_sends_nothing },
    Claim { id: "udp-check-conforms", fixtures: &["udp-echo.jsonl"], check: udp_check_conforms },
    Claim { id: "udp-sequence-panel", fixtures: &["udp-echo.jsonl"], check: udp_sequence_panel },
    Claim { id: "course-live-equals-model", fixtures: ECHO, check: course_live_equals_model },
    Claim { id: "course-unnumbered-moves-closing", fixtures: ECHO, check: course_unnumbered_moves_closing },
    Claim { id: "ref-payload-is-text", fixtures: &["escaping.jsonl"], check: ref_payload_is_text },
];

/// Every claim of every chapter.
pub fn all() -> impl Iterator<Item = &'static Claim> {
    CLAIMS.iter().chain(stream::CLAIMS).chain(address_in_use::CLAIMS).chain(peer_gone::CLAIMS).chain(serving::CLAIMS)
}

// ---- finding things -------------------------------------------------------------------

fn find(t: &Trace, what: &str, pred: impl Fn(&Event) -> bool) -> usize {
    t.events.iter().position(pred).unwrap_or_else(|| panic!("not in the trace: {what}"))
}

fn sock(e: &Event) -> Option<&str> {
    e.socket_name()
}

fn starts(t: &Trace, role: Role) -> Vec<(usize, &Event, &CallStart)> {
    t.events.iter().enumerate().filter(|(_, e)| e.actor.role == role).filter_map(|(i, e)| Some((i, e, e.call_start()?))).collect()
}

fn ends(t: &Trace, role: Role, call: CallName) -> Vec<(usize, &Event, &CallEnd)> {
    t.events.iter().enumerate().filter(|(_, e)| e.actor.role == role && e.ends(call.verb())).filter_map(|(i, e)| Some((i, e, e.call_end()?))).collect()
}

fn calls_of(t: &Trace, role: Role) -> BTreeSet<&'static str> {
    starts(t, role).iter().map(|(_, _, s)| s.call.as_str()).collect()
}

fn packets(t: &Trace) -> Vec<(usize, &Event, &Packet)> {
    t.events.iter().enumerate().filter_map(|(i, e)| Some((i, e, e.packet()?))).collect()
}

fn tcp(p: &Packet) -> &TcpSegment {
    p.tcp.as_ref().expect("a TCP packet")
}

fn packet(t: &Trace, i: usize) -> &Packet {
    t.events[i].packet().unwrap_or_else(|| panic!("event {i} is not a packet: {:?}", t.events[i].body))
}

/// Data segments sent by `from` (a socket name), in order: (index, payload preview).
fn data_from<'a>(t: &'a Trace, from: &str) -> Vec<(usize, &'a Packet)> {
    packets(t).into_iter().filter(|(_, e, p)| sock(e) == Some(from) && p.len > 0).map(|(i, _, p)| (i, p)).collect()
}

fn payload(p: &Packet) -> &str {
    p.payload.as_ref().map_or("", |pl| pl.text.as_str())
}

fn bound_port(t: &Trace) -> u16 {
    ends(t, Role::Server, CallName::Bind)[0].2.local.expect("bind reports its address").port()
}

fn syn_ack() -> TcpFlags {
    TcpFlags::SYN.union(TcpFlags::ACK)
}

fn fin_ack() -> TcpFlags {
    TcpFlags::FIN.union(TcpFlags::ACK)
}

/// The client's SYN, the SYN|ACK and the third ACK of `client`'s connection to `accepted`.
fn handshake(t: &Trace, client: &str, accepted: &str) -> (usize, usize, usize) {
    let story = Story::new(&t.events);
    let syn = story.packet(None, client, "s1", TcpFlags::SYN, "the SYN");
    let syn_ack = story.packet(Some(syn), "s1", client, syn_ack(), "the SYN|ACK");
    let ack = story.packet(Some(syn_ack), client, accepted, TcpFlags::ACK, "the third ACK");
    (syn, syn_ack, ack)
}

/// The sockets that enter TIME-WAIT, by any origin.
/// The sockets whose state path (`state_path`, as every view shows it) enters TIME-WAIT.
fn time_waiters(t: &Trace) -> BTreeSet<&str> {
    let rows = StatePaths::rows(&t.events);
    t.events.iter().zip(&rows).filter(|(_, row)| row.is_some_and(|r| r.to == State::TimeWait)).filter_map(|(e, _)| sock(e)).collect()
}

fn observed_time_wait(t: &Trace) -> bool {
    t.events.iter().any(|e| e.origin == Origin::Observed && e.enters(State::TimeWait))
}

/// What `trace check` finds not met in `t`: (socket, documented step), in its order.
fn deviations(t: &Trace) -> Vec<(String, &'static str)> {
    let report = socktrace::check::check(t, &socktrace::check::CheckOptions::default());
    report.deviations().map(|(s, st)| (s.socket.0.to_string(), st.step.id)).collect()
}

/// The index of the first FIN and the socket that sent it.
fn first_fin(t: &Trace) -> (usize, &str) {
    let (i, e, _) = packets(t).into_iter().find(|(_, _, p)| p.tcp.as_ref().is_some_and(|s| s.flags.contains(TcpFlags::FIN))).expect("a FIN");
    (i, sock(e).expect("the FIN's sender"))
}

// ---- roles ----------------------------------------------------------------------------

fn roles_client_calls(t: &[Trace]) {
    let calls = calls_of(&t[0], Role::Client);
    for call in ["socket", "connect", "send", "recv", "close"] {
        assert!(calls.contains(call), "the client calls {call}: {calls:?}");
    }
    for call in ["bind", "listen", "accept"] {
        assert!(!calls.contains(call), "the client never calls {call}: {calls:?}");
    }
}

fn roles_server_calls(t: &[Trace]) {
    let calls = calls_of(&t[0], Role::Server);
    for call in ["socket", "bind", "listen", "accept", "recv", "send", "close"] {
        assert!(calls.contains(call), "the server calls {call}: {calls:?}");
    }
    assert!(!calls.contains("connect"), "{calls:?}");
}

fn roles_client_speaks_first(t: &[Trace]) {
    let all = packets(&t[0]);
    let (_, first, p) = all[0];
    assert_eq!((first.actor.role, tcp(p).flags), (Role::Client, TcpFlags::SYN), "the first packet is the client's SYN");
    let (_, e, p) = all.iter().find(|(_, _, p)| p.len > 0).expect("data");
    assert_eq!(e.actor.role, Role::Client);
    assert_eq!(payload(p), "hello\\n");
}

fn all_on_loopback(t: &[Trace]) {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let all = packets(&t[0]);
    assert!(!all.is_empty());
    for (_, _, p) in all {
        assert_eq!((p.src.ip(), p.dst.ip()), (lo, lo), "{p:?}");
    }
}

fn roles_ports_differ(t: &[Trace]) {
    let t = &t[0];
    let server = bound_port(t);
    let client = ends(t, Role::Client, CallName::Connect)[0].2.local.expect("connect reports the client's address").port();
    assert_ne!(client, server);
    assert!(ends(t, Role::Client, CallName::Bind).is_empty(), "the kernel picked the client's port");
    let syn = packets(t).into_iter().find(|(_, _, p)| tcp(p).flags == TcpFlags::SYN).expect("a SYN").2;
    assert_eq!((syn.src.port(), syn.dst.port()), (client, server));
}

// ---- two hosts --------------------------------------------------------------------------

const CLIENT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const SERVER_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn tcp_packets(t: &Trace) -> Vec<(usize, &Event, &Packet)> {
    packets(t).into_iter().filter(|(_, _, p)| p.transport == Transport::Tcp).collect()
}

fn roles_hosts_two_addresses(t: &[Trace]) {
    let all = tcp_packets(&t[0]);
    assert!(!all.is_empty());
    for (i, e, p) in all {
        let expected = match e.actor.role {
            Role::Client => (CLIENT_HOST, SERVER_HOST),
            _ => (SERVER_HOST, CLIENT_HOST),
        };
        assert_eq!((p.src.ip(), p.dst.ip()), expected, "packet #{i}: {p:?}");
    }
}

fn roles_hosts_arp_first(t: &[Trace]) {
    let all = packets(&t[0]);
    let (request, reply) = (&all[0], &all[1]);
    let arp = |p: &Packet| p.arp.clone().expect("an ARP packet");
    assert_eq!((request.1.actor.role, arp(request.2).op), (Role::Client, ArpOp::Request), "the client asks first");
    assert_eq!((request.2.dst.ip(), request.2.src.ip()), (SERVER_HOST, CLIENT_HOST), "who-has 192.0.2.2 tell 192.0.2.1");
    assert_eq!(request.2.eth.as_ref().map(|e| e.dst.as_str()), Some("ff:ff:ff:ff:ff:ff"), "to every card on the link");
    assert_eq!((reply.1.actor.role, arp(reply.2).op), (Role::Server, ArpOp::Reply));
    assert_eq!((reply.2.src.ip(), arp(reply.2).sender_mac.as_str()), (SERVER_HOST, "02:00:00:00:00:02"), "192.0.2.2 is at 02:00:00:00:00:02");
    assert_eq!(reply.2.eth.as_ref().map(|e| e.dst.as_str()), Some("02:00:00:00:00:01"), "to the client alone");
    assert_eq!(tcp(all[2].2).flags, TcpFlags::SYN, "then the SYN");
    assert_eq!(all.iter().filter(|(_, _, p)| p.transport == Transport::Arp).count(), 2, "one question, one answer");
}

fn roles_hosts_ethernet(t: &[Trace]) {
    for (i, e, p) in tcp_packets(&t[0]) {
        let (src, dst) = if e.actor.role == Role::Client { ("02:00:00:00:00:01", "02:00:00:00:00:02") } else { ("02:00:00:00:00:02", "02:00:00:00:00:01") };
        let eth = p.eth.as_ref().unwrap_or_else(|| panic!("packet #{i} has its Ethernet header"));
        assert_eq!((eth.src.as_str(), eth.dst.as_str()), (src, dst), "packet #{i}");
    }
}

fn roles_hosts_mss(t: &[Trace]) {
    let syn_mss = |t: &Trace| -> Vec<Option<u16>> {
        tcp_packets(t).into_iter().filter(|(_, _, p)| tcp(p).flags.contains(TcpFlags::SYN)).map(|(_, _, p)| tcp(p).options.mss).collect()
    };
    assert_eq!(syn_mss(&t[0]), [Some(1460), Some(1460)], "1500 - 20 (IPv4) - 20 (TCP)");
    assert_eq!(syn_mss(&t[1]), [Some(65495), Some(65495)], "loopback");
}

/// One role's calls, in order, and its sockets' observed state changes, in order. (How the
/// two interleave varies from run to run: an `accept` may start before or after the
/// handshake it returns.)
fn story_of(t: &Trace, role: Role) -> (Vec<String>, Vec<String>) {
    let name = |e: &Event| e.socket_name().unwrap_or_default().to_string();
    let mine = || t.events.iter().filter(move |e| e.actor.role == role);
    let calls = mine().filter_map(|e| Some(format!("{} {}", e.call_start()?.call, name(e))));
    let states = mine().filter(|e| e.origin == Origin::Observed).filter_map(|e| e.state().map(|c| format!("{}: {} -> {}", name(e), c.from, c.to)));
    (calls.collect(), states.collect())
}

fn roles_hosts_same_story(t: &[Trace]) {
    for role in [Role::Client, Role::Server] {
        let (loopback, hosts) = (story_of(&t[0], role), story_of(&t[1], role));
        assert!(loopback.0.len() > 5 && loopback.1.len() > 3);
        assert_eq!(hosts, loopback, "{role}'s calls and states");
    }
}

// ---- passive open ---------------------------------------------------------------------

fn passive_bind_port(t: &[Trace]) {
    let t = &t[0];
    let (_, _, start) = starts(t, Role::Server).into_iter().find(|(_, _, s)| s.call == CallName::Bind).expect("bind");
    assert_eq!(start.args.addr.expect("bind's address").port(), 0, "bind asks for port 0");
    assert_ne!(bound_port(t), 0, "and gets a port");
}

fn passive_listen_state(t: &[Trace]) {
    let story = Story::new(&t[0].events);
    story.in_order(&[
        ("listen starts", story.call_start(CallName::Listen, "s1")),
        ("s1 LISTEN", story.state("s1", State::Closed, State::Listen)),
        ("listen ends", story.call_end(CallName::Listen, "s1")),
    ]);
}

fn passive_listen_sends_nothing(t: &[Trace]) {
    let t = &t[0];
    let listen_end = Story::new(&t.events).call_end(CallName::Listen, "s1");
    let (first, e, p) = packets(t)[0];
    assert!(first > listen_end, "no packet before listen returns");
    assert_eq!((e.actor.role, tcp(p).flags), (Role::Client, TcpFlags::SYN));
}

fn passive_backlog(t: &[Trace]) {
    let (_, _, listen) = starts(&t[0], Role::Server).into_iter().find(|(_, _, s)| s.call == CallName::Listen).expect("listen");
    assert_eq!(listen.args.backlog, Some(128));
}

fn passive_accept_after_third_ack(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let (_, _, ack) = handshake(t, "c1", "s2");
    let accept_end = story.accept_returning(&SockId("s2".into()));
    story.in_order(&[("third ACK", ack), ("s2 ESTABLISHED", story.state("s2", State::SynReceived, State::Established)), ("accept returns", accept_end)]);
}

fn passive_accept_new_socket(t: &[Trace]) {
    let t = &t[0];
    let accept = &ends(t, Role::Server, CallName::Accept)[0].2;
    let socket = &ends(t, Role::Server, CallName::Socket)[0].2;
    assert_eq!(accept.new_socket, Some(SockId("s2".into())));
    assert_eq!(socket.new_socket, Some(SockId("s1".into())));
    assert!(accept.ret >= 0 && accept.ret != socket.ret, "a descriptor of its own: {} vs {}", accept.ret, socket.ret);
}

/// s1 stays in LISTEN until its close, which comes after every accepted socket is closed.
fn listener_stays(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let listening = story.state("s1", State::Closed, State::Listen);
    let close_start = story.call_start(CallName::Close, "s1");
    let changes = t.events[listening + 1..close_start].states_of("s1").count();
    assert_eq!(changes, 0, "s1 stays in LISTEN until it is closed");
    for accepted in story.created(Role::Server, CallName::Accept) {
        story.in_order(&[(&format!("close({accepted}) ends"), story.call_end(CallName::Close, &accepted.0)), ("close(s1) starts", close_start)]);
    }
    story.in_order(&[
        ("close(s1) starts", close_start),
        ("s1 CLOSED", story.state("s1", State::Listen, State::Closed)),
        ("close(s1) ends", story.call_end(CallName::Close, "s1")),
    ]);
}

/// The documented steps the replay ticks at its last step, for sequence `k`.
fn ticked_at_the_end(t: &Trace, k: usize) -> Vec<&'static str> {
    let replay = Replay::of(t);
    replay.steps.last().expect("steps").progress[k].done().collect()
}

fn passive_all_steps(t: &[Trace]) {
    let all: Vec<&str> = sequence::PASSIVE_OPEN.steps.iter().map(|s| s.id).collect();
    assert_eq!(ticked_at_the_end(&t[0], 0), all);
}

// ---- active open ----------------------------------------------------------------------

fn active_connect_address(t: &[Trace]) {
    let t = &t[0];
    let (_, _, start) = starts(t, Role::Client).into_iter().find(|(_, _, s)| s.call == CallName::Connect).expect("connect");
    let bound = ends(t, Role::Server, CallName::Bind)[0].2.local;
    assert_eq!(start.args.addr, bound);
}

fn active_no_bind(t: &[Trace]) {
    let t = &t[0];
    assert!(ends(t, Role::Client, CallName::Bind).is_empty());
    let port = ends(t, Role::Client, CallName::Connect)[0].2.local.expect("connect reports the port").port();
    assert!((32768..=60999).contains(&port), "an ephemeral port: {port}");
}

fn active_syn_sent_first(t: &[Trace]) {
    let story = Story::new(&t[0].events);
    story.in_order(&[
        ("connect starts", story.call_start(CallName::Connect, "c1")),
        ("c1 SYN-SENT", story.state("c1", State::Closed, State::SynSent)),
        ("the SYN", story.packet(None, "c1", "s1", TcpFlags::SYN, "the SYN")),
    ]);
}

fn active_third_ack_inside_connect(t: &[Trace]) {
    let story = Story::new(&t[0].events);
    let (_, _, ack) = handshake(&t[0], "c1", "s2");
    story.in_order(&[
        ("connect starts", story.call_start(CallName::Connect, "c1")),
        ("third ACK", ack),
        ("connect ends", story.call_end(CallName::Connect, "c1")),
    ]);
}

fn active_connect_returns_after_handshake(t: &[Trace]) {
    let story = Story::new(&t[0].events);
    let (_, syn_ack, _) = handshake(&t[0], "c1", "s2");
    let end = story.call_end(CallName::Connect, "c1");
    story.in_order(&[("SYN|ACK", syn_ack), ("c1 ESTABLISHED", story.state("c1", State::SynSent, State::Established)), ("connect returns", end)]);
    assert_eq!(story.end_of(end).ret, 0);
}

fn active_all_steps(t: &[Trace]) {
    let all: Vec<&str> = sequence::ACTIVE_OPEN.steps.iter().map(|s| s.id).collect();
    assert_eq!(ticked_at_the_end(&t[0], 1), all);
}

// ---- handshake ------------------------------------------------------------------------

fn hs_three_segments(t: &[Trace]) {
    let t = &t[0];
    let first: Vec<usize> = packets(t).iter().take(3).map(|(i, _, _)| *i).collect();
    let (syn, syn_ack, ack) = handshake(t, "c1", "s2");
    assert_eq!(first, [syn, syn_ack, ack]);
    assert!(first.iter().all(|&i| packet(t, i).len == 0), "no data on the handshake");
}

fn hs_isn_not_zero(t: &[Trace]) {
    let (syn, syn_ack, _) = handshake(&t[0], "c1", "s2");
    let (c, s) = (tcp(packet(&t[0], syn)).seq, tcp(packet(&t[0], syn_ack)).seq);
    assert!(c != 0 && s != 0 && c != s, "ISNs {c} and {s}");
}

fn hs_relative_zero(t: &[Trace]) {
    let (syn, syn_ack, _) = handshake(&t[0], "c1", "s2");
    assert_eq!(tcp(packet(&t[0], syn)).rel_seq, Some(0));
    assert_eq!(tcp(packet(&t[0], syn_ack)).rel_seq, Some(0));
}

fn hs_ack_is_isn_plus_one(t: &[Trace]) {
    let t = &t[0];
    let (syn, syn_ack, ack) = handshake(t, "c1", "s2");
    let (syn, syn_ack, ack) = (tcp(packet(t, syn)), tcp(packet(t, syn_ack)), tcp(packet(t, ack)));
    assert_eq!(syn_ack.ack, syn.seq.wrapping_add(1));
    assert_eq!(ack.ack, syn_ack.seq.wrapping_add(1));
    assert_eq!((syn_ack.rel_ack, ack.rel_ack), (Some(1), Some(1)));
}

fn hs_data_starts_at_one(t: &[Trace]) {
    let t = &t[0];
    let (syn, _, _) = handshake(t, "c1", "s2");
    let first = tcp(data_from(t, "c1")[0].1);
    assert_eq!(first.rel_seq, Some(1));
    assert_eq!(first.seq, tcp(packet(t, syn)).seq.wrapping_add(1));
}

fn hs_options(t: &[Trace]) {
    let t = &t[0];
    let (syn, syn_ack, ack) = handshake(t, "c1", "s2");
    for i in [syn, syn_ack] {
        let o = &tcp(packet(t, i)).options;
        assert_eq!((o.mss, o.sack_ok, o.ts.is_some(), o.wscale), (Some(65495), true, true, Some(10)), "{o:?}");
    }
    let o = &tcp(packet(t, ack)).options;
    assert_eq!((o.mss, o.sack_ok, o.ts.is_some(), o.wscale), (None, false, true, None), "only timestamps after the SYNs: {o:?}");
}

fn hs_window_scaled(t: &[Trace]) {
    let t = &t[0];
    let (syn, _, ack) = handshake(t, "c1", "s2");
    let (syn, ack) = (tcp(packet(t, syn)), tcp(packet(t, ack)));
    assert_eq!((syn.win, ack.win), (65495, 64));
    assert_eq!(u32::from(ack.win) << syn.options.wscale.expect("the client's scale"), 65536);
}

fn hs_child_born_at_third_ack(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let (syn, syn_ack, ack) = handshake(t, "c1", "s2");
    let observed = story.state("s2", State::Listen, State::SynReceived);
    story.in_order(&[
        ("SYN", syn),
        ("SYN|ACK", syn_ack),
        ("third ACK", ack),
        ("s2 SYN-RECEIVED (kernel)", observed),
        ("s2 ESTABLISHED (kernel)", story.state("s2", State::SynReceived, State::Established)),
    ]);
    assert!(t.events[observed].state().is_some_and(|s| s.model == Some(State::Established)), "the model is already ESTABLISHED then");
    // One row, the kernel's, with the difference named; no second, modelled one at the SYN.
    let rows = StatePaths::rows(&t.events);
    assert!(matches!(rows[observed].map(|r| r.mark), Some(Mark::Linux(d)) if d.id == "child-born-at-third-ack"), "{:?}", rows[observed]);
    let shown_on_s2 = |i: usize| rows[i].is_some() && t.events[i].is_on("s2");
    assert!((0..observed).all(|i| !shown_on_s2(i)), "s2 has no state row before the third ACK");
}

fn hs_syn_ack_from_listener(t: &[Trace]) {
    let (_, syn_ack, _) = handshake(&t[0], "c1", "s2");
    assert_eq!(sock(&t[0].events[syn_ack]), Some("s1"));
}

// ---- data -----------------------------------------------------------------------------

fn sent_by(t: &Trace, socket: &str) -> Vec<String> {
    t.events
        .calls_of(socket)
        .filter(|(_, _, s)| matches!(s.call, CallName::Send | CallName::Sendto))
        .filter_map(|(_, _, s)| s.args.data.as_ref().map(|d| d.text.clone()))
        .collect()
}

fn received_by(t: &Trace, socket: &str) -> Vec<(usize, String)> {
    t.events
        .call_ends_of(socket)
        .filter(|(_, _, end)| matches!(end.call, CallName::Recv | CallName::Recvfrom))
        .filter_map(|(i, _, end)| end.data.as_ref().map(|d| (i, d.text.clone())))
        .collect()
}

fn data_one_segment_per_send(t: &[Trace]) {
    let t = &t[0];
    let segments: Vec<String> = data_from(t, "c1").iter().map(|(_, p)| payload(p).to_string()).collect();
    assert_eq!(segments, sent_by(t, "c1"));
    assert_eq!(segments.len(), 3);
    assert!(calls_of(t, Role::Client).contains("setsockopt"), "TCP_NODELAY is set, and shown");
}

fn data_psh_ack(t: &[Trace]) {
    let t = &t[0];
    let psh_ack = TcpFlags::PSH.union(TcpFlags::ACK);
    for (_, _, p) in packets(t).into_iter().filter(|(_, _, p)| p.len > 0) {
        assert_eq!(tcp(p).flags, psh_ack);
    }
}

fn data_seq_counts_bytes(t: &[Trace]) {
    let t = &t[0];
    let seqs: Vec<Option<u32>> = data_from(t, "c1").iter().map(|(_, p)| tcp(p).rel_seq).collect();
    assert_eq!(seqs, [Some(1), Some(7), Some(20)]);
}

fn data_all_acknowledged(t: &[Trace]) {
    let t = &t[0];
    for (i, p) in data_from(t, "c1") {
        let end = tcp(p).rel_seq.expect("relative") + p.len;
        let acked = packets(t).into_iter().any(|(j, e, q)| j > i && sock(e) == Some("s2") && tcp(q).rel_ack.is_some_and(|a| a >= end));
        assert!(acked, "the segment at event {i} is acknowledged");
    }
}

fn data_numbered_echo(t: &[Trace]) {
    let t = &t[0];
    let answers: Vec<String> = data_from(t, "s2").iter().map(|(_, p)| payload(p).to_string()).collect();
    assert_eq!(answers, ["1: hello\\n", "2: how are you?\\n", "3: bye\\n"]);
}

fn data_recv_after_segment(t: &[Trace]) {
    let t = &t[0];
    let answers = data_from(t, "s2");
    for (i, text) in received_by(t, "c1") {
        assert!(answers.iter().any(|(j, p)| *j < i && payload(p) == text), "recv returning {text:?} at event {i} comes after its segment");
    }
}

fn data_bytes_arrive_whole(t: &[Trace]) {
    let t = &t[0];
    let joined = |parts: Vec<String>| parts.concat();
    assert_eq!(joined(sent_by(t, "c1")), joined(received_by(t, "s2").into_iter().map(|(_, s)| s).collect()));
    assert_eq!(joined(sent_by(t, "s2")), joined(received_by(t, "c1").into_iter().map(|(_, s)| s).collect()));
}

// ---- closing --------------------------------------------------------------------------

fn close_client_fin(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let (fin, who) = first_fin(t);
    assert_eq!(who, "c1", "the client sends the first FIN");
    story.in_order(&[
        ("close(c1) starts", story.call_start(CallName::Close, "c1")),
        ("c1 FIN-WAIT-1", story.state("c1", State::Established, State::FinWait1)),
        ("the FIN", fin),
    ]);
}

fn close_eof_after_fin(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let fin = story.packet(None, "c1", "s2", fin_ack(), "the client's FIN");
    story.in_order(&[("FIN", fin), ("s2 CLOSE-WAIT", story.state("s2", State::Established, State::CloseWait)), ("recv(s2) = 0", story.recv_eof("s2"))]);
}

fn close_fin_carries_ack(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let client_fin = story.packet(None, "c1", "s2", fin_ack(), "the client's FIN");
    let server_fin = story.packet(Some(client_fin), "s2", "c1", fin_ack(), "the server's FIN");
    assert_eq!(tcp(packet(t, server_fin)).rel_ack, tcp(packet(t, client_fin)).rel_seq.map(|s| s + 1));
    let between = packets(t).into_iter().filter(|(i, e, _)| *i > client_fin && *i < server_fin && sock(e) == Some("s2")).count();
    assert_eq!(between, 0, "no separate ACK of the client's FIN");
}

fn close_last_ack(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let server_fin = story.packet(None, "s2", "c1", fin_ack(), "the server's FIN");
    let last = story.packet(Some(server_fin), "c1", "s2", TcpFlags::ACK, "the last ACK");
    let fin = tcp(packet(t, server_fin));
    assert_eq!(tcp(packet(t, last)).ack, fin.seq.wrapping_add(1));
    story.in_order(&[
        ("close(s2)", story.call_start(CallName::Close, "s2")),
        ("s2 LAST-ACK", story.state("s2", State::CloseWait, State::LastAck)),
        ("server FIN", server_fin),
        ("last ACK", last),
        ("s2 CLOSED", story.state("s2", State::LastAck, State::Closed)),
    ]);
}

fn close_linux_reports_closed(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let closed = story.state("c1", State::FinWait2, State::Closed);
    story.in_order(&[("c1 FIN-WAIT-2", story.state("c1", State::FinWait1, State::FinWait2)), ("c1 CLOSED", closed)]);
    assert!(!observed_time_wait(t));
    // The path shows TIME-WAIT on the row of that report, and says what was reported.
    let row = StatePaths::rows(&t.events)[closed].expect("a row");
    assert_eq!((row.from, row.to, row.reported), (State::FinWait2, State::TimeWait, Some(State::Closed)));
}

fn close_mirrored(t: &[Trace]) {
    let story = Story::new(&t[0].events);
    story.in_order(&[
        ("s2 FIN-WAIT-1", story.state("s2", State::Established, State::FinWait1)),
        ("c1 CLOSE-WAIT", story.state("c1", State::Established, State::CloseWait)),
        ("s2 FIN-WAIT-2", story.state("s2", State::FinWait1, State::FinWait2)),
    ]);
    story.in_order(&[
        ("c1 CLOSE-WAIT", story.state("c1", State::Established, State::CloseWait)),
        ("c1 LAST-ACK", story.state("c1", State::CloseWait, State::LastAck)),
        ("c1 CLOSED", story.state("c1", State::LastAck, State::Closed)),
    ]);
}

fn close_only_first_closer_waits(t: &[Trace]) {
    for (trace, closer) in t.iter().zip(["c1", "s2"]) {
        assert_eq!(first_fin(trace).1, closer);
        assert_eq!(time_waiters(trace), BTreeSet::from([closer]), "{}", trace.header.command);
        assert!(!observed_time_wait(trace));
        // The row that enters TIME-WAIT is the kernel's report of CLOSED.
        let rows = StatePaths::rows(&trace.events);
        let waits: Vec<_> = rows.iter().flatten().filter(|r| r.to == State::TimeWait).map(|r| r.reported).collect();
        assert_eq!(waits, [Some(State::Closed)], "{}", trace.header.command);
    }
}

fn half_close_fin_first(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let fin = story.packet(None, "c1", "s2", fin_ack(), "the client's FIN");
    let first_answer = data_from(t, "s2")[0].0;
    story.in_order(&[
        ("shutdown starts", story.call_start(CallName::Shutdown, "c1")),
        ("c1 FIN-WAIT-1", story.state("c1", State::Established, State::FinWait1)),
        ("FIN", fin),
        ("s2 CLOSE-WAIT", story.state("s2", State::Established, State::CloseWait)),
        ("recv(s2) = 0", story.recv_eof("s2")),
        ("first answer", first_answer),
    ]);
}

fn half_close_answers_after_fin(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let fin = story.packet(None, "c1", "s2", fin_ack(), "the client's FIN");
    let answers = data_from(t, "s2");
    assert_eq!(answers.iter().map(|(_, p)| payload(p)).collect::<Vec<_>>(), ["1: hello\\n", "2: how are you?\\n", "3: bye\\n"]);
    assert!(answers.iter().all(|(i, _)| *i > fin), "every answer after the client's FIN");
    let shutdown_end = story.call_end(CallName::Shutdown, "c1");
    assert!(received_by(t, "c1").iter().any(|(i, _)| *i > shutdown_end), "the client still receives");
    let server_fin = story.packet(Some(fin), "s2", "c1", fin_ack(), "the server's FIN");
    story.in_order(&[("c1 FIN-WAIT-2", story.state("c1", State::FinWait1, State::FinWait2)), ("server FIN", server_fin)]);
}

fn half_close_client_waits(t: &[Trace]) {
    assert_eq!(time_waiters(&t[0]), BTreeSet::from(["c1"]));
}

// ---- failures -------------------------------------------------------------------------

fn fail_refused_rst(t: &[Trace]) {
    let t = &t[0];
    let all = packets(t);
    let syn = tcp(all[0].2);
    let (_, e, rst) = all.iter().find(|(_, _, p)| tcp(p).flags == TcpFlags::RST.union(TcpFlags::ACK)).expect("RST|ACK");
    assert_eq!(syn.flags, TcpFlags::SYN);
    assert_eq!(tcp(rst).ack, syn.seq.wrapping_add(1));
    assert_eq!(rst.to, Some(SockId("c1".into())));
    assert_eq!(e.socket, None, "the reset comes from no socket");
    assert!(t.events.iter().all(|e| e.socket.as_ref().is_none_or(|s| s.0 == "c1")), "no server socket in the trace");
}

fn fail_refused_error(t: &[Trace]) {
    let story = Story::new(&t[0].events);
    story.state("c1", State::SynSent, State::Closed);
    let end = story.end_of(story.call_end(CallName::Connect, "c1"));
    assert_eq!((end.ret, end.errno.as_ref().map(|e| e.name.as_str())), (-1, Some("ECONNREFUSED")));
}

fn fail_refused_fast(t: &[Trace]) {
    let story = Story::new(&t[0].events);
    let took = t[0].events[story.call_end(CallName::Connect, "c1")].t - t[0].events[story.call_start(CallName::Connect, "c1")].t;
    assert!(took < 1_000_000, "connect failed in {took} ns");
}

/// The SYNs of the client, with their event index.
fn client_syns(t: &Trace) -> Vec<(usize, &Event, &Packet)> {
    packets(t).into_iter().filter(|(_, _, p)| tcp(p).flags == TcpFlags::SYN).collect()
}

fn fail_syn_marked_lost(t: &[Trace]) {
    let t = &t[0];
    assert_eq!(t.header.source, Source::Live, "a live recording");
    let syns = client_syns(t);
    assert_eq!(syns[0].2.dropped.as_deref(), Some("socktrace --drop"), "the first SYN is marked, by the dropper");
    assert_eq!(syns[0].1.origin, Origin::Observed, "the capture saw it cross lo");
    assert!(packets(t).iter().filter(|(_, _, p)| p.dropped.is_some()).count() == 1, "only that one is lost");
    let listener_changed = t.events.iter().any(|e| e.origin == Origin::Observed && e.state().is_some_and(|c| c.from == State::Listen) && e.t < syns[1].1.t);
    assert!(!listener_changed, "the server's side did not react to it");
}

fn fail_syn_sent_again(t: &[Trace]) {
    let t = &t[0];
    let syns = client_syns(t);
    assert_eq!(syns.len(), 2);
    assert_eq!(tcp(syns[0].2).seq, tcp(syns[1].2).seq, "the same SYN again");
    assert!(syns[1].1.t - syns[0].1.t >= 1_000_000_000, "after the 1 s initial RTO");
    assert!(syns[1].1.t - syns[0].1.t < 1_100_000_000, "after about one second");
    let first_syn_ack = find(t, "the SYN|ACK", |e| e.segment().is_some_and(|s| s.flags == syn_ack()));
    assert!(first_syn_ack > syns[1].0);
}

fn fail_syn_retransmit_note(t: &[Trace]) {
    let t = &t[0];
    let syns = client_syns(t);
    let note = find(t, "the kernel's retransmission note", |e| matches!(e.kernel(), Some(socktrace::event::KernelNote::Retransmit { .. })));
    assert_eq!(t.events[note].socket, Some(SockId("c1".into())));
    assert!(syns[0].0 < note && note < syns[1].0, "between the two SYNs, just before the second");
}

fn fail_connect_waits(t: &[Trace]) {
    let story = Story::new(&t[0].events);
    let took = t[0].events[story.call_end(CallName::Connect, "c1")].t - t[0].events[story.call_start(CallName::Connect, "c1")].t;
    assert!((1_000_000_000..1_100_000_000).contains(&took), "connect took {took} ns");
}

fn fail_model_agrees(t: &[Trace]) {
    assert_eq!((t[0].header.source, t[1].header.source), (Source::Live, Source::Simulated));
    let (live, model) = (socktrace::normalize::lesson_view(&t[0].events), socktrace::normalize::lesson_view(&t[1].events));
    assert!(live.contains("c1 wire: > SYN seq 0 | > SYN seq 0 | < SYN|ACK seq 0 ack 1"), "the lost SYN and its retransmission:\n{live}");
    assert_eq!(live, model);
}

fn fail_recv_joins_lines(t: &[Trace]) {
    let t = &t[0];
    let joined = ["c1", "s2"].iter().flat_map(|s| received_by(t, s)).any(|(_, text)| text.matches("\\n").count() >= 2);
    assert!(joined, "a recv returned two lines or more");
}

// ---- many clients ---------------------------------------------------------------------

fn many_accepts(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let clients: Vec<String> = story.created(Role::Client, CallName::Socket).into_iter().map(|s| s.0.to_string()).collect();
    assert_eq!(clients, ["c1", "c2", "c3"]);
    let accepted: Vec<String> = story.created(Role::Server, CallName::Accept).into_iter().map(|s| s.0.to_string()).collect();
    assert_eq!(accepted, ["s2", "s3", "s4"]);
    let fds: BTreeSet<i64> = ends(t, Role::Server, CallName::Accept).iter().map(|(_, _, e)| e.ret).collect();
    assert_eq!(fds.len(), 3, "three descriptors");
}

fn many_handshakes_before_accept(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let first_accept = ends(t, Role::Server, CallName::Accept)[0].0;
    for s in ["s2", "s3", "s4"] {
        assert!(story.state(s, State::SynReceived, State::Established) < first_accept, "{s} ESTABLISHED before the first accept returns");
    }
}

fn many_four_tuples(t: &[Trace]) {
    let t = &t[0];
    let port = bound_port(t);
    let locals: Vec<_> = ends(t, Role::Client, CallName::Connect).iter().map(|(_, _, e)| e.local.expect("client address")).collect();
    assert_eq!(locals.iter().map(|a| a.port()).collect::<BTreeSet<_>>().len(), 3, "three client ports");
    let accepts = ends(t, Role::Server, CallName::Accept);
    for (_, _, end) in &accepts {
        assert_eq!(end.local.expect("local").port(), port, "the server's side has the listening port");
        assert!(locals.contains(&end.peer.expect("peer")));
    }
}

fn many_own_isns(t: &[Trace]) {
    let t = &t[0];
    let isns = |flags: TcpFlags| packets(t).into_iter().filter(|(_, _, p)| tcp(p).flags == flags).map(|(_, _, p)| tcp(p).seq).collect::<BTreeSet<u32>>();
    assert_eq!(isns(TcpFlags::SYN).len(), 3);
    assert_eq!(isns(syn_ack()).len(), 3);
}

// ---- IPv6 -----------------------------------------------------------------------------

fn ipv6_same_story(t: &[Trace]) {
    let (v4, v6) = (&t[0], &t[1]);
    let loopback = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    for e in &v6.events {
        match &e.body {
            Body::CallStart(s) if s.call == CallName::Socket => assert_eq!(s.args.domain.as_deref(), Some("AF_INET6")),
            Body::Packet(p) => assert_eq!((p.src.ip(), p.dst.ip()), (loopback, loopback), "{e:?}"),
            Body::State(s) => {
                for addr in s.local.iter().chain(s.remote.iter()).filter(|a| a.port() != 0) {
                    assert_eq!(addr.ip(), loopback, "{e:?}");
                }
            }
            _ => {}
        }
    }
    let view = |t: &Trace| socktrace::normalize::lesson_view(&t.events);
    assert!(view(v6).contains("c1 states: SYN-SENT"), "{}", view(v6));
    assert_eq!(view(v4), view(v6), "IPv4 (left) and IPv6 (right) tell the same story");
}

fn ipv6_mss(t: &[Trace]) {
    let t = &t[0];
    let (syn, syn_ack, _) = handshake(t, "c1", "s2");
    for i in [syn, syn_ack] {
        // lo's MTU less the IPv6 and TCP headers.
        assert_eq!(tcp(packet(t, i)).options.mss.map(u32::from), Some(65_536 - 40 - 20));
    }
}

// ---- UDP ------------------------------------------------------------------------------

fn udp_no_handshake(t: &[Trace]) {
    let t = &t[0];
    assert_eq!(t.header.source, Source::Live);
    assert_eq!(t.header.lenses.states, socktrace::trace::LensStatus::Observed, "the kernel-state lens was watching");
    let all = packets(t);
    assert!(all.iter().all(|(_, _, p)| p.tcp.is_none()), "no TCP segment");
    assert_eq!(payload(all[0].2), "hello\\n", "the first packet carries data");
    assert!(!t.events.iter().any(|e| e.state().is_some() || e.kernel().is_some()), "no states");
}

fn udp_no_listen(t: &[Trace]) {
    let t = &t[0];
    let server = calls_of(t, Role::Server);
    let client = calls_of(t, Role::Client);
    assert!(!server.contains("listen") && !server.contains("accept") && !client.contains("connect"), "{server:?} {client:?}");
    let bound = ends(t, Role::Server, CallName::Bind)[0].2.local;
    for (_, _, s) in starts(t, Role::Client).into_iter().filter(|(_, _, s)| s.call == CallName::Sendto) {
        assert_eq!(s.args.addr, bound, "every sendto names the server");
    }
    for (_, _, s) in starts(t, Role::Server).into_iter().chain(starts(t, Role::Client)).filter(|(_, _, s)| s.call == CallName::Socket) {
        assert_eq!(s.args.ty.as_deref(), Some("SOCK_DGRAM"));
    }
}

fn udp_datagrams(t: &[Trace]) {
    let t = &t[0];
    let payloads: Vec<String> = packets(t).iter().map(|(_, _, p)| payload(p).to_string()).collect();
    let sent: Vec<String> = ["c1", "s1"].iter().flat_map(|s| sent_by(t, s)).collect();
    assert_eq!(payloads.len(), sent.len(), "one datagram per sendto");
    for text in sent {
        assert!(payloads.contains(&text));
    }
    for (_, text) in ["c1", "s1"].iter().flat_map(|s| received_by(t, s)) {
        assert!(payloads.contains(&text), "recvfrom returned one whole datagram: {text:?}");
    }
}

fn udp_answer_to_sender(t: &[Trace]) {
    let t = &t[0];
    let peers: Vec<_> = ends(t, Role::Server, CallName::Recvfrom).iter().map(|(_, _, e)| e.peer.expect("recvfrom's sender")).collect();
    let answers: Vec<_> =
        starts(t, Role::Server).into_iter().filter(|(_, _, s)| s.call == CallName::Sendto).map(|(_, _, s)| s.args.addr.expect("an address")).collect();
    assert_eq!(answers.len(), 3);
    assert!(answers.iter().all(|a| peers.contains(a)));
}

fn udp_port_on_first_sendto(t: &[Trace]) {
    let t = &t[0];
    let client_calls = calls_of(t, Role::Client);
    assert!(!client_calls.contains("bind"), "{client_calls:?}");
    let (first_end, _, end) = ends(t, Role::Client, CallName::Sendto)[0];
    let local = end.local.expect("the first sendto reports the client's address");
    assert!(local.ip().is_unspecified() && local.port() != 0, "every local address, a port the kernel picked: {local}");
    let (_, e, first) = packets(t)[0];
    assert_eq!(sock(e), Some("c1"));
    assert_eq!(first.src, std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port()), "the datagram leaves from 127.0.0.1 on that port");
    let sendto_start = starts(t, Role::Client).into_iter().find(|(_, _, s)| s.call == CallName::Sendto).expect("a sendto").0;
    assert!(sendto_start < packets(t)[0].0 && packets(t)[0].0 < first_end, "during the first sendto");
}

fn udp_close_sends_nothing(t: &[Trace]) {
    let t = &t[0];
    let (server_close, _, _) = ends(t, Role::Server, CallName::Close)[0];
    let server_close_start = server_close - 1;
    assert!(t.events[server_close_start].call_start().is_some_and(|s| s.call == CallName::Close), "close runs alone");
    let last_answer = ends(t, Role::Server, CallName::Sendto).last().expect("the server answers").0;
    assert!(last_answer < server_close_start, "the server closes after answering");
    let last_read = ends(t, Role::Client, CallName::Recvfrom).last().expect("the client reads").0;
    let client_close = starts(t, Role::Client).into_iter().find(|(_, _, s)| s.call == CallName::Close).expect("the client closes").0;
    assert!(last_read < client_close, "the client closes after reading the answer");
    let all = packets(t);
    let (last, e, p) = all.last().expect("datagrams");
    assert!(*last < server_close_start, "no packet once the first close starts");
    assert_eq!((sock(e), payload(p)), (Some("s1"), "3: bye\\n"), "the last datagram is the server's answer");
}

fn udp_check_conforms(t: &[Trace]) {
    let report = socktrace::check::check(&t[0], &socktrace::check::CheckOptions::default());
    assert!(report.conforms(), "trace check conforms");
    let sequences: BTreeSet<&str> = report.sockets.iter().map(|s| s.sequence.id).collect();
    assert_eq!(sequences, BTreeSet::from(["datagram-client", "datagram-server"]));
    for socket in &report.sockets {
        assert_eq!(socket.sequence.steps.len(), 4, "four steps on each side");
    }
}

fn udp_sequence_panel(t: &[Trace]) {
    let replay = Replay::of(&t[0]);
    assert_eq!(replay.sequences.map(|s| s.id), ["datagram-server", "datagram-client"], "the panel shows the connectionless sequences");
    for (k, sequence) in [&sequence::DATAGRAM_SERVER, &sequence::DATAGRAM_CLIENT].into_iter().enumerate() {
        let all: Vec<&str> = sequence.steps.iter().map(|s| s.id).collect();
        assert_eq!(ticked_at_the_end(&t[0], k), all, "every step of {} ticked", sequence.id);
    }
}

// ---- coursework and reference ---------------------------------------------------------

fn course_live_equals_model(t: &[Trace]) {
    let model = socktrace::sim::run("echo", &socktrace::sim::Options::default()).expect("the echo scenario");
    assert_eq!(socktrace::normalize::lesson_view(&t[0].events), socktrace::normalize::lesson_view(&model));
}

/// Every relative number the server's side gives counts its bytes: one for its SYN, then its
/// answers, then one for its FIN. Echoed without `n: `, the answers are the client's lines.
fn course_unnumbered_moves_closing(t: &[Trace]) {
    let t = &t[0];
    let bytes = |from| data_from(t, from).iter().map(|(_, p)| p.len).sum::<u32>();
    let (lines, answers) = (bytes("c1"), bytes("s2"));
    assert_eq!((lines, answers), (23, 32), "the client's lines, and the numbered answers");
    let story = Story::new(&t.events);
    let client_fin = story.packet(None, "c1", "s2", fin_ack(), "the client's FIN");
    let server_fin = story.packet(Some(client_fin), "s2", "c1", fin_ack(), "the server's FIN");
    let last = story.packet(Some(server_fin), "c1", "s2", TcpFlags::ACK, "the last ACK");
    let closing = [tcp(packet(t, client_fin)).rel_ack, tcp(packet(t, server_fin)).rel_seq, tcp(packet(t, last)).rel_ack];
    let counted = |sent: u32| [Some(1 + sent), Some(1 + sent), Some(1 + sent + 1)];
    assert_eq!(closing, counted(answers));
    assert_eq!(closing, [Some(33), Some(33), Some(34)]);
    assert_eq!(counted(lines), [Some(24), Some(24), Some(25)], "the same segments without the prefixes");
}

fn ref_payload_is_text(t: &[Trace]) {
    let sent = sent_by(&t[0], "c1").concat();
    for piece in ["<img src=x onerror=", "</script><script>", "{{#include ../../Cargo.toml}}"] {
        assert!(sent.contains(piece), "the fixture carries {piece:?}");
    }
}

// ---- peer to peer ---------------------------------------------------------------------

/// The end of the call that made `socket` (`socket()` or `accept()`).
fn maker<'a>(t: &'a Trace, socket: &str) -> &'a Event {
    t.events.iter().find(|e| e.new_socket().is_some_and(|s| s.0 == socket)).unwrap_or_else(|| panic!("nothing made {socket}"))
}

/// The program that made `socket` (by `socket()` or `accept()`).
fn peer_of(t: &Trace, socket: &str) -> Peer {
    maker(t, socket).actor.peer.unwrap_or_else(|| panic!("no peer made {socket}"))
}

/// Each connection of a peer session: (client socket, the listening socket it reached, the
/// socket accept returned for it).
fn p2p_connections(t: &Trace) -> Vec<(String, String, String)> {
    let listeners: Vec<(String, std::net::SocketAddr)> = ends(t, Role::Server, CallName::Bind)
        .iter()
        .map(|(_, e, end)| (sock(e).expect("bound socket").to_string(), end.local.expect("bound address")))
        .collect();
    ends(t, Role::Client, CallName::Connect)
        .iter()
        .map(|(_, e, end)| {
            let client = sock(e).expect("connecting socket").to_string();
            let target = end.peer.expect("connect names its peer");
            let listener = listeners.iter().find(|(_, addr)| *addr == target).expect("a listening socket at the target").0.clone();
            let local = end.local.expect("connect names its own address");
            let accepted = ends(t, Role::Server, CallName::Accept)
                .iter()
                .find(|(_, _, a)| a.peer == Some(local))
                .and_then(|(_, _, a)| a.new_socket.clone())
                .expect("an accept returned this connection")
                .0
                .to_string();
            (client, listener, accepted)
        })
        .collect()
}

fn p2p_each_listens_and_connects(t: &[Trace]) {
    let t = &t[0];
    for peer in [Peer('A'), Peer('B')] {
        let did = |role: Role, call: CallName| ends(t, role, call).iter().any(|(_, e, end)| e.actor.peer == Some(peer) && end.ret >= 0);
        assert!(did(Role::Server, CallName::Listen), "{peer} listens");
        assert!(did(Role::Server, CallName::Accept), "{peer} accepts");
        assert!(did(Role::Client, CallName::Connect), "{peer} connects");
    }
}

fn p2p_two_connections(t: &[Trace]) {
    let t = &t[0];
    let connections = p2p_connections(t);
    assert_eq!(connections.len(), 2);
    assert_eq!(ends(t, Role::Server, CallName::Accept).len(), 2, "two sockets returned by accept");
    for (client, listener, accepted) in &connections {
        assert_ne!(peer_of(t, client), peer_of(t, accepted), "a connection joins A and B");
        assert_eq!(peer_of(t, listener), peer_of(t, accepted), "accept returns the socket to the listener's program");
    }
}

fn p2p_each_handshake(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    for (client, listener, accepted) in p2p_connections(t) {
        let syn = story.packet(None, &client, &listener, TcpFlags::SYN, "the SYN to the other peer's listening socket");
        let syn_ack = story.packet(Some(syn), &listener, &client, syn_ack(), "the SYN|ACK from it");
        story.packet(Some(syn_ack), &client, &accepted, TcpFlags::ACK, "the third ACK to the accepted socket");
    }
}

fn p2p_data_both_ways(t: &[Trace]) {
    let t = &t[0];
    for (client, _, accepted) in p2p_connections(t) {
        let me = peer_of(t, &client);
        let sent: Vec<&str> = data_from(t, &client).into_iter().map(|(_, p)| payload(p)).collect();
        let answered: Vec<&str> = data_from(t, &accepted).into_iter().map(|(_, p)| payload(p)).collect();
        assert_eq!(sent, [format!("hello from {me}\\n")], "the connecting peer's line");
        assert_eq!(answered, [format!("1: hello from {me}\\n")], "the accepting peer's answer");
    }
    // So each program sends data on a socket of each role.
    for peer in [Peer('A'), Peer('B')] {
        let roles: BTreeSet<Role> = packets(t).into_iter().filter(|(_, e, p)| p.len > 0 && e.actor.peer == Some(peer)).map(|(_, e, _)| e.actor.role).collect();
        assert_eq!(roles, BTreeSet::from([Role::Client, Role::Server]), "{peer} sends as client and as server");
    }
}

fn p2p_two_ports(t: &[Trace]) {
    let t = &t[0];
    for (_, e, end) in ends(t, Role::Client, CallName::Connect) {
        let peer = e.actor.peer.expect("a peer's connect");
        let own_port = ends(t, Role::Server, CallName::Bind)
            .iter()
            .find(|(_, b, _)| b.actor.peer == Some(peer))
            .and_then(|(_, _, b)| b.local)
            .expect("the peer's listening port")
            .port();
        assert_ne!(end.local.expect("connect's local address").port(), own_port, "{peer} connects from another port than it listens on");
    }
}

/// Two connections, each socket conforming: four server sockets (two listening, two
/// accepted) and two client sockets.
fn two_connections_conform(t: &[Trace]) {
    let report = socktrace::check::check(&t[0], &socktrace::check::CheckOptions::default());
    assert!(report.conforms(), "{report}");
    let roles: Vec<Role> = report.sockets.iter().map(|s| s.sequence.role).collect();
    assert_eq!(roles.iter().filter(|r| **r == Role::Server).count(), 4, "two listening and two accepted sockets: {roles:?}");
    assert_eq!(roles.iter().filter(|r| **r == Role::Client).count(), 2, "two connecting sockets: {roles:?}");
}

/// The process that made a socket (by `socket` or `accept`).
fn pid_of(t: &Trace, socket: &str) -> u32 {
    maker(t, socket).actor.pid.unwrap_or_else(|| panic!("no process made {socket}"))
}

/// Where `connect` on a socket went, and the listening socket bound there.
fn connected_to(t: &Trace, client: &str) -> (usize, String) {
    let (i, _, end) = *ends(t, Role::Client, CallName::Connect).iter().find(|(_, e, _)| sock(e) == Some(client)).unwrap_or_else(|| panic!("{client} connects"));
    let target = end.peer.expect("connect names its peer");
    let listener =
        ends(t, Role::Server, CallName::Bind).iter().find(|(_, _, b)| b.local == Some(target)).map(|(_, e, _)| sock(e).expect("bound socket").to_string());
    (i, listener.unwrap_or_else(|| panic!("{client} connects to a socket bound in the trace")))
}

/// The socket `accept` returned for a client socket (the one whose peer is its address).
fn accepted_for(t: &Trace, client: &str) -> (usize, String) {
    let (_, _, end) = *ends(t, Role::Client, CallName::Connect).iter().find(|(_, e, _)| sock(e) == Some(client)).unwrap_or_else(|| panic!("{client} connects"));
    let local = end.local.expect("connect names its own address");
    let (i, _, a) = *ends(t, Role::Server, CallName::Accept).iter().find(|(_, _, a)| a.peer == Some(local)).unwrap_or_else(|| panic!("an accept for {client}"));
    (i, a.new_socket.as_ref().expect("accept's socket").0.to_string())
}

/// The relay: one process with a listening socket, the socket accept returned for its
/// client, and a socket it connects to the next server, which another process runs.
fn relay_sockets(t: &Trace) -> (String, String, String) {
    let (_, listener) = connected_to(t, "c1");
    let (_, accepted) = accepted_for(t, "c1");
    let onward = ends(t, Role::Client, CallName::Connect)
        .iter()
        .map(|(_, e, _)| sock(e).expect("connecting socket").to_string())
        .find(|c| c != "c1" && pid_of(t, c) == pid_of(t, &listener))
        .expect("the relay's own connect");
    (listener, accepted, onward)
}

fn roles_relay_both(t: &[Trace]) {
    let t = &t[0];
    let (listener, accepted, onward) = relay_sockets(t);
    let relay = pid_of(t, &listener);
    assert_eq!(pid_of(t, &accepted), relay, "accept returns the client's connection to the relay");
    let (_, next_listener) = connected_to(t, &onward);
    assert_ne!(pid_of(t, &next_listener), relay, "the next server is another program");
    assert_ne!(pid_of(t, "c1"), relay, "the relay's client is another program");
    // A `socket()` call starts on no socket yet: only calls made on one carry its role.
    for e in t.events.iter().filter(|e| e.actor.pid == Some(relay) && e.socket.is_some() && e.call_start().is_some()) {
        let expected = if sock(e) == Some(onward.as_str()) { Role::Client } else { Role::Server };
        assert_eq!(e.actor.role, expected, "the relay's role is its socket's: {e:?}");
    }
}

fn roles_relay_accepts_then_connects(t: &[Trace]) {
    let t = &t[0];
    let story = Story::new(&t.events);
    let (_, accepted, onward) = relay_sockets(t);
    let (accept_end, _) = accepted_for(t, "c1");
    let connect = story.call_start(CallName::Connect, &onward);
    assert!(accept_end < connect, "the relay connects onward only once it has its client");
    let first_line = story.data("c1", "hello\\n");
    let relayed = story.data(&onward, "hello\\n");
    let recv = t.events.call_ends_of(&accepted).find(|(_, _, end)| end.call.verb() == socktrace::event::Verb::Recv && end.ret > 0).map(|(i, _, _)| i);
    let recv = recv.expect("the relay receives its client's line");
    story.in_order(&[("the client's line", first_line), ("the relay's recv", recv), ("the line passed on", relayed)]);
}

/// FTP's active mode: (the control connection's client, its accepted socket, the data
/// connection's client socket, the listening socket it reached, its accepted socket).
fn ftp_sockets(t: &Trace) -> (String, String, String, String, String) {
    let (_, control_accepted) = accepted_for(t, "c1");
    let data = ends(t, Role::Client, CallName::Connect)
        .iter()
        .map(|(_, e, _)| sock(e).expect("connecting socket").to_string())
        .find(|c| c != "c1")
        .expect("a second connect");
    let (_, data_listener) = connected_to(t, &data);
    let (_, data_accepted) = accepted_for(t, &data);
    ("c1".into(), control_accepted, data, data_listener, data_accepted)
}

fn roles_swap(t: &[Trace]) {
    let t = &t[0];
    let (control, control_accepted, data, data_listener, data_accepted) = ftp_sockets(t);
    let client_program = pid_of(t, &control);
    let server_program = pid_of(t, &control_accepted);
    assert_ne!(client_program, server_program);
    assert_eq!(pid_of(t, &data), server_program, "the control connection's server connects for the data");
    assert_eq!(pid_of(t, &data_listener), client_program, "the control connection's client listens for it");
    assert_eq!(pid_of(t, &data_accepted), client_program, "and accepts it");
    let story = Story::new(&t.events);
    let (control_accept_end, _) = accepted_for(t, &control);
    assert!(control_accept_end < story.call_start(CallName::Connect, &data), "the swap comes in the middle of the session");
    let control_close = story.call_start(CallName::Close, &control);
    assert!(story.call_end(CallName::Close, &data) < control_close, "the data connection ends while the control connection is still open");
}

fn roles_swap_port_names_listener(t: &[Trace]) {
    let t = &t[0];
    let (_, _, _, data_listener, _) = ftp_sockets(t);
    let bound = ends(t, Role::Server, CallName::Bind)
        .iter()
        .find(|(_, e, _)| sock(e) == Some(data_listener.as_str()))
        .and_then(|(_, _, b)| b.local)
        .expect("the data listener's address");
    let port_line = t
        .events
        .packets_from("c1")
        .find_map(|(_, _, p)| p.payload.as_ref().filter(|pl| pl.text.starts_with("PORT ")).map(|pl| pl.text.clone()))
        .expect("the client sends PORT on the control connection");
    let numbers: Vec<u16> = port_line["PORT ".len()..].trim_end_matches("\\r\\n").split(',').map(|n| n.parse().expect("a number")).collect();
    assert_eq!(numbers.len(), 6, "{port_line}");
    assert_eq!(&numbers[..4], &[127, 0, 0, 1], "h1..h4 are the address");
    assert_eq!(numbers[4] * 256 + numbers[5], bound.port(), "p1 × 256 + p2 is the port the data listener bound");
}

fn roles_swap_one_way(t: &[Trace]) {
    let t = &t[0];
    let (control, control_accepted, data, _, data_accepted) = ftp_sockets(t);
    let report = socktrace::check::check(t, &socktrace::check::CheckOptions::default());
    let deviating: BTreeSet<&str> = report.sockets.iter().filter(|s| !s.conforms()).map(|s| s.socket.0.as_str()).collect();
    assert_eq!(deviating, BTreeSet::from([data.as_str(), data_accepted.as_str()]), "only the data connection deviates: {report}");
    for s in report.sockets.iter().filter(|s| !s.conforms()) {
        let not_met: Vec<&str> = s.steps.iter().filter(|st| !st.reasons.is_empty()).map(|st| st.step.id).collect();
        assert_eq!(not_met.len(), 1, "{}: one step not met: {not_met:?}", s.socket);
    }
    let payload_from = |socket: &str| t.events.packets_from(socket).any(|(_, _, p)| p.len > 0);
    assert!(payload_from(&data), "the file goes from the data connection's client");
    assert!(!payload_from(&data_accepted), "and nothing comes back");
    assert!(payload_from(&control) && payload_from(&control_accepted), "the control connection carries words both ways");
}
