//! Flags, commands and option names as the manual pages spell them, for the calls that
//! change how a socket behaves rather than where it is in its life.

/// The names of the bits set in `value` from `table`, joined with `|`; bits the table does not
/// know are shown in hex. `None` when no bit is set.
fn bits(value: u64, table: &[(u64, &str)]) -> Option<String> {
    if value == 0 {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    let mut rest = value;
    for &(bit, name) in table {
        if bit != 0 && value & bit == bit {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    Some(names.join("|"))
}

/// `accept4`'s flags: `SOCK_NONBLOCK|SOCK_CLOEXEC`.
pub fn accept4(flags: u64) -> Option<String> {
    bits(flags, &[(libc::SOCK_NONBLOCK as u64, "SOCK_NONBLOCK"), (libc::SOCK_CLOEXEC as u64, "SOCK_CLOEXEC")])
}

/// The flags of a `send`, `recv` or their relatives: `MSG_NOSIGNAL`, `MSG_DONTWAIT`…
pub fn msg(flags: u64) -> Option<String> {
    let table = [
        (libc::MSG_OOB, "MSG_OOB"),
        (libc::MSG_PEEK, "MSG_PEEK"),
        (libc::MSG_DONTROUTE, "MSG_DONTROUTE"),
        (libc::MSG_TRUNC, "MSG_TRUNC"),
        (libc::MSG_DONTWAIT, "MSG_DONTWAIT"),
        (libc::MSG_EOR, "MSG_EOR"),
        (libc::MSG_WAITALL, "MSG_WAITALL"),
        (libc::MSG_CONFIRM, "MSG_CONFIRM"),
        (libc::MSG_NOSIGNAL, "MSG_NOSIGNAL"),
        (libc::MSG_MORE, "MSG_MORE"),
        (libc::MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"),
        (libc::MSG_ZEROCOPY, "MSG_ZEROCOPY"),
        (libc::MSG_FASTOPEN, "MSG_FASTOPEN"),
    ];
    let table: Vec<(u64, &str)> = table.iter().map(|&(b, n)| (b as u32 as u64, n)).collect();
    bits(flags, &table)
}

/// A file's status flags as `fcntl(F_GETFL)` answers and `F_SETFL` takes them: the access
/// mode, then `O_NONBLOCK`, `O_APPEND`…
pub fn file_status(flags: u64) -> String {
    let mode = match flags & libc::O_ACCMODE as u64 {
        m if m == libc::O_RDONLY as u64 => "O_RDONLY",
        m if m == libc::O_WRONLY as u64 => "O_WRONLY",
        _ => "O_RDWR",
    };
    let table = [
        (libc::O_NONBLOCK as u64, "O_NONBLOCK"),
        (libc::O_APPEND as u64, "O_APPEND"),
        (libc::O_ASYNC as u64, "O_ASYNC"),
        (libc::O_DIRECT as u64, "O_DIRECT"),
        (libc::O_NOATIME as u64, "O_NOATIME"),
    ];
    match bits(flags & !(libc::O_ACCMODE as u64), &table) {
        Some(rest) => format!("{mode}|{rest}"),
        None => mode.to_string(),
    }
}

/// What an `fcntl` call does, as its command and argument: `F_SETFL, O_RDWR|O_NONBLOCK`,
/// `F_GETFL`, `F_DUPFD_CLOEXEC, 3`, `F_SETFD, FD_CLOEXEC`.
pub fn fcntl(cmd: i32, arg: u64) -> String {
    match cmd {
        libc::F_GETFL => "F_GETFL".to_string(),
        libc::F_SETFL => format!("F_SETFL, {}", file_status(arg)),
        libc::F_GETFD => "F_GETFD".to_string(),
        libc::F_SETFD if arg & libc::FD_CLOEXEC as u64 != 0 => "F_SETFD, FD_CLOEXEC".to_string(),
        libc::F_SETFD => "F_SETFD, 0".to_string(),
        libc::F_DUPFD => format!("F_DUPFD, {arg}"),
        libc::F_DUPFD_CLOEXEC => format!("F_DUPFD_CLOEXEC, {arg}"),
        libc::F_GETOWN => "F_GETOWN".to_string(),
        libc::F_SETOWN => format!("F_SETOWN, {arg}"),
        other => format!("{other}, {arg:#x}"),
    }
}

/// Whether `fcntl`'s command makes a new descriptor (its result).
pub fn fcntl_dups(cmd: i32) -> bool {
    matches!(cmd, libc::F_DUPFD | libc::F_DUPFD_CLOEXEC)
}

/// An `ioctl` request on a socket, by name where it is one a socket answers (`FIONBIO, 1`
/// switches non-blocking mode, as `fcntl` does), else by number: a runtime's terminal query
/// on a socket (`TCGETS`, answered `ENOTTY`) is shown as made.
pub fn ioctl(request: u64, value: Option<i32>) -> String {
    let name = match request {
        r if r == libc::FIONBIO => "FIONBIO",
        r if r == libc::FIONREAD => "FIONREAD",
        r if r == libc::FIOCLEX => "FIOCLEX",
        r if r == libc::FIONCLEX => "FIONCLEX",
        // SIOCOUTQ: the bytes not yet acknowledged (the same number as a terminal's TIOCOUTQ).
        r if r == libc::TIOCOUTQ => "SIOCOUTQ",
        r if r == libc::TCGETS => "TCGETS",
        other => return format!("{other:#x}"),
    };
    match value {
        Some(v) if request == libc::FIONBIO => format!("{name}, {v}"),
        _ => name.to_string(),
    }
}

/// `epoll_ctl`'s operation and the events it asks for: `EPOLL_CTL_ADD, EPOLLIN|EPOLLET`.
pub fn epoll_ctl(op: i32, events: Option<u32>) -> String {
    let op = match op {
        libc::EPOLL_CTL_ADD => "EPOLL_CTL_ADD",
        libc::EPOLL_CTL_MOD => "EPOLL_CTL_MOD",
        libc::EPOLL_CTL_DEL => return "EPOLL_CTL_DEL".to_string(),
        _ => "EPOLL_CTL_?",
    };
    match events {
        Some(events) => format!("{op}, {}", epoll_events(events)),
        None => op.to_string(),
    }
}

/// `EPOLLIN|EPOLLOUT|EPOLLET`…
pub fn epoll_events(events: u32) -> String {
    let table = [
        (libc::EPOLLIN, "EPOLLIN"),
        (libc::EPOLLPRI, "EPOLLPRI"),
        (libc::EPOLLOUT, "EPOLLOUT"),
        (libc::EPOLLERR, "EPOLLERR"),
        (libc::EPOLLHUP, "EPOLLHUP"),
        (libc::EPOLLRDNORM, "EPOLLRDNORM"),
        (libc::EPOLLWRNORM, "EPOLLWRNORM"),
        (libc::EPOLLRDHUP, "EPOLLRDHUP"),
        (libc::EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"),
        (libc::EPOLLWAKEUP, "EPOLLWAKEUP"),
        (libc::EPOLLONESHOT, "EPOLLONESHOT"),
        (libc::EPOLLET, "EPOLLET"),
    ];
    let table: Vec<(u64, &str)> = table.iter().map(|&(b, n)| (b as u32 as u64, n)).collect();
    bits(u64::from(events), &table).unwrap_or_else(|| "0".to_string())
}

/// `POLLIN|POLLOUT`…
pub fn poll_events(events: i16) -> String {
    let table = [
        (libc::POLLIN, "POLLIN"),
        (libc::POLLPRI, "POLLPRI"),
        (libc::POLLOUT, "POLLOUT"),
        (libc::POLLERR, "POLLERR"),
        (libc::POLLHUP, "POLLHUP"),
        (libc::POLLNVAL, "POLLNVAL"),
        (libc::POLLRDNORM, "POLLRDNORM"),
        (libc::POLLRDBAND, "POLLRDBAND"),
        (libc::POLLWRNORM, "POLLWRNORM"),
        (libc::POLLWRBAND, "POLLWRBAND"),
        (libc::POLLRDHUP, "POLLRDHUP"),
    ];
    let table: Vec<(u64, &str)> = table.iter().map(|&(b, n)| (b as u16 as u64, n)).collect();
    bits(u64::from(events as u16), &table).unwrap_or_else(|| "0".to_string())
}

/// An option's name. The options a lesson talks about, and the ones runtimes set on their
/// own (Go's keep-alive times, Java's buffer sizes), are named; any other shows as its level
/// and number, `SOL_SOCKET/49`, never dropped.
pub fn option_name(level: i32, name: i32) -> String {
    let known = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => "SO_REUSEADDR",
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => "SO_REUSEPORT",
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => "SO_KEEPALIVE",
        (libc::SOL_SOCKET, libc::SO_LINGER) => "SO_LINGER",
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => "SO_RCVBUF",
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => "SO_SNDBUF",
        (libc::SOL_SOCKET, libc::SO_ERROR) => "SO_ERROR",
        (libc::SOL_SOCKET, libc::SO_TYPE) => "SO_TYPE",
        (libc::SOL_SOCKET, libc::SO_BROADCAST) => "SO_BROADCAST",
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => "SO_RCVTIMEO",
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => "SO_SNDTIMEO",
        (libc::SOL_SOCKET, libc::SO_RCVLOWAT) => "SO_RCVLOWAT",
        (libc::SOL_SOCKET, libc::SO_OOBINLINE) => "SO_OOBINLINE",
        (libc::SOL_SOCKET, libc::SO_PRIORITY) => "SO_PRIORITY",
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => "SO_DOMAIN",
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => "SO_PROTOCOL",
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => "SO_ACCEPTCONN",
        (libc::SOL_SOCKET, libc::SO_ATTACH_FILTER) => "SO_ATTACH_FILTER",
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => "TCP_NODELAY",
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => "TCP_MAXSEG",
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => "TCP_KEEPIDLE",
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => "TCP_KEEPINTVL",
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => "TCP_KEEPCNT",
        (libc::IPPROTO_TCP, libc::TCP_QUICKACK) => "TCP_QUICKACK",
        (libc::IPPROTO_TCP, libc::TCP_FASTOPEN) => "TCP_FASTOPEN",
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => "TCP_USER_TIMEOUT",
        (libc::IPPROTO_TCP, libc::TCP_INFO) => "TCP_INFO",
        (libc::IPPROTO_TCP, libc::TCP_REPAIR) => "TCP_REPAIR",
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => "TCP_CONGESTION",
        (libc::IPPROTO_IP, libc::IP_TOS) => "IP_TOS",
        (libc::IPPROTO_IP, libc::IP_RECVERR) => "IP_RECVERR",
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => "IPV6_V6ONLY",
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) => "IPV6_RECVERR",
        _ => {
            let level = match level {
                libc::SOL_SOCKET => "SOL_SOCKET".to_string(),
                libc::IPPROTO_TCP => "SOL_TCP".to_string(),
                libc::IPPROTO_IP => "SOL_IP".to_string(),
                libc::IPPROTO_IPV6 => "SOL_IPV6".to_string(),
                libc::IPPROTO_UDP => "SOL_UDP".to_string(),
                other => other.to_string(),
            };
            return format!("{level}/{name}");
        }
    };
    known.to_string()
}

/// The option as the trace shows it: its name when set to 1 (the common case, and what
/// `setsockopt(s, NAME, 1)` reads as), `NAME=value` otherwise; `SO_LINGER` shows its
/// `struct linger` as `on,Ns` or `off`, the timeouts their `struct timeval`, `SO_ERROR` the
/// error's name, `TCP_CONGESTION` its algorithm, `TCP_INFO` nothing of its large struct, nor
/// `SO_ATTACH_FILTER` of its filter program (a length and a pointer).
pub fn option_value(name: &str, value: &[u8]) -> String {
    let int_at = |off: usize| value.get(off..off + 4).and_then(|b| b.try_into().ok()).map(i32::from_ne_bytes);
    let long_at = |off: usize| value.get(off..off + 8).and_then(|b| b.try_into().ok()).map(i64::from_ne_bytes);
    match name {
        "SO_LINGER" => match (int_at(0), int_at(4)) {
            (Some(0), _) => "SO_LINGER=off".to_string(),
            (Some(_), Some(secs)) => format!("SO_LINGER=on,{secs}s"),
            _ => name.to_string(),
        },
        "SO_RCVTIMEO" | "SO_SNDTIMEO" => match (long_at(0), long_at(8)) {
            (Some(s), Some(us)) => format!("{name}={}ms", s * 1000 + us / 1000),
            _ => name.to_string(),
        },
        "SO_ERROR" => match int_at(0) {
            Some(0) => "SO_ERROR=0".to_string(),
            Some(code) => format!("SO_ERROR={}", crate::errno::errno(code).name),
            None => name.to_string(),
        },
        "TCP_CONGESTION" => {
            let algo: String = value.iter().take_while(|&&b| b != 0).filter(|b| b.is_ascii_graphic()).map(|&b| b as char).collect();
            format!("{name}={algo}")
        }
        "TCP_INFO" | "SO_ATTACH_FILTER" => name.to_string(),
        _ => match int_at(0) {
            Some(1) | None => name.to_string(),
            Some(v) => format!("{name}={v}"),
        },
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn flags_read_as_the_manual_writes_them() {
        assert_eq!(accept4(libc::SOCK_NONBLOCK as u64 | libc::SOCK_CLOEXEC as u64).as_deref(), Some("SOCK_NONBLOCK|SOCK_CLOEXEC"));
        assert_eq!(accept4(0), None);
        assert_eq!(msg(libc::MSG_NOSIGNAL as u64).as_deref(), Some("MSG_NOSIGNAL"));
        assert_eq!(fcntl(libc::F_SETFL, (libc::O_RDWR | libc::O_NONBLOCK) as u64), "F_SETFL, O_RDWR|O_NONBLOCK");
        assert_eq!(fcntl(libc::F_GETFL, 0), "F_GETFL");
        assert_eq!(epoll_ctl(libc::EPOLL_CTL_ADD, Some((libc::EPOLLIN | libc::EPOLLET) as u32)), "EPOLL_CTL_ADD, EPOLLIN|EPOLLET");
        assert_eq!(poll_events(libc::POLLIN | libc::POLLOUT), "POLLIN|POLLOUT");
        assert_eq!(ioctl(libc::FIONBIO, Some(1)), "FIONBIO, 1");
        assert_eq!(ioctl(libc::TCGETS, None), "TCGETS", "a terminal's request, made on a socket");
        assert_eq!(ioctl(0x1234, None), "0x1234");
    }

    #[test]
    fn options__named_or_shown_by_number__never_dropped() {
        assert_eq!(option_name(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), "TCP_KEEPIDLE");
        assert_eq!(option_name(libc::SOL_SOCKET, 4242), "SOL_SOCKET/4242");
        assert_eq!(option_value("TCP_NODELAY", &1i32.to_ne_bytes()), "TCP_NODELAY");
        assert_eq!(option_value("SO_RCVBUF", &65536i32.to_ne_bytes()), "SO_RCVBUF=65536");
        assert_eq!(option_value("SO_ERROR", &libc::ECONNREFUSED.to_ne_bytes()), "SO_ERROR=ECONNREFUSED");
        assert_eq!(option_value("SO_ERROR", &0i32.to_ne_bytes()), "SO_ERROR=0");
        let linger: Vec<u8> = [1i32, 0].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(option_value("SO_LINGER", &linger), "SO_LINGER=on,0s");
        let timeval: Vec<u8> = [3i64, 500_000].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(option_value("SO_RCVTIMEO", &timeval), "SO_RCVTIMEO=3500ms");
        let fprog: Vec<u8> = [7u64, 0x7fff_0000_1000].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(option_value(&option_name(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER), &fprog), "SO_ATTACH_FILTER", "no length or pointer shown");
        assert_eq!(option_name(libc::IPPROTO_TCP, libc::TCP_REPAIR), "TCP_REPAIR");
    }
}
