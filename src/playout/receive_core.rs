//! The receive core: RTP datagrams in, output-format samples out, one sans-IO state machine
//! (source checks, jitter buffer, delay estimator, playout controller, decoder, concealment,
//! level moves and drift correction).
//!
//! One `ReceiveCore` serves the live player, the simulator and capture replay alike, inside a
//! [`PlayoutEngine`](super::PlayoutEngine) that adds the ring:
//! - datagrams in: [`ReceiveCore::on_datagram`] with their arrival time;
//! - output progress in: [`ReceiveCore::underrun`] when the device ran dry;
//! - end of stream: [`ReceiveCore::finish`];
//! - out: [`ReceiveCore::tick`] (start, pause, ratio, level move) and [`ReceiveCore::produce`]
//!   (audio), with [`ReceiveCore::next_timer`] for the engine's deadline, so no driver polls on
//!   a fixed period.

use std::sync::Arc;
use std::time::Duration;

pub use super::core_config::{ReceiveCoreConfig, ReceiveCoreError, Segment};
use crate::codec::rtp_decoder::RtpDecoder;
use crate::jitter::{InsertOutcome, JitterBuffer, PopOutcome};
use crate::playout::codec_fill::{fill_by_codec, fill_pause};
use crate::playout::dry_wait::DryWait;
use crate::playout::metrics::Metrics;
use crate::playout::output_pipeline::Pipeline;
use crate::playout::receive_counts::ReceiveCounts;
use crate::playout::signalled::{Piece, SignalledAudio};
use crate::playout::stretch::LevelMove;
use crate::playout::{PlayoutController, PlayoutDecision, PlayoutState};
use crate::rtp::header::{RtpError, RtpHeader};

/// Audio after a loss decoded ahead for concealment: enough for a pitch search (two 15 ms
/// periods) with room to spare.
const RESUME_AHEAD_MS: u64 = 40;

/// What happened to one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The jitter buffer took it (or refused it, as the outcome says).
    Buffered(InsertOutcome),
    /// Not a valid RTP packet.
    Malformed(RtpError),
    /// Comfort noise: counted; the following timestamp gap plays its noise.
    ComfortNoise,
    /// A telephone event: counted; its time plays as its tone.
    TelephoneEvent,
    /// A payload type this stream does not carry.
    UnexpectedPayloadType(u8),
    /// RTCP, taken by the engine's RTCP session.
    Rtcp,
    /// A retransmission (RTX) packet that could not be used: too short, or before the stream.
    UnusableRtx,
}

/// Where a piece of output came from: the frame's (SSRC, RTP timestamp), or `None` for
/// concealment and silence.
type FrameSource = Option<(u32, u32)>;

/// The RTP sequence number of extended number `ext`, from a played frame's pair (the buffer's
/// extension is rebased at restarts, so only differences carry over).
fn raw_seq(frame: Option<(u64, u16)>, ext: u64) -> Option<u16> {
    let (frame_ext, frame_raw) = frame?;
    Some(frame_raw.wrapping_add(ext.wrapping_sub(frame_ext) as u16))
}

/// The sequence numbers of recent non-audio packets, so their gaps are not taken for losses.
#[derive(Debug, Clone)]
struct NonAudioSeqs {
    seqs: [u16; 256],
    len: usize,
    next: usize,
}

impl NonAudioSeqs {
    fn new() -> Self {
        NonAudioSeqs {
            seqs: [0; 256],
            len: 0,
            next: 0,
        }
    }

    fn note(&mut self, seq: u16) {
        self.seqs[self.next] = seq;
        self.next = (self.next + 1) % self.seqs.len();
        self.len = (self.len + 1).min(self.seqs.len());
    }

    fn contains(&self, seq: u16) -> bool {
        self.seqs[..self.len].contains(&seq)
    }
}

/// The receive pipeline's core state.
pub struct ReceiveCore {
    cfg: ReceiveCoreConfig,
    buffer: JitterBuffer,
    controller: PlayoutController,
    decoder: RtpDecoder,
    pipeline: Option<Pipeline>,
    metrics: Arc<Metrics>,
    counts: ReceiveCounts,
    non_audio: NonAudioSeqs,
    /// Telephone events and comfort noise, rendered where they belong on the RTP timeline, and
    /// whether the last piece decoded carries an event (its length must not be stretched).
    signalled: SignalledAudio,
    event_in_piece: bool,
    /// (extended, RTP) sequence number of the last frame played, to map losses back to RTP numbers.
    last_frame_seq: Option<(u64, u16)>,
    /// Fraction of a frame (in tick × rate units) left over from converting gaps to frames.
    tick_remainder: i128,
    decoded: Vec<f32>,
    /// The next packet's payload and audio, decoded ahead to end a concealment smoothly.
    peek_payload: Vec<u8>,
    peek_decoded: Vec<f32>,
    /// The audio after a loss, decoded ahead for two-sided concealment, and a scratch packet.
    resume_payload: Vec<u8>,
    resume_scratch: Vec<u8>,
    resume_decoded: Vec<f32>,
    /// The controller's last word on moving the level, and by how much (seconds).
    level_move: LevelMove,
    level_gap: f64,
    started: bool,
    finished: bool,
    segments: Vec<Segment>,
    /// The output's wait since it ran dry, and the time of the last tick.
    dry: DryWait,
    last_now: Duration,
}

impl ReceiveCore {
    /// Builds the core and its decoder.
    pub fn new(cfg: ReceiveCoreConfig) -> Result<Self, ReceiveCoreError> {
        let decoder = RtpDecoder::new(&cfg.format)?;
        let mut receiver = ReceiveCore {
            buffer: JitterBuffer::new(cfg.jitter.clone()),
            controller: PlayoutController::new(cfg.controller.clone()),
            decoder,
            pipeline: None,
            metrics: Arc::new(Metrics::new()),
            counts: ReceiveCounts::default(),
            non_audio: NonAudioSeqs::new(),
            signalled: SignalledAudio::new(cfg.dtmf, cfg.format.clock_rate()),
            event_in_piece: false,
            last_frame_seq: None,
            tick_remainder: 0,
            decoded: Vec::with_capacity(8192),
            peek_payload: Vec::with_capacity(8192),
            peek_decoded: Vec::with_capacity(8192),
            resume_payload: Vec::with_capacity(16384),
            resume_scratch: Vec::with_capacity(8192),
            resume_decoded: Vec::with_capacity(16384),
            level_move: LevelMove::Hold,
            level_gap: 0.0,
            started: false,
            finished: false,
            segments: Vec::new(),
            dry: DryWait::default(),
            last_now: Duration::ZERO,
            cfg,
        };
        if let (Some(rate), Some(channels)) = (receiver.decoder.rate(), receiver.decoder.channels())
        {
            receiver.pipeline = Some(Pipeline::new(rate, channels, &receiver.cfg)?);
        }
        Ok(receiver)
    }

    /// The shared metrics the shell reads.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Counts of datagrams that never reached the buffer.
    pub fn counts(&self) -> ReceiveCounts {
        self.counts
    }

    /// The jitter buffer (read-only: stats, estimator, depth).
    pub fn buffer(&self) -> &JitterBuffer {
        &self.buffer
    }

    /// The playout controller (read-only: state, drift, rebuffers).
    pub fn controller(&self) -> &PlayoutController {
        &self.controller
    }

    /// Takes one datagram that arrived at `arrival`.
    pub fn on_datagram(&mut self, datagram: &[u8], arrival: Duration) -> Verdict {
        match RtpHeader::parse(datagram) {
            Ok(header) => self.on_packet(&header, datagram, arrival, false),
            Err(e) => {
                self.counts.malformed += 1;
                self.metrics.add_malformed(1);
                Verdict::Malformed(e)
            }
        }
    }

    /// Takes one RTP packet already parsed as `header`, a retransmission if `retransmission`
    /// (see [`JitterBuffer::insert_retransmission`]).
    pub fn on_packet(
        &mut self,
        header: &RtpHeader,
        datagram: &[u8],
        arrival: Duration,
        retransmission: bool,
    ) -> Verdict {
        let pt = header.payload_type;
        // Another SSRC's events or noise would not belong to the audio that plays.
        let ours = self.buffer.ssrc().is_none_or(|s| s == header.ssrc);
        let payload = header.payload(datagram);
        if Some(pt) == self.cfg.comfort_noise_pt && Some(pt) != self.cfg.payload_type {
            self.counts.comfort_noise += 1;
            self.non_audio.note(header.sequence);
            if ours && !self.signalled.on_comfort_noise(header.timestamp, payload) {
                self.counts.decode_errors += 1;
            }
            return Verdict::ComfortNoise;
        }
        if Some(pt) == self.cfg.telephone_event_pt {
            self.counts.telephone_events += 1;
            self.non_audio.note(header.sequence);
            if ours && !self.signalled.on_event(header.timestamp, payload) {
                self.counts.decode_errors += 1;
            }
            return Verdict::TelephoneEvent;
        }
        match self.cfg.payload_type {
            Some(expected) if expected != pt => {
                self.counts.unexpected_pt += 1;
                self.metrics.add_unexpected_pt(1);
                self.non_audio.note(header.sequence);
                return Verdict::UnexpectedPayloadType(pt);
            }
            None => self.cfg.payload_type = Some(pt),
            Some(_) => {}
        }
        let outcome = if retransmission {
            self.buffer.insert_retransmission(header, payload, arrival)
        } else {
            self.buffer.insert(header, payload, arrival)
        };
        Verdict::Buffered(outcome)
    }

    /// Runs the controller for `now` with `ring` of audio waiting in the output ring.
    pub fn tick(&mut self, now: Duration, ring: Duration) -> PlayoutDecision {
        self.last_now = now;
        if self.controller.state() == PlayoutState::Rebuffering {
            if let Some(before) = self.dry.resume_in_pause(&mut self.buffer, now) {
                self.controller.resume_after_pause();
                self.metrics
                    .retract_underruns(self.metrics.underruns().saturating_sub(before));
            }
        }
        let staged = self.staged();
        let target = self.buffer.update_target(now);
        let buffered = self.buffer.depth() + ring + staged;
        let delay = self.buffer.playout_delay(now).map(|d| d + ring + staged);
        if let Some(ticks) = self.buffer.packet_ticks() {
            let packet =
                Duration::from_secs_f64(ticks as f64 / f64::from(self.buffer.clock_rate().max(1)));
            self.controller.set_min_band(packet);
        }
        let was = self.controller.state();
        let decision = self.controller.tick(now, buffered, delay, target);
        match decision.state {
            PlayoutState::Rebuffering if was == PlayoutState::Playing => {
                self.dry
                    .begin(now, self.controller.level(), self.metrics.underruns());
            }
            PlayoutState::Playing => self.dry.end(),
            _ => {}
        }
        self.level_move = decision.level_move;
        self.level_gap = decision.level_gap;
        if decision.state != PlayoutState::Prebuffering {
            self.started = true;
        }
        if let Some(p) = self.pipeline.as_mut() {
            // The controller bounds the ratio; a refusal here would be a bug, not bad input.
            let _ = p.drift.set_ratio(decision.ratio);
        }
        // Sequence numbers used by comfort noise, events or other payload types are gaps in the
        // audio, not losses.
        let mut stats = *self.buffer.stats();
        stats.lost = stats.lost.saturating_sub(self.counts.non_audio_gaps);
        self.metrics.publish_jitter(&stats);
        let packet = self.buffer.packet_ticks().unwrap_or(0);
        self.metrics.publish_dropped(
            self.buffer
                .duration_of(stats.overflow.saturating_mul(packet)),
        );
        self.metrics.publish_buffer(
            buffered,
            target,
            self.buffer.message_age(now),
            self.buffer.last_flush_latency(),
            self.buffer.interarrival_jitter(),
        );
        self.metrics.publish_playout(&self.controller.status());
        self.metrics
            .publish_receive(&self.counts, self.buffer.ssrc());
        decision
    }

    /// The sender's clock drift from its RTCP sender reports (a fraction), when known: the
    /// controller corrects it instead of the drift it infers from the buffer level.
    pub fn set_sr_drift(&mut self, drift: Option<f64>) {
        self.controller.set_reference_drift(drift);
    }

    /// How long until the newest buffered audio plays: the buffer's depth while playing; while
    /// (pre/re)buffering at least the target, since playback waits for that much.
    pub fn time_to_play(&self) -> Duration {
        let depth = self.buffer.depth();
        if self.controller.state() == PlayoutState::Playing {
            return depth;
        }
        let target = Duration::from_secs_f64(self.controller.status().target_ms.max(0.0) / 1e3);
        depth.max(target)
    }

    /// The stream's payload type, once known (configured or from the first packet).
    pub fn payload_type(&self) -> Option<u8> {
        self.cfg.payload_type
    }

    /// Publishes the RTCP session's status with the other metrics.
    pub fn publish_rtcp(&self, status: &crate::rtcp::receiver::RtcpReceiverStatus) {
        self.metrics.recovery().publish(status);
    }

    /// Whether a stream has begun (a packet was buffered).
    pub fn has_stream(&self) -> bool {
        self.buffer.stats().received > 0
    }

    /// The core's own next timer (a starved buffer's grace for reordered stragglers), if any.
    pub fn next_timer(&self) -> Option<Duration> {
        self.buffer.resume_at()
    }

    /// Counts datagrams the shell found malformed before this core existed.
    pub fn count_malformed(&mut self, n: u64) {
        self.counts.malformed += n;
        self.metrics.add_malformed(n);
    }

    /// Tells the controller the output ran dry.
    pub fn underrun(&mut self) {
        if self.controller.state() == PlayoutState::Playing {
            self.dry.begin(
                self.last_now,
                self.controller.level(),
                self.metrics.underruns(),
            );
        }
        self.controller.underrun();
        self.metrics.add_underrun();
    }

    /// No more packets will come: play out everything buffered.
    pub fn finish(&mut self) {
        // Nothing came back since the output ran dry: that wait was the end of the stream, not
        // an underrun (the controller takes back its rebuffer the same way).
        let ended_dry = self.controller.state() == PlayoutState::Rebuffering
            && self.controller.progress() == 0.0;
        if let Some(before) = self.dry.underruns_before().filter(|_| ended_dry) {
            self.metrics
                .retract_underruns(self.metrics.underruns().saturating_sub(before));
        }
        self.dry.end();
        self.finished = true;
        self.started = true;
        self.buffer.set_draining(true);
        self.controller.set_draining(true);
    }

    /// Whether the stream was declared over (BYE, idle, end of input).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// True once finished and nothing is left to produce.
    pub fn is_drained(&self) -> bool {
        self.finished && self.buffer.is_empty() && self.staged().is_zero()
    }

    /// Appends about `want` of output-format audio to `out` (less if the buffer runs dry).
    pub fn produce(
        &mut self,
        now: Duration,
        want: Duration,
        out: &mut Vec<f32>,
    ) -> Result<usize, ReceiveCoreError> {
        let start = out.len();
        if !self.started {
            return Ok(0);
        }
        let want_samples = (want.as_secs_f64() * f64::from(self.cfg.output_rate)) as usize
            * usize::from(self.cfg.output_channels);
        while out.len() - start < want_samples {
            let source = match self.next_decoded(now)? {
                Some(source) => source,
                None => break,
            };
            let Some(p) = self.pipeline.as_mut() else {
                continue;
            };
            let trace = self.cfg.trace.then_some(&mut self.segments);
            if source.is_some() && self.level_move != LevelMove::Hold && !self.event_in_piece {
                // Real audio is gathered into blocks long enough to find a pitch period in.
                p.gather(&self.decoded, source);
                if p.gathered_frames() >= p.stretcher.min_frames() {
                    let r = p.stretch_gathered(self.level_move, out, trace)?;
                    let rate = f64::from(p.rate);
                    let secs = |f: isize| Duration::from_secs_f64(f.unsigned_abs() as f64 / rate);
                    self.metrics.add_stretched(secs(r.stretched));
                    self.metrics.add_silence_adjusted(secs(r.silence));
                    self.controller
                        .note_level_moved((r.stretched + r.silence) as f64 / rate);
                }
                continue;
            }
            p.flush_gathered(out, trace)?;
            let frames = self.decoded.len() / p.channels;
            let before = out.len();
            p.convert(&self.decoded, out)?;
            if self.cfg.trace {
                self.segments.push(Segment {
                    source,
                    out_len: out.len() - before,
                    frames,
                });
            }
        }
        if self.finished && self.buffer.is_empty() {
            if let Some(p) = self.pipeline.as_mut() {
                p.flush_gathered(out, self.cfg.trace.then_some(&mut self.segments))?;
                p.finish(out)?;
            }
        }
        Ok(out.len() - start)
    }

    /// Moves the recorded segments into `into` (tracing only).
    pub fn drain_segments(&mut self, into: &mut Vec<Segment>) {
        into.append(&mut self.segments);
    }

    /// Pops the next item and leaves its audio (decoder rate and channels) in `self.decoded`.
    /// Returns the packet's (SSRC, timestamp) for real audio; `None` from the outer Option when
    /// the buffer has nothing to give.
    fn next_decoded(
        &mut self,
        now: Duration,
    ) -> Result<Option<Option<(u32, u32)>>, ReceiveCoreError> {
        self.decoded.clear();
        // Where a loss or pause handed out now begins on the RTP timeline.
        let position = self.buffer.play_position();
        let Some((source, lost_ticks, silence_ticks)) = self.take_next(now) else {
            return Ok(None);
        };
        if self.pipeline.is_none() {
            if let (Some(rate), Some(channels)) = (self.decoder.rate(), self.decoder.channels()) {
                self.pipeline = Some(Pipeline::new(rate, channels, &self.cfg)?);
            }
        }
        let Some(mut p) = self.pipeline.take() else {
            // Nothing decoded yet (MPEG audio before its first frame): nothing to conceal with.
            return Ok(Some(None));
        };
        let start = source
            .map(|(_, ts)| ts)
            .or_else(|| self.signalled.rtp_ts(position));
        if source.is_some() {
            p.concealer.process_decoded(&mut self.decoded);
        } else if lost_ticks > 0 {
            let frames = self.ticks_to_frames(lost_ticks, p.rate);
            self.conceal_loss(&mut p, frames);
        } else {
            let frames = self.ticks_to_frames(silence_ticks, p.rate);
            self.fill_silence(&mut p, frames, start, silence_ticks);
        }
        self.event_in_piece = false;
        if let Some(start) = start {
            let piece = Piece {
                start,
                audio: source.is_some(),
                rate: p.rate,
                channels: p.channels,
            };
            self.event_in_piece = self
                .signalled
                .render(piece, &mut self.decoded, &self.metrics);
        }
        self.pipeline = Some(p);
        Ok(Some(source))
    }

    /// Pops the buffer's next piece and decodes it: the frame's (SSRC, RTP timestamp) when it
    /// is audio, else the ticks lost and the ticks of silence it stands for. `None`: empty.
    fn take_next(&mut self, now: Duration) -> Option<(FrameSource, u64, u64)> {
        Some(match self.buffer.pop(now) {
            PopOutcome::Empty => return None,
            PopOutcome::Frame {
                ssrc,
                discont,
                payload,
                rtp_ts,
                rtp_seq,
                ext_seq,
                ext_ts,
                ..
            } => {
                self.signalled.frame(ext_ts, rtp_ts);
                if discont {
                    // A new stream begins here: the old one's decoder and concealment state
                    // do not carry over (the clocks, and so the drift, do).
                    self.decoder.reset();
                    if let Some(p) = self.pipeline.as_mut() {
                        p.concealer.reset();
                    }
                }
                self.last_frame_seq = Some((ext_seq, rtp_seq));
                match self.decoder.decode(payload, &mut self.decoded) {
                    Ok(_) => (Some((ssrc, rtp_ts)), 0, 0),
                    Err(e) => {
                        tracing::debug!(error = %e, "undecodable payload concealed");
                        self.counts.decode_errors += 1;
                        self.decoded.clear();
                        (None, self.buffer.packet_ticks().unwrap_or(0), 0)
                    }
                }
            }
            PopOutcome::Lost { ext_seq, ticks }
                if raw_seq(self.last_frame_seq, ext_seq)
                    .is_some_and(|s| self.non_audio.contains(s)) =>
            {
                self.counts.non_audio_gaps += 1;
                (None, 0, ticks)
            }
            PopOutcome::Lost { ticks, .. } => {
                self.decoder.note_loss();
                (None, ticks, 0)
            }
            PopOutcome::Silence { ticks } => (None, 0, ticks),
        })
    }

    /// RTP ticks to frames at `rate`, carrying the remainder: an MPEG audio frame is 2351.02
    /// ticks of 90 kHz, and truncating every concealed frame would slip the timeline a sample
    /// each time.
    fn ticks_to_frames(&mut self, ticks: u64, rate: u32) -> usize {
        let clock = i128::from(self.buffer.clock_rate().max(1));
        let total = i128::from(ticks) * i128::from(rate) + self.tick_remainder;
        // Round to the nearest frame and carry the (signed) rest into the next gap.
        let frames = ((total + clock / 2) / clock).max(0);
        self.tick_remainder = total - frames * clock;
        frames as usize
    }

    /// Fills `frames` of lost audio: by the codec (Opus FEC or PLC) where it can, else by
    /// concealment from the audio before the loss (and after it, when buffered).
    fn conceal_loss(&mut self, p: &mut Pipeline, frames: usize) {
        let filled = self.decoder.fills_losses()
            && fill_by_codec(
                &mut self.decoder,
                &self.buffer,
                &mut self.peek_payload,
                frames,
                &mut self.decoded,
                &self.metrics,
            );
        if filled {
            // The codec filled it (Opus FEC or PLC, counted by `fill_by_codec`).
            self.metrics
                .add_concealed(Duration::from_secs_f64(frames as f64 / f64::from(p.rate)));
        } else {
            if !p.concealer.is_concealing() && self.decoder.is_stateless() {
                // A loss begins: the audio after it, if buffered, lets concealment work from
                // both sides. PCM ticks are frames, so no remainder is carried here.
                let want = u64::from(self.buffer.clock_rate()) * RESUME_AHEAD_MS / 1000;
                if let Some(gap) = self.buffer.peek_resume(
                    want,
                    &mut self.resume_payload,
                    &mut self.resume_scratch,
                ) {
                    self.resume_decoded.clear();
                    let decoded = self
                        .decoder
                        .decode(&self.resume_payload, &mut self.resume_decoded);
                    if decoded.is_ok() {
                        let ahead = (u128::from(gap) * u128::from(p.rate)
                            / u128::from(self.buffer.clock_rate().max(1)))
                            as usize;
                        p.concealer
                            .resume_with(frames + ahead, &self.resume_decoded);
                    }
                }
            }
            // The next packet, when it plays right after this loss: a codec may recover the
            // lost audio from it, and PCM concealment ends by merging into it.
            let next = self.buffer.peek_next(&mut self.peek_payload);
            let next_payload = next.then_some(self.peek_payload.as_slice());
            let done = p.concealer.conceal(frames, next_payload, &mut self.decoded);
            if next && self.decoder.is_stateless() {
                self.peek_decoded.clear();
                if self
                    .decoder
                    .decode(&self.peek_payload, &mut self.peek_decoded)
                    .is_ok()
                {
                    p.concealer
                        .merge_into(&mut self.decoded, &self.peek_decoded);
                }
            }
            let secs = |frames: usize| Duration::from_secs_f64(frames as f64 / f64::from(p.rate));
            self.metrics.add_concealed(secs(frames));
            self.metrics.add_concealed_by_method(
                secs(done.pitch),
                secs(done.fade),
                secs(done.noise),
            );
        }
    }

    /// Fills `frames` of a sender's pause with silence (or the codec's fade into it), moving
    /// the level there when the controller asks.
    fn fill_silence(
        &mut self,
        p: &mut Pipeline,
        frames: usize,
        start: Option<u32>,
        silence_ticks: u64,
    ) {
        let mut frames = frames;
        // A pause is the least audible place to move the level: by up to half its length
        // (not while a DTMF tone plays there: its length is signalled).
        let gap = if self.signalled.has_tone(start, silence_ticks) {
            0
        } else {
            (self.level_gap * f64::from(p.rate)) as usize
        };
        let change = (frames / 2).min(gap);
        let moved = change as f64 / f64::from(p.rate);
        match self.level_move {
            LevelMove::Expand => {
                frames += change;
                self.controller.note_level_moved(moved);
            }
            LevelMove::Accelerate => {
                frames -= change;
                self.controller.note_level_moved(-moved);
            }
            LevelMove::Hold => {}
        }
        if self.level_move != LevelMove::Hold && change > 0 {
            self.metrics
                .add_silence_adjusted(Duration::from_secs_f64(change as f64 / f64::from(p.rate)));
        }
        if self.decoder.fills_losses() {
            // Opus DTX: the decoder's concealment fades from the last audio into silence
            // instead of stopping dead.
            fill_pause(
                &mut self.decoder,
                frames,
                p.channels,
                &mut self.decoded,
                &self.metrics,
            );
        }
        self.decoded.resize(frames * p.channels, 0.0);
    }

    fn staged(&self) -> Duration {
        match &self.pipeline {
            Some(p) => Duration::from_secs_f64(
                (p.drift.staged_frames() + p.gathered_frames()) as f64 / f64::from(p.rate),
            ),
            None => Duration::ZERO,
        }
    }
}
