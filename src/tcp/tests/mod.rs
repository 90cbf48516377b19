//! Model tests. Segments are written and compared in RFC 9293's notation
//! (`<SEQ=300><ACK=101><CTL=SYN,ACK>`), so each test reads like the RFC's figures.
//! The active opener A starts at ISS 100 and the passive opener B at ISS 300, as in Figure 6.

mod figures;
mod states;

use super::endpoint::{Config, Endpoint, Output};
use super::segment::{Control, Segment};
use super::state::State;
use crate::tcp::header::TcpOptions;

/// A fresh endpoint in CLOSED with Linux's loopback options.
/// The RFC figures acknowledge a FIN at once; Linux's delay of that ACK has tests of its own.
fn endpoint(iss: u32) -> Endpoint {
    Endpoint::new(Config { fin_ack_delay: None, ..Config::linux_loopback(iss) })
}

/// Parses the RFC's notation: `<SEQ=n>`, `<ACK=n>`, `<CTL=SYN,ACK>`, `<DATA=len>`.
fn seg(text: &str) -> Segment {
    let mut seg = Segment { control: Control::None, seq: 0, ack: None, wnd: 512, options: TcpOptions::default(), payload: Vec::new() };
    for field in text.trim_start_matches('<').trim_end_matches('>').split("><") {
        let (key, value) = field.split_once('=').unwrap_or_else(|| panic!("bad field {field:?} in {text}"));
        let number = || value.parse::<u32>().unwrap_or_else(|_| panic!("bad number in {text}"));
        match key {
            "SEQ" => seg.seq = number(),
            "ACK" => seg.ack = Some(number()),
            "DATA" => seg.payload = vec![b'x'; number() as usize],
            "CTL" => {
                for bit in value.split(',') {
                    match bit {
                        "SYN" => seg.control = Control::Syn,
                        "FIN" => seg.control = Control::Fin,
                        "RST" => seg.control = Control::Rst,
                        "ACK" => assert!(seg.ack.is_some(), "CTL=ACK without an ACK field in {text}"),
                        _ => panic!("bad control bit {bit:?} in {text}"),
                    }
                }
            }
            _ => panic!("bad field {key:?} in {text}"),
        }
    }
    seg
}

/// The segments the endpoint sent since the last look, in the RFC's notation.
fn sent(ep: &mut Endpoint) -> Vec<String> {
    segments(ep).iter().map(Segment::to_string).collect()
}

fn segments(ep: &mut Endpoint) -> Vec<Segment> {
    ep.take_output()
        .into_iter()
        .filter_map(|out| match out {
            Output::Segment(seg) => Some(seg),
            Output::State { .. } => None,
        })
        .collect()
}

/// A segment arrives at `now`; returns what the endpoint sent in answer.
fn arrive(ep: &mut Endpoint, now: u64, text: &str) -> Vec<String> {
    ep.segment_arrives(now, &seg(text));
    sent(ep)
}

/// Carries every segment `from` has sent to `to`; returns them in the RFC's notation.
fn deliver(from: &mut Endpoint, to: &mut Endpoint, now: u64) -> Vec<String> {
    let mut shown = Vec::new();
    for seg in segments(from) {
        to.segment_arrives(now, &seg);
        shown.push(seg.to_string());
    }
    shown
}

/// A and B after a three-way handshake, with nothing left to deliver.
fn connected(iss_a: u32, iss_b: u32) -> (Endpoint, Endpoint) {
    let (mut a, mut b) = (endpoint(iss_a), endpoint(iss_b));
    b.open_passive(0).unwrap();
    a.open_active(0).unwrap();
    deliver(&mut a, &mut b, 0);
    deliver(&mut b, &mut a, 0);
    deliver(&mut a, &mut b, 0);
    assert_eq!((a.state(), b.state()), (State::Established, State::Established));
    (a, b)
}
