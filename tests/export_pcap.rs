//! `trace export --pcap`: tshark reads the file and sees the trace's packets, with their flags.

use socktrace::event::Body;

use crate::support::{load, scratch, stderr, trace};

#[test]
fn tshark_reads_the_same_packets_and_flags() {
    let dir = scratch("export_pcap");
    let saved = dir.join("sim.jsonl");
    let pcap = dir.join("sim.pcap");
    let out = trace(&["simulate", "echo", "--save", saved.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = trace(&["export", saved.to_str().expect("utf-8"), "--pcap", pcap.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let tshark = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args(["-T", "fields", "-e", "tcp.flags", "-e", "tcp.len"])
        .output();
    let tshark = match tshark {
        Ok(out) => out,
        Err(err) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("SKIPPED tshark test: tshark is not installed ({err}); apt-get install -y tshark");
            return;
        }
        Err(err) => panic!("tshark is needed under CI=true (.ci/run installs it): {err}"),
    };
    assert!(tshark.status.success(), "{}", String::from_utf8_lossy(&tshark.stderr));
    let seen: Vec<(u8, u32)> = String::from_utf8_lossy(&tshark.stdout)
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
