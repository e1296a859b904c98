//! Fuzz target `file_decode`: a media file decoded through symphonia as `jitterplay play FILE` does, a few seconds at most.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitterplay::fuzzing::file_decode(data));
