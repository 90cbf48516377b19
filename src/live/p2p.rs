//! A live peer-to-peer session (`trace p2p`): two programs, peer A and peer B, each of which
//! listens *and* connects to the other. Each peer is our echo server and our echo client in
//! one program: it accepts the other's connection (the server's part on that connection) and
//! makes its own (the client's part on that one). So the session has two connections, each
//! with one side that connected and one that accepted, and every event names its peer beside
//! the role it plays on its socket.
//!
//! Both peers run as tasks of this process, as `trace echo`'s server and client do.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::mpsc;

use super::error::LiveError;
use super::hosts::Runtime;
use super::programs::{self, Client, Program};
use super::session::{run_programs, start_lenses, Report, Stop};
use super::sink::{Output, Sink};
use crate::echo::client::{ClientOptions, Ending};
use crate::echo::server::{EchoServer, ServeOptions};
use crate::echo::Recorder;
use crate::event::{Event, Peer, Role};
use crate::protocol::from_peer;
use crate::timeline::{Sides, SocketResolver, Timeline};
use crate::trace::{Header, LensStatus, Source};

/// What `trace p2p` runs.
#[derive(Clone, Debug)]
pub struct PeerPlan {
    /// The messages each peer sends on the connection it makes, signed with its name
    /// ([`from_peer`]); the other peer answers each line with its number, as our echo server
    /// does.
    pub messages: Vec<String>,
    pub ipv6: bool,
    /// Live or nothing: without a lens's privilege, go on with the lenses that run (and fail
    /// afterwards) instead of stopping before anything ran.
    pub live_only: bool,
}

impl PeerPlan {
    fn loopback(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
    }
}

pub fn run(plan: &PeerPlan, command: &str, output: Output) -> Result<Report, LiveError> {
    let runtime = Runtime::new(None).map_err(LiveError::Runtime)?;
    let rt = &runtime.rt;
    let (tx, rx) = mpsc::channel::<Vec<Event>>();
    let _enter = rt.enter();
    let stop = Stop::on_signal();

    // One recorder per role, each played by both peers: the sockets of a role are named in
    // one series across the session (A's listener s1, B's s2; A's connecting socket c1…).
    let servers = Recorder::new(Role::Server, tx.clone());
    let clients = servers.peer(Role::Client);

    // As in `trace echo`: the lenses start before any traced call, and between each peer's
    // bind and listen they only follow its port where that takes microseconds.
    let lenses = start_lenses(&[], None, false, &tx, plan.live_only)?;
    let mut unavailable = lenses.unavailable.clone();
    // Each peer binds a port of its own (any free one) for the other to connect to.
    let mut bound = Vec::with_capacity(Peer::PAIR.len());
    for peer in Peer::PAIR {
        let server = EchoServer::socket(&servers.as_peer(peer), plan.ipv6).map_err(LiveError::Server)?;
        let addr = server.bind(SocketAddr::new(plan.loopback(), 0)).map_err(LiveError::Server)?;
        bound.push((server, addr));
    }
    let addrs: Vec<SocketAddr> = bound.iter().map(|(_, addr)| *addr).collect();
    let ports: Vec<u16> = addrs.iter().map(SocketAddr::port).collect();
    // A lens that cannot follow the ports leaves the trace without them: said, exit 2.
    let control = lenses.port_control(tx.clone());
    unavailable.extend(control.follow(&ports).err());

    // Both listen before either connects, so that neither connect can be refused.
    let mut parts: Vec<Program> = Vec::new();
    for (server, _) in bound {
        let listening = server.listen(128).map_err(LiveError::Server)?;
        parts.push(Box::pin(listening.serve(Some(1), ServeOptions::default(), stop.stopped())));
    }
    // Listening: the kernel's filters follow the ports too, before either connects.
    unavailable.extend(control.set_ports(&ports).err());
    drop(control);
    for (k, peer) in Peer::PAIR.into_iter().enumerate() {
        let other = addrs[(k + 1) % addrs.len()];
        let messages = plan.messages.iter().map(|m| from_peer(m, peer)).collect();
        let options = ClientOptions { messages, ending: Ending::CloseFirst };
        parts.push(programs::clients(clients.as_peer(peer), other, 1, Client::Stream(options)));
    }
    drop((servers, clients, tx));
    let header = Header::new(command, Source::Live, lenses.status.clone());
    let mut sink = Sink::open(output, &header)?;

    let resolver = SocketResolver::new(ports, Sides { client_recorded: true, server_recorded: true });
    let mut timeline = if header.lenses.packets == LensStatus::Observed {
        Timeline::with_shadow(resolver, header.lenses.states == LensStatus::Observed)
    } else {
        Timeline::new(resolver)
    }
    .of_namespace(crate::netns::foreign::this_namespace(), header.lenses.packets == LensStatus::Observed);
    let (program_result, interrupted, losses) =
        run_programs(rt, parts, stop, (rx, lenses), &mut timeline, |events, watermark| sink.emit(events, watermark), || {})?;
    unavailable.extend(losses.problems.iter().cloned());
    unavailable.extend(runtime.problem());
    let end = sink.finish(losses.packets_dropped, losses.states_lost, timeline.out_of_order())?;
    Ok(Report { end, unavailable, program_error: program_result.err().map(|e: io::Error| e.to_string()), interrupted })
}
