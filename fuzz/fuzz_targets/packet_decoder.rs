//! The frame decoder on arbitrary bytes, for every link type it knows: a packet, `None` for
//! other protocols, or a decode error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    socktrace::fuzzing::decode_frame(data);
});
