//! What runs on a trace once it is read: the snapshot text, the lesson view and the diff
//! against a recorded fixture, on any trace the reader accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    socktrace::fuzzing::snapshot_and_diff(data);
});
