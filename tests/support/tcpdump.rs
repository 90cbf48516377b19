//! tcpdump as a witness: it captures on `lo` into a file while a test runs, and the packets it
//! saw are read back with socktrace's own pcap reader, so that a trace's packets can be
//! compared with what another capture saw on the same run.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use socktrace::event::Packet;
use socktrace::import::pcap::Reader;
use socktrace::wire::decode::decode_frame;

/// tcpdump capturing on `lo` into a file; stopped by our own PID.
pub struct Tcpdump {
    child: Child,
    file: PathBuf,
    stderr: std::thread::JoinHandle<String>,
}

impl Tcpdump {
    /// Starts capturing the packets `filter` (a pcap filter) selects, and returns once tcpdump
    /// says its capture is open.
    pub fn start(file: PathBuf, filter: &str) -> Tcpdump {
        // A 64 MiB buffer (-B, in KiB), headers only (-s: the lengths compared are the IP
        // header's), and the kernel's blocks read whole rather than packet by packet (no
        // --immediate-mode): other tests may load loopback meanwhile, and a witness that
        // cannot keep up is no witness.
        let mut child = Command::new("tcpdump")
            .args(["-i", "lo", "-n", "-s", "128", "-B", "65536", "-w"])
            .arg(&file)
            .arg(filter)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("tcpdump runs (.ci/run installs it: apt-get install -y tcpdump)");
        // tcpdump says "listening on lo" once its capture is open.
        let mut err = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !line.contains("listening on") {
            line.clear();
            assert!(Instant::now() < deadline, "tcpdump did not start");
            if err.read_line(&mut line).expect("tcpdump stderr") == 0 {
                panic!("tcpdump exited before listening");
            }
        }
        let stderr = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = err.read_to_string(&mut rest);
            rest
        });
        Tcpdump { child, file, stderr }
    }

    /// Stops tcpdump (SIGINT, so it flushes) and returns its capture file. tcpdump does not
    /// read a partly filled ring block before it exits, so it is given time to see the last
    /// packets first (measured: it otherwise misses the last ~1 s).
    pub fn stop(mut self) -> PathBuf {
        std::thread::sleep(Duration::from_millis(2500));
        // SAFETY: kill on the PID of the child we spawned; it is still ours (not yet waited).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        let report = self.stderr.join().expect("tcpdump stderr");
        assert!(report.lines().any(|l| l.trim() == "0 packets dropped by kernel"), "tcpdump itself lost packets, so it is no witness: {report}");
        self.file
    }
}

/// Every TCP and UDP packet of a capture file, decoded, in capture order.
pub fn packets(file: &Path) -> Vec<Packet> {
    let mut reader = Reader::open(std::fs::File::open(file).expect("the capture file")).expect("a pcap file");
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame().expect("a readable capture") {
        if let Ok(Some(packet)) = decode_frame(frame.data, frame.link) {
            out.push(packet);
        }
    }
    out
}
