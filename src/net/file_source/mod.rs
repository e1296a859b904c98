//! What `send` streams: a file turned into RTP payloads in media-time order, looped if asked.
//!
//! PCM formats (L16, L24, PCMU, PCMA) decode the file with [`FileDecoder`], map channels and
//! resample only when the payload format differs from the file (so L16 at the file's own rate
//! and channels is bit-exact), and cut packets with [`PcmPacketizer`]. Opus goes the same way
//! to 48 kHz stereo and encodes each packet with libopus. MPEG audio sends the frames of an
//! MP3/MP2 file as they are (RFC 2250): jitterplay has no MPEG encoder.
//!
//! [`FileDecoder`]: crate::codec::file::FileDecoder
//! [`PcmPacketizer`]: crate::rtp::packetize::PcmPacketizer

mod mpa;
mod pcm;

use std::path::PathBuf;
use std::str::FromStr;

pub use mpa::{MpaFile, MpaSource};
pub use pcm::PcmSource;

use crate::audio::resample::ResampleError;
use crate::codec::file::{FileError, PcmSpec};
use crate::rtp::mpa::MpaError;
use crate::rtp::packetize::PacketizeError;
use crate::rtp::payload::{PayloadFormat, PayloadFormatError};

/// Why a file could not be turned into payloads.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened or decoded.
    #[error(transparent)]
    File(#[from] FileError),
    /// The `--format` text is not a format `send` can produce.
    #[error(transparent)]
    Format(#[from] PayloadFormatError),
    /// A format that carries no audio samples was asked for.
    #[error("cannot send {0}: choose l16, l24, pcmu, pcma, mpa or opus")]
    NotSendable(String),
    /// `mpa` was asked for but the input is not an MPEG audio elementary stream.
    #[error("{0}: not an MP3/MP2 file; --format mpa sends MPEG audio frames as they are (jitterplay has no MP3 encoder), so give an .mp3/.mp2 file or choose l16, l24, pcmu or pcma")]
    NotMpeg(PathBuf),
    /// Reading the file's bytes failed.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// A later pass of a looped file decoded to a different format.
    #[error("{path} changed format between loops ({first:?} then {now:?})")]
    FormatChanged {
        /// The file.
        path: PathBuf,
        /// The format of the first pass.
        first: PcmSpec,
        /// The format now.
        now: PcmSpec,
    },
    /// The packetizer refused the parameters.
    #[error(transparent)]
    Packetize(#[from] PacketizeError),
    /// The MPEG audio packetizer refused the parameters.
    #[error(transparent)]
    Mpa(#[from] MpaError),
    /// The Opus encoder refused its settings.
    #[error(transparent)]
    Opus(#[from] crate::codec::opus::OpusEncodeError),
    /// Resampling to the payload rate failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// A `--format` request for `send`: like [`PayloadFormat`], but L16/L24 rate and channels may be
/// left out to mean "as the file is".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatRequest {
    /// L16 or L24 with optional rate and channel count.
    Linear {
        /// 24-bit (L24) instead of 16-bit (L16).
        l24: bool,
        /// Sample rate; the file's when `None`.
        rate: Option<u32>,
        /// Channel count; the file's when `None`.
        channels: Option<u16>,
    },
    /// A format whose parameters are fixed (PCMU, PCMA, MPA).
    Fixed(PayloadFormat),
}

impl Default for FormatRequest {
    /// L16 at the file's rate and channel count.
    fn default() -> Self {
        FormatRequest::Linear {
            l24: false,
            rate: None,
            channels: None,
        }
    }
}

impl FromStr for FormatRequest {
    type Err = SourceError;

    /// Parses `l16[/rate[/channels]]`, `l24[/rate[/channels]]`, `pcmu`, `pcma`, `mpa` or `opus`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = s.split('/');
        let name = fields
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if name == "l16" || name == "l24" {
            let rate = fields.next();
            let channels = fields.next();
            if fields.next().is_some() {
                return Err(PayloadFormatError::TooManyFields(s.to_owned()).into());
            }
            let Some(rate) = rate else {
                return Ok(FormatRequest::Linear {
                    l24: name == "l24",
                    rate: None,
                    channels: None,
                });
            };
            // Validate rate and channels with the payload format's own rules.
            let probe = format!("{name}/{rate}/{}", channels.unwrap_or("1"));
            let format: PayloadFormat = probe.parse().map_err(|e| relabel(e, s))?;
            return Ok(FormatRequest::Linear {
                l24: name == "l24",
                rate: format.sample_rate(),
                channels: channels.and(format.channels()),
            });
        }
        let format: PayloadFormat = s.parse()?;
        if !format.is_audio() {
            return Err(SourceError::NotSendable(s.to_owned()));
        }
        Ok(FormatRequest::Fixed(format))
    }
}

/// Puts the user's own text back into errors about the probe string.
fn relabel(error: PayloadFormatError, text: &str) -> PayloadFormatError {
    match error {
        PayloadFormatError::InvalidNumber { what, value, .. } => {
            PayloadFormatError::InvalidNumber {
                what,
                value,
                format: text.to_owned(),
            }
        }
        other => other,
    }
}

impl FormatRequest {
    /// The payload format for a file of format `file` (MPA is never resolved this way).
    pub fn resolve(&self, file: PcmSpec) -> Result<PayloadFormat, SourceError> {
        match *self {
            FormatRequest::Fixed(format) => Ok(format),
            FormatRequest::Linear {
                l24,
                rate,
                channels,
            } => {
                let rate = rate.unwrap_or(file.rate);
                let channels = channels.map_or(file.channels, usize::from);
                let name = if l24 { "l24" } else { "l16" };
                Ok(format!("{name}/{rate}/{channels}").parse()?)
            }
        }
    }

    /// Whether this asks for MPEG audio.
    pub fn is_mpa(&self) -> bool {
        *self == FormatRequest::Fixed(PayloadFormat::Mpa)
    }
}

/// How many times to play the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Passes {
    /// Once.
    #[default]
    Once,
    /// This many times in all (at least 1).
    Times(u32),
    /// Until stopped.
    Forever,
}

impl Passes {
    /// Whether another pass follows pass number `done` (1 after the first).
    pub fn another_after(&self, done: u32) -> bool {
        match *self {
            Passes::Once => false,
            Passes::Times(n) => done < n,
            Passes::Forever => true,
        }
    }
}

/// A file's payloads in order, each with its media-time position.
pub enum PayloadSource<'a> {
    /// Decoded and packetized PCM.
    Pcm(Box<PcmSource>),
    /// MPEG audio frames from the file's bytes.
    Mpa(MpaSource<'a>),
}

impl PayloadSource<'_> {
    /// Writes the next payload into `out` and returns its position in RTP clock ticks from the
    /// start of the stream (loops continue the count); `None` at the end.
    pub fn next_payload(&mut self, out: &mut Vec<u8>) -> Result<Option<u64>, SourceError> {
        match self {
            PayloadSource::Pcm(p) => p.next_payload(out),
            PayloadSource::Mpa(m) => Ok(m.next_payload(out)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_requests() {
        let file = PcmSpec {
            rate: 44_100,
            channels: 2,
        };
        let resolve = |s: &str| s.parse::<FormatRequest>().unwrap().resolve(file).unwrap();
        assert_eq!(
            resolve("l16"),
            PayloadFormat::L16 {
                rate: 44_100,
                channels: 2
            }
        );
        assert_eq!(
            resolve("L24/48000"),
            PayloadFormat::L24 {
                rate: 48_000,
                channels: 2
            }
        );
        assert_eq!(
            resolve("l16/8000/1"),
            PayloadFormat::L16 {
                rate: 8_000,
                channels: 1
            }
        );
        assert_eq!(resolve("pcmu"), PayloadFormat::Pcmu);
        assert!("mpa".parse::<FormatRequest>().unwrap().is_mpa());
        for (bad, needle) in [
            (
                "l16/fast",
                "invalid rate \"fast\" in payload format \"l16/fast\"",
            ),
            ("l16/48000/0", "channel count 0"),
            ("l16/48000/2/1", "too many fields"),
            ("pcmu/16000", "8000 Hz mono"),
            ("cn", "cannot send cn"),
        ] {
            let err = bad.parse::<FormatRequest>().unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn passes() {
        assert!(!Passes::Once.another_after(1));
        assert!(Passes::Times(2).another_after(1) && !Passes::Times(2).another_after(2));
        assert!(Passes::Forever.another_after(1_000_000));
    }
}
