//! Replays every fuzz corpus and regression input through its target's entry function, so
//! `cargo test` re-checks what the fuzzers found without cargo-fuzz or libFuzzer.

use std::fs;
use std::path::{Path, PathBuf};

use jitterplay::fuzzing;

/// The files of `dir`, sorted; empty if it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `entry` on every file of `fuzz/corpus/TARGET` (which must hold some) and of
/// `fuzz/regressions/TARGET` (which may not exist yet).
fn replay(target: &str, entry: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = inputs(&fuzz.join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target} is missing or empty: run fuzz/make-seeds.sh"
    );
    let regressions = inputs(&fuzz.join("regressions").join(target));
    for path in corpus.iter().chain(&regressions) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A panic names the input: the default hook prints the message, this the file.
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{target} panicked on {}", path.display());
    }
    eprintln!(
        "{target}: {} corpus and {} regression inputs replayed",
        corpus.len(),
        regressions.len()
    );
}

#[test]
fn rtp_packet_corpus() {
    replay("rtp_packet", fuzzing::rtp_packet);
}

#[test]
fn receive_core_corpus() {
    replay("receive_core", fuzzing::receive_core);
}

#[test]
fn sdp_corpus() {
    replay("sdp", fuzzing::sdp);
}

#[test]
fn capture_corpus() {
    replay("capture", fuzzing::capture);
}

#[test]
fn file_decode_corpus() {
    replay("file_decode", fuzzing::file_decode);
}
