//! Every reason and note `trace check` prints, in plain words. Events are cited as `#n`: the
//! n-th event of the trace, on line n + 1 of the file (line 1 is the header).

use std::net::SocketAddr;

use super::index::Index;
use super::side::Side;
use crate::event::{Errno, Role, Verb};
use crate::sequence::{Evidence, Part};
use crate::tcp::linux::{self, Difference};
use crate::trace::{LensStatus, Source, Trace};

/// `#n` for the event at index `i`.
pub(crate) fn num(i: usize) -> String {
    format!("#{}", i + 1)
}

/// What a part is called in a sentence.
pub(crate) fn noun(part: Part) -> &'static str {
    part.noun()
}

/// A call the sequence asks for is not in the trace.
pub(crate) fn never_called(part: Part, call: Verb) -> String {
    match (part, call) {
        (Part::Client, Verb::Close) => "the client never closed its socket".to_string(),
        (Part::Listening, Verb::Close) => "the listening socket was never closed".to_string(),
        (Part::Accepted, Verb::Close) => "the server never closed the accepted socket".to_string(),
        (Part::Bound, Verb::Close) => "the server never closed its datagram socket".to_string(),
        (Part::Listening, Verb::Accept) => "accept never called".to_string(),
        (Part::Listening, Verb::Listen) => "listen never called: the socket never became a listening one".to_string(),
        (Part::Listening | Part::Bound, Verb::Bind) => "bind never called: the server never claimed its port".to_string(),
        (Part::Client, Verb::Connect) => "connect never called".to_string(),
        (part, call) => format!("{} never called {call}", noun(part)),
    }
}

/// A call the sequence asks for failed.
/// `reset`: where the trace shows the reset that answered, if it does.
pub(crate) fn failed(call: Verb, errno: &Errno, end: usize, reset: Option<usize>) -> String {
    match (call, errno.name.as_str()) {
        (Verb::Connect, "ECONNREFUSED") => {
            let answered = reset.map_or(String::new(), |r| format!(" (the reset at {} answered its SYN)", num(r)));
            format!(
                "connect failed with ECONNREFUSED at {}: nobody listens there, and the kernel refused the connection{answered}. \
                 The documented sequence ends here, as it must; the socket is still owed its close",
                num(end)
            )
        }
        (Verb::Connect, "ETIMEDOUT") => {
            format!("connect failed with ETIMEDOUT at {}: no answer came to the SYN, however often it was sent", num(end))
        }
        (call, name) => format!("{call} failed with {name} at {}", num(end)),
    }
}

/// A non-blocking connect: it returns at once, and the program learns the outcome later.
pub(crate) fn in_progress(call: Verb, end: usize, learned: Option<usize>) -> String {
    let learned = match learned {
        Some(at) => format!(": the program learned how it ended at {}", num(at)),
        None => ": the trace does not show the program learning how it ended".to_string(),
    };
    format!(
        "{call} returned EINPROGRESS at {}: a non-blocking {call}, whose handshake goes on after it returned (the \
         program waits for it with poll, select or epoll, then asks getsockopt(SO_ERROR)){learned}",
        num(end)
    )
}

/// A send or recv that found the connection reset by the peer.
pub(crate) fn reset_by_peer(call: Verb, errno: &Errno, end: usize, reset: Option<usize>) -> String {
    let by = reset.map_or(String::new(), |r| format!(" by the reset at {}", num(r)));
    format!(
        "{call} failed with {} at {}: the peer ended the connection{by}; the exchange ends there, by the peer's doing \
         (its own story says why)",
        errno.name,
        num(end)
    )
}

/// A FIN the step asks for, missing because a reset ended the connection.
pub(crate) fn reset_instead_of_fin(evidence: &Evidence, reset: usize) -> String {
    format!(
        "{} is missing because the reset at {} ended the connection first: the kernel resets a connection whose \
         socket is closed while data is still unread, or that receives data after its close (RFC 9293 §3.10.4, \
         RFC 2525 §2.17) — a reaction of the kernel, not a step the program missed",
        describe(evidence),
        num(reset)
    )
}

/// A close of one descriptor among several.
pub(crate) fn closed_a_copy(at: usize) -> String {
    format!(
        "the close at {} closed one descriptor of several (a forked process's copy, or a duplicate): the socket \
         stayed open in the others, so it is not the socket's close",
        num(at)
    )
}

/// No close call: the kernel closed the socket's last descriptor itself.
pub(crate) fn closed_by_the_kernel(at: usize) -> String {
    format!(
        "the kernel closed it at {}, when the process holding its last descriptor ended (or ran another program): \
         the program left the close to the kernel",
        num(at)
    )
}

pub(crate) fn never_returned(call: Verb, start: usize) -> String {
    format!("{call} never returned: it began at {} and was still waiting when the trace ends", num(start))
}

/// The trace does not show how the socket was made.
pub(crate) fn not_made(call: Verb, made: Option<Verb>) -> String {
    match made {
        Some(other) => format!("the socket was made by {other}, not {call}"),
        None => format!("the trace does not show the socket being made by {call}: it began before the recording"),
    }
}

/// A piece of evidence, as a phrase: "a SYN from the client while connect runs".
pub(crate) fn describe(evidence: &Evidence) -> String {
    evidence.describe()
}

pub(crate) fn missing(evidence: &Evidence) -> String {
    format!("the trace does not show {}", describe(evidence))
}

/// A call that the socket's part never makes in its documented sequence.
pub(crate) fn unexpected(part: Part, call: Verb, at: usize) -> String {
    let why = match (part, call) {
        (Part::Client, Verb::Listen) => "a client connects; only a server listens",
        (Part::Client, Verb::Accept) => "only a listening socket accepts connections",
        (Part::Listening, Verb::Connect) => "a listening socket waits for clients; it does not connect",
        (Part::Listening, Verb::Send | Verb::Recv) => "a listening socket carries no data: accept() gives the socket that does",
        (Part::Accepted, Verb::Bind | Verb::Listen | Verb::Accept | Verb::Connect) => "the accepted socket is already connected",
        (Part::Bound, Verb::Listen | Verb::Accept) => "a datagram socket has no connections",
        _ => "the documented sequence has no such call",
    };
    let subject = match (part, call) {
        (Part::Client, _) => format!("the client called {call}"),
        _ => format!("{call} on {}", noun(part)),
    };
    format!("{subject} ({}): {why}", num(at))
}

/// A connected datagram client: `connect` named the server once, for every datagram.
pub(crate) fn connected_datagrams(at: usize) -> String {
    format!(
        "connect at {} gave the datagram socket the server's address once and for all: a connected UDP socket \
         sends every datagram there without naming it (and takes answers from there only). No handshake: connect \
         on UDP sends nothing",
        num(at)
    )
}

/// A call outside the documented sequence that is nevertheless sound: a note, not a failure.
pub(crate) fn tolerated(part: Part, call: Verb, datagram: bool, at: usize, how: Option<&str>) -> Option<String> {
    match (part, call, datagram) {
        (Part::Client | Part::Accepted, Verb::Shutdown, false) => Some(format!(
            "shutdown({}) at {}: a half-close. {}'s FIN leaves before close(), and data can still come the other way \
             (RFC 9293 §3.6: CLOSE means \"I have no more to send\")",
            how.unwrap_or("?"),
            num(at),
            capitalized(noun(part))
        )),
        // Java's ServerSocket.close(), among others, shuts every socket down before closing it.
        (Part::Listening, Verb::Shutdown, false) => Some(format!(
            "shutdown({}) on the listening socket at {}: it has no connection, so nothing is sent; a library that \
             shuts every socket down before closing it (Java's ServerSocket.close) does this, and the close that \
             follows is what ends the listening",
            how.unwrap_or("?"),
            num(at)
        )),
        (Part::Client, Verb::Bind, _) => {
            Some(format!("the client chose its own address with bind() at {}; the documented client leaves its port to the kernel", num(at)))
        }
        (Part::Client | Part::Bound, Verb::Connect, true) => {
            Some(format!("connect() on a datagram socket at {} only fixes the peer: nothing is sent", num(at)))
        }
        _ => None,
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

/// A call of a later step that began before a call of the step before it had returned.
pub(crate) fn out_of_order(later: Verb, at: usize, earlier: Verb, started: usize, returned: Option<usize>) -> String {
    if at < started {
        return format!("{later} before {earlier}: {later} at {}, {earlier} only at {}", num(at), num(started));
    }
    match returned {
        Some(end) => {
            format!("{later} before {earlier} returned: {later} at {}, {earlier} returned at {}", num(at), num(end))
        }
        None => format!("{later} before {earlier} returned: {later} at {}, and {earlier} never returned", num(at)),
    }
}

pub(crate) fn data_before_handshake(packet: usize, len: u32, completed: usize) -> String {
    format!("data before the handshake completed: {} carries {len} bytes, the handshake completed only at {}", num(packet), num(completed))
}

/// After a step that stopped the sequence, only the calls still count.
pub(crate) fn moot(step_title: &str) -> String {
    format!("after \"{step_title}\" there is no connection: only the calls are checked here, not packets or states")
}

pub(crate) fn not_reached(step_title: &str) -> String {
    format!("not reached: the sequence stopped at \"{step_title}\"")
}

pub(crate) fn no_listener(call: Verb, addr: SocketAddr) -> String {
    format!("{call} was given {addr}, where nobody in this trace waits for clients: the server is outside the trace")
}

pub(crate) fn refused_by_reset(rst: usize) -> String {
    format!(
        "the server's reset at {} answered the SYN: nobody listened there, and connect() failed with ECONNREFUSED \
         (the capture holds no calls to show it); the sequence ends here",
        num(rst)
    )
}

pub(crate) fn retransmitted(flags: &str, from: Role, count: usize) -> String {
    format!("the {flags} from the {from} was sent {count} times: the first got no answer in time and was retransmitted")
}

pub(crate) fn backlog(accept_start: usize, established: usize, first: bool) -> String {
    let why = if first {
        "the kernel completes handshakes by itself and keeps the connections in the listen backlog until accept() \
         takes one"
    } else {
        "the listen backlog, explained above"
    };
    format!("accept began at {}, after the handshake had completed at {}: {why}", num(accept_start), num(established))
}

pub(crate) fn simultaneous_close(at: usize) -> String {
    format!("both sides closed at once: the FINs crossed and the socket passed through CLOSING at {} (RFC 9293 §3.6)", num(at))
}

/// A documented Linux difference, seen at event `at`; explained in full the first time only.
pub(crate) fn linux(difference: Difference, at: usize, first: bool) -> String {
    if first {
        format!("{} shows Linux, not a failure ({}): {}. RFC 9293: {}", num(at), difference.id, difference.linux, difference.rfc)
    } else {
        format!("{} shows Linux, not a failure ({}, explained above)", num(at), difference.id)
    }
}

/// Nothing in the trace to hold against a sequence: no socket at all, or none of the side
/// asked for (or only sockets that play no part).
pub(crate) fn nothing_to_check(side: Option<Side>, trace: &Trace) -> String {
    let any_socket = trace.events.iter().any(|e| e.socket.is_some());
    match (side, any_socket) {
        (_, false) => format!(
            "nothing to check: the trace shows no socket at all: the programs it recorded (`{}`) made none, or their calls were not recorded",
            trace.header.command
        ),
        (Some(side), true) => format!("the trace shows no {side} socket to check"),
        (None, true) => "the trace shows no socket that plays a part in the documented sequences".to_string(),
    }
}

/// Why a socket the recorder named as playing no part is set aside.
fn set_aside(id: &crate::event::SockId) -> Option<&'static str> {
    Some(match id.kind()? {
        crate::event::SockKind::Idle => {
            "played no part: made and closed without claiming a port, listening, connecting or moving a byte (a \
             language runtime's probe at start-up, most often)"
        }
        crate::event::SockKind::Queued => {
            "is a connection the kernel completed on a listening socket, which the program never accepted (it waited \
             in the listener's queue)"
        }
        crate::event::SockKind::Peer => "belongs to a program this trace does not record (the other end of a traced socket)",
        crate::event::SockKind::Client | crate::event::SockKind::Server => return None,
    })
}

/// Notes about the whole trace: where it comes from and which lenses it lacks.
pub(crate) fn trace_notes(trace: &Trace, unused: &[usize], index: &Index) -> Vec<String> {
    let mut notes = Vec::new();
    let lenses = &trace.header.lenses;
    for (name, status) in [("calls", &lenses.calls), ("packets", &lenses.packets), ("states", &lenses.states)] {
        if let LensStatus::Unavailable { reason } = status {
            let why = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
            notes.push(format!("the {name} lens was unavailable{why}: evidence only it would show is marked not observed, not failed"));
        }
    }
    if trace.header.source == Source::Simulated {
        notes.push("every event was modelled by the RFC 9293 simulator, none observed".to_string());
    }
    let states = trace.events.iter().any(|e| matches!(e.body, crate::event::Body::State(_)));
    if trace.header.source == Source::Live && lenses.states == LensStatus::Observed && states {
        let difference = linux::STATE_TASK_IS_WHOEVER_RAN;
        notes.push(format!("{} ({})", difference.linux, difference.id));
    }
    if trace.end.is_none() {
        notes.push("the trace was interrupted (it has no end line): what happened after its last event is unknown".to_string());
    }
    for &log in unused {
        let socket = index.socket(log);
        notes.push(if let Some(why) = set_aside(socket.id) {
            format!("{} {why}: it is not checked", socket.id)
        } else if socket.calls.is_empty() && socket.created.is_none() {
            format!(
                "{} appears only in packets or kernel states, in no recorded call: its program is not recorded \
                 here, so it is not checked",
                socket.id
            )
        } else {
            format!("{} was made but never listened, connected or exchanged data: it is not checked", socket.id)
        });
    }
    notes
}
