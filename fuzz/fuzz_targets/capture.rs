//! Fuzz target `capture`: a pcap, pcapng or rtpdump capture read and analysed as `jitterplay streams` does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitterplay::fuzzing::capture(data));
