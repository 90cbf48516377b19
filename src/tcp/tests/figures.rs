//! The RFC 9293 figures, line by line: two model endpoints talking to each other.
#![allow(non_snake_case)] // names read figure__story

use super::*;
use crate::tcp::endpoint::{Failure, SECOND};
use crate::tcp::segment::reset_for;

#[test]
fn figure_6__three_way_handshake() {
    let (mut a, mut b) = (endpoint(100), endpoint(300));
    b.open_passive(0).unwrap();
    a.open_active(0).unwrap();
    assert_eq!((a.state(), b.state()), (State::SynSent, State::Listen));
    assert_eq!(deliver(&mut a, &mut b, 0), ["<SEQ=100><CTL=SYN>"]);
    assert_eq!(b.state(), State::SynReceived);
    assert_eq!(deliver(&mut b, &mut a, 0), ["<SEQ=300><ACK=101><CTL=SYN,ACK>"]);
    assert_eq!(a.state(), State::Established);
    assert_eq!(deliver(&mut a, &mut b, 0), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(b.state(), State::Established);
    a.send(0, b"hello").unwrap();
    assert_eq!(deliver(&mut a, &mut b, 0), ["<SEQ=101><ACK=301><CTL=ACK><DATA=5>"]);
}

#[test]
fn figure_7__simultaneous_open() {
    let (mut a, mut b) = (endpoint(100), endpoint(300));
    a.open_active(0).unwrap();
    b.open_active(0).unwrap();
    let (syn_a, syn_b) = (segments(&mut a), segments(&mut b));
    a.segment_arrives(0, &syn_b[0]);
    b.segment_arrives(0, &syn_a[0]);
    assert_eq!((a.state(), b.state()), (State::SynReceived, State::SynReceived));
    assert_eq!(deliver(&mut a, &mut b, 0), ["<SEQ=100><ACK=301><CTL=SYN,ACK>"]);
    assert_eq!(deliver(&mut b, &mut a, 0), ["<SEQ=300><ACK=101><CTL=SYN,ACK>"]);
    assert_eq!((a.state(), b.state()), (State::Established, State::Established));
    assert!(sent(&mut a).is_empty() && sent(&mut b).is_empty());
}

#[test]
fn figure_12__normal_close() {
    let (mut a, mut b) = connected(99, 299);
    a.close(0).unwrap();
    assert_eq!(a.state(), State::FinWait1);
    assert_eq!(deliver(&mut a, &mut b, 0), ["<SEQ=100><ACK=300><CTL=FIN,ACK>"]);
    assert_eq!(b.state(), State::CloseWait);
    assert_eq!(deliver(&mut b, &mut a, 0), ["<SEQ=300><ACK=101><CTL=ACK>"]);
    assert_eq!(a.state(), State::FinWait2);
    b.close(0).unwrap();
    assert_eq!(b.state(), State::LastAck);
    assert_eq!(deliver(&mut b, &mut a, 0), ["<SEQ=300><ACK=101><CTL=FIN,ACK>"]);
    assert_eq!(a.state(), State::TimeWait);
    assert_eq!(deliver(&mut a, &mut b, 0), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(a.poll_at(), Some(60 * SECOND), "TIME-WAIT lasts 2 MSL");
    a.timeout(60 * SECOND);
    assert_eq!(a.state(), State::Closed);
}

#[test]
fn figure_13__simultaneous_close() {
    let (mut a, mut b) = connected(99, 299);
    a.close(0).unwrap();
    b.close(0).unwrap();
    let (fin_a, fin_b) = (segments(&mut a), segments(&mut b));
    assert_eq!(fin_a[0].to_string(), "<SEQ=100><ACK=300><CTL=FIN,ACK>");
    assert_eq!(fin_b[0].to_string(), "<SEQ=300><ACK=100><CTL=FIN,ACK>");
    a.segment_arrives(0, &fin_b[0]);
    b.segment_arrives(0, &fin_a[0]);
    assert_eq!((a.state(), b.state()), (State::Closing, State::Closing));
    assert_eq!(deliver(&mut a, &mut b, 0), ["<SEQ=101><ACK=301><CTL=ACK>"]);
    assert_eq!(deliver(&mut b, &mut a, 0), ["<SEQ=301><ACK=101><CTL=ACK>"]);
    assert_eq!((a.state(), b.state()), (State::TimeWait, State::TimeWait));
    a.timeout(60 * SECOND);
    b.timeout(60 * SECOND);
    assert_eq!((a.state(), b.state()), (State::Closed, State::Closed));
}

#[test]
fn closed_port__connection_attempt__reset_and_refused() {
    let mut a = endpoint(100);
    a.open_active(0).unwrap();
    let syn = segments(&mut a);
    assert_eq!(syn[0].to_string(), "<SEQ=100><CTL=SYN>");
    let rst = reset_for(&syn[0]).expect("a SYN to a closed port is answered");
    assert_eq!(rst.to_string(), "<SEQ=0><ACK=101><CTL=RST,ACK>");
    a.segment_arrives(0, &rst);
    assert_eq!(a.state(), State::Closed);
    assert_eq!(a.failure(), Some(Failure::Refused));
    assert!(sent(&mut a).is_empty(), "a reset is never answered");
}
