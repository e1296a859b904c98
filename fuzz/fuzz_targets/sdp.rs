//! Fuzz target `sdp`: a session description through the player's and capture naming's SDP parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitterplay::fuzzing::sdp(data));
