//! How the terminal shows `trace check`'s report: per socket, per step, met (with its
//! evidence) or not met (with the reasons), then the verdict.

use std::fmt;
use std::io::{self, Write};

use super::style::{self, Style};
use crate::check::{Observation, Outcome, Report, Seen, SocketReport, StepReport};
use crate::event::{Body, Event};
use crate::inert;
use crate::sequence::Part;
use crate::story::reasons::num;
use crate::trace::LensStatus;
use crate::wording::{self, PeerNames};

impl Report<'_> {
    /// Writes the report for a terminal.
    pub fn render(&self, style: Style, out: &mut dyn Write) -> io::Result<()> {
        let peers = PeerNames::of(&self.trace.events);
        Renderer { report: self, style, first: self.trace.events.first().map_or(0, |e| e.t), peers }.write(out)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::new();
        self.render(Style::plain(), &mut bytes).map_err(|_| fmt::Error)?;
        f.write_str(&String::from_utf8_lossy(&bytes))
    }
}

/// Where text starts under a step's headline.
const INDENT: &str = "                 ";
/// The verdict names each deviating socket while at most this many miss the same steps;
/// more are counted, with the first two and the last named.
const GROUPED: usize = 3;
/// Notes and reasons wrap at this width.
const WIDTH: usize = 110;

struct Renderer<'r, 't> {
    report: &'r Report<'t>,
    style: Style,
    first: u64,
    /// Each socket's program, in a session of peers.
    peers: PeerNames,
}

impl Renderer<'_, '_> {
    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let trace = self.report.trace;
        let header = &trace.header;
        let lens = |status: &LensStatus| match status {
            LensStatus::Observed => "observed",
            LensStatus::Modelled => "modelled",
            LensStatus::Unavailable { .. } => "unavailable",
        };
        writeln!(out, "{}", self.style.bold(&format!("trace check: {}", inert::terminal(&header.command))))?;
        writeln!(
            out,
            "{} events; calls {}, packets {}, states {}{}",
            trace.events.len(),
            lens(&header.lenses.calls),
            lens(&header.lenses.packets),
            lens(&header.lenses.states),
            self.report.side.map_or(String::new(), |side| format!("; checking the {side} only"))
        )?;
        for note in &self.report.notes {
            self.paragraph(out, "  note: ", note)?;
        }
        for socket in &self.report.sockets {
            writeln!(out)?;
            self.socket(socket, out)?;
        }
        writeln!(out)?;
        for problem in &self.report.problems {
            self.paragraph(out, "not met: ", problem)?;
        }
        self.summary(out)
    }

    fn socket(&self, socket: &SocketReport, out: &mut dyn Write) -> io::Result<()> {
        let mut about = format!("{} {}", socket.sequence.role, socket.socket);
        if let Some(peer) = self.peers.peer(&socket.socket) {
            about = format!("peer {peer} · {about}");
        }
        let part = match socket.part {
            Part::Listening => "listening",
            Part::Accepted => "accepted",
            Part::Client => "client",
            Part::Bound => "datagram",
        };
        about.push_str(&format!(" ({part} socket"));
        if let Some(listener) = &socket.listener {
            about.push_str(&format!(" from {listener}"));
        }
        if let Some(peer) = socket.peer {
            about.push_str(&format!(", peer {peer}"));
        }
        about.push(')');
        let verdict = if socket.conforms() { "conforms" } else { "DEVIATES" };
        writeln!(out, "{} — {}: {verdict}", self.style.bold(&inert::terminal(&about)), socket.sequence.title)?;
        for step in &socket.steps {
            self.step(step, out)?;
        }
        Ok(())
    }

    fn step(&self, step: &StepReport, out: &mut dyn Write) -> io::Result<()> {
        let outcome = step.outcome();
        let word = format!("{:<13}", outcome.words());
        let word = match outcome {
            Outcome::Met => self.style.paint(style::MET, &word),
            Outcome::Ended => self.style.paint(style::ENDED, &word),
            Outcome::NotMet => self.style.paint(style::NOT_MET, &word),
            Outcome::NotReached | Outcome::NotObserved => self.style.dim(&word),
        };
        let number = step.step.number.map_or("·".to_string(), |n| n.to_string());
        writeln!(out, "  {word}{number:>1}  {}", step.step.title)?;
        if outcome == Outcome::NotReached {
            for note in &step.notes {
                self.paragraph(out, &format!("{INDENT}note: "), note)?;
            }
            return Ok(());
        }
        // Found evidence in the order it happened, then what is missing in the sequence's order.
        let mut found: Vec<&Observation> = step.evidence.iter().filter(|o| matches!(o.seen, Seen::At(_))).collect();
        found.sort_by_key(|o| match o.seen {
            Seen::At(s) => s.event,
            _ => usize::MAX,
        });
        for observation in found.into_iter().chain(step.evidence.iter().filter(|o| !matches!(o.seen, Seen::At(_)))) {
            self.observation(observation, out)?;
        }
        for reason in &step.reasons {
            self.paragraph(out, &format!("{INDENT}{} ", self.style.paint(style::MISSING, "why:")), reason)?;
        }
        for note in &step.notes {
            self.paragraph(out, &format!("{INDENT}note: "), note)?;
        }
        Ok(())
    }

    fn observation(&self, observation: &Observation, out: &mut dyn Write) -> io::Result<()> {
        let what = crate::story::reasons::describe(&observation.evidence);
        match observation.seen {
            Seen::At(sighting) => {
                let event = &self.report.trace.events[sighting.event];
                let time = event.t.saturating_sub(self.first) as f64 / 1e6;
                writeln!(
                    out,
                    "{INDENT}{:<7} {time:>10.3} ms  {:<7} {}",
                    num(sighting.event),
                    wording::actor_label(&event.actor),
                    self.plain(event, sighting.other_half)
                )
            }
            Seen::Missing => writeln!(out, "{INDENT}{:<7} {:>13}  {}", "—", "missing", self.style.paint(style::MISSING, &what)),
            Seen::Unobserved => writeln!(out, "{INDENT}{:<7} {:>13}  {what} (lens unavailable)", "—", "not observed"),
            Seen::Moot => Ok(()),
        }
    }

    /// The event in plain words, with a call printed whole when both halves are known, inert
    /// for a terminal.
    fn plain(&self, event: &Event, other_half: Option<usize>) -> String {
        let words = self.words(event, other_half);
        inert::terminal(&words).into_owned()
    }

    fn words(&self, event: &Event, other_half: Option<usize>) -> String {
        let events = &self.report.trace.events;
        let socket = event.socket.as_ref().map(|s| s.0.as_str());
        let other = other_half.map(|i| &events[i].body);
        match (&event.body, other) {
            (Body::CallStart(start), Some(Body::CallEnd(end))) | (Body::CallEnd(end), Some(Body::CallStart(start))) => {
                let on = match &event.body {
                    Body::CallStart(_) => socket,
                    _ => other_half.and_then(|i| events[i].socket.as_ref()).map(|s| s.0.as_str()).or(socket),
                };
                self.style.call(&wording::call_whole(start, end, on))
            }
            (Body::CallStart(start), _) => self.style.call(&format!("{} …", wording::call_start(start, socket))),
            (Body::CallEnd(end), _) => self.style.call(&format!("{} {}", end.call, wording::call_result(end))),
            (Body::Packet(packet), _) => {
                let from = socket.unwrap_or("?");
                let to = packet.to.as_ref().map_or("?", |s| s.0.as_str());
                let reset = packet.tcp.as_ref().is_some_and(|t| t.flags.contains(crate::tcp::flags::TcpFlags::RST));
                self.style.packet(&format!("{from} > {to}  {}", wording::packet_headline(packet)), reset)
            }
            (Body::State(change), _) => self.style.state(&wording::state_row(&crate::state_path::row_alone(change, event.origin), socket)),
            (Body::Kernel(note), _) => wording::kernel_note(note, socket),
            (Body::Process(change), _) => self.style.state(&wording::process_change(change, &wording::AsTraced)),
        }
    }

    /// `lead` then `text`, wrapped at [`WIDTH`] with continuation lines under the text.
    fn paragraph(&self, out: &mut dyn Write, lead: &str, text: &str) -> io::Result<()> {
        let text = inert::terminal(text);
        let visible = strip_ansi_len(lead);
        let mut line = lead.to_string();
        let mut len = visible;
        for word in text.split(' ') {
            if len + word.chars().count() + 1 > WIDTH && len > visible {
                writeln!(out, "{}", line.trim_end())?;
                line = " ".repeat(visible);
                len = visible;
            }
            line.push_str(word);
            line.push(' ');
            len += word.chars().count() + 1;
        }
        writeln!(out, "{}", line.trim_end())
    }

    fn summary(&self, out: &mut dyn Write) -> io::Result<()> {
        let report = self.report;
        let steps = report.sockets.iter().flat_map(|s| &s.steps);
        let count = |o: Outcome| steps.clone().filter(|s| s.outcome() == o).count();
        let sockets = report.sockets.len();
        let tally = format!(
            "{sockets} socket{}; steps: {} met, {} ended, {} not met, {} not reached, {} not observed",
            if sockets == 1 { "" } else { "s" },
            count(Outcome::Met),
            count(Outcome::Ended),
            count(Outcome::NotMet),
            count(Outcome::NotReached),
            count(Outcome::NotObserved),
        );
        if report.conforms() {
            writeln!(out, "{} ({tally})", self.style.paint(style::CONFORMS, "verdict: conforms to the documented sequences"))
        } else if sockets == 0 {
            writeln!(out, "{}", self.style.paint(style::NOT_MET, "verdict: nothing to check"))
        } else {
            // Sockets that miss the same steps, grouped in order of first sight: a class's
            // 1,100 clients that never exchange read as one group, not a hundred names.
            let mut groups: Vec<(String, Vec<&SocketReport>)> = Vec::new();
            for s in report.sockets.iter().filter(|s| !s.conforms()) {
                let steps: Vec<&str> = s.steps.iter().filter(|st| st.outcome() == Outcome::NotMet).map(|st| st.step.id).collect();
                let steps = steps.join(", ");
                match groups.iter_mut().find(|(at, _)| *at == steps) {
                    Some((_, sockets)) => sockets.push(s),
                    None => groups.push((steps, vec![s])),
                }
            }
            let deviating: Vec<String> = groups
                .iter()
                .flat_map(|(steps, sockets)| match sockets.len() {
                    ..=GROUPED => sockets.iter().map(|s| format!("{} at {steps}", s.socket)).collect::<Vec<_>>(),
                    n => vec![format!("{n} sockets at {steps} ({}, {}, … {})", sockets[0].socket, sockets[1].socket, sockets[n - 1].socket)],
                })
                .chain(report.problems.iter().map(|_| "the trace".to_string()))
                .collect();
            writeln!(out, "{} ({tally})", self.style.paint(style::NOT_MET, &format!("verdict: deviations: {}", deviating.join("; "))))
        }
    }
}

/// The printed width of text that may hold colour codes.
fn strip_ansi_len(text: &str) -> usize {
    let mut len = 0;
    let mut escape = false;
    for c in text.chars() {
        match (escape, c) {
            (false, '\x1b') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, _) => len += 1,
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{check, CheckOptions};
    use crate::event::SockId;
    use crate::sim::{self, Options};

    /// The verdict of an echo whose client, copied `n` times, never closes.
    fn verdict(n: usize) -> String {
        let trace = sim::trace("echo", &Options::default(), "trace simulate echo").expect("a known scenario");
        let mut report = check(&trace, &CheckOptions::default());
        let client = report.sockets.iter().position(|s| s.socket.to_string() == "c1").expect("the client");
        let mut failing = report.sockets.remove(client);
        let close = failing.steps.iter_mut().find(|st| st.step.id == "close").expect("a close step");
        close.reasons.push("never closed".to_string());
        for k in 1..=n {
            report.sockets.push(SocketReport { socket: SockId(format!("c{k}").into()), ..failing.clone() });
        }
        report.to_string().lines().last().expect("a verdict").to_string()
    }

    #[test]
    fn a_few_deviating_sockets_are_named_many_are_counted() {
        assert!(verdict(3).starts_with("verdict: deviations: c1 at close; c2 at close; c3 at close ("), "{}", verdict(3));
        assert!(verdict(100).starts_with("verdict: deviations: 100 sockets at close (c1, c2, … c100) ("), "{}", verdict(100));
    }
}
