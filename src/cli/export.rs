//! `trace export FILE --pcap OUT | --packetdrill OUT`: a saved trace in another tool's format.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output_file::{discard, same_file, write_error};
use super::CliError;
use crate::event::Role;
use crate::export::packetdrill::{unsupported, write_packetdrill};
use crate::export::pcap::write_pcap;
use crate::trace::{read_trace, TraceReader};

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
    // A packetdrill script is made from the whole trace; packets alone are written as they are
    // read, so that a trace of millions of events is never held whole.
    let trace = match args.packetdrill {
        Some(_) => Some(read_trace(&args.file)?),
        None => None,
    };
    // A file that could not be opened or written says where to look; a trace the format
    // cannot hold (a field too large for it) says so, and no partial file is left behind.
    if let Some(why) = trace.as_ref().and_then(unsupported) {
        return Err(CliError::new(why));
    }
    if let Some(path) = &args.pcap {
        let reader = if trace.is_none() { Some(TraceReader::open(&args.file)?) } else { None };
        let file = File::create(path).map_err(write_error(path))?;
        let mut out = BufWriter::new(file);
        // A line that cannot be read ends the events there; its error is the command's.
        let mut unreadable = None;
        let written = match reader {
            Some(reader) => write_pcap(reader.map_while(|event| event.map_err(|err| unreadable = Some(err)).ok()), &mut out),
            None => write_pcap(trace.iter().flat_map(|trace| &trace.events), &mut out),
        };
        let packets = written.and_then(|n| out.flush().map(|()| n)).map_err(write_error(path))?;
        if let Some(err) = unreadable {
            discard(path);
            return Err(err.into());
        }
        eprintln!("trace: wrote {packets} packets to {}", path.display());
    }
    let Some(trace) = trace else { return Ok(ExitCode::SUCCESS) };
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
