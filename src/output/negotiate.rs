//! Choosing a device configuration for a stream: rate, channels, sample format and period.

use cpal::SampleFormat;

/// One supported configuration range as a device reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigRange {
    /// Channel count.
    pub channels: u16,
    /// Lowest supported rate in Hz.
    pub min_rate: u32,
    /// Highest supported rate in Hz.
    pub max_rate: u32,
    /// Sample format.
    pub format: SampleFormat,
    /// Supported callback sizes in frames, when the device says.
    pub buffer_frames: Option<(u32, u32)>,
}

/// What the stream would like, plus the user's overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The stream's own rate.
    pub rate: u32,
    /// The stream's own channel count.
    pub channels: u16,
    /// `--device-rate`: open the device at exactly this rate.
    pub device_rate: Option<u32>,
    /// `--buffer-frames`: ask for this callback size.
    pub buffer_frames: Option<u32>,
}

/// The configuration to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Device rate in Hz (resample when it differs from the stream's).
    pub rate: u32,
    /// Device channel count (map channels when it differs).
    pub channels: u16,
    /// Device sample format (convert from f32 when it is not f32).
    pub format: SampleFormat,
    /// Fixed callback size: the user's, or about 20 ms within what the device allows.
    pub buffer_frames: Option<u32>,
}

/// Why no configuration fits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiateError {
    /// The device reports nothing we can play into.
    #[error("the device offers no configuration in a sample format jitterplay can write")]
    NothingUsable,
    /// The rate the user asked for is not offered.
    #[error("the device does not support {0} Hz (see `jitterplay devices`)")]
    RateUnsupported(u32),
    /// The callback size the user asked for is not offered.
    #[error("the device does not support a {0}-frame buffer (see `jitterplay devices`)")]
    BufferUnsupported(u32),
}

/// Preference among sample formats: f32 first (no conversion), then the widest integers.
fn format_rank(format: SampleFormat) -> Option<u8> {
    Some(match format {
        SampleFormat::F32 => 0,
        SampleFormat::I32 => 1,
        SampleFormat::F64 => 2,
        SampleFormat::I16 => 3,
        SampleFormat::U16 => 4,
        SampleFormat::U32 => 5,
        SampleFormat::I8 => 6,
        SampleFormat::U8 => 7,
        _ => return None,
    })
}

/// True for the formats the output callback can write.
pub fn is_supported_format(format: SampleFormat) -> bool {
    format_rank(format).is_some()
}

/// Picks the configuration that plays `request` with the least conversion.
///
/// Order of preference: the exact channel count (else stereo, else the nearest count), the
/// stream's own rate (else 48 kHz, 44.1 kHz, else the nearest rate offered), then f32 over
/// integer formats.
pub fn negotiate(ranges: &[ConfigRange], request: &Request) -> Result<Negotiated, NegotiateError> {
    let usable: Vec<&ConfigRange> = ranges
        .iter()
        .filter(|r| is_supported_format(r.format))
        .collect();
    if usable.is_empty() {
        return Err(NegotiateError::NothingUsable);
    }
    let candidates: Vec<&ConfigRange> = match request.device_rate {
        Some(rate) => usable
            .iter()
            .copied()
            .filter(|r| (r.min_rate..=r.max_rate).contains(&rate))
            .collect(),
        None => usable,
    };
    let best = candidates
        .iter()
        .min_by_key(|r| {
            (
                channel_cost(r.channels, request.channels),
                rate_cost(r, request),
                format_rank(r.format),
            )
        })
        .ok_or(NegotiateError::RateUnsupported(
            request.device_rate.unwrap_or(request.rate),
        ))?;
    let rate = request
        .device_rate
        .unwrap_or_else(|| pick_rate(best, request.rate));
    let buffer_frames = match request.buffer_frames {
        // Left to itself a host may pick seconds (PulseAudio asks for 2 s in its first callback),
        // more than the ring holds; 20 ms keeps the ring ahead of every callback.
        None => {
            let wanted = rate / 50;
            match best.buffer_frames {
                Some((min, max)) => Some(wanted.clamp(min, max)),
                None => Some(wanted),
            }
        }
        Some(frames) => match best.buffer_frames {
            Some((min, max)) if !(min..=max).contains(&frames) => {
                return Err(NegotiateError::BufferUnsupported(frames))
            }
            _ => Some(frames),
        },
    };
    Ok(Negotiated {
        rate,
        channels: best.channels,
        format: best.format,
        buffer_frames,
    })
}

fn channel_cost(offered: u16, wanted: u16) -> u32 {
    if offered == wanted {
        0
    } else if offered == 2 {
        1
    } else {
        2 + u32::from(offered.abs_diff(wanted))
    }
}

fn rate_cost(range: &ConfigRange, request: &Request) -> u32 {
    let rate = pick_rate(range, request.rate);
    if rate == request.rate {
        0
    } else {
        1 + rate.abs_diff(request.rate) / 1000
    }
}

fn pick_rate(range: &ConfigRange, wanted: u32) -> u32 {
    let offered = |r: u32| (range.min_rate..=range.max_rate).contains(&r);
    [wanted, 48_000, 44_100]
        .into_iter()
        .find(|&r| offered(r))
        .unwrap_or_else(|| wanted.clamp(range.min_rate, range.max_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(channels: u16, min: u32, max: u32, format: SampleFormat) -> ConfigRange {
        ConfigRange {
            channels,
            min_rate: min,
            max_rate: max,
            format,
            buffer_frames: Some((64, 8192)),
        }
    }

    fn request(rate: u32, channels: u16) -> Request {
        Request {
            rate,
            channels,
            device_rate: None,
            buffer_frames: None,
        }
    }

    #[test]
    fn prefers_f32_at_the_streams_own_rate_and_layout() {
        let ranges = [
            range(2, 8000, 192_000, SampleFormat::I16),
            range(2, 8000, 192_000, SampleFormat::F32),
            range(1, 8000, 192_000, SampleFormat::F32),
        ];
        let got = negotiate(&ranges, &request(44_100, 2)).unwrap();
        assert_eq!(
            (got.rate, got.channels, got.format),
            (44_100, 2, SampleFormat::F32)
        );
        assert_eq!(got.buffer_frames, Some(882), "20 ms by default");
        let mono = negotiate(&ranges, &request(22_050, 1)).unwrap();
        assert_eq!((mono.rate, mono.channels), (22_050, 1));
    }

    #[test]
    fn accepts_integer_formats_when_that_is_all_there_is() {
        let ranges = [
            range(2, 48_000, 48_000, SampleFormat::U16),
            range(2, 48_000, 48_000, SampleFormat::I16),
        ];
        let got = negotiate(&ranges, &request(48_000, 2)).unwrap();
        assert_eq!(got.format, SampleFormat::I16);
    }

    #[test]
    fn falls_back_to_a_standard_rate_when_the_streams_is_not_offered() {
        let ranges = [range(2, 44_100, 48_000, SampleFormat::F32)];
        assert_eq!(negotiate(&ranges, &request(8000, 1)).unwrap().rate, 48_000);
        let only_96k = [range(2, 96_000, 96_000, SampleFormat::F32)];
        assert_eq!(
            negotiate(&only_96k, &request(44_100, 2)).unwrap().rate,
            96_000
        );
    }

    #[test]
    fn a_stereo_only_device_takes_mono_and_surround_streams() {
        let ranges = [range(2, 48_000, 48_000, SampleFormat::F32)];
        assert_eq!(negotiate(&ranges, &request(48_000, 1)).unwrap().channels, 2);
        assert_eq!(negotiate(&ranges, &request(48_000, 6)).unwrap().channels, 2);
    }

    #[test]
    fn user_overrides_are_honoured_or_refused_clearly() {
        let ranges = [range(2, 8000, 96_000, SampleFormat::F32)];
        let mut req = request(44_100, 2);
        req.device_rate = Some(96_000);
        req.buffer_frames = Some(256);
        let got = negotiate(&ranges, &req).unwrap();
        assert_eq!((got.rate, got.buffer_frames), (96_000, Some(256)));
        req.device_rate = Some(192_000);
        assert_eq!(
            negotiate(&ranges, &req),
            Err(NegotiateError::RateUnsupported(192_000))
        );
        req.device_rate = None;
        req.buffer_frames = Some(1 << 20);
        assert_eq!(
            negotiate(&ranges, &req),
            Err(NegotiateError::BufferUnsupported(1 << 20))
        );
    }

    #[test]
    fn unwritable_formats_are_ignored() {
        let ranges = [range(2, 48_000, 48_000, SampleFormat::DsdU8)];
        assert_eq!(
            negotiate(&ranges, &request(48_000, 2)),
            Err(NegotiateError::NothingUsable)
        );
    }
}
