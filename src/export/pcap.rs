//! The trace's packets as a pcap file (nanosecond timestamps, Ethernet link type), readable by
//! tshark, tcpdump and Wireshark.
//!
//! A trace keeps each packet's headers as decoded and at most [`Preview::MAX`] bytes of its
//! payload, so the frames are rebuilt from those: headers and options as seen, the payload
//! cut to the preview. Each record says so honestly, as a capture with a short snap length
//! does: its captured length is what was kept, its original length what crossed the wire.
//! Timestamps are the trace clock's (CLOCK_MONOTONIC for live traces), not wall-clock time.

use std::borrow::Borrow;
use std::io::{self, Write};
use std::net::SocketAddr;

use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, Ethernet2Header, PacketBuilder, TcpHeader, TcpOptionElement};

use crate::event::{mac_bytes, Arp, ArpOp, Body, Event, Packet, Preview};
use crate::tcp::flags::TcpFlags;

const LINKTYPE_ETHERNET: u32 = 1;
const SNAPLEN: u32 = 65_535;
const ETHERNET: usize = 14;

/// Writes every packet of `events` to `out`, as they come; returns how many.
pub fn write_pcap(events: impl IntoIterator<Item = impl Borrow<Event>>, out: &mut impl Write) -> io::Result<u64> {
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&crate::import::pcap::PCAP_NS.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&0i32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&SNAPLEN.to_le_bytes());
    header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    out.write_all(&header)?;
    let mut count = 0;
    let mut frame = Vec::with_capacity(256);
    for event in events {
        let event = event.borrow();
        let Body::Packet(packet) = &event.body else { continue };
        frame.clear();
        let Some(headers) = build(packet, &mut frame)? else { continue };
        let original = (headers + packet.len as usize) as u32;
        let mut record = Vec::with_capacity(16);
        record.extend_from_slice(&((event.t / 1_000_000_000) as u32).to_le_bytes());
        record.extend_from_slice(&((event.t % 1_000_000_000) as u32).to_le_bytes());
        record.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        record.extend_from_slice(&original.to_le_bytes());
        out.write_all(&record)?;
        out.write_all(&frame)?;
        count += 1;
    }
    out.flush()?;
    Ok(count)
}

/// Builds the frame into `frame`; returns the length of its headers (`None` for a packet
/// whose address families differ, which no wire carries).
fn build(packet: &Packet, frame: &mut Vec<u8>) -> io::Result<Option<usize>> {
    let payload = packet.payload.as_ref().map(Preview::bytes).unwrap_or_default();
    // A packet of a real link keeps its Ethernet addresses; `lo`'s are zeros.
    let eth = packet.eth.as_ref().map(|e| (mac_bytes(&e.src), mac_bytes(&e.dst)));
    let (src_mac, dst_mac) = match eth {
        Some((Some(src), Some(dst))) => (src, dst),
        _ => ([0; 6], [0; 6]),
    };
    if let Some(arp) = &packet.arp {
        return arp_frame(packet, arp, (src_mac, dst_mac), frame);
    }
    let link = PacketBuilder::ethernet2(src_mac, dst_mac);
    let ip = match (packet.src, packet.dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => link.ipv4(s.ip().octets(), d.ip().octets(), 64),
        (SocketAddr::V6(s), SocketAddr::V6(d)) => link.ipv6(s.ip().octets(), d.ip().octets(), 64),
        _ => return Ok(None),
    };
    let headers = match &packet.tcp {
        Some(tcp) => {
            let mut header = TcpHeader::new(packet.src.port(), packet.dst.port(), tcp.seq, tcp.win);
            header.acknowledgment_number = tcp.ack;
            let f = tcp.flags;
            (header.fin, header.syn, header.rst, header.psh) =
                (f.contains(TcpFlags::FIN), f.contains(TcpFlags::SYN), f.contains(TcpFlags::RST), f.contains(TcpFlags::PSH));
            (header.ack, header.urg, header.ece, header.cwr) =
                (f.contains(TcpFlags::ACK), f.contains(TcpFlags::URG), f.contains(TcpFlags::ECE), f.contains(TcpFlags::CWR));
            let o = &tcp.options;
            let mut options = Vec::new();
            options.extend(o.mss.map(TcpOptionElement::MaximumSegmentSize));
            if o.sack_ok {
                options.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
            }
            options.extend(o.ts.map(|(val, ecr)| TcpOptionElement::Timestamp(val, ecr)));
            options.extend(o.wscale.map(TcpOptionElement::WindowScale));
            if let Some((first, rest)) = o.sack.split_first() {
                let mut more = [None; 3];
                for (slot, block) in more.iter_mut().zip(rest) {
                    *slot = Some(*block);
                }
                options.push(TcpOptionElement::SelectiveAcknowledgement(*first, more));
            }
            header.set_options(&options).map_err(io::Error::other)?;
            let builder = ip.tcp_header(header);
            let headers = builder.size(0);
            builder.write(frame, &payload).map_err(io::Error::other)?;
            headers
        }
        None => {
            let builder = ip.udp(packet.src.port(), packet.dst.port());
            let headers = builder.size(0);
            builder.write(frame, &payload).map_err(io::Error::other)?;
            headers
        }
    };
    // The builders fill in the lengths of what they were given: the IP total length must say
    // what crossed the wire, or tshark would call the segment malformed.
    fix_ip_length(frame, packet.len as usize - payload.len().min(packet.len as usize));
    Ok(Some(headers))
}

/// An ARP packet's frame (RFC 826): its addresses are all the trace keeps of it.
fn arp_frame(packet: &Packet, arp: &Arp, (src_mac, dst_mac): ([u8; 6], [u8; 6]), frame: &mut Vec<u8>) -> io::Result<Option<usize>> {
    let (SocketAddr::V4(sender), SocketAddr::V4(target)) = (packet.src, packet.dst) else { return Ok(None) };
    let (Some(sender_mac), Some(target_mac)) = (mac_bytes(&arp.sender_mac), mac_bytes(&arp.target_mac)) else { return Ok(None) };
    let op = match arp.op {
        ArpOp::Request => ArpOperation::REQUEST,
        ArpOp::Reply => ArpOperation::REPLY,
    };
    let body = ArpPacket::new(ArpHardwareId::ETHERNET, EtherType::IPV4, op, &sender_mac, &sender.ip().octets(), &target_mac, &target.ip().octets())
        .map_err(io::Error::other)?;
    frame.extend_from_slice(&Ethernet2Header { source: src_mac, destination: dst_mac, ether_type: EtherType::ARP }.to_bytes());
    frame.extend_from_slice(&body.to_bytes());
    Ok(Some(frame.len()))
}

/// Adds the payload bytes the trace did not keep to the IP header's length field.
fn fix_ip_length(frame: &mut [u8], missing: usize) {
    if missing == 0 || frame.len() < ETHERNET + 8 {
        return;
    }
    let (at, version) = (ETHERNET, frame[ETHERNET] >> 4);
    let field = if version == 4 { at + 2 } else { at + 4 };
    let length = u16::from_be_bytes([frame[field], frame[field + 1]]) as usize + missing;
    frame[field..field + 2].copy_from_slice(&(length.min(u16::MAX as usize) as u16).to_be_bytes());
    if version == 4 {
        // The IPv4 header checksum covers the length field.
        frame[at + 10..at + 12].copy_from_slice(&[0, 0]);
        let ihl = usize::from(frame[at] & 0x0f) * 4;
        let mut sum = 0u32;
        for pair in frame[at..at + ihl].chunks(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        frame[at + 10..at + 12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    }
}
