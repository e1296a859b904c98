//! Deciding what an RTP stream carries: from the user's --format, an SDP, the static payload
//! type table, or (for MPEG audio) the first frame header.

use crate::rtp::header::RtpHeader;
use crate::rtp::mpa::parse_header;
use crate::rtp::payload::PayloadFormat;

/// What is known about the stream before packets arrive.
#[derive(Debug, Clone, Default)]
pub struct StreamHint {
    /// The format, if given (`--format` or SDP).
    pub format: Option<PayloadFormat>,
    /// The payload type carrying it, if given (SDP or `--pt`).
    pub payload_type: Option<u8>,
    /// The telephone-event payload type from the SDP, if any.
    pub telephone_event_pt: Option<u8>,
}

/// The stream's format as decided from the hint and a first packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    /// Payload format.
    pub format: PayloadFormat,
    /// Payload type.
    pub payload_type: u8,
    /// Sample rate the decoder will produce.
    pub rate: u32,
    /// Channels the decoder will produce.
    pub channels: u16,
}

/// Why a packet does not settle the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A dynamic payload type with nothing saying what it is.
    #[error("payload type {0} is dynamic and no format was given: use --format (e.g. --format l16/48000/2) or play the sender's SDP file")]
    UnknownDynamic(u8),
}

/// Decides the format from `hint` and a first packet; `Ok(None)` means "not from this packet"
/// (not RTP, another payload type, or an MPEG audio fragment without a frame header).
pub fn resolve(hint: &StreamHint, packet: &[u8]) -> Result<Option<StreamFormat>, FormatError> {
    let Ok(header) = RtpHeader::parse(packet) else {
        return Ok(None);
    };
    let pt = header.payload_type;
    if hint.payload_type.is_some_and(|want| want != pt) {
        return Ok(None);
    }
    let format = match hint.format.or_else(|| PayloadFormat::from_static_pt(pt)) {
        Some(f) if f.is_audio() => f,
        Some(_) => return Ok(None),
        None => return Err(FormatError::UnknownDynamic(pt)),
    };
    let (rate, channels) = match (format.sample_rate(), format.channels()) {
        (Some(r), Some(c)) => (r, c),
        _ => {
            // MPEG audio: rate and channels come from the frame, after the 4-byte RFC 2250 header.
            let payload = header.payload(packet);
            match payload.get(4..).map(parse_header) {
                Some(Ok(h)) => (h.sample_rate, h.channels),
                _ => return Ok(None),
            }
        }
    };
    Ok(Some(StreamFormat {
        format,
        payload_type: pt,
        rate,
        channels,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pt: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, pt, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn static_types_need_no_hint() {
        let f = resolve(&StreamHint::default(), &packet(0, &[0xff; 160]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (f.format, f.rate, f.channels),
            (PayloadFormat::Pcmu, 8000, 1)
        );
    }

    #[test]
    fn dynamic_types_need_a_format() {
        assert_eq!(
            resolve(&StreamHint::default(), &packet(96, &[0; 4])),
            Err(FormatError::UnknownDynamic(96))
        );
        let hint = StreamHint {
            format: Some(PayloadFormat::L16 {
                rate: 48_000,
                channels: 2,
            }),
            ..Default::default()
        };
        let f = resolve(&hint, &packet(96, &[0; 4])).unwrap().unwrap();
        assert_eq!((f.payload_type, f.rate, f.channels), (96, 48_000, 2));
    }

    #[test]
    fn mpeg_audio_reads_the_frame_header() {
        // RFC 2250 header, then an MPEG-1 layer III, 128 kbit/s, 44.1 kHz, stereo frame header.
        let f = resolve(
            &StreamHint::default(),
            &packet(14, &[0, 0, 0, 0, 0xFF, 0xFB, 0x90, 0x00]),
        )
        .unwrap()
        .unwrap();
        assert_eq!((f.rate, f.channels), (44_100, 2));
        // A continuation fragment has no header: wait for another packet.
        assert_eq!(
            resolve(
                &StreamHint::default(),
                &packet(14, &[0, 0, 1, 0, 1, 2, 3, 4])
            ),
            Ok(None)
        );
    }

    #[test]
    fn other_payload_types_are_not_the_stream() {
        let hint = StreamHint {
            payload_type: Some(0),
            ..Default::default()
        };
        assert_eq!(resolve(&hint, &packet(8, &[0; 160])), Ok(None));
        assert_eq!(resolve(&StreamHint::default(), b"garbage"), Ok(None));
    }
}
