//! What can go wrong when tracing kernel TCP states, each saying what to do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::format::FormatError;

/// An error of the kernel-state lens.
#[derive(Debug)]
pub enum TracefsError {
    /// tracefs refused us: we are not root (or lack CAP_SYS_ADMIN / CAP_PERFMON). The lens
    /// reads the tracepoints' ids and layouts there.
    NotPermitted { path: PathBuf },
    /// tracefs is not mounted and mounting it failed.
    NotMountable { path: PathBuf, err: io::Error },
    /// This kernel does not have a tracepoint we need (`sock:inet_sock_set_state`).
    TracepointMissing { name: &'static str },
    /// A tracepoint's format file does not describe the record we know how to read.
    Format { name: &'static str, err: FormatError },
    /// The kernel refused a perf event on a tracepoint: we are not root (or lack
    /// CAP_PERFMON), with `perf_event_paranoid` this high.
    PerfNotPermitted { tracepoint: &'static str, paranoid: Option<i32> },
    /// The kernel rejected a port filter (the filter text is in the message).
    FilterRejected { tracepoint: &'static str, filter: String, err: io::Error },
    /// Any other failure of a perf event (open, map, ioctl).
    Perf { action: &'static str, tracepoint: &'static str, err: io::Error },
    /// Any other I/O failure on a tracefs file.
    Io { action: &'static str, path: PathBuf, err: io::Error },
}

impl TracefsError {
    /// Wraps an I/O error on a tracefs file, telling a refusal of privilege apart.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, err: io::Error) -> TracefsError {
        let path = path.into();
        match err.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => TracefsError::NotPermitted { path },
            _ => TracefsError::Io { action, path, err },
        }
    }

    /// Wraps a failure of a perf event on `tracepoint`, telling a refusal of privilege apart.
    pub(crate) fn perf(action: &'static str, tracepoint: &'static str, err: io::Error) -> TracefsError {
        match err.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => {
                let paranoid = std::fs::read_to_string(PARANOID).ok().and_then(|text| text.trim().parse().ok());
                TracefsError::PerfNotPermitted { tracepoint, paranoid }
            }
            _ => TracefsError::Perf { action, tracepoint, err },
        }
    }
}

/// Who may open perf events: above 0, only root or CAP_PERFMON may watch every task of a CPU.
const PARANOID: &str = "/proc/sys/kernel/perf_event_paranoid";

impl fmt::Display for TracefsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TracefsError::NotPermitted { path } => {
                write!(f, "kernel TCP states need tracefs (root, or CAP_SYS_ADMIN/CAP_PERFMON): run with sudo ({} was refused)", path.display())
            }
            TracefsError::NotMountable { path, err } => write!(
                f,
                "kernel TCP states need tracefs, which is not mounted, and mounting it on {} failed ({err}): \
                 mount it with `mount -t tracefs nodev /sys/kernel/tracing`",
                path.display()
            ),
            TracefsError::TracepointMissing { name } => write!(
                f,
                "this kernel has no tracepoint {name} (expected under tracefs events/): \
                 kernel TCP states need Linux 4.16 or later with CONFIG_TRACEPOINTS"
            ),
            TracefsError::Format { name, err } => {
                write!(f, "tracepoint {name} has a record layout socktrace cannot read: {err}")
            }
            TracefsError::PerfNotPermitted { tracepoint, paranoid } => {
                write!(f, "kernel TCP states need perf events (root, or CAP_PERFMON): run with sudo (a perf event on {tracepoint} was refused")?;
                match paranoid {
                    Some(level) => write!(f, "; {PARANOID} is {level})"),
                    None => write!(f, ")"),
                }
            }
            TracefsError::FilterRejected { tracepoint, filter, err } => {
                write!(f, "the kernel rejected the event filter `{filter}` on {tracepoint} ({err})")
            }
            TracefsError::Perf { action, tracepoint, err } => write!(f, "could not {action} on {tracepoint}: {err}"),
            TracefsError::Io { action, path, err } => write!(f, "could not {action} ({}): {err}", path.display()),
        }
    }
}

impl std::error::Error for TracefsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TracefsError::NotMountable { err, .. }
            | TracefsError::FilterRejected { err, .. }
            | TracefsError::Perf { err, .. }
            | TracefsError::Io { err, .. } => Some(err),
            TracefsError::Format { err, .. } => Some(err),
            TracefsError::NotPermitted { .. } | TracefsError::PerfNotPermitted { .. } | TracefsError::TracepointMissing { .. } => None,
        }
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names read `situation__expectation`
mod tests {
    use super::*;

    #[test]
    fn perf_event_refused__says_which_privilege_and_what_to_do() {
        let err = TracefsError::perf("open a perf event", "sock:inet_sock_set_state", io::Error::from_raw_os_error(libc::EACCES));
        assert!(matches!(err, TracefsError::PerfNotPermitted { tracepoint: "sock:inet_sock_set_state", .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("kernel TCP states need perf events (root, or CAP_PERFMON): run with sudo"), "{text}");
        assert!(text.contains("sock:inet_sock_set_state was refused"), "{text}");
        let other = TracefsError::perf("map a CPU's ring", "tcp:tcp_send_reset", io::Error::from_raw_os_error(libc::ENOMEM));
        assert!(other.to_string().starts_with("could not map a CPU's ring on tcp:tcp_send_reset: "), "{other}");
    }
}
