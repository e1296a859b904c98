//! Synthetic captures with known timing, loss, reordering and duplication, a two-way call with
//! RTCP, SDP in SIP naming a dynamic payload type, and telephone events: `jitterplay streams`
//! and `play` must report every counter exactly as the capture was made.

mod common;
#[path = "synthetic/mod.rs"]
mod synthetic;

use serde_json::{json, Value};
use synthetic::*;

/// The reference expansion agrees with the G.711 table (so a decoder bug cannot hide in it).
#[test]
fn reference_ulaw_expansion_matches_g711() {
    // Codes and values from ITU-T G.711 table 2a: 0xFF and 0x7F are the two zeros, 0x80 and
    // 0x00 the extremes, 0xEF and 0x6F the ends of the smallest steps.
    for (code, linear) in [
        (0xFF, 0),
        (0x7F, 0),
        (0x80, 32_124),
        (0x00, -32_124),
        (0xFE, 8),
        (0xEF, 132),
        (0x6F, -132),
        (0x8F, 16_764),
    ] {
        assert_eq!(ulaw_to_linear(code), linear, "µ-law code {code:#04x}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Loss, reordering, duplication and a late packet across a sequence wrap
// ---------------------------------------------------------------------------------------------

/// Capture order of the impaired PCMU stream of test 1 as (arrival µs, packet index k): packet
/// k is sent at 20·k ms; 30 is lost, 51 overtakes 50, 70 comes twice, 100 arrives 100 ms late
/// (right after 105), and 120–122 are held back and arrive together 70 ms after 119.
fn impaired_schedule() -> Vec<(u64, usize)> {
    let mut order = Vec::new();
    for k in 0..200usize {
        let on_time = 20_000 * k as u64;
        match k {
            30 | 50 | 100 => {} // lost; sent after 51; sent after 105
            51 => order.extend([(on_time, 51), (1_020_000, 50)]),
            70 => order.extend([(on_time, 70), (on_time + 5_000, 70)]),
            105 => order.extend([(on_time, 105), (2_100_000, 100)]),
            120..=122 => order.push((2_450_000, k)),
            _ => order.push((on_time, k)),
        }
    }
    order
}

#[test]
fn pcap_over_vlan_counts_loss_reordering_duplicates_and_gaps_across_a_wrap() {
    let (dir, path) = scratch_file("impaired", "impaired.pcap");
    const SSRC: u32 = 0x5EED_0001;
    // Sequence numbers and timestamps both start close to their wrap.
    let seq = |k: usize| 65_500u16.wrapping_add(k as u16);
    let ts = |k: usize| 0xFFFF_F000u32.wrapping_add((k * G711_FRAME) as u32);
    let schedule = impaired_schedule();
    let mut cap = Capture::new(Link::Ethernet(&[42]));
    for &(at, k) in &schedule {
        let packet = rtp(0, k == 0, seq(k), ts(k), SSRC, &pcmu_payload(k));
        cap.udp(us(at), "10.0.0.1:4000", "10.0.0.2:6000", &packet);
    }
    cap.write_pcap(&path);

    let report = streams_json(&path);
    assert_eq!(report["kind"], "pcap");
    assert_eq!(report["records"], 200, "{report}");
    assert_eq!(report["udp"], 200);
    assert_eq!(report["other_udp"], 0);
    assert_eq!(report["frames"]["other"], 0, "VLAN-tagged frames are read");
    assert_eq!(report["truncated"], Value::Null);
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{report}");
    let s = &streams[0];
    assert_eq!(s["index"], 1);
    assert_eq!(s["src"], "10.0.0.1:4000");
    assert_eq!(s["dst"], "10.0.0.2:6000");
    assert_eq!(s["ssrc"], u64::from(SSRC));
    assert_eq!(
        pick(s, ["kind", "pt", "codec"]),
        json!(["audio", 0, "PCMU/8000"])
    );
    // 199 distinct packets + 1 duplicate; 200 expected across 65500..=65535, 0..=163; seq 65530
    // lost; 50 (after 51) and 100 (after 105) out of order.
    assert_eq!(counters(s), [200, 200, 1, 1, 2], "{}", s["stats"]);
    let st = &s["stats"];
    assert_near(&st["start_s"], 0.0, NS_IN_S, "start_s");
    assert_near(&st["duration_s"], 3.98, NS_IN_S, "duration_s");
    // The held-back burst leaves the largest gap: 70 ms, ending at 2.45 s (the loss and the late
    // packet leave only 40 ms gaps).
    assert_near(&st["max_delta_ms"], 70.0, NS_IN_MS, "max_delta_ms");
    assert_near(&st["max_delta_at_s"], 2.45, NS_IN_S, "max_delta_at_s");
    // Jitter and skew as RFC 3550 and a least-squares fit define them, over every packet (all
    // PT 0, duplicate included) in arrival order.
    let points: Vec<(f64, f64)> = schedule
        .iter()
        .map(|&(at, k)| (at as f64 / 1e6, k as f64 * 0.02))
        .collect();
    let (j, mean, max) = rfc3550_jitter(&points);
    assert!(
        max > 0.001,
        "the impairments must give visible jitter ({max} s)"
    );
    assert_near(&st["jitter_ms"], j * 1000.0, NS_IN_MS, "jitter_ms");
    assert_near(
        &st["mean_jitter_ms"],
        mean * 1000.0,
        NS_IN_MS,
        "mean_jitter_ms",
    );
    assert_near(
        &st["max_jitter_ms"],
        max * 1000.0,
        NS_IN_MS,
        "max_jitter_ms",
    );
    // The last packet (199 at 3.98 s) is exactly where the first and the RTP clock put it.
    assert_near(&st["skew_ms"], 0.0, NS_IN_MS, "skew_ms");
    assert_near(&st["skew_ppm"], skew_ppm(&points), 1e-3, "skew_ppm");

    let r = play(&path, &dir, &[], true);
    assert_eq!(r.stats["format"], "pcmu");
    assert_eq!(r.stats["stream"]["ssrc"], u64::from(SSRC));
    let [received, played, lost, late, duplicate] = metrics(&r.stats);
    // Every captured datagram reaches the receiver, in capture order, so it sees the same
    // loss, duplicate and reordering as the analysis (and the 100 ms late packet is in time).
    assert_eq!(received, 200, "{}", r.stats["metrics"]);
    assert_eq!((lost, late, duplicate), (1, 0, 1), "{}", r.stats["metrics"]);
    assert_eq!(r.stats["metrics"]["reordered"], 2, "{}", r.stats["metrics"]);
    assert_eq!(
        played,
        200 - 1,
        "played = expected − lost: {}",
        r.stats["metrics"]
    );
    assert_eq!(r.rate, 8000);
    // Every sequence number from the first to the last has its 20 ms (the lost one concealed).
    assert_eq!(r.samples.len(), 200 * G711_FRAME, "output length");
    assert_eq!(
        r.stats["output"]["frames_played"],
        (200 * G711_FRAME) as u64
    );
    // Each packet's audio is its payload decoded, at its place in sequence order: the swapped,
    // duplicated, late and bunched-up packets all play in order and untouched. The lost packet
    // and the one after it (where concealment hands back to real audio) are left out.
    for k in (0..200).filter(|&k| k != 30 && k != 31) {
        let expected: Vec<f32> = pcmu_payload(k)
            .into_iter()
            .map(|c| to_f32(ulaw_to_linear(c)))
            .collect();
        assert_packet_samples(&r.samples, k, &expected, "PCMU replay");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A two-way call with RTCP and other traffic
// ---------------------------------------------------------------------------------------------

const CALLER_SSRC: u32 = 0x1A2B_3C4D;
const CALLEE_SSRC: u32 = 0x5E6F_7081;

/// A call: 10.0.0.1:4000 sends 150 PCMU packets to 10.0.0.2:6000 from 10 ms on, 10.0.0.2:6000
/// answers with 100 PCMA packets from 15 ms on; the caller's RTCP port sends three SR+SDES, the
/// callee's two RR+SDES and finally a BYE; one stray UDP datagram and one TCP segment too.
fn two_way_call() -> Capture {
    let mut cap = Capture::new(Link::Ethernet(&[]));
    // First record: TCP, not part of any stream (so the streams start after 0).
    cap.ip(
        us(0),
        ip_tcp(
            addr("10.0.0.1:5061"),
            addr("10.0.0.2:5061"),
            b"sip over tls",
        ),
    );
    let mut timeline: Vec<(u64, &str, &str, Vec<u8>)> = Vec::new();
    for k in 0..150usize {
        let p = rtp(
            0,
            false,
            7_000 + k as u16,
            (k * G711_FRAME) as u32,
            CALLER_SSRC,
            &[0xFF; G711_FRAME],
        );
        timeline.push((
            10_000 + 20_000 * k as u64,
            "10.0.0.1:4000",
            "10.0.0.2:6000",
            p,
        ));
    }
    for k in 0..100usize {
        let p = rtp(
            8,
            false,
            300 + k as u16,
            9_000 + (k * G711_FRAME) as u32,
            CALLEE_SSRC,
            &[0xD5; G711_FRAME],
        );
        timeline.push((
            15_000 + 20_000 * k as u64,
            "10.0.0.2:6000",
            "10.0.0.1:4000",
            p,
        ));
    }
    for i in 0..3u64 {
        let mut p = rtcp_sr(CALLER_SSRC);
        p.extend(rtcp_sdes(CALLER_SSRC, "alice@10.0.0.1"));
        timeline.push((500_000 + 1_000_000 * i, "10.0.0.1:4001", "10.0.0.2:6001", p));
    }
    for i in 0..2u64 {
        let mut p = rtcp_rr(CALLEE_SSRC, CALLER_SSRC);
        p.extend(rtcp_sdes(CALLEE_SSRC, "bob"));
        if i == 1 {
            p.extend(rtcp_bye(CALLEE_SSRC));
        }
        timeline.push((700_000 + 1_000_000 * i, "10.0.0.2:6001", "10.0.0.1:4001", p));
    }
    // Version 1 in its first byte: neither RTP nor RTCP.
    timeline.push((
        1_234_000,
        "10.0.0.1:53000",
        "10.0.0.53:53",
        b"\x4a\x01 some DNS query".to_vec(),
    ));
    timeline.sort_by_key(|(at, ..)| *at);
    for (at, src, dst, payload) in timeline {
        cap.udp(us(at), src, dst, &payload);
    }
    cap
}

#[test]
fn a_two_way_call_with_rtcp_and_other_traffic() {
    let (dir, path) = scratch_file("call", "call.pcap");
    two_way_call().write_pcap(&path);
    let report = streams_json(&path);
    // 1 TCP + 150 + 100 RTP + 5 RTCP + 1 stray datagram.
    assert_eq!(report["records"], 257, "{report}");
    assert_eq!(report["udp"], 256);
    assert_eq!(report["other_udp"], 1);
    assert_eq!(report["frames"]["other"], 1, "the TCP segment");
    assert_eq!(report["sip_messages"], 0);

    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 2, "{report}");
    let (a, b) = (&streams[0], &streams[1]);
    let route = ["index", "src", "dst", "ssrc", "codec"];
    assert_eq!(
        pick(a, route),
        json!([
            1,
            "10.0.0.1:4000",
            "10.0.0.2:6000",
            CALLER_SSRC,
            "PCMU/8000"
        ])
    );
    assert_eq!(
        pick(b, route),
        json!([
            2,
            "10.0.0.2:6000",
            "10.0.0.1:4000",
            CALLEE_SSRC,
            "PCMA/8000"
        ])
    );
    assert_eq!(counters(a), [150, 150, 0, 0, 0]);
    assert_eq!(counters(b), [100, 100, 0, 0, 0]);
    assert_near(&a["stats"]["start_s"], 0.010, NS_IN_S, "caller start_s");
    assert_near(&b["stats"]["start_s"], 0.015, NS_IN_S, "callee start_s");
    assert_near(
        &a["stats"]["duration_s"],
        2.98,
        NS_IN_S,
        "caller duration_s",
    );
    assert_near(
        &b["stats"]["duration_s"],
        1.98,
        NS_IN_S,
        "callee duration_s",
    );

    let rtcp = report["rtcp"].as_array().expect("rtcp");
    assert_eq!(rtcp.len(), 2, "{report}");
    let (ra, rb) = (&rtcp[0], &rtcp[1]);
    assert_eq!(
        pick(ra, ["src", "dst"]),
        json!(["10.0.0.1:4001", "10.0.0.2:6001"])
    );
    assert_eq!(
        pick(rb, ["src", "dst"]),
        json!(["10.0.0.2:6001", "10.0.0.1:4001"])
    );
    let counts = |f: &Value| {
        let c = &f["counts"];
        [
            "datagrams",
            "sender_reports",
            "receiver_reports",
            "sdes",
            "bye",
            "app",
            "other",
            "malformed",
        ]
        .map(|k| c[k].as_u64().unwrap_or_else(|| panic!("counts.{k}: {c}")))
    };
    assert_eq!(counts(ra), [3, 3, 0, 3, 0, 0, 0, 0], "{ra}");
    assert_eq!(counts(rb), [2, 0, 2, 2, 1, 0, 0, 0], "{rb}");
    assert_eq!(ra["counts"]["ssrcs"], json!([CALLER_SSRC]));
    assert_eq!(rb["counts"]["ssrcs"], json!([CALLEE_SSRC]));

    // Two audio streams: play must be told which.
    let err = play_fails(&path, &[]);
    assert!(err.contains("choose one with --stream"), "{err}");
    let by_index = play(&path, &dir, &["--stream", "2"], true);
    assert_eq!(by_index.stats["format"], "pcma");
    assert_eq!(by_index.stats["stream"]["index"], 2);
    assert_eq!(
        metrics(&by_index.stats),
        [100, 100, 0, 0, 0],
        "{}",
        by_index.stats["metrics"]
    );
    assert_eq!(by_index.samples.len(), 100 * G711_FRAME);
    let by_ssrc = play(
        &path,
        &dir,
        &["--ssrc", &format!("0x{CALLER_SSRC:08x}")],
        true,
    );
    assert_eq!(by_ssrc.stats["format"], "pcmu");
    assert_eq!(by_ssrc.stats["stream"]["index"], 1);
    assert_eq!(
        metrics(&by_ssrc.stats),
        [150, 150, 0, 0, 0],
        "{}",
        by_ssrc.stats["metrics"]
    );
    assert_eq!(by_ssrc.samples.len(), 150 * G711_FRAME);
}

// ---------------------------------------------------------------------------------------------
// 6. SDP in SIP names a dynamic payload type
// ---------------------------------------------------------------------------------------------

/// An INVITE from 10.0.0.1 offering to receive PT 96 = L16/8000/1 on 10.0.0.1:4000.
fn invite_with_sdp() -> Vec<u8> {
    let sdp = "v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
               m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 L16/8000/1\r\n";
    format!(
        "INVITE sip:bob@10.0.0.2 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n\
         From: <sip:alice@10.0.0.1>;tag=1928301774\r\n\
         To: <sip:bob@10.0.0.2>\r\n\
         Call-ID: a84b4c76e66710@10.0.0.1\r\n\
         CSeq: 314159 INVITE\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

/// 100 packets of L16/8000/1 (PT 96) from 10.0.0.2:6000 to 10.0.0.1:4000, from 0.5 s on; the
/// INVITE first when `with_sip`.
fn dynamic_l16_call(with_sip: bool) -> Capture {
    let mut cap = Capture::new(Link::Ethernet(&[]));
    if with_sip {
        cap.udp(us(0), "10.0.0.1:5060", "10.0.0.2:5060", &invite_with_sdp());
    }
    for k in 0..100usize {
        let packet = rtp(
            96,
            false,
            k as u16,
            (k * G711_FRAME) as u32,
            0x00D1_9A96,
            &l16_payload(k, G711_FRAME),
        );
        cap.udp(
            us(500_000 + 20_000 * k as u64),
            "10.0.0.2:6000",
            "10.0.0.1:4000",
            &packet,
        );
    }
    cap
}

/// The exact output of [`dynamic_l16_call`]'s stream.
fn assert_dynamic_l16_output(r: &Replay) {
    assert_eq!(r.stats["format"], "l16/8000/1");
    assert_eq!(
        metrics(&r.stats),
        [100, 100, 0, 0, 0],
        "{}",
        r.stats["metrics"]
    );
    assert_eq!(r.rate, 8000);
    assert_eq!(r.samples.len(), 100 * G711_FRAME);
    for k in 0..100 {
        let expected: Vec<f32> = (0..G711_FRAME).map(|j| to_f32(l16_sample(k, j))).collect();
        assert_packet_samples(&r.samples, k, &expected, "L16/8000 replay");
    }
}

#[test]
fn sdp_in_a_sip_invite_names_a_dynamic_payload_type() {
    let (dir, path) = scratch_file("sdp", "call.pcap");
    dynamic_l16_call(true).write_pcap(&path);
    let report = streams_json(&path);
    assert_eq!(
        pick(&report, ["sip_messages", "sdp_bodies"]),
        json!([1, 1]),
        "{report}"
    );
    assert_eq!(report["other_udp"], 1, "the INVITE is not RTP");
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{report}");
    let s = &streams[0];
    assert_eq!(
        pick(s, ["kind", "pt", "codec"]),
        json!(["audio", 96, "L16/8000/1"])
    );
    let p = &s["payloads"][0];
    assert_eq!(
        pick(p, ["pt", "role", "named_by", "packets", "clock_rate"]),
        json!([96, "audio", "sdp", 100, 8000]),
        "{p}"
    );
    assert_near(&s["stats"]["start_s"], 0.5, NS_IN_S, "start_s");
    // Named, so timed: the perfectly regular stream has no jitter.
    assert_near(&s["stats"]["jitter_ms"], 0.0, NS_IN_MS, "jitter_ms");
    assert_dynamic_l16_output(&play(&path, &dir, &[], true));
}

#[test]
fn a_dynamic_payload_type_without_sdp_needs_format() {
    let (dir, path) = scratch_file("no_sdp", "call.pcap");
    dynamic_l16_call(false).write_pcap(&path);
    let report = streams_json(&path);
    assert_eq!(pick(&report, ["sip_messages", "sdp_bodies"]), json!([0, 0]));
    let s = &report["streams"][0];
    assert_eq!(
        pick(s, ["kind", "codec"]),
        json!(["unknown", "dynamic 96"]),
        "{s}"
    );
    let p = &s["payloads"][0];
    assert_eq!(
        pick(p, ["role", "named_by", "clock_rate"]),
        json!(["unknown", "nothing", null]),
        "{p}"
    );
    // Without a clock rate there is no jitter to compute.
    assert_eq!(s["stats"]["jitter_ms"], Value::Null);
    assert_eq!(counters(s), [100, 100, 0, 0, 0]);

    let err = play_fails(&path, &[]);
    assert!(err.contains("--format"), "{err}");
    assert_dynamic_l16_output(&play(&path, &dir, &["--format", "l16/8000/1"], true));
}

// ---------------------------------------------------------------------------------------------
// 7. Telephone events inside an audio stream
// ---------------------------------------------------------------------------------------------

#[test]
fn telephone_events_are_recognised_and_heard_in_place_of_the_audio() {
    let (dir, path) = scratch_file("dtmf", "dtmf.pcap");
    const AUDIO: usize = 150;
    // After audio packets 30, 70 and 110 an RFC 4733 event (digits 1, 5, 9) is sent as three
    // packets 5 ms apart, all with the timestamp of the audio it starts at, the last with the
    // end bit; events share the stream's sequence numbers.
    let event_after = [(30usize, 1u8), (70, 5), (110, 9)];
    let mut cap = Capture::new(Link::Ethernet(&[]));
    let mut seq = 0u16;
    let mut next = |cap: &mut Capture, at: u64, pt: u8, ts: u32, payload: &[u8]| {
        let p = rtp(pt, false, seq, ts, 0x7E1E_0101, payload);
        seq += 1;
        cap.udp(us(at), "10.0.0.1:4000", "10.0.0.2:6000", &p);
    };
    for k in 0..AUDIO {
        let (at, ts) = (20_000 * k as u64, (k * G711_FRAME) as u32);
        next(&mut cap, at, 0, ts, &pcmu_payload(k));
        if let Some(&(_, digit)) = event_after.iter().find(|(after, _)| *after == k) {
            for i in 1..=3u16 {
                let end = if i == 3 { 0x80 } else { 0 };
                let duration = (i * 160).to_be_bytes();
                let payload = [digit, end | 10, duration[0], duration[1]];
                next(&mut cap, at + 5_000 * u64::from(i), 101, ts, &payload);
            }
        }
    }
    cap.write_pcap(&path);

    let report = streams_json(&path);
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{report}");
    let s = &streams[0];
    assert_eq!(
        pick(s, ["kind", "pt", "codec"]),
        json!(["audio", 0, "PCMU/8000"])
    );
    assert_eq!(s["telephone_events"], 3);
    assert_eq!(counters(s), [159, 159, 0, 0, 0], "{}", s["stats"]);
    let payloads = s["payloads"].as_array().expect("payloads");
    assert_eq!(payloads.len(), 2, "{s}");
    let (audio, events) = (&payloads[0], &payloads[1]);
    let columns = ["pt", "name", "role", "named_by", "packets"];
    assert_eq!(
        pick(audio, columns),
        json!([0, "PCMU/8000", "audio", "static", 150])
    );
    assert_eq!(
        pick(events, columns),
        json!([101, "telephone-event", "telephone-event", "guess", 9])
    );
    // Jitter is measured on the audio alone, which is perfectly regular.
    assert_near(&s["stats"]["jitter_ms"], 0.0, NS_IN_MS, "jitter_ms");
    assert_near(&s["stats"]["max_delta_ms"], 20.0, NS_IN_MS, "max_delta_ms");

    // Each event lasts 480 ticks from its audio packet's timestamp: three packets' time, where
    // the sender did not suppress the audio. The event replaces it, as a tone or as silence.
    let in_event = |k: usize| event_after.iter().any(|&(at, _)| (at..at + 3).contains(&k));
    for mode in ["tone", "silence"] {
        let r = play(&path, &dir, &["--dtmf", mode], true);
        let [received, played, lost, late, duplicate] = metrics(&r.stats);
        assert_eq!(
            received, AUDIO as u64,
            "only audio packets are received as audio: {}",
            r.stats["metrics"]
        );
        assert_eq!(
            (played, lost, late, duplicate),
            (150, 0, 0, 0),
            "{}",
            r.stats["metrics"]
        );
        assert_eq!(
            r.stats["metrics"]["dtmf_events"], 3,
            "{}",
            r.stats["metrics"]
        );
        assert_eq!(
            r.stats["metrics"]["dtmf_ms"], 180.0,
            "{}",
            r.stats["metrics"]
        );
        // The events take no time of their own: the output is the audio's length.
        assert_eq!(r.samples.len(), AUDIO * G711_FRAME);
        for k in 0..AUDIO {
            let got = &r.samples[k * G711_FRAME..(k + 1) * G711_FRAME];
            let expected: Vec<f32> = pcmu_payload(k)
                .into_iter()
                .map(|c| to_f32(ulaw_to_linear(c)))
                .collect();
            match (in_event(k), mode) {
                (false, _) => assert_packet_samples(&r.samples, k, &expected, "PCMU with events"),
                (true, "silence") => assert!(got.iter().all(|&x| x == 0.0), "packet {k}"),
                (true, _) => {
                    // Volume 10: the pair's RMS is a full-scale sine's less 13.14 dB.
                    let rms = (got.iter().map(|x| x * x).sum::<f32>() / got.len() as f32).sqrt();
                    let db = 20.0 * (rms * 2f32.sqrt()).log10();
                    assert!((db + 13.14).abs() < 0.5, "packet {k}: {db} dB");
                }
            }
        }
    }
}
