//! Packet capture under load, side by side with tcpdump: `cargo bench --bench capture`
//! (as root, with tcpdump installed).
//!
//! 64 concurrent clients each connect to a loopback echo server, send one line, read the
//! echo and close, CONNS times. The same load runs with no capture, with PacketCapture
//! alone, with `tcpdump -w` alone (interleaved over ROUNDS rounds; medians shown), and
//! finally with both at once, so that their packet counts can be compared on one load.
//!
//! Capture CPU is the reader thread's CPU for PacketCapture (getrusage(RUSAGE_THREAD)), and
//! for tcpdump its process's CPU from "listening" to exit (/proc/PID/schedstat), each
//! divided by the packets it captured. Neither counts the kernel's copy into the ring, which
//! runs in the receive softirq of the sending threads (part of the load's slowdown).
//!
//! Env: CONNS (default 30000), ROUNDS (default 3).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use socktrace::capture::packets::{CaptureStats, PacketCapture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CLIENTS: usize = 64;
/// No single load run lasts longer than this, whatever CONNS says.
const RUN_LIMIT: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Twice tcpdump's packet buffer timeout (`pcap_set_timeout(pc, 1000)` in tcpdump.c).
const TCPDUMP_FLUSH: Duration = Duration::from_millis(2100);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capture bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    if !socktrace::capture::privilege::is_root() {
        return Err("needs root for packet capture: run `sudo -E cargo bench --bench capture`".into());
    }
    if Command::new("tcpdump").arg("--version").output().is_err() {
        return Err("tcpdump is not installed: `apt-get install -y tcpdump`, then run again".into());
    }
    let conns = env_usize("CONNS", 30_000);
    let rounds = env_usize("ROUNDS", 3).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let server = rt.block_on(TcpListener::bind("127.0.0.1:0")).map_err(|e| format!("bind: {e}"))?;
    let addr = server.local_addr().map_err(|e| format!("local_addr: {e}"))?;
    rt.spawn(echo_server(server));
    println!("echo server on {addr} (port {}), {CLIENTS} clients, {conns} connections per run", addr.port());

    rt.block_on(load(addr, conns / 10))?; // warm-up: caches, TIME-WAIT reuse, page faults
    let mut none = Vec::new();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 1..=rounds {
        none.push(rt.block_on(load(addr, conns))?);
        ours.push(with_ours(&rt, addr, conns)?);
        theirs.push(with_tcpdump(&rt, addr, conns)?);
        println!(
            "round {round}: none {:.0}/s, PacketCapture {:.0}/s, tcpdump {:.0}/s",
            none[round - 1].rate(),
            ours[round - 1].0.rate(),
            theirs[round - 1].0.rate()
        );
    }
    let both = with_both(&rt, addr, conns)?;

    let base = median(none.iter().map(|l| l.elapsed.as_secs_f64()));
    let slow = |runs: &mut dyn Iterator<Item = &Load>| median(runs.map(|l| l.elapsed.as_secs_f64())) / base - 1.0;
    let slow_ours = slow(&mut ours.iter().map(|(l, _)| l));
    let slow_theirs = slow(&mut theirs.iter().map(|(l, _)| l));
    let cpu_ours = median(ours.iter().map(|(_, s)| per_packet_us(s.reader_cpu, s.packets)));
    let cpu_theirs = median(theirs.iter().map(|(_, t)| per_packet_us(t.cpu, t.packets)));
    let (ours_both, theirs_both, load_both) = both;

    println!();
    println!(
        "same load, both capturing at once ({} connections in {:.2} s, {:.0} conn/s):",
        load_both.done,
        load_both.elapsed.as_secs_f64(),
        load_both.rate()
    );
    println!("{:<28} {:>14} {:>14}", "", "PacketCapture", "tcpdump -w");
    println!("{:<28} {:>14} {:>14}", "packets captured", ours_both.packets, theirs_both.packets);
    println!("{:<28} {:>14} {:>14}", "kernel drops", ours_both.kernel_drops, theirs_both.drops);
    println!(
        "{:<28} {:>14.3} {:>14.3}",
        "capture CPU µs/packet",
        per_packet_us(ours_both.reader_cpu, ours_both.packets),
        per_packet_us(theirs_both.cpu, theirs_both.packets)
    );
    println!();
    println!("alone, medians of {rounds} rounds ({:.0} conn/s with no capture):", conns as f64 / base);
    println!("{:<28} {:>14} {:>14}", "", "PacketCapture", "tcpdump -w");
    println!("{:<28} {:>14.3} {:>14.3}", "capture CPU µs/packet", cpu_ours, cpu_theirs);
    println!("{:<28} {:>13.1}% {:>13.1}%", "load slowdown", 100.0 * slow_ours, 100.0 * slow_theirs);
    let drops_ours: u64 = ours.iter().map(|(_, s)| s.kernel_drops).sum();
    let drops_theirs: u64 = theirs.iter().map(|(_, t)| t.drops).sum();
    println!("{:<28} {:>14} {:>14}", "kernel drops (all rounds)", drops_ours, drops_theirs);

    println!();
    let verdict = |ok: bool| if ok { "ok  " } else { "MISS" };
    println!("{} 0 drops", verdict(ours_both.kernel_drops == 0 && drops_ours == 0));
    println!("{} counts equal to tcpdump's", verdict(ours_both.packets == theirs_both.packets));
    println!("{} CPU/packet ≤ 2× tcpdump's ({:.2}×)", verdict(cpu_ours <= 2.0 * cpu_theirs), cpu_ours / cpu_theirs);
    println!("{} slowdown ≤ 5 % ({:.1} %)", verdict(slow_ours <= 0.05), 100.0 * slow_ours);
    println!(
        "{} ≥ 15,000 connections/s without capture ({:.0}/s)",
        verdict(conns as f64 / base >= 15_000.0),
        conns as f64 / base
    );
    Ok(())
}

/// One load run.
struct Load {
    done: usize,
    elapsed: Duration,
}

impl Load {
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }
}

/// What tcpdump captured.
struct Tcpdump {
    packets: u64,
    drops: u64,
    cpu: Duration,
}

async fn echo_server(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            // Echo until the client closes (clients time out, so this ends); errors end it too.
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// CONNS connections from CLIENTS concurrent clients; each connects, sends a line, reads the
/// echo and closes.
async fn load(addr: SocketAddr, conns: usize) -> Result<Load, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + RUN_LIMIT;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let next = next.clone();
        clients.push(tokio::spawn(async move {
            let mut done = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < conns && Instant::now() < deadline {
                tokio::time::timeout(IO_TIMEOUT, one_connection(addr)).await.map_err(|_| "timed out".to_string())??;
                done += 1;
            }
            Ok::<usize, String>(done)
        }));
    }
    let mut done = 0;
    for c in clients {
        done += c.await.map_err(|e| format!("client task: {e}"))??;
    }
    Ok(Load { done, elapsed: start.elapsed() })
}

async fn one_connection(addr: SocketAddr) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    s.write_all(b"ping\n").await.map_err(|e| format!("send: {e}"))?;
    let mut echo = [0u8; 5];
    s.read_exact(&mut echo).await.map_err(|e| format!("recv: {e}"))?;
    Ok(())
}

/// Starts a consumer that counts the batches PacketCapture delivers, as the timeline would
/// take them off the channel.
fn with_ours(rt: &tokio::runtime::Runtime, addr: SocketAddr, conns: usize) -> Result<(Load, CaptureStats), String> {
    let (tx, rx) = mpsc::channel();
    let consumer = std::thread::spawn(move || rx.iter().map(|b: Vec<_>| b.len()).sum::<usize>());
    let capture = PacketCapture::open(&[addr.port()], false, tx).map_err(|e| e.to_string())?;
    let load = rt.block_on(load(addr, conns))?;
    let stats = capture.stop().map_err(|e| e.to_string())?;
    let received = consumer.join().map_err(|_| "consumer panicked")?;
    if received as u64 != stats.packets {
        return Err(format!("consumer got {received} packets, capture reports {}", stats.packets));
    }
    Ok((load, stats))
}

fn with_tcpdump(rt: &tokio::runtime::Runtime, addr: SocketAddr, conns: usize) -> Result<(Load, Tcpdump), String> {
    let dump = Dump::start(addr.port())?;
    let load = rt.block_on(load(addr, conns))?;
    Ok((load, dump.stop()?))
}

fn with_both(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    conns: usize,
) -> Result<(CaptureStats, Tcpdump, Load), String> {
    let dump = Dump::start(addr.port())?;
    let (tx, rx) = mpsc::channel();
    let consumer = std::thread::spawn(move || rx.iter().map(|b: Vec<_>| b.len()).sum::<usize>());
    let capture = PacketCapture::open(&[addr.port()], false, tx).map_err(|e| e.to_string())?;
    let load = rt.block_on(load(addr, conns))?;
    let ours = capture.stop().map_err(|e| e.to_string())?;
    consumer.join().map_err(|_| "consumer panicked")?;
    Ok((ours, dump.stop()?, load))
}

/// A running `tcpdump -i lo -w FILE 'tcp port P'`.
struct Dump {
    child: Child,
    file: std::path::PathBuf,
    stderr: mpsc::Receiver<String>,
    cpu_at_start: Duration,
}

impl Dump {
    fn start(port: u16) -> Result<Dump, String> {
        let file = std::env::temp_dir().join(format!("socktrace-bench-{}-{port}.pcap", std::process::id()));
        let mut child = Command::new("tcpdump")
            .args(["-i", "lo", "-w"])
            .arg(&file)
            .arg(format!("tcp port {port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("tcpdump: {e}"))?;
        let stderr = child.stderr.take().ok_or("tcpdump: no stderr")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line); // the bench may have stopped listening; nothing to do
            }
        });
        // tcpdump says "listening on lo" once its socket is bound and filtered.
        loop {
            let line = lines.recv_timeout(Duration::from_secs(10)).map_err(|_| "tcpdump did not start")?;
            if line.contains("listening on") {
                break;
            }
        }
        let cpu_at_start = schedstat(child.id())?;
        Ok(Dump { child, file, stderr: lines, cpu_at_start })
    }

    fn stop(mut self) -> Result<Tcpdump, String> {
        // tcpdump's TPACKET_V3 ring hands over a partly filled block only when its 1 s
        // timeout fires, and tcpdump does not drain on SIGINT: without this wait it loses
        // the packets of the last ~second.
        std::thread::sleep(TCPDUMP_FLUSH);
        let pid = self.child.id();
        // SAFETY: signals our own child, which has not been reaped (so the pid is still its).
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
        // Wait for the exit without reaping, so that its CPU time can still be read.
        // SAFETY: waitid writes only into `info`.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc != 0 {
            return Err(format!("waitid(tcpdump): {}", std::io::Error::last_os_error()));
        }
        let cpu = schedstat(pid)?.saturating_sub(self.cpu_at_start);
        self.child.wait().map_err(|e| format!("tcpdump: {e}"))?;
        let mut drops = None;
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            if let Some(n) = line.strip_suffix(" packets dropped by kernel") {
                drops = n.trim().parse().ok();
            }
        }
        let packets = pcap_records(&self.file)?;
        let _ = std::fs::remove_file(&self.file); // a leftover temp file is harmless
        Ok(Tcpdump { packets, drops: drops.ok_or("tcpdump printed no drop count")?, cpu })
    }
}

/// Time a process has run on a CPU, from /proc/PID/schedstat (ns).
fn schedstat(pid: u32) -> Result<Duration, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).map_err(|e| format!("schedstat: {e}"))?;
    let ns = text.split_whitespace().next().and_then(|n| n.parse().ok()).ok_or("schedstat: unexpected format")?;
    Ok(Duration::from_nanos(ns))
}

/// Records in a classic pcap file: a 24-byte file header, then a 16-byte header per record
/// whose bytes 8..12 give the captured length.
fn pcap_records(path: &std::path::Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let magic = bytes.get(..4).ok_or("pcap file too short")?;
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Err("not a pcap file".into()),
    };
    let (mut at, mut n) = (24usize, 0u64);
    while let Some(h) = bytes.get(at..at + 16) {
        let len = [h[8], h[9], h[10], h[11]];
        let len = if little { u32::from_le_bytes(len) } else { u32::from_be_bytes(len) };
        at += 16 + len as usize;
        n += 1;
    }
    Ok(n)
}

fn per_packet_us(cpu: Duration, packets: u64) -> f64 {
    cpu.as_secs_f64() * 1e6 / packets.max(1) as f64
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
