//! The echo client: the active open (socket, connect), then for each message a send and the
//! receives that bring its echo back, then close.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use super::recorder::{Outcome, Recorder};
use super::server::{close, send, socket_args};
use crate::event::{CallArgs, CallName, Preview, SockId};

/// What one client does after connecting.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Lines to send, each answered by one echoed line.
    pub messages: Vec<String>,
    /// After sending, `shutdown(SHUT_WR)` and read the echoes that still come (half-close).
    pub half_close: bool,
}

/// Runs one client against `server`: `socket`, `connect`, send/receive per message, `close`.
pub async fn run_client(rec: Recorder, server: SocketAddr, options: ClientOptions) -> io::Result<()> {
    let call = rec.start(CallName::Socket, None, None, socket_args(server.is_ipv6()));
    let socket = match if server.is_ipv6() { TcpSocket::new_v6() } else { TcpSocket::new_v4() } {
        Ok(socket) => socket,
        Err(err) => {
            call.end(None, Err(&err), Outcome::default());
            return Err(err);
        }
    };
    let id = rec.new_socket_id();
    call.end(Some(&id), Ok(socket.as_raw_fd().into()), Outcome { new_socket: Some(id.clone()), ..Outcome::default() });

    let args = CallArgs { addr: Some(server), ..CallArgs::default() };
    let call = rec.start(CallName::Connect, Some(&id), Some(socket.as_raw_fd()), args);
    let fd = socket.as_raw_fd();
    let mut stream = match socket.connect(server).await {
        Ok(stream) => {
            let outcome = Outcome { local: stream.local_addr().ok(), peer: Some(server), ..Outcome::default() };
            call.end(Some(&id), Ok(0), outcome);
            stream
        }
        Err(err) => {
            call.end(Some(&id), Err(&err), Outcome::default());
            // The socket was closed by tokio when connect failed; record the close the
            // program's code would make.
            let closing = rec.start(CallName::Close, Some(&id), Some(fd), CallArgs::default());
            closing.end(Some(&id), Ok(0), Outcome::default());
            return Err(err);
        }
    };

    for message in &options.messages {
        let line = format!("{message}\n");
        send(&rec, &id, &mut stream, line.as_bytes()).await?;
        if !options.half_close {
            recv_lines(&rec, &id, &mut stream, 1).await?;
        }
    }
    if options.half_close {
        shutdown_write(&rec, &id, &stream)?;
        // Read every echo still coming, until the server closes its side.
        recv_lines(&rec, &id, &mut stream, usize::MAX).await?;
    }
    close(&rec, &id, stream);
    Ok(())
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
                call.end(Some(id), Ok(n as i64), Outcome { data: (n > 0).then(|| Preview::of(&buf[..n])), ..Outcome::default() });
                if n == 0 {
                    break;
                }
                done += buf[..n].iter().filter(|&&b| b == b'\n').count();
            }
            Err(err) => {
                call.end(Some(id), Err(&err), Outcome::default());
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
    // SAFETY: `fd` is the open descriptor owned by `stream`, which outlives this call;
    // shutdown does not close it.
    let rc = unsafe { libc::shutdown(fd, libc::SHUT_WR) };
    if rc == 0 {
        call.end(Some(id), Ok(0), Outcome::default());
        Ok(())
    } else {
        let err = io::Error::last_os_error();
        call.end(Some(id), Err(&err), Outcome::default());
        Err(err)
    }
}
