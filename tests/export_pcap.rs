//! `trace export --pcap`: tshark reads the file and sees the trace's packets, with their flags.

use socktrace::event::Body;

use crate::support::{fixture_path, load, scratch, stderr, trace};

#[test]
#[cfg_attr(socktrace_no_tshark, ignore = "needs tshark: apt-get install -y tshark, then touch build.rs")]
fn tshark_reads_the_same_packets_and_flags() {
    let dir = scratch("export_pcap");
    let saved = dir.join("sim.jsonl");
    let pcap = dir.join("sim.pcap");
    let out = trace(&["simulate", "echo", "--save", saved.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = trace(&["export", saved.to_str().expect("utf-8"), "--pcap", pcap.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let fields = tshark_fields(&pcap, &["tcp.flags", "tcp.len"]);
    let seen: Vec<(u8, u32)> = fields
        .lines()
        .map(|l| {
            let mut fields = l.split('\t');
            let flags = fields.next().and_then(|f| u8::from_str_radix(f.trim_start_matches("0x").trim_start_matches("0"), 16).ok().or(Some(0))).unwrap_or(0);
            let len = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
            (flags, len)
        })
        .collect();
    let ours: Vec<(u8, u32)> = load(&saved)
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Packet(p) => p.tcp.as_ref().map(|t| (t.flags.0, p.len)),
            _ => None,
        })
        .collect();
    assert!(!ours.is_empty());
    assert_eq!(seen, ours, "tshark's (flags, payload length) per packet equal the trace's");
}

/// tshark's fields of every packet in `pcap`, tab-separated, one line per packet. Its tests
/// are compiled as ignored where the build found no tshark (build.rs): here it must run.
fn tshark_fields(pcap: &std::path::Path, fields: &[&str]) -> String {
    let mut command = std::process::Command::new("tshark");
    command.args(["-n", "-r"]).arg(pcap).args(["-T", "fields"]);
    for field in fields {
        command.args(["-e", field]);
    }
    let tshark = command.output().unwrap_or_else(|err| panic!("tshark does not run ({err}): apt-get install -y tshark, then touch build.rs"));
    assert!(tshark.status.success(), "{}", String::from_utf8_lossy(&tshark.stderr));
    String::from_utf8_lossy(&tshark.stdout).into_owned()
}

#[test]
#[cfg_attr(socktrace_no_tshark, ignore = "needs tshark: apt-get install -y tshark, then touch build.rs")]
fn tshark_reads_a_udp_traces_datagrams() {
    let fixture = fixture_path("lessons/udp-echo.jsonl");
    let pcap = scratch("export_pcap_udp").join("udp.pcap");
    let out = trace(&["export", &fixture, "--pcap", pcap.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fields = tshark_fields(&pcap, &["udp.srcport", "udp.dstport", "udp.length", "data.data"]);
    let seen: Vec<String> = fields.lines().map(str::to_string).collect();
    let ours: Vec<String> = load(std::path::Path::new(&fixture))
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Packet(p) => {
                let bytes = p.payload.as_ref().expect("a payload").bytes();
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                // RFC 768: the length counts the 8-byte header too.
                Some(format!("{}\t{}\t{}\t{hex}", p.src.port(), p.dst.port(), p.len + 8))
            }
            _ => None,
        })
        .collect();
    assert_eq!(ours.len(), 6);
    assert_eq!(seen, ours, "tshark's ports, length and bytes per datagram equal the trace's");
}

#[test]
fn a_trace_pcap_has_no_room_for_fails_and_leaves_no_partial_file() {
    let dir = scratch("export_pcap_no_room");
    let out = dir.join("four.pcap");
    let said = trace(&["export", "--pcap", out.to_str().expect("utf-8"), &fixture_path("bad-input/four-sack-blocks.jsonl")]);
    assert_eq!(said.status.code(), Some(2), "{}", stderr(&said));
    assert!(!out.exists(), "no partial file is left behind");
}

/// Packets alone are written as the trace is read; a line that cannot be read ends the export
/// with its error, and the packets written before it are not left behind as a complete file.
#[test]
fn an_unreadable_line_after_packets_fails_and_leaves_no_partial_file() {
    let dir = scratch("export_pcap_unreadable");
    let echo = std::fs::read_to_string(fixture_path("lessons/echo.jsonl")).expect("the fixture");
    let mut lines: Vec<&str> = echo.lines().collect();
    let last_packet = lines.iter().rposition(|l| l.contains("\"kind\":\"packet\"")).expect("packets");
    lines.insert(last_packet + 1, "{\"t\":\"soon\"}");
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let out = dir.join("bad.pcap");
    let said = trace(&["export", "--pcap", out.to_str().expect("utf-8"), bad.to_str().expect("utf-8")]);
    assert_eq!(said.status.code(), Some(2), "{}", stderr(&said));
    assert!(stderr(&said).contains(&format!("line {} is not a valid trace event", last_packet + 2)), "{}", stderr(&said));
    assert!(!out.exists(), "no partial file is left behind");
}
