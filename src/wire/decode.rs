//! One captured frame to one [`Packet`]: link header, IPv4/IPv6, TCP/UDP and the TCP options a
//! learner meets on a handshake.
//!
//! Pure and cheap: the frame is sliced in place by etherparse, laxly where lengths disagree
//! (a payload cut short by the capture's snap length is fine), and nothing is allocated
//! except the [`Packet`] itself (its payload preview, and SACK blocks when a segment has them).

use etherparse::err::packet::SliceError;
use etherparse::err::{Layer, LenError};
use etherparse::{
    EtherType, Ethernet2Slice, IpNumber, LaxIpSlice, SingleVlanSlice, TcpOptionElement, TcpOptionReadError, TcpOptionsIterator, TcpSlice, UdpSlice,
};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::event::{Packet, Preview, TcpOptions, TcpSegment, Transport};
use crate::tcp::flags::TcpFlags;

/// How a capture frames its packets: the first header of every frame. The names follow
/// pcap's link types, so that a pcap importer maps `LINKTYPE_*` onto them one to one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II (`LINKTYPE_ETHERNET`, 1). Linux's `lo` uses it, with zero MAC addresses.
    Ethernet,
    /// Linux cooked capture v1 (`LINKTYPE_LINUX_SLL`, 113): 16 bytes, protocol at offset 14.
    LinuxSll,
    /// Linux cooked capture v2 (`LINKTYPE_LINUX_SLL2`, 276): 20 bytes, protocol at offset 0.
    LinuxSll2,
    /// BSD loopback (`LINKTYPE_NULL`, 0, and `LINKTYPE_LOOP`, 108): a 4-byte address family,
    /// in the byte order of the machine that captured it.
    Null,
    /// No link header: the frame starts with the IP header (`LINKTYPE_RAW`, 101).
    RawIp,
}

impl LinkType {
    /// The pcap link type number of a pcap file or interface, if we can decode it.
    pub fn from_pcap(linktype: u32) -> Option<LinkType> {
        match linktype {
            0 | 108 => Some(LinkType::Null),
            1 => Some(LinkType::Ethernet),
            101 | 228 | 229 => Some(LinkType::RawIp),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            _ => None,
        }
    }
}

/// A frame claimed to carry TCP or UDP over IP but could not be read. Frames of other
/// protocols are not errors: [`decode_frame`] answers `Ok(None)` for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame ends before a header does.
    Truncated { layer: Layer, needed: usize, found: usize, offset: usize },
    /// A header's content is impossible (e.g. a TCP data offset below 5).
    Invalid { layer: Layer, offset: usize, error: SliceError },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { layer, needed, found, offset } => {
                write!(f, "truncated {layer} at byte {offset}: needed {needed} bytes, found {found} (the capture cut the frame short)")
            }
            DecodeError::Invalid { layer, offset, error } => write!(f, "invalid {layer} at byte {offset}: {error}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one frame. `Ok(None)` when the frame is not TCP or UDP over IPv4/IPv6 (ARP, ICMP,
/// an IP fragment…): an expected condition on a shared link, not an error.
pub fn decode_frame(frame: &[u8], link: LinkType) -> Result<Option<Packet>, DecodeError> {
    // Layer by layer with etherparse's slices: LaxSlicedPacket would do the same walk but
    // costs ~6× more (60 ns against 9 ns per frame), mostly in building its large result.
    let (mut ether_type, mut at) = match link {
        LinkType::Ethernet => {
            let eth = Ethernet2Slice::from_slice_without_fcs(frame).map_err(DecodeError::truncated(0))?;
            (eth.ether_type(), eth.header_len())
        }
        LinkType::LinuxSll => (EtherType(be16(link_header(frame, 16)?, 14)), 16),
        LinkType::LinuxSll2 => (EtherType(be16(link_header(frame, 20)?, 0)), 20),
        LinkType::Null => {
            let h = link_header(frame, 4)?;
            let family = [h[0], h[1], h[2], h[3]];
            // The family is in the capturing host's byte order; the value is small either way.
            let le = u32::from_le_bytes(family);
            let family = if le < 0x100 { le } else { u32::from_be_bytes(family) };
            // AF_INET is 2 everywhere; AF_INET6 is 10 on Linux, 24/28/30 on the BSDs and macOS.
            match family {
                2 => (EtherType::IPV4, 4),
                10 | 24 | 28 | 30 => (EtherType::IPV6, 4),
                _ => return Ok(None),
            }
        }
        LinkType::RawIp => match frame.first().map(|b| b >> 4) {
            Some(4) => (EtherType::IPV4, 0),
            Some(6) => (EtherType::IPV6, 0),
            _ => return Ok(None),
        },
    };
    // IEEE 802.1Q/802.1ad: VLAN tags between the link header and IP (captures of a tagged
    // network; `lo` has none).
    while matches!(ether_type, EtherType::VLAN_TAGGED_FRAME | EtherType::PROVIDER_BRIDGING | EtherType::VLAN_DOUBLE_TAGGED_FRAME) {
        let vlan = SingleVlanSlice::from_slice(&frame[at..]).map_err(DecodeError::truncated(at))?;
        ether_type = vlan.ether_type();
        at += vlan.header_len();
    }
    if !matches!(ether_type, EtherType::IPV4 | EtherType::IPV6) {
        return Ok(None);
    }
    decode_ip(frame, at)
}

/// Decodes the IP packet that starts `at` bytes into the frame.
fn decode_ip(frame: &[u8], at: usize) -> Result<Option<Packet>, DecodeError> {
    use etherparse::err::ip::LaxHeaderSliceError;
    use etherparse::err::ipv6_exts::{HeaderError, HeaderSliceError};

    let (ip, ext_error) = LaxIpSlice::from_slice(&frame[at..]).map_err(|e| match e {
        LaxHeaderSliceError::Len(l) => DecodeError::truncated(at)(l),
        LaxHeaderSliceError::Content(c) => DecodeError::Invalid { layer: Layer::IpHeader, offset: at, error: SliceError::Ip(c) },
    })?;
    let payload = ip.payload();
    let transport_at = offset_in(frame, payload.payload);
    if let Some((error, layer)) = ext_error {
        return Err(match error {
            HeaderSliceError::Len(l) => DecodeError::truncated(at)(l),
            HeaderSliceError::Content(HeaderError::IpAuth(auth)) if matches!(ip, LaxIpSlice::Ipv4(_)) => {
                DecodeError::Invalid { layer, offset: transport_at, error: SliceError::Ipv4Exts(auth) }
            }
            HeaderSliceError::Content(c) => DecodeError::Invalid { layer, offset: transport_at, error: SliceError::Ipv6Exts(c) },
        });
    }
    // A fragment carries no whole transport header; TCP on Linux never fragments (it sets
    // DF and sizes segments to the path MTU), so one does not belong to a TCP trace.
    if payload.fragmented {
        return Ok(None);
    }
    let (src, dst, declared) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let before_payload = offset_in(h.slice(), payload.payload);
            (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()), usize::from(h.total_len()).saturating_sub(before_payload))
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let before_payload = offset_in(h.slice(), payload.payload);
            // RFC 8200 §3: the payload length excludes the 40-byte fixed header.
            let total = 40 + usize::from(h.payload_length());
            (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()), total.saturating_sub(before_payload))
        }
    };
    // `declared`: the IP payload's length by the IP header, which exceeds the captured bytes
    // when the capture's snap length cut the frame short.
    match payload.ip_number {
        IpNumber::TCP => {
            let tcp = TcpSlice::from_slice(payload.payload).map_err(|e| match e {
                etherparse::err::tcp::HeaderSliceError::Len(l) => DecodeError::truncated(transport_at)(l),
                etherparse::err::tcp::HeaderSliceError::Content(c) => {
                    DecodeError::Invalid { layer: Layer::TcpHeader, offset: transport_at, error: SliceError::Tcp(c) }
                }
            })?;
            Ok(Some(tcp_packet(&tcp, declared, src, dst)))
        }
        IpNumber::UDP => {
            let udp = UdpSlice::from_slice_lax(payload.payload).map_err(DecodeError::truncated(transport_at))?;
            Ok(Some(udp_packet(&udp, src, dst)))
        }
        _ => Ok(None),
    }
}

fn tcp_packet(tcp: &TcpSlice<'_>, declared: usize, src: IpAddr, dst: IpAddr) -> Packet {
    let header_len = tcp.header_slice().len();
    let captured = tcp.payload();
    // When the capture cut the frame short, the IP length still tells the payload's size on
    // the wire; the preview shows what was captured.
    let len = declared.saturating_sub(header_len).max(captured.len());
    Packet {
        transport: Transport::Tcp,
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        to: None,
        tcp: Some(TcpSegment {
            flags: TcpFlags(tcp.header_slice()[13]),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            rel_seq: None,
            rel_ack: None,
            win: tcp.window_size(),
            win_shift: None,
            options: tcp_options(tcp.options()),
        }),
        len: len as u32,
        payload: (len > 0 && !captured.is_empty()).then(|| Preview::of(captured)),
        eth: None,
        arp: None,
        dropped: None,
    }
}

fn udp_packet(udp: &UdpSlice<'_>, src: IpAddr, dst: IpAddr) -> Packet {
    let captured = udp.payload();
    // RFC 768: the length field counts the 8-byte header too.
    let declared = usize::from(udp.length()).saturating_sub(8);
    let len = declared.max(captured.len());
    Packet {
        transport: Transport::Udp,
        src: SocketAddr::new(src, udp.source_port()),
        dst: SocketAddr::new(dst, udp.destination_port()),
        to: None,
        tcp: None,
        len: len as u32,
        payload: (!captured.is_empty()).then(|| Preview::of(captured)),
        eth: None,
        arp: None,
        dropped: None,
    }
}

/// The options a learner meets on a handshake, read in place.
fn tcp_options(raw: &[u8]) -> TcpOptions {
    let mut options = TcpOptions::default();
    let mut it = TcpOptionsIterator::from_slice(raw);
    loop {
        let here = it.rest();
        match it.next() {
            None => break,
            Some(Ok(element)) => match element {
                // RFC 9293 §3.2: MSS (kind 2).
                TcpOptionElement::MaximumSegmentSize(mss) => options.mss = Some(mss),
                // RFC 7323 §2.2: window scale (kind 3).
                TcpOptionElement::WindowScale(shift) => options.wscale = Some(shift),
                // RFC 2018 §2: SACK-permitted (kind 4) and SACK blocks (kind 5).
                TcpOptionElement::SelectiveAcknowledgementPermitted => options.sack_ok = true,
                TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                    options.sack.push(first);
                    options.sack.extend(rest.into_iter().flatten());
                }
                // RFC 7323 §3.2: timestamps (kind 8): TSval, TSecr.
                TcpOptionElement::Timestamp(val, ecr) => options.ts = Some((val, ecr)),
                TcpOptionElement::Noop => {}
            },
            // RFC 9293 §3.2: every option but EOL and NOP carries its length in its second
            // byte, so an option we do not know (TFO, MPTCP, MD5…) can be stepped over.
            Some(Err(TcpOptionReadError::UnknownId(_))) => match here.get(1).map(|&l| usize::from(l)) {
                Some(len) if len >= 2 && len <= here.len() => it = TcpOptionsIterator::from_slice(&here[len..]),
                _ => break,
            },
            // A malformed option ends what can be trusted of the list.
            Some(Err(_)) => break,
        }
    }
    options
}

impl DecodeError {
    /// Maps etherparse's length error of a slice that began `at` bytes into the frame.
    pub(crate) fn truncated(at: usize) -> impl Fn(LenError) -> DecodeError {
        move |l| DecodeError::Truncated { layer: l.layer, needed: l.required_len, found: l.len, offset: at + l.layer_start_offset }
    }
}

/// The first `len` bytes of the frame: a fixed-size Linux cooked-capture or BSD loopback header.
fn link_header(frame: &[u8], len: usize) -> Result<&[u8], DecodeError> {
    let layer = if len == 4 { Layer::EtherPayload } else { Layer::LinuxSllHeader };
    frame.get(..len).ok_or(DecodeError::Truncated { layer, needed: len, found: frame.len(), offset: 0 })
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// Where `inner` starts within `outer`, a slice it was cut from.
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, PacketBuilder, PacketBuilderStep, TcpHeader};

    const LO: [u8; 4] = [127, 0, 0, 1];
    const CLIENT: u16 = 40000;
    const SERVER: u16 = 8080;

    /// An Ethernet frame as `lo` delivers it (zero MACs) from 127.0.0.1:CLIENT to :SERVER.
    fn lo_tcp(seq: u32) -> PacketBuilderStep<TcpHeader> {
        PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4(LO, LO, 64).tcp(CLIENT, SERVER, seq, 65495)
    }

    fn frame(step: PacketBuilderStep<TcpHeader>, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        step.write(&mut out, payload).expect("test frame builds");
        out
    }

    fn decode(frame: &[u8]) -> Packet {
        decode_frame(frame, LinkType::Ethernet).expect("decodes").expect("is TCP or UDP")
    }

    /// The options Linux puts on a SYN over loopback, in Linux's order.
    fn linux_syn_options() -> [TcpOptionElement; 5] {
        [
            TcpOptionElement::MaximumSegmentSize(65495),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(3_000_000_001, 0),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ]
    }

    #[test]
    fn syn__linux_options_are_all_read() {
        let syn = lo_tcp(1000).syn().options(&linux_syn_options()).expect("options fit");
        let p = decode(&frame(syn, &[]));
        assert_eq!(p.transport, Transport::Tcp);
        assert_eq!(p.src, "127.0.0.1:40000".parse().expect("addr"));
        assert_eq!(p.dst, "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!((p.len, p.payload), (0, None));
        let tcp = p.tcp.expect("tcp");
        assert_eq!(tcp.flags, TcpFlags::SYN);
        assert_eq!((tcp.seq, tcp.ack, tcp.win), (1000, 0, 65495));
        assert_eq!((tcp.rel_seq, tcp.rel_ack), (None, None));
        assert_eq!(tcp.options, TcpOptions { mss: Some(65495), wscale: Some(7), sack_ok: true, ts: Some((3_000_000_001, 0)), sack: vec![] });
    }

    #[test]
    fn data__payload_length_and_preview() {
        let data = lo_tcp(1001).ack(5001).psh();
        let p = decode(&frame(data, b"hello\n"));
        assert_eq!(p.len, 6);
        assert_eq!(p.payload.as_ref().map(|p| p.text.as_str()), Some("hello\\n"));
        let tcp = p.tcp.expect("tcp");
        assert_eq!(tcp.flags.to_string(), "PSH|ACK");
        assert_eq!((tcp.seq, tcp.ack), (1001, 5001));
    }

    #[test]
    fn fin_ack__flags() {
        let p = decode(&frame(lo_tcp(1007).fin().ack(5007), &[]));
        assert_eq!(p.tcp.expect("tcp").flags.to_string(), "FIN|ACK");
    }

    #[test]
    fn rst__flags() {
        let p = decode(&frame(lo_tcp(1007).rst(), &[]));
        assert_eq!(p.tcp.expect("tcp").flags, TcpFlags::RST);
    }

    #[test]
    fn sack_blocks__all_read() {
        let sack = TcpOptionElement::SelectiveAcknowledgement((10, 20), [Some((30, 40)), None, None]);
        let step = lo_tcp(1).ack(2).options(&[TcpOptionElement::Noop, TcpOptionElement::Noop, sack]).expect("fits");
        assert_eq!(decode(&frame(step, &[])).tcp.expect("tcp").options.sack, vec![(10, 20), (30, 40)]);
    }

    #[test]
    fn unknown_option__is_stepped_over() {
        // RFC 7413 TFO cookie request (kind 34, length 2), then window scale.
        let step = lo_tcp(1).syn().options_raw(&[34, 2, 3, 3, 7, 1]).expect("fits");
        assert_eq!(decode(&frame(step, &[])).tcp.expect("tcp").options.wscale, Some(7));
    }

    #[test]
    fn ipv6__addresses_and_ports() {
        let ip6 = std::net::Ipv6Addr::LOCALHOST.octets();
        let step = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv6(ip6, ip6, 64).tcp(CLIENT, SERVER, 7, 100).syn();
        let p = decode(&frame(step, &[]));
        assert_eq!(p.src, "[::1]:40000".parse().expect("addr"));
        assert_eq!(p.dst, "[::1]:8080".parse().expect("addr"));
        assert_eq!(p.tcp.expect("tcp").flags, TcpFlags::SYN);
    }

    #[test]
    fn udp__no_tcp_part() {
        let mut out = Vec::new();
        let step = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4(LO, LO, 64).udp(5353, 53);
        step.write(&mut out, b"q").expect("builds");
        let p = decode(&out);
        assert_eq!((p.transport, p.tcp, p.len), (Transport::Udp, None, 1));
        assert_eq!(p.dst.port(), 53);
    }

    #[test]
    fn truncated_payload__keeps_wire_length_and_previews_what_was_captured() {
        let full = frame(lo_tcp(1).ack(1).psh(), &[b'x'; 100]);
        let p = decode(&full[..14 + 20 + 20 + 10]);
        assert_eq!(p.len, 100);
        assert_eq!(p.payload.expect("preview").text, "x".repeat(10));
    }

    #[test]
    fn truncated_tcp_header__says_what_was_needed_and_where() {
        let full = frame(lo_tcp(1).syn().options(&linux_syn_options()).expect("fits"), &[]);
        let err = decode_frame(&full[..14 + 20 + 30], LinkType::Ethernet).expect_err("header cut short");
        assert_eq!(err, DecodeError::Truncated { layer: Layer::TcpHeader, needed: 40, found: 30, offset: 34 });
        assert_eq!(err.to_string(), "truncated TCP header at byte 34: needed 40 bytes, found 30 (the capture cut the frame short)");
    }

    #[test]
    fn invalid_tcp_data_offset__is_an_error_at_the_tcp_header() {
        let mut bad = frame(lo_tcp(1).ack(1), &[]);
        bad[14 + 20 + 12] = 0x30; // data offset 3 words: inside the fixed header
        let err = decode_frame(&bad, LinkType::Ethernet).expect_err("invalid");
        assert!(matches!(err, DecodeError::Invalid { layer: Layer::TcpHeader, offset: 34, .. }), "{err:?}");
    }

    #[test]
    fn vlan_tag__stepped_over() {
        let mut out = Vec::new();
        let step = PacketBuilder::ethernet2([0; 6], [0; 6]).single_vlan(etherparse::VlanId::try_new(7).expect("id"));
        step.ipv4(LO, LO, 64).tcp(CLIENT, SERVER, 1, 100).syn().write(&mut out, &[]).expect("builds");
        assert_eq!(decode(&out).tcp.expect("tcp").flags, TcpFlags::SYN);
    }

    #[test]
    fn truncated_ip_header__says_where() {
        let full = frame(lo_tcp(1).syn(), &[]);
        let err = decode_frame(&full[..14 + 12], LinkType::Ethernet).expect_err("IP header cut short");
        assert!(matches!(err, DecodeError::Truncated { needed: 20, found: 12, offset: 14, .. }), "{err:?}");
    }

    #[test]
    fn ipv4_fragment__is_not_decoded() {
        let mut fragment = frame(lo_tcp(1).ack(1), b"data");
        fragment[14 + 6] = 0x20; // RFC 791 §3.1: "more fragments"
        assert_eq!(decode_frame(&fragment, LinkType::Ethernet), Ok(None));
    }

    #[test]
    fn arp__is_not_an_error() {
        let arp = ArpPacket::new(ArpHardwareId::ETHERNET, EtherType::IPV4, ArpOperation::REQUEST, &[0; 6], &LO, &[0; 6], &LO).expect("arp");
        let mut out = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0xff; 6]).arp(arp).write(&mut out).expect("builds");
        assert_eq!(decode_frame(&out, LinkType::Ethernet), Ok(None));
    }

    #[test]
    fn other_links__decode_the_same_ip_packet() {
        let eth = frame(lo_tcp(9).syn(), &[]);
        let ip = &eth[14..];
        let want = decode(&eth);
        let mut sll = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(ip);
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
        sll2.extend_from_slice(ip);
        let mut null_le = 2u32.to_le_bytes().to_vec();
        null_le.extend_from_slice(ip);
        let mut null_be = 2u32.to_be_bytes().to_vec();
        null_be.extend_from_slice(ip);
        for (link, bytes) in [
            (LinkType::LinuxSll, &sll[..]),
            (LinkType::LinuxSll2, &sll2[..]),
            (LinkType::Null, &null_le[..]),
            (LinkType::Null, &null_be[..]),
            (LinkType::RawIp, ip),
        ] {
            assert_eq!(decode_frame(bytes, link), Ok(Some(want.clone())), "{link:?}");
        }
        assert_eq!(
            decode_frame(&[0, 0], LinkType::LinuxSll).map(|_| ()).expect_err("short").to_string(),
            "truncated Linux Cooked Capture v1 header at byte 0: needed 16 bytes, found 2 (the capture cut the frame short)"
        );
    }

    #[test]
    fn pcap_link_numbers__map_to_link_types() {
        assert_eq!(LinkType::from_pcap(1), Some(LinkType::Ethernet));
        assert_eq!(LinkType::from_pcap(113), Some(LinkType::LinuxSll));
        assert_eq!(LinkType::from_pcap(147), None);
    }
}
