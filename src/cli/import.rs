//! `trace import FILE`: the conversations of a pcap or pcapng capture, one summary line each
//! (in order of first packet, each once it is over), then the totals; `--save-dir DIR` writes
//! one trace per conversation, `--conversation N` shows one as a timeline.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::capture::interrupt;
use crate::import::listing::Listing;
use crate::import::pcap::Reader;
use crate::import::progress_bar::Bar;
use crate::import::save::TraceSet;
use crate::import::table::Table;
use crate::import::{self, ImportError, Imported, Kept, Wanted};
use crate::trace::Trace;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The capture: pcap or pcapng, from tcpdump, tshark or Wireshark (Ethernet, Linux cooked
    /// SLL/SLL2, loopback NULL/LOOP or raw IP).
    file: PathBuf,
    /// Write one trace per conversation into this directory, as conn-N.jsonl (N as listed).
    #[arg(long, value_name = "DIR")]
    save_dir: Option<PathBuf>,
    /// Show conversation N (as listed) as a timeline, instead of the list.
    #[arg(long, value_name = "N")]
    conversation: Option<u64>,
}

pub fn run(args: ImportArgs) -> Result<ExitCode, CliError> {
    let path = &args.file;
    let file = File::open(path).map_err(|err| {
        CliError::new(format!("cannot open capture {}: {err} (check the path; record a capture with `tcpdump -i lo -w FILE`)", path.display()))
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = Reader::open(file).map_err(|err| CliError::new(format!("{} {err}", path.display())))?;
    let mut wanted = Wanted::default();
    if let Some(dir) = &args.save_dir {
        std::fs::create_dir_all(dir)
            .map_err(|err| CliError::new(format!("cannot create the directory {}: {err} (give a directory you can write to)", dir.display())))?;
        wanted.traces = Some(TraceSet::new(dir, import::header(super::command_line::command_line())));
    }
    wanted.kept = args.conversation.map(Kept::new);
    let stop = interrupt::stop_on_termination().map_err(|err| CliError::new(format!("cannot handle Ctrl-C: {err}")))?;

    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = BufWriter::new(stdout.lock());
    let mut listing = Listing::start(&mut out, terminal, args.conversation.is_none());
    let mut bar = Bar::for_file(size);
    let mut table = Table::default();
    let outcome = import::import(&mut reader, &mut table, &mut wanted, stop, &mut |conv| listing.conversation(conv), &mut |offset| bar.show(offset));
    bar.clear();
    // A reader that went away is not an error (the listing stops writing to it); a full disk is.
    let refused = listing.finish(&outcome);
    drop(out);
    if let Some(err) = refused {
        return Err(CliError::new(format!("cannot write the list of conversations: {err}")));
    }
    finish(path, &args, outcome, wanted)
}

/// Reports how the import ended: an error, an interruption, or the kept conversation.
fn finish(path: &Path, args: &ImportArgs, outcome: Imported, wanted: Wanted) -> Result<ExitCode, CliError> {
    let Imported { totals, error, interrupted } = outcome;
    match error {
        Some(ImportError::Capture(err)) => return Err(CliError::new(format!("{} {err}", path.display()))),
        Some(ImportError::Save(err)) => return Err(err.into()),
        None => {}
    }
    if interrupted {
        let saved =
            if args.save_dir.is_some() { "; the traces of conversations still open were saved without an end line, so they read as interrupted" } else { "" };
        eprintln!("trace: interrupted after {} packets{saved}", totals.packets);
        return Ok(ExitCode::from(super::EXIT_INTERRUPTED));
    }
    // Packets cut before their headers ended are a damaged capture, as a truncated one is:
    // what could be read is listed (above), and the import fails, since every count of a
    // conversation that lost packets is wrong.
    if let Some(cut) = import::cut_short(&totals) {
        return Err(CliError::new(format!("{}: {cut}", path.display())));
    }
    if let (Some(dir), Some(traces)) = (&args.save_dir, &wanted.traces) {
        eprintln!(
            "trace: wrote {} to {} (conn-N.jsonl; try `trace check {}`)",
            crate::wording::Count(traces.written(), "trace"),
            dir.display(),
            import::save::trace_path(dir, 1).display()
        );
    }
    if let Some(kept) = wanted.kept {
        if kept.events_out.is_empty() {
            return Err(CliError::new(format!(
                "{} has no conversation {}: it has {} (run `trace import {}` to list them)",
                path.display(),
                kept.number,
                totals.conversations,
                path.display()
            )));
        }
        let end = crate::trace::End { events: kept.events_out.len() as u64, ..Default::default() };
        let trace = Trace { header: import::header(super::command_line::command_line()), events: kept.events_out, end: Some(end) };
        super::stdout::present(&trace, false)?;
    }
    Ok(ExitCode::SUCCESS)
}
