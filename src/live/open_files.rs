//! The open-file limit (RLIMIT_NOFILE): every connection of a session costs a descriptor on
//! each side we run, and the usual soft limit (1,024) is below what `--clients 1024` or a
//! busy `--serve` needs, while the hard limit usually is not.

use std::io;

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use crate::capture::tracefs;

/// Descriptors a session holds besides its connections and the state lens's perf events: the
/// listening socket, the packet ring and its socket, the runtime's own, stdio.
const RESERVED: u64 = 64;

/// Raises this process's soft limit on open files to its hard limit; returns the new limit.
pub fn raise_to_hard() -> io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= hard {
        return Ok(soft);
    }
    // Raising the soft limit up to the hard one needs no privilege.
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(hard)
}

/// How many connections a process may hold open at once with `limit` descriptors, where
/// each connection costs `per_connection` of them (2 when both ends are ours). The state
/// lens's share grows with the CPUs: 8 descriptors a CPU, 512 on a machine of 64.
pub fn connections_within(limit: u64, per_connection: u64) -> u64 {
    connections_beside(limit, per_connection, RESERVED + tracefs::descriptors_at_most())
}

/// The same, with `reserved` descriptors held for the session itself.
fn connections_beside(limit: u64, per_connection: u64, reserved: u64) -> u64 {
    limit.saturating_sub(reserved) / per_connection.max(1)
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
        assert_eq!(connections_beside(1024, 2, 64), 480);
        assert_eq!(connections_beside(1024, 1, 64), 960);
        assert_eq!(connections_beside(10, 1, 64), 0);
        // The state lens's perf events count on every machine: this one's too.
        let lens = tracefs::descriptors_at_most();
        assert!(lens >= 8, "a perf event per tracepoint and CPU, twice while a filter is replaced ({lens})");
        assert_eq!(connections_within(4096, 1), 4096 - RESERVED - lens);
    }
}
