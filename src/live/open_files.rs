//! The open-file limit (RLIMIT_NOFILE): every connection of a session costs a descriptor on
//! each side we run, and the usual soft limit (1,024) is below what `--clients 1024` or a
//! busy `--serve` needs, while the hard limit usually is not.

use std::io;

/// Descriptors a session holds besides its connections: the listening socket, the packet
/// ring and its socket, the tracefs per-CPU pipes, the runtime's own, stdio.
const RESERVED: u64 = 64;

/// Raises this process's soft limit on open files to its hard limit; returns the new limit.
pub fn raise_to_hard() -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid rlimit; raising the soft limit up to the hard one needs
        // no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// How many connections a process may hold open at once with `limit` descriptors, where
/// each connection costs `per_connection` of them (2 when both ends are ours).
pub fn connections_within(limit: u64, per_connection: u64) -> u64 {
    limit.saturating_sub(RESERVED) / per_connection.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_twice_gives_the_same_limit() {
        let first = raise_to_hard().expect("getrlimit and setrlimit work on ourselves");
        assert_eq!(raise_to_hard().expect("again"), first);
        assert!(first > RESERVED);
    }

    #[test]
    fn connections_leave_room_for_the_session_itself() {
        assert_eq!(connections_within(1024, 2), 480);
        assert_eq!(connections_within(1024, 1), 960);
        assert_eq!(connections_within(10, 1), 0);
    }
}
