//! Real captures (tests/data, see its README for provenance): `streams` reports what each holds,
//! and every G.711 stream replayed with its captured arrival times comes out equal to ffmpeg's
//! decode of the capture's payloads placed by sequence number and timestamp.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn streams_json(path: &Path) -> Value {
    let out = run_ok(jitterplay().args(["streams", "--json"]).arg(path));
    serde_json::from_slice(&out.stdout).expect("streams --json is JSON")
}

fn final_stats(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("stats written");
    let last = text.lines().last().expect("a final line");
    let value: Value = serde_json::from_str(last).expect("JSON");
    assert_eq!(value["final"], true);
    value
}

/// One RTP packet as the test's own minimal parser reads it (independent of jitterplay's).
struct Rtp {
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

fn parse_rtp(p: &[u8]) -> Option<Rtp> {
    if p.len() < 12 || p[0] >> 6 != 2 || (200..=207).contains(&p[1]) {
        return None;
    }
    let header = 12 + 4 * usize::from(p[0] & 0x0F);
    Some(Rtp {
        pt: p[1] & 0x7F,
        seq: u16::from_be_bytes([p[2], p[3]]),
        ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        payload: p.get(header..)?.to_vec(),
    })
}

/// The UDP payloads of a little-endian libpcap file with Ethernet or Linux SLL framing and
/// IPv4 (all the test captures are), or of an rtpdump file's RTP records.
fn udp_payloads(path: &Path) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).unwrap();
    if d.starts_with(b"#!rtpplay") {
        let mut at = d.iter().position(|&b| b == b'\n').unwrap() + 1 + 16;
        let mut out = Vec::new();
        while at + 8 <= d.len() {
            let len = usize::from(u16::from_be_bytes([d[at], d[at + 1]]));
            let plen = usize::from(u16::from_be_bytes([d[at + 2], d[at + 3]]));
            if plen > 0 {
                out.push(d[at + 8..at + 8 + plen].to_vec());
            }
            at += len;
        }
        return out;
    }
    assert_eq!(&d[..4], &[0xD4, 0xC3, 0xB2, 0xA1], "little-endian pcap");
    let link = u32::from_le_bytes([d[20], d[21], d[22], d[23]]);
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= d.len() {
        let incl = u32::from_le_bytes([d[at + 8], d[at + 9], d[at + 10], d[at + 11]]) as usize;
        let frame = &d[at + 16..at + 16 + incl];
        at += 16 + incl;
        let (ethertype, ip) = match link {
            1 => (u16::from_be_bytes([frame[12], frame[13]]), &frame[14..]),
            113 => (u16::from_be_bytes([frame[14], frame[15]]), &frame[16..]),
            other => panic!("unexpected link type {other}"),
        };
        if ethertype != 0x0800 || ip[9] != 17 {
            continue;
        }
        let ihl = usize::from(ip[0] & 0x0F) * 4;
        let udp_len = usize::from(u16::from_be_bytes([ip[ihl + 4], ip[ihl + 5]]));
        out.push(ip[ihl + 8..ihl + udp_len].to_vec());
    }
    out
}

/// ffmpeg's decode of raw G.711 bytes (`mulaw` or `alaw`) at 8 kHz mono, as i16.
fn ffmpeg_g711(raw: &[u8], codec: &str, dir: &Path) -> Vec<i16> {
    let input = dir.join(format!("payloads.{codec}"));
    std::fs::write(&input, raw).unwrap();
    let out = run_ok(
        Command::new("ffmpeg")
            .args(["-v", "error", "-f", codec, "-ar", "8000", "-ac", "1", "-i"])
            .arg(&input)
            .args(["-f", "s16le", "-"]),
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// The stream as a listener should hear it: each audio payload decoded by ffmpeg and placed at
/// its RTP timestamp in sequence order, silence where the sender sent none (telephone events).
fn reference(path: &Path, ssrc: u32, dir: &Path) -> (Vec<i16>, usize) {
    let mut packets: Vec<Rtp> = udp_payloads(path)
        .iter()
        .filter_map(|p| parse_rtp(p))
        .filter(|r| r.ssrc == ssrc && (r.pt == 0 || r.pt == 8))
        .collect();
    // No capture here wraps its sequence numbers; a plain sort is sequence order.
    packets.sort_by_key(|r| r.seq);
    packets.dedup_by_key(|r| r.seq);
    let codec = if packets[0].pt == 0 { "mulaw" } else { "alaw" };
    let raw: Vec<u8> = packets.iter().flat_map(|r| r.payload.clone()).collect();
    let decoded = ffmpeg_g711(&raw, codec, dir);
    assert_eq!(decoded.len(), raw.len());
    let ts0 = packets[0].ts;
    let end = packets
        .iter()
        .map(|r| (r.ts - ts0) as usize + r.payload.len())
        .max()
        .unwrap();
    let mut timeline = vec![0i16; end];
    let mut at = 0;
    for r in &packets {
        let start = (r.ts - ts0) as usize;
        timeline[start..start + r.payload.len()]
            .copy_from_slice(&decoded[at..at + r.payload.len()]);
        at += r.payload.len();
    }
    (timeline, packets.len())
}

#[test]
fn streams_reports_what_each_real_capture_holds() {
    // Counts as the captures' provenance notes give them.
    let s = streams_json(&data("sip-rtp-g711.pcap"));
    let streams = s["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "{s:#}");
    assert_eq!(
        (
            streams[0]["codec"].as_str(),
            streams[0]["stats"]["packets"].as_u64()
        ),
        (Some("PCMU/8000"), Some(425))
    );
    assert_eq!(
        (
            streams[1]["codec"].as_str(),
            streams[1]["stats"]["packets"].as_u64()
        ),
        (Some("PCMA/8000"), Some(414))
    );
    assert!(s["sip_messages"].as_u64().unwrap() > 0, "{s:#}");
    for st in streams {
        assert_eq!(st["stats"]["lost"], 0);
        assert!((st["stats"]["max_delta_ms"].as_f64().unwrap() - 20.0).abs() < 2.0);
    }

    let s = streams_json(&data("g711a.pcap"));
    let st = &s["streams"][0]["stats"];
    assert_eq!(s["streams"].as_array().unwrap().len(), 1);
    assert_eq!(s["streams"][0]["codec"], "PCMA/8000");
    assert_eq!(
        (st["packets"].as_u64(), st["lost"].as_u64()),
        (Some(236), Some(0))
    );
    assert!(
        (st["duration_s"].as_f64().unwrap() - 7.05).abs() < 0.01,
        "{st}"
    );

    let s = streams_json(&data("ulaw-2013785496.pcap"));
    let stream = &s["streams"][0];
    assert_eq!(s["streams"].as_array().unwrap().len(), 1, "{s:#}");
    assert_eq!(stream["codec"], "PCMU/8000");
    assert_eq!(stream["stats"]["packets"], 974);
    let events = stream["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "telephone-event")
        .expect("telephone events recognised");
    assert_eq!(events["pt"], 101);
    assert!(stream["telephone_events"].as_u64().unwrap() > 0);
    let jitter = stream["stats"]["mean_jitter_ms"].as_f64().unwrap();
    assert!((jitter - 3.8).abs() < 0.2, "RFC 3550 jitter {jitter} ms");

    let s = streams_json(&data("sip-rtp-opus.pcap"));
    let stream = &s["streams"][0];
    assert_eq!(stream["kind"], "audio");
    assert_eq!(stream["codec"], "opus/48000/2");
    assert_eq!(stream["payloads"][0]["named_by"], "sdp");
    assert_eq!(stream["stats"]["packets"], 425);
    // Checked against libopus in tests/opus_capture.rs.
    assert_eq!(stream["fec_packets"], 370);

    let s = streams_json(&data("nb6-telephone.pcap"));
    let streams = s["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "both directions of the call");
    let inbound = &streams[0]["stats"];
    assert!(
        inbound["max_delta_ms"].as_f64().unwrap() > 60.0,
        "{inbound}"
    );

    let s = streams_json(&data("bark.rtp"));
    assert_eq!(s["kind"], "rtpdump");
    assert_eq!(s["streams"][0]["stats"]["packets"], 15);
    assert_eq!(s["rtcp"][0]["counts"]["sender_reports"], 1);
}

#[test]
fn every_g711_stream_plays_equal_to_an_independent_decode() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("capture_g711_exact");
    for (file, ssrc) in [
        ("sip-rtp-g711.pcap", 0x343D_A99B),
        ("sip-rtp-g711.pcap", 0x343F_FA34),
        ("g711a.pcap", 0xDEE0_EE8F),
        ("nb6-telephone.pcap", 0x2D7B_0B2C),
        ("nb6-telephone.pcap", 0x446E_4B53),
        ("ulaw-2013785496.pcap", 0x34D0_1D16),
        ("bark.rtp", 0x0005_9C72),
    ] {
        let wav = dir.join("out.wav");
        let stats = dir.join("stats.jsonl");
        run_ok(
            jitterplay()
                .args(["play", "--quiet", "--fast", "--dtmf", "silence", "--ssrc"])
                .arg(format!("{ssrc:#x}"))
                .arg("--output")
                .arg(format!("wav:{}", wav.display()))
                .arg("--stats-json")
                .arg(&stats)
                .arg(data(file)),
        );
        let s = final_stats(&stats);
        let m = &s["metrics"];
        // Progress lines before the final one: metrics at increasing output times.
        let text = std::fs::read_to_string(&stats).unwrap();
        let times: Vec<f64> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
            .filter(|v| v["final"] != true)
            .map(|v| {
                assert!(v["metrics"]["received"].is_u64(), "{v}");
                v["t"].as_f64().expect("t")
            })
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{file}: {times:?}");
        let (want, audio_packets) = reference(&data(file), ssrc, &dir);
        let label = format!("{file} SSRC {ssrc:#x}");
        assert_eq!(
            m["received"].as_u64(),
            Some(audio_packets as u64),
            "{label}: {s}"
        );
        assert_eq!(m["played"], m["received"], "{label}: {s}");
        for counter in ["lost", "late", "underruns", "rebuffers", "duplicate"] {
            assert_eq!(m[counter], 0, "{label}: {counter} in {s}");
        }
        let (got, rate, channels) = read_wav(&wav);
        assert_eq!((rate, channels), (8000, 1), "{label}");
        assert_eq!(got.len(), want.len(), "{label}: length");
        let differing = got
            .iter()
            .zip(&want)
            .filter(|(g, w)| (**g * 32768.0).round() as i32 != i32::from(**w))
            .count();
        assert_eq!(
            differing, 0,
            "{label}: samples differing from ffmpeg's decode"
        );
    }
}

#[test]
fn a_capture_with_several_audio_streams_asks_which() {
    let out = jitterplay()
        .args(["play", "--output", "null", "--fast"])
        .arg(data("sip-rtp-g711.pcap"))
        .bounded_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 audio streams"), "{err}");
    assert!(err.contains("--stream"), "{err}");
    assert!(
        err.contains("0x343DA99B") && err.contains("0x343FFA34"),
        "{err}"
    );

    let out = jitterplay()
        .args(["play", "--output", "null", "--fast", "--stream", "3"])
        .arg(data("sip-rtp-g711.pcap"))
        .bounded_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no stream 3"));
}

#[test]
fn an_opus_capture_plays_its_whole_length() {
    let dir = scratch("capture_opus");
    let wav = dir.join("out.wav");
    run_ok(
        jitterplay()
            .args(["play", "--fast", "--quiet", "--output"])
            .arg(format!("wav:{}", wav.display()))
            .arg(data("sip-rtp-opus.pcap")),
    );
    let (samples, rate, channels) = read_wav(&wav);
    // 425 packets of 20 ms, decoded at 48 kHz stereo, and not silent.
    assert_eq!((rate, channels), (48_000, 2));
    assert_eq!(samples.len(), 425 * 960 * 2);
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak > 0.1, "peak {peak}");
}

#[test]
fn a_truncated_capture_plays_what_it_has_and_says_where_it_ended() {
    let dir = scratch("capture_truncated");
    let cut = dir.join("cut.pcap");
    let bytes = std::fs::read(data("g711a.pcap")).unwrap();
    // Half-way through: somewhere inside a record.
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap();
    let s = streams_json(&cut);
    let whole = s["truncated"]["records"]
        .as_u64()
        .expect("truncation reported");
    assert!(whole > 100 && whole < 236, "{s:#}");
    assert_eq!(s["streams"][0]["stats"]["packets"].as_u64(), Some(whole));
    let stats = dir.join("stats.jsonl");
    let out = run_ok(
        jitterplay()
            .args(["play", "--fast", "--output", "null", "--stats-json"])
            .arg(&stats)
            .arg(&cut),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut short after record"), "{err}");
    assert_eq!(
        final_stats(&stats)["metrics"]["played"].as_u64(),
        Some(whole)
    );
}

#[test]
fn a_file_that_is_not_a_capture_is_refused_clearly() {
    let dir = scratch("capture_bad");
    let path = dir.join("junk.pcap");
    std::fs::write(&path, b"this is not a capture at all").unwrap();
    for command in ["play", "streams"] {
        let out = jitterplay()
            .arg(command)
            .arg(&path)
            .bounded_output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a capture"), "{command}: {err}");
    }
}

#[test]
fn simulate_uses_the_capture_as_the_network() {
    let dir = scratch("capture_simulate");
    let report = dir.join("report.json");
    let plot = dir.join("plot.svg");
    let out = run_ok(
        jitterplay()
            .args([
                "simulate",
                "--stream",
                "1",
                "--target-min",
                "60ms",
                "--target-max",
                "1s",
                "--report",
            ])
            .arg(&report)
            .arg("--plot")
            .arg(&plot)
            .arg(data("nb6-telephone.pcap")),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("captured arrival times"), "{text}");
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["captured"], true);
    assert_eq!(r["metrics"]["received"], 261);
    assert_eq!(r["metrics"]["lost"], 0);
    // The capture's own delays, relative to its fastest packet, are what the plot shows.
    let delays = r["delays"].as_array().unwrap();
    assert_eq!(delays.len(), 261);
    let max_delay = delays
        .iter()
        .map(|d| d[1].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        max_delay > 20.0,
        "the inbound call leg is jittery: {max_delay} ms"
    );
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<svg"));

    let out = jitterplay()
        .args(["simulate", "--scenario", "lan"])
        .arg(data("g711a.pcap"))
        .bounded_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("its own network"));
}

#[test]
fn one_stream_is_analysed_packet_by_packet() {
    let out = run_ok(
        jitterplay()
            .args(["streams", "--json", "--stream", "1"])
            .arg(data("ulaw-2013785496.pcap")),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["packets"].as_array().unwrap();
    assert_eq!(rows.len(), 974);
    let events = rows
        .iter()
        .filter(|r| r["status"].as_str().unwrap().contains("telephone event"))
        .count();
    assert_eq!(events, 120);
    assert!(
        rows.iter().all(|r| r["sequence"] == "in-order"),
        "no sequence errors in this capture"
    );
    // The running jitter of the last media packet is the stream's final RFC 3550 jitter.
    let last_media = rows.iter().rev().find(|r| r["pt"] == 0).unwrap();
    let final_jitter = v["stream"]["stats"]["jitter_ms"].as_f64().unwrap();
    assert!((last_media["jitter_ms"].as_f64().unwrap() - final_jitter).abs() < 1e-9);

    // A stream jitterplay cannot play can still be analysed.
    let out = run_ok(
        jitterplay()
            .args(["streams", "--json", "--ssrc", "0x043EEE04"])
            .arg(data("sip-rtp-opus.pcap")),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["packets"].as_array().unwrap().len(), 425);
    assert_eq!(v["stream"]["codec"], "opus/48000/2");
}
