//! The few header fields a connection summary needs, read in place from a frame: addresses,
//! ports, TCP flags, sequence numbers and the payload's length. No allocation, no options,
//! no preview: [`super::decode::decode_frame`] builds the full [`crate::event::Packet`] when
//! a trace is wanted; this is for summarizing millions of packets (`trace import`), at a few
//! nanoseconds each.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::decode::LinkType;
use crate::event::Transport;

/// One end of a flow: an IPv4 address is kept in the low 32 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    pub ip: u128,
    pub port: u16,
    pub v6: bool,
}

impl fmt::Display for Addr {
    /// `1.2.3.4:80` or `[::1]:80`, padded as asked; an IPv4 address is written by hand, as a
    /// summary of a large capture prints hundreds of thousands of them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            return f.pad(&self.socket_addr().to_string());
        }
        let mut buf = [0u8; 21];
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            buf[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
        };
        let digits = |n: u32, put: &mut dyn FnMut(&[u8])| {
            let mut tmp = [0u8; 5];
            let mut i = tmp.len();
            let mut n = n;
            loop {
                i -= 1;
                tmp[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            put(&tmp[i..]);
        };
        for (i, octet) in (self.ip as u32).to_be_bytes().into_iter().enumerate() {
            if i > 0 {
                put(b".");
            }
            digits(u32::from(octet), &mut put);
        }
        put(b":");
        digits(u32::from(self.port), &mut put);
        f.pad(std::str::from_utf8(&buf[..len]).unwrap_or_default())
    }
}

impl Addr {
    pub fn socket_addr(self) -> SocketAddr {
        let ip = if self.v6 { IpAddr::V6(Ipv6Addr::from(self.ip)) } else { IpAddr::V4(Ipv4Addr::from(self.ip as u32)) };
        SocketAddr::new(ip, self.port)
    }
}

/// What one TCP or UDP packet says, as far as a summary needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peek {
    pub transport: Transport,
    pub src: Addr,
    pub dst: Addr,
    /// The TCP flags byte (0 for UDP).
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    /// The payload's length on the wire (by the IP and UDP length fields).
    pub len: u32,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86dd;
const TCP: u8 = 6;
const UDP: u8 = 17;

/// Why a frame gave no [`Peek`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// Another protocol, or an IP fragment: not a TCP or UDP header to read.
    Other,
    /// An IP packet whose captured bytes end before its IP header does, or, for TCP and UDP,
    /// before their header does: the capture's snap length cut it.
    Cut,
}

/// Reads a frame's TCP or UDP headers, or says why it did not: another protocol (or an IP
/// fragment), or a TCP or UDP packet cut short (`trace import` tells a capture with a small
/// snap length from one of ARP).
pub fn peek_or_skip(frame: &[u8], link: LinkType) -> Result<Peek, Skipped> {
    use Skipped::{Cut, Other};
    let (mut ether_type, mut at) = match link {
        LinkType::Ethernet => (be16(frame.get(..14).ok_or(Other)?, 12), 14),
        LinkType::LinuxSll => (be16(frame.get(..16).ok_or(Other)?, 14), 16),
        LinkType::LinuxSll2 => (be16(frame.get(..20).ok_or(Other)?, 0), 20),
        LinkType::Null => {
            let h = frame.get(..4).ok_or(Other)?;
            // The family is in the capturing host's byte order (see decode.rs).
            let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let family = if le < 0x100 { le } else { le.swap_bytes() };
            match family {
                2 => (IPV4, 4),
                10 | 24 | 28 | 30 => (IPV6, 4),
                _ => return Err(Other),
            }
        }
        LinkType::RawIp => match frame.first().ok_or(Other)? >> 4 {
            4 => (IPV4, 0),
            6 => (IPV6, 0),
            _ => return Err(Other),
        },
    };
    // IEEE 802.1Q/802.1ad VLAN tags.
    while matches!(ether_type, 0x8100 | 0x88a8 | 0x9100) {
        ether_type = be16(frame.get(at..at + 4).ok_or(Other)?, 2);
        at += 4;
    }
    let (src_ip, dst_ip, v6, proto, transport_at, ip_payload) = match ether_type {
        IPV4 => {
            let ip = frame.get(at..at + 20).ok_or(Cut)?;
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            // RFC 791 §3.1: "more fragments" or a fragment offset: no whole transport header.
            if ip[0] >> 4 != 4 || ihl < 20 || be16(ip, 6) & 0x3fff != 0 {
                return Err(Other);
            }
            let total = usize::from(be16(ip, 2));
            // A total length of 0 comes from segmentation offload: the captured bytes tell.
            let payload = if total == 0 { frame.len().saturating_sub(at + ihl) } else { total.saturating_sub(ihl) };
            (u128::from(be32(ip, 12)), u128::from(be32(ip, 16)), false, ip[9], at + ihl, payload)
        }
        IPV6 => {
            let ip = frame.get(at..at + 40).ok_or(Cut)?;
            let src = u128::from_be_bytes(ip[8..24].try_into().map_err(|_| Other)?);
            let dst = u128::from_be_bytes(ip[24..40].try_into().map_err(|_| Other)?);
            let mut payload = usize::from(be16(ip, 4));
            let (mut next, mut here) = (ip[6], at + 40);
            // RFC 8200 §4: hop-by-hop, routing and destination options precede the transport
            // header, each with its length in 8-byte units; a fragment header means no whole one.
            while matches!(next, 0 | 43 | 60) {
                let ext = frame.get(here..here + 2).ok_or(Cut)?;
                let len = (usize::from(ext[1]) + 1) * 8;
                next = ext[0];
                here += len;
                payload = payload.saturating_sub(len);
            }
            (src, dst, true, next, here, payload)
        }
        _ => return Err(Other),
    };
    match proto {
        TCP => {
            let tcp = frame.get(transport_at..transport_at + 20).ok_or(Cut)?;
            let header = usize::from(tcp[12] >> 4) * 4;
            Ok(Peek {
                transport: Transport::Tcp,
                src: Addr { ip: src_ip, port: be16(tcp, 0), v6 },
                dst: Addr { ip: dst_ip, port: be16(tcp, 2), v6 },
                flags: tcp[13],
                seq: be32(tcp, 4),
                ack: be32(tcp, 8),
                len: ip_payload.saturating_sub(header) as u32,
            })
        }
        UDP => {
            let udp = frame.get(transport_at..transport_at + 8).ok_or(Cut)?;
            Ok(Peek {
                transport: Transport::Udp,
                src: Addr { ip: src_ip, port: be16(udp, 0), v6 },
                dst: Addr { ip: dst_ip, port: be16(udp, 2), v6 },
                flags: 0,
                seq: 0,
                ack: 0,
                // RFC 768: the length counts the 8-byte header.
                len: u32::from(be16(udp, 4)).saturating_sub(8),
            })
        }
        _ => Err(Other),
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use crate::wire::decode::decode_frame;
    use etherparse::PacketBuilder;

    #[test]
    fn tcp_over_each_link__agrees_with_the_full_decoder() {
        let mut eth = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
            .tcp(40000, 8080, 7, 100)
            .ack(9)
            .psh()
            .write(&mut eth, b"hello")
            .expect("builds");
        let ip = &eth[14..];
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
        sll2.extend_from_slice(ip);
        let mut null = 2u32.to_be_bytes().to_vec();
        null.extend_from_slice(ip);
        for (link, frame) in [(LinkType::Ethernet, &eth[..]), (LinkType::LinuxSll2, &sll2[..]), (LinkType::Null, &null[..])] {
            let full = decode_frame(frame, link).expect("decodes").expect("tcp");
            let p = peek_or_skip(frame, link).expect("peeks");
            assert_eq!((p.src.socket_addr(), p.dst.socket_addr()), (full.src, full.dst), "{link:?}");
            assert_eq!((p.src.to_string(), format!("{:>17}", p.dst)), ("127.0.0.1:40000".to_string(), "   127.0.0.2:8080".to_string()));
            let tcp = full.tcp.expect("tcp");
            assert_eq!((p.flags, p.seq, p.ack, p.len), (tcp.flags.0, tcp.seq, tcp.ack, full.len), "{link:?}");
        }
    }

    #[test]
    fn udp_over_ipv6__ports_and_length() {
        let mut out = Vec::new();
        let lo = Ipv6Addr::LOCALHOST.octets();
        PacketBuilder::ethernet2([0; 6], [0; 6]).ipv6(lo, lo, 64).udp(5353, 53).write(&mut out, b"query").expect("builds");
        let p = peek_or_skip(&out, LinkType::Ethernet).expect("peeks");
        assert_eq!((p.transport, p.len), (Transport::Udp, 5));
        assert_eq!(p.dst.socket_addr(), "[::1]:53".parse().expect("addr"));
        assert_eq!(p.dst.to_string(), "[::1]:53");
    }

    #[test]
    fn cut_short_or_fragment__is_none() {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64).tcp(1, 2, 3, 4).write(&mut out, &[]).expect("builds");
        assert_eq!(peek_or_skip(&out[..14 + 20 + 10], LinkType::Ethernet).ok(), None);
        out[14 + 6] = 0x20;
        assert_eq!(peek_or_skip(&out, LinkType::Ethernet).ok(), None);
    }

    #[test]
    fn cut_by_a_44_byte_snap_length__is_cut__arp_is_other() {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64).tcp(1, 2, 3, 4).write(&mut out, &[]).expect("builds");
        assert_eq!(peek_or_skip(&out[..44], LinkType::Ethernet), Err(Skipped::Cut), "10 bytes of a 20-byte TCP header");
        assert_eq!(peek_or_skip(&out[..14 + 12], LinkType::Ethernet), Err(Skipped::Cut), "half an IPv4 header");
        let mut udp = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64).udp(1, 2).write(&mut udp, b"x").expect("builds");
        assert_eq!(peek_or_skip(&udp[..14 + 20 + 4], LinkType::Ethernet), Err(Skipped::Cut));
        let mut arp = out.clone();
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(peek_or_skip(&arp, LinkType::Ethernet), Err(Skipped::Other));
    }
}
