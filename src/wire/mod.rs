//! From bytes on the wire to decoded packets (pure: no capture here).

pub(crate) mod addr;
pub mod decode;
pub(crate) mod link;
pub(crate) mod peek;
