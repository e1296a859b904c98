//! SRTP from real peers into `jitterplay play`: ffmpeg's `srtp://` output described by its own
//! SDP (`a=crypto`), GStreamer's `srtpenc` with AES-GCM (RFC 7714) and with AES-256 and a
//! 32-bit tag keyed by `--srtp`. Each must play bit for bit; a wrong key must end in an error
//! that names the likely cause, with every refusal counted. The tools are required under CI.

mod common;
mod interop_support;
mod net_support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use common::*;
use interop_support::*;
use net_support::*;

/// A master key and salt of `len` bytes, different for each `seed`.
fn keying(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// ffmpeg sending the speech clip as SRTP with `key` (AES_CM_128_HMAC_SHA1_80), 5 ms packets.
fn ffmpeg_srtp_sender(clip: &std::path::Path, key: &[u8], port: u16) -> std::process::Command {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-re", "-i"])
        .arg(clip)
        .args(["-af", "asetnsamples=n=240", "-c:a", "pcm_s16be"])
        .args(["-payload_type", "96", "-f", "rtp"])
        .args(["-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80"])
        .args(["-srtp_out_params", &STANDARD.encode(key)])
        .arg(format!("srtp://127.0.0.1:{port}"));
    cmd
}

fn assert_all_authenticated(stats: &serde_json::Value, at_least: f64) {
    assert!(stat(stats, "/net/srtp_decrypted") >= at_least, "{stats}");
    for refused in [
        "/net/srtp_auth_failed",
        "/net/srtp_replayed",
        "/net/srtp_unknown_mki",
        "/net/srtp_no_key",
    ] {
        assert_eq!(stat(stats, refused), 0.0, "{refused}: {stats}");
    }
}

#[test]
fn ffmpeg_srtp_with_its_own_sdp_plays_bit_exact() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("srtp_ffmpeg_sdp");
    let (clip, source) = speech_clip(&dir);
    let port = free_port();
    let key = keying(30, 1);
    // ffmpeg writes its SDP (with a=crypto) when it starts; a 10 ms run writes it first.
    let sdp = dir.join("ffmpeg.sdp");
    run_peer(
        ffmpeg_srtp_sender(&clip, &key, port)
            .args(["-t", "0.01", "-sdp_file"])
            .arg(&sdp),
    );
    let text = std::fs::read_to_string(&sdp).expect("sdp");
    assert!(
        text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{text}"
    );
    let saved = dir.join("wire.pcap");
    let got = receive(
        &dir,
        sdp.to_str().expect("utf-8"),
        &["--save-packets", saved.to_str().expect("utf-8")],
        port,
        &mut ffmpeg_srtp_sender(&clip, &key, port),
    );
    assert_eq!(stat(&got.stats, "/metrics/played"), 400.0, "{}", got.stats);
    assert_all_authenticated(&got.stats, 400.0);
    assert_starts_with(&got.out, &source);
    // --save-packets keeps what came off the wire: encrypted, so only the key opens it.
    let streams = |extra: &[&str]| -> serde_json::Value {
        let out = run_ok(
            jitterplay()
                .args(["streams", "--json"])
                .arg(&saved)
                .args(extra),
        );
        serde_json::from_slice(&out.stdout).expect("streams --json")
    };
    let without = streams(&[]);
    assert!(without["streams"][0].get("srtp").is_none(), "{without}");
    let srtp = format!("AES_CM_128_HMAC_SHA1_80:inline:{}", STANDARD.encode(&key));
    let with = streams(&["--srtp", &srtp]);
    let flow = &with["streams"][0]["srtp"];
    assert_eq!(flow["key"], "option", "{with}");
    assert_eq!(flow["srtp_decrypted"], 400, "{with}");
}

/// GStreamer's `srtpenc` with `cipher`/`auth`, keyed with `key`, into `play --srtp SUITE:…`.
fn gstreamer_srtpenc(name: &str, suite: &str, key: &[u8], cipher: &str, auth: &str) {
    if !require_tool("gst-launch-1.0") {
        return;
    }
    let dir = scratch(name);
    let (clip, source) = speech_clip(&dir);
    let port = free_port();
    let location = format!("location={}", clip.display());
    let key_prop = format!("key={}", hex(key));
    let (rtp_cipher, rtp_auth) = (format!("rtp-cipher={cipher}"), format!("rtp-auth={auth}"));
    // srtpenc checks the key against the RTCP cipher too; RTCP keeps an 80-bit tag.
    let rtcp_cipher = format!("rtcp-cipher={cipher}");
    let rtcp_auth = format!(
        "rtcp-auth={}",
        if auth == "hmac-sha1-32" {
            "hmac-sha1-80"
        } else {
            auth
        }
    );
    let pipeline = [
        "filesrc",
        &location,
        "!",
        "wavparse",
        "!",
        "audioconvert",
        "!",
        "audio/x-raw,format=S16BE,rate=48000,channels=1",
        "!",
        "rtpL16pay",
        "pt=96",
        "min-ptime=10000000",
        "max-ptime=10000000",
        "!",
        "application/x-rtp,ssrc=(uint)1234",
        "!",
        "srtpenc",
        &key_prop,
        &rtp_cipher,
        &rtp_auth,
        &rtcp_cipher,
        &rtcp_auth,
    ];
    let srtp = format!("{suite}:inline:{}", STANDARD.encode(key));
    let got = receive(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &["--format", "l16/48000/1", "--pt", "96", "--srtp", &srtp],
        port,
        &mut gst_sender(&pipeline, port),
    );
    assert_eq!(stat(&got.stats, "/metrics/played"), 200.0, "{}", got.stats);
    assert_all_authenticated(&got.stats, 200.0);
    assert_starts_with(&got.out, &source);
}

#[test]
fn gstreamer_srtpenc_aes_128_gcm_plays_bit_exact() {
    gstreamer_srtpenc(
        "srtp_gst_gcm",
        "AEAD_AES_128_GCM",
        &keying(28, 2),
        "aes-128-gcm",
        "null",
    );
}

#[test]
fn gstreamer_srtpenc_aes_256_with_a_32_bit_tag_plays_bit_exact() {
    gstreamer_srtpenc(
        "srtp_gst_aes256_32",
        // The spelling some stacks write; RFC 6188's is AES_256_CM_HMAC_SHA1_32.
        "AES_CM_256_HMAC_SHA1_32",
        &keying(46, 3),
        "aes-256-icm",
        "hmac-sha1-32",
    );
}

#[test]
fn a_wrong_key_ends_in_an_error_that_names_the_cause() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("srtp_wrong_key");
    let (clip, _) = speech_clip(&dir);
    let port = free_port();
    let stats = dir.join("stats.jsonl");
    let wrong = format!(
        "AES_CM_128_HMAC_SHA1_80:inline:{}",
        STANDARD.encode(keying(30, 99))
    );
    let player = spawn_player(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &[
            "--format",
            "l16/48000/1",
            "--pt",
            "96",
            "--srtp",
            &wrong,
            "--idle-timeout",
            "1s",
            "--stats-json",
            stats.to_str().expect("utf-8"),
        ],
    );
    wait_until_bound(port);
    run_peer(&mut ffmpeg_srtp_sender(&clip, &keying(30, 1), port));
    let played = player.wait(PLAYER_LIMIT);
    assert!(!played.status.success(), "{}", played.stderr);
    assert!(
        played.stderr.contains("none of")
            && played.stderr.contains("authenticated")
            && played.stderr.contains("not the sender's"),
        "{}",
        played.stderr
    );
    assert!(!played.stderr.contains(&wrong[32..]), "the key was printed");
}

#[test]
fn a_flood_of_forged_srtp_before_and_during_the_stream_leaves_it_bit_exact() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("srtp_flood");
    let (clip, source) = speech_clip(&dir);
    let port = free_port();
    let key = keying(30, 4);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Forged SRTP from another socket: plausible headers (the stream's payload type, random
    // SSRCs and one fixed one), random bodies and tags. It starts before the real sender, so
    // the first packet to arrive is a forgery: it must not lock the real sender out.
    let flooder = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            let local = socket.local_addr().expect("addr");
            let mut state = 0x2545_f491_u32;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state
            };
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut p = vec![0x80, 96];
                p.extend_from_slice(&(next() as u16).to_be_bytes());
                p.extend_from_slice(&next().to_be_bytes());
                let ssrc = if sent % 2 == 0 { 0x5eed_0042 } else { next() };
                p.extend_from_slice(&ssrc.to_be_bytes());
                p.extend((0..250).map(|_| next() as u8));
                let _ = socket.send_to(&p, ("127.0.0.1", port));
                sent += 1;
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
            (local, sent)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let srtp = format!("AES_CM_128_HMAC_SHA1_80:inline:{}", STANDARD.encode(&key));
    let got = receive(
        &dir,
        &format!("rtp://127.0.0.1:{port}"),
        &["--format", "l16/48000/1", "--pt", "96", "--srtp", &srtp],
        port,
        &mut ffmpeg_srtp_sender(&clip, &key, port),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (flooder_addr, forged) = flooder.join().expect("flooder");
    let stats = &got.stats;
    assert_eq!(stat(stats, "/metrics/played"), 400.0, "{stats}");
    assert_starts_with(&got.out, &source);
    assert_ne!(
        stats["source"].as_str(),
        Some(flooder_addr.to_string().as_str()),
        "the forger was locked as the sender: {stats}"
    );
    // Every datagram is accounted for once: forgeries refused by SRTP until the real sender
    // authenticated, as foreign after; every RTP datagram taken in either authenticated or was
    // refused.
    let n = |p: &str| stat(stats, p);
    assert!(n("/net/srtp_auth_failed") >= 1.0, "{stats}");
    assert!(n("/net/foreign") >= 1.0, "{stats}");
    // srtp_decrypted counts SRTCP too, which comes in on the RTCP socket, not as `accepted`.
    assert_eq!(
        n("/net/accepted"),
        n("/net/srtp_decrypted") - n("/net/rtcp_received") + n("/net/srtp_auth_failed"),
        "{stats}"
    );
    assert!(
        n("/net/datagrams") - n("/net/srtp_decrypted") <= forged as f64,
        "more refusals than the {forged} forgeries sent: {stats}"
    );
}
