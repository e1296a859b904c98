//! What an Opus packet's first bytes say (RFC 6716 §3.1–3.2): its duration, mode, channel
//! count and whether it carries in-band FEC (SILK LBRR data) for the packet before it.
//!
//! Pure Rust and allocation-free, so the jitter buffer can time packets, `streams` can count
//! FEC-carrying packets and the decoder can decide between FEC and PLC without asking libopus
//! (whose Debian 1.3.1 has no `opus_packet_has_lbrr`).

/// Samples per second every Opus duration is counted in (the RTP clock of RFC 7587).
pub const OPUS_RATE: u32 = 48_000;
/// Longest duration of one Opus packet, in 48 kHz samples (120 ms).
pub const MAX_PACKET_SAMPLES: usize = 5_760;

/// The coding mode of a packet's frames (RFC 6716 §3.1, table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpusMode {
    /// SILK only (speech; 10–60 ms frames).
    Silk,
    /// SILK and CELT together (super-wideband or fullband speech; 10 or 20 ms frames).
    Hybrid,
    /// CELT only (music; 2.5–20 ms frames): never carries in-band FEC.
    Celt,
}

/// The facts of one Opus packet that playout needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusPacketInfo {
    /// Coding mode of its frames.
    pub mode: OpusMode,
    /// Whether the frames are coded stereo.
    pub stereo: bool,
    /// Frames in the packet (1..=48).
    pub frames: usize,
    /// Samples per frame at 48 kHz (120 to 2880).
    pub samples_per_frame: usize,
    /// Whether its first frame carries LBRR (in-band FEC) data for the previous packet.
    pub has_fec: bool,
}

impl OpusPacketInfo {
    /// The packet's duration in 48 kHz samples (its RTP timestamp increment).
    pub fn samples(&self) -> usize {
        self.frames * self.samples_per_frame
    }
}

/// Why bytes are not an Opus packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpusPacketError {
    /// No TOC byte at all (an empty payload).
    #[error("empty Opus packet")]
    Empty,
    /// The framing bytes after the TOC are cut short or inconsistent.
    #[error("malformed Opus packet framing")]
    Framing,
    /// The packet would last more than 120 ms (RFC 6716 §3.2.5).
    #[error("Opus packet longer than 120 ms")]
    TooLong,
}

/// Reads the TOC byte and framing of `packet`.
pub fn parse(packet: &[u8]) -> Result<OpusPacketInfo, OpusPacketError> {
    let (&toc, rest) = packet.split_first().ok_or(OpusPacketError::Empty)?;
    let config = toc >> 3;
    let (mode, samples_per_frame) = match config {
        // SILK: NB, MB, WB at 10/20/40/60 ms.
        0..=11 => (
            OpusMode::Silk,
            [480, 960, 1920, 2880][usize::from(config % 4)],
        ),
        // Hybrid: SWB, FB at 10/20 ms.
        12..=15 => (OpusMode::Hybrid, [480, 960][usize::from(config % 2)]),
        // CELT: NB, WB, SWB, FB at 2.5/5/10/20 ms.
        _ => (
            OpusMode::Celt,
            [120, 240, 480, 960][usize::from(config % 4)],
        ),
    };
    let stereo = toc & 0x04 != 0;
    let (frames, first) = match toc & 0x03 {
        // One frame, or two of equal size: the first frame starts right after the TOC.
        0 => (1, rest),
        1 => (2, rest),
        2 => {
            let (len, used) = frame_length(rest)?;
            let data = &rest[used..];
            if len > data.len() {
                return Err(OpusPacketError::Framing);
            }
            (2, &data[..len])
        }
        _ => code3_first_frame(rest)?,
    };
    if frames * samples_per_frame > MAX_PACKET_SAMPLES {
        return Err(OpusPacketError::TooLong);
    }
    Ok(OpusPacketInfo {
        mode,
        stereo,
        frames,
        samples_per_frame,
        has_fec: mode != OpusMode::Celt && lbrr_flag(first, samples_per_frame, stereo),
    })
}

/// The packet's duration in 48 kHz samples, or `None` when it is not a valid Opus packet.
pub fn packet_samples(packet: &[u8]) -> Option<usize> {
    parse(packet).ok().map(|i| i.samples())
}

/// A frame length (RFC 6716 §3.2.1): one byte below 252, else two; returns (length, bytes used).
fn frame_length(bytes: &[u8]) -> Result<(usize, usize), OpusPacketError> {
    match bytes {
        [b0 @ 0..=251, ..] => Ok((usize::from(*b0), 1)),
        [b0, b1, ..] => Ok((usize::from(*b1) * 4 + usize::from(*b0), 2)),
        _ => Err(OpusPacketError::Framing),
    }
}

/// Code 3 (RFC 6716 §3.2.5): frame count byte, optional padding, optional VBR lengths.
/// Returns the frame count and the first frame's bytes.
fn code3_first_frame(rest: &[u8]) -> Result<(usize, &[u8]), OpusPacketError> {
    let (&count, mut rest) = rest.split_first().ok_or(OpusPacketError::Framing)?;
    let frames = usize::from(count & 0x3f);
    if frames == 0 {
        return Err(OpusPacketError::Framing);
    }
    let (vbr, padded) = (count & 0x80 != 0, count & 0x40 != 0);
    let mut padding = 0usize;
    if padded {
        // Each 255 adds 254 bytes and another length byte follows.
        loop {
            let (&p, r) = rest.split_first().ok_or(OpusPacketError::Framing)?;
            rest = r;
            padding += if p == 255 { 254 } else { usize::from(p) };
            if p != 255 {
                break;
            }
        }
    }
    let first_len = if vbr {
        let mut first = None;
        for _ in 0..frames - 1 {
            let (len, used) = frame_length(rest)?;
            first.get_or_insert(len);
            rest = &rest[used..];
        }
        let data = rest
            .len()
            .checked_sub(padding)
            .ok_or(OpusPacketError::Framing)?;
        // The last frame's length is what remains.
        first.unwrap_or(data)
    } else {
        let data = rest
            .len()
            .checked_sub(padding)
            .ok_or(OpusPacketError::Framing)?;
        if data % frames != 0 {
            return Err(OpusPacketError::Framing);
        }
        data / frames
    };
    let first = rest.get(..first_len).ok_or(OpusPacketError::Framing)?;
    Ok((frames, first))
}

/// The LBRR flag of a SILK or hybrid frame (RFC 6716 §4.2.3–4.2.4).
///
/// The frame begins with the range-coded header bits: per channel, one VAD flag per 20 ms SILK
/// frame (one to three of them) and then the LBRR flag, each coded with probability ½. Range
/// coding symbols of probability ½ from a fresh decoder reproduces the leading bits of the
/// first byte, so the flags can be read directly: bit 7 − n for the mid channel's LBRR flag,
/// bit 6 − 2n for the side channel's, where n is the number of 20 ms SILK frames.
fn lbrr_flag(frame: &[u8], samples_per_frame: usize, stereo: bool) -> bool {
    let Some(&byte) = frame.first() else {
        // A zero-length frame is DTX/PLC: no FEC.
        return false;
    };
    let silk_frames = (samples_per_frame / 960).max(1) as u32;
    let mid = (byte >> (7 - silk_frames)) & 1 == 1;
    let side = stereo && (byte >> (6 - 2 * silk_frames)) & 1 == 1;
    mid || side
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_the_toc() {
        // CELT FB 20 ms, one frame.
        assert_eq!(packet_samples(&[31 << 3, 0, 0]), Some(960));
        // CELT 2.5 ms, code 1 (two frames).
        assert_eq!(packet_samples(&[(16 << 3) | 1, 0, 0]), Some(240));
        // SILK 60 ms, code 3 with two CBR frames: 120 ms.
        assert_eq!(packet_samples(&[(3 << 3) | 3, 2, 0, 0]), Some(5760));
        // Three 60 ms frames would be 180 ms: refused.
        assert_eq!(
            parse(&[(3 << 3) | 3, 3, 0, 0, 0]),
            Err(OpusPacketError::TooLong)
        );
        assert_eq!(parse(&[]), Err(OpusPacketError::Empty));
    }

    #[test]
    fn framing_errors_are_caught() {
        // Code 2 whose first frame length exceeds the packet.
        assert_eq!(parse(&[2, 200, 1]), Err(OpusPacketError::Framing));
        // Code 3 with zero frames, and with CBR data not divisible by the count.
        assert_eq!(parse(&[3, 0]), Err(OpusPacketError::Framing));
        assert_eq!(parse(&[3, 2, 1, 2, 3]), Err(OpusPacketError::Framing));
        // Code 3 padding longer than the packet.
        assert_eq!(parse(&[3, 0x41, 10, 1]), Err(OpusPacketError::Framing));
    }

    #[test]
    fn lbrr_flag_position_depends_on_frame_count_and_channels() {
        // SILK WB 20 ms mono: VAD bit 7, LBRR bit 6.
        let toc = 9 << 3;
        assert!(parse(&[toc, 0b0100_0000]).unwrap().has_fec);
        assert!(!parse(&[toc, 0b1000_0000]).unwrap().has_fec);
        // SILK 60 ms: three VAD bits, LBRR at bit 4.
        let toc60 = 11 << 3;
        assert!(parse(&[toc60, 0b0001_0000]).unwrap().has_fec);
        assert!(!parse(&[toc60, 0b1110_0000]).unwrap().has_fec);
        // Stereo 20 ms: the side channel's LBRR flag at bit 4.
        assert!(parse(&[toc | 0x04, 0b0001_0000]).unwrap().has_fec);
        // CELT never carries FEC, whatever its bits.
        assert!(!parse(&[31 << 3, 0xff]).unwrap().has_fec);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x1234_5678u32;
        for len in 0..64 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        state as u8
                    })
                    .collect();
                if let Ok(info) = parse(&bytes) {
                    assert!(info.samples() <= MAX_PACKET_SAMPLES && info.frames >= 1);
                }
            }
        }
    }
}
