//! `trace import` against `tshark -q -z conv,tcp` and `tcpdump -nr` on one and the same
//! capture: `cargo bench --bench import` (as root, with tcpdump and tshark installed).
//!
//! The capture (made once, then reused from target/bench-import/): a loopback echo server
//! of our own (127.0.0.1, port 0) and CLIENTS client threads; each connection sends ROUNDS
//! 32-byte lines, reads each echo, and the server closes first (so that the clients' ports
//! are free at once, and the server's TIME-WAIT 4-tuples get reused by new SYNs, as on a busy
//! server). `tcpdump -U -B 65536 -i lo -w load.pcap tcp port PORT` records it; the load
//! stops at CONNS connections or LOAD_LIMIT, whichever comes first. The first million
//! packets are copied with `tcpdump -r load.pcap -c 1000000 -w load-1m.pcap`, so that
//! resident memory is compared at 1M and 3M+ packets.
//!
//! Each tool reads the file once, from the page cache (the file is read once before), its
//! output thrown away. Printed: wall time, CPU time (user + system, from wait4's rusage: on
//! a shared machine the wall time mostly says how long the tool waited for a core), packets
//! and MB per second of CPU time, and the child's peak resident memory (ru_maxrss; Linux
//! counts the spawning process's own peak in it, a few MB here, since the child starts as a
//! copy of it). A last line gives the plain parse ceiling: the pcap reader alone, in process.
//!
//! Env: CONNS (default 170000; tcpdump drops some at this rate, and 3M packets must remain), REMAKE=1 to record the capture again.

mod common;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socktrace::import::pcap::Reader;

const CLIENTS: usize = 8;
const SERVERS: usize = 8;
const ROUNDS: usize = 8;
const LINE: usize = 32;
/// The load never runs longer than this, whatever CONNS says.
const LOAD_LIMIT: Duration = Duration::from_secs(180);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// tcpdump hands its ring over a block at a time, at the latest after 1 s.
const TCPDUMP_FLUSH: Duration = Duration::from_millis(2100);
const WANTED_PACKETS: u64 = 3_000_000;

fn main() -> ExitCode {
    common::exit("import", run())
}

fn run() -> Result<(), String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-import");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let full = dir.join("load.pcap");
    let prefix = dir.join("load-1m.pcap");
    let have = if full.exists() && std::env::var("REMAKE").is_err() { count(&full)? } else { 0 };
    if have < WANTED_PACKETS {
        record(&full)?;
        let packets = count(&full)?;
        if packets < WANTED_PACKETS {
            return Err(format!("the capture holds {packets} packets, fewer than {WANTED_PACKETS}: raise CONNS"));
        }
        let status = Command::new("tcpdump")
            .args(["-r"])
            .arg(&full)
            .args(["-c", "1000000", "-w"])
            .arg(&prefix)
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("tcpdump: {e}"))?;
        if !status.success() {
            return Err("tcpdump -r -c -w failed".to_string());
        }
    }
    let trace = env!("CARGO_BIN_EXE_trace");
    println!("{:<34} {:>10} {:>8} {:>8} {:>12} {:>9} {:>10}", "tool, file", "packets", "wall s", "CPU s", "packets/s", "MB/s", "max RSS");
    let mut import_rate = 0.0;
    let mut tshark_rate = 0.0;
    for file in [&prefix, &full] {
        let packets = count(file)?;
        let bytes = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let runs: [(&str, Vec<&str>); 3] = [
            ("trace import", vec![trace, "import"]),
            ("tshark -q -z conv,tcp", vec!["tshark", "-q", "-z", "conv,tcp", "-r"]),
            ("tcpdump -nr", vec!["tcpdump", "-nr"]),
        ];
        for (tool, argv) in runs {
            let (wall, seconds, rss_kb) = measure(&argv, file)?;
            let rate = packets as f64 / seconds;
            if file == &full {
                match tool {
                    "trace import" => import_rate = rate,
                    "tshark -q -z conv,tcp" => tshark_rate = rate,
                    _ => {}
                }
            }
            println!(
                "{:<34} {:>10} {:>8.3} {:>8.3} {:>12.0} {:>9.1} {:>7.1} MB",
                format!("{tool}, {name}"),
                packets,
                wall,
                seconds,
                rate,
                bytes as f64 / 1e6 / seconds,
                rss_kb as f64 / 1024.0
            );
        }
    }
    let packets = count(&full)?;
    let bytes = std::fs::metadata(&full).map_err(|e| e.to_string())?.len();
    let (started, cpu_before) = (Instant::now(), cpu_seconds(libc::RUSAGE_SELF));
    count(&full)?;
    let (wall, seconds) = (started.elapsed().as_secs_f64(), cpu_seconds(libc::RUSAGE_SELF) - cpu_before);
    println!(
        "{:<34} {:>10} {:>8.3} {:>8.3} {:>12.0} {:>9.1}",
        "pcap reader alone (in process)",
        packets,
        wall,
        seconds,
        packets as f64 / seconds,
        bytes as f64 / 1e6 / seconds
    );
    println!("trace import is {:.0}x tshark on load.pcap (packets per CPU second)", import_rate / tshark_rate);
    Ok(())
}

/// How many packets a capture holds (read with our own reader).
fn count(path: &Path) -> Result<u64, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut reader = Reader::new(file).map_err(|e| format!("{} {e}", path.display()))?;
    while reader.next_frame().map_err(|e| format!("{} {e}", path.display()))?.is_some() {}
    Ok(reader.packets())
}

/// This process's CPU time so far (`who`: RUSAGE_SELF), user and system, in seconds.
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: a zeroed rusage is valid; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid out-pointer.
    unsafe { libc::getrusage(who, &mut usage) };
    rusage_seconds(&usage)
}

fn rusage_seconds(usage: &libc::rusage) -> f64 {
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs `argv FILE` once, output thrown away: wall seconds, CPU seconds and peak resident
/// memory in KiB.
fn measure(argv: &[&str], file: &Path) -> Result<(f64, f64, i64), String> {
    // From the page cache for every tool alike; through a small buffer, so that this
    // process's own peak (which the child's ru_maxrss includes) stays small.
    let mut warm = File::open(file).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 16];
    while warm.read(&mut buf).map_err(|e| e.to_string())? > 0 {}
    let started = Instant::now();
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e} (apt-get install -y tcpdump tshark)", argv[0]))?;
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child` is our child process; `status` and `usage` are valid out-pointers.
    let waited = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    if waited < 0 {
        return Err(format!("wait4: {}", io::Error::last_os_error()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("{} failed on {} (status {status})", argv.join(" "), file.display()));
    }
    Ok((seconds, rusage_seconds(&usage), usage.ru_maxrss))
}

/// Records the load with tcpdump into `out`.
fn record(out: &Path) -> Result<(), String> {
    let conns: usize = std::env::var("CONNS").ok().and_then(|c| c.parse().ok()).unwrap_or(170_000);
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let server = listener.local_addr().map_err(|e| e.to_string())?;
    println!("recording {} with tcpdump: {conns} connections to {server}, {ROUNDS} echoed lines each", out.display());
    let mut dump = Command::new("tcpdump")
        .args(["-U", "-B", "65536", "-i", "lo", "-w"])
        .arg(out)
        .args(["tcp", "port", &server.port().to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("tcpdump: {e} (apt-get install -y tcpdump; run as root)"))?;
    // tcpdump says "listening on" once its filter is attached.
    let mut said = Vec::new();
    let mut stderr = dump.stderr.take().ok_or("tcpdump's stderr")?;
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&said).contains("listening on") {
        match stderr.read(&mut byte) {
            Ok(1) => said.push(byte[0]),
            _ => return Err(format!("tcpdump did not start: {}", String::from_utf8_lossy(&said))),
        }
    }
    let result = load(listener, server, conns);
    std::thread::sleep(TCPDUMP_FLUSH);
    // SAFETY: kill with a pid we started.
    unsafe { libc::kill(dump.id() as libc::pid_t, libc::SIGTERM) };
    let _ = dump.wait();
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    println!("tcpdump: {}", rest.split_whitespace().collect::<Vec<_>>().join(" "));
    result
}

/// The bounded echo load: SERVERS threads serve, CLIENTS threads connect.
fn load(listener: TcpListener, server: SocketAddr, conns: usize) -> Result<(), String> {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let listener = Arc::new(listener);
    let mut servers = Vec::new();
    for _ in 0..SERVERS {
        let (listener, stop) = (listener.clone(), stop.clone());
        servers.push(std::thread::spawn(move || {
            listener.set_nonblocking(true).ok();
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let _ = serve(conn);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_micros(50)),
                    Err(_) => break,
                }
            }
        }));
    }
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (next, done) = (next.clone(), done.clone());
        clients.push(std::thread::spawn(move || {
            while next.fetch_add(1, Ordering::Relaxed) < conns && started.elapsed() < LOAD_LIMIT {
                if client(server).is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for c in clients {
        let _ = c.join();
    }
    stop.store(true, Ordering::Relaxed);
    for s in servers {
        let _ = s.join();
    }
    println!("load: {} connections in {:.1} s", done.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
    Ok(())
}

/// Echoes ROUNDS lines, then closes first.
fn serve(mut conn: TcpStream) -> io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_nodelay(true)?;
    let mut line = [0u8; LINE];
    for _ in 0..ROUNDS {
        conn.read_exact(&mut line)?;
        conn.write_all(&line)?;
    }
    conn.shutdown(Shutdown::Both)
}

/// One connection: ROUNDS lines, each echo read, then the server's FIN, then close.
fn client(server: SocketAddr) -> io::Result<()> {
    let mut conn = TcpStream::connect_timeout(&server, IO_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_nodelay(true)?;
    let mut line = [b'x'; LINE];
    for _ in 0..ROUNDS {
        conn.write_all(&line)?;
        conn.read_exact(&mut line)?;
    }
    let mut rest = [0u8; 1];
    let _ = conn.read(&mut rest)?;
    Ok(())
}
