//! The packet lens: every TCP (and optionally UDP) packet of the traced ports on `lo`, with
//! the kernel's receive time on the trace clock.
//!
//! [`PacketCapture::open`] prepares an AF_PACKET socket completely before it can receive
//! anything (it is created with protocol 0, which delivers nothing until `bind`): it ignores
//! outgoing copies (`lo` shows every packet twice, once leaving and once arriving), attaches
//! the privacy filter ([`BpfProgram`]), maps a TPACKET_V3 ring, and only then binds to `lo`.
//! A reader thread decodes each block of frames the kernel hands over and delivers it as one
//! batch of `(t, Packet)`.
//!
//! ```no_run
//! # use socktrace::capture::packets::{packet_event, PacketCapture};
//! # fn main() -> Result<(), socktrace::capture::packets::CaptureError> {
//! let (tx, rx) = std::sync::mpsc::channel();
//! let capture = PacketCapture::open(&[8080], false, move |batch| {
//!     tx.send(batch.into_iter().map(|(t, p)| packet_event(t, p)).collect::<Vec<_>>()).is_ok()
//! })?;
//! // ... the session runs; `rx` yields batches ~2 ms after their packets crossed `lo`.
//! let stats = capture.stop()?; // every packet the kernel saw is in `rx` now
//! eprintln!("{} packets, {} dropped", stats.packets, stats.kernel_drops);
//! # Ok(()) }
//! ```
//!
//! Why a TPACKET_V3 ring: with `cargo bench --bench capture` on the 2-core test machine
//! (~300k packets in ~1 s per run), the reader thread's CPU per packet was, against tcpdump's
//! 0.15–0.20 µs on the same runs:
//!
//! | reader                                           | CPU/packet    |
//! |--------------------------------------------------|---------------|
//! | TPACKET_V3 ring (this file)                      | 0.13–0.19 µs  |
//! | recvmmsg(64) + SO_TIMESTAMPNS control messages   | 1.5–2.2 µs    |
//! | pnet's channel (poll + recvfrom) + SIOCGSTAMPNS  | 3.5–5.2 µs    |
//!
//! (the other two readers are on branch `packets-reader-experiment`). The ring needs no
//! system call per packet, and its timestamps are taken as each packet reaches the socket.
//! The socket-queue readers also got stamps from `recvmsg` time for the first packets after
//! `open` (a SYN 3 ms after its `connect` returned): SO_TIMESTAMPNS switches arrival
//! stamping on through a deferred work item, and an unstamped packet is stamped on receipt.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::net::if_::if_nametoindex;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{getsockopt, setsockopt, socket, AddressFamily, LinkAddr, SockFlag, SockType, SockaddrLike};
use rustix::thread::CapabilitySet;

use crate::capture::bpf::{BpfProgram, TooManyPorts};
use crate::capture::clock::{now_ns, thread_cpu_ns, RealtimeOffset};
use crate::capture::privilege::has_capability;
use crate::capture::progress::{self, Progress};
use crate::capture::ring::{Geometry, Ring};
use crate::capture::sockopts::{PacketIgnoreOutgoing, PacketStatistics};
use crate::event::{Actor, Body, Event, Origin, Packet, Role};
use crate::wire::decode::{decode_frame, DecodeError, LinkType};
use crate::wire::link::decode_link_frame;

/// Packets in the order the kernel received them, each with its time on the trace clock
/// (CLOCK_MONOTONIC ns, the clock of [`now_ns`]).
pub type PacketBatch = Vec<(u64, Packet)>;

/// Bytes kept of each packet: headers (Ethernet 14 + IP ≤ 60 + TCP ≤ 60) and more than the
/// payload preview shows. Copying whole 64 KiB loopback segments would only cost time.
pub const SNAPLEN: u32 = 256;

/// 64 blocks of 128 KiB: 8 MiB, about 160 ms of the heaviest loopback load a 2-core machine
/// makes (~320k packets/s of ~160 ring bytes each) should the reader stall. The ring replaces
/// the socket's receive queue: it is the capture's receive buffer.
const RING: Geometry = Geometry { block_size: 128 << 10, blocks: 64, retire_ms: RETIRE_MS };

/// The kernel hands over a partly filled block after this long, which bounds the latency of
/// a live display (measured: 2.0 ms from `connect` to its SYN|ACK's delivery).
const RETIRE_MS: u32 = 2;

/// How far behind its last drain the reader's progress mark stays: a packet stamped before a
/// drain began is either delivered by it or waits in a block the kernel has not retired yet,
/// which it does within RETIRE_MS.
const MARK_LAG_NS: u64 = (RETIRE_MS as u64 + 1) * 1_000_000;

/// A change of the realtime/monotonic offset larger than this is a step of the realtime
/// clock, not the spread of measuring it (tens of ns).
const OFFSET_STEP_NS: u64 = 10_000;

/// After `stop`, how long the reader keeps draining at most, should packets keep coming.
const DRAIN_MAX: Duration = Duration::from_secs(1);

/// A captured packet as a trace [`Event`]: observed, its sender's role and socket left for
/// the timeline to name.
pub fn packet_event(t: u64, packet: Packet) -> Event {
    Event { t, actor: Actor::role(Role::Unknown), socket: None, origin: Origin::Observed, body: Body::Packet(packet) }
}

/// What went wrong opening or running a capture; each message is one line.
#[derive(Debug)]
pub enum CaptureError {
    /// The process lacks CAP_NET_RAW.
    Permission { exe: PathBuf },
    /// No loopback interface named `lo`.
    NoLoopback,
    /// No interface of that name in the capturing thread's network namespace.
    NoLink(String),
    /// Too many ports for the filter.
    Filter(TooManyPorts),
    /// A system call failed.
    Io { what: &'static str, error: io::Error },
}

impl CaptureError {
    fn io(what: &'static str, error: io::Error) -> CaptureError {
        match error.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => CaptureError::Permission { exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("trace")) },
            _ => CaptureError::Io { what, error },
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Permission { exe } => {
                write!(f, "packet capture needs CAP_NET_RAW: run with sudo, or grant it with `sudo setcap cap_net_raw,cap_net_admin+ep {}`", exe.display())
            }
            CaptureError::NoLoopback => f.write_str("packet capture: no loopback interface named `lo` on this machine"),
            CaptureError::NoLink(name) => write!(f, "packet capture: no interface named `{name}` in this network namespace"),
            CaptureError::Filter(e) => write!(f, "packet capture: {e}"),
            CaptureError::Io { what, error } => write!(f, "packet capture: {what} failed: {error}"),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io { error, .. } => Some(error),
            CaptureError::Filter(e) => Some(e),
            _ => None,
        }
    }
}

/// What a capture saw, returned by [`PacketCapture::stop`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets decoded and delivered.
    pub packets: u64,
    /// Packets the kernel dropped because the ring was full (`PACKET_STATISTICS`).
    pub kernel_drops: u64,
    /// Frames the filter let through that did not decode (see `wire::decode`).
    pub undecodable: u64,
    /// CPU time the reader thread used (user + system).
    pub reader_cpu: Duration,
}

/// A running packet capture on `lo`. Dropping it stops the reader too (without the stats).
pub struct PacketCapture {
    socket: Arc<OwnedFd>,
    udp: bool,
    link: Link,
    /// Tells the reader to drain and stop.
    wake: Arc<EventFd>,
    reader: Option<Reader>,
    progress: Progress,
}

/// The reader thread, and where it hands over its account once it has let go of the socket
/// and its ring: the socket can be closed then, while the thread is still ending.
struct Reader {
    thread: JoinHandle<()>,
    done: mpsc::Receiver<io::Result<ReaderStats>>,
}

impl PacketCapture {
    /// How far the capture has delivered (see [`Progress`]).
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Starts capturing TCP (and UDP if `udp`) packets on `lo` from or to any of `ports`,
    /// handing them in batches to `deliver` on the reader thread; `deliver` returns `false`
    /// once nobody wants more (e.g. `move |batch| tx.send(batch).is_ok()` for a channel).
    /// Every packet that arrives after `open` returns is captured: open it before starting
    /// the programs to trace. `ports` may be empty (nothing is captured until
    /// [`set_ports`](Self::set_ports)); more than [`MAX_PORTS`](crate::capture::bpf::MAX_PORTS)
    /// is an error.
    pub fn open<D>(ports: &[u16], udp: bool, deliver: D) -> Result<PacketCapture, CaptureError>
    where
        D: FnMut(PacketBatch) -> bool + Send + 'static,
    {
        PacketCapture::open_at(loopback_index()?, Link::Loopback, ports, udp, deliver)
    }

    /// Like [`open`](Self::open), on the real Ethernet link `name` of the calling thread's
    /// network namespace (a host's end of the veth pair of `--hosts`): every frame is seen
    /// once (there are no looped-back copies), with its Ethernet addresses, and ARP too.
    pub fn open_on_link<D>(name: &str, ports: &[u16], udp: bool, deliver: D) -> Result<PacketCapture, CaptureError>
    where
        D: FnMut(PacketBatch) -> bool + Send + 'static,
    {
        let index = if_nametoindex(name).map_err(|_| CaptureError::NoLink(name.to_string()))?;
        PacketCapture::open_at(index, Link::Ethernet, ports, udp, deliver)
    }

    fn open_at<D>(ifindex: u32, link: Link, ports: &[u16], udp: bool, deliver: D) -> Result<PacketCapture, CaptureError>
    where
        D: FnMut(PacketBatch) -> bool + Send + 'static,
    {
        let filter = link.filter(ports, udp)?;

        // Protocol 0: the socket receives nothing until `bind` names a protocol, so no packet
        // slips in before the filter and the ring are in place.
        let socket = socket(AddressFamily::Packet, SockType::Raw, SockFlag::SOCK_CLOEXEC, None).map_err(|e| CaptureError::io("socket(AF_PACKET)", e.into()))?;

        // `lo` hands every packet to packet sockets twice: leaving and arriving. Keep one.
        // A real link shows each once: the host's own packets leaving, its peer's arriving.
        if link == Link::Loopback {
            setsockopt(&socket, PacketIgnoreOutgoing, &1).map_err(|e| CaptureError::io("setsockopt(PACKET_IGNORE_OUTGOING)", e.into()))?;
        }
        filter.attach(socket.as_fd()).map_err(|e| CaptureError::io("setsockopt(SO_ATTACH_FILTER)", e))?;
        let ring = Ring::map(socket.as_fd(), RING).map_err(|e| CaptureError::io("PACKET_RX_RING", e))?;
        bind(socket.as_fd(), ifindex).map_err(|e| CaptureError::io("bind(interface)", e))?;

        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).map_err(|e| CaptureError::io("eventfd", e.into()))?;
        let wake = Arc::new(wake);
        let socket = Arc::new(socket);
        let progress = Progress::default();
        let reader = {
            let (socket, wake, progress) = (socket.clone(), wake.clone(), progress.clone());
            let (account, done) = mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("socktrace-packets".into())
                .spawn(move || {
                    // `read` unmaps the ring as it returns.
                    let stats = read(ring, &socket, &wake, &progress, link, deliver);
                    drop(socket);
                    // The capture has stopped waiting only if it was dropped without stopping.
                    let _ = account.send(stats);
                })
                .map_err(|e| CaptureError::io("spawning the reader thread", e))?;
            Reader { thread, done }
        };
        Ok(PacketCapture { socket, udp, link, wake, reader: Some(reader), progress })
    }

    /// Captures `ports` from now on, instead of the ports given before (for ports learned
    /// while tracing). The kernel swaps filters atomically: no packet goes unfiltered.
    pub fn set_ports(&mut self, ports: &[u16]) -> Result<(), CaptureError> {
        let filter = self.link.filter(ports, self.udp)?;
        filter.attach(self.socket.as_fd()).map_err(|e| CaptureError::io("setsockopt(SO_ATTACH_FILTER)", e))
    }

    /// Stops the capture after delivering every packet the kernel already received (the last
    /// FIN and ACK of a session included), and reports what it saw. Takes a few ms: the
    /// kernel hands over a partly filled block only when its retire timer fires.
    pub fn stop(mut self) -> Result<CaptureStats, CaptureError> {
        let (reader, thread) = self.finish().map_err(|e| CaptureError::io("the reader thread", e))?;
        let stats = getsockopt(&*self.socket, PacketStatistics).map_err(|e| CaptureError::io("getsockopt(PACKET_STATISTICS)", e.into()))?;
        // Closing the socket waits out RCU grace periods (~20 ms), and a thread's end can wait
        // for another lens's removal (`trace run` stops both side by side): the socket is
        // closed first, so that the two waits overlap; or its last close is left to a child
        // process, and this one is quick (`capture::release`).
        super::release::let_go_of_socket(&*self.socket);
        drop(self);
        // The thread has nothing left to do but end.
        let _ = thread.join();
        Ok(CaptureStats { packets: reader.packets, kernel_drops: u64::from(stats.tp_drops), undecodable: reader.undecodable, reader_cpu: reader.cpu })
    }

    /// Wakes the reader to drain and stop, and waits for its account: it has let go of the
    /// socket then, and its thread is ending.
    fn finish(&mut self) -> io::Result<(ReaderStats, JoinHandle<()>)> {
        let Some(reader) = self.reader.take() else {
            return Err(io::Error::other("capture already stopped"));
        };
        self.wake.write(1)?;
        match reader.done.recv() {
            Ok(stats) => Ok((stats?, reader.thread)),
            // It ended without an account: it panicked.
            Err(_) => {
                let _ = reader.thread.join();
                Err(io::Error::other("the reader thread panicked"))
            }
        }
    }
}

impl Drop for PacketCapture {
    fn drop(&mut self) {
        if self.reader.is_some() {
            // Nobody is left to hear about an error; the thread, done with the socket, ends
            // on its own.
            let _ = self.finish();
        }
    }
}

/// A capture on `lo` that can be opened later: the link is there and the process may capture.
/// Finding that out makes nothing the kernel must undo, while opening and closing a capture
/// costs ~50 ms (the ring's allocation, and an RCU grace period or two at close): `trace run`
/// opens the capture only once its programs have a port to follow.
pub struct Loopback {
    ifindex: u32,
}

impl Loopback {
    pub fn find() -> Result<Loopback, CaptureError> {
        let ifindex = loopback_index()?;
        if !has_capability(CapabilitySet::NET_RAW) {
            return Err(CaptureError::io("socket(AF_PACKET)", io::Error::from_raw_os_error(libc::EPERM)));
        }
        Ok(Loopback { ifindex })
    }

    /// Like [`PacketCapture::open`].
    pub fn open<D>(&self, ports: &[u16], udp: bool, deliver: D) -> Result<PacketCapture, CaptureError>
    where
        D: FnMut(PacketBatch) -> bool + Send + 'static,
    {
        PacketCapture::open_at(self.ifindex, Link::Loopback, ports, udp, deliver)
    }
}

/// The index of this namespace's loopback interface: the one flagged `IFF_LOOPBACK` (named
/// `lo` on Linux, but the flag is what makes it one).
fn loopback_index() -> Result<u32, CaptureError> {
    use nix::net::if_::{if_nametoindex, InterfaceFlags};
    let addrs = nix::ifaddrs::getifaddrs().map_err(|_| CaptureError::NoLoopback)?;
    let name = addrs.into_iter().find(|a| a.flags.contains(InterfaceFlags::IFF_LOOPBACK)).map(|a| a.interface_name).ok_or(CaptureError::NoLoopback)?;
    if_nametoindex(name.as_str()).map_err(|_| CaptureError::NoLoopback)
}

/// The kind of interface a capture reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Loopback,
    /// A real Ethernet link: ARP and the Ethernet addresses matter.
    Ethernet,
}

impl Link {
    fn filter(self, ports: &[u16], udp: bool) -> Result<BpfProgram, CaptureError> {
        match self {
            Link::Loopback => BpfProgram::ports(ports, udp, SNAPLEN),
            Link::Ethernet => BpfProgram::ports_and_arp(ports, udp, SNAPLEN),
        }
        .map_err(CaptureError::Filter)
    }

    fn decode(self, frame: &[u8]) -> Result<Option<Packet>, DecodeError> {
        match self {
            Link::Loopback => decode_frame(frame, LinkType::Ethernet),
            Link::Ethernet => decode_link_frame(frame),
        }
    }
}

/// Binds the socket to the interface for every protocol: from here on, packets arrive.
fn bind(socket: BorrowedFd<'_>, ifindex: u32) -> io::Result<()> {
    let addr = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
        sll_ifindex: ifindex as i32,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    // nix only reads link addresses (from the kernel); one to bind to is built here.
    // SAFETY: `addr` is a whole sockaddr_ll, of the size passed, alive for the call.
    let link = unsafe { LinkAddr::from_raw((&raw const addr).cast(), Some(std::mem::size_of_val(&addr) as libc::socklen_t)) };
    let link = link.ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok(nix::sys::socket::bind(socket.as_raw_fd(), &link)?)
}

struct ReaderStats {
    packets: u64,
    undecodable: u64,
    cpu: Duration,
}

/// The reader thread: decode every block the kernel hands over and send it as one batch;
/// sleep in poll(2) when the ring is empty. After a wake-up on `wake`, drain and return.
fn read(ring: Ring, socket: &OwnedFd, wake: &EventFd, progress: &Progress, link: Link, deliver: impl FnMut(PacketBatch) -> bool) -> io::Result<ReaderStats> {
    let result = read_until_stopped(ring, socket, wake, progress, link, deliver);
    // Also after a failure: a lens that delivers nothing more must not hold the timeline back.
    progress.finish();
    result
}

fn read_until_stopped(
    mut ring: Ring,
    socket: &OwnedFd,
    wake: &EventFd,
    progress: &Progress,
    link: Link,
    mut deliver: impl FnMut(PacketBatch) -> bool,
) -> io::Result<ReaderStats> {
    let mut stats = ReaderStats { packets: 0, undecodable: 0, cpu: Duration::ZERO };
    let mut offset = RealtimeOffset::measure();
    // When `stop` asked (trace clock), and since when we drain (to bound it).
    let mut stopping: Option<(u64, Instant)> = None;
    // Cleared when `deliver` says nobody listens any more: the ring is then only emptied.
    let mut wanted = true;
    loop {
        let drained_at = now_ns();
        // The kernel stamps packets on the realtime clock. The offset to the trace's clock is
        // measured at every drain (about a microsecond) and taken when it moved by more than
        // the measuring's own spread: a step of the realtime clock (a time service's
        // correction) then misplaces only the packets of one drain against the calls and
        // states, where an offset kept from the lens's start would shift every packet of a
        // run by the step, and packets a few ns apart in two drains keep their order. (Such a
        // shift, 0.5 ms on one run in five, was seen for half a minute once; whether a step
        // caused it was not caught.)
        let measured = RealtimeOffset::measure();
        if measured.apart(offset) > OFFSET_STEP_NS {
            offset = measured;
        }
        while let Some(block) = ring.next_block() {
            if !wanted {
                continue;
            }
            let frames = block.frames();
            let mut batch = PacketBatch::with_capacity(frames.size_hint().1.unwrap_or(0));
            for frame in frames {
                match link.decode(frame.data) {
                    Ok(Some(packet)) => batch.push((offset.to_mono(frame.realtime_ns), packet)),
                    Ok(None) | Err(_) => stats.undecodable += 1,
                }
            }
            drop(block); // hand the block back before `deliver` takes its time
            let n = batch.len() as u64;
            if n > 0 {
                wanted = deliver(batch);
                stats.packets += if wanted { n } else { 0 };
            }
        }
        let mark = drained_at.saturating_sub(MARK_LAG_NS);
        progress.mark(mark);
        let timeout_ms = match stopping {
            None => progress::TICK.as_millis() as u16,
            // Done once the mark has passed the stop and the block the kernel is filling holds
            // nothing: every packet stamped before the stop is delivered, however late this
            // kernel retires blocks (older ones use a jiffy timer, up to 2 ticks late).
            Some((asked, _)) if mark >= asked && !ring.pending() => break,
            Some((_, since)) if since.elapsed() >= DRAIN_MAX => break,
            // Until the mark can pass the stop, or the kernel retires the block it fills.
            Some((asked, _)) => (asked.saturating_sub(mark) / 1_000_000).clamp(1, u64::from(RETIRE_MS)) as u16,
        };
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN), PollFd::new(wake.as_fd(), PollFlags::POLLIN)];
        // Once stopping, the wake-up stays readable: watch the ring alone.
        let watched = if stopping.is_some() { &mut fds[..1] } else { &mut fds[..] };
        match poll(watched, PollTimeout::from(timeout_ms)) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(error) => return Err(error.into()),
        }
        if stopping.is_none() && fds[1].revents().is_some_and(|r| r.contains(PollFlags::POLLIN)) {
            stopping = Some((now_ns(), Instant::now()));
        }
    }
    stats.cpu = Duration::from_nanos(thread_cpu_ns());
    Ok(stats)
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use crate::capture::privilege::live_test_allowed;
    use crate::event::Transport;
    use crate::tcp::flags::TcpFlags;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::mpsc;

    fn flags(p: &Packet) -> String {
        p.tcp.as_ref().map_or("udp".into(), |t| t.flags.without_psh().to_string())
    }

    /// One echo session on `listener`: connect, send a line, read the echo, close. Returns
    /// the monotonic times just before and just after `connect`.
    fn echo_session(listener: &TcpListener) -> (u64, u64) {
        let addr = listener.local_addr().expect("listener address");
        let before = now_ns();
        let mut client = TcpStream::connect(addr).expect("connect");
        let after = now_ns();
        let (mut server, _) = listener.accept().expect("accept");
        client.write_all(b"hello\n").expect("send");
        let mut line = [0u8; 6];
        server.read_exact(&mut line).expect("server reads");
        server.write_all(&line).expect("echo");
        client.read_exact(&mut line).expect("client reads");
        client.shutdown(Shutdown::Both).expect("client closes");
        drop(client);
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).expect("server reads EOF");
        drop(server);
        (before, after)
    }

    #[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
    #[test]
    fn echo_session__every_packet_once_in_order_on_the_call_clock() {
        if !live_test_allowed("echo_session__every_packet_once_in_order_on_the_call_clock") {
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let port = listener.local_addr().expect("address").port();
        let other = TcpListener::bind("127.0.0.1:0").expect("bind another port 0");
        eprintln!("traced port {port}, other port {}", other.local_addr().expect("address").port());
        let (tx, rx) = mpsc::channel();
        let capture = PacketCapture::open(&[port], false, move |b| tx.send(b).is_ok()).expect("open capture");

        let (before, after) = echo_session(&listener);
        echo_session(&other); // traffic the filter must keep out
        let stats = capture.stop().expect("stop");

        let packets: Vec<(u64, Packet)> = rx.try_iter().flatten().collect();
        assert_eq!(stats.packets, packets.len() as u64);
        assert_eq!((stats.kernel_drops, stats.undecodable), (0, 0));
        for (_, p) in &packets {
            assert!(p.src.port() == port || p.dst.port() == port, "foreign packet {p:?}");
            assert_eq!(p.transport, Transport::Tcp);
        }
        let seen: Vec<String> = packets.iter().map(|(_, p)| flags(p)).collect();
        eprintln!("captured: {seen:?}");
        assert_eq!(seen[..3], ["SYN", "SYN|ACK", "ACK"], "handshake first: {seen:?}");
        let (t_syn, t_synack) = (packets[0].0, packets[1].0);
        assert!(before <= t_syn && t_syn <= t_synack && t_synack <= after, "{before} <= {t_syn} <= {t_synack} <= {after}");
        assert!(packets.windows(2).all(|w| w[0].0 <= w[1].0), "times ascend");

        // No duplicates: the outgoing copies `lo` also shows are ignored.
        let mut keys: Vec<_> = packets
            .iter()
            .map(|(_, p)| {
                let t = p.tcp.as_ref().expect("tcp");
                (p.src, t.seq, t.ack, t.flags, p.len)
            })
            .collect();
        keys.sort_by_key(|k| format!("{k:?}"));
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "each packet once: {seen:?}");

        let data: Vec<&str> = packets.iter().filter_map(|(_, p)| p.payload.as_ref().map(|d| d.text.as_str())).collect();
        assert_eq!(data, ["hello\\n", "hello\\n"], "line and its echo");
        let fins = packets.iter().filter(|(_, p)| p.tcp.as_ref().is_some_and(|t| t.flags.contains(TcpFlags::FIN)));
        let fin_senders: Vec<_> = fins.map(|(_, p)| p.src).collect();
        assert_eq!(fin_senders.len(), 2, "a FIN from each side: {seen:?}");
        assert_ne!(fin_senders[0], fin_senders[1]);
        assert_eq!(seen.last().map(String::as_str), Some("ACK"), "the last ACK is not lost: {seen:?}");
    }

    #[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
    #[test]
    fn ipv6_session__captured_with_v6_addresses() {
        if !live_test_allowed("ipv6_session__captured_with_v6_addresses") {
            return;
        }
        let listener = TcpListener::bind("[::1]:0").expect("bind [::1]:0");
        let port = listener.local_addr().expect("address").port();
        let (tx, rx) = mpsc::channel();
        let capture = PacketCapture::open(&[port], false, move |b| tx.send(b).is_ok()).expect("open capture");
        echo_session(&listener);
        let stats = capture.stop().expect("stop");
        let packets: Vec<(u64, Packet)> = rx.try_iter().flatten().collect();
        assert_eq!(stats.packets, packets.len() as u64);
        let (_, syn) = packets.first().expect("a packet");
        assert_eq!(flags(syn), "SYN");
        assert!(syn.src.is_ipv6() && syn.dst == listener.local_addr().expect("address"), "{syn:?}");
        assert_eq!(syn.tcp.as_ref().expect("tcp").options.mss, Some(65476), "lo's IPv6 MSS: 65536 - 40 - 20");
    }

    #[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
    #[test]
    fn set_ports__captures_the_new_port_only() {
        if !live_test_allowed("set_ports__captures_the_new_port_only") {
            return;
        }
        let first = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let second = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let second_port = second.local_addr().expect("address").port();
        let (tx, rx) = mpsc::channel();
        let mut capture = PacketCapture::open(&[], false, move |b| tx.send(b).is_ok()).expect("open capture with no ports");
        echo_session(&first);
        capture.set_ports(&[second_port]).expect("set ports");
        echo_session(&second);
        capture.stop().expect("stop");
        let packets: Vec<(u64, Packet)> = rx.try_iter().flatten().collect();
        assert!(!packets.is_empty());
        assert!(packets.iter().all(|(_, p)| p.src.port() == second_port || p.dst.port() == second_port));
    }

    #[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
    #[test]
    fn first_packet__delivered_within_a_few_ms() {
        if !live_test_allowed("first_packet__delivered_within_a_few_ms") {
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let (tx, rx) = mpsc::channel();
        let capture = PacketCapture::open(&[listener.local_addr().expect("address").port()], false, move |b| tx.send(b).is_ok()).expect("open");
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            let sent = Instant::now();
            let stream = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
            // The handshake's three packets, in one or more batches.
            let mut got = 0;
            while got < 3 {
                got += rx.recv_timeout(Duration::from_secs(1)).expect("packets arrive").len();
            }
            worst = worst.max(sent.elapsed());
            drop(stream);
            let (accepted, _) = listener.accept().expect("accept");
            drop(accepted);
            while rx.recv_timeout(Duration::from_millis(30)).is_ok() {}
        }
        eprintln!("worst delivery latency over 20 handshakes: {worst:?}");
        capture.stop().expect("stop");
        assert!(worst < Duration::from_millis(50), "{worst:?}");
    }

    /// Clears CAP_NET_RAW from the calling thread's effective set (capabilities are per
    /// thread on Linux), as if the process ran without the privilege.
    fn drop_cap_net_raw() {
        let mut sets = rustix::thread::capabilities(None).expect("capget");
        sets.effective.remove(CapabilitySet::NET_RAW);
        rustix::thread::set_capabilities(None, sets).expect("capset");
    }

    #[cfg_attr(socktrace_unprivileged, ignore = "needs root: run `sudo -E cargo test`")]
    #[test]
    fn without_cap_net_raw__open_says_how_to_grant_it() {
        if !live_test_allowed("without_cap_net_raw__open_says_how_to_grant_it") {
            return;
        }
        let message = std::thread::spawn(|| {
            drop_cap_net_raw();
            PacketCapture::open(&[1], false, |_| true).map(|_| ()).expect_err("no CAP_NET_RAW").to_string()
        })
        .join()
        .expect("test thread");
        assert!(
            message.starts_with("packet capture needs CAP_NET_RAW: run with sudo, or grant it with `sudo setcap cap_net_raw,cap_net_admin+ep /"),
            "{message}"
        );
    }

    #[test]
    fn permission_error__says_what_to_run() {
        let e = CaptureError::io("socket(AF_PACKET)", io::Error::from_raw_os_error(libc::EPERM));
        let exe = std::env::current_exe().expect("test binary path");
        assert_eq!(
            e.to_string(),
            format!("packet capture needs CAP_NET_RAW: run with sudo, or grant it with `sudo setcap cap_net_raw,cap_net_admin+ep {}`", exe.display())
        );
    }
}
