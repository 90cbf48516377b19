//! The readiness calls: which followed sockets a `poll`, `select` or `epoll_wait` watches,
//! how long it may wait, and which sockets it found ready. An event loop (`select`, epoll) or
//! a non-blocking `connect` learns here what the kernel did; the trace shows it on the socket.

use super::memory;

/// One `struct pollfd`: a descriptor, the events asked for, the events found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollFd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

/// At most this many entries are read from a tracee's array: a poll over more descriptors
/// than this is shown with the sockets among the first ones.
const MAX_ENTRIES: u64 = 1024;

/// The `struct pollfd` entries in `bytes` (8 bytes each).
pub fn pollfds(bytes: &[u8]) -> Vec<PollFd> {
    bytes
        .chunks_exact(8)
        .map(|c| PollFd {
            fd: i32::from_ne_bytes([c[0], c[1], c[2], c[3]]),
            events: i16::from_ne_bytes([c[4], c[5]]),
            revents: i16::from_ne_bytes([c[6], c[7]]),
        })
        .collect()
}

pub fn read_pollfds(tid: i32, addr: u64, count: u64) -> Vec<PollFd> {
    memory::read(tid, addr, (count.min(MAX_ENTRIES) * 8) as usize).map(|b| pollfds(&b)).unwrap_or_default()
}

/// The descriptors set in an `fd_set` of `nfds` bits.
pub fn fd_set_members(bytes: &[u8], nfds: u64) -> Vec<i32> {
    let mut fds = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        for bit in 0..8 {
            let fd = (i * 8 + bit) as u64;
            if fd < nfds && byte & (1 << bit) != 0 {
                fds.push(fd as i32);
            }
        }
    }
    fds
}

/// An `fd_set` in the tracee (none at a null pointer).
pub fn read_fd_set(tid: i32, addr: u64, nfds: u64) -> Vec<i32> {
    if addr == 0 {
        return Vec::new();
    }
    let nfds = nfds.min(MAX_ENTRIES);
    let len = nfds.div_ceil(64) * 8;
    memory::read(tid, addr, len as usize).map(|b| fd_set_members(&b, nfds)).unwrap_or_default()
}

/// `struct epoll_event` is packed on x86_64 (12 bytes: events, then the 8-byte data), and
/// naturally aligned elsewhere (16 bytes).
#[cfg(target_arch = "x86_64")]
const EPOLL_EVENT_LEN: usize = 12;
#[cfg(not(target_arch = "x86_64"))]
const EPOLL_EVENT_LEN: usize = 16;

/// The (events, data) pairs of an `epoll_event` array.
pub fn epoll_events(bytes: &[u8]) -> Vec<(u32, u64)> {
    let data_at = EPOLL_EVENT_LEN - 8;
    bytes
        .chunks_exact(EPOLL_EVENT_LEN)
        .filter_map(|c| {
            let events = u32::from_ne_bytes(c[..4].try_into().ok()?);
            let data = u64::from_ne_bytes(c[data_at..].try_into().ok()?);
            Some((events, data))
        })
        .collect()
}

pub fn read_epoll_events(tid: i32, addr: u64, count: u64) -> Vec<(u32, u64)> {
    memory::read(tid, addr, count.min(MAX_ENTRIES) as usize * EPOLL_EVENT_LEN).map(|b| epoll_events(&b)).unwrap_or_default()
}

/// `epoll_ctl`'s event: what it asks for, and the number to hand back.
pub fn read_epoll_event(tid: i32, addr: u64) -> Option<(u32, u64)> {
    read_epoll_events(tid, addr, 1).into_iter().next()
}

/// A `struct timespec` (`ppoll`, `pselect6`, `epoll_pwait2`) or `struct timeval` (`select`)
/// in ms; `None` at a null pointer, which waits for ever. `sub_per_ms` is 1,000,000 for a
/// timespec's nanoseconds, 1,000 for a timeval's microseconds.
pub fn read_timeout(tid: i32, addr: u64, sub_per_ms: i64) -> Option<i64> {
    if addr == 0 {
        return None;
    }
    let raw = memory::read(tid, addr, 16).ok()?;
    let secs = i64::from_ne_bytes(raw.get(..8)?.try_into().ok()?);
    let sub = i64::from_ne_bytes(raw.get(8..16)?.try_into().ok()?);
    Some(secs.saturating_mul(1000).saturating_add(sub / sub_per_ms))
}

/// A timeout given as an `int` of ms (`poll`, `epoll_wait`): negative waits for ever.
pub fn ms_timeout(arg: u64) -> Option<i64> {
    let ms = arg as i32;
    (ms >= 0).then_some(i64::from(ms))
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn pollfd_array__fd_events_revents() {
        let mut bytes = Vec::new();
        for (fd, ev, rev) in [(3i32, libc::POLLIN, 0i16), (-1, 0, 0), (7, libc::POLLOUT, libc::POLLOUT)] {
            bytes.extend(fd.to_ne_bytes());
            bytes.extend(ev.to_ne_bytes());
            bytes.extend(rev.to_ne_bytes());
        }
        let fds = pollfds(&bytes);
        assert_eq!(fds.len(), 3);
        assert_eq!(fds[2], PollFd { fd: 7, events: libc::POLLOUT, revents: libc::POLLOUT });
    }

    #[test]
    fn fd_set__members_below_nfds_only() {
        let mut set = [0u8; 16];
        set[0] = 0b1000_1000; // 3 and 7
        set[8] = 0b0000_0001; // 64
        assert_eq!(fd_set_members(&set, 65), [3, 7, 64]);
        assert_eq!(fd_set_members(&set, 8), [3, 7]);
    }

    #[test]
    fn epoll_event_array__events_and_data() {
        let mut bytes = Vec::new();
        for (events, data) in [(libc::EPOLLIN as u32, 5u64), (libc::EPOLLOUT as u32, 0xdead_beef)] {
            bytes.extend(events.to_ne_bytes());
            bytes.resize(bytes.len() + EPOLL_EVENT_LEN - 12, 0);
            bytes.extend(data.to_ne_bytes());
        }
        assert_eq!(epoll_events(&bytes), [(libc::EPOLLIN as u32, 5), (libc::EPOLLOUT as u32, 0xdead_beef)]);
        assert_eq!(ms_timeout(u64::from(u32::MAX)), None, "-1 waits for ever");
        assert_eq!(ms_timeout(250), Some(250));
    }
}
