//! A traced socket's addresses as the kernel knows them. The tracer cannot make the tracee
//! call `getsockname`, but it can take a duplicate of the tracee's descriptor
//! (`pidfd_getfd`, Linux 5.6) and ask about it itself: exact even for a port the kernel
//! chose (`bind` to port 0, the client's port of a `connect`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::decode;

/// A handle on one traced process.
pub struct ProcessFd(OwnedFd);

impl ProcessFd {
    pub fn open(pid: i32) -> io::Result<ProcessFd> {
        // SAFETY: pidfd_open takes a pid and flags; the result is checked.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        Ok(ProcessFd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// The local and peer addresses of the process's descriptor `fd`. The duplicate is closed
    /// before this returns, so that it never keeps the socket open behind the program's back.
    pub fn addresses(&self, fd: i32) -> io::Result<(Option<SocketAddr>, Option<SocketAddr>)> {
        // SAFETY: pidfd_getfd takes a pidfd, a descriptor number and flags; checked below.
        let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.0.as_raw_fd(), fd, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` is a new descriptor (close-on-exec) that nothing else owns.
        let dup = unsafe { OwnedFd::from_raw_fd(dup as i32) };
        Ok((name_of(&dup, libc::getsockname), name_of(&dup, libc::getpeername)))
    }
}

type NameCall = unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

fn name_of(fd: &OwnedFd, call: NameCall) -> Option<SocketAddr> {
    // SAFETY: an all-zero sockaddr_storage is a valid (unspecified) address.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of_val(&storage) as libc::socklen_t;
    // SAFETY: `storage` is writable for `len` bytes, and `len` is updated by the kernel.
    let rc = unsafe { call(fd.as_raw_fd(), std::ptr::addr_of_mut!(storage).cast(), &mut len) };
    if rc != 0 {
        return None;
    }
    // SAFETY: the kernel wrote `len` (at most the storage's size) bytes into `storage`.
    let bytes = unsafe { std::slice::from_raw_parts(std::ptr::addr_of!(storage).cast::<u8>(), (len as usize).min(std::mem::size_of_val(&storage))) };
    decode::sockaddr(bytes)
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn own_socket__bound_address_and_no_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        // SAFETY: getpid has no preconditions.
        let me = ProcessFd::open(unsafe { libc::getpid() }).expect("pidfd_open");
        let (local, peer) = me.addresses(listener.as_raw_fd()).expect("pidfd_getfd on ourselves");
        assert_eq!(local, listener.local_addr().ok());
        assert_eq!(peer, None);
    }
}
