//! `trace export` on any trace the reader accepts: a pcap file the capture reader reads back,
//! and a packetdrill script from each side with nothing in it that packetdrill would run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    socktrace::fuzzing::export(data);
});
