//! Which of our programs run in a session, and with what.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;

use crate::echo::client::{run_client, ClientOptions};
use crate::echo::server::{EchoServer, Listening, ServeOptions};
use crate::echo::Recorder;

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

/// Everything a session needs to know before it starts.
#[derive(Clone, Debug)]
pub struct Plan {
    pub mode: Mode,
    pub messages: Vec<String>,
    /// The server's port (0: the kernel picks a free one).
    pub port: u16,
    pub ipv6: bool,
    pub serve: ServeOptions,
    pub half_close: bool,
}

impl Plan {
    pub fn loopback(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
    }

    pub fn client_options(&self) -> ClientOptions {
        ClientOptions { messages: self.messages.clone(), half_close: self.half_close }
    }
}

/// A server that has bound its port but not yet listened: the lenses start in between, so
/// that they see the LISTEN state and every packet.
pub struct BoundServer {
    pub server: EchoServer,
    pub addr: SocketAddr,
}

pub fn bind_server(rec: &Recorder, plan: &Plan) -> io::Result<BoundServer> {
    let server = EchoServer::socket(rec, plan.ipv6)?;
    let addr = server.bind(SocketAddr::new(plan.loopback(), plan.port))?;
    Ok(BoundServer { server, addr })
}

pub type Program = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

/// The server's part: serve until done or until `stop` resolves.
pub fn serve(listening: Listening, connections: Option<u64>, options: ServeOptions, stop: impl Future<Output = ()> + Send + 'static) -> Program {
    Box::pin(async move { listening.serve(connections, options, stop).await })
}

/// The clients' part: all clients at once; the first error is reported, after all finished.
pub fn clients(rec: Recorder, server: SocketAddr, count: u32, options: ClientOptions) -> Program {
    Box::pin(async move {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..count {
            set.spawn(run_client(rec.clone(), server, options.clone()));
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
