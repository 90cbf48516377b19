//! The documented sequences a trace is held against: the server's passive open and the
//! client's active open, five steps on each side, as the course texts teach them; and the
//! connectionless exchange, the same calls over UDP without listen, accept and connect. Each
//! step says, as data, what counts as evidence in a trace, so that `trace check` and the
//! lessons' replay widget read one definition (the book embeds it as JSON).
//!
//! Sources: the five steps on each side come from "Introduction to TCP/IP — Client-Server
//! Protocol"; the `bind` call between creating and listening comes from the socket call
//! sequence in the précis of Comer's chapter 28 (its Figure 3), which also sets
//! connection-oriented beside connectionless transports. Titles and notes are ours.

use serde::Serialize;

use crate::event::{Role, Verb};
use crate::tcp::flags::TcpFlags;
use crate::tcp::state::State;

/// One side's documented sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sequence {
    pub id: &'static str,
    pub role: Role,
    pub title: &'static str,
    pub sources: &'static [&'static str],
    pub steps: &'static [Step],
}

/// One step: what the program does, and what a trace shows when it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Unique within its sequence.
    pub id: &'static str,
    /// The step's number among the five (for the connectionless exchange: among its own
    /// steps); `None` for the passive open's `bind`, which the five steps fold into creating
    /// the socket but the call sequence lists on its own.
    pub number: Option<u8>,
    pub title: &'static str,
    /// What the step means for the socket, for the learner.
    pub note: &'static str,
    /// Everything listed must be found in the trace.
    pub evidence: &'static [Evidence],
}

/// A socket's part in the story.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The server's first socket, which listens for clients.
    Listening,
    /// The socket `accept` returns for one client.
    Accepted,
    /// The client's socket.
    Client,
    /// The server's datagram socket: bound to the well-known port, it exchanges datagrams
    /// with every client itself (no listen, no accept).
    Bound,
}

/// When a packet or state must appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// Anywhere after the previous step.
    Any,
    /// While the call is in progress: between its start and its end.
    During(Verb),
    /// Before the call returns (it may start later, once the kernel has done the work).
    Before(Verb),
}

/// Something a trace shows when a step happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "lens", rename_all = "snake_case")]
pub enum Evidence {
    /// The program calls `call` on the socket.
    Call { call: Verb, socket: Part },
    /// `call` returns a new socket, which plays `socket`.
    NewSocket { call: Verb, socket: Part },
    /// `call` on `socket` is given the listening socket's address: the server's address and port.
    ServerAddress { call: Verb, socket: Part },
    /// A packet from `from` with these flags (PSH aside); `data`: whether it carries payload.
    Packet { flags: TcpFlags, from: Role, data: bool, timing: Timing },
    /// The socket enters state `to`.
    State { socket: Part, to: State, timing: Timing },
    /// A UDP datagram with payload from `from`.
    Datagram { from: Role },
}

impl Part {
    /// The part in words, as a sentence names it: `the listening socket`.
    pub fn noun(self) -> &'static str {
        match self {
            Part::Client => "the client",
            Part::Listening => "the listening socket",
            Part::Accepted => "the accepted socket",
            Part::Bound => "the server's datagram socket",
        }
    }

    /// The part in one word, for a label: `listening`.
    pub fn label(self) -> &'static str {
        match self {
            Part::Client => "client",
            Part::Listening => "listening",
            Part::Accepted => "accepted",
            Part::Bound => "datagram",
        }
    }
}

impl Evidence {
    /// The evidence in words: `a SYN|ACK from the server while connect runs`.
    pub fn describe(&self) -> String {
        let when = |timing: Timing| match timing {
            Timing::Any => String::new(),
            Timing::During(call) => format!(" while {call} runs"),
            Timing::Before(call) => format!(" before {call} returns"),
        };
        match *self {
            Evidence::Call { call, socket } => format!("a call to {call} by {}", socket.noun()),
            Evidence::NewSocket { call, socket } => format!("{call} returning {}", socket.noun()),
            Evidence::ServerAddress { call, .. } => format!("{call} given the server's address"),
            Evidence::Packet { from, data: true, timing, .. } => format!("data from the {from}{}", when(timing)),
            Evidence::Packet { flags, from, data: false, timing } => {
                // "an ACK", "an RST", "a SYN|ACK": the article goes by how the flag is spoken.
                let flags = flags.to_string();
                let article = if flags.starts_with(['A', 'R', 'E']) { "an" } else { "a" };
                format!("{article} {flags} from the {from}{}", when(timing))
            }
            Evidence::State { socket, to, timing } => format!("{} entering {to}{}", socket.noun(), when(timing)),
            Evidence::Datagram { from } => format!("a datagram from the {from}"),
        }
    }
}

const SYN: TcpFlags = TcpFlags::SYN;
const SYN_ACK: TcpFlags = TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0);
const ACK: TcpFlags = TcpFlags::ACK;
const FIN_ACK: TcpFlags = TcpFlags(TcpFlags::FIN.0 | TcpFlags::ACK.0);

const CREATE_NOTE: &str = "socket() returns a descriptor for a fresh TCP socket: no address yet, state CLOSED.";

const FIVE_STEPS: &str = "Introduction to TCP/IP — Client-Server Protocol (the five steps on each side)";
const CALL_SEQUENCE: &str = "Comer, ch. 28, the client-server model: Figure 3, the socket call sequence";
const TRANSPORTS: &str = "Comer, ch. 28, the client-server model: connection-oriented and connectionless transports";

const IN_CONNECT: Timing = Timing::During(Verb::Connect);
const BEFORE_ACCEPT: Timing = Timing::Before(Verb::Accept);

const fn call(call: Verb, socket: Part) -> Evidence {
    Evidence::Call { call, socket }
}

const fn new_socket(call: Verb, socket: Part) -> Evidence {
    Evidence::NewSocket { call, socket }
}

/// A packet without data.
const fn packet(flags: TcpFlags, from: Role, timing: Timing) -> Evidence {
    Evidence::Packet { flags, from, data: false, timing }
}

/// A data segment from `from`: an ACK with payload (PSH aside).
const fn data(from: Role) -> Evidence {
    Evidence::Packet { flags: ACK, from, data: true, timing: Timing::Any }
}

const fn state(socket: Part, to: State, timing: Timing) -> Evidence {
    Evidence::State { socket, to, timing }
}

/// The server's passive open.
pub static PASSIVE_OPEN: Sequence = Sequence {
    id: "passive-open",
    role: Role::Server,
    title: "The server's passive open",
    sources: &[FIVE_STEPS, CALL_SEQUENCE],
    steps: &[
        Step { id: "create", number: Some(1), title: "Make a socket", note: CREATE_NOTE, evidence: &[new_socket(Verb::Socket, Part::Listening)] },
        Step {
            id: "bind",
            number: None,
            title: "Claim the well-known port",
            note: "bind() gives the socket the port clients will ask for. The five steps count this as part of \
                   making the socket; the call sequence shows it as a call of its own.",
            evidence: &[call(Verb::Bind, Part::Listening)],
        },
        Step {
            id: "listen",
            number: Some(2),
            title: "Wait for clients (passive open)",
            note: "listen() makes the socket a listening one: it enters LISTEN, and from now on the kernel answers \
                   SYNs for its port. No packet is sent.",
            evidence: &[call(Verb::Listen, Part::Listening), state(Part::Listening, State::Listen, Timing::During(Verb::Listen))],
        },
        Step {
            id: "accept",
            number: Some(3),
            title: "Take a connection: accept() returns a new socket",
            note: "The kernel does the handshake — SYN, SYN-ACK, ACK — whether or not accept() is waiting yet. \
                   accept() then hands over a new socket for this one client; the listening socket stays in \
                   LISTEN for the next.",
            evidence: &[
                call(Verb::Accept, Part::Listening),
                packet(SYN, Role::Client, BEFORE_ACCEPT),
                packet(SYN_ACK, Role::Server, BEFORE_ACCEPT),
                packet(ACK, Role::Client, BEFORE_ACCEPT),
                state(Part::Accepted, State::Established, BEFORE_ACCEPT),
                new_socket(Verb::Accept, Part::Accepted),
            ],
        },
        Step {
            id: "exchange",
            number: Some(4),
            title: "Exchange data",
            note: "recv() and send() on the accepted socket move bytes; every data segment is acknowledged.",
            evidence: &[call(Verb::Recv, Part::Accepted), call(Verb::Send, Part::Accepted), data(Role::Client), data(Role::Server)],
        },
        Step {
            id: "close",
            number: Some(5),
            title: "Close the conversation's socket (and the listening one when done)",
            note: "close() on the accepted socket sends the server's FIN. The listening socket is closed on its own, \
                   when the server stops taking clients.",
            evidence: &[
                call(Verb::Close, Part::Accepted),
                packet(FIN_ACK, Role::Server, Timing::Any),
                state(Part::Accepted, State::Closed, Timing::Any),
                call(Verb::Close, Part::Listening),
                state(Part::Listening, State::Closed, Timing::Any),
            ],
        },
    ],
};

/// The client's active open.
pub static ACTIVE_OPEN: Sequence = Sequence {
    id: "active-open",
    role: Role::Client,
    title: "The client's active open",
    sources: &[FIVE_STEPS],
    steps: &[
        Step { id: "create", number: Some(1), title: "Make a socket", note: CREATE_NOTE, evidence: &[new_socket(Verb::Socket, Part::Client)] },
        Step {
            id: "address",
            number: Some(2),
            title: "Name the server: its address and port",
            note: "No call of its own: the program fills in the server's address and port and hands them to \
                   connect(). The kernel picks the client's own port.",
            evidence: &[Evidence::ServerAddress { call: Verb::Connect, socket: Part::Client }],
        },
        Step {
            id: "connect",
            number: Some(3),
            title: "Connect (active open): the handshake runs inside connect()",
            note: "connect() sends the SYN and returns only once the SYN-ACK has come back and been acknowledged. \
                   A port nobody listens on answers with a reset, and connect() fails.",
            evidence: &[
                call(Verb::Connect, Part::Client),
                state(Part::Client, State::SynSent, IN_CONNECT),
                packet(SYN, Role::Client, IN_CONNECT),
                packet(SYN_ACK, Role::Server, IN_CONNECT),
                packet(ACK, Role::Client, IN_CONNECT),
                state(Part::Client, State::Established, IN_CONNECT),
            ],
        },
        Step {
            id: "exchange",
            number: Some(4),
            title: "Exchange data",
            note: "send() and recv() on the connected socket move bytes; every data segment is acknowledged.",
            evidence: &[call(Verb::Send, Part::Client), call(Verb::Recv, Part::Client), data(Role::Client), data(Role::Server)],
        },
        Step {
            id: "close",
            number: Some(5),
            title: "Close the socket",
            note: "close() sends the client's FIN. Whichever side closes first waits in TIME-WAIT afterwards.",
            evidence: &[call(Verb::Close, Part::Client), packet(FIN_ACK, Role::Client, Timing::Any), state(Part::Client, State::Closed, Timing::Any)],
        },
    ],
};

/// A datagram from `from`.
const fn datagram(from: Role) -> Evidence {
    Evidence::Datagram { from }
}

/// The server's side of a connectionless (UDP) exchange.
pub static DATAGRAM_SERVER: Sequence = Sequence {
    id: "datagram-server",
    role: Role::Server,
    title: "The server's side of a connectionless exchange",
    sources: &[CALL_SEQUENCE, TRANSPORTS],
    steps: &[
        Step {
            id: "create",
            number: Some(1),
            title: "Make a datagram socket",
            note: "socket(AF_INET, SOCK_DGRAM) returns a descriptor for a fresh UDP socket. UDP has no states.",
            evidence: &[new_socket(Verb::Socket, Part::Bound)],
        },
        Step {
            id: "bind",
            number: Some(2),
            title: "Claim the well-known port",
            note: "bind() gives the socket the port clients send to. There is no listen(): a datagram socket has \
                   no connections to wait for, and no accept(): it talks to every client itself.",
            evidence: &[call(Verb::Bind, Part::Bound)],
        },
        Step {
            id: "exchange",
            number: Some(3),
            title: "Receive requests and answer them",
            note: "recvfrom() returns one datagram and who sent it; sendto() answers that address. Nothing is \
                   acknowledged: a lost datagram is simply gone.",
            evidence: &[call(Verb::Recv, Part::Bound), call(Verb::Send, Part::Bound), datagram(Role::Client), datagram(Role::Server)],
        },
        Step {
            id: "close",
            number: Some(4),
            title: "Close the socket",
            note: "close() releases the port. Nothing is sent: there is no connection to end.",
            evidence: &[call(Verb::Close, Part::Bound)],
        },
    ],
};

/// The client's side of a connectionless (UDP) exchange.
pub static DATAGRAM_CLIENT: Sequence = Sequence {
    id: "datagram-client",
    role: Role::Client,
    title: "The client's side of a connectionless exchange",
    sources: &[CALL_SEQUENCE, TRANSPORTS],
    steps: &[
        Step {
            id: "create",
            number: Some(1),
            title: "Make a datagram socket",
            note: "socket(AF_INET, SOCK_DGRAM) returns a descriptor for a fresh UDP socket. UDP has no states.",
            evidence: &[new_socket(Verb::Socket, Part::Client)],
        },
        Step {
            id: "address",
            number: Some(2),
            title: "Name the server in every datagram",
            note: "No connect(): each sendto() carries the server's address and port. The kernel picks the \
                   client's own port on the first one.",
            evidence: &[Evidence::ServerAddress { call: Verb::Send, socket: Part::Client }],
        },
        Step {
            id: "exchange",
            number: Some(3),
            title: "Send requests and read the answers",
            note: "sendto() sends one datagram; recvfrom() waits for the answer. No handshake came first, and \
                   nothing is acknowledged.",
            evidence: &[call(Verb::Send, Part::Client), call(Verb::Recv, Part::Client), datagram(Role::Client), datagram(Role::Server)],
        },
        Step {
            id: "close",
            number: Some(4),
            title: "Close the socket",
            note: "close() releases the client's port. Nothing is sent.",
            evidence: &[call(Verb::Close, Part::Client)],
        },
    ],
};

/// Both connection-oriented sequences, server first.
pub fn connection_oriented() -> [&'static Sequence; 2] {
    [&PASSIVE_OPEN, &ACTIVE_OPEN]
}

/// Both connectionless sequences, server first.
pub fn connectionless() -> [&'static Sequence; 2] {
    [&DATAGRAM_SERVER, &DATAGRAM_CLIENT]
}

/// Every documented sequence: connection-oriented, then connectionless.
pub fn documented() -> [&'static Sequence; 4] {
    [&PASSIVE_OPEN, &ACTIVE_OPEN, &DATAGRAM_SERVER, &DATAGRAM_CLIENT]
}

/// The pair of sequences a trace's story follows: the connectionless ones when it makes
/// datagram sockets or carries datagrams, else the connection-oriented ones.
pub fn of_trace(events: &[crate::event::Event]) -> [&'static Sequence; 2] {
    use crate::event::{Body, Transport};
    let datagrams = events.iter().any(|e| match &e.body {
        Body::CallStart(start) => start.call == crate::event::CallName::Socket && start.args.is_datagram(),
        Body::Packet(packet) => packet.transport == Transport::Udp,
        _ => false,
    });
    if datagrams {
        connectionless()
    } else {
        connection_oriented()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_numbers_five_steps_in_order_with_unique_ids() {
        for seq in connection_oriented() {
            let numbers: Vec<u8> = seq.steps.iter().filter_map(|s| s.number).collect();
            assert_eq!(numbers, [1, 2, 3, 4, 5], "{}", seq.id);
            let mut ids: Vec<&str> = seq.steps.iter().map(|s| s.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), seq.steps.len(), "{}: step ids repeat", seq.id);
            assert!(seq.steps.iter().all(|s| !s.evidence.is_empty()), "{}: a step without evidence", seq.id);
        }
    }

    #[test]
    fn connectionless_sides_number_their_steps_and_never_listen_accept_or_connect() {
        for seq in connectionless() {
            let numbers: Vec<u8> = seq.steps.iter().filter_map(|s| s.number).collect();
            assert_eq!(numbers, [1, 2, 3, 4], "{}", seq.id);
            let calls = seq.steps.iter().flat_map(|s| s.evidence).filter_map(|e| match e {
                Evidence::Call { call, .. } | Evidence::NewSocket { call, .. } | Evidence::ServerAddress { call, .. } => Some(*call),
                _ => None,
            });
            for call in calls {
                assert!(!matches!(call, Verb::Listen | Verb::Accept | Verb::Connect), "{}: {call}", seq.id);
            }
        }
    }

    #[test]
    fn bind_comes_between_making_the_socket_and_listening() {
        let ids: Vec<&str> = PASSIVE_OPEN.steps.iter().map(|s| s.id).collect();
        assert_eq!(ids[..3], ["create", "bind", "listen"]);
        assert_eq!(PASSIVE_OPEN.steps[1].number, None);
    }

    #[test]
    fn serializes_for_the_book() {
        let json = serde_json::to_value(connection_oriented()).unwrap();
        assert_eq!(json[0]["role"], "server");
        let connect = &json[1]["steps"][2];
        assert_eq!(connect["id"], "connect");
        assert_eq!(
            connect["evidence"][3],
            serde_json::json!({"lens": "packet", "flags": "SYN|ACK", "from": "server", "data": false, "timing": {"during": "connect"}})
        );
        assert_eq!(json[0]["steps"][1]["number"], serde_json::Value::Null);
        assert_eq!(json[0]["steps"][2]["evidence"][1]["to"], "LISTEN");
    }
}
