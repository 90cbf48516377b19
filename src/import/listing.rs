//! `trace import`'s list: a header, one line per conversation as it ends (like tcplife), then
//! the totals, written as the import goes.

use std::fmt::{self, Display};
use std::io::Write;

use super::conversation::{Conversation, End};
use super::Imported;
use crate::event::Transport;
use crate::wording::{Count, Span};

/// The summary lines, written as conversations end.
pub struct Listing<'a, W: Write> {
    out: &'a mut W,
    /// Each line is flushed at once, for a reader watching.
    terminal: bool,
    /// Only counted, not listed (`--conversation N` shows one instead).
    listing: bool,
    /// Standard output went away (`trace import f | head`): not an error, nothing more to say.
    gone: bool,
    line: String,
    tcp: u64,
    udp: u64,
}

impl<'a, W: Write> Listing<'a, W> {
    /// Starts the list on `out` with its header (when `listing`).
    pub fn start(out: &'a mut W, terminal: bool, listing: bool) -> Listing<'a, W> {
        let mut lines = Listing { out, terminal, listing, gone: false, line: String::new(), tcp: 0, udp: 0 };
        if listing {
            lines.write(format!(
                "{:>5} {:<5} {:<22} {:<22} {:>13} {:>15} {:>9} {:>7} {:>9}  END",
                "CONV", "PROTO", "CLIENT", "SERVER", "PKTS C>S/S>C", "BYTES C>S/S>C", "HANDSHAKE", "RETRANS", "DURATION"
            ));
        }
        lines
    }

    fn write(&mut self, line: impl Display) {
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

    /// A conversation that has ended.
    pub fn conversation(&mut self, conv: &Conversation) {
        // The summary reads TCP and UDP only (see `wire::peek`).
        match conv.transport {
            Transport::Tcp => self.tcp += 1,
            Transport::Udp | Transport::Arp => self.udp += 1,
        }
        if self.listing {
            self.write(Summary(conv));
        }
    }

    /// Ends the list with the totals of `outcome`.
    pub fn finish(&mut self, outcome: &Imported) {
        if self.listing {
            let totals = totals_line(outcome, self.tcp, self.udp);
            self.write(totals);
        }
    }
}

/// One conversation in one line, written straight to the output.
pub struct Summary<'a>(pub &'a Conversation);

impl Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let conv = self.0;
        let (c, s) = (End::Client as usize, End::Server as usize);
        let proto = match conv.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Arp => "arp",
        };
        let packets = format!("{}/{}", conv.packets[c], conv.packets[s]);
        let bytes = format!("{}/{}", conv.bytes[c], conv.bytes[s]);
        let rtt = conv.handshake_rtt().map_or_else(|| "-".to_string(), |ns| Span::short(ns).to_string());
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
            Span::short(conv.last_t.saturating_sub(conv.first_t)).to_string(),
            conv.ending(),
        )
    }
}

/// The last line: the conversations by protocol, the packets and the capture's span.
fn totals_line(outcome: &Imported, tcp: u64, udp: u64) -> String {
    let t = &outcome.totals;
    let other = if t.other > 0 { format!(" ({} neither TCP nor UDP)", t.other) } else { String::new() };
    format!(
        "{} ({tcp} tcp, {udp} udp), {}{other}, {} bytes read, {} of capture",
        Count(tcp + udp, "conversation"),
        Count(t.packets, "packet"),
        t.file_bytes,
        Span::short(t.last_t.saturating_sub(t.first_t))
    )
}
