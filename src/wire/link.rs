//! Frames of a real Ethernet link (the veth between two hosts): decoded as on `lo`, plus what
//! `lo` does not have: every packet's Ethernet addresses, and ARP (RFC 826), the exchange
//! that finds a neighbour's MAC address before the first IP packet to it can leave.

use etherparse::{ArpHardwareId, ArpOperation, ArpPacketSlice, EtherType, Ethernet2Slice};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::event::{mac_text, Arp, ArpOp, Ethernet, Packet, Transport};
use crate::wire::decode::{decode_frame, DecodeError, LinkType};

/// Decodes one Ethernet frame of a real link. `Ok(None)` for what is neither TCP/UDP nor
/// IPv4-over-Ethernet ARP (IPv6 neighbour discovery, say).
pub fn decode_link_frame(frame: &[u8]) -> Result<Option<Packet>, DecodeError> {
    let eth = Ethernet2Slice::from_slice_without_fcs(frame).map_err(DecodeError::truncated(0))?;
    let ethernet = Ethernet { src: mac_text(&eth.source()), dst: mac_text(&eth.destination()) };
    let packet = if eth.ether_type() == EtherType::ARP { arp_packet(eth.payload_slice(), eth.header_len())? } else { decode_frame(frame, LinkType::Ethernet)? };
    Ok(packet.map(|p| Packet { eth: Some(ethernet.into()), ..p }))
}

/// An ARP packet that starts `at` bytes into the frame, as a [`Packet`] whose `src` and `dst`
/// are the sender's and target's IP addresses (port 0).
fn arp_packet(bytes: &[u8], at: usize) -> Result<Option<Packet>, DecodeError> {
    let arp = ArpPacketSlice::from_slice(bytes).map_err(DecodeError::truncated(at))?;
    // Only ARP for IPv4 over Ethernet is a TCP/IP host's (RFC 826 also serves other links).
    let ethernet_ipv4 = arp.hw_addr_type() == ArpHardwareId::ETHERNET && arp.proto_addr_type() == EtherType::IPV4;
    let ip = |b: &[u8]| <[u8; 4]>::try_from(b).ok().map(|b| IpAddr::V4(Ipv4Addr::from(b)));
    let (Some(sender), Some(target)) = (ip(arp.sender_protocol_addr()), ip(arp.target_protocol_addr())) else {
        return Ok(None);
    };
    let op = match arp.operation() {
        ArpOperation::REQUEST => ArpOp::Request,
        ArpOperation::REPLY => ArpOp::Reply,
        _ => return Ok(None),
    };
    if !ethernet_ipv4 || arp.hw_addr_size() != 6 {
        return Ok(None);
    }
    Ok(Some(Packet {
        transport: Transport::Arp,
        src: SocketAddr::new(sender, 0),
        dst: SocketAddr::new(target, 0),
        to: None,
        tcp: None,
        len: 0,
        payload: None,
        eth: None,
        arp: Some(Arp { op, sender_mac: mac_text(arp.sender_hw_addr()), target_mac: mac_text(arp.target_hw_addr()) }.into()),
        dropped: None,
    }))
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use etherparse::{ArpPacket, EtherType, Ethernet2Header, PacketBuilder};

    const CLIENT: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const SERVER: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn arp_frame(op: ArpOperation, dst: [u8; 6], sender: ([u8; 6], [u8; 4]), target: ([u8; 6], [u8; 4])) -> Vec<u8> {
        let arp = ArpPacket::new(ArpHardwareId::ETHERNET, EtherType::IPV4, op, &sender.0, &sender.1, &target.0, &target.1).expect("valid ARP");
        let mut out = Ethernet2Header { source: sender.0, destination: dst, ether_type: EtherType::ARP }.to_bytes().to_vec();
        out.extend_from_slice(&arp.to_bytes());
        out
    }

    #[test]
    fn arp_request__sender_and_target_with_the_broadcast_destination() {
        let frame = arp_frame(ArpOperation::REQUEST, [0xff; 6], (CLIENT, [192, 0, 2, 1]), ([0; 6], [192, 0, 2, 2]));
        let p = decode_link_frame(&frame).expect("decodes").expect("is ARP");
        assert_eq!((p.transport, p.src.to_string(), p.dst.to_string()), (Transport::Arp, "192.0.2.1:0".into(), "192.0.2.2:0".into()));
        let arp = p.arp.expect("ARP body");
        assert_eq!((arp.op, arp.sender_mac.as_str(), arp.target_mac.as_str()), (ArpOp::Request, "02:00:00:00:00:01", "00:00:00:00:00:00"));
        assert_eq!(p.eth.as_deref(), Some(&Ethernet { src: "02:00:00:00:00:01".into(), dst: "ff:ff:ff:ff:ff:ff".into() }));
    }

    #[test]
    fn arp_reply__answers_with_the_senders_mac() {
        let frame = arp_frame(ArpOperation::REPLY, CLIENT, (SERVER, [192, 0, 2, 2]), (CLIENT, [192, 0, 2, 1]));
        let p = decode_link_frame(&frame).expect("decodes").expect("is ARP");
        assert_eq!(p.arp.map(|a| (a.op, a.sender_mac)), Some((ArpOp::Reply, "02:00:00:00:00:02".into())));
    }

    #[test]
    fn tcp_on_a_link__carries_its_ethernet_addresses() {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2(CLIENT, SERVER).ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64).tcp(40000, 7, 1, 100).syn().write(&mut frame, &[]).expect("builds");
        let p = decode_link_frame(&frame).expect("decodes").expect("is TCP");
        assert_eq!(p.transport, Transport::Tcp);
        assert_eq!(p.eth.as_deref(), Some(&Ethernet { src: "02:00:00:00:00:01".into(), dst: "02:00:00:00:00:02".into() }));
    }

    #[test]
    fn arp_cut_short__says_where() {
        let frame = arp_frame(ArpOperation::REQUEST, [0xff; 6], (CLIENT, [192, 0, 2, 1]), ([0; 6], [192, 0, 2, 2]));
        let err = decode_link_frame(&frame[..14 + 10]).expect_err("truncated");
        assert!(matches!(err, DecodeError::Truncated { offset: 14, .. }), "{err:?}");
    }
}
