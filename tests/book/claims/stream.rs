//! The claims of "A stream, not messages" (`lessons/stream.md`): one send read by several
//! recvs, two sends read by one, and a server that numbers recvs where it meant lines.

use socktrace::event::CallName;
use socktrace::query::Query;
use socktrace::trace::Trace;

use super::{data_from, deviations, packets, payload, received_by, sent_by, sock, tcp, Claim};

const PER_RECV: &[&str] = &["stream-per-recv.jsonl"];
const BOTH: &[&str] = &["stream-per-recv.jsonl", "stream-lines.jsonl"];

const LONG_LINE: &str = "one line, longer than sixteen bytes\\n";

pub const CLAIMS: &[Claim] = &[
    Claim { id: "stream-one-send-one-segment", fixtures: PER_RECV, check: one_send_one_segment },
    Claim { id: "stream-one-send-three-recvs", fixtures: PER_RECV, check: one_send_three_recvs },
    Claim { id: "stream-two-sends-one-recv", fixtures: PER_RECV, check: two_sends_one_recv },
    Claim { id: "stream-nagle-two-segments", fixtures: PER_RECV, check: nagle_two_segments },
    Claim { id: "stream-numbers-recvs", fixtures: PER_RECV, check: numbers_recvs },
    Claim { id: "stream-same-recvs", fixtures: BOTH, check: same_recvs },
    Claim { id: "stream-numbers-lines", fixtures: &["stream-lines.jsonl"], check: numbers_lines },
    Claim { id: "stream-bytes-whole", fixtures: BOTH, check: bytes_whole },
    Claim { id: "stream-check-conforms", fixtures: BOTH, check: check_conforms },
];

/// The escaped length of a preview: `\n` counts as one byte.
fn bytes(text: &str) -> usize {
    text.replace("\\n", "\n").len()
}

/// What the server's recvs returned that had data, in order.
fn server_reads(t: &Trace) -> Vec<String> {
    received_by(t, "s2").into_iter().map(|(_, text)| text).filter(|text| !text.is_empty()).collect()
}

fn one_send_one_segment(t: &[Trace]) {
    let t = &t[0];
    assert_eq!(sent_by(t, "c1")[0], LONG_LINE);
    let first = data_from(t, "c1")[0].1;
    assert_eq!((payload(first), first.len as usize), (LONG_LINE, bytes(LONG_LINE)), "the whole send in one segment");
}

fn one_send_three_recvs(t: &[Trace]) {
    let reads = server_reads(&t[0]);
    let sizes: Vec<usize> = reads.iter().take(3).map(|r| bytes(r)).collect();
    assert_eq!(sizes, [16, 16, 4], "recv(16) three times");
    assert_eq!(reads[..3].concat(), LONG_LINE, "together, the one send");
}

fn two_sends_one_recv(t: &[Trace]) {
    let t = &t[0];
    assert_eq!(sent_by(t, "c1")[1..], ["hello\\n", "world\\n"], "two sends");
    assert_eq!(server_reads(t)[3], "hello\\nworld\\n", "one recv returns both");
}

fn nagle_two_segments(t: &[Trace]) {
    let t = &t[0];
    let segments = data_from(t, "c1");
    let texts: Vec<&str> = segments[1..].iter().map(|(_, p)| payload(p)).collect();
    assert_eq!(texts, ["hello\\n", "world\\n"], "two segments");
    let (hello, world) = (segments[1].0, segments[2].0);
    let hello_end = tcp(segments[1].1).rel_seq.expect("relative") + segments[1].1.len;
    let acked = packets(t).into_iter().find(|(i, e, p)| *i > hello && sock(e) == Some("s2") && tcp(p).rel_ack.is_some_and(|a| a >= hello_end));
    let acked = acked.expect("the server's side acknowledges hello").0;
    assert!(acked < world, "world leaves once hello is acknowledged");
    let sends = t.events.calls_of("c1").filter(|(_, _, s)| s.call == CallName::Sendto).map(|(i, _, _)| i);
    assert!(sends.last().expect("the client's sends") < acked, "although it was sent before");
}

fn numbers_recvs(t: &[Trace]) {
    let answers: Vec<String> = sent_by(&t[0], "s2");
    assert_eq!(answers, ["1: one line, longer", "2:  than sixteen by", "3: tes\\n", "4: hello\\nworld\\n"]);
}

fn same_recvs(t: &[Trace]) {
    assert_eq!(server_reads(&t[0]), server_reads(&t[1]), "the same bytes in the same recvs");
}

fn numbers_lines(t: &[Trace]) {
    assert_eq!(sent_by(&t[0], "s2"), ["1: one line, longer than sixteen bytes\\n", "2: hello\\n", "3: world\\n"]);
}

fn bytes_whole(t: &[Trace]) {
    for t in t {
        assert_eq!(sent_by(t, "c1").concat(), server_reads(t).concat(), "{}: the client's bytes, whole and in order", t.header.command);
        let answers: Vec<String> = received_by(t, "c1").into_iter().map(|(_, text)| text).collect();
        assert_eq!(sent_by(t, "s2").concat(), answers.concat(), "{}: the server's bytes, whole and in order", t.header.command);
    }
}

fn check_conforms(t: &[Trace]) {
    for t in t {
        assert_eq!(deviations(t), Vec::<(String, &str)>::new(), "{}", t.header.command);
    }
}
