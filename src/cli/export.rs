//! `trace export FILE --pcap OUT`: a saved trace in another tool's format.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::export::pcap::write_pcap;
use crate::trace::read_trace;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The trace file.
    file: PathBuf,
    /// Write the packets as a pcap file (for tshark, tcpdump, Wireshark).
    #[arg(long, value_name = "OUT")]
    pcap: PathBuf,
}

pub fn run(args: ExportArgs) -> Result<ExitCode, CliError> {
    let trace = read_trace(&args.file)?;
    let write_error = |err: std::io::Error| CliError(format!("cannot write {}: {err} (check the directory exists and is writable)", args.pcap.display()));
    let file = File::create(&args.pcap).map_err(write_error)?;
    let packets = write_pcap(&trace.events, &mut BufWriter::new(file)).map_err(write_error)?;
    eprintln!("trace: wrote {packets} packets to {}", args.pcap.display());
    Ok(ExitCode::SUCCESS)
}
