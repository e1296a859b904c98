//! Fuzz target `rtp_packet`: one RTP packet through header parsing and every payload decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitterplay::fuzzing::rtp_packet(data));
