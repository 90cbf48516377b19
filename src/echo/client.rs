//! The echo client: the active open (socket, connect), then for each message a send and the
//! receives that bring its echo back, then close.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockProtocol, SockType, SockaddrStorage};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::recorder::{Recorder, Revealed};
use super::server::{close, no_delay, send, socket_args};
use crate::event::{CallArgs, CallName, Preview, SockId};

/// What one client does after connecting.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Lines to send, each answered by one echoed line.
    pub messages: Vec<String>,
    pub ending: Ending,
}

/// How the client ends its conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Close as soon as the last echo has come: the client closes first.
    CloseFirst,
    /// After the last echo, read until the server ends the stream, then close.
    ReadToEnd,
    /// Send every line, `shutdown(SHUT_WR)`, read the echoes to the end, then close.
    HalfClose,
    /// As `CloseFirst`, but abort: `SO_LINGER` 0 makes the close send RST instead of FIN
    /// (RFC 9293 §3.10.5), and the socket skips TIME-WAIT.
    Abort,
}

/// Runs one client against `server`: `socket`, `connect`, send/receive per message, `close`.
pub async fn run_client(rec: Recorder, server: SocketAddr, options: ClientOptions) -> io::Result<()> {
    let call = rec.start(CallName::Socket, None, None, socket_args(server.is_ipv6()));
    // As tokio's `TcpSocket` makes it: non-blocking (for tokio), close-on-exec, IPPROTO_TCP.
    let domain = if server.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
    let socket = match socket::socket(domain, SockType::Stream, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, SockProtocol::Tcp) {
        Ok(fd) => std::net::TcpStream::from(fd),
        Err(err) => {
            let err = io::Error::from(err);
            call.end(None, Err(&err), Revealed::default());
            return Err(err);
        }
    };
    let id = rec.new_socket_id();
    call.end(Some(&id), Ok(socket.as_raw_fd().into()), Revealed { new_socket: Some(id.clone()), ..Revealed::default() });

    let args = CallArgs { addr: Some(server), ..CallArgs::default() };
    let fd = socket.as_raw_fd();
    let call = rec.start(CallName::Connect, Some(&id), Some(fd), args);
    let (local, result) = connect(socket, server).await;
    let mut stream = match result {
        Ok(stream) => {
            call.end(Some(&id), Ok(0), Revealed { local, peer: Some(server), ..Revealed::default() });
            no_delay(&rec, &id, &stream)?;
            stream
        }
        Err((err, socket)) => {
            call.end(Some(&id), Err(&err), Revealed { local, peer: Some(server), ..Revealed::default() });
            if let Some(socket) = socket {
                close(&rec, &id, socket);
            }
            return Err(err);
        }
    };

    let half_close = options.ending == Ending::HalfClose;
    for message in &options.messages {
        let line = format!("{message}\n");
        send(&rec, &id, &mut stream, line.as_bytes()).await?;
        if !half_close {
            recv_lines(&rec, &id, &mut stream, 1).await?;
        }
    }
    if half_close {
        shutdown_write(&rec, &id, &stream)?;
    }
    if options.ending == Ending::Abort {
        rec.setsockopt(&id, stream.as_raw_fd(), "SO_LINGER", || stream.set_zero_linger())?;
    }
    if !matches!(options.ending, Ending::CloseFirst | Ending::Abort) {
        // Read every echo still coming, until the server closes its side.
        recv_lines(&rec, &id, &mut stream, usize::MAX).await?;
    }
    close(&rec, &id, stream);
    Ok(())
}

/// The active open, as a blocking `connect()` does it in the kernel: the `connect(2)` system
/// call sends the SYN and returns at once (EINPROGRESS, the socket being non-blocking), then
/// the call waits until the handshake has completed or failed. The local address the kernel
/// chose is read right after the system call, because a refused attempt gives the port back.
/// A failed attempt gives the socket back, for the program to close (unless tokio could not
/// take it, in which case it was closed with the error).
async fn connect(std_stream: std::net::TcpStream, server: SocketAddr) -> (Option<SocketAddr>, Result<TcpStream, (io::Error, Option<OwnedFd>)>) {
    let started = socket::connect(std_stream.as_raw_fd(), &SockaddrStorage::from(server));
    let local = std_stream.local_addr().ok();
    match started {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(err) => return (local, Err((err.into(), Some(std_stream.into())))),
    }
    let stream = match TcpStream::from_std(std_stream) {
        Ok(stream) => stream,
        Err(err) => return (local, Err((err, None))),
    };
    // RFC 9293 §3.10.7.3: the connection is established, or refused, when the SYN|ACK or RST
    // arrives; the socket turns writable then, and SO_ERROR says which.
    let failure = match stream.writable().await {
        Ok(()) => match stream.take_error() {
            Ok(None) => return (local, Ok(stream)),
            Ok(Some(err)) | Err(err) => err,
        },
        Err(err) => err,
    };
    (local, Err((failure, stream.into_std().ok().map(OwnedFd::from))))
}

/// Receives until `lines` more newlines have arrived or the peer ends its stream.
async fn recv_lines(rec: &Recorder, id: &SockId, stream: &mut TcpStream, lines: usize) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    let mut done = 0;
    while done < lines {
        let args = CallArgs { len: Some(buf.len()), ..CallArgs::default() };
        let call = rec.start(CallName::Recv, Some(id), Some(stream.as_raw_fd()), args);
        match stream.read(&mut buf).await {
            Ok(n) => {
                call.end(Some(id), Ok(n as i64), Revealed { data: (n > 0).then(|| Preview::of(&buf[..n])), ..Revealed::default() });
                if n == 0 {
                    break;
                }
                done += buf[..n].iter().filter(|&&b| b == b'\n').count();
            }
            Err(err) => {
                call.end(Some(id), Err(&err), Revealed::default());
                return Err(err);
            }
        }
    }
    Ok(())
}

/// `shutdown(s, SHUT_WR)`: sends our FIN while the socket can still receive.
fn shutdown_write(rec: &Recorder, id: &SockId, stream: &TcpStream) -> io::Result<()> {
    let fd = stream.as_raw_fd();
    let args = CallArgs { how: Some("SHUT_WR".to_string()), ..CallArgs::default() };
    let call = rec.start(CallName::Shutdown, Some(id), Some(fd), args);
    match socket::shutdown(fd, socket::Shutdown::Write) {
        Ok(()) => {
            call.end(Some(id), Ok(0), Revealed::default());
            Ok(())
        }
        Err(err) => {
            let err = io::Error::from(err);
            call.end(Some(id), Err(&err), Revealed::default());
            Err(err)
        }
    }
}
