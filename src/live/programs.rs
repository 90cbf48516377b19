//! Which of our programs run in a session, and with what.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;

use crate::echo::client::{run_client, ClientOptions, Ending};
use crate::echo::server::{EchoServer, Listening, ServeOptions};
use crate::echo::udp::{run_udp_client, DatagramServer};
use crate::echo::Recorder;
use crate::fault::Lost;

/// What `trace echo` runs.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Our server and `clients` of our clients.
    Both { clients: u32 },
    /// Our server only, for other programs' clients, until `connections` were served.
    Serve { connections: Option<u64> },
    /// Our client only, against a server that is already listening.
    Connect { server: SocketAddr },
}

/// The stories a live session can tell, named as the simulator names them so that model and
/// kernel can be compared on the same story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Story {
    /// The client closes first.
    Echo,
    /// The client connects to a port where nobody listens.
    Refused,
    /// The server closes after its echoes; TIME-WAIT falls to the server.
    ServerClosesFirst,
    /// The client shuts down its sending side and still reads the echoes.
    HalfClose,
}

impl Story {
    pub const ALL: [Story; 4] = [Story::Echo, Story::Refused, Story::ServerClosesFirst, Story::HalfClose];

    pub fn name(self) -> &'static str {
        match self {
            Story::Echo => "echo",
            Story::Refused => "refused",
            Story::ServerClosesFirst => "server-closes-first",
            Story::HalfClose => "half-close",
        }
    }

    pub fn from_name(name: &str) -> Option<Story> {
        Story::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Everything a session needs to know before it starts.
#[derive(Clone, Debug)]
pub struct Plan {
    pub mode: Mode,
    pub story: Story,
    pub messages: Vec<String>,
    /// The server's port (0: the kernel picks a free one).
    pub port: u16,
    pub ipv6: bool,
    /// The server's address when not loopback's (`--bind`, serving only).
    pub bind: Option<IpAddr>,
    /// The listening socket's backlog (`listen`'s second argument).
    pub backlog: u32,
    /// The echo over UDP: datagrams, no connection (the story is then always the echo).
    pub udp: bool,
    /// Live or nothing: without a lens's privilege, go on with the lenses that run (and fail
    /// afterwards) instead of handing the session to the simulator.
    pub live_only: bool,
    /// Client and server on two hosts of their own (network namespaces joined by a veth
    /// pair) instead of both on loopback.
    pub hosts: bool,
    /// `--drop`: the packet of the connection to lose once, on purpose.
    pub drop: Option<Lost>,
}

impl Plan {
    /// Whether the session ends on its own: all but a server with no count of connections,
    /// which serves until Ctrl-C (its normal end, not an interruption).
    pub fn ends_by_itself(&self) -> bool {
        !matches!(self.mode, Mode::Serve { connections: None })
    }

    pub fn loopback(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
    }

    /// The address the server binds: `--bind`'s, else on its own host with `hosts`, else on
    /// loopback.
    pub fn server_ip(&self) -> IpAddr {
        if let Some(ip) = self.bind {
            ip
        } else if self.hosts {
            IpAddr::V4(crate::netns::hosts::SERVER_ADDR)
        } else {
            self.loopback()
        }
    }

    /// The simulator's scenario that tells this session's story.
    pub fn scenario(&self) -> &'static str {
        if self.udp {
            return "udp-echo";
        }
        self.drop.map_or(self.story.name(), Lost::scenario)
    }

    pub fn client_options(&self) -> Client {
        if self.udp {
            return Client::Datagram { messages: self.messages.clone() };
        }
        let ending = match self.story {
            Story::Echo | Story::Refused => Ending::CloseFirst,
            Story::ServerClosesFirst => Ending::ReadToEnd,
            Story::HalfClose => Ending::HalfClose,
        };
        Client::Stream(ClientOptions { messages: self.messages.clone(), ending })
    }

    pub fn serve_options(&self) -> ServeOptions {
        let close_after_lines = (self.story == Story::ServerClosesFirst).then_some(self.messages.len() as u64);
        ServeOptions { close_after_lines, answer_at_end: self.story == Story::HalfClose }
    }
}

/// What each client of a session does.
#[derive(Clone, Debug)]
pub enum Client {
    /// Our TCP echo client.
    Stream(ClientOptions),
    /// Our UDP echo client: one datagram per message, each answered by one.
    Datagram { messages: Vec<String> },
}

/// A server that has bound its port but not yet listened (or, over UDP, received): the
/// lenses, already running, are told its port in between, so that they see the LISTEN state
/// and every packet.
pub struct BoundServer {
    server: Bound,
    pub addr: SocketAddr,
}

enum Bound {
    Stream(EchoServer),
    Datagram(DatagramServer),
}

impl BoundServer {
    /// The server's part: over TCP it listens, then serves `connections` (all it gets, if
    /// `None`); over UDP it answers each client's messages. It ends early once `stop` resolves.
    pub fn serve(self, plan: &Plan, connections: Option<u64>, stop: impl Future<Output = ()> + Send + 'static) -> io::Result<Program> {
        Ok(match self.server {
            Bound::Stream(server) => {
                let listening: Listening = server.listen(plan.backlog)?;
                let options = plan.serve_options();
                Box::pin(async move { listening.serve(connections, options, stop).await })
            }
            Bound::Datagram(server) => {
                // The command line lets UDP run only with our own clients, whose number is known.
                let datagrams = connections.unwrap_or(0) * plan.messages.len() as u64;
                Box::pin(async move { server.serve(datagrams, stop).await })
            }
        })
    }
}

/// Reserves a port where nobody listens (on loopback, or on the server's host): a socket bound to it that never listens,
/// so that a connection attempt is answered with RST (RFC 9293 §3.10.7.1) and no other
/// program can take the port meanwhile. It is not part of the story, so it is not recorded.
pub fn reserve_refusing_port(plan: &Plan) -> io::Result<(tokio::net::TcpSocket, SocketAddr)> {
    let socket = if plan.ipv6 { tokio::net::TcpSocket::new_v6()? } else { tokio::net::TcpSocket::new_v4()? };
    socket.bind(SocketAddr::new(plan.server_ip(), plan.port))?;
    let addr = socket.local_addr()?;
    Ok((socket, addr))
}

pub fn bind_server(rec: &Recorder, plan: &Plan) -> io::Result<BoundServer> {
    let ip = plan.server_ip();
    let at = SocketAddr::new(ip, plan.port);
    if plan.udp {
        let server = DatagramServer::socket(rec, ip.is_ipv6())?;
        let addr = server.bind(at)?;
        return Ok(BoundServer { server: Bound::Datagram(server), addr });
    }
    let server = EchoServer::socket(rec, ip.is_ipv6())?;
    let addr = server.bind(at)?;
    Ok(BoundServer { server: Bound::Stream(server), addr })
}

pub type Program = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

/// The clients' part: all clients at once; the first error is reported, after all finished.
pub fn clients(rec: Recorder, server: SocketAddr, count: u32, client: Client) -> Program {
    Box::pin(async move {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..count {
            match &client {
                Client::Stream(options) => set.spawn(run_client(rec.clone(), server, options.clone())),
                Client::Datagram { messages } => set.spawn(run_udp_client(rec.clone(), server, messages.clone())),
            };
        }
        let mut first_error = None;
        while let Some(done) = set.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    first_error.get_or_insert(err);
                }
                Err(join) => {
                    first_error.get_or_insert(io::Error::other(join));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}
