//! `trace import`: captures of every supported format and link type give the same
//! conversations; each saved trace passes `trace check`; bad input is one line and exit 2;
//! Ctrl-C leaves every written trace readable.

#![allow(non_snake_case)] // names read situation__outcome

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use etherparse::PacketBuilder;
use socktrace::event::{Body, Origin};
use socktrace::trace::{read_trace, LensStatus, Source};

use crate::support::{assert_one_line_error, fixture, fixture_path, load, scratch, stderr, stdout, trace, trace_bin};

const ETHERNET: u32 = 1;

/// A pcap file (microsecond timestamps, little-endian unless `swapped`) of `frames`.
fn pcap(link: u32, frames: &[(u64, Vec<u8>)], swapped: bool) -> Vec<u8> {
    let word = |v: u32| if swapped { v.to_be_bytes() } else { v.to_le_bytes() };
    let half = |v: u16| if swapped { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut out = Vec::new();
    out.extend_from_slice(&word(0xa1b2_c3d4));
    out.extend_from_slice(&half(2));
    out.extend_from_slice(&half(4));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&word(262_144));
    out.extend_from_slice(&word(link));
    for (t_us, frame) in frames {
        out.extend_from_slice(&word((t_us / 1_000_000) as u32));
        out.extend_from_slice(&word((t_us % 1_000_000) as u32));
        out.extend_from_slice(&word(frame.len() as u32));
        out.extend_from_slice(&word(frame.len() as u32));
        out.extend_from_slice(frame);
    }
    out
}

/// The frames of a pcap written by `pcap` or tcpdump (little-endian, microseconds).
fn frames_of(file: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let le = |at: usize| u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]);
    let mut at = 24;
    let mut frames = Vec::new();
    while at + 16 <= file.len() {
        let t = u64::from(le(at)) * 1_000_000 + u64::from(le(at + 4));
        let len = le(at + 8) as usize;
        frames.push((t, file[at + 16..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    frames
}

/// The summary lines of `trace import FILE`, without the totals (which count file bytes).
fn conversations(file: &Path) -> Vec<String> {
    let out = trace(&["import", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[..lines.len() - 1].to_vec()
}

#[test]
fn lo_capture__lists_each_conversation_and_how_it_ended() {
    let lines = conversations(&fixture("captures/lo.pcap"));
    assert!(lines[0].starts_with(" CONV PROTO CLIENT"), "{lines:?}");
    assert_eq!(lines.len(), 5, "a header and four conversations: {lines:?}");
    // The same ports twice: the second SYN started a second connection.
    assert!(lines[1].contains("    1 tcp") && lines[1].ends_with("server closed first"), "{}", lines[1]);
    assert!(lines[2].contains("    2 tcp") && lines[2].ends_with("client closed first"), "{}", lines[2]);
    let ports = |line: &str| line.split_whitespace().skip(2).take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(ports(&lines[1]), ports(&lines[2]));
    assert!(lines[3].contains("    3 tcp") && lines[3].ends_with("refused (reset)"), "{}", lines[3]);
    assert!(lines[4].contains("    4 udp"), "{}", lines[4]);
    let out = trace(&["import", &fixture_path("captures/lo.pcap")]);
    let totals = stdout(&out).lines().last().expect("totals").to_string();
    assert!(totals.starts_with("4 conversations (3 tcp, 1 udp), 24 packets"), "{totals}");
}

#[test]
fn every_format_and_link_type__gives_the_same_conversations() {
    let want = conversations(&fixture("captures/lo.pcap"));
    assert_eq!(conversations(&fixture("captures/any.pcap")), want, "Linux cooked v2 (tcpdump -i any)");
    assert_eq!(conversations(&fixture("captures/lo.pcapng")), want, "pcapng");

    // Written here from lo.pcap: BSD loopback (NULL and LOOP) framing, and a big-endian file.
    let dir = scratch("import_links");
    let frames = frames_of(&std::fs::read(fixture("captures/lo.pcap")).expect("fixture"));
    let ip_of = |frame: &Vec<u8>| frame[14..].to_vec();
    let null: Vec<(u64, Vec<u8>)> = frames.iter().map(|(t, f)| (*t, [2u32.to_le_bytes().to_vec(), ip_of(f)].concat())).collect();
    let looped: Vec<(u64, Vec<u8>)> = frames.iter().map(|(t, f)| (*t, [2u32.to_be_bytes().to_vec(), ip_of(f)].concat())).collect();
    for (name, link, frames, swapped) in [("null.pcap", 0, &null, false), ("loop.pcap", 108, &looped, false), ("swapped.pcap", ETHERNET, &frames, true)] {
        let path = dir.join(name);
        std::fs::write(&path, pcap(link, frames, swapped)).expect("write");
        assert_eq!(conversations(&path), want, "{name}");
    }
}

#[test]
fn save_dir__one_trace_per_conversation_and_each_checks() {
    let dir = scratch("import_save");
    let out = trace(&["import", &fixture_path("captures/lo.pcap"), "--save-dir", dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for n in 1..=4 {
        let saved = load(&dir.join(format!("conn-{n}.jsonl")));
        assert_eq!(saved.header.source, Source::Imported);
        assert_eq!(saved.header.lenses.calls, LensStatus::Unavailable { reason: "a capture holds no socket calls".to_string() });
        assert_eq!(saved.header.lenses.states, LensStatus::Modelled);
        assert!(saved.end.is_some(), "conn-{n} is complete");
        for event in &saved.events {
            let origin = match event.body {
                Body::Packet(_) => Origin::Observed,
                _ => Origin::Modelled,
            };
            assert_eq!(event.origin, origin, "conn-{n}: packets observed, everything else modelled: {event:?}");
        }
    }
    // The two closed connections hold up against the documented sequences, with no resend
    // taken for a loss (the capture has none); the refused one ends at its reset, as a live
    // refused connect does.
    for n in [1, 2, 3] {
        let path = dir.join(format!("conn-{n}.jsonl"));
        let out = trace(&["check", path.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(0), "conn-{n}: {}", stdout(&out));
        assert!(!stdout(&out).contains("times: the first got no answer"), "conn-{n}: {}", stdout(&out));
    }
    let refused = trace(&["check", dir.join("conn-3.jsonl").to_str().expect("utf-8")]);
    assert!(stdout(&refused).contains("1 ended"), "{}", stdout(&refused));
    let states = |n: u32| -> Vec<String> {
        load(&dir.join(format!("conn-{n}.jsonl")))
            .events
            .iter()
            .filter_map(|e| match &e.body {
                Body::State(s) => Some(format!("{} {}", e.socket.as_ref().map_or("?", |s| s.0.as_str()), s.to)),
                _ => None,
            })
            .collect()
    };
    // Connection 1: the server closed first, so its model goes through FIN-WAIT and TIME-WAIT.
    assert!(states(1).contains(&"s1 TIME-WAIT".to_string()), "{:?}", states(1));
    assert!(states(1).contains(&"c1 LAST-ACK".to_string()), "{:?}", states(1));
    // Connection 2: the client did.
    assert!(states(2).contains(&"c1 TIME-WAIT".to_string()), "{:?}", states(2));
}

#[test]
fn conversation_n__shows_its_timeline() {
    let out = trace(&["import", &fixture_path("captures/lo.pcap"), "--conversation", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("imported from a capture"), "{text}");
    assert!(text.contains("c1: CLOSED → SYN-SENT (modelled)"), "{text}");
    assert!(text.contains("\"again\\n\""), "the second connection's line: {text}");
}

#[test]
fn missing_file__one_line_exit_2() {
    let out = trace(&["import", "/nonexistent/capture.pcap"]);
    assert_one_line_error(&out, "cannot open capture /nonexistent/capture.pcap");
}

#[test]
fn not_a_capture__one_line_exit_2() {
    let out = trace(&["import", &fixture_path("lessons/echo.jsonl")]);
    assert_one_line_error(&out, "is not a pcap or pcapng capture: it begins with 7b 22 66 6f");
}

#[test]
fn truncated_capture__shows_what_was_read_then_says_where_it_was_cut() {
    let dir = scratch("import_truncated");
    let whole = std::fs::read(fixture("captures/lo.pcap")).expect("fixture");
    let cut = dir.join("cut.pcap");
    // 24-byte header, then 20 whole records of the echo connections; cut into the 21st.
    let mut at = 24;
    for _ in 0..20 {
        at += 16 + u32::from_le_bytes(whole[at + 8..at + 12].try_into().expect("4 bytes")) as usize;
    }
    std::fs::write(&cut, &whole[..at + 20]).expect("write");
    let out = trace(&["import", cut.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "is truncated: it ends at byte");
    assert!(stderr(&out).contains("after 20 whole packets"), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("client closed first"), "what was read is still shown: {text}");
}

#[test]
fn tcp_headers_cut_by_the_snap_length__the_udp_read_is_listed__says_how_many_were_cut_and_fails() {
    // lo.pcap rewritten with a 44-byte snap length: 10 bytes of each TCP header, UDP whole.
    let out = trace(&["import", &fixture_path("bad-input/snaplen-44.pcap")]);
    assert_one_line_error(&out, "22 of its 24 packets were cut to 44 bytes by the capture's snap length before their TCP or UDP headers ended");
    assert!(stderr(&out).contains("leave out tcpdump's -s"), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("1 conversation (0 tcp, 1 udp), 24 packets (22 cut short by the snap length)"), "{text}");
    assert!(!text.contains("neither TCP nor UDP"), "cut TCP is not another protocol: {text}");
}

#[test]
fn every_packet_cut_by_the_snap_length__no_conversation_could_be_read() {
    let dir = scratch("import_snaplen");
    let frames: Vec<(u64, Vec<u8>)> = frames_of(&std::fs::read(fixture("captures/lo.pcap")).expect("fixture"));
    let count = frames.len();
    let mut file = pcap(ETHERNET, &[], false);
    for (t_us, frame) in &frames {
        // Captured 40 bytes of each, of its whole length on the wire.
        file.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        file.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        file.extend_from_slice(&40u32.to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&frame[..40]);
    }
    let path = dir.join("snaplen-40.pcap");
    std::fs::write(&path, file).expect("write");
    let out = trace(&["import", path.to_str().expect("utf-8")]);
    assert_one_line_error(&out, &format!("all {count} of its packets were cut to 40 bytes"));
    assert!(stderr(&out).contains("so no conversation could be read"), "{}", stderr(&out));
}

#[test]
fn unsupported_link_type__named() {
    let dir = scratch("import_link");
    let path = dir.join("user0.pcap");
    std::fs::write(&path, pcap(147, &[], false)).expect("write");
    let out = trace(&["import", path.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "has link type LINKTYPE_USER0 (147), which trace import cannot read");
}

#[test]
fn conversation_that_does_not_exist__one_line_exit_2() {
    let out = trace(&["import", &fixture_path("captures/lo.pcap"), "--conversation", "9"]);
    assert_one_line_error(&out, "has no conversation 9: it has 4");
}

/// A loopback Ethernet frame of a TCP segment from 127.0.0.1:`from` to :`to`.
fn segment(from: u16, to: u16, seq: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
    let mut step = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64).tcp(from, to, seq, 65535);
    for flag in flags.chars() {
        step = match flag {
            'S' => step.syn(),
            'A' => step.ack(1),
            'F' => step.fin(),
            'R' => step.rst(),
            _ => step,
        };
    }
    let mut out = Vec::new();
    step.write(&mut out, payload).expect("frame builds");
    out
}

/// Conversations that overlap, as on any busy host: 1 begins, 2 begins and is reset, 3 begins
/// and is reset, then 1 is. They end 2, 3, 1; the list runs 1, 2, 3, as they began, each
/// numbered as listed, and conversation N of the list is the one `--conversation N` shows.
#[test]
fn conversations_that_interleave__listed_in_order_of_first_packet() {
    let path = scratch("import_interleaved").join("interleaved.pcap");
    let frames = [
        (1, segment(40001, 80, 0, "S", b"")),
        (2, segment(40002, 80, 0, "S", b"")),
        (3, segment(80, 40002, 0, "SA", b"")),
        (4, segment(40002, 80, 1, "R", b"")),
        (5, segment(40003, 80, 0, "S", b"")),
        (6, segment(80, 40003, 0, "R", b"")),
        (7, segment(80, 40001, 0, "SA", b"")),
        (8, segment(40001, 80, 1, "R", b"")),
    ];
    std::fs::write(&path, pcap(ETHERNET, &frames, false)).expect("write");
    let lines = conversations(&path);
    let listed: Vec<(String, String)> = lines[1..]
        .iter()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words[0].to_string(), words[2].to_string())
        })
        .collect();
    let expected: Vec<(String, String)> = (1..=3).map(|n| (n.to_string(), format!("127.0.0.1:4000{n}"))).collect();
    assert_eq!(listed, expected, "numbered and listed as they began:\n{}", lines.join("\n"));
    let out = trace(&["import", path.to_str().expect("utf-8"), "--conversation", "3"]);
    // The third to begin is the one refused outright: a SYN answered by a reset, no SYN|ACK.
    let shown = stdout(&out);
    assert!(shown.contains("RST") && !shown.contains("SYN|ACK"), "conversation 3 is the third to begin: {shown}");
}

#[test]
fn ctrl_c_during_save__leaves_every_written_trace_readable() {
    let dir = scratch("import_sigint");
    let fifo = dir.join("capture.pcap");
    let path = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("no NUL");
    // SAFETY: a valid path; a FIFO lets the test decide when the capture's bytes arrive.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
    let saved = dir.join("traces");
    let mut child = Command::new(trace_bin())
        .args(["import", fifo.to_str().expect("utf-8"), "--save-dir", saved.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trace runs");
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).expect("fifo opens");
    // Conversation 1 is over at once (reset); 200 more stay open, sending data, for 200,000 packets.
    let mut frames = vec![(1, segment(40000, 80, 0, "S", b"")), (2, segment(80, 40000, 0, "SA", b"")), (3, segment(40000, 80, 1, "R", b""))];
    for i in 0..200_000u32 {
        let port = 41000 + (i % 200) as u16;
        frames.push((10 + u64::from(i), segment(port, 80, 1 + i, "A", b"data")));
    }
    let bytes = pcap(ETHERNET, &frames, false);
    let (first, rest) = bytes.split_at(24 + 3 * (16 + 54) + 200 * (16 + 58));
    writer.write_all(first).expect("first packets");
    writer.flush().expect("flush");
    // Once a trace exists, the import is under way: interrupt it.
    let started = std::time::Instant::now();
    while !saved.join("conn-201.jsonl").exists() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the import never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: kill with the pid of the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    // The import stops at its next progress point; it may stop reading before all is written.
    let _ = writer.write_all(rest);
    drop(writer);
    let status = child.wait().expect("trace ends");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut err).expect("stderr");
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted after"), "{err}");
    let mut complete = 0;
    let mut interrupted = 0;
    for entry in std::fs::read_dir(&saved).expect("traces") {
        let path = entry.expect("entry").path();
        let trace = read_trace(&path).unwrap_or_else(|e| panic!("every written trace reads back: {e}"));
        if trace.end.is_some() {
            complete += 1
        } else {
            interrupted += 1
        }
    }
    assert_eq!((complete, interrupted), (1, 200), "conversation 1 was over; the open ones read as interrupted");
}

#[test]
fn a_reader_that_has_gone__ends_the_output_quietly() {
    let capture = fixture_path("captures/lo.pcap");
    for args in [vec!["import", capture.as_str()], vec!["import", capture.as_str(), "--conversation", "1"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = Command::new(trace_bin()).args(&args).env("NO_COLOR", "1").stdout(writer).stderr(Stdio::piped()).output().expect("trace runs");
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "trace {}: {err}", args.join(" "));
        assert_eq!(out.status.code(), Some(0), "trace {}: {err}", args.join(" "));
    }
}
