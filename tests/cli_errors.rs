//! Every error a user can cause gets one clear line on stderr and a non-zero exit, never a panic.

mod common;

use std::process::Output;

use common::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_fails_with(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
}

#[test]
fn missing_file_is_named() {
    let out = jitterplay()
        .args(["play", "--output", "null", "no/such/file.flac"])
        .bounded_output()
        .unwrap();
    assert_fails_with(
        &out,
        1,
        "cannot open no/such/file.flac: No such file or directory",
    );
    assert_eq!(stderr(&out).lines().count(), 1);
}

#[test]
fn unsupported_file_is_refused() {
    let dir = scratch("unsupported");
    let path = dir.join("notes.txt");
    std::fs::write(
        &path,
        "this is not audio, just some text that no format reader accepts\n",
    )
    .unwrap();
    let out = jitterplay()
        .args(["play", "--output", "null"])
        .arg(&path)
        .bounded_output()
        .unwrap();
    assert_fails_with(&out, 1, "unsupported or corrupt audio file");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn truncated_header_is_refused() {
    let dir = scratch("truncated");
    let path = dir.join("cut.flac");
    let bytes = std::fs::read(asset("music-48k-stereo.flac")).unwrap();
    std::fs::write(&path, &bytes[..20]).unwrap();
    let out = jitterplay()
        .args(["play", "--output", "null"])
        .arg(&path)
        .bounded_output()
        .unwrap();
    assert_fails_with(&out, 1, "unsupported or corrupt audio file");
}

#[test]
fn corrupt_packets_are_skipped_counted_and_playback_goes_on() {
    let dir = scratch("corrupt");
    let path = dir.join("damaged.flac");
    let mut bytes = std::fs::read(asset("music-48k-stereo.flac")).unwrap();
    let n = bytes.len();
    for start in [n * 3 / 10, n * 6 / 10] {
        bytes[start..start + 300].fill(0x55);
    }
    std::fs::write(&path, &bytes).unwrap();
    let wav = dir.join("out.wav");
    let out = jitterplay()
        .args(["play", "--fast", "--output"])
        .arg(format!("wav:{}", wav.display()))
        .arg(&path)
        .bounded_output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("corrupt packet(s) skipped"),
        "{}",
        stderr(&out)
    );
    let (damaged, _, _) = read_wav(&wav);
    let (clean, _, _) = read_wav(&{
        let clean = dir.join("clean.wav");
        run_ok(
            jitterplay()
                .args(["play", "--fast", "--quiet", "--output"])
                .arg(format!("wav:{}", clean.display()))
                .arg(asset("music-48k-stereo.flac")),
        );
        clean
    });
    // Most of the file still plays: only the damaged blocks are gone.
    assert!(
        damaged.len() > clean.len() * 9 / 10,
        "{} of {}",
        damaged.len(),
        clean.len()
    );
    assert!(damaged.len() < clean.len());
}

#[test]
fn no_audio_device_says_so_in_one_line() {
    // No audio server is reachable through this environment, so the default device cannot open.
    let dir = scratch("nodevice");
    let out = jitterplay()
        .args(["play", "--output", "default"])
        .arg(asset("speech-48k-mono.wav"))
        .env_remove("RUST_LOG")
        .env("XDG_RUNTIME_DIR", &dir)
        .env("HOME", &dir)
        .env("PULSE_SERVER", "unix:/nonexistent/jitterplay-test")
        .env("PIPEWIRE_REMOTE", "/nonexistent/jitterplay-test")
        .bounded_output()
        .unwrap();
    assert_fails_with(&out, 1, "no audio output device available");
    assert!(stderr(&out).contains("--output wav:FILE"));
    assert_eq!(
        stderr(&out).lines().count(),
        1,
        "a wall of messages: {}",
        stderr(&out)
    );
}

#[test]
fn unknown_device_name_is_reported() {
    let dir = scratch("unknowndevice");
    let out = jitterplay()
        .args(["play", "--output", "device:no-such-device-anywhere"])
        .arg(asset("speech-48k-mono.wav"))
        .env_remove("RUST_LOG")
        .env("XDG_RUNTIME_DIR", &dir)
        .env("PULSE_SERVER", "unix:/nonexistent/jitterplay-test")
        .bounded_output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no output device named 'no-such-device-anywhere'")
            || err.contains("no audio output device available"),
        "{err}"
    );
}

#[test]
fn bad_output_spec_is_a_usage_error() {
    let out = jitterplay()
        .args(["play", "--output", "speakers", "x.wav"])
        .bounded_output()
        .unwrap();
    assert_fails_with(&out, 2, "expected default, device:NAME, wav:PATH or null");
}

#[test]
fn unwritable_wav_path_is_reported() {
    let out = jitterplay()
        .args(["play", "--output", "wav:/nonexistent-dir/out.wav"])
        .arg(asset("speech-48k-mono.wav"))
        .bounded_output()
        .unwrap();
    assert_fails_with(&out, 1, "cannot write /nonexistent-dir/out.wav");
}

#[test]
fn a_file_that_makes_the_decoder_panic_is_refused_in_one_line() {
    // symphonia 0.6.1 overflows on this WAV header where overflow checks are on (this debug
    // build): the panic is caught where the decoder is called.
    let dir = scratch("decoder_panic");
    let path = dir.join("bad.wav");
    let fuzz =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/file_decode");
    std::fs::copy(
        fuzz.join("symphonia-wav-block-align-mul-overflow.bin"),
        &path,
    )
    .unwrap();
    let out = jitterplay()
        .args(["play", "--output", "null", "--fast"])
        .arg(&path)
        .env("RUST_BACKTRACE", "1")
        .bounded_output()
        .unwrap();
    assert_fails_with(&out, 1, "corrupt audio file (the decoder failed inside");
    let text = stderr(&out);
    assert!(!text.contains("panicked at"), "{text}");
    assert!(text.lines().count() <= 2, "{text}");
}

#[test]
fn a_bad_srtp_key_is_explained_without_repeating_it() {
    // 24 bytes where AES_CM_128_HMAC_SHA1_80 needs 30: the message says so, and the key the
    // user typed appears nowhere (it would end up in logs).
    let key = "c2VjcmV0LWtleS1tYXRlcmlhbC0xMjM0";
    for args in [
        vec!["play", "rtp://127.0.0.1:9", "--format", "pcmu", "--srtp"],
        vec!["streams", "no-such.pcap", "--srtp"],
    ] {
        let out = jitterplay()
            .args(&args)
            .arg(format!("AES_CM_128_HMAC_SHA1_80:inline:{key}"))
            .bounded_output()
            .unwrap();
        let err = stderr(&out);
        assert_fails_with(&out, 1, "needs 30 bytes of key and salt");
        assert!(!err.contains(key), "the key was repeated: {err}");
    }
}

/// Where the dynamic loader finds libsrtp2.so.1, from its cache.
fn libsrtp2_path() -> Option<String> {
    let cache = std::process::Command::new("ldconfig")
        .arg("-p")
        .output()
        .ok()?;
    String::from_utf8_lossy(&cache.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("libsrtp2.so.1 "))
        .and_then(|l| l.rsplit("=> ").next())
        .map(|p| p.trim().to_owned())
}

#[test]
fn srtp_without_libsrtp2_names_the_package_and_plain_rtp_still_works() {
    // libsrtp2 is loaded only when SRTP is asked for. In a private mount namespace the library
    // is hidden under /dev/null: an SRTP command must say what is missing, in one line, and a
    // plain one must not notice.
    if !require_tool("unshare") {
        return;
    }
    let lib = libsrtp2_path().expect("libsrtp2.so.1 is installed (scripts/install-deps.sh)");
    let dir = scratch("no_libsrtp2");
    let wav = asset("speech-48k-mono.wav");
    let bin = env!("CARGO_BIN_EXE_jitterplay");
    let script = format!(
        "mount --bind /dev/null {lib} || exit 99
         {bin} send {wav} --to 127.0.0.1:9 --duration 200ms --srtp AES_CM_128_HMAC_SHA1_80 --sdp-out {sdp} --quiet
         echo \"srtp exit $?\" >&2
         {bin} send {wav} --to 127.0.0.1:9 --duration 200ms --quiet >/dev/null
         echo \"plain exit $?\" >&2",
        wav = wav.display(),
        sdp = dir.join("call.sdp").display(),
    );
    let out = output_within(
        std::process::Command::new("unshare").args(["-m", "sh", "-c", &script]),
        std::time::Duration::from_secs(30),
    );
    let err = stderr(&out);
    if out.status.code() == Some(99) || !out.status.success() && err.contains("unshare") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to hide the library: {err}"
        );
        eprintln!("skipping: cannot make a mount namespace here: {err}");
        return;
    }
    assert!(
        err.contains("SRTP needs libsrtp2 (Debian package libsrtp2-1), which could not be loaded"),
        "{err}"
    );
    assert!(err.contains("srtp exit 1"), "{err}");
    assert!(err.contains("plain exit 0"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
