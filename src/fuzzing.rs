//! Fuzz targets: one entry per untrusted input surface (an RTP packet, the receive core driven
//! by a little program, SDP, captures, media files), each taking arbitrary bytes, never
//! panicking and bounded in time and memory. `fuzz/` runs them under libFuzzer and
//! `tests/fuzz_corpus.rs` replays their corpora; see `docs/fuzzing.md`.

use std::time::Duration;

use crate::capture::{analyse, analysis, read_capture_bytes, select, table, Selector};
use crate::codec::file::FileDecoder;
use crate::codec::rtp_decoder::RtpDecoder;
use crate::playback::callback::RingCallback;
use crate::playback::ring::audio_ring;
use crate::playback::OutputStats;
use crate::playout::engine::{Output, PlayoutEngine};
use crate::playout::ReceiveCoreConfig;
use crate::rtcp::nack::NackConfig;
use crate::rtcp::ntp::NtpTime;
use crate::rtcp::receiver::{RtcpReceiver, RtcpReceiverConfig};
use crate::rtcp::wire::{Outgoing, SenderInfo, MAX_RTCP_LEN};
use crate::rtp::header::RtpHeader;
use crate::rtp::payload::PayloadFormat;
use crate::rtp::sdp::{audio_media, parse_sdp};

/// Every decodable payload format, at a few rates and channel counts, for [`rtp_packet`].
const DECODER_FORMATS: [PayloadFormat; 10] = [
    PayloadFormat::L16 {
        rate: 48_000,
        channels: 2,
    },
    PayloadFormat::L16 {
        rate: 8_000,
        channels: 1,
    },
    PayloadFormat::L16 {
        rate: 44_100,
        channels: 6,
    },
    PayloadFormat::L24 {
        rate: 48_000,
        channels: 2,
    },
    PayloadFormat::L24 {
        rate: 96_000,
        channels: 1,
    },
    PayloadFormat::L24 {
        rate: 44_100,
        channels: 3,
    },
    PayloadFormat::Pcmu,
    PayloadFormat::Pcma,
    PayloadFormat::Mpa,
    PayloadFormat::Opus,
];

/// Parses `data` as an RTP packet and decodes its payload with every payload decoder.
///
/// Each decoder sees the payload twice (so MPEG audio reassembly meets a continuation), then a
/// loss, then the payload again; codecs that fill losses (Opus) also fill one from the payload
/// as the next packet's FEC and one by concealment.
pub fn rtp_packet(data: &[u8]) {
    let Ok(header) = RtpHeader::parse(data) else {
        return;
    };
    let payload = header.payload(data);
    let _ = PayloadFormat::from_static_pt(header.payload_type)
        .map(|f| (f.samples_per_packet(payload.len()), f.to_string()));
    let mut out = Vec::new();
    for format in DECODER_FORMATS {
        let _ = format.samples_per_packet(payload.len());
        let Ok(mut decoder) = RtpDecoder::new(&format) else {
            continue;
        };
        let _ = decoder.decode(payload, &mut out);
        let _ = decoder.decode(payload, &mut out);
        decoder.note_loss();
        let _ = decoder.fill_loss(960, Some(payload), &mut out);
        let _ = decoder.fill_loss(1, None, &mut out);
        let _ = decoder.decode(payload, &mut out);
        let _ = (decoder.rate(), decoder.channels(), decoder.frame_errors());
        decoder.reset();
        out.clear();
    }
}

/// Parses `data` as a session description, both as the player does and as capture naming does.
pub fn sdp(data: &[u8]) {
    if let Ok(stream) = parse_sdp(data) {
        let _ = stream.primary();
        for p in &stream.payloads {
            let _ = stream.format_for(p.pt);
        }
    }
    let _ = audio_media(data);
}

/// Reads `data` as a pcap, pcapng or rtpdump capture and analyses it as `jitterplay streams`
/// does: the streams report (text and JSON), every stream's per-packet analysis, and the
/// choice of a stream to play.
pub fn capture(data: &[u8]) {
    let Ok(mut capture) = read_capture_bytes(data) else {
        return;
    };
    // SRTP keys offered in the capture's SIP/SDP are tried on its flows.
    crate::capture::srtp_flows::decrypt(&mut capture, None);
    let report = analyse(&capture);
    let _ = table::report_text(&report);
    let _ = serde_json::to_string(&report);
    for stream in &report.streams {
        let rows = analysis::analyse_packets(&capture, stream);
        let _ = analysis::packet_table(&rows);
        let _ = table::stream_table(std::slice::from_ref(stream));
    }
    let path = std::path::Path::new("fuzz.pcap");
    let _ = select(path, &capture, &report, Selector::Auto, None);
    for n in 1..=report.streams.len().min(4) {
        let _ = select(path, &capture, &report, Selector::Index(n), None);
        if let Some(s) = report.streams.get(n - 1) {
            let _ = select(path, &capture, &report, Selector::Ssrc(s.ssrc), None);
        }
    }
}

/// Interleaved samples [`file_decode`] decodes at most (about 3 s of 48 kHz stereo).
const FILE_MAX_SAMPLES: usize = 300_000;
/// Decoded chunks [`file_decode`] asks for at most, however small they are.
const FILE_MAX_CHUNKS: usize = 256;

/// Decodes `data` as a media file (any container and codec symphonia knows), up to a few
/// seconds of audio.
pub fn file_decode(data: &[u8]) {
    let Ok(mut decoder) = FileDecoder::from_bytes(data.to_vec(), None) else {
        return;
    };
    let _ = (decoder.format(), decoder.duration());
    let mut chunk = Vec::new();
    let mut samples = 0usize;
    for _ in 0..FILE_MAX_CHUNKS {
        match decoder.next_chunk(&mut chunk) {
            Ok(true) => samples += chunk.len(),
            Ok(false) | Err(_) => break,
        }
        if samples >= FILE_MAX_SAMPLES {
            break;
        }
    }
    let _ = (decoder.skipped_packets(), decoder.missing_frames());
}

/// Operations [`receive_core`] runs at most per input.
const CORE_MAX_OPS: usize = 192;
/// Output samples [`receive_core`] asks the receiver for at most per input (50 ms of 48 kHz
/// stereo, 0.6 s of 8 kHz mono): producing audio is most of the cost of a program.
const CORE_MAX_OUTPUT: usize = 4_800;
/// Largest `want` of one `produce` call.
const CORE_MAX_WANT: Duration = Duration::from_millis(100);
/// Periods of 20 ms the drain after `finish` runs at most.
const CORE_DRAIN_PERIODS: usize = 25;
/// Longest a program waits for the core's own timer.
const CORE_MAX_TIMER_WAIT: Duration = Duration::from_secs(1);
/// SSRCs a program picks from (index 3 reads one from the input).
const CORE_SSRCS: [u32; 3] = [0x1234_5678, 0x8765_4321, 0];

/// (payload format, output rate, output channels) a program's first byte chooses from.
const CORE_SETUPS: [(PayloadFormat, u32, u16); 8] = [
    (
        PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        },
        48_000,
        2,
    ),
    (PayloadFormat::Pcmu, 8_000, 1),
    (
        PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        },
        44_100,
        2,
    ),
    (PayloadFormat::Pcmu, 48_000, 2),
    (PayloadFormat::Pcma, 8_000, 1),
    (
        PayloadFormat::L24 {
            rate: 48_000,
            channels: 1,
        },
        48_000,
        2,
    ),
    (PayloadFormat::Mpa, 48_000, 2),
    (
        PayloadFormat::L16 {
            rate: 8_000,
            channels: 1,
        },
        8_000,
        1,
    ),
];

/// Target windows (min, max) a program's first byte chooses from.
const CORE_WINDOWS: [(Duration, Duration); 4] = [
    (Duration::from_millis(20), Duration::from_millis(100)),
    (Duration::from_millis(60), Duration::from_secs(1)),
    (Duration::ZERO, Duration::ZERO),
    (Duration::from_secs(3), Duration::from_secs(5)),
];

/// Drives the receive core's one public face, [`PlayoutEngine`] with its RTCP session (reports,
/// NACK, RTX on PT 97, sender reports, BYE), feeding a playback ring that a virtual device
/// drains through the same [`RingCallback`] as every output, with a little program read from
/// `data`.
///
/// Byte 0 sets up: bits 0–2 the payload format and output ([`CORE_SETUPS`]), bits 3–4 the
/// target window ([`CORE_WINDOWS`]), bit 5 telephone events on PT 101, bit 6 a payload type
/// learnt from the first packet, bit 7 an output ring of 100 ms. Then each operation is one
/// byte `op` and its arguments; the clock only moves forward:
/// - `op % 16` in 0..=5: an RTP packet with a synthetic payload. Arguments: `flags`, `arg`,
///   `len`, `dt`. `flags` bit 0 is the marker; bits 1–2 the payload type (the stream's twice,
///   comfort noise 13, or one read from the input); bits 3–4 the SSRC ([`CORE_SSRCS`], or one
///   read as 4 bytes); bits 5–7 the sequence move: 0–2 next, 3 `arg` packets back (late or
///   reordered, the stream position unchanged), 4 `arg` packets lost before it, 5 a duplicate
///   of the last, 6 sequence number and timestamp read from the input (6 bytes), 7 next with a
///   timestamp jump of `arg` × 4096 ticks. The payload holds `len` × 4 sample frames (255:
///   a byte count read from the input instead). The packet arrives `dt` ms after the last event.
/// - 6: an RTP packet like the above whose payload is `len` bytes read from the input (MPEG
///   audio frames, odd sizes).
/// - 7: a raw datagram: a length byte and that many bytes.
/// - 8: `poll` after `dt` ms (arguments `dt` and one ignored byte).
/// - 9: the driver wakes at the engine's deadline (at most 1 s ahead; now if it has none) and
///   runs a device period (see 15).
/// - 10, 11: the device pulls `want` ms (argument `want`; at most 100 ms, [`CORE_MAX_OUTPUT`]
///   samples in all), and its underruns go back to the engine.
/// - 12: the clock jumps `s` seconds (argument `s`).
/// - 13: RTCP and repair (arguments `kind`, `arg`): `kind % 4` 0 an underrun the output
///   reports; 1 a sender report of the last packet's SSRC counting `arg` more packets than
///   sent, stamped at the stream's timestamp; 2 a BYE from it; 3 the packet `arg` back as an
///   RFC 4588 retransmission on PT 97.
/// - 14: `end_of_stream` and drain: the program ends.
/// - 15: a device period: after `dt` ms, `poll`, then the device pulls 20 ms (argument `dt`).
///
/// The program ends at [`CORE_MAX_OPS`] operations or the input's end, then the stream ends
/// and drains for at most [`CORE_DRAIN_PERIODS`] periods of 20 ms.
pub fn receive_core(data: &[u8]) {
    let _ = run_program(data);
}

/// Runs a [`receive_core`] program; the driver at its end, `None` for an empty program.
fn run_program(data: &[u8]) -> Option<CoreDriver> {
    let mut input = ProgramInput { data };
    let setup = input.byte()?;
    let (format, output_rate, output_channels) = CORE_SETUPS[usize::from(setup & 7)];
    let mut cfg = ReceiveCoreConfig::new(format, output_rate, output_channels);
    let (min, max) = CORE_WINDOWS[usize::from(setup >> 3 & 3)];
    cfg.set_target_window(min, max);
    if setup & 0x20 != 0 {
        cfg.telephone_event_pt = Some(101);
    }
    if setup & 0x40 != 0 {
        cfg.payload_type = None;
    }
    if setup & 0x80 != 0 {
        cfg.add_output_ring(Duration::from_millis(100));
    }
    let pt = format.static_pt().unwrap_or(96);
    let (producer, consumer) = audio_ring(
        Duration::from_millis(200),
        output_rate,
        usize::from(output_channels),
    );
    let rtcp = RtcpReceiver::new(
        RtcpReceiverConfig {
            ssrc: 0x0F0F_0F0F,
            cname: "fuzz".into(),
            clock_rate: format.clock_rate(),
            nack: Some(NackConfig::default()),
            rtx: Some((CORE_RTX_PT, pt)),
            reduced_size: setup & 1 != 0,
            session_octets_per_s: 8_000.0,
            seed: u64::from(setup),
            first_report_at_once: setup & 2 != 0,
        },
        Duration::ZERO,
    );
    let engine = PlayoutEngine::new(cfg, producer, Duration::from_millis(60))
        .ok()?
        .with_rtcp(rtcp);
    let stats = std::sync::Arc::new(OutputStats::default());
    let callback = RingCallback::new(consumer, std::sync::Arc::clone(&stats));
    let mut core = CoreDriver {
        engine,
        callback,
        stats,
        deadline: None,
        injected_underruns: 0,
        format,
        output_rate,
        output_channels,
        pt,
        now: Duration::ZERO,
        seq: 0,
        ts: 0,
        last: (0, 0, 0),
        sent: 0,
        played: 0,
        last_packet: Vec::new(),
        step: 0,
        output_left: CORE_MAX_OUTPUT,
        out: Vec::new(),
        datagram: Vec::new(),
    };
    for _ in 0..CORE_MAX_OPS {
        let Some(op) = input.byte() else {
            break;
        };
        if core.run(op % 16, &mut input).is_none() {
            break;
        }
    }
    core.drain();
    Some(core)
}

/// A program's bytes, read front to back.
struct ProgramInput<'a> {
    data: &'a [u8],
}

impl<'a> ProgramInput<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.data.split_at_checked(n)?;
        self.data = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn millis(&mut self) -> Option<Duration> {
        self.byte().map(|b| Duration::from_millis(u64::from(b)))
    }
}

/// Payload type of retransmissions (RFC 4588 RTX) in [`receive_core`] programs.
const CORE_RTX_PT: u8 = 97;

/// The engine under test, the device draining its ring, and the stream a program writes.
struct CoreDriver {
    engine: PlayoutEngine,
    callback: RingCallback,
    stats: std::sync::Arc<OutputStats>,
    /// The engine's last deadline.
    deadline: Option<Duration>,
    /// Underruns the program made the output report.
    injected_underruns: u64,
    format: PayloadFormat,
    output_rate: u32,
    output_channels: u16,
    /// The stream's payload type.
    pt: u8,
    now: Duration,
    /// Sequence number and timestamp of the stream's next packet.
    seq: u16,
    ts: u32,
    /// Sequence number, timestamp and SSRC of the last packet sent.
    last: (u16, u32, u32),
    /// Packets the program has sent (a sender report's count).
    sent: u16,
    /// Real samples the device got from the ring.
    played: usize,
    /// The last RTP packet built (what a retransmission repeats).
    last_packet: Vec<u8>,
    /// Timestamp ticks of the last synthetic packet.
    step: u32,
    /// Output samples the program may still ask for.
    output_left: usize,
    out: Vec<f32>,
    datagram: Vec<u8>,
}

impl CoreDriver {
    /// Runs operation `op`; `None` when the program ends (input exhausted or `finish`).
    fn run(&mut self, op: u8, input: &mut ProgramInput<'_>) -> Option<()> {
        match op {
            0..=6 => self.packet(op == 6, input)?,
            7 => {
                let len = usize::from(input.byte()?);
                let bytes = input.bytes(len)?;
                self.datagram.clear();
                self.datagram.extend_from_slice(bytes);
                self.deliver();
            }
            8 => {
                self.advance(input.millis()?);
                let _ = input.byte()?;
                self.poll();
            }
            9 => {
                if let Some(at) = self.deadline {
                    let dt = at.saturating_sub(self.now).min(CORE_MAX_TIMER_WAIT);
                    self.advance(dt);
                }
                self.period();
            }
            10 | 11 => {
                let want = input.millis()?.min(CORE_MAX_WANT);
                self.pull(want);
            }
            12 => self.advance(Duration::from_secs(u64::from(input.byte()?))),
            13 => self.rtcp(input.byte()?, input.byte()?),
            14 => return None,
            _ => {
                self.advance(input.millis()?);
                self.period();
            }
        }
        Some(())
    }

    /// Moves the clock forward.
    fn advance(&mut self, dt: Duration) {
        self.now += dt;
    }

    /// Hands `datagram` to the engine as arriving now.
    fn deliver(&mut self) {
        let _ = self.engine.handle_datagram(&self.datagram, self.now);
    }

    /// Polls the engine (control, top-up, RTCP), sending nowhere what it would transmit.
    fn poll(&mut self) {
        loop {
            match self.engine.poll(self.now) {
                Ok(Output::Playout(p)) => self.stats.set_paused(!p.decision.playing),
                Ok(Output::Timeout(deadline)) => {
                    self.deadline = deadline;
                    return;
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }

    /// One device period: poll, then the device pulls 20 ms.
    fn period(&mut self) {
        self.poll();
        self.pull(Duration::from_millis(20));
    }

    /// The device pulls `want` of audio within the output budget; its underruns go back to the
    /// engine. Returns the real samples it got.
    fn pull(&mut self, want: Duration) -> usize {
        let channels = usize::from(self.output_channels.max(1));
        let frames = (want.as_secs_f64() * f64::from(self.output_rate)) as usize;
        let samples = (frames * channels).min(self.output_left);
        if samples == 0 {
            return 0;
        }
        self.out.clear();
        self.out.resize(samples, 0.0);
        let got = self.callback.fill(&mut self.out);
        self.output_left -= samples;
        self.played += got;
        self.engine
            .handle_output(self.stats.underruns() + self.injected_underruns, self.now);
        got
    }

    /// RTCP and repair (see [`receive_core`], operation 13).
    fn rtcp(&mut self, kind: u8, arg: u8) {
        let (seq, ts, ssrc) = self.last;
        match kind % 4 {
            0 => {
                self.injected_underruns += 1;
                self.engine
                    .handle_output(self.stats.underruns() + self.injected_underruns, self.now);
                return;
            }
            1 | 2 => {
                let report = Outgoing {
                    ssrc,
                    sender: Some(SenderInfo {
                        ntp: NtpTime::from_unix(Duration::from_secs(3_900_000_000) + self.now),
                        rtp_timestamp: ts,
                        packets: u32::from(self.sent).wrapping_add(u32::from(arg)),
                        octets: 0,
                    }),
                    block: None,
                    cname: Some("sender@fuzz"),
                    nack: None,
                    bye: (kind % 4 == 2).then_some(""),
                    reduced_size: false,
                };
                self.datagram.clear();
                self.datagram.resize(MAX_RTCP_LEN, 0);
                match report.write(&mut self.datagram) {
                    Ok(len) => self.datagram.truncate(len),
                    Err(_) => return,
                }
            }
            _ => {
                // The last RTP packet built, renumbered `arg` back, wrapped as RTX.
                if self.last_packet.len() < 12 {
                    return;
                }
                let mut again = self.last_packet.clone();
                again[2..4].copy_from_slice(&seq.wrapping_sub(u16::from(arg)).to_be_bytes());
                let rtx_seq = u16::from(arg);
                if !crate::rtcp::rtx::wrap(
                    &again,
                    CORE_RTX_PT,
                    rtx_seq,
                    ssrc ^ 1,
                    &mut self.datagram,
                ) {
                    return;
                }
            }
        }
        self.deliver();
    }

    /// Builds and delivers one RTP packet (see [`receive_core`] for the argument bytes).
    fn packet(&mut self, payload_from_input: bool, input: &mut ProgramInput<'_>) -> Option<()> {
        let flags = input.byte()?;
        let arg = input.byte()?;
        let len = input.byte()?;
        let dt = input.millis()?;
        let marker = flags & 1 != 0;
        let pt = match flags >> 1 & 3 {
            0 | 1 => self.pt,
            2 => 13,
            _ => input.byte()? & 0x7f,
        };
        let ssrc = match flags >> 3 & 3 {
            i @ 0..=2 => CORE_SSRCS[usize::from(i)],
            _ => input.u32()?,
        };
        let payload_len = if payload_from_input || len == 255 {
            if len == 255 {
                usize::from(input.u16()?) % 4096
            } else {
                usize::from(len)
            }
        } else {
            usize::from(len) * 4 * self.format.bytes_per_frame().unwrap_or(1)
        };
        let step = match self.format.bytes_per_frame() {
            Some(bpf) if !payload_from_input => (payload_len / bpf) as u32,
            // MPEG audio: one 1152-sample frame at 48 kHz on the 90 kHz clock.
            _ => 2_160,
        };
        let back = u16::from(arg);
        let (seq, ts) = match flags >> 5 {
            0..=2 => self.next(step),
            3 => (
                self.last.0.wrapping_sub(back),
                self.last
                    .1
                    .wrapping_sub(u32::from(back).wrapping_mul(self.step)),
            ),
            4 => {
                self.seq = self.seq.wrapping_add(back);
                self.ts = self
                    .ts
                    .wrapping_add(u32::from(back).wrapping_mul(self.step));
                self.next(step)
            }
            5 => (self.last.0, self.last.1),
            6 => {
                self.seq = input.u16()?;
                self.ts = input.u32()?;
                self.next(step)
            }
            _ => {
                self.ts = self.ts.wrapping_add(u32::from(arg) << 12);
                self.next(step)
            }
        };
        self.last = (seq, ts, ssrc);
        self.datagram.clear();
        self.datagram.push(0x80);
        self.datagram.push(pt | if marker { 0x80 } else { 0 });
        self.datagram.extend_from_slice(&seq.to_be_bytes());
        self.datagram.extend_from_slice(&ts.to_be_bytes());
        self.datagram.extend_from_slice(&ssrc.to_be_bytes());
        if payload_from_input || len == 255 {
            self.datagram.extend_from_slice(input.bytes(payload_len)?);
        } else {
            // A quiet ramp: the samples' values do not matter to the core, only their count.
            self.datagram
                .extend((0..payload_len).map(|i| (i as u8 ^ seq as u8) & 0x0f));
        }
        self.advance(dt);
        self.sent = self.sent.wrapping_add(1);
        self.last_packet.clear();
        self.last_packet.extend_from_slice(&self.datagram);
        self.deliver();
        Some(())
    }

    /// The stream's next (sequence number, timestamp), then moves past a packet of `step` ticks.
    fn next(&mut self, step: u32) -> (u16, u32) {
        let at = (self.seq, self.ts);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(step);
        self.step = step;
        at
    }

    /// No more packets: the stream ends and plays out what is left, within the output budget.
    fn drain(&mut self) {
        self.engine.end_of_stream(self.now);
        for _ in 0..CORE_DRAIN_PERIODS {
            let played_out = self.engine.is_drained() && self.callback.available() == 0;
            if played_out || self.output_left == 0 {
                break;
            }
            self.advance(Duration::from_millis(20));
            self.period();
        }
        self.engine.leave(self.now);
        self.poll();
        let _ = self.engine.counts();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A program of `packets` steady 20 ms packets, each followed by a device period.
    fn steady(setup: u8, frames4: u8, packets: usize) -> Vec<u8> {
        let mut p = vec![setup];
        for _ in 0..packets {
            p.extend_from_slice(&[0, 0, 0, frames4, 20, 15, 0]);
        }
        p.push(14);
        p
    }

    #[test]
    fn a_steady_program_plays_its_audio() {
        // L16/48000/2 (setup 0), window 20..100 ms: 20 packets of 960 frames.
        let core = run_program(&steady(0, 240, 20)).expect("a program");
        // It plays until the output budget is spent.
        assert_eq!(core.output_left, 0);
        let m = core.engine.metrics().snapshot();
        assert_eq!((m.lost, m.late, m.underruns), (0, 0, 0), "{m:?}");
    }

    #[test]
    fn g711_programs_play_to_the_end() {
        // PCMU to 8 kHz mono (setup 1), window 60 ms..1 s: 0.5 s of audio, all drained.
        let core = run_program(&steady(1, 40, 25)).expect("a program");
        assert_eq!(core.played, 4_000);
        assert!(core.engine.is_drained());
    }

    #[test]
    fn programs_reach_the_engines_rtcp_session() {
        // PCMU (setup 1): 10 packets, a sender report, a retransmission of packet 3 as RTX
        // (already there: a duplicate), then BYE.
        let mut p = steady(1, 40, 10);
        p.pop();
        p.extend_from_slice(&[13, 1, 0, 13, 3, 6, 13, 2, 0, 15, 20]);
        let core = run_program(&p).expect("a program");
        let rtcp = core.engine.rtcp().expect("RTCP").status();
        assert_eq!(rtcp.sender_reports, 2, "{rtcp:?}");
        assert_eq!(rtcp.rtx_received, 1, "{rtcp:?}");
        assert!(rtcp.bye_received, "{rtcp:?}");
        assert!(core.engine.sender_left());
    }

    #[test]
    fn empty_and_truncated_programs_are_harmless() {
        assert!(run_program(&[]).is_none());
        for cut in 0..20 {
            let p = steady(6, 10, 3);
            receive_core(&p[..cut.min(p.len())]);
        }
    }
}
