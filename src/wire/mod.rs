//! From bytes on the wire to decoded packets (pure: no capture here).

pub mod decode;
pub mod flags;
pub mod link;
pub mod peek;
