//! From bytes on the wire to decoded packets (pure: no capture here).

pub mod addr;
pub mod decode;
pub mod flags;
pub mod link;
pub mod peek;
