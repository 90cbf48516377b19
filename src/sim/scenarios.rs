//! The scenarios `trace simulate` knows: one story each about how a socket lives and dies.

use super::net::Loss;
use super::programs::Closing;
use crate::wire::flags::TcpFlags;

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
}

const FIRST_SYN: Loss = Loss { flags: TcpFlags::SYN, nth: 1 };
const FIRST_SYN_ACK: Loss = Loss { flags: TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0), nth: 1 };

pub(super) static SCENARIOS: [Scenario; 8] = [
    Scenario {
        name: "echo",
        about: "the line-echo client and server; the client closes first, so TIME-WAIT lands on the client",
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[] },
    },
    Scenario {
        name: "refused",
        about: "connect to a port nobody listens on: SYN, RST|ACK, and connect() fails with ECONNREFUSED",
        stage: Stage::NoServer,
    },
    Scenario {
        name: "server-closes-first",
        about: "the server closes after its echoes, so TIME-WAIT lands on the server's accepted socket",
        stage: Stage::Tcp { closing: Closing::ServerFirst, losses: &[] },
    },
    Scenario {
        name: "half-close",
        about: "the client sends every line, then shutdown(SHUT_WR); the server answers after the end of stream, the client still reads, then the server closes",
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
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[FIRST_SYN] },
    },
    Scenario {
        name: "lost-syn-ack",
        about: "the first SYN|ACK is lost; after 1 s the client repeats its SYN and the server its SYN|ACK",
        stage: Stage::Tcp { closing: Closing::ClientFirst, losses: &[FIRST_SYN_ACK] },
    },
    Scenario {
        name: "udp-echo",
        about: "the same echo over UDP: socket, bind, sendto/recvfrom; datagrams, no handshake, no states",
        stage: Stage::Udp,
    },
];
