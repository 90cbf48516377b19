//! Errno numbers and their symbolic names, shared by every lens that records a call's result
//! and by the model's sockets API.

use crate::event::Errno;

/// The errno with its symbolic name (`ECONNREFUSED`), as nix's `Errno` spells it; a number it
/// does not know is `errno N`. (The kernel's internal restart codes, 512–516, never reach a
/// program: `ptrace/restart.rs` takes them apart before a call's result is recorded.)
pub fn errno(code: i32) -> Errno {
    let name = match nix::errno::Errno::from_raw(code) {
        nix::errno::Errno::UnknownErrno => format!("errno {code}"),
        known => format!("{known:?}"),
    };
    Errno { code, name }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_codes_have_their_names_and_others_a_generic_one() {
        assert_eq!(super::errno(libc::ECONNREFUSED).name, "ECONNREFUSED");
        assert_eq!(super::errno(libc::ENOTTY).name, "ENOTTY");
        // EWOULDBLOCK and ENOTSUP are the same numbers on Linux: named as strace names them.
        assert_eq!(super::errno(libc::EWOULDBLOCK).name, "EAGAIN");
        assert_eq!(super::errno(libc::ENOTSUP).name, "EOPNOTSUPP");
        assert_eq!(super::errno(4095).name, "errno 4095");
        assert_eq!(super::errno(512).name, "errno 512");
    }
}
