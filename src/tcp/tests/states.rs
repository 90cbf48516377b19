//! One group per state; each state is built from the one before it, as a connection lives.
//! A (ISS 100) opens actively; B (ISS 300) passively.
#![allow(non_snake_case)] // names read state__event__outcome

use super::*;
use crate::tcp::endpoint::{CallError, Config, Failure, Received, SECOND};

// ---------------------------------------------------------------------------------------------
// CLOSED

#[test]
fn closed__syn__rst_ack() {
    let mut b = endpoint(300);
    assert_eq!(arrive(&mut b, 0, "<SEQ=100><CTL=SYN>"), ["<SEQ=0><ACK=101><CTL=RST,ACK>"]);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn closed__ack__rst_numbered_from_its_ack() {
    let mut b = endpoint(300);
    assert_eq!(arrive(&mut b, 0, "<SEQ=5><ACK=77><CTL=ACK>"), ["<SEQ=77><CTL=RST>"]);
}

#[test]
fn closed__rst__nothing() {
    let mut b = endpoint(300);
    assert!(arrive(&mut b, 0, "<SEQ=5><CTL=RST>").is_empty());
}

#[test]
fn closed__passive_open__listen() {
    let mut b = endpoint(300);
    b.open_passive(0).unwrap();
    assert_eq!(b.take_output(), [Output::State { from: State::Closed, to: State::Listen }]);
}

#[test]
fn closed__active_open__syn_sent_then_syn() {
    let mut a = endpoint(100);
    a.open_active(0).unwrap();
    let out = a.take_output();
    assert_eq!(out[0], Output::State { from: State::Closed, to: State::SynSent }, "the state change comes first");
    let Output::Segment(syn) = &out[1] else { panic!("expected the SYN, got {out:?}") };
    assert_eq!(syn.to_string(), "<SEQ=100><CTL=SYN>");
    assert_eq!(out.len(), 2);
}

#[test]
fn closed__send__not_connected() {
    let mut a = endpoint(100);
    assert_eq!(a.send(0, b"x"), Err(CallError::NotConnected));
    assert_eq!(a.close(0), Err(CallError::NotConnected));
}

// ---------------------------------------------------------------------------------------------
// LISTEN

fn listen() -> Endpoint {
    let mut b = endpoint(300);
    b.open_passive(0).unwrap();
    b.take_output();
    b
}

#[test]
fn listen__syn__syn_received() {
    let mut b = listen();
    assert_eq!(arrive(&mut b, 0, "<SEQ=100><CTL=SYN>"), ["<SEQ=300><ACK=101><CTL=SYN,ACK>"]);
    assert_eq!(b.state(), State::SynReceived);
    let tcb = b.tcb();
    assert_eq!((tcb.irs, tcb.rcv_nxt, tcb.snd_una, tcb.snd_nxt), (100, 101, 300, 301));
}

#[test]
fn listen__ack__rst() {
    let mut b = listen();
    assert_eq!(arrive(&mut b, 0, "<SEQ=5><ACK=9><CTL=ACK>"), ["<SEQ=9><CTL=RST>"]);
    assert_eq!(b.state(), State::Listen);
}

#[test]
fn listen__rst__ignored() {
    let mut b = listen();
    assert!(arrive(&mut b, 0, "<SEQ=5><CTL=RST>").is_empty());
    assert_eq!(b.state(), State::Listen);
}

#[test]
fn listen__close__closed() {
    let mut b = listen();
    b.close(0).unwrap();
    assert_eq!(b.take_output(), [Output::State { from: State::Listen, to: State::Closed }]);
}

#[test]
fn listen__fork__child_answers_with_its_own_iss_and_listener_stays() {
    let b = listen();
    let mut child = b.fork(700);
    assert_eq!(arrive(&mut child, 0, "<SEQ=100><CTL=SYN>"), ["<SEQ=700><ACK=101><CTL=SYN,ACK>"]);
    assert_eq!((b.state(), child.state()), (State::Listen, State::SynReceived));
}

#[test]
fn listen__syn__syn_ack_offers_only_what_the_syn_offered() {
    let mut b = listen();
    b.segment_arrives(0, &seg("<SEQ=100><CTL=SYN>"));
    let synack = &segments(&mut b)[0];
    assert_eq!(synack.options, TcpOptions { mss: Some(65495), ..TcpOptions::default() });
}

// ---------------------------------------------------------------------------------------------
// SYN-SENT

fn syn_sent() -> Endpoint {
    let mut a = endpoint(100);
    a.open_active(0).unwrap();
    a.take_output();
    a
}

#[test]
fn syn_sent__first_syn__offers_linux_loopback_options() {
    let mut a = endpoint(100);
    a.open_active(0).unwrap();
    let syn = &segments(&mut a)[0];
    assert_eq!(syn.wnd, 65495);
    let options = TcpOptions { mss: Some(65495), wscale: Some(7), sack_ok: true, ts: Some((0, 0)), sack: Vec::new() };
    assert_eq!(syn.options, options);
}

#[test]
fn syn_sent__syn_ack__established() {
    let mut a = syn_sent();
    assert_eq!(arrive(&mut a, 0, "<SEQ=300><ACK=101><CTL=SYN,ACK>"), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(a.state(), State::Established);
    let tcb = a.tcb();
    assert_eq!((tcb.snd_una, tcb.snd_nxt, tcb.irs, tcb.rcv_nxt), (101, 101, 300, 301));
    assert_eq!(a.poll_at(), None, "nothing is left to retransmit");
}

#[test]
fn syn_sent__adopted_iss__syn_ack_for_the_kernels_iss_establishes() {
    let mut a = syn_sent();
    a.adopt_iss(5000);
    assert_eq!(arrive(&mut a, 0, "<SEQ=300><ACK=5001><CTL=SYN,ACK>"), ["<SEQ=5001><ACK=301><CTL=ACK>"]);
    assert_eq!(a.state(), State::Established);
}

#[test]
fn established__adopt_iss__ignored() {
    let mut a = syn_sent();
    arrive(&mut a, 0, "<SEQ=300><ACK=101><CTL=SYN,ACK>");
    a.adopt_iss(5000);
    assert_eq!(a.tcb().iss, 100);
}

#[test]
fn syn_sent__syn__syn_received() {
    let mut a = syn_sent();
    assert_eq!(arrive(&mut a, 0, "<SEQ=300><CTL=SYN>"), ["<SEQ=100><ACK=301><CTL=SYN,ACK>"]);
    assert_eq!(a.state(), State::SynReceived);
}

#[test]
fn syn_sent__rst_ack__closed_refused() {
    let mut a = syn_sent();
    assert!(arrive(&mut a, 0, "<SEQ=0><ACK=101><CTL=RST,ACK>").is_empty());
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.failure(), Some(Failure::Refused));
    assert_eq!(a.receive(100), Err(Failure::Refused));
    assert_eq!(a.poll_at(), None);
}

#[test]
fn syn_sent__rst_without_ack__ignored() {
    let mut a = syn_sent();
    assert!(arrive(&mut a, 0, "<SEQ=0><CTL=RST>").is_empty());
    assert_eq!(a.state(), State::SynSent);
}

#[test]
fn syn_sent__ack_of_another_syn__rst() {
    let mut a = syn_sent();
    assert_eq!(arrive(&mut a, 0, "<SEQ=300><ACK=999><CTL=SYN,ACK>"), ["<SEQ=999><CTL=RST>"]);
    assert_eq!(a.state(), State::SynSent);
}

#[test]
fn syn_sent__timeout__syn_again_after_1s_then_2s_more() {
    let mut a = syn_sent();
    assert_eq!(a.poll_at(), Some(SECOND));
    a.timeout(SECOND);
    assert_eq!(sent(&mut a), ["<SEQ=100><CTL=SYN>"]);
    assert_eq!(a.poll_at(), Some(3 * SECOND), "RFC 6298 §5.5: the RTO doubles");
    a.timeout(3 * SECOND);
    assert_eq!(sent(&mut a), ["<SEQ=100><CTL=SYN>"]);
    assert_eq!(a.poll_at(), Some(7 * SECOND));
}

#[test]
fn syn_sent__retries_run_out__closed_timed_out() {
    let mut a = syn_sent();
    let mut retransmissions = 0;
    while let Some(at) = a.poll_at() {
        a.timeout(at);
        retransmissions += sent(&mut a).len();
        if a.state() == State::Closed {
            assert_eq!(at, 127 * SECOND, "1 + 2 + 4 + … + 64 s, as Linux's connect() with 6 SYN retries");
        }
    }
    assert_eq!(retransmissions, 6);
    assert_eq!(a.failure(), Some(Failure::TimedOut));
}

#[test]
fn syn_sent__close__closed() {
    let mut a = syn_sent();
    a.close(0).unwrap();
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.poll_at(), None);
}

// ---------------------------------------------------------------------------------------------
// SYN-RECEIVED (B, after A's SYN)

fn syn_received() -> Endpoint {
    let mut b = listen();
    arrive(&mut b, 0, "<SEQ=100><CTL=SYN>");
    b
}

#[test]
fn syn_received__ack__established() {
    let mut b = syn_received();
    assert!(arrive(&mut b, 0, "<SEQ=101><ACK=301><CTL=ACK>").is_empty());
    assert_eq!(b.state(), State::Established);
    assert_eq!(b.poll_at(), None);
}

#[test]
fn syn_received__ack_with_data__established_and_data_taken() {
    let mut b = syn_received();
    assert_eq!(arrive(&mut b, 0, "<SEQ=101><ACK=301><CTL=ACK><DATA=5>"), ["<SEQ=301><ACK=106><CTL=ACK>"]);
    assert_eq!(b.state(), State::Established);
    assert_eq!(b.receive(100), Ok(Received::Data(b"xxxxx".to_vec())));
}

#[test]
fn syn_received__ack_of_something_unsent__rst() {
    let mut b = syn_received();
    assert_eq!(arrive(&mut b, 0, "<SEQ=101><ACK=999><CTL=ACK>"), ["<SEQ=999><CTL=RST>"]);
    assert_eq!(b.state(), State::SynReceived);
}

#[test]
fn syn_received__rst__back_to_listen() {
    let mut b = syn_received();
    assert!(arrive(&mut b, 0, "<SEQ=101><CTL=RST>").is_empty());
    assert_eq!(b.state(), State::Listen);
    assert_eq!(b.poll_at(), None, "the SYN,ACK is no longer retransmitted");
}

#[test]
fn syn_received__repeated_syn__ack() {
    let mut b = syn_received();
    assert_eq!(arrive(&mut b, SECOND, "<SEQ=100><CTL=SYN>"), ["<SEQ=301><ACK=101><CTL=ACK>"]);
    assert_eq!(b.state(), State::SynReceived);
}

#[test]
fn syn_received__timeout__syn_ack_again() {
    let mut b = syn_received();
    b.timeout(SECOND);
    assert_eq!(sent(&mut b), ["<SEQ=300><ACK=101><CTL=SYN,ACK>"]);
}

// ---------------------------------------------------------------------------------------------
// ESTABLISHED (A: SND.NXT 101, RCV.NXT 301)

fn established() -> Endpoint {
    let mut a = syn_sent();
    arrive(&mut a, 0, "<SEQ=300><ACK=101><CTL=SYN,ACK>");
    a
}

#[test]
fn established__data__acknowledged_and_readable() {
    let mut a = established();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=ACK><DATA=6>"), ["<SEQ=101><ACK=307><CTL=ACK>"]);
    assert_eq!(a.receive(4), Ok(Received::Data(b"xxxx".to_vec())));
    assert_eq!(a.receive(4), Ok(Received::Data(b"xx".to_vec())));
    assert_eq!(a.receive(4), Ok(Received::Nothing));
}

#[test]
fn established__send__data_then_its_ack_frees_it() {
    let mut a = established();
    a.send(0, b"hello").unwrap();
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=301><CTL=ACK><DATA=5>"]);
    assert_eq!(a.poll_at(), Some(SECOND));
    assert!(arrive(&mut a, 0, "<SEQ=301><ACK=106><CTL=ACK>").is_empty());
    assert_eq!(a.tcb().snd_una, 106);
    assert_eq!(a.poll_at(), None);
}

#[test]
fn established__data_unacknowledged__sent_again() {
    let mut a = established();
    a.send(0, b"hello").unwrap();
    sent(&mut a);
    a.timeout(SECOND);
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=301><CTL=ACK><DATA=5>"]);
}

#[test]
fn established__old_data__ack() {
    let mut a = established();
    assert_eq!(arrive(&mut a, 0, "<SEQ=295><ACK=101><CTL=ACK><DATA=6>"), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(a.receive(100), Ok(Received::Nothing));
}

#[test]
fn established__ack_of_something_unsent__ack() {
    let mut a = established();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=500><CTL=ACK>"), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(a.tcb().snd_una, 101);
}

#[test]
fn established__syn__challenge_ack() {
    let mut a = established();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=SYN,ACK>"), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(a.state(), State::Established);
}

#[test]
fn established__rst__closed_reset() {
    let mut a = established();
    assert!(arrive(&mut a, 0, "<SEQ=301><CTL=RST>").is_empty());
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.receive(100), Err(Failure::Reset));
}

#[test]
fn established__rst_elsewhere_in_the_window__dropped() {
    let mut a = established();
    assert!(arrive(&mut a, 0, "<SEQ=400><CTL=RST>").is_empty());
    assert_eq!(a.state(), State::Established);
}

#[test]
fn established__fin__close_wait() {
    let mut a = established();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=FIN,ACK>"), ["<SEQ=101><ACK=302><CTL=ACK>"]);
    assert_eq!(a.state(), State::CloseWait);
    assert_eq!(a.receive(100), Ok(Received::End));
}

/// An established endpoint configured as Linux is: the ACK of a FIN may wait 40 ms.
fn established_linux() -> Endpoint {
    let mut a = Endpoint::new(Config::linux_loopback(100));
    a.open_active(0).unwrap();
    arrive(&mut a, 0, "<SEQ=300><ACK=101><CTL=SYN,ACK>");
    a
}

#[test]
fn established__fin_with_delayed_ack__our_fin_carries_the_ack() {
    let mut a = established_linux();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=FIN,ACK>"), Vec::<String>::new(), "the ACK waits");
    assert_eq!(a.state(), State::CloseWait);
    a.close(SECOND / 1000).unwrap();
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=302><CTL=FIN,ACK>"]);
    assert_eq!(a.state(), State::LastAck);
}

#[test]
fn established__fin_with_delayed_ack__ack_sent_when_the_delay_runs_out() {
    let mut a = established_linux();
    arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=FIN,ACK>");
    assert_eq!(a.poll_at(), Some(SECOND / 25));
    a.timeout(SECOND / 25);
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=302><CTL=ACK>"]);
    assert_eq!(a.poll_at(), None);
}

#[test]
fn established__close__fin_wait_1() {
    let mut a = established();
    a.close(0).unwrap();
    assert_eq!(a.state(), State::FinWait1);
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=301><CTL=FIN,ACK>"]);
}

#[test]
fn established__abort__rst() {
    let mut a = established();
    a.abort(0).unwrap();
    assert_eq!(a.state(), State::Closed);
    assert_eq!(sent(&mut a), ["<SEQ=101><CTL=RST>"]);
}

#[test]
fn established__close_both_with_unread_data__rst_and_closed() {
    let mut a = established();
    arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=ACK><DATA=6>");
    a.close_both(0).unwrap();
    assert_eq!(a.state(), State::Closed, "RFC 1122 §4.2.2.13: the unread data is lost, and said so");
    assert_eq!(sent(&mut a), ["<SEQ=101><CTL=RST>"]);
}

#[test]
fn established__close_both_with_everything_read__fin_wait_1() {
    let mut a = established();
    arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=ACK><DATA=6>");
    a.receive(6).unwrap();
    a.take_output();
    a.close_both(0).unwrap();
    assert_eq!(a.state(), State::FinWait1);
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=307><CTL=FIN,ACK>"]);
}

#[test]
fn established__close_before_unread__fin_then_rst() {
    let mut a = established();
    arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=ACK><DATA=6>");
    a.take_output();
    a.close_before_unread(0).unwrap();
    assert_eq!(a.state(), State::Closed);
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=307><CTL=FIN,ACK>", "<SEQ=102><CTL=RST>"]);
}

#[test]
fn established__scaled_window__read_and_offered_in_units_of_128() {
    let mut a = syn_sent();
    let mut synack = seg("<SEQ=300><ACK=101><CTL=SYN,ACK>");
    synack.wnd = 65495;
    synack.options.wscale = Some(7);
    a.segment_arrives(0, &synack);
    assert_eq!(a.tcb().snd_wnd, 65495, "a SYN's window is never scaled");
    assert_eq!(segments(&mut a)[0].wnd, 512, "65495 rounds up to 512 × 128");
    a.segment_arrives(0, &seg("<SEQ=301><ACK=101><CTL=ACK>"));
    assert_eq!(a.tcb().snd_wnd, 512 << 7);
}

// ---------------------------------------------------------------------------------------------
// FIN-WAIT-1 (A: FIN sent as 101, SND.NXT 102)

fn fin_wait_1() -> Endpoint {
    let mut a = established();
    a.close(0).unwrap();
    a.take_output();
    a
}

#[test]
fn fin_wait_1__ack_of_fin__fin_wait_2() {
    let mut a = fin_wait_1();
    assert!(arrive(&mut a, 0, "<SEQ=301><ACK=102><CTL=ACK>").is_empty());
    assert_eq!(a.state(), State::FinWait2);
}

#[test]
fn fin_wait_1__fin__closing() {
    let mut a = fin_wait_1();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=FIN,ACK>"), ["<SEQ=102><ACK=302><CTL=ACK>"]);
    assert_eq!(a.state(), State::Closing);
}

#[test]
fn fin_wait_1__fin_and_ack_of_fin__time_wait() {
    let mut a = fin_wait_1();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=102><CTL=FIN,ACK>"), ["<SEQ=102><ACK=302><CTL=ACK>"]);
    assert_eq!(a.state(), State::TimeWait);
}

#[test]
fn fin_wait_1__data_after_close_both__rst_from_its_ack_and_closed() {
    let mut a = established();
    a.close_both(0).unwrap();
    a.take_output();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=ACK><DATA=6>"), ["<SEQ=101><CTL=RST>"]);
    assert_eq!(a.state(), State::Closed);
}

#[test]
fn fin_wait_1__data_acking_our_fin_after_close_both__fin_wait_2_then_closed() {
    let mut a = established();
    a.close_both(0).unwrap();
    a.take_output();
    a.segment_arrives(0, &seg("<SEQ=301><ACK=102><CTL=ACK><DATA=6>"));
    let states: Vec<State> = a.take_output().into_iter().filter_map(|o| if let Output::State { to, .. } = o { Some(to) } else { None }).collect();
    assert_eq!(states, [State::FinWait2, State::Closed]);
}

#[test]
fn fin_wait_2__data_after_shutdown_of_both_ways__rst_and_closed() {
    let mut a = established();
    a.stop_receiving();
    a.close(0).unwrap();
    a.take_output();
    arrive(&mut a, 0, "<SEQ=301><ACK=102><CTL=ACK>");
    assert_eq!(a.state(), State::FinWait2);
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=102><CTL=ACK><DATA=7>"), ["<SEQ=102><CTL=RST>"]);
    assert_eq!(a.state(), State::Closed, "shutdown(SHUT_RDWR): nobody reads it any more");
}

#[test]
fn fin_wait_1__data_after_a_half_close__still_taken() {
    let mut a = fin_wait_1();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=ACK><DATA=6>"), ["<SEQ=102><ACK=307><CTL=ACK>"]);
    assert_eq!(a.state(), State::FinWait1, "shutdown(SHUT_WR) goes on receiving");
}

#[test]
fn fin_wait_1__send__closing_error() {
    let mut a = fin_wait_1();
    assert_eq!(a.send(0, b"late"), Err(CallError::Closing));
}

#[test]
fn fin_wait_1__timeout__fin_again() {
    let mut a = fin_wait_1();
    a.timeout(SECOND);
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=301><CTL=FIN,ACK>"]);
}

// ---------------------------------------------------------------------------------------------
// FIN-WAIT-2

fn fin_wait_2() -> Endpoint {
    let mut a = fin_wait_1();
    arrive(&mut a, 0, "<SEQ=301><ACK=102><CTL=ACK>");
    a
}

#[test]
fn fin_wait_2__data__still_taken_after_our_fin() {
    let mut a = fin_wait_2();
    assert_eq!(arrive(&mut a, 0, "<SEQ=301><ACK=102><CTL=ACK><DATA=4>"), ["<SEQ=102><ACK=305><CTL=ACK>"]);
    assert_eq!(a.receive(100), Ok(Received::Data(b"xxxx".to_vec())));
}

#[test]
fn fin_wait_2__fin__time_wait_for_2_msl() {
    let mut a = fin_wait_2();
    assert_eq!(arrive(&mut a, 5 * SECOND, "<SEQ=301><ACK=102><CTL=FIN,ACK>"), ["<SEQ=102><ACK=302><CTL=ACK>"]);
    assert_eq!(a.state(), State::TimeWait);
    assert_eq!(a.poll_at(), Some(65 * SECOND));
}

// ---------------------------------------------------------------------------------------------
// CLOSE-WAIT (A, after B's FIN: RCV.NXT 302)

fn close_wait() -> Endpoint {
    let mut a = established();
    arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=FIN,ACK>");
    a
}

#[test]
fn close_wait__send__still_allowed() {
    let mut a = close_wait();
    a.send(0, b"abc").unwrap();
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=302><CTL=ACK><DATA=3>"]);
}

#[test]
fn close_wait__close__last_ack() {
    let mut a = close_wait();
    a.close(0).unwrap();
    assert_eq!(a.state(), State::LastAck);
    assert_eq!(sent(&mut a), ["<SEQ=101><ACK=302><CTL=FIN,ACK>"]);
}

// ---------------------------------------------------------------------------------------------
// LAST-ACK (A: FIN sent as 101)

fn last_ack() -> Endpoint {
    let mut a = close_wait();
    a.close(0).unwrap();
    a.take_output();
    a
}

#[test]
fn last_ack__ack_of_fin__closed() {
    let mut a = last_ack();
    assert!(arrive(&mut a, 0, "<SEQ=302><ACK=102><CTL=ACK>").is_empty());
    assert_eq!(a.state(), State::Closed);
    assert_eq!((a.poll_at(), a.failure()), (None, None));
}

#[test]
fn last_ack__rst__closed() {
    let mut a = last_ack();
    arrive(&mut a, 0, "<SEQ=302><CTL=RST>");
    assert_eq!(a.state(), State::Closed);
}

#[test]
fn last_ack__rst_numbered_before_the_peers_fin__closed_as_linux_takes_it() {
    let mut a = last_ack();
    arrive(&mut a, 0, "<SEQ=301><CTL=RST>");
    assert_eq!(a.state(), State::Closed);
}

#[test]
fn close_wait__rst_numbered_before_the_peers_fin__reset_as_linux_takes_it_dropped_by_the_rfc() {
    let mut a = close_wait();
    arrive(&mut a, 0, "<SEQ=301><CTL=RST>");
    assert_eq!((a.state(), a.failure()), (State::Closed, Some(Failure::Reset)));
    let mut rfc = Endpoint::new(Config { reset_before_fin: false, fin_ack_delay: None, ..Config::linux_loopback(100) });
    rfc.open_active(0).unwrap();
    arrive(&mut rfc, 0, "<SEQ=300><ACK=101><CTL=SYN,ACK>");
    arrive(&mut rfc, 0, "<SEQ=301><ACK=101><CTL=FIN,ACK>");
    assert_eq!(rfc.state(), State::CloseWait);
    arrive(&mut rfc, 0, "<SEQ=301><CTL=RST>");
    assert_eq!(rfc.state(), State::CloseWait, "RFC 9293 §3.10.7.4 takes a reset at RCV.NXT only");
}

// ---------------------------------------------------------------------------------------------
// CLOSING (A: FIN sent as 101, B's FIN taken: RCV.NXT 302)

fn closing() -> Endpoint {
    let mut a = fin_wait_1();
    arrive(&mut a, 0, "<SEQ=301><ACK=101><CTL=FIN,ACK>");
    a
}

#[test]
fn closing__ack_of_fin__time_wait() {
    let mut a = closing();
    assert!(arrive(&mut a, 0, "<SEQ=302><ACK=102><CTL=ACK>").is_empty());
    assert_eq!(a.state(), State::TimeWait);
}

// ---------------------------------------------------------------------------------------------
// TIME-WAIT (entered at 0)

fn time_wait() -> Endpoint {
    let mut a = fin_wait_2();
    arrive(&mut a, 0, "<SEQ=301><ACK=102><CTL=FIN,ACK>");
    a
}

#[test]
fn time_wait__2_msl__closed() {
    let mut a = time_wait();
    a.timeout(60 * SECOND - 1);
    assert_eq!(a.state(), State::TimeWait);
    a.timeout(60 * SECOND);
    assert_eq!(a.take_output(), [Output::State { from: State::TimeWait, to: State::Closed }]);
    assert_eq!(a.poll_at(), None);
}

#[test]
fn time_wait__fin_again__ack_and_2_msl_restart() {
    let mut a = time_wait();
    assert_eq!(arrive(&mut a, 10 * SECOND, "<SEQ=301><ACK=102><CTL=FIN,ACK>"), ["<SEQ=102><ACK=302><CTL=ACK>"]);
    assert_eq!(a.poll_at(), Some(70 * SECOND));
}

#[test]
fn time_wait__close__closing_error() {
    let mut a = time_wait();
    assert_eq!(a.close(0), Err(CallError::Closing));
}
