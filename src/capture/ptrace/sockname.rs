//! A traced socket's addresses as the kernel knows them. The tracer cannot make the tracee
//! call `getsockname`, but it can take a duplicate of the tracee's descriptor
//! (`pidfd_getfd`, Linux 5.6) and ask about it itself: exact even for a port the kernel
//! chose (`bind` to port 0, the client's port of a `connect`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{getpeername, getsockname, SockaddrStorage};
use rustix::process::{pidfd_getfd, pidfd_open, Pid, PidfdFlags, PidfdGetfdFlags};

/// A handle on one traced process.
pub struct ProcessFd(OwnedFd);

impl ProcessFd {
    pub fn open(pid: i32) -> io::Result<ProcessFd> {
        let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        Ok(ProcessFd(pidfd_open(pid, PidfdFlags::empty())?))
    }

    /// The local and peer addresses of the process's descriptor `fd`. The duplicate (close-on-
    /// exec) is closed before this returns, so that it never keeps the socket open behind the
    /// program's back.
    pub fn addresses(&self, fd: i32) -> io::Result<(Option<SocketAddr>, Option<SocketAddr>)> {
        let dup = pidfd_getfd(&self.0, fd, PidfdGetfdFlags::empty())?;
        Ok((inet(getsockname(dup.as_raw_fd())), inet(getpeername(dup.as_raw_fd()))))
    }
}

/// An IPv4 or IPv6 address, as the trace writes it (no flow label or scope, as the calls
/// lens decodes addresses in a tracee's memory); `None` for another family or a failed call.
fn inet(name: nix::Result<SockaddrStorage>) -> Option<SocketAddr> {
    let name = name.ok()?;
    match (name.as_sockaddr_in(), name.as_sockaddr_in6()) {
        (Some(v4), _) => Some(SocketAddr::new(v4.ip().into(), v4.port())),
        (_, Some(v6)) => Some(SocketAddr::new(v6.ip().into(), v6.port())),
        _ => None,
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn own_socket__bound_address_and_no_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let me = ProcessFd::open(std::process::id() as i32).expect("pidfd_open");
        let (local, peer) = me.addresses(listener.as_raw_fd()).expect("pidfd_getfd on ourselves");
        assert_eq!(local, listener.local_addr().ok());
        assert_eq!(peer, None);
    }
}
