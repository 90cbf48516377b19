//! Socket addresses as the same endpoint, however a socket reports them.

use std::net::SocketAddr;

/// An IPv4 address seen through an IPv6 socket (`[::ffff:127.0.0.1]:80`) is the same
/// endpoint as its IPv4 self (`127.0.0.1:80`): one form for both, to compare and to look up.
pub fn canon(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_mapped_address_is_its_ipv4_self_and_others_stay() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:80".parse().unwrap();
        assert_eq!(canon(mapped), "127.0.0.1:80".parse().unwrap());
        for same in ["127.0.0.1:80", "[::1]:80", "[fe80::1]:9"] {
            let addr: SocketAddr = same.parse().unwrap();
            assert_eq!(canon(addr), addr);
        }
    }
}
