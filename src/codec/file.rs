//! Offline file decoding: any container and codec symphonia knows, and Ogg Opus, as
//! interleaved f32 chunks.

use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::file_track::TrackDecoder;
pub use super::pcm_spec::PcmSpec;

/// Consecutive unreadable container packets after which a file counts as corrupt beyond repair.
const MAX_CONSECUTIVE_READ_ERRORS: u32 = 64;

/// Why a file could not be played.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened (missing, unreadable).
    #[error("cannot open {path}: {error}")]
    Open {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// No format reader or decoder accepts the file.
    #[error("{path}: unsupported or corrupt audio file ({reason})")]
    Unsupported {
        /// The file asked for.
        path: PathBuf,
        /// What symphonia said.
        reason: String,
    },
    /// The container holds no audio track.
    #[error("{path}: no audio track found")]
    NoAudioTrack {
        /// The file asked for.
        path: PathBuf,
    },
    /// Reading failed in a way playback cannot skip over.
    #[error("{path}: {reason}")]
    Read {
        /// The file asked for.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The decoding library panicked on this file (a bug of its own on corrupt input, caught
    /// where it was called): the file is refused and nothing else is affected.
    #[error("{path}: corrupt audio file (the decoder failed inside: {reason})")]
    DecoderPanicked {
        /// The file asked for.
        path: PathBuf,
        /// The panic's message.
        reason: String,
    },
}

thread_local! {
    /// Set while this thread runs a call through [`contained`].
    static CONTAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps the panic hook quiet about the panics [`contained`] catches (it turns them into a
/// one-line error); every other panic is reported as before.
pub fn quiet_decoder_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CONTAINING.with(std::cell::Cell::get) {
            tracing::debug!(%info, "panic inside symphonia (caught)");
        } else {
            default(info);
        }
    }));
}

/// Runs a call into symphonia, turning a panic into [`FileError::DecoderPanicked`].
///
/// symphonia's readers overflow on some corrupt headers, which panics where overflow checks
/// are on (see docs/fuzzing.md). The reader or decoder that panicked is not used again: the
/// caller drops it with the error.
fn contained<T>(path: &Path, call: impl FnOnce() -> T) -> Result<T, FileError> {
    let outer = CONTAINING.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    CONTAINING.with(|c| c.set(outer));
    result.map_err(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        tracing::debug!(file = %path.display(), %reason, "the audio decoder panicked; the file is refused");
        FileError::DecoderPanicked {
            path: path.to_owned(),
            reason,
        }
    })
}

/// Decodes one audio track of a file, packet by packet, into reused buffers.
pub struct FileDecoder {
    path: PathBuf,
    reader: Box<dyn FormatReader>,
    decoder: TrackDecoder,
    track_id: u32,
    format: PcmSpec,
    total_frames: Option<u64>,
    /// The first decoded chunk, kept because `open` decodes ahead to learn the real format.
    pending: Vec<f32>,
    scratch: Vec<f32>,
    skipped_packets: u64,
    /// Where the next packet should start, to notice data the container reader skipped over.
    next_pts: Option<i64>,
    missing_frames: u64,
    /// symphonia panicked inside this reader or decoder: it is not called again.
    poisoned: bool,
}

impl FileDecoder {
    /// Opens `path`, picks its default audio track and decodes the first packet to learn its format.
    pub fn open(path: &Path) -> Result<Self, FileError> {
        let file = File::open(path).map_err(|error| FileError::Open {
            path: path.to_owned(),
            error,
        })?;
        let extension = path.extension().and_then(|e| e.to_str());
        Self::from_source(Box::new(file), extension, path)
    }

    /// Decodes a file held in memory (fuzzing, tests), as [`Self::open`] does a path; `extension`
    /// is a format hint like a file name's. Errors name the file `<memory>`.
    pub fn from_bytes(bytes: Vec<u8>, extension: Option<&str>) -> Result<Self, FileError> {
        Self::from_source(
            Box::new(Cursor::new(bytes)),
            extension,
            Path::new("<memory>"),
        )
    }

    /// Probes `source`, picks its default audio track and decodes the first packet; `path`
    /// names it in errors.
    fn from_source(
        source: Box<dyn MediaSource>,
        extension: Option<&str>,
        path: &Path,
    ) -> Result<Self, FileError> {
        let mss = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let reader = contained(path, || {
            symphonia::default::get_probe().probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
        })?
        .map_err(|e| FileError::Unsupported {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let (decoder, track_id, total_frames) =
            contained(path, || make_decoder(path, reader.as_ref()))??;
        let mut this = FileDecoder {
            path: path.to_owned(),
            reader,
            decoder,
            track_id,
            format: PcmSpec {
                rate: 0,
                channels: 0,
            },
            total_frames,
            pending: Vec::new(),
            scratch: Vec::new(),
            skipped_packets: 0,
            next_pts: None,
            missing_frames: 0,
            poisoned: false,
        };
        let mut first = Vec::new();
        match this.decode_next(&mut first)? {
            // A corrupt header can state a zero rate, and symphonia decodes it as such.
            Some(format) if format.rate == 0 || format.channels == 0 => {
                return Err(FileError::Unsupported {
                    path: path.to_owned(),
                    reason: format!(
                        "{} Hz, {} channel(s) is not a playable format",
                        format.rate, format.channels
                    ),
                })
            }
            Some(format) => this.format = format,
            None => {
                return Err(FileError::Unsupported {
                    path: path.to_owned(),
                    reason: "no decodable audio".into(),
                })
            }
        }
        this.pending = first;
        Ok(this)
    }

    /// The stream's rate and channel count.
    pub fn format(&self) -> PcmSpec {
        self.format
    }

    /// The track's length, when the container states it.
    pub fn duration(&self) -> Option<Duration> {
        let frames = self.total_frames?;
        // A corrupt header can claim any frame count; one beyond u64 seconds is no length.
        Duration::try_from_secs_f64(frames as f64 / f64::from(self.format.rate)).ok()
    }

    /// Packets that failed to decode and were skipped so far.
    pub fn skipped_packets(&self) -> u64 {
        self.skipped_packets
    }

    /// Frames lost to corruption the container reader resynchronised past on its own.
    pub fn missing_frames(&self) -> u64 {
        self.missing_frames
    }

    /// Replaces `out` with the next chunk of interleaved samples; `Ok(false)` at end of file.
    pub fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, FileError> {
        if !self.pending.is_empty() {
            std::mem::swap(out, &mut self.pending);
            self.pending.clear();
            return Ok(true);
        }
        loop {
            match self.decode_next(out)? {
                None => return Ok(false),
                Some(format) if format == self.format => return Ok(true),
                Some(format) => {
                    // A chained stream that changes format mid-file would play at the wrong
                    // speed; skipping it loudly is better than garbling it.
                    tracing::warn!(?format, expected = ?self.format, "format change mid-file, skipping packet");
                    self.skipped_packets += 1;
                }
            }
        }
    }

    /// Decodes packets until one yields audio; `None` at end of stream.
    fn decode_next(&mut self, out: &mut Vec<f32>) -> Result<Option<PcmSpec>, FileError> {
        if self.poisoned {
            return Err(FileError::DecoderPanicked {
                path: self.path.clone(),
                reason: "failed earlier".into(),
            });
        }
        let path = self.path.clone();
        let result = contained(&path, || self.decode_next_unguarded(out));
        if result.is_err() {
            self.poisoned = true;
        }
        result?
    }

    fn decode_next_unguarded(&mut self, out: &mut Vec<f32>) -> Result<Option<PcmSpec>, FileError> {
        let mut read_errors = 0u32;
        loop {
            let packet = match self.reader.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(None),
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(None)
                }
                Err(SymphoniaError::ResetRequired) => {
                    let (decoder, track_id, _) = make_decoder(&self.path, self.reader.as_ref())?;
                    self.decoder = decoder;
                    self.track_id = track_id;
                    continue;
                }
                Err(e @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                    read_errors += 1;
                    self.skipped_packets += 1;
                    tracing::debug!(error = %e, "unreadable packet skipped");
                    if read_errors >= MAX_CONSECUTIVE_READ_ERRORS {
                        return Err(FileError::Read {
                            path: self.path.clone(),
                            reason: format!("too many unreadable packets in a row ({e})"),
                        });
                    }
                    continue;
                }
                Err(e) => {
                    return Err(FileError::Read {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    })
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            self.note_continuity(packet.pts.get(), packet.dur.get());
            match self.decoder.decode(&packet, &mut self.scratch) {
                Ok(None) => continue,
                Ok(Some(format)) => {
                    std::mem::swap(out, &mut self.scratch);
                    return Ok(Some(format));
                }
                Err(e @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                    self.skipped_packets += 1;
                    tracing::debug!(error = %e, "corrupt packet skipped");
                }
                Err(e) => {
                    return Err(FileError::Read {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }
}

impl FileDecoder {
    /// Counts a gap when a packet starts later than the previous one ended: symphonia's readers
    /// resynchronise past corrupt data without reporting it, and the user should hear about it.
    fn note_continuity(&mut self, pts: i64, dur: u64) {
        if let Some(expected) = self.next_pts {
            // Before zero lie encoder-delay packets whose timestamps are not contiguous.
            if expected > 0 && pts > expected {
                self.skipped_packets += 1;
                self.missing_frames += (pts - expected) as u64;
                tracing::debug!(expected, pts, "container skipped corrupt data");
            }
        }
        self.next_pts = Some(pts.saturating_add(i64::try_from(dur).unwrap_or(i64::MAX)));
    }
}

type DecoderParts = (TrackDecoder, u32, Option<u64>);

fn make_decoder(path: &Path, reader: &dyn FormatReader) -> Result<DecoderParts, FileError> {
    let track = reader
        .default_track(TrackType::Audio)
        .ok_or_else(|| FileError::NoAudioTrack {
            path: path.to_owned(),
        })?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| FileError::NoAudioTrack {
            path: path.to_owned(),
        })?;
    let decoder = TrackDecoder::new(params).map_err(|e| FileError::Unsupported {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((decoder, track.id, track.num_frames))
}
