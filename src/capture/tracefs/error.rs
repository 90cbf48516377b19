//! What can go wrong when tracing kernel TCP states, each saying what to do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::format::FormatError;

/// An error of the kernel-state lens.
#[derive(Debug)]
pub enum TracefsError {
    /// tracefs refused us: we are not root (or lack CAP_SYS_ADMIN / CAP_PERFMON).
    NotPermitted { path: PathBuf },
    /// tracefs is not mounted and mounting it failed.
    NotMountable { path: PathBuf, err: io::Error },
    /// This kernel does not have a tracepoint we need (`sock:inet_sock_set_state`).
    TracepointMissing { name: &'static str },
    /// A tracepoint's format file does not describe the record we know how to read.
    Format { name: &'static str, err: FormatError },
    /// The kernel rejected a port filter (the filter text is in the message).
    FilterRejected { path: PathBuf, filter: String, err: io::Error },
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
}

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
            TracefsError::FilterRejected { path, filter, err } => {
                write!(f, "the kernel rejected the event filter `{filter}` written to {} ({err})", path.display())
            }
            TracefsError::Io { action, path, err } => write!(f, "could not {action} ({}): {err}", path.display()),
        }
    }
}

impl std::error::Error for TracefsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TracefsError::NotMountable { err, .. } | TracefsError::FilterRejected { err, .. } | TracefsError::Io { err, .. } => Some(err),
            TracefsError::Format { err, .. } => Some(err),
            TracefsError::NotPermitted { .. } | TracefsError::TracepointMissing { .. } => None,
        }
    }
}
