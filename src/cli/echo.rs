//! `trace echo`: a live trace of our echo server and client.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Args;

use super::session::{conclude, SessionArgs};
use super::CliError;
use crate::live::fallback::Simulation;
use crate::live::request::Request;
use crate::live::summary::{Close, Load};
use crate::live::{self, LiveError};

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
    /// Run our server only, traced, for any other client (standard error says the command that
    /// connects, from the client's host with --hosts); ends after --connections or Ctrl-C.
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
    /// Also show the session in a browser as it happens: a page on 127.0.0.1 (its address is
    /// printed; the session starts when it is opened) that replays the events as they come.
    #[arg(long, conflicts_with = "summary")]
    web: bool,
}

pub fn run(args: EchoArgs) -> Result<ExitCode, CliError> {
    let request = Request {
        serve: args.serve,
        connect: args.connect,
        connections: args.connections,
        clients: args.clients,
        scenario: args.scenario,
        drop: args.drop,
        udp: args.udp,
        messages: args.messages,
        bind: args.bind,
        non_loopback: args.non_loopback,
        port: args.port,
        ipv6: args.session.ipv6,
        backlog: args.backlog,
        live: args.session.live,
        hosts: args.hosts,
        summary: args.summary,
    };
    let plan = request.plan(&mut |warning| eprintln!("trace: warning: {warning}"))?;
    let command = super::command_line::command_line();
    if args.summary {
        let close = if args.close == "rst" { Close::Rst } else { Close::Fin };
        let load = Load::for_plan(&plan, args.connections, close)?;
        return super::echo_summary::run(&plan, &load, &command, args.session.save);
    }
    let mut output = args.session.output();
    let web = args.web.then(|| super::web::start(&command, &mut output)).transpose()?;
    let result = live::run(&plan, &command, output, |how| eprintln!("trace: {how}"));
    // The page gets its end (or hears that there was no live session) before anything else.
    if let Some(web) = web {
        web.finish();
    }
    match result {
        Err(LiveError::Unprivileged(reasons)) => args.session.show_simulation(&Simulation::of_echo(&plan, &reasons)),
        other => Ok(conclude(&other?, plan.ends_by_itself())),
    }
}
