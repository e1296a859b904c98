//! RTP payload formats: what a payload type carries, from static PTs, `--format` strings and SDP rtpmap.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Lowest sample or clock rate accepted for dynamic formats, in Hz.
pub const MIN_RATE: u32 = 1_000;
/// Highest sample or clock rate accepted for dynamic formats, in Hz.
pub const MAX_RATE: u32 = 384_000;
/// Highest channel count accepted for L16/L24 (AES67 streams go up to 64).
pub const MAX_CHANNELS: u16 = 64;
/// RTP clock rate of MPEG audio (RFC 3551 §4.5.13): a 90 kHz clock whatever the sample rate.
pub const MPA_CLOCK_RATE: u32 = 90_000;
/// RTP clock rate and decoding rate of Opus (RFC 7587 §4.1).
pub const OPUS_RATE: u32 = crate::rtp::opus_toc::OPUS_RATE;
/// Clock rate of the static G.711 and comfort-noise payload types.
const G711_RATE: u32 = 8_000;

/// What an RTP payload type carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// Linear 16-bit big-endian PCM (RFC 3551 §4.5.11).
    L16 {
        /// Sample rate in Hz, which is also the RTP clock rate.
        rate: u32,
        /// Interleaved channel count.
        channels: u16,
    },
    /// Linear 24-bit big-endian PCM (RFC 3190).
    L24 {
        /// Sample rate in Hz, which is also the RTP clock rate.
        rate: u32,
        /// Interleaved channel count.
        channels: u16,
    },
    /// G.711 mu-law, 8 kHz mono (PT 0).
    Pcmu,
    /// G.711 A-law, 8 kHz mono (PT 8).
    Pcma,
    /// MPEG audio layers I–III per RFC 2250 (PT 14); rate and channels come from each frame.
    Mpa,
    /// Opus (RFC 7587): `opus/48000/2` in SDP whatever the coded channels; always decoded to
    /// 48 kHz stereo (a mono sender's audio comes out on both channels, RFC 7587 §7.1).
    Opus,
    /// Comfort noise (RFC 3389, PT 13): recognised and counted, never decoded.
    ComfortNoise {
        /// RTP clock rate in Hz.
        rate: u32,
    },
    /// DTMF and other telephone events (RFC 4733): recognised and counted, never decoded.
    TelephoneEvent {
        /// RTP clock rate in Hz.
        rate: u32,
    },
}

/// Why a payload format description was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadFormatError {
    /// The encoding name is not one jitterplay knows.
    #[error(
        "unknown payload format {0:?}; expected l16/RATE[/CHANNELS], l24/RATE[/CHANNELS], pcmu, pcma, mpa or opus"
    )]
    UnknownEncoding(String),
    /// L16/L24 were given without a sample rate.
    #[error("{0} needs a sample rate, e.g. {0}/48000/2")]
    MissingRate(&'static str),
    /// A rate or channel field is not a number.
    #[error("invalid {what} {value:?} in payload format {format:?}")]
    InvalidNumber {
        /// Which field ("rate" or "channels").
        what: &'static str,
        /// The text found.
        value: String,
        /// The whole description.
        format: String,
    },
    /// The rate is outside what jitterplay accepts.
    #[error("rate {0} Hz is out of range ({MIN_RATE}..={MAX_RATE})")]
    RateOutOfRange(u32),
    /// The channel count is zero or too large.
    #[error("channel count {0} is out of range (1..={MAX_CHANNELS})")]
    ChannelsOutOfRange(u32),
    /// A fixed-parameter format (PCMU, PCMA, MPA) was given other parameters.
    #[error("{encoding} is always {expected}; got {got:?}")]
    FixedParameters {
        /// The encoding name.
        encoding: &'static str,
        /// The only parameters it allows.
        expected: &'static str,
        /// The description given.
        got: String,
    },
    /// More than `name/rate/channels` was given.
    #[error("too many fields in {0:?}; expected name[/rate[/channels]]")]
    TooManyFields(String),
}

impl PayloadFormat {
    /// The format a static payload type implies (RFC 3551 table 4), or `None` for dynamic/unknown PTs.
    pub fn from_static_pt(pt: u8) -> Option<PayloadFormat> {
        match pt {
            0 => Some(PayloadFormat::Pcmu),
            8 => Some(PayloadFormat::Pcma),
            10 => Some(PayloadFormat::L16 {
                rate: 44_100,
                channels: 2,
            }),
            11 => Some(PayloadFormat::L16 {
                rate: 44_100,
                channels: 1,
            }),
            13 => Some(PayloadFormat::ComfortNoise { rate: G711_RATE }),
            14 => Some(PayloadFormat::Mpa),
            _ => None,
        }
    }

    /// Builds a format from an SDP `a=rtpmap` encoding name, clock rate and optional encoding parameters.
    pub fn from_rtpmap(
        encoding: &str,
        clock_rate: u32,
        params: Option<&str>,
    ) -> Result<PayloadFormat, PayloadFormatError> {
        let text = match params {
            Some(p) => format!("{encoding}/{clock_rate}/{p}"),
            None => format!("{encoding}/{clock_rate}"),
        };
        Self::from_parts(
            encoding,
            Some(clock_rate.to_string().as_str()),
            params,
            &text,
        )
    }

    /// Shared validation for `--format` strings and rtpmap fields; `text` is quoted in errors.
    fn from_parts(
        name: &str,
        rate: Option<&str>,
        channels: Option<&str>,
        text: &str,
    ) -> Result<PayloadFormat, PayloadFormatError> {
        let number = |what: &'static str, value: &str| {
            value
                .trim()
                .parse::<u32>()
                .map_err(|_| PayloadFormatError::InvalidNumber {
                    what,
                    value: value.to_owned(),
                    format: text.to_owned(),
                })
        };
        let rate = rate.map(|r| number("rate", r)).transpose()?;
        let channels = channels.map(|c| number("channels", c)).transpose()?;
        let checked_rate = |r: u32| {
            if (MIN_RATE..=MAX_RATE).contains(&r) {
                Ok(r)
            } else {
                Err(PayloadFormatError::RateOutOfRange(r))
            }
        };
        // RFC 4566: an omitted channel count means one channel.
        let checked_channels = |c: Option<u32>| {
            let c = c.unwrap_or(1);
            match u16::try_from(c) {
                Ok(n @ 1..=MAX_CHANNELS) => Ok(n),
                _ => Err(PayloadFormatError::ChannelsOutOfRange(c)),
            }
        };
        let fixed = |encoding: &'static str, expected: &'static str, ok: bool, format| {
            if ok {
                Ok(format)
            } else {
                Err(PayloadFormatError::FixedParameters {
                    encoding,
                    expected,
                    got: text.to_owned(),
                })
            }
        };
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "l16" | "l24" => {
                let label = if lower == "l16" { "l16" } else { "l24" };
                let rate = checked_rate(rate.ok_or(PayloadFormatError::MissingRate(label))?)?;
                let channels = checked_channels(channels)?;
                Ok(if label == "l16" {
                    PayloadFormat::L16 { rate, channels }
                } else {
                    PayloadFormat::L24 { rate, channels }
                })
            }
            "pcmu" | "pcma" => {
                let ok =
                    matches!(rate, None | Some(G711_RATE)) && matches!(channels, None | Some(1));
                let (encoding, format) = if lower == "pcmu" {
                    ("PCMU", PayloadFormat::Pcmu)
                } else {
                    ("PCMA", PayloadFormat::Pcma)
                };
                fixed(encoding, "8000 Hz mono", ok, format)
            }
            // MPEG audio frames carry their own rate and channel count, so encoding parameters
            // (some writers put "/2" there) are ignored; only the RTP clock is fixed.
            "mpa" => fixed(
                "MPA",
                "a 90000 Hz RTP clock",
                matches!(rate, None | Some(MPA_CLOCK_RATE)),
                PayloadFormat::Mpa,
            ),
            // RFC 7587 §7: the rtpmap is always opus/48000/2; the coded channels vary per packet.
            "opus" => fixed(
                "opus",
                "48000 Hz, 2 channels in SDP (opus/48000/2)",
                matches!(rate, None | Some(OPUS_RATE)) && matches!(channels, None | Some(2)),
                PayloadFormat::Opus,
            ),
            "cn" => Ok(PayloadFormat::ComfortNoise {
                rate: checked_rate(rate.unwrap_or(G711_RATE))?,
            }),
            "telephone-event" => Ok(PayloadFormat::TelephoneEvent {
                rate: checked_rate(rate.unwrap_or(G711_RATE))?,
            }),
            _ => Err(PayloadFormatError::UnknownEncoding(text.to_owned())),
        }
    }

    /// The RTP timestamp clock rate in Hz (90 kHz for MPEG audio, the sample rate otherwise).
    pub fn clock_rate(&self) -> u32 {
        match *self {
            PayloadFormat::L16 { rate, .. } | PayloadFormat::L24 { rate, .. } => rate,
            PayloadFormat::Pcmu | PayloadFormat::Pcma => G711_RATE,
            PayloadFormat::Mpa => MPA_CLOCK_RATE,
            PayloadFormat::Opus => OPUS_RATE,
            PayloadFormat::ComfortNoise { rate } | PayloadFormat::TelephoneEvent { rate } => rate,
        }
    }

    /// The audio sample rate when the format fixes it (`None` for MPEG audio, whose frames say it, and for non-audio kinds).
    pub fn sample_rate(&self) -> Option<u32> {
        match *self {
            PayloadFormat::L16 { rate, .. } | PayloadFormat::L24 { rate, .. } => Some(rate),
            PayloadFormat::Pcmu | PayloadFormat::Pcma => Some(G711_RATE),
            PayloadFormat::Opus => Some(OPUS_RATE),
            _ => None,
        }
    }

    /// The channel count when the format fixes it (`None` for MPEG audio, whose frames say it, and for non-audio kinds).
    pub fn channels(&self) -> Option<u16> {
        match *self {
            PayloadFormat::L16 { channels, .. } | PayloadFormat::L24 { channels, .. } => {
                Some(channels)
            }
            PayloadFormat::Pcmu | PayloadFormat::Pcma => Some(1),
            PayloadFormat::Opus => Some(2),
            _ => None,
        }
    }

    /// Whether packets of this format carry audio to decode (false for comfort noise and telephone events).
    pub fn is_audio(&self) -> bool {
        !matches!(
            self,
            PayloadFormat::ComfortNoise { .. } | PayloadFormat::TelephoneEvent { .. }
        )
    }

    /// The static payload type registered for exactly this format, if there is one.
    pub fn static_pt(&self) -> Option<u8> {
        match *self {
            PayloadFormat::Pcmu => Some(0),
            PayloadFormat::Pcma => Some(8),
            PayloadFormat::L16 {
                rate: 44_100,
                channels: 2,
            } => Some(10),
            PayloadFormat::L16 {
                rate: 44_100,
                channels: 1,
            } => Some(11),
            PayloadFormat::ComfortNoise { rate: G711_RATE } => Some(13),
            PayloadFormat::Mpa => Some(14),
            _ => None,
        }
    }

    /// The SDP encoding name, as written in `a=rtpmap`.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            PayloadFormat::L16 { .. } => "L16",
            PayloadFormat::L24 { .. } => "L24",
            PayloadFormat::Pcmu => "PCMU",
            PayloadFormat::Pcma => "PCMA",
            PayloadFormat::Mpa => "MPA",
            PayloadFormat::Opus => "opus",
            PayloadFormat::ComfortNoise { .. } => "CN",
            PayloadFormat::TelephoneEvent { .. } => "telephone-event",
        }
    }

    /// The value of an SDP `a=rtpmap:<pt>` line for this format, e.g. `L16/48000/2`.
    pub fn rtpmap(&self) -> String {
        match *self {
            // Channels are always written for linear PCM: every parser accepts them and
            // nobody has to remember that an omitted count means mono.
            PayloadFormat::L16 { rate, channels } | PayloadFormat::L24 { rate, channels } => {
                format!("{}/{rate}/{channels}", self.encoding_name())
            }
            PayloadFormat::Opus => format!("opus/{OPUS_RATE}/2"),
            _ => format!("{}/{}", self.encoding_name(), self.clock_rate()),
        }
    }

    /// Bytes per sample frame (all channels) for the fixed-size PCM formats.
    pub fn bytes_per_frame(&self) -> Option<usize> {
        match *self {
            PayloadFormat::L16 { channels, .. } => Some(2 * usize::from(channels)),
            PayloadFormat::L24 { channels, .. } => Some(3 * usize::from(channels)),
            PayloadFormat::Pcmu | PayloadFormat::Pcma => Some(1),
            _ => None,
        }
    }

    /// Sample frames in a payload of `payload_len` bytes, for PCM formats and whole frames only.
    ///
    /// `None` for MPEG audio (the frame headers decide) and for a length that is not a whole
    /// number of frames, which the decoder rejects as malformed.
    pub fn samples_per_packet(&self, payload_len: usize) -> Option<usize> {
        let bpf = self.bytes_per_frame()?;
        (payload_len % bpf == 0).then_some(payload_len / bpf)
    }

    /// Sample frames in a packet of duration `ptime` for PCM formats (rounded to the nearest frame).
    pub fn frames_per_ptime(&self, ptime: Duration) -> Option<usize> {
        let rate = u128::from(self.sample_rate()?);
        let frames = (ptime.as_nanos() * rate + 500_000_000) / 1_000_000_000;
        usize::try_from(frames).ok()
    }
}

impl FromStr for PayloadFormat {
    type Err = PayloadFormatError;

    /// Parses `name[/rate[/channels]]` as used by `--format`, e.g. `l16/48000/2`, `pcmu`, `mpa`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = s.split('/');
        let name = fields.next().unwrap_or_default();
        let rate = fields.next();
        let channels = fields.next();
        if fields.next().is_some() {
            return Err(PayloadFormatError::TooManyFields(s.to_owned()));
        }
        Self::from_parts(name, rate, channels, s)
    }
}

impl fmt::Display for PayloadFormat {
    /// Writes the `--format` spelling, which `FromStr` reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PayloadFormat::L16 { rate, channels } => write!(f, "l16/{rate}/{channels}"),
            PayloadFormat::L24 { rate, channels } => write!(f, "l24/{rate}/{channels}"),
            PayloadFormat::Pcmu => f.write_str("pcmu"),
            PayloadFormat::Pcma => f.write_str("pcma"),
            PayloadFormat::Mpa => f.write_str("mpa"),
            PayloadFormat::Opus => f.write_str("opus"),
            PayloadFormat::ComfortNoise { rate } => write!(f, "cn/{rate}"),
            PayloadFormat::TelephoneEvent { rate } => write!(f, "telephone-event/{rate}"),
        }
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
