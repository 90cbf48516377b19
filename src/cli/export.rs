//! `trace export FILE --pcap OUT | --packetdrill OUT`: a saved trace in another tool's format.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output_file::{same_file, write_error};
use super::CliError;
use crate::event::Role;
use crate::export::packetdrill::{unsupported, write_packetdrill};
use crate::export::pcap::write_pcap;
use crate::trace::read_trace;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("format").required(true).multiple(true))]
pub struct ExportArgs {
    /// The trace file.
    file: PathBuf,
    /// Write the packets as a pcap file (for tshark, tcpdump, Wireshark).
    #[arg(long, value_name = "OUT", group = "format")]
    pcap: Option<PathBuf>,
    /// Write a packetdrill script of one side: its calls, the packets it receives (<) and sends (>).
    #[arg(long, value_name = "OUT", group = "format")]
    packetdrill: Option<PathBuf>,
    /// With --packetdrill: whose point of view.
    #[arg(long, value_enum, default_value = "server")]
    side: Side,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Side {
    Server,
    Client,
}

pub fn run(args: ExportArgs) -> Result<ExitCode, CliError> {
    if let (Some(pcap), Some(script)) = (&args.pcap, &args.packetdrill) {
        if same_file(pcap, script) {
            return Err(CliError::new(format!("--pcap and --packetdrill both name {}: give each its own file", pcap.display())));
        }
    }
    let trace = read_trace(&args.file)?;
    // A file that could not be opened or written says where to look; a trace the format
    // cannot hold (a field too large for it) says so, and no partial file is left behind.
    if let Some(why) = args.packetdrill.as_ref().and_then(|_| unsupported(&trace)) {
        return Err(CliError::new(why));
    }
    if let Some(path) = &args.pcap {
        let file = File::create(path).map_err(write_error(path))?;
        let mut out = BufWriter::new(file);
        let packets = write_pcap(&trace.events, &mut out).and_then(|n| out.flush().map(|()| n)).map_err(write_error(path))?;
        eprintln!("trace: wrote {packets} packets to {}", path.display());
    }
    if let Some(path) = &args.packetdrill {
        // A script is one side's view; in a session of peers each program plays both sides.
        if trace.events.iter().any(|e| e.actor.peer.is_some()) {
            return Err(CliError::new(format!(
                "{} is a trace of peers, each both client and server: --packetdrill writes one side of a client-server trace, so it cannot split this one; --pcap exports its packets",
                args.file.display()
            )));
        }
        let role = match args.side {
            Side::Server => Role::Server,
            Side::Client => Role::Client,
        };
        let file = File::create(path).map_err(write_error(path))?;
        let mut out = BufWriter::new(file);
        let lines = write_packetdrill(&trace, role, &mut out).and_then(|n| out.flush().map(|()| n)).map_err(write_error(path))?;
        eprintln!("trace: wrote a packetdrill script of {lines} events to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
