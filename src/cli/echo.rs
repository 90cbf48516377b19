//! `trace echo`: a live trace of our echo server and client.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Args;

use super::session::SessionArgs;
use super::{CliError, EXIT_ERROR};
use crate::echo::lines::DEFAULT_MESSAGES;
use crate::fault::Lost;
use crate::live::{self, open_files, LiveError, Mode, Plan, Story};
use crate::sim;

#[derive(Args, Debug)]
pub struct EchoArgs {
    /// A line the client sends (repeatable); the server echoes each with its number.
    #[arg(long = "message", short = 'm', value_name = "TEXT")]
    messages: Vec<String>,
    /// How many clients connect at once; each accept returns a new socket.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    clients: u32,
    /// The server's port (0: any free port, reported in the trace).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Run our server only, traced, for any other client; ends after --connections or Ctrl-C.
    #[arg(long, conflicts_with = "connect")]
    serve: bool,
    /// The listening socket's backlog: how many finished handshakes may wait for `accept`.
    /// Many clients connecting at once need more than the default (Linux caps it at
    /// net.core.somaxconn); past it, the kernel answers with SYN cookies and drops.
    #[arg(long, default_value_t = 128, value_name = "N")]
    backlog: u32,
    /// With --serve: stop after this many connections. With --summary: the connections the
    /// clients make in all, each client connecting again until they are done (default: one
    /// per client).
    #[arg(long, value_name = "N")]
    connections: Option<u64>,
    /// Many connections, one line each once it has finished (ports, duration, bytes each way,
    /// who closed first, the states each socket reached) and totals, with memory bounded
    /// however many there are; needs the privileges for packets and kernel states.
    #[arg(long, conflicts_with_all = ["serve", "connect", "json", "udp", "hosts", "drop"])]
    summary: bool,
    /// With --summary: how the clients end each connection: fin (close) or rst (SO_LINGER 0,
    /// then close: an abort, no TIME-WAIT).
    #[arg(long, requires = "summary", value_name = "fin|rst", default_value = "fin", value_parser = ["fin", "rst"])]
    close: String,
    /// With --serve: the address to listen on instead of loopback (127.0.0.1, or ::1 with
    /// --ipv6). Any other address needs --non-loopback too.
    #[arg(long, requires = "serve", conflicts_with = "hosts", value_name = "ADDR")]
    bind: Option<IpAddr>,
    /// Allow --bind on an address other than loopback, where other machines can connect.
    #[arg(long, requires = "bind")]
    non_loopback: bool,
    /// Run our client only, against a server already listening on loopback.
    #[arg(long, value_name = "HOST:PORT")]
    connect: Option<SocketAddr>,
    /// Client and server on two hosts of their own, as on two computers: network namespaces
    /// joined by a virtual Ethernet cable, 192.0.2.1 (client) and 192.0.2.2 (server), so the
    /// trace shows two addresses, Ethernet headers and the ARP exchange. Needs root; the hosts
    /// are removed when the session ends.
    #[arg(long, conflicts_with_all = ["connect", "ipv6"])]
    hosts: bool,
    /// Echo over UDP instead of TCP: datagrams, no connection (our own server and clients).
    #[arg(long, conflicts_with_all = ["serve", "connect", "drop"])]
    udp: bool,
    #[command(flatten)]
    session: SessionArgs,
    /// The story to tell: echo (the client closes first), refused, server-closes-first or
    /// half-close; `trace simulate` tells the same stories from the model.
    #[arg(long, default_value = "echo", value_name = "NAME")]
    scenario: String,
    /// Lose one packet of the echo on purpose, to see TCP recover: syn, syn-ack, ack, fin or
    /// data (the first of that kind). It is marked dropped in the trace; `trace simulate
    /// lost-KIND` tells the same story from the model. Needs root and iptables.
    #[arg(long, value_name = "KIND", conflicts_with_all = ["serve", "connect", "hosts"])]
    drop: Option<String>,
}

pub fn run(args: EchoArgs) -> Result<ExitCode, CliError> {
    let mode = match (args.serve, args.connect) {
        (true, _) => Mode::Serve { connections: args.connections },
        (false, Some(server)) => {
            if !server.ip().is_loopback() {
                return Err(CliError(format!("--connect {server}: socktrace traces loopback only; give a 127.0.0.0/8 or ::1 address")));
            }
            Mode::Connect { server }
        }
        (false, None) => Mode::Both { clients: args.clients },
    };
    let story = Story::from_name(&args.scenario).ok_or_else(|| {
        let names: Vec<&str> = Story::ALL.iter().map(|s| s.name()).collect();
        CliError(format!(
            "unknown scenario {:?} for a live trace: choose one of {} (`trace simulate --list` has more, modelled)",
            args.scenario,
            names.join(", ")
        ))
    })?;
    if story == Story::Refused && !matches!(mode, Mode::Both { .. }) {
        return Err(CliError("--scenario refused runs its own client against a port nobody listens on: leave out --serve and --connect".to_string()));
    }
    let drop = match args.drop.as_deref() {
        None => None,
        Some(name) => {
            let lost = Lost::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = Lost::ALL.iter().map(|k| k.name()).collect();
                CliError(format!("unknown --drop {name:?}: choose one of {}", names.join(", ")))
            })?;
            if story != Story::Echo {
                return Err(CliError(format!("--drop {name} loses a packet of the echo scenario: leave out --scenario {}", story.name())));
            }
            Some(lost)
        }
    };
    if args.udp && story != Story::Echo {
        return Err(CliError(format!(
            "--scenario {} is a TCP story: a UDP echo has no connection to refuse or close; leave out --scenario with --udp",
            story.name()
        )));
    }
    let messages = if args.messages.is_empty() { DEFAULT_MESSAGES.map(String::from).to_vec() } else { args.messages };
    // Only our own pair can be simulated: another program's half is unknown to the model.
    let simulable = matches!(mode, Mode::Both { .. });
    let clients = match mode {
        Mode::Both { clients } => clients,
        _ => 1,
    };
    if let Some(ip) = args.bind {
        check_bind(ip, args.non_loopback)?;
    }
    check_open_files(&mode)?;
    let plan = Plan {
        mode,
        story,
        messages,
        port: args.port,
        ipv6: args.session.ipv6,
        bind: args.bind,
        backlog: args.backlog,
        live_only: args.session.live || !simulable,
        hosts: args.hosts,
        drop,
        udp: args.udp,
    };
    let command = super::command_line();
    if args.summary {
        let load = super::echo_summary::load(&plan, args.connections, &args.close)?;
        return super::echo_summary::run(&plan, &load, &command, args.session.save);
    }
    if args.connections.is_some() && !args.serve {
        return Err(CliError("--connections needs --serve (our server for other clients) or --summary (our clients, many connections)".to_string()));
    }
    let report = match live::run(&plan, &command, args.session.output()) {
        Err(LiveError::Unprivileged(reasons)) => return simulate_instead(&plan, clients, &reasons, args.session.save.as_deref(), args.session.json),
        other => other?,
    };
    Ok(conclude(&report))
}

/// Says what a live session could not do, and its exit code: 2 when a lens was missing.
pub(super) fn conclude(report: &live::Report) -> ExitCode {
    for missing in &report.unavailable {
        eprintln!("trace: {missing}");
    }
    if let Some(err) = &report.program_error {
        eprintln!("trace: a traced program failed: {err}");
    }
    if report.unavailable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERROR)
    }
}

/// A server outside loopback is reachable from other machines: only on request, and said.
fn check_bind(ip: IpAddr, non_loopback: bool) -> Result<(), CliError> {
    if ip.is_loopback() {
        return Ok(());
    }
    if !non_loopback {
        return Err(CliError(format!("--bind {ip}: not a loopback address, so other machines could connect; add --non-loopback if you mean it")));
    }
    eprintln!("trace: warning: the server listens on {ip}, where other machines can connect; packets are captured on loopback only, so their connections show no packets");
    Ok(())
}

/// Raises the open-file limit to its hard limit: each connection costs a descriptor per side
/// we run. Clients that cannot all be open at once are refused before the session starts; a
/// server says how many connections it can hold when that is fewer than a thousand.
fn check_open_files(mode: &Mode) -> Result<(), CliError> {
    let limit = open_files::raise_to_hard().map_err(|e| CliError(format!("cannot read or raise the open-file limit (RLIMIT_NOFILE): {e}")))?;
    match *mode {
        Mode::Both { clients } if open_files::connections_within(limit, 2) < u64::from(clients) => Err(CliError(format!(
            "--clients {clients} needs more open files than the hard limit allows ({limit}, RLIMIT_NOFILE): give fewer clients, or raise the hard limit (as root: ulimit -Hn 4096)"
        ))),
        Mode::Serve { .. } if open_files::connections_within(limit, 1) < 1000 => {
            let most = open_files::connections_within(limit, 1);
            eprintln!("trace: warning: the open-file hard limit ({limit}, RLIMIT_NOFILE) lets the server hold about {most} connections at once; raise it (as root: ulimit -Hn 4096) for more");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Without privileges, the model tells the same story: the first line says so and why.
fn simulate_instead(plan: &Plan, clients: u32, reasons: &[String], save: Option<&std::path::Path>, json: bool) -> Result<ExitCode, CliError> {
    let many = if clients > 1 { " (the model runs one client)" } else { "" };
    let lead = format!("trace echo: showing the RFC 9293 model's simulation of this session{many}");
    simulated_session(&lead, plan.scenario(), &plan.messages, reasons, save, json)
}

/// Shows (and saves) the model's scenario in place of a live session that lacked `reasons`,
/// its first line saying so: on the timeline's first line, or on standard error beside JSON.
pub(super) fn simulated_session(
    lead: &str,
    scenario: &str,
    messages: &[String],
    reasons: &[String],
    save: Option<&std::path::Path>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let first_line = format!("{lead}, not a live trace: {} (or use --live for live or nothing)", reasons.join("; "));
    if json {
        eprintln!("{first_line}");
    } else {
        println!("{first_line}");
    }
    let options = sim::Options { messages: messages.to_vec(), ..sim::Options::default() };
    let trace = sim::trace(scenario, &options, &super::command_line())?;
    if let Some(path) = save {
        trace.save(path)?;
    }
    super::present(&trace, json)?;
    Ok(ExitCode::SUCCESS)
}
