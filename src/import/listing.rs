//! `trace import`'s list: a header, one line per conversation in order of first packet (its
//! number), each written as soon as it and every conversation begun before it have ended,
//! then the totals.

use std::collections::BTreeMap;
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
    /// Standard output refused a line for another reason (a full disk): an error, said at
    /// the end.
    failed: Option<std::io::Error>,
    line: String,
    tcp: u64,
    udp: u64,
    /// The number of the next conversation to list.
    next: u64,
    /// The lines of conversations that ended before one begun earlier, each waiting for those
    /// before it. At most `max_waiting` wait: past that (one conversation open while 65,536
    /// begun after it end), they are written, and the ones still open follow when they end,
    /// so that memory stays bounded however long a conversation lasts.
    waiting: BTreeMap<u64, String>,
    max_waiting: usize,
}

impl<'a, W: Write> Listing<'a, W> {
    /// Starts the list on `out` with its header (when `listing`).
    pub fn start(out: &'a mut W, terminal: bool, listing: bool) -> Listing<'a, W> {
        let mut lines = Listing {
            out,
            terminal,
            listing,
            gone: false,
            failed: None,
            line: String::new(),
            tcp: 0,
            udp: 0,
            next: 1,
            waiting: BTreeMap::new(),
            max_waiting: super::table::MAX_OPEN,
        };
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
        if let Err(err) = written {
            self.gone = true;
            if err.kind() != std::io::ErrorKind::BrokenPipe {
                self.failed = Some(err);
            }
        }
    }

    /// A conversation that has ended.
    pub fn conversation(&mut self, conv: &Conversation) {
        // The summary reads TCP and UDP only (see `wire::peek`).
        match conv.transport {
            Transport::Tcp => self.tcp += 1,
            Transport::Udp | Transport::Arp => self.udp += 1,
        }
        if !self.listing {
            return;
        }
        if conv.number < self.next {
            // Its turn has passed (the waiting lines were written past it): late, but listed.
            self.write(Summary(conv));
            return;
        }
        self.waiting.insert(conv.number, Summary(conv).to_string());
        while let Some(line) = self.waiting.remove(&self.next) {
            self.write(line);
            self.next += 1;
        }
        if self.waiting.len() > self.max_waiting {
            self.write_waiting();
        }
    }

    /// Writes every waiting line, in order; those still open are listed when they end.
    fn write_waiting(&mut self) {
        for (number, line) in std::mem::take(&mut self.waiting) {
            self.write(line);
            self.next = number + 1;
        }
    }

    /// Ends the list with the lines still waiting (an interrupted import never reports the
    /// conversations still open) and the totals of `outcome`.
    /// Writes what is left; the error standard output gave, if it refused a line (a reader
    /// that went away is none).
    pub fn finish(&mut self, outcome: &Imported) -> Option<std::io::Error> {
        if self.listing {
            self.write_waiting();
            let totals = totals_line(outcome, self.tcp, self.udp);
            self.write(totals);
        }
        match self.out.flush() {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => self.failed.take().or(Some(err)),
            _ => self.failed.take(),
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
    let mut skipped = Vec::new();
    if t.other > 0 {
        skipped.push(format!("{} neither TCP nor UDP", t.other));
    }
    if t.cut > 0 {
        skipped.push(format!("{} cut short by the snap length", t.cut));
    }
    let other = if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join(", ")) };
    format!(
        "{} ({tcp} tcp, {udp} udp), {}{other}, {} bytes read, {} of capture",
        Count(tcp + udp, "conversation"),
        Count(t.packets, "packet"),
        t.file_bytes,
        Span::short(t.last_t.saturating_sub(t.first_t))
    )
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use crate::wire::peek::{Addr, Peek};

    /// Conversation `number`, from client port 40000 + `number`.
    fn conv(number: u64) -> Conversation {
        let addr = |port: u16| Addr { ip: 0x7f00_0001, port, v6: false };
        let syn = Peek {
            transport: Transport::Tcp,
            src: addr(40000 + number as u16),
            dst: addr(80),
            flags: crate::tcp::flags::TcpFlags::SYN.0,
            seq: 1,
            ack: 0,
            len: 0,
        };
        Conversation::new(number, 0, &syn)
    }

    /// The conversation numbers listed, in order, when they end in `ended` order.
    fn listed(ended: &[u64], max_waiting: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut listing = Listing::start(&mut out, false, true);
        listing.max_waiting = max_waiting;
        for &number in ended {
            listing.conversation(&conv(number));
        }
        listing.write_waiting();
        drop(listing);
        let text = String::from_utf8(out).expect("utf-8");
        text.lines().skip(1).map(|l| l.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a number")).collect()
    }

    #[test]
    fn ended_out_of_order__listed_in_order_of_first_packet() {
        assert_eq!(listed(&[3, 1, 2], 100), [1, 2, 3]);
        assert_eq!(listed(&[2, 3, 1, 5, 4], 100), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn one_open_past_the_limit__the_waiting_are_written__it_follows_when_it_ends() {
        // 1 stays open while 2, 3, 4 end: past two waiting, they are written.
        assert_eq!(listed(&[2, 3, 4, 1, 5], 2), [2, 3, 4, 1, 5]);
    }
}
