//! What `trace echo` was asked for, checked and turned into a [`Plan`]: every choice that
//! cannot run is refused here, before the session starts, with what to do instead.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use super::open_files;
use super::programs::{Mode, Plan, Story};
use crate::fault::Lost;
use crate::protocol::DEFAULT_MESSAGES;

/// The options of `trace echo`, as given.
#[derive(Clone, Debug)]
pub struct Request {
    /// Our server only (`--serve`), stopping after `connections` when given.
    pub serve: bool,
    /// Our client only, against this server (`--connect`).
    pub connect: Option<SocketAddr>,
    pub connections: Option<u64>,
    pub clients: u32,
    /// The story's name (`--scenario`).
    pub scenario: String,
    /// The kind of packet to lose (`--drop`), by name.
    pub drop: Option<String>,
    pub udp: bool,
    /// The client's lines; none: the default ones.
    pub messages: Vec<String>,
    pub bind: Option<IpAddr>,
    /// `--bind` may be an address other machines reach.
    pub non_loopback: bool,
    pub port: u16,
    pub ipv6: bool,
    pub backlog: u32,
    /// Live or nothing (`--live`).
    pub live: bool,
    pub hosts: bool,
    /// Many connections, one line each (`--summary`).
    pub summary: bool,
}

/// A choice that cannot run.
#[derive(Debug)]
pub enum PlanError {
    ConnectNotLoopback(SocketAddr),
    UnknownScenario(String),
    RefusedNeedsOwnPair,
    UnknownDrop(String),
    DropNeedsEcho {
        name: String,
        story: Story,
    },
    UdpNeedsEcho(Story),
    BindNotLoopback(IpAddr),
    OpenFiles(io::Error),
    TooManyClients {
        clients: u32,
        limit: u64,
    },
    ConnectionsNeedServe,
    /// `--summary` with `--serve` or `--connect`.
    SummaryNeedsOwnPair,
    /// `--close rst` with a story that does not end in the client's close.
    RstNeedsEcho(Story),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::ConnectNotLoopback(server) => write!(f, "--connect {server}: socktrace traces loopback only; give a 127.0.0.0/8 or ::1 address"),
            PlanError::UnknownScenario(name) => {
                let names: Vec<&str> = Story::ALL.iter().map(|s| s.name()).collect();
                write!(f, "unknown scenario {name:?} for a live trace: choose one of {} (`trace simulate --list` has more, modelled)", names.join(", "))
            }
            PlanError::RefusedNeedsOwnPair => {
                f.write_str("--scenario refused runs its own client against a port nobody listens on: leave out --serve and --connect")
            }
            PlanError::UnknownDrop(name) => {
                let names: Vec<&str> = Lost::ALL.iter().map(|k| k.name()).collect();
                write!(f, "unknown --drop {name:?}: choose one of {}", names.join(", "))
            }
            PlanError::DropNeedsEcho { name, story } => write!(f, "--drop {name} loses a packet of the echo scenario: leave out --scenario {}", story.name()),
            PlanError::UdpNeedsEcho(story) => write!(
                f,
                "--scenario {} is a TCP story: a UDP echo has no connection to refuse or close; leave out --scenario with --udp",
                story.name()
            ),
            PlanError::BindNotLoopback(ip) => {
                write!(f, "--bind {ip}: not a loopback address, so other machines could connect; add --non-loopback if you mean it")
            }
            PlanError::OpenFiles(err) => write!(f, "cannot read or raise the open-file limit (RLIMIT_NOFILE): {err}"),
            PlanError::TooManyClients { clients, limit } => write!(
                f,
                "--clients {clients} needs more open files than the hard limit allows ({limit}, RLIMIT_NOFILE): give fewer clients, or raise the hard limit (as root: ulimit -Hn 4096)"
            ),
            PlanError::ConnectionsNeedServe => {
                f.write_str("--connections needs --serve (our server for other clients) or --summary (our clients, many connections)")
            }
            PlanError::SummaryNeedsOwnPair => f.write_str("--summary runs our own server and clients: leave out --serve and --connect"),
            PlanError::RstNeedsEcho(story) => {
                write!(f, "--close rst aborts the connection after the echoes, which the {} scenario does not do: use --scenario echo", story.name())
            }
        }
    }
}

impl std::error::Error for PlanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlanError::OpenFiles(err) => Some(err),
            _ => None,
        }
    }
}

/// A choice that runs, but not as one might expect.
#[derive(Debug)]
pub enum Warning {
    /// `--bind` outside loopback.
    NonLoopback(IpAddr),
    /// A server that can hold fewer than a thousand connections at once.
    FewConnections { limit: u64, most: u64 },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::NonLoopback(ip) => write!(
                f,
                "the server listens on {ip}, where other machines can connect; packets are captured on loopback only, so their connections show no packets"
            ),
            Warning::FewConnections { limit, most } => write!(
                f,
                "the open-file hard limit ({limit}, RLIMIT_NOFILE) lets the server hold about {most} connections at once; raise it (as root: ulimit -Hn 4096) for more"
            ),
        }
    }
}

impl Request {
    /// The session's plan, or why it cannot run; `warn` hears of what runs but may surprise,
    /// as it is found. Raises the open-file limit on the way.
    pub fn plan(self, warn: &mut dyn FnMut(Warning)) -> Result<Plan, PlanError> {
        let mode = match (self.serve, self.connect) {
            (true, _) => Mode::Serve { connections: self.connections },
            (false, Some(server)) if !server.ip().is_loopback() => return Err(PlanError::ConnectNotLoopback(server)),
            (false, Some(server)) => Mode::Connect { server },
            (false, None) => Mode::Both { clients: self.clients },
        };
        let story = Story::from_name(&self.scenario).ok_or_else(|| PlanError::UnknownScenario(self.scenario.clone()))?;
        if story == Story::Refused && !matches!(mode, Mode::Both { .. }) {
            return Err(PlanError::RefusedNeedsOwnPair);
        }
        let drop = match self.drop {
            None => None,
            Some(name) => {
                let lost = Lost::from_name(&name).ok_or_else(|| PlanError::UnknownDrop(name.clone()))?;
                if story != Story::Echo {
                    return Err(PlanError::DropNeedsEcho { name, story });
                }
                Some(lost)
            }
        };
        if self.udp && story != Story::Echo {
            return Err(PlanError::UdpNeedsEcho(story));
        }
        let messages = if self.messages.is_empty() { DEFAULT_MESSAGES.map(String::from).to_vec() } else { self.messages };
        // Only our own pair can be simulated: another program's half is unknown to the model.
        let simulable = matches!(mode, Mode::Both { .. });
        if let Some(ip) = self.bind {
            check_bind(ip, self.non_loopback, warn)?;
        }
        check_open_files(&mode, warn)?;
        if self.connections.is_some() && !self.serve && !self.summary {
            return Err(PlanError::ConnectionsNeedServe);
        }
        Ok(Plan {
            mode,
            story,
            messages,
            port: self.port,
            ipv6: self.ipv6,
            bind: self.bind,
            backlog: self.backlog,
            live_only: self.live || !simulable,
            hosts: self.hosts,
            drop,
            udp: self.udp,
        })
    }
}

/// A server outside loopback is reachable from other machines: only on request, and said.
fn check_bind(ip: IpAddr, non_loopback: bool, warn: &mut dyn FnMut(Warning)) -> Result<(), PlanError> {
    if ip.is_loopback() {
        return Ok(());
    }
    if !non_loopback {
        return Err(PlanError::BindNotLoopback(ip));
    }
    warn(Warning::NonLoopback(ip));
    Ok(())
}

/// Raises the open-file limit to its hard limit: each connection costs a descriptor per side
/// we run. Clients that cannot all be open at once are refused before the session starts; a
/// server says how many connections it can hold when that is fewer than a thousand.
fn check_open_files(mode: &Mode, warn: &mut dyn FnMut(Warning)) -> Result<(), PlanError> {
    let limit = open_files::raise_to_hard().map_err(PlanError::OpenFiles)?;
    match *mode {
        Mode::Both { clients } if open_files::connections_within(limit, 2) < u64::from(clients) => Err(PlanError::TooManyClients { clients, limit }),
        Mode::Serve { .. } if open_files::connections_within(limit, 1) < 1000 => {
            warn(Warning::FewConnections { limit, most: open_files::connections_within(limit, 1) });
            Ok(())
        }
        _ => Ok(()),
    }
}
