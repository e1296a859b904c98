//! The jitter buffer's configuration, the outcomes of `insert`/`pop`, and its counters.

use std::time::Duration;

use super::estimator::EstimatorConfig;

/// Payload byte budget when the stream's bit rate does not say otherwise.
pub const DEFAULT_MAX_BYTES: usize = 4 << 20;

/// Sizing and timing parameters of a [`JitterBuffer`](super::JitterBuffer).
#[derive(Debug, Clone, PartialEq)]
pub struct JitterConfig {
    /// RTP clock rate of the stream in Hz (8000 for PCMU, 90000 for MPEG audio, ...).
    pub clock_rate: u32,
    /// Slots (packets) preallocated; bounds memory and the sequence-number window.
    pub capacity: usize,
    /// How far the ring may grow once the packet duration is known, so that short packets
    /// (AES67's 1 ms and 125 µs) fill the whole depth (`capacity` or less: never grows).
    pub max_capacity: usize,
    /// Byte budget for queued payloads (any datagram size up to 65,507 bytes is accepted; when
    /// the budget is full the oldest queued packets are evicted, counted as overflow). 0 keeps
    /// headers only: empty payloads are taken, any other is too large.
    pub max_bytes: usize,
    /// Longest silence played for one sender pause; the rest of a longer gap is skipped.
    pub max_pause: Duration,
    /// Largest RTP-time span kept queued; beyond it the oldest packets are evicted (overflow).
    pub max_depth: Duration,
    /// A forward timestamp step exceeding the elapsed arrival time by more than this is a timestamp jump.
    pub max_ts_skew: Duration,
    /// After starvation, how long to wait for reordered packets before skipping a gap.
    pub starve_grace: Duration,
    /// Payload bytes per RTP clock tick, for formats where a packet's length gives its duration
    /// (PCM); packets of varying size then play back to back. None: the cadence is used.
    pub bytes_per_tick: Option<usize>,
    /// Opus payloads: a packet's duration is read from its TOC byte (RFC 6716 §3.1), since
    /// Opus senders may change frame sizes from packet to packet.
    pub opus_durations: bool,
    /// The delay estimator's parameters (target window and its dynamics).
    pub estimator: EstimatorConfig,
}

impl JitterConfig {
    /// Defaults for a stream at `clock_rate` Hz: 4096 slots, 4 MiB of payload, 5 s pauses, 30 s
    /// depth, 60 ms grace.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            capacity: 4096,
            max_capacity: MAX_SLOTS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_pause: Duration::from_secs(5),
            max_depth: Duration::from_secs(30),
            max_ts_skew: Duration::from_secs(2),
            starve_grace: Duration::from_millis(60),
            bytes_per_tick: None,
            opus_durations: false,
            estimator: EstimatorConfig::default(),
        }
    }
}

/// The most slots a buffer grows to (32 s of 125 µs packets).
pub const MAX_SLOTS: usize = 1 << 18;

/// Why the buffer restarted its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ResetReason {
    /// The sender changed SSRC (a restart from the locked address).
    NewSsrc,
    /// The sequence number jumped and the next packet confirmed the new numbering.
    SeqJump,
    /// The timestamp jumped (backwards, or ahead of elapsed time) and the next packet confirmed it.
    TsJump,
}

/// What `insert` did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored for playout; `reordered` if it arrived after a higher sequence number.
    Queued {
        /// It arrived after a packet with a higher sequence number.
        reordered: bool,
    },
    /// Already queued or already played: dropped.
    Duplicate,
    /// Its turn has passed (it was played as lost): dropped.
    Late,
    /// Kept aside: it may start a new stream (new SSRC, jump) once more packets agree with it.
    Held,
    /// A restart was confirmed: this packet and the held ones start the new stream, which
    /// follows the old stream's buffered audio.
    Reset(ResetReason),
    /// Stored, after evicting this many of the oldest queued packets (drop-oldest policy).
    Overflow {
        /// Queued packets evicted to make room.
        evicted: u32,
    },
    /// The payload is larger than a slot: dropped.
    TooLarge,
}

/// What `pop` hands to the decoder, in playout order.
#[derive(Debug, PartialEq, Eq)]
pub enum PopOutcome<'a> {
    /// The next packet, borrowed from the buffer.
    Frame {
        /// The SSRC it came from.
        ssrc: u32,
        /// The first frame of a new stream after a restart: decoder state does not carry over.
        discont: bool,
        /// Extended sequence number.
        ext_seq: u64,
        /// Extended RTP timestamp (rebased at a stream restart).
        ext_ts: u64,
        /// The packet's own 32-bit RTP timestamp.
        rtp_ts: u32,
        /// The packet's own 16-bit sequence number.
        rtp_seq: u16,
        /// Payload bytes (no RTP header).
        payload: &'a [u8],
        /// RTP payload type.
        payload_type: u8,
        /// RTP marker bit.
        marker: bool,
        /// When it arrived (caller's time origin).
        arrival: Duration,
    },
    /// The next packet is missing but later ones are here: conceal `ticks` of RTP time.
    Lost {
        /// Extended sequence number of the missing packet.
        ext_seq: u64,
        /// Its duration in RTP clock ticks.
        ticks: u64,
    },
    /// The sender paused (timestamp gap without sequence gap): play `ticks` of silence.
    Silence {
        /// Silence length in RTP clock ticks (bounded by `max_pause`).
        ticks: u64,
    },
    /// Nothing playable yet.
    Empty,
}

/// Counters of everything the buffer did, by reason (monotonic until the buffer is dropped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct JitterStats {
    /// Packets handed to `insert`.
    pub received: u64,
    /// Packets handed out as frames.
    pub played: u64,
    /// Packets reported lost or skipped because their turn passed without them.
    pub lost: u64,
    /// Packets whose audio had already played when they arrived (however late), and restart
    /// candidates from behind the stream that nothing confirmed.
    pub late: u64,
    /// Packets that were already queued or played.
    pub duplicate: u64,
    /// Packets queued after a higher sequence number had arrived.
    pub reordered: u64,
    /// Queued packets evicted by the drop-oldest overflow policy.
    pub overflow: u64,
    /// Packets too large for a slot.
    pub too_large: u64,
    /// Packets of a challenger SSRC that never became the source.
    pub foreign: u64,
    /// Jump candidates that no agreeing packet confirmed.
    pub stray: u64,
    /// Confirmed restarts.
    pub resets: u64,
    /// Queued packets discarded by `clear` (a restart never discards).
    pub discarded: u64,
    /// RTP ticks of silence handed out for sender pauses.
    pub silence_ticks: u64,
}
