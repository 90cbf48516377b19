//! The pcap/pcapng reader and `trace import` on arbitrary bytes: conversations and their
//! modelled states, or a one-line error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    socktrace::fuzzing::read_capture(data);
});
