//! Packet capture under load, side by side with tcpdump: `cargo bench --bench capture`
//! (as root, with tcpdump installed).
//!
//! 64 concurrent clients each connect to a loopback echo server, send one line, read the
//! echo and close, CONNS times per run. Each round runs that load with no capture, with
//! PacketCapture alone and with `tcpdump -w` alone, twice: unpaced (as fast as the machine
//! goes, so every cycle a capture spends is a cycle the load loses) and paced at PACE
//! connections/s. Medians over ROUNDS rounds are shown. A last run captures with both at
//! once, so that their packet counts are compared on one and the same load.
//!
//! Capture CPU is the reader thread's CPU for PacketCapture (getrusage(RUSAGE_THREAD)), and
//! tcpdump's process CPU from "listening" to exit (/proc/PID/schedstat), each divided by the
//! packets it captured. Neither includes the kernel's work per packet (filter, copy into the
//! ring), which runs in the receive softirq of the load's own threads and shows up as the
//! load's slowdown.
//!
//! Env: CONNS (default 30000), ROUNDS (default 3), PACE (default 16000).

mod common;

use common::{env_or, median};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use socktrace::capture::packets::PacketCapture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Runtime;

const CLIENTS: usize = 64;
/// No single load run lasts longer than this, whatever CONNS says.
const RUN_LIMIT: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Twice tcpdump's packet buffer timeout (`pcap_set_timeout(pc, 1000)` in tcpdump.c).
const TCPDUMP_FLUSH: Duration = Duration::from_millis(2100);

fn main() -> ExitCode {
    common::exit("capture", run())
}

/// Who captures during a run.
#[derive(Clone, Copy)]
enum Capture {
    Nothing,
    Ours,
    Tcpdump,
}

const CAPTURES: [Capture; 3] = [Capture::Nothing, Capture::Ours, Capture::Tcpdump];

impl Capture {
    fn name(self) -> &'static str {
        match self {
            Capture::Nothing => "none",
            Capture::Ours => "PacketCapture",
            Capture::Tcpdump => "tcpdump",
        }
    }
}

/// One load run and what its capture saw.
struct Run {
    load: Load,
    packets: u64,
    drops: u64,
    cpu: Duration,
}

impl Run {
    fn cpu_per_packet_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.packets.max(1) as f64
    }
}

fn run() -> Result<(), String> {
    if !socktrace::capture::privilege::is_root() {
        return Err("needs root for packet capture: run `sudo -E cargo bench --bench capture`".into());
    }
    if Command::new("tcpdump").arg("--version").output().is_err() {
        return Err("tcpdump is not installed: run `apt-get install -y tcpdump`, then this bench again".into());
    }
    let conns = env_or("CONNS", 30_000);
    let rounds = env_or("ROUNDS", 3).max(1);
    let pace = env_or("PACE", 16_000).max(1) as f64;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| format!("tokio runtime: {e}"))?;
    let server = rt.block_on(TcpListener::bind("127.0.0.1:0")).map_err(|e| format!("bind: {e}"))?;
    let addr = server.local_addr().map_err(|e| format!("local_addr: {e}"))?;
    rt.spawn(echo_server(server));
    println!("echo server on {addr} (port {}); {CLIENTS} clients; {conns} connections per run", addr.port());

    rt.block_on(load(addr, conns / 10, None))?; // warm-up: caches, TIME-WAIT, page faults
    let modes = [("unpaced".to_string(), None), (format!("paced {pace:.0}/s"), Some(pace))];
    // runs[mode][capture]: one run per round.
    let mut runs: [[Vec<Run>; 3]; 2] = Default::default();
    for round in 1..=rounds {
        for (m, (label, rate)) in modes.iter().enumerate() {
            let mut line = format!("round {round} {label:<13}");
            for (c, &capture) in CAPTURES.iter().enumerate() {
                let run = run_under(&rt, addr, conns, *rate, capture)?;
                line += &format!("  {} {:.0}/s", capture.name(), run.load.rate());
                runs[m][c].push(run);
            }
            println!("{line}");
        }
    }
    let (ours_both, theirs_both) = with_both(&rt, addr, conns)?;

    println!();
    let load = &ours_both.load;
    println!("both capturing the same load at once ({} connections, {:.0} conn/s):", load.done, load.rate());
    println!("{:<32} {:>10} {:>14} {:>14}", "", "", "PacketCapture", "tcpdump -w");
    println!("{:<32} {:>10} {:>14} {:>14}", "packets captured", "", ours_both.packets, theirs_both.packets);
    println!("{:<32} {:>10} {:>14} {:>14}", "kernel drops", "", ours_both.drops, theirs_both.drops);
    println!("{:<32} {:>10} {:>14.3} {:>14.3}", "capture CPU µs/packet", "", ours_both.cpu_per_packet_us(), theirs_both.cpu_per_packet_us());

    println!();
    println!("each alone, medians of {rounds} rounds:");
    println!("{:<32} {:>10} {:>14} {:>14}", "", "none", "PacketCapture", "tcpdump -w");
    let mut slowdown = [[0.0; 3]; 2];
    for (m, (label, _)) in modes.iter().enumerate() {
        let secs = |c: usize| median(runs[m][c].iter().map(|r| r.load.elapsed.as_secs_f64()));
        let rate = |c: usize| median(runs[m][c].iter().map(|r| r.load.rate()));
        for (c, s) in slowdown[m].iter_mut().enumerate() {
            *s = secs(c) / secs(0) - 1.0;
        }
        let [_, ours, theirs] = slowdown[m];
        println!("{:<32} {:>10.0} {:>14.0} {:>14.0}", format!("{label}: connections/s"), rate(0), rate(1), rate(2));
        println!("{:<32} {:>10} {:>13.1}% {:>13.1}%", format!("{label}: load slowdown"), "-", 100.0 * ours, 100.0 * theirs);
    }
    let all = |c: usize| runs.iter().flat_map(move |mode| mode[c].iter());
    let (cpu_ours, cpu_theirs) = (median(all(1).map(Run::cpu_per_packet_us)), median(all(2).map(Run::cpu_per_packet_us)));
    println!("{:<32} {:>10} {:>14.3} {:>14.3}", "capture CPU µs/packet", "-", cpu_ours, cpu_theirs);
    let drops = |c: usize| all(c).map(|r| r.drops).sum::<u64>();
    println!("{:<32} {:>10} {:>14} {:>14}", "kernel drops (all runs)", "-", drops(1), drops(2));

    println!();
    println!("targets:");
    let verdict = |ok: bool| if ok { "ok  " } else { "MISS" };
    let top = median(runs[0][0].iter().map(|r| r.load.rate()));
    println!("{} ≥ 15,000 connections/s ({top:.0}/s unpaced, no capture)", verdict(top >= 15_000.0));
    println!("{} 0 kernel drops", verdict(ours_both.drops == 0 && drops(1) == 0));
    println!("{} packet counts equal to tcpdump's", verdict(ours_both.packets == theirs_both.packets));
    let ratio = cpu_ours / cpu_theirs;
    println!("{} capture CPU/packet ≤ 2× tcpdump's ({ratio:.2}×)", verdict(ratio <= 2.0));
    for m in [1, 0] {
        let [_, ours, theirs] = slowdown[m];
        let label = &modes[m].0;
        println!("{} load slowdown ≤ 5 % {label} ({:.1} %; tcpdump {:.1} %)", verdict(ours <= 0.05), 100.0 * ours, 100.0 * theirs);
    }
    Ok(())
}

/// One load run under one capture.
fn run_under(rt: &Runtime, addr: SocketAddr, conns: usize, pace: Option<f64>, capture: Capture) -> Result<Run, String> {
    match capture {
        Capture::Nothing => {
            let load = rt.block_on(load(addr, conns, pace))?;
            Ok(Run { load, packets: 0, drops: 0, cpu: Duration::ZERO })
        }
        Capture::Ours => {
            let ours = Ours::start(addr.port())?;
            let load = rt.block_on(load(addr, conns, pace))?;
            ours.stop(load)
        }
        Capture::Tcpdump => {
            let dump = Dump::start(addr.port())?;
            let load = rt.block_on(load(addr, conns, pace))?;
            dump.stop(load)
        }
    }
}

/// PacketCapture and tcpdump on one unpaced load.
fn with_both(rt: &Runtime, addr: SocketAddr, conns: usize) -> Result<(Run, Run), String> {
    let dump = Dump::start(addr.port())?;
    let ours = Ours::start(addr.port())?;
    let load = rt.block_on(load(addr, conns, None))?;
    let copy = Load { done: load.done, elapsed: load.elapsed };
    Ok((ours.stop(load)?, dump.stop(copy)?))
}

/// A running PacketCapture, with a consumer that takes its batches off the channel as the
/// timeline would (and drops them).
struct Ours {
    capture: PacketCapture,
    consumer: std::thread::JoinHandle<usize>,
}

impl Ours {
    fn start(port: u16) -> Result<Ours, String> {
        let (tx, rx) = mpsc::channel();
        let consumer = std::thread::spawn(move || rx.iter().map(|b: Vec<_>| b.len()).sum::<usize>());
        let capture = PacketCapture::open(&[port], false, move |b| tx.send(b).is_ok()).map_err(|e| e.to_string())?;
        Ok(Ours { capture, consumer })
    }

    fn stop(self, load: Load) -> Result<Run, String> {
        let stats = self.capture.stop().map_err(|e| e.to_string())?;
        let received = self.consumer.join().map_err(|_| "consumer panicked")?;
        if received as u64 != stats.packets {
            return Err(format!("consumer got {received} packets, capture reports {}", stats.packets));
        }
        Ok(Run { load, packets: stats.packets, drops: stats.kernel_drops, cpu: stats.reader_cpu })
    }
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

/// `conns` connections from CLIENTS concurrent clients; each connects, sends a line, reads
/// the echo and closes. Paced, connection n starts no earlier than n / pace seconds in.
async fn load(addr: SocketAddr, conns: usize, pace: Option<f64>) -> Result<Load, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + RUN_LIMIT;
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let next = next.clone();
        let from = client_address(client);
        clients.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= conns || Instant::now() >= deadline {
                    break;
                }
                if let Some(rate) = pace {
                    tokio::time::sleep_until((start + Duration::from_secs_f64(n as f64 / rate)).into()).await;
                }
                let connection = one_connection(from, addr);
                tokio::time::timeout(IO_TIMEOUT, connection).await.map_err(|_| "timed out".to_string())??;
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

/// Client `i`'s own loopback address, 127.0.1.(i+1).
///
/// Linux picks a client's ephemeral port by scanning for one whose 4-tuple is free. With one
/// client address, once its ~28k ports all hold TIME-WAIT sockets (the client closes first;
/// after ~30k connections) that scan caps this load at ~14k connections/s on a 2-core
/// machine; with one address per client the same load runs at ~30k/s.
fn client_address(i: usize) -> std::net::IpAddr {
    std::net::Ipv4Addr::new(127, 0, 1, (i % 250) as u8 + 1).into()
}

async fn one_connection(from: std::net::IpAddr, addr: SocketAddr) -> Result<(), String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    // Choose the port at connect, where only the 4-tuple must be unique, not at bind.
    let one: libc::c_int = 1;
    // SAFETY: sets an int option on a socket we own, from a live int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&socket),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(format!("IP_BIND_ADDRESS_NO_PORT: {}", std::io::Error::last_os_error()));
    }
    socket.bind(SocketAddr::new(from, 0)).map_err(|e| format!("bind {from}: {e}"))?;
    let mut s = socket.connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    s.write_all(b"ping\n").await.map_err(|e| format!("send: {e}"))?;
    let mut echo = [0u8; 5];
    s.read_exact(&mut echo).await.map_err(|e| format!("recv: {e}"))?;
    Ok(())
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

    fn stop(mut self, load: Load) -> Result<Run, String> {
        // tcpdump's TPACKET_V3 ring hands over a partly filled block only when its 1 s
        // timeout fires, and tcpdump does not drain on SIGINT: without this wait it loses
        // the packets of the last ~second.
        std::thread::sleep(TCPDUMP_FLUSH);
        let pid = self.child.id();
        // SAFETY: signals our own child, which has not been reaped (so the pid is still its).
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
        // Wait for the exit without reaping, so that its CPU time can still be read.
        // SAFETY: siginfo_t is plain data; all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes only into `info`.
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
        Ok(Run { load, packets, drops: drops.ok_or("tcpdump printed no drop count")?, cpu })
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
