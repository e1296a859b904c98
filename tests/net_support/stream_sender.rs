//! The test side of a live L16 stream, for tests/discontinuities.rs and tests/flood.rs: a
//! deterministic noise signal (48 kHz stereo, no zero sample) in which every packet is unique, a
//! plan of its RTP packets (packet times, SSRC, sequence and timestamp discontinuities, packets
//! held back), a sender that paces the plan from a std `UdpSocket` on an absolute schedule, and
//! the search of every planned packet, bit for bit, in the player's WAV output.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Sample rate (and RTP clock) of the stream.
pub const RATE: u32 = 48_000;
/// Channels of the stream.
pub const CHANNELS: usize = 2;
/// The dynamic payload type the stream is sent with (`--format l16/48000/2` names it).
pub const PT: u8 = 96;
/// Bytes of the RTP fixed header.
pub const HEADER: usize = 12;
/// Samples (interleaved) that key a packet in the output search: its first four frames.
const KEY: usize = 8;

/// A seeded xorshift64* generator: reproducible noise and choices without another crate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        // SplitMix64 of the seed: nearby seeds give unrelated streams, and the state is never 0.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
}

/// `frames` interleaved stereo frames of noise in −16384..=16383 without a single 0, so that
/// every packet is unique and silence in the output is never mistaken for the stream.
pub fn noise(frames: usize, seed: u64) -> Vec<i16> {
    let mut rng = Rng::new(seed);
    (0..frames * CHANNELS)
        .map(|_| match (rng.next_u64() >> 49) as i16 - 16_384 {
            0 => 1,
            s => s,
        })
        .collect()
}

/// The value a player writing 32-bit float must produce for L16 sample `s`.
pub fn float_of(s: i16) -> f32 {
    f32::from(s) / 32_768.0
}

/// One RTP packet of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// When it would go on the wire in time, from the start of sending.
    pub slot: Duration,
    /// When it goes on the wire (later than `slot` when held back).
    pub at: Duration,
    /// Its SSRC.
    pub ssrc: u32,
    /// Its sequence number.
    pub seq: u16,
    /// Its RTP timestamp.
    pub ts: u32,
    /// Its first frame in the signal.
    pub frame: usize,
    /// Frames it carries.
    pub frames: usize,
}

impl Packet {
    /// Sent after its slot (held back by the plan).
    pub fn held_back(&self) -> bool {
        self.at > self.slot
    }
}

/// A stream to send: the signal and its packets in playout order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Interleaved stereo samples; the packets cut it back to back.
    pub signal: Vec<i16>,
    /// The packets, in the order their audio plays.
    pub packets: Vec<Packet>,
}

/// Builds a [`Plan`] segment by segment: packets of some packet time, pauses on the wire,
/// restarts (new SSRC, sequence number and timestamp) and sequence-number jumps.
#[derive(Debug, Clone)]
pub struct PlanBuilder {
    seed: u64,
    packets: Vec<Packet>,
    wire: Duration,
    frame: usize,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl PlanBuilder {
    /// A stream starting with `ssrc`, `seq` and `ts`, whose signal is noise from `seed`.
    pub fn new(seed: u64, ssrc: u32, seq: u16, ts: u32) -> Self {
        PlanBuilder {
            seed,
            packets: Vec::new(),
            wire: Duration::ZERO,
            frame: 0,
            ssrc,
            seq,
            ts,
        }
    }

    /// Appends `duration` of packets of `ptime` each (a whole number of them).
    pub fn packets(mut self, ptime: Duration, duration: Duration) -> Self {
        let frames = frames_of(ptime);
        let count = frames_of(duration) / frames;
        assert_eq!(
            count * frames,
            frames_of(duration),
            "{duration:?} / {ptime:?}"
        );
        for _ in 0..count {
            self.packets.push(Packet {
                slot: self.wire,
                at: self.wire,
                ssrc: self.ssrc,
                seq: self.seq,
                ts: self.ts,
                frame: self.frame,
                frames,
            });
            self.wire += ptime;
            self.frame += frames;
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(frames as u32);
        }
        self
    }

    /// Nothing on the wire for `pause`; the audio goes on where it stopped.
    pub fn pause(mut self, pause: Duration) -> Self {
        self.wire += pause;
        self
    }

    /// From here on, the sender is a new instance: new SSRC, sequence number and timestamp.
    pub fn restart(mut self, ssrc: u32, seq: u16, ts: u32) -> Self {
        (self.ssrc, self.seq, self.ts) = (ssrc, seq, ts);
        self
    }

    /// The sequence number jumps ahead by `by` (timestamps go on).
    pub fn seq_jump(mut self, by: u16) -> Self {
        self.seq = self.seq.wrapping_add(by);
        self
    }

    /// The plan, with its signal generated to the length the packets cover.
    pub fn build(self) -> Plan {
        Plan {
            signal: noise(self.frame, self.seed),
            packets: self.packets,
        }
    }
}

/// Frames of `d` at [`RATE`] (whole frames only).
pub fn frames_of(d: Duration) -> usize {
    let frames = d.as_nanos() * u128::from(RATE) / 1_000_000_000;
    assert_eq!(
        frames * 1_000_000_000,
        d.as_nanos() * u128::from(RATE),
        "{d:?} is not a whole number of frames"
    );
    frames as usize
}

impl Plan {
    /// Sends the packets at `indices` `delay` after their slot instead of in it.
    pub fn hold_back(&mut self, indices: &[usize], delay: Duration) {
        for &i in indices {
            self.packets[i].at = self.packets[i].slot + delay;
        }
    }

    /// The samples of packet `i`.
    pub fn samples(&self, i: usize) -> &[i16] {
        let p = &self.packets[i];
        &self.signal[p.frame * CHANNELS..(p.frame + p.frames) * CHANNELS]
    }

    /// The RTP datagram of packet `i` (RFC 3551 L16: big-endian samples).
    pub fn datagram(&self, i: usize) -> Vec<u8> {
        let p = &self.packets[i];
        let mut d = Vec::with_capacity(HEADER + p.frames * CHANNELS * 2);
        d.extend_from_slice(&[0x80, PT]);
        d.extend_from_slice(&p.seq.to_be_bytes());
        d.extend_from_slice(&p.ts.to_be_bytes());
        d.extend_from_slice(&p.ssrc.to_be_bytes());
        for s in self.samples(i) {
            d.extend_from_slice(&s.to_be_bytes());
        }
        d
    }

    /// Frames of audio in the stream.
    pub fn frames(&self) -> usize {
        self.signal.len() / CHANNELS
    }

    /// When the last datagram goes on the wire.
    pub fn wire_end(&self) -> Duration {
        self.packets.iter().map(|p| p.at).max().unwrap_or_default()
    }
}

/// What the sender did.
#[derive(Debug, Clone)]
pub struct SendLog {
    /// The schedule's origin.
    pub start: Instant,
    /// Datagrams sent (one per packet).
    pub datagrams: usize,
    /// The latest any datagram went out after its scheduled time (the machine's scheduling).
    pub max_lag: Duration,
}

/// Sends every packet of `plan` on `socket` (connected to the player) at `start` + its `at`,
/// in the order of `at`, sleeping until each one's time (pacing, not synchronisation).
pub fn send_plan(socket: &UdpSocket, plan: &Plan, start: Instant) -> SendLog {
    let mut order: Vec<usize> = (0..plan.packets.len()).collect();
    order.sort_by_key(|&i| (plan.packets[i].at, i));
    let mut max_lag = Duration::ZERO;
    for i in order {
        let due = start + plan.packets[i].at;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        max_lag = max_lag.max(Instant::now().saturating_duration_since(due));
        let datagram = plan.datagram(i);
        let sent = socket.send(&datagram).expect("send a stream datagram");
        assert_eq!(sent, datagram.len(), "datagram {i} cut short");
    }
    SendLog {
        start,
        datagrams: plan.packets.len(),
        max_lag,
    }
}

/// Where each planned packet's audio was found, bit for bit, in an output.
#[derive(Debug, Clone)]
pub struct Found {
    /// Output frame positions of each packet's audio (empty: not found; two or more: repeated).
    pub at: Vec<Vec<usize>>,
}

/// Finds every packet of `plan` in `out` (interleaved stereo f32 as read from the player's WAV):
/// all of its samples, each equal to its L16 value / 32768 to the bit, at a frame boundary.
pub fn find_packets(plan: &Plan, out: &[f32]) -> Found {
    let key_at = |samples: &[f32]| -> [u32; KEY] { std::array::from_fn(|k| samples[k].to_bits()) };
    let mut index: HashMap<[u32; KEY], Vec<usize>> = HashMap::new();
    for i in 0..plan.packets.len() {
        let key: [u32; KEY] = std::array::from_fn(|k| float_of(plan.samples(i)[k]).to_bits());
        index.entry(key).or_default().push(i);
    }
    let mut at = vec![Vec::new(); plan.packets.len()];
    let frames = out.len() / CHANNELS;
    for pos in 0..frames.saturating_sub(KEY / CHANNELS - 1) {
        let from = pos * CHANNELS;
        let Some(candidates) = index.get(&key_at(&out[from..from + KEY])) else {
            continue;
        };
        for &i in candidates {
            let samples = plan.samples(i);
            let equal = out.get(from..from + samples.len()).is_some_and(|o| {
                o.iter()
                    .zip(samples)
                    .all(|(o, &s)| o.to_bits() == float_of(s).to_bits())
            });
            if equal {
                at[i].push(pos);
            }
        }
    }
    Found { at }
}

impl Found {
    /// Packets found at least once.
    pub fn found(&self) -> usize {
        self.at.iter().filter(|a| !a.is_empty()).count()
    }

    /// Packets found more than once (audio played twice).
    pub fn repeated(&self) -> usize {
        self.at.iter().filter(|a| a.len() > 1).count()
    }

    /// Packets (found once) whose audio comes before the audio of an earlier packet of the plan.
    pub fn out_of_order(&self) -> usize {
        let mut last = None;
        let mut count = 0;
        for a in self.at.iter().filter(|a| a.len() == 1) {
            if last.is_some_and(|l| a[0] < l) {
                count += 1;
            }
            last = Some(a[0]);
        }
        count
    }

    /// Output frames between consecutive planned packets both found once: the largest such gap
    /// and the sum of all gaps (silence, concealment or other audio inserted between them).
    pub fn gaps(&self, plan: &Plan) -> (usize, usize) {
        let mut largest = 0;
        let mut total = 0;
        for i in 1..self.at.len() {
            if let ([prev], [next]) = (&self.at[i - 1][..], &self.at[i][..]) {
                let gap = next.saturating_sub(prev + plan.packets[i - 1].frames);
                largest = largest.max(gap);
                total += gap;
            }
        }
        (largest, total)
    }

    /// Indices of the packets of `plan` that were not found (up to `limit` of them).
    pub fn missing(&self, limit: usize) -> Vec<usize> {
        (0..self.at.len())
            .filter(|&i| self.at[i].is_empty())
            .take(limit)
            .collect()
    }
}

/// First and one-past-last frame of `out` holding a non-zero sample: the played audio, without
/// the silence a paced sink writes while the player waits for its idle timeout.
pub fn audio_span(out: &[f32]) -> (usize, usize) {
    let frames: Vec<&[f32]> = out.chunks_exact(CHANNELS).collect();
    let loud = |f: &&[f32]| f.iter().any(|&s| s != 0.0);
    let first = frames.iter().position(loud).unwrap_or(frames.len());
    let end = frames.iter().rposition(loud).map_or(first, |i| i + 1);
    (first, end)
}

/// Seconds of `frames` at [`RATE`].
pub fn seconds(frames: usize) -> f64 {
    frames as f64 / f64::from(RATE)
}
