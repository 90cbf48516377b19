//! One TCP or UDP conversation of a capture, summarized as its packets go by: who opened it,
//! the handshake's round trip, who closed first, resets and retransmissions. A few dozen
//! bytes per conversation, whatever its length.

use std::fmt;

use crate::event::Transport;
use crate::tcp::flags::TcpFlags;
use crate::tcp::segment::seq_lt;
use crate::wire::peek::{Addr, Peek};

/// Which end sent a packet: the client (the side that sent the first SYN) or the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Client = 0,
    Server = 1,
}

impl End {
    pub fn other(self) -> End {
        match self {
            End::Client => End::Server,
            End::Server => End::Client,
        }
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            End::Client => "client",
            End::Server => "server",
        })
    }
}

/// How a conversation ended, as far as the capture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Both sides sent a FIN and the last one was acknowledged; `first` sent its FIN first.
    Closed { first: End },
    /// A reset ended it; `refused` when it answered the SYN (nothing listened on the port).
    Reset { by: End, refused: bool },
    /// Only one side closed before the capture ended.
    HalfClosed { by: End },
    /// Still open when the capture ended (or when it was put out of the table to bound memory).
    Open,
    /// UDP has no connection to end.
    Datagrams,
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Closed { first } => write!(f, "{first} closed first"),
            Ending::Reset { by: End::Server, refused: true } => f.write_str("refused (reset)"),
            Ending::Reset { by, .. } => write!(f, "reset by {by}"),
            Ending::HalfClosed { by } => write!(f, "{by} closed, other open"),
            Ending::Open => f.write_str("open"),
            Ending::Datagrams => f.write_str("-"),
        }
    }
}

/// The summary of one conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// 1, 2, … in order of each conversation's first packet.
    pub number: u64,
    pub transport: Transport,
    pub client: Addr,
    pub server: Addr,
    /// No SYN was seen (the capture began mid-stream): the roles are a guess, the lower
    /// port taken as the server's.
    pub mid_stream: bool,
    pub first_t: u64,
    pub last_t: u64,
    /// Per end (client, server): packets sent, payload bytes sent, retransmissions.
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub retransmissions: [u32; 2],
    /// When the client's SYN, the server's SYN|ACK and the client's ACK of it were seen.
    syn: Option<(u64, u32)>,
    syn_ack: Option<u64>,
    established: Option<u64>,
    /// Per end: the sequence number just past the FIN it sent.
    fin: [Option<u32>; 2],
    first_fin: Option<End>,
    reset: Option<End>,
    /// Per end: the highest sequence number sent so far, past its data (None until seen).
    next_seq: [Option<u32>; 2],
    finished: bool,
}

impl Conversation {
    /// A conversation begun by `p`: its sender is the client when it is a SYN, or for UDP;
    /// otherwise the lower port is taken to be the server's.
    pub fn new(number: u64, t: u64, p: &Peek) -> Conversation {
        let syn = p.flags & TcpFlags::SYN.0 != 0;
        let ack = p.flags & TcpFlags::ACK.0 != 0;
        let sender_is_client = match p.transport {
            Transport::Tcp if syn => !ack,
            Transport::Tcp => p.src.port > p.dst.port,
            // A datagram's first sender is the client.
            Transport::Udp | Transport::Arp => true,
        };
        let (client, server) = if sender_is_client { (p.src, p.dst) } else { (p.dst, p.src) };
        Conversation {
            number,
            transport: p.transport,
            client,
            server,
            mid_stream: p.transport == Transport::Tcp && !syn,
            first_t: t,
            last_t: t,
            packets: [0; 2],
            bytes: [0; 2],
            retransmissions: [0; 2],
            syn: None,
            syn_ack: None,
            established: None,
            fin: [None; 2],
            first_fin: None,
            reset: None,
            next_seq: [None; 2],
            finished: false,
        }
    }

    /// Which end sent `p`.
    pub fn end_of(&self, p: &Peek) -> End {
        if p.src == self.client {
            End::Client
        } else {
            End::Server
        }
    }

    /// Whether a SYN on the same ports opens a new connection rather than repeating this one's
    /// (RFC 9293 §3.4: a new incarnation of the connection). A repeated SYN has the same ISN.
    pub fn is_reused_by(&self, p: &Peek) -> bool {
        let syn_only = p.flags & (TcpFlags::SYN.0 | TcpFlags::ACK.0) == TcpFlags::SYN.0;
        syn_only && self.transport == Transport::Tcp && self.syn.is_none_or(|(_, isn)| isn != p.seq)
    }

    /// Counts one packet in; answers whether the conversation is now over (both FINs
    /// acknowledged, or a reset).
    pub fn add(&mut self, t: u64, p: &Peek) -> bool {
        let end = self.end_of(p);
        let e = end as usize;
        self.last_t = self.last_t.max(t);
        self.packets[e] += 1;
        self.bytes[e] += u64::from(p.len);
        if self.transport != Transport::Tcp {
            return false;
        }
        let flags = TcpFlags(p.flags);
        let (syn, fin) = (flags.contains(TcpFlags::SYN), flags.contains(TcpFlags::FIN));
        // RFC 9293 §3.4: SYN and FIN each take one sequence number.
        let seq_end = p.seq.wrapping_add(p.len).wrapping_add(u32::from(syn) + u32::from(fin));
        if seq_end != p.seq {
            match self.next_seq[e] {
                // Nothing new: all of it was sent before.
                Some(next) if !seq_lt(next, seq_end) => self.retransmissions[e] += 1,
                _ => self.next_seq[e] = Some(seq_end),
            }
        }
        if syn && !flags.contains(TcpFlags::ACK) && end == End::Client && self.syn.is_none() {
            self.syn = Some((t, p.seq));
        }
        if syn && flags.contains(TcpFlags::ACK) && end == End::Server && self.syn_ack.is_none() {
            self.syn_ack = Some(t);
        }
        if !syn && flags.contains(TcpFlags::ACK) && end == End::Client && self.syn_ack.is_some() && self.established.is_none() {
            self.established = Some(t);
        }
        if flags.contains(TcpFlags::RST) && self.reset.is_none() {
            self.reset = Some(end);
            self.finished = true;
        }
        if fin && self.fin[e].is_none() {
            self.fin[e] = Some(seq_end);
            self.first_fin.get_or_insert(end);
        }
        // The connection is over when the second FIN is acknowledged: by the side that
        // closed first, once both have.
        if let (Some(_), Some(peer_fin)) = (self.fin[e], self.fin[end.other() as usize]) {
            if self.first_fin == Some(end) && flags.contains(TcpFlags::ACK) && !seq_lt(p.ack, peer_fin) {
                self.finished = true;
            }
        }
        self.finished
    }

    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The handshake's round trip as seen where the capture was made: from the SYN to the
    /// ACK of the SYN|ACK (what Wireshark calls the initial RTT).
    pub fn handshake_rtt(&self) -> Option<u64> {
        Some(self.established?.saturating_sub(self.syn?.0))
    }

    pub fn ending(&self) -> Ending {
        if self.transport != Transport::Tcp {
            return Ending::Datagrams;
        }
        if let Some(by) = self.reset {
            return Ending::Reset { by, refused: self.syn_ack.is_none() && self.syn.is_some() };
        }
        match (self.first_fin, self.fin[0].is_some() && self.fin[1].is_some()) {
            (Some(first), true) => Ending::Closed { first },
            (Some(by), false) => Ending::HalfClosed { by },
            (None, _) => Ending::Open,
        }
    }
}
