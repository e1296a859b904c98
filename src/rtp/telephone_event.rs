//! RFC 4733 telephone-event payloads (DTMF and other named events): parsing only.
//!
//! One payload block is four bytes: event code, end bit, reserved bit, 6-bit volume (−dBm0),
//! 16-bit duration in RTP ticks since the event's start, which is the packet's RTP timestamp.
//! A packet may pack several blocks (RFC 4733 §2.5.1.5); each block after the first starts
//! where the previous one ended.

use thiserror::Error;

/// Bytes of one event block.
pub const EVENT_BLOCK_LEN: usize = 4;

/// One telephone event as a packet reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0–9, 10 `*`, 11 `#`, 12–15 A–D are DTMF; others are tones and flashes).
    pub code: u8,
    /// The E bit: this is (a repeat of) the event's final report.
    pub end: bool,
    /// Power level in −dBm0 (0 is loudest, 63 quietest).
    pub volume: u8,
    /// Duration so far in RTP ticks from the event's start.
    pub duration: u16,
    /// Ticks from the packet's timestamp to this block's start (0 for the first block).
    pub offset: u32,
}

/// Why a telephone-event payload cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TelephoneEventError {
    /// Empty, or not a whole number of 4-byte blocks.
    #[error("telephone-event payload of {0} bytes is not a whole number of 4-byte event blocks")]
    BadLength(usize),
}

/// The event blocks of `payload`, in order.
pub fn parse_events(
    payload: &[u8],
) -> Result<impl Iterator<Item = TelephoneEvent> + '_, TelephoneEventError> {
    if payload.is_empty() || payload.len() % EVENT_BLOCK_LEN != 0 {
        return Err(TelephoneEventError::BadLength(payload.len()));
    }
    let mut offset = 0u32;
    Ok(payload.chunks_exact(EVENT_BLOCK_LEN).map(move |b| {
        let event = TelephoneEvent {
            code: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
            offset,
        };
        offset = offset.wrapping_add(u32::from(event.duration));
        event
    }))
}

/// Writes one event block (senders and tests).
pub fn event_block(code: u8, end: bool, volume: u8, duration: u16) -> [u8; EVENT_BLOCK_LEN] {
    let d = duration.to_be_bytes();
    [code, (u8::from(end) << 7) | (volume & 0x3f), d[0], d[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_and_rejects_partial_ones() {
        let mut p = event_block(5, false, 10, 800).to_vec();
        p.extend_from_slice(&event_block(11, true, 63, 160));
        let events: Vec<_> = parse_events(&p).unwrap().collect();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            TelephoneEvent {
                code: 5,
                end: false,
                volume: 10,
                duration: 800,
                offset: 0
            }
        );
        assert!(events[1].end && events[1].volume == 63 && events[1].offset == 800);
        assert_eq!(
            parse_events(&p[..5]).err(),
            Some(TelephoneEventError::BadLength(5))
        );
        assert!(parse_events(&[]).is_err());
    }
}
