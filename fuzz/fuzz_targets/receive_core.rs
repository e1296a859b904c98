//! Fuzz target `receive_core`: a little program of datagrams, ticks and produce calls driving the receive core.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitterplay::fuzzing::receive_core(data));
