//! `trace replay` on any trace the reader accepts: the steps, the sockets after them, a
//! search and a go-to, and the terminal screen drawn at a few sizes, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    socktrace::fuzzing::replay(data);
});
