//! The privacy filter: a classic BPF program that lets through only the traced session's
//! packets. The kernel runs it on every frame before the frame reaches the capture socket,
//! so other loopback traffic never enters the process, let alone the trace.
//!
//! The program reads an Ethernet frame (what `lo` gives an AF_PACKET socket) and accepts
//! IPv4/IPv6 TCP (and, if asked, UDP) whose source or destination port is in the set:
//!
//! ```text
//!         ldh [12]                      ; EtherType
//!         jeq #0x86dd, ipv6             ;
//!         jeq #0x0800, ipv4, reject     ;
//! ipv4:   ldb [23]                      ; protocol
//!         jeq #6, …                     ; TCP (or UDP #17)
//!         ldh [20]                      ; flags + fragment offset
//!         jset #0x3fff, reject          ; any fragment (MF or offset ≠ 0)
//!         ldxb 4*([14]&0xf)             ; X = IPv4 header length
//!         ja ports
//! ipv6:   ldb [20]                      ; next header (no extension headers)
//!         jeq #6, …                     ; TCP (or UDP #17)
//!         ldx #40                       ; X = IPv6 header length
//! ports:  ldh [x+14]                    ; source port
//!         jeq #P1, accept … jeq #Pn, accept
//!         ldh [x+16]                    ; destination port
//!         jeq #P1, accept … jeq #Pn, accept
//! reject: ret #0
//! accept: ret #SNAPLEN
//! ```
//!
//! On a real link between two hosts (`--hosts`), `jeq #0x0806, accept` after the IPv6 test
//! also lets ARP through.
//!
//! Kept hand-written rather than compiled by a crate (libpcap's compiler, a BPF assembler)
//! because of the benchmark: `cargo bench --bench capture` measures the capture this filter
//! feeds against tcpdump's, and the kernel runs the program on every loopback frame, so it
//! is kept to the few instructions above, checked instruction by instruction by the tests
//! below (with an interpreter of their own) and by the kernel.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;

use nix::sys::socket::setsockopt;

use crate::capture::sockopts::AttachFilter;

/// At most this many ports per filter: a classic BPF jump reaches 255 instructions ahead,
/// and a trace follows a handful of sockets.
pub const MAX_PORTS: usize = 64;

/// Offsets in an Ethernet frame (RFC 894 framing: a 14-byte header).
const ETHERTYPE: u32 = 12;
const IP_START: u32 = 14;
/// RFC 791 §3.1: protocol at byte 9, flags and fragment offset at bytes 6–7.
const IPV4_PROTOCOL: u32 = IP_START + 9;
const IPV4_FRAGMENT: u32 = IP_START + 6;
/// RFC 8200 §3: next header at byte 6 of a 40-byte fixed header.
const IPV6_NEXT_HEADER: u32 = IP_START + 6;
const IPV6_HEADER_LEN: u32 = 40;

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const ETHERTYPE_ARP: u32 = 0x0806;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
/// The More-Fragments bit and the 13-bit fragment offset.
const IPV4_FRAGMENT_MASK: u32 = 0x3fff;

/// The ports were more than a filter can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyPorts {
    pub ports: usize,
}

impl fmt::Display for TooManyPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a capture filter holds at most {MAX_PORTS} ports, {} were given", self.ports)
    }
}

impl std::error::Error for TooManyPorts {}

/// A classic BPF program, ready for `SO_ATTACH_FILTER`.
#[derive(Clone, Debug)]
pub struct BpfProgram {
    insns: Vec<libc::sock_filter>,
}

impl BpfProgram {
    /// The filter for an Ethernet link: TCP (and UDP if `udp`) over IPv4 or IPv6 from or to
    /// one of `ports`, each accepted packet cut to `snaplen` bytes. With no ports it accepts
    /// nothing, which is how a capture waits for ports it will learn later.
    pub fn ports(ports: &[u16], udp: bool, snaplen: u32) -> Result<BpfProgram, TooManyPorts> {
        BpfProgram::build(ports, udp, false, snaplen)
    }

    /// The filter for a real Ethernet link between two hosts: [`ports`](Self::ports), and
    /// every ARP frame too (the exchange before the first packet to a neighbour). The link is
    /// the session's own, so its ARP is the session's.
    pub fn ports_and_arp(ports: &[u16], udp: bool, snaplen: u32) -> Result<BpfProgram, TooManyPorts> {
        BpfProgram::build(ports, udp, true, snaplen)
    }

    fn build(ports: &[u16], udp: bool, arp: bool, snaplen: u32) -> Result<BpfProgram, TooManyPorts> {
        let mut ports = ports.to_vec();
        ports.sort_unstable();
        ports.dedup();
        if ports.len() > MAX_PORTS {
            return Err(TooManyPorts { ports: ports.len() });
        }
        let mut a = Assembler::default();
        if ports.is_empty() {
            a.ret(0);
            return Ok(a.finish());
        }
        // The transport protocol test, jumping to `then` on TCP (or UDP).
        let transport = |a: &mut Assembler, then: Label| {
            if udp {
                a.jeq(IPPROTO_TCP, then, Label::Next);
                a.jeq(IPPROTO_UDP, then, Label::Reject);
            } else {
                a.jeq(IPPROTO_TCP, then, Label::Reject);
            }
        };

        a.ld(libc::BPF_H, ETHERTYPE);
        a.jeq(ETHERTYPE_IPV6, Label::Ipv6, Label::Next);
        if arp {
            a.jeq(ETHERTYPE_ARP, Label::Accept, Label::Next);
        }
        a.jeq(ETHERTYPE_IPV4, Label::Next, Label::Reject);

        a.ld(libc::BPF_B, IPV4_PROTOCOL);
        transport(&mut a, Label::Ipv4Transport);
        a.label(Label::Ipv4Transport);
        a.ld(libc::BPF_H, IPV4_FRAGMENT);
        a.jset(IPV4_FRAGMENT_MASK, Label::Reject, Label::Next);
        // RFC 791 §3.1: IHL counts 32-bit words; `ldxb 4*([k]&0xf)` is classic BPF's idiom.
        a.insn(libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH, IP_START);
        a.jump_always(Label::Ports);

        a.label(Label::Ipv6);
        a.ld(libc::BPF_B, IPV6_NEXT_HEADER);
        transport(&mut a, Label::Ipv6Transport);
        a.label(Label::Ipv6Transport);
        a.insn(libc::BPF_LDX | libc::BPF_W | libc::BPF_IMM, IPV6_HEADER_LEN);

        a.label(Label::Ports);
        // Source port, then destination port: the first two bytes of TCP and UDP alike.
        for field in [0, 2] {
            a.insn(libc::BPF_LD | libc::BPF_H | libc::BPF_IND, IP_START + field);
            for &port in &ports {
                a.jeq(u32::from(port), Label::Accept, Label::Next);
            }
        }
        a.label(Label::Reject);
        a.ret(0);
        a.label(Label::Accept);
        a.ret(snaplen);
        Ok(a.finish())
    }

    /// Attaches the program to a socket, replacing its previous filter atomically: a packet
    /// sees either the old filter or the new one, never none.
    pub fn attach(&self, socket: BorrowedFd<'_>) -> io::Result<()> {
        let prog = libc::sock_fprog {
            // `ports` builds at most a few hundred instructions.
            len: self.insns.len() as u16,
            // The kernel copies the program during the call, which `self.insns` outlives.
            filter: self.insns.as_ptr().cast_mut(),
        };
        // The kernel checks every instruction before it accepts the program.
        Ok(setsockopt(&socket, AttachFilter, &prog)?)
    }

    /// The instructions, as `tcpdump -dd` prints them.
    #[cfg(test)]
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.insns
    }
}

/// Jump targets of the one program this module writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    /// The instruction after the jump.
    Next,
    Ipv4Transport,
    Ipv6,
    Ipv6Transport,
    Ports,
    Reject,
    Accept,
}

/// A tiny assembler: instructions with symbolic jump targets, resolved by `finish`.
#[derive(Default)]
struct Assembler {
    insns: Vec<(u16, u32, Label, Label)>,
    labels: Vec<(Label, usize)>,
}

impl Assembler {
    fn insn(&mut self, code: u32, k: u32) {
        self.insns.push((code as u16, k, Label::Next, Label::Next));
    }

    fn ld(&mut self, size: u32, offset: u32) {
        self.insn(libc::BPF_LD | size | libc::BPF_ABS, offset);
    }

    fn jump(&mut self, op: u32, k: u32, jt: Label, jf: Label) {
        self.insns.push(((libc::BPF_JMP | op | libc::BPF_K) as u16, k, jt, jf));
    }

    fn jeq(&mut self, k: u32, jt: Label, jf: Label) {
        self.jump(libc::BPF_JEQ, k, jt, jf);
    }

    fn jset(&mut self, k: u32, jt: Label, jf: Label) {
        self.jump(libc::BPF_JSET, k, jt, jf);
    }

    /// `ja`: its target is the `k` field, resolved like the others (kept in `jt`).
    fn jump_always(&mut self, to: Label) {
        self.insns.push(((libc::BPF_JMP | libc::BPF_JA) as u16, 0, to, Label::Next));
    }

    fn ret(&mut self, k: u32) {
        self.insn(libc::BPF_RET | libc::BPF_K, k);
    }

    fn label(&mut self, label: Label) {
        self.labels.push((label, self.insns.len()));
    }

    fn finish(self) -> BpfProgram {
        // Jumps count instructions from the one after the jump.
        let distance = |label: Label, from: usize| -> usize {
            match label {
                Label::Next => 0,
                _ => {
                    let &(_, target) = self.labels.iter().find(|(l, _)| *l == label).expect("every jump target is placed");
                    target - (from + 1)
                }
            }
        };
        let insns = self
            .insns
            .iter()
            .enumerate()
            .map(|(i, &(code, k, jt, jf))| {
                if u32::from(code) == libc::BPF_JMP | libc::BPF_JA {
                    return libc::sock_filter { code, jt: 0, jf: 0, k: distance(jt, i) as u32 };
                }
                let short = |label| u8::try_from(distance(label, i)).expect("MAX_PORTS keeps jumps within 255");
                libc::sock_filter { code, jt: short(jt), jf: short(jf), k }
            })
            .collect();
        BpfProgram { insns }
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;
    use etherparse::{IpNumber, Ipv4Header, Ipv4Options, PacketBuilder};

    const SNAP: u32 = 256;

    /// Runs a classic BPF program the way the kernel does, for the instructions `ports` uses:
    /// a read beyond the frame rejects it.
    fn run(prog: &BpfProgram, frame: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let load = |at: usize, size: usize| -> Option<u32> {
            let bytes = frame.get(at..at + size)?;
            Some(bytes.iter().fold(0, |v, &b| v << 8 | u32::from(b)))
        };
        loop {
            let i = prog.instructions()[pc];
            let (code, k) = (u32::from(i.code), i.k);
            pc += 1;
            let size = match code & 0x18 {
                libc::BPF_H => 2,
                libc::BPF_B => 1,
                _ => 4,
            };
            match code & 0x07 {
                libc::BPF_LD => {
                    let at = if code & 0xe0 == libc::BPF_IND { x + k } else { k };
                    match load(at as usize, size) {
                        Some(v) => a = v,
                        None => return 0,
                    }
                }
                libc::BPF_LDX if code & 0xe0 == libc::BPF_MSH => match load(k as usize, 1) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return 0,
                },
                libc::BPF_LDX => x = k,
                libc::BPF_JMP => match code & 0xf0 {
                    libc::BPF_JA => pc += k as usize,
                    libc::BPF_JEQ => pc += usize::from(if a == k { i.jt } else { i.jf }),
                    libc::BPF_JSET => pc += usize::from(if a & k != 0 { i.jt } else { i.jf }),
                    op => panic!("unexpected jump {op:#x}"),
                },
                libc::BPF_RET => return k,
                class => panic!("unexpected class {class:#x}"),
            }
        }
    }

    fn v4_tcp(src: u16, dst: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let b = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64);
        b.tcp(src, dst, 1, 100).syn().write(&mut out, &[]).expect("builds");
        out
    }

    fn v6(src: u16, dst: u16, udp: bool) -> Vec<u8> {
        let lo = std::net::Ipv6Addr::LOCALHOST.octets();
        let b = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv6(lo, lo, 64);
        let mut out = Vec::new();
        if udp {
            b.udp(src, dst).write(&mut out, b"x").expect("builds");
        } else {
            b.tcp(src, dst, 1, 100).syn().write(&mut out, &[]).expect("builds");
        }
        out
    }

    fn v4_udp(src: u16, dst: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let b = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64);
        b.udp(src, dst).write(&mut out, b"x").expect("builds");
        out
    }

    #[test]
    fn tcp_v4__accepted_by_source_or_destination_port_only() {
        let prog = BpfProgram::ports(&[8080, 9000], false, SNAP).expect("builds");
        assert_eq!(run(&prog, &v4_tcp(40000, 8080)), SNAP);
        assert_eq!(run(&prog, &v4_tcp(9000, 40000)), SNAP);
        assert_eq!(run(&prog, &v4_tcp(40000, 8081)), 0);
    }

    #[test]
    fn tcp_v4_with_ip_options__ports_found_after_the_longer_header() {
        let options = Ipv4Options::try_from(&[1u8, 1, 1, 0][..]).expect("4 bytes of options");
        let mut ip = Ipv4Header::new(0, 64, IpNumber::TCP, [127, 0, 0, 1], [127, 0, 0, 1]).expect("header");
        ip.options = options;
        let mut out = Vec::new();
        let b = PacketBuilder::ethernet2([0; 6], [0; 6]).ip(etherparse::IpHeaders::Ipv4(ip, Default::default()));
        b.tcp(40000, 8080, 1, 100).syn().write(&mut out, &[]).expect("builds");
        assert_eq!(out[14] & 0xf, 6, "IHL of 6 words");
        let prog = BpfProgram::ports(&[8080], false, SNAP).expect("builds");
        assert_eq!(run(&prog, &out), SNAP);
        let other = BpfProgram::ports(&[1], false, SNAP).expect("builds");
        assert_eq!(run(&other, &out), 0);
    }

    #[test]
    fn ipv6__tcp_accepted_udp_only_when_asked() {
        let tcp_only = BpfProgram::ports(&[53, 8080], false, SNAP).expect("builds");
        let with_udp = BpfProgram::ports(&[53, 8080], true, SNAP).expect("builds");
        assert_eq!(run(&tcp_only, &v6(40000, 8080, false)), SNAP);
        assert_eq!(run(&tcp_only, &v6(40000, 8081, false)), 0);
        assert_eq!(run(&tcp_only, &v6(40000, 53, true)), 0);
        assert_eq!(run(&with_udp, &v6(40000, 53, true)), SNAP);
        assert_eq!(run(&tcp_only, &v4_udp(40000, 53)), 0);
        assert_eq!(run(&with_udp, &v4_udp(53, 40000)), SNAP);
        assert_eq!(run(&with_udp, &v4_udp(40000, 54)), 0);
    }

    #[test]
    fn fragments_and_non_ip__rejected() {
        let prog = BpfProgram::ports(&[8080], true, SNAP).expect("builds");
        let mut fragment = v4_tcp(40000, 8080);
        fragment[14 + 6] = 0x20; // more fragments
        assert_eq!(run(&prog, &fragment), 0);
        let mut arp = v4_tcp(40000, 8080);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(run(&prog, &arp), 0);
        assert_eq!(run(&prog, &v4_tcp(40000, 8080)[..14 + 20 + 1]), 0, "too short for the port");
    }

    #[test]
    fn no_ports__accepts_nothing() {
        let prog = BpfProgram::ports(&[], true, SNAP).expect("builds");
        assert_eq!(run(&prog, &v4_tcp(1, 2)), 0);
    }

    #[test]
    fn max_ports__every_port_reachable_and_one_more_refused() {
        let ports: Vec<u16> = (1..=MAX_PORTS as u16).map(|p| p * 100).collect();
        let prog = BpfProgram::ports(&ports, true, SNAP).expect("builds");
        for &p in &ports {
            assert_eq!(run(&prog, &v4_tcp(40000, p)), SNAP, "port {p}");
            assert_eq!(run(&prog, &v6(p, 40000, true)), SNAP, "port {p}");
        }
        assert_eq!(run(&prog, &v4_tcp(40000, 101)), 0);
        let too_many: Vec<u16> = (1..=MAX_PORTS as u16 + 1).collect();
        assert_eq!(BpfProgram::ports(&too_many, false, SNAP).map(|_| ()), Err(TooManyPorts { ports: MAX_PORTS + 1 }));
    }

    #[test]
    fn arp__accepted_only_by_the_link_filter() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(run(&BpfProgram::ports(&[80], false, SNAP).expect("builds"), &arp), 0);
        let link = BpfProgram::ports_and_arp(&[80], false, SNAP).expect("builds");
        assert_eq!(run(&link, &arp), SNAP);
        assert_eq!((run(&link, &v4_tcp(40000, 80)), run(&link, &v4_tcp(40000, 81))), (SNAP, 0));
        let ports: Vec<u16> = (1..=MAX_PORTS as u16).collect();
        BpfProgram::ports_and_arp(&ports, true, SNAP).expect("every jump within reach at MAX_PORTS");
    }

    #[test]
    fn kernel__accepts_the_program() {
        // The kernel's checker runs on any socket type; a UDP socket needs no privilege.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let ports: Vec<u16> = (1..=MAX_PORTS as u16).collect();
        for udp in [false, true] {
            let prog = BpfProgram::ports(&ports, udp, SNAP).expect("builds");
            prog.attach(std::os::fd::AsFd::as_fd(&socket)).expect("kernel accepts the filter");
        }
    }
}
