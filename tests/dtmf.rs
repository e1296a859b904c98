//! RFC 4733 telephone events are heard: through the receive core, each event's two DTMF
//! frequencies (found by FFT), its duration (within one packet) and its level match what the
//! packets signal, with a lost start packet, a lost update, the three redundant end packets
//! and an event that overlaps audio; `--dtmf silence` plays their time silent. A real capture
//! with telephone events played by the binary carries the same tones.

mod common;
mod signalled_support;

use common::{jitterplay, read_wav, run_ok, scratch};
use jitterplay::playout::DtmfMode;
use jitterplay::rtp::telephone_event::event_block;
use signalled_support::*;

/// Keypad frequencies (low, high) of RFC 4733 event codes, written out independently of the
/// library's table.
fn keypad(code: u8) -> (f64, f64) {
    match code {
        0 => (941.0, 1336.0),
        1 => (697.0, 1209.0),
        2 => (697.0, 1336.0),
        3 => (697.0, 1477.0),
        4 => (770.0, 1209.0),
        5 => (770.0, 1336.0),
        6 => (770.0, 1477.0),
        7 => (852.0, 1209.0),
        8 => (852.0, 1336.0),
        9 => (852.0, 1477.0),
        11 => (941.0, 1477.0),
        15 => (941.0, 1633.0),
        _ => unreachable!("not used here"),
    }
}

/// A full-scale sine is +3.14 dBm0 (ITU-T G.711).
#[allow(clippy::approx_constant)] // 3.14 dB, not π
const G711_FULL_SCALE_DBM0: f64 = 3.14;

struct Planned {
    code: u8,
    volume: u8,
    start_ms: u32,
    len_ms: u32,
    /// Audio keeps coming during the event (the event must replace it).
    audio_during: bool,
    /// Indices of event packets lost on the way (0 is the start packet).
    lost: &'static [usize],
}

const AUDIO_DURING: u8 = 0x55;

/// The event packets of `e`: a start packet, an update every 50 ms, the final report three
/// times (20 ms apart), all stamped with the event's start.
fn event_packets(e: &Planned) -> Vec<Sent> {
    let ts = e.start_ms * 8;
    let mut out = Vec::new();
    let mut t = 0;
    loop {
        let end = t >= e.len_ms;
        let dur = (t.min(e.len_ms) * 8).max(80) as u16;
        let repeats = if end { 3 } else { 1 };
        for r in 0..repeats {
            out.push(Sent {
                at_ms: f64::from(e.start_ms + t.min(e.len_ms) + 20 * r) + 0.5,
                pt: EVENT_PT,
                ts,
                marker: t == 0,
                payload: event_block(e.code, end, e.volume, dur).to_vec(),
                lost: false,
            });
        }
        if end {
            break;
        }
        t += 50;
    }
    for &i in e.lost {
        out[i].lost = true;
    }
    out
}

const PLAN: [Planned; 4] = [
    Planned {
        code: 1,
        volume: 10,
        start_ms: 500,
        len_ms: 200,
        audio_during: false,
        lost: &[],
    },
    Planned {
        code: 11,
        volume: 10,
        start_ms: 1000,
        len_ms: 300,
        audio_during: false,
        lost: &[0, 3],
    },
    Planned {
        code: 15,
        volume: 20,
        start_ms: 1500,
        len_ms: 120,
        audio_during: false,
        lost: &[],
    },
    Planned {
        code: 7,
        volume: 6,
        start_ms: 2000,
        len_ms: 240,
        audio_during: true,
        lost: &[2],
    },
];

/// 2.6 s of digital-silence PCMU with the planned events; audio is suppressed during the
/// events except where planned (then it is a constant, easy to tell from a tone).
fn stream() -> Vec<Sent> {
    let mut packets = Vec::new();
    for ts in (0..2600 * 8).step_by(160) {
        let ms = ts / 8;
        match PLAN
            .iter()
            .find(|e| (e.start_ms..e.start_ms + e.len_ms).contains(&ms))
        {
            Some(e) if e.audio_during => packets.push(Sent::audio(ts, AUDIO_DURING)),
            Some(_) => {}
            None => packets.push(Sent::audio(ts, ULAW_ZERO)),
        }
    }
    for e in &PLAN {
        packets.extend(event_packets(e));
    }
    packets.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    packets
}

fn check_tone(region: &[f32], e: &Planned) {
    let (lo, hi) = keypad(e.code);
    let found = (
        peak_between(region, 600.0, 1000.0),
        peak_between(region, 1100.0, 1700.0),
    );
    assert!(
        (found.0 - lo).abs() < 2.0 && (found.1 - hi).abs() < 2.0,
        "event {}: tones {found:?}, want ({lo}, {hi})",
        e.code
    );
    // Both tones together carry the signalled power; 0 dBm0 is a sine 3.14 dB below full scale
    // (a full-scale sine has an RMS of 1/√2).
    let level = 20.0 * (rms(region) * 2f64.sqrt()).log10();
    let want = -f64::from(e.volume) - G711_FULL_SCALE_DBM0;
    assert!(
        (level - want).abs() < 0.3,
        "event {}: {level:.2} dB, want {want:.2}",
        e.code
    );
    let mean = region.iter().map(|&s| f64::from(s)).sum::<f64>() / region.len() as f64;
    assert!(
        mean.abs() < 1e-3,
        "event {}: audio left under the tone ({mean})",
        e.code
    );
}

#[test]
fn events_play_as_their_dtmf_tones_for_their_duration() {
    let packets = stream();
    let (m, out) = play(&packets, DtmfMode::Tone);
    assert_eq!(m.dtmf_events, 4, "{m:?}");
    assert!((m.dtmf_ms - 860.0).abs() < 0.01, "{m:?}");
    assert_eq!(m.lost, 3, "three event packets were lost: {m:?}");
    // The suppressed-audio events stand alone in digital silence: their extent is their
    // duration, to within one 20 ms packet.
    let runs = active_runs(&out, 1e-4, 8);
    let lone: Vec<&Planned> = PLAN.iter().filter(|e| !e.audio_during).collect();
    let tones: Vec<(usize, usize)> = runs.iter().copied().filter(|r| r.1 - r.0 > 400).collect();
    assert!(tones.len() >= lone.len(), "{runs:?}");
    for (e, &(start, end)) in lone.iter().zip(&tones) {
        let len = (end - start) as i64;
        assert!(
            (len - i64::from(e.len_ms) * 8).abs() <= 160,
            "event {}: {len} samples, want {}",
            e.code,
            e.len_ms * 8
        );
        check_tone(&out[start + 40..end - 40], e);
    }
    // The output follows the RTP timeline: the first event starts where its timestamp says,
    // which places the one that overlaps audio.
    let offset = tones[0].0 as i64 - i64::from(PLAN[0].start_ms) * 8;
    assert!(offset.abs() <= 1, "offset {offset}");
    let e = &PLAN[3];
    let start = (i64::from(e.start_ms) * 8 + offset) as usize;
    let end = start + e.len_ms as usize * 8;
    check_tone(&out[start + 40..end - 40], e);
    assert!(out[start - 100..start - 10].iter().all(|&s| s == 0.0));
    assert!(out[end + 10..end + 100].iter().all(|&s| s == 0.0));
}

#[test]
fn silence_mode_plays_the_events_time_silent() {
    let (m, out) = play(&stream(), DtmfMode::Silence);
    assert_eq!(m.dtmf_events, 4);
    assert!((m.dtmf_ms - 860.0).abs() < 0.01, "{m:?}");
    // The audio under the overlapping event is replaced too: nothing but silence is left.
    assert!(out.len() >= 2600 * 8, "{}", out.len());
    assert!(out.iter().all(|&s| s == 0.0));
}

#[test]
fn a_real_capture_plays_its_keypresses() {
    // tests/data/ulaw-2013785496.pcap: ten events (read with tshark -Y rtpevent), 200 ms each
    // at volume 10, audio suppressed meanwhile.
    let digits = [2u8, 0, 1, 3, 7, 8, 5, 4, 9, 6];
    let dir = scratch("dtmf_capture");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let play_capture = |mode: &str| {
        let wav = dir.join(format!("{mode}.wav"));
        let stats = dir.join(format!("{mode}.jsonl"));
        run_ok(
            jitterplay()
                .args(["play", "--quiet", "--fast", "--dtmf", mode, "--output"])
                .arg(format!("wav:{}", wav.display()))
                .arg("--stats-json")
                .arg(&stats)
                .arg(data.join("ulaw-2013785496.pcap")),
        );
        let text = std::fs::read_to_string(&stats).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["metrics"]["dtmf_events"], 10, "{last}");
        assert_eq!(last["metrics"]["dtmf_ms"], 2000.0, "{last}");
        let (out, rate, _) = read_wav(&wav);
        assert_eq!(rate, 8000);
        out
    };
    let tones = play_capture("tone");
    let silent = play_capture("silence");
    assert_eq!(tones.len(), silent.len());
    // The events' time: where the two runs differ (the audio around them is the same, and it
    // has voice prompts of its own, so the keys are looked for there only).
    let differs: Vec<usize> = (0..tones.len())
        .filter(|&i| tones[i] != silent[i])
        .collect();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for &i in &differs {
        match spans.last_mut() {
            Some(s) if i - s.1 <= 8 => s.1 = i + 1,
            _ => spans.push((i, i + 1)),
        }
    }
    assert!(silent.iter().zip(&tones).all(|(s, t)| s == t || *s == 0.0));
    let heard: Vec<u8> = spans
        .iter()
        .map(|&(a, b)| {
            assert!(
                (b - a).abs_diff(1600) <= 160,
                "a keypress of {} samples",
                b - a
            );
            let w = &tones[a..b];
            let found = (
                peak_between(w, 650.0, 990.0),
                peak_between(w, 1150.0, 1700.0),
            );
            (0..=9u8)
                .find(|&d| {
                    let (l, h) = keypad(d);
                    (found.0 - l).abs() < 2.0 && (found.1 - h).abs() < 2.0
                })
                .unwrap_or_else(|| panic!("not a keypad pair: {found:?}"))
        })
        .collect();
    assert_eq!(heard, digits);
}
