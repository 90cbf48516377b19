//! Which sockets belong to the session: those with one of its ports at either end. The kernel
//! filters by port where a tracepoint has port fields, so that other sockets never reach the
//! buffer; the reader filters again with [`PortSet`], which covers `tcp_send_reset` (its
//! addresses are `sockaddr` arrays, which ftrace filters cannot look into).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::{Body, Event, KernelNote};

/// The kernel refuses a filter of a page or more; beyond this length we filter in the reader.
const MAX_FILTER_LEN: usize = 4000;

/// The session's ports, read by every reader thread at every record without a lock.
pub struct PortSet {
    bits: Vec<AtomicU64>,
}

impl PortSet {
    pub fn new(ports: &[u16]) -> PortSet {
        let set = PortSet { bits: (0..65536 / 64).map(|_| AtomicU64::new(0)).collect() };
        set.replace(ports);
        set
    }

    /// Replaces the set. A reader racing with it may see a mix of old and new ports for a few
    /// records, which is no worse than the kernel filter's own switch-over.
    pub fn replace(&self, ports: &[u16]) {
        let mut words = vec![0u64; self.bits.len()];
        for &p in ports {
            words[usize::from(p) / 64] |= 1 << (p % 64);
        }
        for (bits, word) in self.bits.iter().zip(words) {
            bits.store(word, Ordering::Relaxed);
        }
    }

    pub fn contains(&self, port: u16) -> bool {
        self.bits[usize::from(port) / 64].load(Ordering::Relaxed) & (1 << (port % 64)) != 0
    }

    /// A record concerns the session when either of its ports is one of the session's.
    pub fn matches(&self, (local, remote): (u16, u16)) -> bool {
        self.contains(local) || self.contains(remote)
    }
}

/// The ftrace filter for a tracepoint with `sport`/`dport` fields, optionally also requiring
/// `protocol == 6` (TCP; `inet_sock_set_state` also reports SCTP and MPTCP sockets).
///
/// Both ports are tested: SYN-SENT is logged with `sport` 0 and only `dport` tells whose it is.
/// With no ports the filter matches nothing (no socket has both ports 0); with too many it
/// keeps only the protocol test, or is none, and leaves the ports to [`PortSet`].
pub fn port_filter(ports: &[u16], tcp_only: bool) -> Option<String> {
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    let protocol = if tcp_only { "protocol == 6 && " } else { "" };
    if ports.is_empty() {
        return Some(format!("{protocol}sport == 0 && dport == 0"));
    }
    let any_port = ports.iter().map(|p| format!("sport == {p} || dport == {p}")).collect::<Vec<_>>().join(" || ");
    let filter = format!("{protocol}({any_port})");
    if filter.len() <= MAX_FILTER_LEN {
        Some(filter)
    } else {
        tcp_only.then(|| "protocol == 6".to_string())
    }
}

/// Whether an event is about a socket of one of `hosts` (either end's address); any socket
/// when `hosts` is empty. Sessions on separate hosts filter by address as well as by port:
/// every network namespace has the full port range, and tracepoints see them all.
pub fn on_hosts(hosts: &[IpAddr], event: &Event) -> bool {
    if hosts.is_empty() {
        return true;
    }
    let ends = match &event.body {
        Body::State(change) => [change.local, change.remote],
        Body::Kernel(
            KernelNote::ResetSent { local, remote, .. } | KernelNote::ResetReceived { local, remote, .. } | KernelNote::Retransmit { local, remote, .. },
        ) => [Some(*local), Some(*remote)],
        _ => return false,
    };
    ends.iter().flatten().any(|end| hosts.contains(&end.ip()))
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;

    #[test]
    fn on_hosts__either_end_on_a_host_or_any_without_hosts() {
        use crate::event::{Actor, Origin, Role, StateChange};
        use crate::tcp::State;
        let change = |local: &str, remote: &str| Event {
            t: 0,
            actor: Actor::role(Role::Unknown),
            socket: None,
            origin: Origin::Observed,
            body: Body::State(StateChange {
                from: State::Closed,
                to: State::SynSent,
                local: local.parse().ok(),
                remote: remote.parse().ok(),
                sk: None,
                model: None,
            }),
        };
        let hosts: [IpAddr; 2] = ["192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip")];
        assert!(on_hosts(&hosts, &change("192.0.2.1:0", "192.0.2.2:7")));
        assert!(on_hosts(&hosts, &change("0.0.0.0:7", "192.0.2.1:40000")));
        assert!(!on_hosts(&hosts, &change("127.0.0.1:40000", "127.0.0.1:7")));
        assert!(on_hosts(&[], &change("127.0.0.1:40000", "127.0.0.1:7")));
    }

    #[test]
    fn port_filter_either_end_and_tcp() {
        let filter = port_filter(&[8080, 80, 8080], true);
        assert_eq!(filter.as_deref(), Some("protocol == 6 && (sport == 80 || dport == 80 || sport == 8080 || dport == 8080)"));
        assert_eq!(port_filter(&[5], false).as_deref(), Some("(sport == 5 || dport == 5)"));
    }

    #[test]
    fn port_filter_no_ports_matches_nothing_too_many_falls_back() {
        assert_eq!(port_filter(&[], true).as_deref(), Some("protocol == 6 && sport == 0 && dport == 0"));
        let many: Vec<u16> = (10000..10200).collect();
        assert_eq!(port_filter(&many, true).as_deref(), Some("protocol == 6"));
        assert_eq!(port_filter(&many, false), None);
    }

    #[test]
    fn port_set_either_port_matches_and_replace_forgets() {
        let set = PortSet::new(&[0x1234, 65535]);
        assert!(set.matches((0, 0x1234)) && set.matches((65535, 1)));
        assert!(!set.matches((0, 0x1235)));
        set.replace(&[7]);
        assert!(set.contains(7) && !set.contains(0x1234));
    }
}
