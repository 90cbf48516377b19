//! The simulator: the line-echo client and server run on a modelled loopback kernel, and
//! every call, packet and TCP state they produce is predicted by the RFC 9293 model
//! ([`crate::tcp`]) and labelled as modelled. It needs no privileges and is deterministic:
//! fixed ISNs, ports (client 127.0.0.1:40000, server 127.0.0.1:1234) and latencies (30 µs a
//! packet, 2 µs a call) on a virtual clock in ns, so a scenario gives the same bytes on
//! every run.
//!
//! - `scenarios.rs`: the stories, listed by [`scenarios()`] and run by [`run`];
//! - `programs.rs`: the echo server and client, written as socket programs;
//! - `os.rs`: the sockets API they call, recorded as calls;
//! - `world.rs`: the kernel's sockets, the clock and the loop that drives the programs;
//! - `net.rs`: the link: delay, losses, relative sequence numbers.
//!
//! What the simulator simplifies, beyond the model's own list ([`crate::tcp::endpoint`]):
//! - both programs share one loopback kernel; a packet takes 30 µs, a call that need not
//!   wait 2 µs, everything else in the programs no time; the client starts 1 ms after the
//!   server;
//! - the states are the RFC's, as the model predicts them: the accepted socket passes
//!   LISTEN → SYN-RECEIVED when the SYN arrives (Linux reports it at the third ACK), and
//!   TIME-WAIT and its end are shown (Linux reports neither);
//! - a lost packet is shown as sent, as a capture at the sender sees it, and never arrives;
//! - no kernel notes (retransmissions and resets show as packets), no pids, no `sk`;
//! - a datagram to a port nobody bound is dropped without the ICMP error.

mod net;
mod os;
mod programs;
mod scenarios;
mod world;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::event::{Actor, Event, Peer, Role};
use crate::protocol::from_peer;
use crate::trace::{End, Header, LensStatus, Lenses, Source, Trace};
use os::Os;
use programs::{tcp_echo_client, tcp_echo_server, udp_echo_client, udp_echo_server, Closing, PEER_ADDRS, SERVER};
pub use scenarios::Scenario;
use scenarios::{Stage, SCENARIOS};
use world::{Program, World};

/// What a scenario is run with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// What the client sends, one line per message (a message with newlines makes several).
    pub messages: Vec<String>,
    /// The maximum segment lifetime; TIME-WAIT lasts twice as long. The default, 30 s, gives
    /// Linux's 60 s TIME-WAIT.
    pub msl: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options { messages: crate::protocol::DEFAULT_MESSAGES.map(String::from).to_vec(), msl: Duration::from_secs(30) }
    }
}

impl Options {
    /// The lines the client sends, each ending in a newline.
    fn lines(&self) -> Vec<String> {
        self.messages.iter().flat_map(|m| m.lines()).map(|line| format!("{line}\n")).collect()
    }
}

/// A scenario name that does not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScenario {
    pub name: String,
}

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        write!(f, "unknown scenario {:?}: the scenarios are {} (`trace simulate --list` describes them)", self.name, known.join(", "))
    }
}

impl std::error::Error for UnknownScenario {}

/// Every scenario, in the order `trace simulate --list` shows them.
pub fn scenarios() -> &'static [Scenario] {
    &SCENARIOS
}

/// Runs a scenario to its end — TIME-WAIT expiry included — and returns its events in time
/// order, every one labelled as modelled.
pub fn run(name: &str, options: &Options) -> Result<Vec<Event>, UnknownScenario> {
    let scenario = SCENARIOS.iter().find(|s| s.name == name).ok_or_else(|| UnknownScenario { name: name.to_string() })?;
    let lines = options.lines();
    let msl = u64::try_from(options.msl.as_nanos()).unwrap_or(u64::MAX);
    let losses = match scenario.stage {
        Stage::Tcp { losses, .. } => losses,
        Stage::NoServer | Stage::Udp | Stage::Peers => &[],
    };
    let world = Rc::new(RefCell::new(World::new(msl, losses)));
    let os = |role| Os::new(&world, Actor::role(role));
    let programs: Vec<Program> = match scenario.stage {
        Stage::Tcp { closing, .. } => {
            vec![Box::pin(tcp_echo_server(os(Role::Server), SERVER, closing, lines.len())), Box::pin(tcp_echo_client(os(Role::Client), SERVER, closing, lines))]
        }
        Stage::NoServer => vec![Box::pin(tcp_echo_client(os(Role::Client), SERVER, Closing::ClientFirst, lines))],
        Stage::Udp => vec![Box::pin(udp_echo_server(os(Role::Server), lines.len())), Box::pin(udp_echo_client(os(Role::Client), lines))],
        Stage::Peers => peers(&world, &options.messages),
    };
    Ok(world::run(&world, programs))
}

/// The programs of two peers: each is the echo server on its own port and, in the same
/// process, a client of the other peer, sending every message signed with its name.
fn peers(world: &Rc<RefCell<World>>, messages: &[String]) -> Vec<Program> {
    let mut programs: Vec<Program> = Vec::new();
    for (k, peer) in Peer::PAIR.into_iter().enumerate() {
        let os = |role| Os::new(world, Actor { peer: Some(peer), ..Actor::role(role) });
        let lines: Vec<String> = messages.iter().flat_map(|m| m.lines()).map(|line| format!("{}\n", from_peer(line, peer))).collect();
        let other = PEER_ADDRS[(k + 1) % PEER_ADDRS.len()];
        programs.push(Box::pin(tcp_echo_server(os(Role::Server), PEER_ADDRS[k], Closing::ClientFirst, lines.len())));
        programs.push(Box::pin(tcp_echo_client(os(Role::Client), other, Closing::ClientFirst, lines)));
    }
    programs
}

/// A whole simulated trace: a header saying so (source `simulated`, every lens `modelled`),
/// the events, and the end record. `command` is the command line, for the reader.
pub fn trace(name: &str, options: &Options, command: &str) -> Result<Trace, UnknownScenario> {
    let events = run(name, options)?;
    let lenses = Lenses { calls: LensStatus::Modelled, packets: LensStatus::Modelled, states: LensStatus::Modelled };
    Ok(Trace { header: Header::new(command, Source::Simulated, lenses), end: Some(End { events: events.len() as u64, ..End::default() }), events })
}

#[cfg(test)]
mod tests;
