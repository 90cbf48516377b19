//! `trace import FILE`: the conversations of a pcap or pcapng capture, one summary line each
//! (as they end, like tcplife), then the totals; `--save-dir DIR` writes one trace per
//! conversation, `--conversation N` shows one as a timeline.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;

use super::CliError;
use crate::event::Transport;
use crate::import::conversation::{Conversation, End};
use crate::import::pcap::Reader;
use crate::import::save::TraceSet;
use crate::import::table::Table;
use crate::import::{self, ImportError, Kept, Outcome, Wanted};
use crate::render::ladder::duration;
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

/// Set by SIGINT and SIGTERM: the import stops at the next progress point, cleanly.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Ctrl-C stops the import between two packets, so that every trace written is whole.
fn stop_on_signals() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = request_stop as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action` is a valid sigaction; the old one is not needed.
        if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Files smaller than this import in a blink: no progress bar.
const PROGRESS_FROM: u64 = 64 << 20;

pub fn run(args: ImportArgs) -> Result<ExitCode, CliError> {
    let path = &args.file;
    let file = File::open(path)
        .map_err(|err| CliError(format!("cannot open capture {}: {err} (check the path; record a capture with `tcpdump -i lo -w FILE`)", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = Reader::open(file).map_err(|err| CliError(format!("{} {err}", path.display())))?;
    let mut wanted = Wanted::default();
    if let Some(dir) = &args.save_dir {
        std::fs::create_dir_all(dir)
            .map_err(|err| CliError(format!("cannot create the directory {}: {err} (give a directory you can write to)", dir.display())))?;
        wanted.traces = Some(TraceSet::new(dir, import::header(super::command_line())));
    }
    wanted.kept = args.conversation.map(Kept::new);
    stop_on_signals().map_err(|err| CliError(format!("cannot handle Ctrl-C: {err}")))?;

    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = BufWriter::new(stdout.lock());
    let listing = args.conversation.is_none();
    let mut lines = Lines { out: &mut out, terminal, gone: false, line: String::new(), tcp: 0, udp: 0 };
    if listing {
        lines.write(format!(
            "{:>5} {:<5} {:<22} {:<22} {:>13} {:>15} {:>9} {:>7} {:>9}  END",
            "CONV", "PROTO", "CLIENT", "SERVER", "PKTS C>S/S>C", "BYTES C>S/S>C", "HANDSHAKE", "RETRANS", "DURATION"
        ));
    }
    let mut bar = Bar::new(size, io::stderr().is_terminal() && size >= PROGRESS_FROM);
    let mut table = Table::default();
    let outcome = import::import(&mut reader, &mut table, &mut wanted, &STOP, &mut |conv| lines.conversation(conv, listing), &mut |offset| bar.show(offset));
    bar.clear();
    if listing {
        let totals = totals_line(&outcome, lines.tcp, lines.udp);
        lines.write(totals);
    }
    // A reader that went away is not an error (see `Lines::gone`).
    let _ = out.flush();
    drop(out);
    finish(path, &args, outcome, wanted)
}

/// Reports how the import ended: an error, an interruption, or the kept conversation.
fn finish(path: &Path, args: &ImportArgs, outcome: Outcome, wanted: Wanted) -> Result<ExitCode, CliError> {
    let Outcome { totals, error, interrupted } = outcome;
    match error {
        Some(ImportError::Capture(err)) => return Err(CliError(format!("{} {err}", path.display()))),
        Some(ImportError::Save(err)) => return Err(CliError(err.to_string())),
        None => {}
    }
    if interrupted {
        let saved =
            if args.save_dir.is_some() { "; the traces of conversations still open were saved without an end line, so they read as interrupted" } else { "" };
        eprintln!("trace: interrupted after {} packets{saved}", totals.packets);
        return Ok(ExitCode::from(130));
    }
    if let (Some(dir), Some(traces)) = (&args.save_dir, &wanted.traces) {
        eprintln!(
            "trace: wrote {} traces to {} (conn-N.jsonl; try `trace check {}`)",
            traces.written(),
            dir.display(),
            import::save::trace_path(dir, 1).display()
        );
    }
    if let Some(kept) = wanted.kept {
        if kept.events_out.is_empty() {
            return Err(CliError(format!(
                "{} has no conversation {}: it has {} (run `trace import {}` to list them)",
                path.display(),
                kept.number,
                totals.conversations,
                path.display()
            )));
        }
        let end = crate::trace::End { events: kept.events_out.len() as u64, ..Default::default() };
        let trace = Trace { header: import::header(super::command_line()), events: kept.events_out, end: Some(end) };
        super::present(&trace, false)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary lines, written as conversations end.
struct Lines<'a, W: Write> {
    out: &'a mut W,
    terminal: bool,
    /// Standard output went away (`trace import f | head`): not an error, nothing more to say.
    gone: bool,
    line: String,
    tcp: u64,
    udp: u64,
}

impl<W: Write> Lines<'_, W> {
    fn write(&mut self, line: impl std::fmt::Display) {
        use std::fmt::Write as _;
        if self.gone {
            return;
        }
        // Formatted into a String first: padding writes one character at a time, which
        // costs far more through an io::Write than into a String.
        self.line.clear();
        let _ = writeln!(self.line, "{line}");
        let written = self.out.write_all(self.line.as_bytes()).and_then(|()| if self.terminal { self.out.flush() } else { Ok(()) });
        if written.is_err() {
            self.gone = true;
        }
    }

    fn conversation(&mut self, conv: &Conversation, listing: bool) {
        // The summary reads TCP and UDP only (see `wire::peek`).
        match conv.transport {
            Transport::Tcp => self.tcp += 1,
            Transport::Udp | Transport::Arp => self.udp += 1,
        }
        if listing {
            self.write(Summary(conv));
        }
    }
}

/// One conversation in one line, written straight to the output.
pub struct Summary<'a>(pub &'a Conversation);

impl std::fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let conv = self.0;
        let (c, s) = (End::Client as usize, End::Server as usize);
        let proto = match conv.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Arp => "arp",
        };
        let packets = format!("{}/{}", conv.packets[c], conv.packets[s]);
        let bytes = format!("{}/{}", conv.bytes[c], conv.bytes[s]);
        let rtt = conv.handshake_rtt().map_or_else(|| "-".to_string(), duration);
        let retrans = conv.retransmissions[c] + conv.retransmissions[s];
        let guessed = if conv.mid_stream { " (no SYN seen: roles guessed)" } else { "" };
        write!(
            f,
            "{:>5} {:<5} {:<22} {:<22} {:>13} {:>15} {:>9} {:>7} {:>9}  {}{guessed}",
            conv.number,
            proto,
            conv.client,
            conv.server,
            packets,
            bytes,
            rtt,
            retrans,
            duration(conv.last_t.saturating_sub(conv.first_t)),
            conv.ending(),
        )
    }
}

fn totals_line(outcome: &Outcome, tcp: u64, udp: u64) -> String {
    let t = &outcome.totals;
    let other = if t.other > 0 { format!(" ({} neither TCP nor UDP)", t.other) } else { String::new() };
    format!(
        "{} conversations ({tcp} tcp, {udp} udp), {} packets{other}, {} bytes read, {} of capture",
        tcp + udp,
        t.packets,
        t.file_bytes,
        duration(t.last_t.saturating_sub(t.first_t))
    )
}

/// A progress bar on standard error, for large files on a terminal.
struct Bar {
    size: u64,
    on: bool,
    shown: u64,
}

impl Bar {
    fn new(size: u64, on: bool) -> Bar {
        Bar { size, on, shown: u64::MAX }
    }

    fn show(&mut self, offset: u64) {
        if !self.on || self.size == 0 {
            return;
        }
        let percent = offset.min(self.size) * 100 / self.size;
        if percent == self.shown {
            return;
        }
        self.shown = percent;
        let filled = (percent / 4) as usize;
        eprint!("\rimporting [{}{}] {percent:>3}%", "#".repeat(filled), " ".repeat(25 - filled));
    }

    fn clear(&mut self) {
        if self.on && self.shown != u64::MAX {
            eprint!("\r{}\r", " ".repeat(48));
        }
    }
}
