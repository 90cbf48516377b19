//! Lost and resent packets, as the ladder draws them: a packet a fault injector dropped
//! stops short of its receiver, and a segment sent again is marked as a retransmission.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::event::{Body, Event, SockId};
use crate::tcp::flags::TcpFlags;
use crate::tcp::segment::{opens_anew, seq_lt};

/// Each direction's sequence space so far, to tell a segment sent again from a new one.
#[derive(Default)]
pub(super) struct Resent {
    /// Per (source, destination): the ISN of the last SYN, and the end of the sequence space
    /// sent so far.
    sent: HashMap<(SocketAddr, SocketAddr), (u32, u32)>,
    /// Sockets the kernel reported retransmitting, whose next segment is the resent one.
    noted: Vec<SockId>,
}

impl Resent {
    /// Whether `event`, a packet, is a retransmission: the kernel said so just before, or it
    /// carries sequence space (SYN, FIN or data) that its direction already sent.
    pub(super) fn follow(&mut self, event: &Event) -> bool {
        match &event.body {
            Body::Kernel(crate::event::KernelNote::Retransmit { .. }) => {
                self.noted.extend(event.socket.clone());
                false
            }
            Body::Packet(packet) => {
                let noted = event.socket.as_ref().and_then(|s| self.noted.iter().position(|n| n == s)).map(|k| self.noted.swap_remove(k)).is_some();
                let Some(tcp) = &packet.tcp else { return noted };
                let syn = tcp.flags.contains(TcpFlags::SYN);
                let fin = tcp.flags.contains(TcpFlags::FIN);
                let space = packet.len.wrapping_add(u32::from(syn)).wrapping_add(u32::from(fin));
                if space == 0 {
                    return noted;
                }
                let end = tcp.seq.wrapping_add(space);
                let key = (packet.src, packet.dst);
                let again = match self.sent.get_mut(&key) {
                    Some((isn, _)) if syn && opens_anew(Some(*isn), tcp.seq) => {
                        self.sent.insert(key, (tcp.seq, end));
                        false
                    }
                    Some((_, sent)) => {
                        let again = seq_lt(tcp.seq, *sent);
                        if seq_lt(*sent, end) {
                            *sent = end;
                        }
                        again
                    }
                    None => {
                        self.sent.insert(key, (if syn { tcp.seq } else { tcp.seq.wrapping_sub(1) }, end));
                        false
                    }
                };
                noted || again
            }
            _ => false,
        }
    }
}
