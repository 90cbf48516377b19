//! The scenarios `trace simulate` knows: one story each about how a socket lives and dies.

use super::net::Loss;
use super::programs::Closing;
use crate::fault::Lost;

/// One scenario: its name on the command line and what it shows, in one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub(super) stage: Stage,
}

/// How a scenario is staged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// The TCP echo client and server.
    Tcp { closing: Closing, losses: &'static [Loss] },
    /// The TCP echo client alone: nobody listens on the server's port.
    NoServer,
    /// The echo over UDP.
    Udp,
    /// Two peers, each the echo server on its own port and a client of the other's.
    Peers,
}

/// The first packet of a kind: what `trace echo --drop KIND` loses, and its `lost-KIND` story.
const fn first(packet: Lost) -> Loss {
    Loss { packet, nth: 1 }
}

pub(super) static SCENARIOS: [Scenario; 12] = [
    Scenario {
        name: "echo",
        about: "the line-echo client and server; the client closes first, so TIME-WAIT lands on the client",
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[] },
    },
    Scenario { name: "refused", about: "connect to a port nobody listens on: SYN, RST|ACK, and connect() fails with ECONNREFUSED", stage: Stage::NoServer },
    Scenario {
        name: "server-closes-first",
        about: "the server closes after its echoes, so TIME-WAIT lands on the server's accepted socket",
        stage: Stage::Tcp { closing: Closing::ServerFirst, losses: &[] },
    },
    Scenario {
        name: "half-close",
        about:
            "the client sends every line, then shutdown(SHUT_WR); the server answers after the end of stream, the client still reads, then the server closes",
        stage: Stage::Tcp { closing: Closing::HalfClose, losses: &[] },
    },
    Scenario {
        name: "simultaneous-close",
        about: "both sides close at the same instant: the FINs cross, both pass through CLOSING to TIME-WAIT",
        stage: Stage::Tcp { closing: Closing::Together, losses: &[] },
    },
    Scenario {
        name: "lost-syn",
        about: "the first SYN is lost; connect() sends it again after the 1 s initial RTO (a second loss would wait 2 s more)",
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[first(Lost::Syn)] },
    },
    Scenario {
        name: "lost-syn-ack",
        about: "the first SYN|ACK is lost; after 1 s the client repeats its SYN and the server its SYN|ACK",
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[first(Lost::SynAck)] },
    },
    Scenario {
        name: "lost-ack",
        about: "the client's ACK that ends the handshake is lost; its first data segment carries the same ACK, and the server's socket is born from that",
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[first(Lost::Ack)] },
    },
    Scenario {
        name: "lost-data",
        about: "the client's first line is lost; it is sent again when the retransmission timer runs out, and the echo follows",
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[first(Lost::Data)] },
    },
    Scenario {
        name: "lost-fin",
        about: "the client's FIN is lost; the client stays in FIN-WAIT-1 until its timer sends the FIN again",
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[first(Lost::Fin)] },
    },
    Scenario {
        name: "p2p",
        about: "two peers, each listening and connecting to the other: each program is the server on one connection and the client on the other",
        stage: Stage::Peers,
    },
    Scenario { name: "udp-echo", about: "the same echo over UDP: socket, bind, sendto/recvfrom; datagrams, no handshake, no states", stage: Stage::Udp },
];
