//! One conversation of a capture as trace events: its packets, observed, and the TCP states
//! an RFC 9293 model of each end goes through when fed those packets, modelled.
//!
//! A capture holds no socket calls, so the model is driven by what the packets show each end
//! doing: a SYN is an active OPEN, new data a SEND, a FIN a CLOSE, a reset an ABORT (RFC 9293
//! §3.10); the packets an end receives arrive at its model (§3.10.7). The server's model is
//! born of a listening one when its SYN|ACK shows that something listened.

use std::net::SocketAddr;

use crate::event::{Actor, Body, Event, Origin, Packet, Role, SockId, StateChange};
use crate::tcp::flags::TcpFlags;
use crate::tcp::state::State;
use crate::tcp::{Config, Endpoint, Output, Segment};
use crate::timeline::RelativeNumbers;

use super::conversation::End;

/// The sockets of an imported conversation: the client's and the server's.
pub fn socket_of(end: End) -> SockId {
    SockId(match end {
        End::Client => "c1".into(),
        End::Server => "s1".into(),
    })
}

fn role_of(end: End) -> Role {
    match end {
        End::Client => Role::Client,
        End::Server => Role::Server,
    }
}

/// Builds one conversation's events, packet by packet.
pub struct ConversationEvents {
    /// The addresses of the client and the server.
    addrs: [SocketAddr; 2],
    models: [Option<Endpoint>; 2],
    /// The client's SYN, held until the server shows whether something listened.
    syn: Option<Segment>,
    numbers: RelativeNumbers,
}

/// The model of a Linux end; its ISS is adopted from the real SYN.
fn model() -> Endpoint {
    Endpoint::new(Config::linux_loopback(0))
}

impl ConversationEvents {
    pub fn new(client: SocketAddr, server: SocketAddr) -> ConversationEvents {
        ConversationEvents { addrs: [client, server], models: [None, None], syn: None, numbers: RelativeNumbers::default() }
    }

    /// The events of one packet `end` sent at `t`: the sender's modelled state changes, the
    /// packet, then the receiver's.
    pub fn packet(&mut self, t: u64, end: End, packet: Packet, out: &mut Vec<Event>) {
        let peer = end.other();
        let segment = packet.tcp.as_ref().map(|tcp| (tcp.flags, Segment::from_wire(tcp, vec![0; packet.len as usize])));
        if let Some((flags, seg)) = &segment {
            self.sent(t, end, *flags, seg, out);
        }
        let mut event = Event {
            t,
            actor: Actor::role(role_of(end)),
            socket: Some(socket_of(end)),
            origin: Origin::Observed,
            body: Body::Packet(Packet { to: Some(socket_of(peer)), ..packet }),
        };
        self.numbers.number(&mut event);
        out.push(event);
        if let Some((flags, seg)) = segment {
            self.arrives(t, peer, flags, seg, out);
        }
    }

    /// The conversation is over: a model left in TIME-WAIT leaves it after 2 MSL (RFC 9293
    /// §3.10.8), stamped then, as the simulator's models do.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        for end in [End::Client, End::Server] {
            // A delayed ACK may fall due before the TIME-WAIT deadline: a few rounds reach it.
            for _ in 0..4 {
                let Some(ep) = self.models[end as usize].as_mut().filter(|ep| ep.state() == State::TimeWait) else { break };
                let Some(at) = ep.poll_at() else { break };
                ep.timeout(at);
                self.emit(at, end, out);
            }
        }
    }

    /// What sending this segment tells of its sender's user calls.
    fn sent(&mut self, t: u64, end: End, flags: TcpFlags, seg: &Segment, out: &mut Vec<Event>) {
        let syn = flags.contains(TcpFlags::SYN);
        if syn && !flags.contains(TcpFlags::ACK) && end == End::Client && self.models[0].is_none() {
            let mut ep = model();
            let _ = ep.open_active(t);
            self.models[0] = Some(ep);
        }
        if syn && flags.contains(TcpFlags::ACK) && end == End::Server && self.models[1].is_none() {
            // Something listened: its connection socket was born of the client's SYN.
            let mut listener = model();
            let _ = listener.open_passive(t);
            let mut ep = listener.fork(0);
            if let Some(first) = self.syn.take() {
                ep.segment_arrives(t, &first);
            }
            self.models[1] = Some(ep);
        }
        let Some(ep) = self.models[end as usize].as_mut() else { return };
        if syn {
            ep.adopt_iss(seg.seq);
        }
        if flags.contains(TcpFlags::RST) {
            let _ = ep.abort(t);
        } else {
            // New data is a SEND; data sent before (a retransmission) is not.
            let data_end = seg.seq.wrapping_add(u32::from(syn)).wrapping_add(seg.payload.len() as u32);
            let new = data_end.wrapping_sub(ep.tcb().snd_nxt);
            if !seg.payload.is_empty() && new > 0 && (new as usize) <= seg.payload.len() {
                let _ = ep.send(t, &seg.payload[..new as usize]);
            }
            if flags.contains(TcpFlags::FIN) && matches!(ep.state(), State::SynReceived | State::Established | State::CloseWait) {
                let _ = ep.close(t);
            }
        }
        self.emit(t, end, out);
    }

    fn arrives(&mut self, t: u64, end: End, flags: TcpFlags, seg: Segment, out: &mut Vec<Event>) {
        match self.models[end as usize].as_mut() {
            Some(ep) => ep.segment_arrives(t, &seg),
            None => {
                if end == End::Server && flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK) {
                    self.syn = Some(seg);
                }
                return;
            }
        }
        self.emit(t, end, out);
    }

    /// The state changes of `end`'s model, as modelled events.
    fn emit(&mut self, t: u64, end: End, out: &mut Vec<Event>) {
        let Some(ep) = self.models[end as usize].as_mut() else { return };
        let (local, remote) = (self.addrs[end as usize], self.addrs[1 - end as usize]);
        for output in ep.take_output() {
            let Output::State { from, to } = output else { continue };
            out.push(Event {
                t,
                actor: Actor::role(role_of(end)),
                socket: Some(socket_of(end)),
                origin: Origin::Modelled,
                body: Body::State(StateChange { from, to, local: Some(local), remote: Some(remote), sk: None, model: None }),
            });
        }
    }
}
