//! The echo server: the passive open (socket, bind, listen, accept), then receive and send
//! until the client ends its stream, then close; finally close the listening socket.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

use super::recorder::{Recorder, Revealed};
use crate::event::{CallArgs, CallName, Preview, SockId};
use crate::protocol::LineNumberer;

/// How much one `recv` asks for.
const RECV_BUF: usize = 4096;

/// A server socket between `socket()` and `listen()`.
pub struct EchoServer {
    rec: Recorder,
    socket: TcpSocket,
    id: SockId,
}

/// What the server does once it has accepted a connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServeOptions {
    /// Close the connection after echoing this many lines, before the client closes
    /// (the server then closes first and its socket passes through TIME-WAIT).
    pub close_after_lines: Option<u64>,
    /// Answer only after the client has ended its stream (half-close): what a server does
    /// that needs all of its input first, and the order of a trace then depends on no race.
    pub answer_at_end: bool,
}

impl EchoServer {
    /// `socket(AF_INET or AF_INET6, SOCK_STREAM)`.
    pub fn socket(rec: &Recorder, ipv6: bool) -> io::Result<EchoServer> {
        let call = rec.start(CallName::Socket, None, None, socket_args(ipv6));
        let made = if ipv6 { TcpSocket::new_v6() } else { TcpSocket::new_v4() };
        match made {
            Ok(socket) => {
                let id = rec.new_socket_id();
                let fd = socket.as_raw_fd();
                call.end(Some(&id), Ok(fd.into()), Revealed { new_socket: Some(id.clone()), ..Revealed::default() });
                Ok(EchoServer { rec: rec.clone(), socket, id })
            }
            Err(err) => {
                call.end(None, Err(&err), Revealed::default());
                Err(err)
            }
        }
    }

    /// `bind(s, addr)`: returns the address the kernel gave (port 0 picks a free port).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<SocketAddr> {
        // A restarted lesson should not wait for an old socket's TIME-WAIT to end.
        let fd = self.socket.as_raw_fd();
        self.rec.setsockopt(&self.id, fd, "SO_REUSEADDR", || self.socket.set_reuseaddr(true))?;
        self.rec.bind(&self.id, fd, addr, || self.socket.bind(addr).and_then(|()| self.socket.local_addr()))
    }

    /// `listen(s, backlog)`: the passive open.
    pub fn listen(self, backlog: u32) -> io::Result<Listening> {
        let fd = self.socket.as_raw_fd();
        let args = CallArgs { backlog: Some(backlog as i32), ..CallArgs::default() };
        let call = self.rec.start(CallName::Listen, Some(&self.id), Some(fd), args);
        match self.socket.listen(backlog) {
            Ok(listener) => {
                call.end(Some(&self.id), Ok(0), Revealed::default());
                Ok(Listening { rec: self.rec, listener, id: self.id })
            }
            Err(err) => {
                call.end(Some(&self.id), Err(&err), Revealed::default());
                Err(err)
            }
        }
    }
}

/// A listening server.
pub struct Listening {
    rec: Recorder,
    listener: TcpListener,
    id: SockId,
}

impl Listening {
    /// Accepts `connections` connections (or until `stop` resolves), echoing on each, then
    /// closes the listening socket once every connection is done.
    pub async fn serve(self, connections: Option<u64>, options: ServeOptions, stop: impl std::future::Future<Output = ()>) -> io::Result<()> {
        let mut tasks = JoinSet::new();
        let mut accepted = 0u64;
        tokio::pin!(stop);
        // Raised when the session stops: each connection then ends its pending call and
        // closes its socket, so that the trace shows every socket closed.
        let (stopping, stop_rx) = tokio::sync::watch::channel(false);
        while connections.is_none_or(|n| accepted < n) {
            // Finished connections are reaped as they end, so that a long `--serve` holds
            // only the connections that are open.
            while tasks.try_join_next().is_some() {}
            let fd = self.listener.as_raw_fd();
            let call = self.rec.start(CallName::Accept, Some(&self.id), Some(fd), CallArgs::default());
            let result = tokio::select! {
                r = self.listener.accept() => r,
                () = &mut stop => {
                    let err = io::Error::from_raw_os_error(libc::EINTR);
                    call.end(Some(&self.id), Err(&err), Revealed::default());
                    // Stopped: no more connections, so the listening socket goes first.
                    close(&self.rec, &self.id, self.listener);
                    let _ = stopping.send(true);
                    while tasks.join_next().await.is_some() {}
                    return Ok(());
                }
            };
            match result {
                Ok((stream, peer)) => {
                    let id = self.rec.new_socket_id();
                    let outcome = Revealed { new_socket: Some(id.clone()), local: stream.local_addr().ok(), peer: Some(peer), ..Revealed::default() };
                    call.end(Some(&self.id), Ok(stream.as_raw_fd().into()), outcome);
                    accepted += 1;
                    no_delay(&self.rec, &id, &stream)?;
                    let rec = self.rec.clone();
                    let stop = stop_rx.clone();
                    tasks.spawn(async move { echo_connection(rec, stream, id, options, stop).await });
                }
                Err(err) => {
                    call.end(Some(&self.id), Err(&err), Revealed::default());
                    if !passing(&err) {
                        return Err(err);
                    }
                    // Out of descriptors (or a connection reset before it was accepted): the
                    // failed accept is in the trace; the server waits for a connection to end
                    // (or a moment) and accepts again, as a server under load should.
                    tokio::select! {
                        _ = tasks.join_next(), if !tasks.is_empty() => {}
                        () = tokio::time::sleep(std::time::Duration::from_millis(100)), if tasks.is_empty() => {}
                    }
                }
            }
        }
        while let Some(done) = tasks.join_next().await {
            // A connection that failed (a client reset, say) is part of the story the trace
            // shows; it does not stop the server.
            let _ = done;
        }
        close(&self.rec, &self.id, self.listener);
        Ok(())
    }
}

/// An accept error that passes: the listening socket is fine, this one attempt failed.
fn passing(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::ECONNABORTED))
}

/// Echoes numbered lines until the client ends its stream, then closes the socket.
async fn echo_connection(
    rec: Recorder,
    mut stream: TcpStream,
    id: SockId,
    options: ServeOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> io::Result<()> {
    let fd = stream.as_raw_fd();
    let mut numberer = LineNumberer::default();
    let mut buf = vec![0u8; RECV_BUF];
    let mut echoed = 0u64;
    let mut held = Vec::new();
    loop {
        let args = CallArgs { len: Some(buf.len()), ..CallArgs::default() };
        let call = rec.start(CallName::Recv, Some(&id), Some(fd), args);
        let read = tokio::select! {
            read = stream.read(&mut buf) => read,
            _ = stop.wait_for(|s| *s) => Err(io::Error::from_raw_os_error(libc::EINTR)),
        };
        let n = match read {
            Ok(n) => {
                call.end(Some(&id), Ok(n as i64), Revealed { data: (n > 0).then(|| Preview::of(&buf[..n])), ..Revealed::default() });
                n
            }
            Err(err) => {
                call.end(Some(&id), Err(&err), Revealed::default());
                close(&rec, &id, stream);
                return Err(err);
            }
        };
        held.extend(numberer.feed(&buf[..n]));
        if n == 0 {
            held.extend(numberer.finish());
        }
        if !options.answer_at_end || n == 0 {
            for reply in held.drain(..) {
                send(&rec, &id, &mut stream, &reply).await?;
                echoed += 1;
            }
        }
        if n == 0 || options.close_after_lines.is_some_and(|limit| echoed >= limit) {
            break;
        }
    }
    close(&rec, &id, stream);
    Ok(())
}

/// `send(s, bytes)`, recorded; used by both programs.
pub(crate) async fn send(rec: &Recorder, id: &SockId, stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    let args = CallArgs { len: Some(bytes.len()), data: Some(Preview::of(bytes)), ..CallArgs::default() };
    let call = rec.start(CallName::Send, Some(id), Some(stream.as_raw_fd()), args);
    match stream.write_all(bytes).await {
        Ok(()) => {
            call.end(Some(id), Ok(bytes.len() as i64), Revealed::default());
            Ok(())
        }
        Err(err) => {
            call.end(Some(id), Err(&err), Revealed::default());
            Err(err)
        }
    }
}

/// `setsockopt(s, TCP_NODELAY, 1)`: every `send` leaves as a segment of its own, so a trace
/// shows one segment per line, however the calls are timed (Nagle's algorithm, RFC 896,
/// would hold a line back while an earlier one is unacknowledged).
pub(crate) fn no_delay(rec: &Recorder, id: &SockId, stream: &TcpStream) -> io::Result<()> {
    rec.setsockopt(id, stream.as_raw_fd(), "TCP_NODELAY", || stream.set_nodelay(true))
}

/// `close(s)`: dropping a tokio socket closes its descriptor there and then.
pub(crate) fn close<S: AsRawFd>(rec: &Recorder, id: &SockId, socket: S) {
    let call = rec.start(CallName::Close, Some(id), Some(socket.as_raw_fd()), CallArgs::default());
    drop(socket);
    call.end(Some(id), Ok(0), Revealed::default());
}

/// The arguments of `socket()` for a TCP socket.
pub(crate) fn socket_args(ipv6: bool) -> CallArgs {
    CallArgs { domain: Some(if ipv6 { "AF_INET6" } else { "AF_INET" }.to_string()), ty: Some("SOCK_STREAM".to_string()), ..CallArgs::default() }
}
