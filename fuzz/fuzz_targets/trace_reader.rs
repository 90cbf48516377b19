//! The trace reader on arbitrary bytes: every input is a trace or a one-line error, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    socktrace::fuzzing::read_trace(data);
});
