//! Binary tracepoint records to [`Event`]s, using field offsets read from the format files.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::format::{Format, FormatError};
use crate::event::{Actor, Body, Event, KernelNote, Origin, Role, StateChange};
use crate::tcp::state::State;

const AF_INET: u16 = libc::AF_INET as u16;
const AF_INET6: u16 = libc::AF_INET6 as u16;
const IPPROTO_TCP: u16 = libc::IPPROTO_TCP as u16;

/// The tracepoints of the lens, as ftrace names them (`system:name`); the order is the
/// decoder's.
pub const TRACEPOINTS: [&str; 4] = ["sock:inet_sock_set_state", "tcp:tcp_send_reset", "tcp:tcp_receive_reset", "tcp:tcp_retransmit_skb"];

/// A tracepoint's directory in tracefs: `events/sock/inet_sock_set_state`.
pub fn event_dir(tracepoint: &str) -> String {
    format!("events/{}", tracepoint.replacen(':', "/", 1))
}

/// What one record turned out to be.
// Nearly every record is an `Event`, returned and moved at once: boxing it would only add an
// allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    /// An event, with the two ports it concerns (local, remote) for the port filter.
    Event { event: Event, ports: (u16, u16) },
    /// A state change of another protocol (SCTP, MPTCP share the tracepoint).
    NotTcp,
    /// A record of a tracepoint we did not enable.
    Unknown { id: u16 },
    /// A record too short for its format, or with an unknown state or address family.
    Malformed { why: &'static str },
}

/// Reads records of the four tracepoints.
#[derive(Clone, Debug)]
pub struct Decoder {
    pid: usize,
    set_state: SetState,
    send_reset: SendReset,
    receive_reset: Tuple,
    retransmit: Retransmit,
}

/// Field offsets of `inet_sock_set_state`.
#[derive(Clone, Debug)]
struct SetState {
    id: u16,
    oldstate: usize,
    newstate: usize,
    protocol: usize,
    tuple: Tuple,
}

/// Field offsets of `tcp_send_reset`, whose addresses are `struct sockaddr_in6`-sized.
#[derive(Clone, Debug)]
struct SendReset {
    id: u16,
    skaddr: usize,
    saddr: usize,
    daddr: usize,
}

#[derive(Clone, Debug)]
struct Retransmit {
    state: usize,
    tuple: Tuple,
}

/// The socket and its four-tuple, as three of the tracepoints lay them out.
#[derive(Clone, Debug)]
struct Tuple {
    id: u16,
    skaddr: usize,
    sport: usize,
    dport: usize,
    family: usize,
    saddr: usize,
    daddr: usize,
    saddr_v6: usize,
    daddr_v6: usize,
}

impl Tuple {
    fn of(f: &Format) -> Result<Tuple, FormatError> {
        Ok(Tuple {
            id: f.id,
            skaddr: f.offset_of("skaddr", 8)?,
            sport: f.offset_of("sport", 2)?,
            dport: f.offset_of("dport", 2)?,
            family: f.offset_of("family", 2)?,
            saddr: f.offset_of("saddr", 4)?,
            daddr: f.offset_of("daddr", 4)?,
            saddr_v6: f.offset_of("saddr_v6", 16)?,
            daddr_v6: f.offset_of("daddr_v6", 16)?,
        })
    }

    /// (socket, local, remote), or `None` when the record is short or of an unknown family.
    fn read(&self, r: &Rec) -> Option<(Option<u64>, SocketAddr, SocketAddr)> {
        let (sport, dport) = (r.u16(self.sport)?, r.u16(self.dport)?);
        let (local, remote) = match r.u16(self.family)? {
            AF_INET => (IpAddr::from(r.array::<4>(self.saddr)?), IpAddr::from(r.array::<4>(self.daddr)?)),
            AF_INET6 => (IpAddr::from(r.array::<16>(self.saddr_v6)?), IpAddr::from(r.array::<16>(self.daddr_v6)?)),
            _ => return None,
        };
        Some((r.sk(self.skaddr)?, SocketAddr::new(local, sport), SocketAddr::new(remote, dport)))
    }
}

impl Decoder {
    /// Builds the decoder from the four formats, in [`TRACEPOINTS`] order.
    pub fn new(formats: &[Format; 4]) -> Result<Decoder, (usize, FormatError)> {
        let [state, send, receive, retransmit] = formats;
        let at = |i: usize| move |e| (i, e);
        Ok(Decoder {
            pid: state.offset_of("common_pid", 4).map_err(at(0))?,
            set_state: SetState {
                id: state.id,
                oldstate: state.offset_of("oldstate", 4).map_err(at(0))?,
                newstate: state.offset_of("newstate", 4).map_err(at(0))?,
                protocol: state.offset_of("protocol", 2).map_err(at(0))?,
                tuple: Tuple::of(state).map_err(at(0))?,
            },
            send_reset: SendReset {
                id: send.id,
                skaddr: send.offset_of("skaddr", 8).map_err(at(1))?,
                saddr: send.offset_of("saddr", 28).map_err(at(1))?,
                daddr: send.offset_of("daddr", 28).map_err(at(1))?,
            },
            receive_reset: Tuple::of(receive).map_err(at(2))?,
            retransmit: Retransmit { state: retransmit.offset_of("state", 4).map_err(at(3))?, tuple: Tuple::of(retransmit).map_err(at(3))? },
        })
    }

    /// Decodes one record stamped `t` (ns on the trace clock).
    pub fn decode(&self, t: u64, data: &[u8]) -> Decoded {
        let r = Rec(data);
        let Some(id) = r.u16(0) else { return Decoded::Malformed { why: "record shorter than its type" } };
        let Some(pid) = r.u32(self.pid) else { return Decoded::Malformed { why: "record shorter than its pid" } };
        let body = if id == self.set_state.id {
            let s = &self.set_state;
            match r.u16(s.protocol) {
                Some(IPPROTO_TCP) => {}
                Some(_) => return Decoded::NotTcp,
                None => return Decoded::Malformed { why: "inet_sock_set_state record shorter than its protocol" },
            }
            let state = |at| r.u32(at).and_then(State::from_linux);
            let (Some(from), Some(to), Some((sk, local, remote))) = (state(s.oldstate), state(s.newstate), s.tuple.read(&r)) else {
                return Decoded::Malformed { why: "inet_sock_set_state record unreadable" };
            };
            Body::State(StateChange { from, to, local: Some(local), remote: Some(remote), sk, model: None })
        } else if id == self.send_reset.id {
            let s = &self.send_reset;
            let (Some(sk), Some(local), Some(remote)) = (r.sk(s.skaddr), r.sockaddr(s.saddr), r.sockaddr(s.daddr)) else {
                return Decoded::Malformed { why: "tcp_send_reset record unreadable" };
            };
            Body::Kernel(KernelNote::ResetSent { local, remote, sk })
        } else if id == self.receive_reset.id {
            let Some((sk, local, remote)) = self.receive_reset.read(&r) else {
                return Decoded::Malformed { why: "tcp_receive_reset record unreadable" };
            };
            Body::Kernel(KernelNote::ResetReceived { local, remote, sk })
        } else if id == self.retransmit.tuple.id {
            let Some((sk, local, remote)) = self.retransmit.tuple.read(&r) else {
                return Decoded::Malformed { why: "tcp_retransmit_skb record unreadable" };
            };
            let state = r.u32(self.retransmit.state).and_then(State::from_linux);
            Body::Kernel(KernelNote::Retransmit { local, remote, sk, state })
        } else {
            return Decoded::Unknown { id };
        };
        let ports = ports_of(&body);
        // The kernel's `common_pid` is the id of the task that held the CPU: a thread id, and
        // often the peer's or a softirq's rather than the socket owner's.
        let actor = Actor { role: Role::Unknown, peer: None, pid: None, tid: Some(pid) };
        Decoded::Event { event: Event { t, actor, socket: None, origin: Origin::Observed, body }, ports }
    }
}

/// (local port, remote port) of a decoded body.
fn ports_of(body: &Body) -> (u16, u16) {
    let pair = |l: &SocketAddr, r: &SocketAddr| (l.port(), r.port());
    match body {
        Body::State(StateChange { local: Some(l), remote: Some(r), .. }) => pair(l, r),
        Body::Kernel(KernelNote::ResetSent { local, remote, .. })
        | Body::Kernel(KernelNote::ResetReceived { local, remote, .. })
        | Body::Kernel(KernelNote::Retransmit { local, remote, .. }) => pair(local, remote),
        _ => (0, 0),
    }
}

/// A record's bytes, read field by field with bounds checks.
struct Rec<'a>(&'a [u8]);

impl Rec<'_> {
    fn array<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.0.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, at: usize) -> Option<u16> {
        self.array(at).map(u16::from_ne_bytes)
    }
    fn u32(&self, at: usize) -> Option<u32> {
        self.array(at).map(u32::from_ne_bytes)
    }
    /// A socket's kernel address; a null one (a reset sent for no socket) is `Some(None)`.
    fn sk(&self, at: usize) -> Option<Option<u64>> {
        self.array(at).map(u64::from_ne_bytes).map(|sk| (sk != 0).then_some(sk))
    }
    /// A `struct sockaddr_in` or `sockaddr_in6`: family in host order, port in network order.
    fn sockaddr(&self, at: usize) -> Option<SocketAddr> {
        let port = u16::from_be_bytes(self.array(at + 2)?);
        let ip = match self.u16(at)? {
            AF_INET => IpAddr::V4(Ipv4Addr::from(self.array::<4>(at + 4)?)),
            AF_INET6 => IpAddr::V6(Ipv6Addr::from(self.array::<16>(at + 8)?)),
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::tests::{INET_SOCK_SET_STATE, TCP_RECEIVE_RESET, TCP_RETRANSMIT_SKB, TCP_SEND_RESET};
    use super::*;

    fn decoder() -> Decoder {
        let formats = [INET_SOCK_SET_STATE, TCP_SEND_RESET, TCP_RECEIVE_RESET, TCP_RETRANSMIT_SKB].map(|text| Format::parse(text).unwrap());
        Decoder::new(&formats).unwrap()
    }

    /// A record of `len` zero bytes with `common_type` and `common_pid` set.
    fn record(id: u16, pid: u32, len: usize) -> Vec<u8> {
        let mut r = vec![0; len];
        r[0..2].copy_from_slice(&id.to_ne_bytes());
        r[4..8].copy_from_slice(&pid.to_ne_bytes());
        r
    }

    fn put(r: &mut [u8], at: usize, bytes: &[u8]) {
        r[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn set_state(old: u32, new: u32, protocol: u16) -> Vec<u8> {
        let mut r = record(2287, 4242, 72);
        put(&mut r, 8, &0xffff_8880_1234_5678u64.to_ne_bytes());
        put(&mut r, 16, &old.to_ne_bytes());
        put(&mut r, 20, &new.to_ne_bytes());
        put(&mut r, 24, &0u16.to_ne_bytes());
        put(&mut r, 26, &8080u16.to_ne_bytes());
        put(&mut r, 28, &AF_INET.to_ne_bytes());
        put(&mut r, 30, &protocol.to_ne_bytes());
        put(&mut r, 32, &[127, 0, 0, 1]);
        put(&mut r, 36, &[127, 0, 0, 2]);
        r
    }

    #[test]
    fn set_state_record_state_change_with_linux_states_mapped() {
        let Decoded::Event { event, ports } = decoder().decode(77, &set_state(7, 2, 6)) else { panic!() };
        assert_eq!(ports, (0, 8080));
        assert_eq!((event.t, event.actor.tid, event.origin), (77, Some(4242), Origin::Observed));
        assert_eq!(
            event.body,
            Body::State(StateChange {
                from: State::Closed,
                to: State::SynSent,
                local: Some("127.0.0.1:0".parse().unwrap()),
                remote: Some("127.0.0.2:8080".parse().unwrap()),
                sk: Some(0xffff_8880_1234_5678),
                model: None,
            })
        );
    }

    #[test]
    fn set_state_record_other_protocol_bad_state_short_record() {
        let d = decoder();
        assert_eq!(d.decode(0, &set_state(7, 10, 132)), Decoded::NotTcp);
        assert!(matches!(d.decode(0, &set_state(7, 99, 6)), Decoded::Malformed { .. }));
        assert!(matches!(d.decode(0, &set_state(7, 2, 6)[..30]), Decoded::Malformed { .. }));
        assert!(matches!(d.decode(0, &[1]), Decoded::Malformed { .. }));
        assert_eq!(d.decode(0, &record(9, 1, 16)), Decoded::Unknown { id: 9 });
    }

    #[test]
    fn ipv6_record_v6_addresses() {
        let mut r = set_state(10, 7, 6);
        put(&mut r, 28, &AF_INET6.to_ne_bytes());
        put(&mut r, 40, &Ipv6Addr::LOCALHOST.octets());
        put(&mut r, 56, &Ipv6Addr::LOCALHOST.octets());
        let Decoded::Event { event: Event { body: Body::State(s), .. }, .. } = decoder().decode(0, &r) else { panic!() };
        assert_eq!(s.remote, Some("[::1]:8080".parse().unwrap()));
    }

    #[test]
    fn send_reset_record_sockaddr_ports_in_network_order_null_socket() {
        let mut r = record(2280, 0, 88);
        // struct sockaddr_in: family (host order), port (network order), address.
        put(&mut r, 32, &AF_INET.to_ne_bytes());
        put(&mut r, 34, &8080u16.to_be_bytes());
        put(&mut r, 36, &[127, 0, 0, 1]);
        put(&mut r, 60, &AF_INET6.to_ne_bytes());
        put(&mut r, 62, &40000u16.to_be_bytes());
        put(&mut r, 68, &Ipv6Addr::LOCALHOST.octets());
        let Decoded::Event { event, ports } = decoder().decode(5, &r) else { panic!() };
        assert_eq!(ports, (8080, 40000));
        assert_eq!(
            event.body,
            Body::Kernel(KernelNote::ResetSent { local: "127.0.0.1:8080".parse().unwrap(), remote: "[::1]:40000".parse().unwrap(), sk: None })
        );
    }

    #[test]
    fn receive_reset_and_retransmit_records_notes() {
        let mut r = record(2279, 1, 72);
        put(&mut r, 8, &1u64.to_ne_bytes());
        put(&mut r, 16, &40000u16.to_ne_bytes());
        put(&mut r, 18, &8080u16.to_ne_bytes());
        put(&mut r, 20, &AF_INET.to_ne_bytes());
        put(&mut r, 22, &[127, 0, 0, 1]);
        put(&mut r, 26, &[127, 0, 0, 1]);
        let Decoded::Event { event, ports } = decoder().decode(0, &r) else { panic!() };
        assert_eq!(ports, (40000, 8080));
        assert!(matches!(event.body, Body::Kernel(KernelNote::ResetReceived { sk: Some(1), .. })));

        let mut r = record(2281, 1, 80);
        put(&mut r, 24, &1u32.to_ne_bytes());
        put(&mut r, 28, &40000u16.to_ne_bytes());
        put(&mut r, 32, &AF_INET.to_ne_bytes());
        let Decoded::Event { event, .. } = decoder().decode(0, &r) else { panic!() };
        assert!(matches!(event.body, Body::Kernel(KernelNote::Retransmit { state: Some(State::Established), sk: None, .. })));
    }

    #[test]
    fn format_missing_a_field_names_tracepoint_and_field() {
        let mut formats = [INET_SOCK_SET_STATE, TCP_SEND_RESET, TCP_RECEIVE_RESET, TCP_RETRANSMIT_SKB].map(|text| Format::parse(text).unwrap());
        formats[2].fields.retain(|f| f.name != "dport");
        assert_eq!(Decoder::new(&formats).unwrap_err(), (2, FormatError::MissingField { field: "dport" }));
    }
}
