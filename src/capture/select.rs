//! Choosing the stream to play from a capture (`--stream N`, `--ssrc 0x…`, or the only audio
//! stream) and taking its packets with their arrival times.

use std::time::Duration;

use super::error::CaptureError;
use super::reader::Capture;
use super::streams::{NamedBy, RtpStream, StreamKind, StreamsReport};
use super::table::stream_table;
use super::timeline::TimeJumps;
use crate::rtp::payload::PayloadFormat;

/// Which stream the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selector {
    /// The only audio stream.
    #[default]
    Auto,
    /// The stream with this `jitterplay streams` index (1-based).
    Index(usize),
    /// The stream with this SSRC.
    Ssrc(u32),
}

/// One captured packet of the selected stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedPacket {
    /// Arrival time relative to the stream's first packet.
    pub at: Duration,
    /// The RTP packet.
    pub bytes: Vec<u8>,
}

/// The stream chosen for playback.
#[derive(Debug, Clone)]
pub struct CapturedStream {
    /// What `streams` says of it.
    pub info: RtpStream,
    /// The audio format to decode it as.
    pub format: PayloadFormat,
    /// Its packets in capture order, telephone events included.
    pub packets: Vec<CapturedPacket>,
    /// The pauses skipped between its first and last packet (capture clock jumps).
    pub time_jumps: TimeJumps,
}

/// Chooses a stream of `capture` (analysed as `report`); `format` overrides its payload format.
pub fn select(
    path: &std::path::Path,
    capture: &Capture,
    report: &StreamsReport,
    selector: Selector,
    format: Option<PayloadFormat>,
) -> Result<CapturedStream, CaptureError> {
    let table = || stream_table(&report.streams);
    let path = path.to_owned();
    if report.streams.is_empty() {
        return Err(CaptureError::NoStreams {
            path,
            udp: report.udp,
        });
    }
    let playable = |s: &&RtpStream| {
        s.kind == StreamKind::Audio
            || (format.is_some()
                && matches!(s.kind, StreamKind::Unknown | StreamKind::UnsupportedAudio))
    };
    let chosen = match selector {
        Selector::Index(n) => {
            report
                .streams
                .get(n.wrapping_sub(1))
                .ok_or_else(|| CaptureError::NoSuchStream {
                    wanted: format!("stream {n}"),
                    table: table(),
                })?
        }
        Selector::Ssrc(ssrc) => {
            let mut matching = report.streams.iter().filter(|s| s.ssrc == ssrc);
            let first = matching.clone().next();
            matching
                .find(playable)
                .or(first)
                .ok_or_else(|| CaptureError::NoSuchStream {
                    wanted: format!("SSRC 0x{ssrc:08X}"),
                    table: table(),
                })?
        }
        Selector::Auto => {
            let candidates: Vec<&RtpStream> = report.streams.iter().filter(playable).collect();
            match candidates.as_slice() {
                [one] => one,
                [] => {
                    // Nothing playable: explain with the most telling stream.
                    report
                        .streams
                        .iter()
                        .find(|s| s.kind == StreamKind::UnsupportedAudio)
                        .or_else(|| {
                            report
                                .streams
                                .iter()
                                .find(|s| s.kind == StreamKind::Unknown)
                        })
                        .unwrap_or(&report.streams[0])
                }
                many => {
                    return Err(CaptureError::Ambiguous {
                        count: many.len(),
                        table: table(),
                    })
                }
            }
        }
    };
    if let Some(flow) = chosen.srtp.as_ref().filter(|f| f.suite.is_none()) {
        return Err(CaptureError::SrtpNoKey {
            stream: chosen.index,
            why: flow
                .problem
                .clone()
                .unwrap_or_else(|| "no key opens it".into()),
        });
    }
    let format = match (format, chosen.kind) {
        (Some(f), _) => f,
        (None, StreamKind::Audio) => {
            let main = chosen.main_payload();
            if main.is_some_and(|p| p.named_by == NamedBy::Guess) {
                tracing::warn!(
                    "no SDP in force for stream {}'s endpoints names PT {}: playing it as {} from another SDP in the capture (give --format if that is wrong)",
                    chosen.index,
                    chosen.pt,
                    chosen.codec
                );
            }
            main.and_then(|p| p.format)
                .ok_or_else(|| CaptureError::Unsupported {
                    stream: chosen.index,
                    codec: chosen.codec.clone(),
                })?
        }
        (None, StreamKind::UnsupportedAudio) => {
            return Err(CaptureError::Unsupported {
                stream: chosen.index,
                codec: chosen.codec.clone(),
            })
        }
        (None, StreamKind::Unknown) => {
            return Err(CaptureError::UnknownDynamic {
                stream: chosen.index,
                pt: chosen.pt,
            })
        }
        (None, StreamKind::TelephoneEvents | StreamKind::ComfortNoise) => {
            return Err(CaptureError::NotAudio {
                stream: chosen.index,
                codec: chosen.codec.clone(),
            })
        }
    };
    let mut first = None;
    let mut segments = None;
    let packets = capture
        .datagrams
        .iter()
        .filter(|d| chosen.owns(d))
        .map(|d| {
            let t0 = *first.get_or_insert(d.at);
            let (s0, _) = *segments.get_or_insert((d.segment, d.segment));
            segments = Some((s0, d.segment));
            CapturedPacket {
                at: d.at.saturating_sub(t0),
                bytes: d.payload.clone(),
            }
        })
        .collect();
    let (s0, s1) = segments.unwrap_or_default();
    Ok(CapturedStream {
        info: chosen.clone(),
        format,
        packets,
        time_jumps: capture.time_jumps.between(s0, s1),
    })
}
