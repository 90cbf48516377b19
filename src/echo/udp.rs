//! The echo over UDP: the same numbered lines, one datagram each, and no connection. The
//! server makes a datagram socket, binds it and answers every datagram to the address it came
//! from; the client never binds or connects: it names the server on every `sendto`, and the
//! kernel picks the client's port on the first one.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::socket::{bind, socket, AddressFamily, SockFlag, SockType, SockaddrStorage};
use tokio::net::UdpSocket;

use super::recorder::{Recorder, Revealed};
use super::server::close;
use crate::event::{CallArgs, CallName, Preview, SockId};
use crate::protocol::LineNumberer;

/// How much one `recvfrom` asks for: more than any line the echo sends.
const RECV_BUF: usize = 4096;

/// How long a side waits for a datagram before it gives up. Nothing resends a lost datagram
/// (RFC 768 has no acknowledgments), so a wait must be bounded by the program itself.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A server's datagram socket, made and bound but not yet serving.
pub struct DatagramServer {
    rec: Recorder,
    socket: std::net::UdpSocket,
    id: SockId,
}

impl DatagramServer {
    /// `socket(AF_INET or AF_INET6, SOCK_DGRAM)`.
    pub fn socket(rec: &Recorder, ipv6: bool) -> io::Result<DatagramServer> {
        let (socket, id) = datagram_socket(rec, ipv6)?;
        Ok(DatagramServer { rec: rec.clone(), socket, id })
    }

    /// `bind(s, addr)`: returns the address the kernel gave (port 0 picks a free port).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let fd = self.socket.as_raw_fd();
        self.rec.bind(&self.id, fd, addr, || {
            bind(fd, &SockaddrStorage::from(addr))?;
            self.socket.local_addr()
        })
    }

    /// Answers `datagrams` datagrams, each with its line numbered per sender, then closes the
    /// socket. A datagram server cannot see a conversation end, so it is told how many to
    /// expect; it also stops when `stop` resolves or when no datagram came for [`PATIENCE`].
    pub async fn serve(self, datagrams: u64, stop: impl std::future::Future<Output = ()>) -> io::Result<()> {
        let DatagramServer { rec, socket, id } = self;
        let socket = UdpSocket::from_std(socket)?;
        let mut numberers: HashMap<SocketAddr, LineNumberer> = HashMap::new();
        let mut buf = vec![0u8; RECV_BUF];
        tokio::pin!(stop);
        let mut answered = 0u64;
        let mut result = Ok(());
        'serve: while answered < datagrams {
            let (n, from) = match recvfrom(&rec, &id, &socket, &mut buf, &mut stop).await {
                Ok(Some(got)) => got,
                Ok(None) => break,
                Err(err) => {
                    result = Err(err);
                    break;
                }
            };
            let numberer = numberers.entry(from).or_default();
            let mut replies = numberer.feed(&buf[..n]);
            replies.extend(numberer.finish());
            for reply in replies {
                if let Err(err) = sendto(&rec, &id, &socket, &reply, from).await {
                    result = Err(err);
                    break 'serve;
                }
            }
            answered += 1;
        }
        close(&rec, &id, socket);
        result
    }
}

/// Runs one client against `server`: `socket`, then per message a `sendto` and the
/// `recvfrom` that brings its echo back, then `close`.
pub async fn run_udp_client(rec: Recorder, server: SocketAddr, messages: Vec<String>) -> io::Result<()> {
    let (socket, id) = datagram_socket(&rec, server.is_ipv6())?;
    let socket = UdpSocket::from_std(socket)?;
    let mut buf = vec![0u8; RECV_BUF];
    let mut result = Ok(());
    for message in &messages {
        let line = format!("{message}\n");
        if let Err(err) = sendto(&rec, &id, &socket, line.as_bytes(), server).await {
            result = Err(err);
            break;
        }
        if let Err(err) = recvfrom(&rec, &id, &socket, &mut buf, std::future::pending()).await {
            result = Err(err);
            break;
        }
    }
    close(&rec, &id, socket);
    result
}

/// `socket(AF_INET or AF_INET6, SOCK_DGRAM)`, recorded; the socket is non-blocking, for tokio.
fn datagram_socket(rec: &Recorder, ipv6: bool) -> io::Result<(std::net::UdpSocket, SockId)> {
    let call = rec.start(CallName::Socket, None, None, socket_args(ipv6));
    let domain = if ipv6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
    let socket = match socket(domain, SockType::Datagram, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None) {
        Ok(fd) => std::net::UdpSocket::from(fd),
        Err(err) => {
            let err = io::Error::from(err);
            call.end(None, Err(&err), Revealed::default());
            return Err(err);
        }
    };
    let id = rec.new_socket_id();
    call.end(Some(&id), Ok(socket.as_raw_fd().into()), Revealed { new_socket: Some(id.clone()), ..Revealed::default() });
    Ok((socket, id))
}

/// `sendto(s, bytes, to)`: one datagram. Its end reports the socket's own address, which the
/// kernel picks on a client's first `sendto`.
async fn sendto(rec: &Recorder, id: &SockId, socket: &UdpSocket, bytes: &[u8], to: SocketAddr) -> io::Result<()> {
    let args = CallArgs { addr: Some(to), len: Some(bytes.len()), data: Some(Preview::of(bytes)), ..CallArgs::default() };
    let call = rec.start(CallName::Sendto, Some(id), Some(socket.as_raw_fd()), args);
    match socket.send_to(bytes, to).await {
        Ok(n) => {
            call.end(Some(id), Ok(n as i64), Revealed { local: socket.local_addr().ok(), ..Revealed::default() });
            Ok(())
        }
        Err(err) => {
            call.end(Some(id), Err(&err), Revealed::default());
            Err(err)
        }
    }
}

/// `recvfrom(s, buf)`: one whole datagram and who sent it; `None` when `stop` resolved first,
/// which ends the call with `EINTR`, as a signal interrupts a blocking `recvfrom`. Waiting
/// longer than [`PATIENCE`] ends it with `EAGAIN`, as a blocking `recvfrom` under
/// `SO_RCVTIMEO` ends.
async fn recvfrom(
    rec: &Recorder,
    id: &SockId,
    socket: &UdpSocket,
    buf: &mut [u8],
    stop: impl std::future::Future<Output = ()>,
) -> io::Result<Option<(usize, SocketAddr)>> {
    let call = rec.start(CallName::Recvfrom, Some(id), Some(socket.as_raw_fd()), CallArgs { len: Some(buf.len()), ..CallArgs::default() });
    let received = tokio::select! {
        r = tokio::time::timeout(PATIENCE, socket.recv_from(buf)) => r,
        () = stop => {
            call.end(Some(id), Err(&io::Error::from_raw_os_error(libc::EINTR)), Revealed::default());
            return Ok(None);
        }
    };
    let Ok(received) = received else {
        call.end(Some(id), Err(&io::Error::from_raw_os_error(libc::EAGAIN)), Revealed::default());
        return Err(io::Error::new(io::ErrorKind::TimedOut, format!("no datagram came within {} s, and UDP resends nothing", PATIENCE.as_secs())));
    };
    match received {
        Ok((n, from)) => {
            call.end(Some(id), Ok(n as i64), Revealed { peer: Some(from), data: Some(Preview::of(&buf[..n])), ..Revealed::default() });
            Ok(Some((n, from)))
        }
        Err(err) => {
            call.end(Some(id), Err(&err), Revealed::default());
            Err(err)
        }
    }
}

/// The arguments of `socket()` for a UDP socket.
fn socket_args(ipv6: bool) -> CallArgs {
    CallArgs { ty: Some("SOCK_DGRAM".to_string()), ..super::server::socket_args(ipv6) }
}
