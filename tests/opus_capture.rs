//! The Opus capture (sip-rtp-opus.pcap, an Opus call with in-band FEC): `play` decodes it as
//! ffmpeg's libopus decodes its payloads, and `streams` counts exactly the packets from
//! which libopus can decode FEC.

mod common;
mod opus_support;

use common::*;
use jitterplay::capture::{analyse, read_capture};
use jitterplay::rtp::header::RtpHeader;
use opus_support::*;

fn capture_payloads() -> Vec<Vec<u8>> {
    let capture = read_capture(&asset_data("sip-rtp-opus.pcap")).expect("read capture");
    let report = analyse(&capture);
    let stream = &report.streams[0];
    capture
        .datagrams
        .iter()
        .filter(|d| stream.owns(d))
        .filter_map(|d| {
            let h = RtpHeader::parse(&d.payload).ok()?;
            (h.payload_type == stream.pt).then(|| h.payload(&d.payload).to_vec())
        })
        .collect()
}

fn asset_data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn play_decodes_the_capture_as_ffmpeg_decodes_its_payloads() {
    if !require_tool("ffmpeg") {
        return;
    }
    let payloads = capture_payloads();
    assert_eq!(payloads.len(), 425);
    let dir = scratch("opus_capture");
    let ogg = dir.join("ref.opus");
    write_ogg_opus(&ogg, &payloads, 2, 0, 0);
    let reference = ffmpeg_libopus_decode(&ogg);
    let wav = dir.join("out.wav");
    run_ok(
        jitterplay()
            .args(["play", "--fast", "--quiet", "--output"])
            .arg(format!("wav:{}", wav.display()))
            .arg(asset_data("sip-rtp-opus.pcap")),
    );
    let (ours, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (48_000, 2));
    assert_eq!(ours.len(), reference.len());
    let differing = ours
        .iter()
        .zip(&reference)
        .filter(|(a, b)| to_i16(**a) != **b)
        .count();
    eprintln!(
        "{} samples, {differing} differ from ffmpeg's after 16-bit rounding",
        ours.len()
    );
    assert_eq!(differing, 0);
}

/// Whether libopus decodes packet `k`'s FEC differently from plain concealment: two decoders
/// see packets `0..k-1`, then one conceals packet `k-1` and the other decodes it from `k`'s
/// FEC (libopus falls back to concealment when there is no LBRR data).
fn libopus_uses_fec(payloads: &[Vec<u8>], k: usize) -> bool {
    let new = || opus::Decoder::new(48_000, opus::Channels::Stereo).unwrap();
    let (mut plc, mut fec) = (new(), new());
    let mut buf = vec![0f32; 5760 * 2];
    for p in &payloads[..k - 1] {
        plc.decode_float(p, &mut buf, false).unwrap();
        fec.decode_float(p, &mut buf, false).unwrap();
    }
    let n = duration(&payloads[k - 1]);
    let mut a = vec![0f32; n * 2];
    let mut b = vec![0f32; n * 2];
    plc.decode_float(&[], &mut a, false).unwrap();
    fec.decode_float(&payloads[k], &mut b, true).unwrap();
    a != b
}

#[test]
fn streams_counts_the_packets_libopus_takes_fec_from() {
    let payloads = capture_payloads();
    // From the third packet on: with only one packet decoded, libopus's FEC path differs from
    // its concealment even without LBRR data (measured on this capture's second packet, whose
    // LBRR flag is clear), so the comparison says nothing there.
    let by_libopus = (2..payloads.len())
        .filter(|&k| libopus_uses_fec(&payloads, k))
        .count();
    let out = run_ok(
        jitterplay()
            .args(["streams", "--json"])
            .arg(asset_data("sip-rtp-opus.pcap")),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let counted = v["streams"][0]["fec_packets"].as_u64().unwrap();
    let flagged = |k: usize| {
        jitterplay::rtp::opus_toc::parse(&payloads[k])
            .unwrap()
            .has_fec
    };
    eprintln!(
        "streams: {counted} FEC packets; libopus decodes FEC from {by_libopus} of packets 3.."
    );
    assert_eq!(
        counted,
        by_libopus as u64 + u64::from(flagged(0)) + u64::from(flagged(1))
    );
    assert!(counted > 300, "{counted}");
}

/// An rtpdump file (rtptools) of `payloads` as RTP packets (PT 99), 20 ms apart, less those
/// `lost` says were lost.
fn rtpdump(payloads: &[Vec<u8>], lost: impl Fn(usize) -> bool) -> Vec<u8> {
    let mut file = b"#!rtpplay1.0 10.0.0.1/5004\n".to_vec();
    file.extend_from_slice(&[0; 16]);
    let mut ts = 0u32;
    for (i, p) in payloads.iter().enumerate() {
        let mut pkt = vec![0x80, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
        pkt[2..4].copy_from_slice(&(i as u16).to_be_bytes());
        pkt[4..8].copy_from_slice(&ts.to_be_bytes());
        pkt.extend_from_slice(p);
        ts = ts.wrapping_add(duration(p) as u32);
        if lost(i) {
            continue;
        }
        file.extend_from_slice(&((pkt.len() + 8) as u16).to_be_bytes());
        file.extend_from_slice(&(pkt.len() as u16).to_be_bytes());
        file.extend_from_slice(&(i as u32 * 20).to_be_bytes());
        file.extend_from_slice(&pkt);
    }
    file
}

#[test]
fn a_capture_without_sdp_plays_as_opus_when_told() {
    let payloads = capture_payloads();
    let dir = scratch("opus_rtpdump");
    let dump = dir.join("call.rtp");
    std::fs::write(&dump, rtpdump(&payloads, |_| false)).unwrap();
    let refused = jitterplay()
        .args(["play", "--fast", "--quiet", "--output", "null"])
        .arg(&dump)
        .bounded_output()
        .unwrap();
    assert!(!refused.status.success(), "PT 99 alone says nothing");
    let wav = dir.join("out.wav");
    run_ok(
        jitterplay()
            .args(["play", "--fast", "--quiet", "--format", "opus", "--output"])
            .arg(format!("wav:{}", wav.display()))
            .arg(&dump),
    );
    let (samples, _, _) = read_wav(&wav);
    assert_eq!(samples.len(), 425 * 960 * 2);
}

#[test]
fn simulate_replays_a_lossy_opus_capture_with_fec() {
    let payloads = capture_payloads();
    // Every 10th packet lost from the 20th on, and packet 200's successor too.
    let lost = |i: usize| (i >= 20 && i % 10 == 0) || i == 201;
    let dir = scratch("opus_simulate");
    let dump = dir.join("lossy.rtp");
    std::fs::write(&dump, rtpdump(&payloads, lost)).unwrap();
    let report = dir.join("report.json");
    run_ok(
        jitterplay()
            .args(["simulate", "--quiet", "--format", "opus", "--report"])
            .arg(&report)
            .arg(&dump),
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let m = &r["metrics"];
    let n_lost = (0..payloads.len()).filter(|&i| lost(i)).count();
    let carries = |i: usize| {
        jitterplay::rtp::opus_toc::parse(&payloads[i])
            .unwrap()
            .has_fec
    };
    let recoverable = (0..payloads.len())
        .filter(|&i| lost(i) && i + 1 < payloads.len() && !lost(i + 1) && carries(i + 1))
        .count();
    eprintln!("simulate: {m}");
    assert_eq!(m["lost"], n_lost as u64);
    assert_eq!(m["fec_recovered"], recoverable as u64);
    assert!(recoverable * 4 >= n_lost * 3, "{recoverable} of {n_lost}");
    let plc = m["plc_ms"].as_f64().unwrap();
    assert!(
        (plc - (n_lost - recoverable) as f64 * 20.0).abs() < 0.01,
        "plc {plc} ms"
    );
}
