//! Decoding a call's arguments: addresses, flags and option names as the manual pages spell
//! them, and the bytes a call sends or receives.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::memory;
use crate::event::Preview;

/// A `struct sockaddr_in` or `sockaddr_in6`, as bytes; `None` for another family or a short
/// buffer.
pub fn sockaddr(bytes: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes(bytes.get(0..2)?.try_into().ok()?));
    let port = u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        _ => None,
    }
}

/// The address a call passes in memory (`bind`, `connect`, `sendto`).
pub fn sockaddr_at(tid: i32, addr: u64, len: u64) -> Option<SocketAddr> {
    let len = usize::try_from(len).ok()?.min(std::mem::size_of::<libc::sockaddr_storage>());
    sockaddr(&memory::read(tid, addr, len).ok()?)
}

/// The address a call returns through a buffer and a length pointer (`accept`, `recvfrom`):
/// read after the call, when the kernel has written both.
pub fn returned_sockaddr(tid: i32, addr: u64, len_ptr: u64) -> Option<SocketAddr> {
    if addr == 0 || len_ptr == 0 {
        return None;
    }
    let len = memory::read_u32(tid, len_ptr).ok()?;
    sockaddr_at(tid, addr, u64::from(len))
}

pub fn domain(domain: i32) -> String {
    match domain {
        libc::AF_INET => "AF_INET".to_string(),
        libc::AF_INET6 => "AF_INET6".to_string(),
        other => format!("AF_{other}"),
    }
}

/// `SOCK_STREAM`, with the flags given alongside (`SOCK_STREAM|SOCK_CLOEXEC`).
pub fn socket_type(ty: i32) -> String {
    let mut name = match ty & 0xf {
        libc::SOCK_STREAM => "SOCK_STREAM".to_string(),
        libc::SOCK_DGRAM => "SOCK_DGRAM".to_string(),
        other => format!("SOCK_{other}"),
    };
    if ty & libc::SOCK_NONBLOCK != 0 {
        name.push_str("|SOCK_NONBLOCK");
    }
    if ty & libc::SOCK_CLOEXEC != 0 {
        name.push_str("|SOCK_CLOEXEC");
    }
    name
}

pub fn shutdown_how(how: i32) -> String {
    match how {
        libc::SHUT_RD => "SHUT_RD".to_string(),
        libc::SHUT_WR => "SHUT_WR".to_string(),
        libc::SHUT_RDWR => "SHUT_RDWR".to_string(),
        other => other.to_string(),
    }
}

/// The (base, length) pairs of an `iovec` array of `count` entries.
pub fn iovecs(tid: i32, addr: u64, count: u64) -> Vec<(u64, u64)> {
    // UIO_MAXIOV is 1024; a preview needs only the first few.
    let count = count.min(64) as usize;
    let Ok(raw) = memory::read(tid, addr, count * 16) else { return Vec::new() };
    raw.chunks_exact(16).filter_map(|c| Some((u64::from_ne_bytes(c[..8].try_into().ok()?), u64::from_ne_bytes(c[8..].try_into().ok()?)))).collect()
}

/// The bytes read for a preview: one more than a preview shows, so that it knows it was cut.
/// Only these are read of a buffer, however long.
type PreviewBytes = [u8; Preview::MAX + 1];

/// How many bytes to preview of a buffer of `len` bytes.
fn preview_len(len: u64) -> usize {
    len.min(Preview::MAX as u64 + 1) as usize
}

pub fn preview(tid: i32, addr: u64, len: u64) -> Option<Preview> {
    let mut bytes: PreviewBytes = [0; Preview::MAX + 1];
    let n = memory::read_into(tid, addr, &mut bytes[..preview_len(len)]).ok()?;
    Some(Preview::of(&bytes[..n]))
}

/// The first `len` bytes spread over `iov`, previewed.
pub fn preview_iov(tid: i32, iov: &[(u64, u64)], len: u64) -> Option<Preview> {
    let mut bytes: PreviewBytes = [0; Preview::MAX + 1];
    let want = preview_len(len);
    let mut have = 0;
    for &(base, n) in iov {
        if have == want {
            break;
        }
        let take = (n as usize).min(want - have);
        have += memory::read_into(tid, base, &mut bytes[have..have + take]).ok()?;
    }
    Some(Preview::of(&bytes[..have]))
}

/// The fields of a `struct msghdr` that matter here (64-bit layout).
pub struct MsgHdr {
    pub name: u64,
    pub name_len: u64,
    pub iov: Vec<(u64, u64)>,
}

/// The sender's address a `recvmsg` wrote into its `msghdr`'s name buffer, read after the
/// call (the kernel also updated the name's length, at offset 8).
pub fn returned_msg_name(tid: i32, msghdr: u64, name: u64) -> Option<SocketAddr> {
    let len = memory::read_u32(tid, msghdr + 8).ok()?;
    sockaddr_at(tid, name, u64::from(len))
}

pub fn msghdr(tid: i32, addr: u64) -> Option<MsgHdr> {
    let raw = memory::read(tid, addr, 32).ok()?;
    let word = |off: usize| raw.get(off..off + 8).and_then(|b| b.try_into().ok()).map(u64::from_ne_bytes);
    let (name, name_len, iov, iov_len) = (word(0)?, word(8)? & 0xffff_ffff, word(16)?, word(24)?);
    Some(MsgHdr { name, name_len, iov: iovecs(tid, iov, iov_len) })
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn sockaddr_in_and_in6__other_families_none() {
        let mut v4 = vec![0u8; 16];
        v4[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&8080u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(sockaddr(&v4), Some("127.0.0.1:8080".parse().unwrap()));
        let mut v6 = vec![0u8; 28];
        v6[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&443u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(sockaddr(&v6), Some("[::1]:443".parse().unwrap()));
        assert_eq!(sockaddr(&v4[..6]), None, "short");
        let mut unix = v4.clone();
        unix[0..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        assert_eq!(sockaddr(&unix), None);
    }

    #[test]
    fn names_read_as_the_manual_writes_them() {
        assert_eq!(socket_type(libc::SOCK_STREAM | libc::SOCK_CLOEXEC), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(shutdown_how(libc::SHUT_WR), "SHUT_WR");
    }
}
