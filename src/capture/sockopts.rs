//! The socket options of the packet lens that nix does not define, declared with nix's own
//! `sockopt_impl!`: each is then set (or read) with `nix::sys::socket::setsockopt` (or
//! `getsockopt`) like nix's, its value passed by reference at its type's size.

use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};

sockopt_impl!(
    /// `PACKET_VERSION`: the layout of the ring's frames (`TPACKET_V3`).
    PacketVersion,
    SetOnly,
    libc::SOL_PACKET,
    libc::PACKET_VERSION,
    libc::c_int
);

sockopt_impl!(
    /// `PACKET_RX_RING`: the shape of the receive ring the kernel allocates.
    PacketRxRing,
    SetOnly,
    libc::SOL_PACKET,
    libc::PACKET_RX_RING,
    libc::tpacket_req3
);

sockopt_impl!(
    /// `PACKET_IGNORE_OUTGOING`: leave out the copies of packets leaving the interface.
    PacketIgnoreOutgoing,
    SetOnly,
    libc::SOL_PACKET,
    libc::PACKET_IGNORE_OUTGOING,
    libc::c_int
);

sockopt_impl!(
    /// `PACKET_STATISTICS`: packets received and dropped since the last reading.
    PacketStatistics,
    GetOnly,
    libc::SOL_PACKET,
    libc::PACKET_STATISTICS,
    libc::tpacket_stats_v3
);

sockopt_impl!(
    /// `SO_ATTACH_FILTER`: a classic BPF program, which the kernel copies and checks.
    AttachFilter,
    SetOnly,
    libc::SOL_SOCKET,
    libc::SO_ATTACH_FILTER,
    libc::sock_fprog
);
