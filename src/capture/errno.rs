//! Errno numbers and their symbolic names, shared by every lens that records a call's result.

use crate::event::Errno;

/// The errno with its symbolic name (`ECONNREFUSED`).
pub fn errno(code: i32) -> Errno {
    let name = match name(code) {
        "" => format!("errno {code}"),
        known => known.to_string(),
    };
    Errno { code, name }
}

/// The symbolic name of an errno: those a socket call (or a runtime's call on a socket)
/// meets; empty for any other number.
pub fn name(code: i32) -> &'static str {
    match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ESHUTDOWN => "ESHUTDOWN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::ENOTTY => "ENOTTY",
        libc::ESPIPE => "ESPIPE",
        libc::EIO => "EIO",
        libc::ENOSPC => "ENOSPC",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENXIO => "ENXIO",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EPROTO => "EPROTO",
        libc::ENETRESET => "ENETRESET",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::ETOOMANYREFS => "ETOOMANYREFS",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_codes_have_their_names_and_others_a_generic_one() {
        assert_eq!(super::errno(libc::ECONNREFUSED).name, "ECONNREFUSED");
        assert_eq!(super::errno(libc::ENOTTY).name, "ENOTTY");
        assert_eq!(super::errno(4095).name, "errno 4095");
    }

    #[test]
    fn the_table_names_every_code_as_nix_does() {
        for code in 0..4096 {
            let name = super::name(code);
            if !name.is_empty() {
                assert_eq!(format!("{:?}", nix::errno::Errno::from_raw(code)), name, "errno {code}");
            }
        }
    }
}
