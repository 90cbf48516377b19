//! A trace as a packetdrill script, from one side's point of view: that side's calls as
//! system calls, the packets it receives as `<` (inbound) and those it sends as `>`
//! (outbound), with sequence numbers relative to each side's ISN, as packetdrill counts them.
//!
//! The forms follow packetdrill's grammar (its `parser.y`): an event is a time and an
//! action; a blocking call that returned later is `START...END call(args) = result`; a TCP
//! packet is `direction flags start:end(length) [ack N] [win N] [<options>]`. Descriptors
//! are renumbered from 3, as in a script's fresh process. Options are written in Linux's
//! order (`mss`, `sackOK`, `TS val … ecr …`, `nop`, `wscale`), which a trace does not keep.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::event::{Body, CallEnd, CallStart, Event, Packet, Role, SockId, Verb};
use crate::inert;
use crate::tcp::flags::TcpFlags;
use crate::trace::Trace;

/// Writes `trace` as a packetdrill script seen from `side`; returns the number of events.
pub fn write_packetdrill(trace: &Trace, side: Role, out: &mut impl Write) -> io::Result<usize> {
    let script = script(trace, side);
    out.write_all(script.as_bytes())?;
    out.flush()?;
    Ok(script.lines().filter(|l| !l.starts_with("//") && !l.is_empty()).count())
}

/// Why a trace cannot be written as a script, if it cannot: these scripts speak TCP only, and
/// a UDP trace's datagrams and `sendto`/`recvfrom` calls would come out as something else.
pub fn unsupported(trace: &Trace) -> Option<String> {
    let udp = trace.events.iter().any(|e| match &e.body {
        Body::Packet(packet) => packet.transport == crate::event::Transport::Udp,
        Body::CallStart(start) => start.args.is_datagram(),
        _ => false,
    });
    udp.then(|| "--packetdrill writes TCP scripts only, and this trace is UDP: export its datagrams with --pcap instead".to_string())
}

/// The script text.
pub fn script(trace: &Trace, side: Role) -> String {
    let events = &trace.events;
    let ends: HashMap<u64, &Event> = events
        .iter()
        .filter_map(|e| match &e.body {
            Body::CallEnd(end) => Some((end.id, e)),
            _ => None,
        })
        .collect();
    let mut fds = Fds::default();
    // Each line as (its time, the end of a blocking call's span, its text): packetdrill wants
    // the script's first event at time 0, so times count from the first line kept, not from
    // the trace's first event (the other side's, when this is the client).
    let mut lines: Vec<(u64, Option<u64>, String)> = Vec::new();
    for event in events {
        match &event.body {
            Body::CallStart(start) if event.actor.role == side => {
                let Some(end_event) = ends.get(&start.id) else { continue };
                let Body::CallEnd(end) = &end_event.body else { continue };
                let socket = end_event.socket.as_ref().or(event.socket.as_ref());
                let Some(call) = syscall(start, end, socket, &mut fds) else { continue };
                let blocking = matches!(start.verb(), Verb::Accept | Verb::Connect | Verb::Recv);
                lines.push((event.t, (blocking && end_event.t > event.t).then_some(end_event.t), call));
            }
            Body::Packet(packet) => {
                if let Some(line) = packet_line(packet, event.actor.role == side) {
                    lines.push((event.t, None, line));
                }
            }
            _ => {}
        }
    }
    let t0 = lines.first().map_or(0, |(t, _, _)| *t);
    let secs = |t: u64| format!("{:.6}", t.saturating_sub(t0) as f64 / 1e9);
    let mut out = format!("// {} — as seen by the {side}; written by socktrace from a trace\n", inert::packetdrill_comment(&trace.header.command));
    for (t, until, text) in lines {
        let _ = match until {
            // A call that blocked: packetdrill's `START...END` form.
            Some(end) => writeln!(out, "{}...{} {text}", secs(t), secs(end)),
            None => writeln!(out, "{} {text}", secs(t)),
        };
    }
    out
}

/// Descriptor numbers as a script's process would get them: 3, 4, … in order of creation.
#[derive(Default)]
struct Fds {
    numbers: HashMap<SockId, u32>,
}

impl Fds {
    fn of(&mut self, socket: Option<&SockId>) -> u32 {
        let Some(socket) = socket else { return 3 };
        let next = 3 + self.numbers.len() as u32;
        *self.numbers.entry(socket.clone()).or_insert(next)
    }
}

/// The call as the script writes it, by what it does (a `write` is the script's `send`);
/// `None` for the calls a script has no use for (options read, names asked, modes, waits).
/// A name from the trace (an option's, an errno's, a shutdown's `how`) goes into the script
/// only if it is one ([`inert::packetdrill_symbol`]): whatever else a trace says cannot
/// become script text.
fn syscall(start: &CallStart, end: &CallEnd, socket: Option<&SockId>, fds: &mut Fds) -> Option<String> {
    let fd = fds.of(socket);
    let len = start.args.len.unwrap_or(0);
    let option = start.args.option.as_deref().and_then(inert::packetdrill_symbol);
    let call = match start.verb() {
        // The address family is the script's own (`--ip_version`), not an argument.
        Verb::Socket => "socket(..., SOCK_STREAM, IPPROTO_TCP)".to_string(),
        Verb::Option if start.call == crate::event::CallName::Setsockopt => match option {
            Some("TCP_NODELAY") => format!("setsockopt({fd}, IPPROTO_TCP, TCP_NODELAY, [1], 4)"),
            Some(option) => format!("setsockopt({fd}, SOL_SOCKET, {option}, [1], 4)"),
            None => format!("setsockopt({fd}, SOL_SOCKET, ..., [1], 4)"),
        },
        verb @ (Verb::Bind | Verb::Connect | Verb::Accept) => format!("{verb}({fd}, ..., ...)"),
        Verb::Listen => format!("listen({fd}, {})", start.args.backlog.unwrap_or(0)),
        Verb::Send => format!("send({fd}, ..., {len}, 0)"),
        Verb::Recv => format!("recv({fd}, ..., {len}, 0)"),
        Verb::Shutdown => format!(
            "shutdown({fd}, {})",
            start.args.how.as_deref().and_then(inert::packetdrill_symbol).filter(|h| h.starts_with("SHUT_")).unwrap_or("SHUT_RDWR")
        ),
        Verb::Close => format!("close({fd})"),
        Verb::Option | Verb::Name | Verb::Mode | Verb::Descriptor | Verb::Wait => return None,
    };
    let result = match (&end.errno, &end.new_socket) {
        (Some(errno), _) => {
            // packetdrill wants the errno's words in parentheses, e.g. `(Connection refused)`.
            let words = io::Error::from_raw_os_error(errno.code).to_string();
            let words = words.split(" (os error").next().unwrap_or_default().to_string();
            let name = inert::packetdrill_symbol(&errno.name).map_or_else(|| crate::errno::errno(errno.code).name, str::to_string);
            format!("-1 {name} ({words})")
        }
        (None, Some(new)) => fds.of(Some(new)).to_string(),
        (None, None) => end.ret.to_string(),
    };
    Some(format!("{call} = {result}"))
}

/// `S.`, `F.`, `P.`, `.`, `R`: packetdrill's letters, ACK as a trailing dot.
fn flag_letters(flags: TcpFlags) -> String {
    let mut letters = String::new();
    for (bit, letter) in [
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ECE, 'E'),
        (TcpFlags::CWR, 'W'),
    ] {
        if flags.contains(bit) {
            letters.push(letter);
        }
    }
    if flags.contains(TcpFlags::ACK) {
        letters.push('.');
    }
    if letters.is_empty() {
        letters.push('-');
    }
    letters
}

/// One TCP packet; `None` for a datagram (not in this script's TCP grammar).
fn packet_line(packet: &Packet, outbound: bool) -> Option<String> {
    let tcp = packet.tcp.as_ref()?;
    let seq = tcp.rel_seq.unwrap_or(tcp.seq);
    let mut line = format!("{} {} {seq}:{}({})", if outbound { '>' } else { '<' }, flag_letters(tcp.flags), seq.wrapping_add(packet.len), packet.len);
    if tcp.flags.contains(TcpFlags::ACK) {
        let _ = write!(line, " ack {}", tcp.rel_ack.unwrap_or(tcp.ack));
    }
    let _ = write!(line, " win {}", tcp.win);
    let o = &tcp.options;
    let mut options = Vec::new();
    if let Some(mss) = o.mss {
        options.push(format!("mss {mss}"));
    }
    if o.sack_ok {
        options.push("sackOK".to_string());
    }
    if let Some((val, ecr)) = o.ts {
        if o.mss.is_none() {
            options.extend(["nop".to_string(), "nop".to_string()]);
        }
        options.push(format!("TS val {val} ecr {ecr}"));
    }
    if let Some(ws) = o.wscale {
        options.extend(["nop".to_string(), format!("wscale {ws}")]);
    }
    if !options.is_empty() {
        let _ = write!(line, " <{}>", options.join(","));
    }
    Some(line)
}
