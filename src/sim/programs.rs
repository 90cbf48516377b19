//! The simulated programs: the course's line-echo server, which sends every line back with
//! its number in front (`1: hello`), and its client — over TCP, and over UDP.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::os::{Fd, Os, SockType};
use crate::protocol::LineNumberer;

/// Where the server listens (the port of the course's sample session).
pub(super) const SERVER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1234));

/// Where each peer of a peer-to-peer session listens, in [`crate::event::Peer::PAIR`] order.
pub(super) const PEER_ADDRS: [SocketAddr; 2] =
    [SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1234)), SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1235))];

/// The backlog passed to `listen`: the classic `SOMAXCONN`.
const BACKLOG: i32 = 128;

/// The client starts this long after the server (in ns), as it would be started by hand.
const CLIENT_START_NS: u64 = 1_000_000;

/// Who closes the TCP connection, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Closing {
    /// The client closes after its last echo; the server closes when it reads the end.
    ClientFirst,
    /// The server closes after echoing every line; the client closes when it reads the end.
    ServerFirst,
    /// The client sends every line, shuts its sending side down, then reads the echoes to the
    /// end; the server answers once it has read the client's end of stream.
    HalfClose,
    /// Both close at the same instant, after the last echo.
    Together,
}

/// Takes one connection at `at` and echoes its lines: socket, bind, listen, accept,
/// recv/send, close the connection, close the listening socket. `lines` is how many it expects.
pub(super) async fn tcp_echo_server(os: Os, at: SocketAddr, closing: Closing, lines: usize) {
    let listener = os.socket(SockType::Stream).await;
    os.bind(&listener, at).await;
    os.listen(&listener, BACKLOG).await;
    let conn = os.accept(&listener).await;
    let mut numbered = LineNumberer::default();
    // The server reads to the client's end of stream, unless it is to close first.
    let closes_early = matches!(closing, Closing::ServerFirst | Closing::Together);
    let answers_at_end = closing == Closing::HalfClose;
    let mut held = Vec::new();
    'serve: while !(closes_early && numbered.answered() >= lines as u64) {
        let data = match os.recv(&conn).await {
            Ok(data) if !data.is_empty() => data,
            _ => break,
        };
        for reply in numbered.feed(&data) {
            if answers_at_end {
                held.push(reply);
            } else if os.send(&conn, &reply).await.is_err() {
                break 'serve;
            }
        }
    }
    for reply in held {
        if os.send(&conn, &reply).await.is_err() {
            break;
        }
    }
    if closing == Closing::Together {
        os.meet().await;
    }
    os.close(conn).await;
    os.close(listener).await;
}

/// Connects to `server`, sends each line and reads its echo, and closes as `closing` says.
pub(super) async fn tcp_echo_client(os: Os, server: SocketAddr, closing: Closing, lines: Vec<String>) {
    os.sleep(CLIENT_START_NS).await;
    let sock = os.socket(SockType::Stream).await;
    if os.connect(&sock, server).await.is_ok() {
        converse(&os, &sock, closing, &lines).await;
    }
    os.close(sock).await;
}

/// What the client does on an open connection, up to its close.
async fn converse(os: &Os, sock: &Fd, closing: Closing, lines: &[String]) {
    if closing == Closing::HalfClose {
        for line in lines {
            if os.send(sock, line.as_bytes()).await.is_err() {
                return;
            }
        }
        os.shutdown_write(sock).await;
        read_to_end(os, sock).await;
        return;
    }
    for line in lines {
        if os.send(sock, line.as_bytes()).await.is_err() || !read_lines(os, sock, 1).await {
            return;
        }
    }
    match closing {
        Closing::ServerFirst => read_to_end(os, sock).await,
        Closing::Together => os.meet().await,
        Closing::ClientFirst | Closing::HalfClose => {}
    }
}

/// Reads until `n` whole lines have come; false if the stream ended first.
async fn read_lines(os: &Os, sock: &Fd, n: usize) -> bool {
    let mut seen = 0;
    while seen < n {
        match os.recv(sock).await {
            Ok(data) if !data.is_empty() => seen += data.iter().filter(|&&b| b == b'\n').count(),
            _ => return false,
        }
    }
    true
}

/// Reads until the peer's FIN (or an error).
async fn read_to_end(os: &Os, sock: &Fd) {
    while matches!(os.recv(sock).await, Ok(data) if !data.is_empty()) {}
}

/// The echo over UDP: no connection, one datagram per line. A datagram server cannot see a
/// conversation end, so this one serves as many lines as the client sends.
pub(super) async fn udp_echo_server(os: Os, lines: usize) {
    let sock = os.socket(SockType::Datagram).await;
    os.bind(&sock, SERVER).await;
    let mut numbered = LineNumberer::default();
    while numbered.answered() < lines as u64 {
        let (data, from) = os.recvfrom(&sock).await;
        for reply in numbered.feed(&data) {
            os.sendto(&sock, &reply, from).await;
        }
    }
    os.close(sock).await;
}

pub(super) async fn udp_echo_client(os: Os, lines: Vec<String>) {
    os.sleep(CLIENT_START_NS).await;
    let sock = os.socket(SockType::Datagram).await;
    for line in &lines {
        os.sendto(&sock, line.as_bytes(), SERVER).await;
        os.recvfrom(&sock).await;
    }
    os.close(sock).await;
}
