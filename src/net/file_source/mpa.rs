//! An MP3/MP2 file's frames as RFC 2250 payloads, sent as they are.

use std::path::Path;

use super::{Passes, SourceError};
use crate::rtp::mpa::{split_frames, MpaPacketizer};
use crate::rtp::payload::MPA_CLOCK_RATE;

/// Share of the file (after a leading ID3v2 tag) that must be MPEG audio frames.
const MIN_FRAME_SHARE: f64 = 0.5;

/// An MPEG audio elementary stream read into memory, checked to be one.
#[derive(Debug, Clone)]
pub struct MpaFile {
    bytes: Vec<u8>,
    pass_ticks: u64,
}

impl MpaFile {
    /// Reads `path` and checks that it is an MP3/MP2 file (mostly whole MPEG audio frames).
    pub fn read(path: &Path) -> Result<Self, SourceError> {
        let bytes = std::fs::read(path).map_err(|error| SourceError::Read {
            path: path.to_owned(),
            error,
        })?;
        Self::from_bytes(bytes).ok_or_else(|| SourceError::NotMpeg(path.to_owned()))
    }

    /// Checks `bytes`; `None` if they are not an MPEG audio elementary stream.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        let body = bytes.len().saturating_sub(id3v2_len(&bytes));
        let mut frame_bytes = 0usize;
        let mut frames = split_frames(&bytes).peekable();
        // The packetizer skips a leading Xing/Info/VBRI frame, and so does the clock here.
        if let Some((h, f)) = frames.peek() {
            if h.is_metadata_frame(f) {
                frame_bytes += f.len();
                frames.next();
            }
        }
        // 90 kHz ticks of one pass, folded per run of one sample rate exactly as the packetizer does.
        let (mut ticks, mut rate, mut samples_at_rate) = (0u64, 0u32, 0u64);
        for (header, frame) in frames {
            frame_bytes += frame.len();
            if header.sample_rate != rate {
                if rate != 0 {
                    ticks += samples_at_rate * u64::from(MPA_CLOCK_RATE) / u64::from(rate);
                }
                rate = header.sample_rate;
                samples_at_rate = 0;
            }
            samples_at_rate += header.samples_per_frame as u64;
        }
        if rate != 0 {
            ticks += samples_at_rate * u64::from(MPA_CLOCK_RATE) / u64::from(rate);
        }
        let share = frame_bytes as f64 / body.max(1) as f64;
        (ticks > 0 && share >= MIN_FRAME_SHARE).then_some(MpaFile {
            bytes,
            pass_ticks: ticks,
        })
    }

    /// Length of one pass in 90 kHz ticks.
    pub fn pass_ticks(&self) -> u64 {
        self.pass_ticks
    }
}

/// Length of an ID3v2 tag at the start of `data`, or 0.
fn id3v2_len(data: &[u8]) -> usize {
    match data.get(..10) {
        Some([b'I', b'D', b'3', _, _, flags, size @ ..]) => {
            let size = size
                .iter()
                .fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7F));
            10 + size + if flags & 0x10 != 0 { 10 } else { 0 }
        }
        _ => 0,
    }
}

/// The payloads of an [`MpaFile`], pass after pass, timed on the 90 kHz clock.
pub struct MpaSource<'a> {
    file: &'a MpaFile,
    packetizer: MpaPacketizer<'a>,
    max_payload: usize,
    passes: Passes,
    passes_done: u32,
    base_ticks: u64,
}

impl<'a> MpaSource<'a> {
    /// Payloads of at most `max_payload` bytes (as many whole frames as fit, RFC 2250).
    pub fn new(file: &'a MpaFile, max_payload: usize, passes: Passes) -> Result<Self, SourceError> {
        Ok(MpaSource {
            file,
            packetizer: MpaPacketizer::new(&file.bytes, max_payload)?,
            max_payload,
            passes,
            passes_done: 0,
            base_ticks: 0,
        })
    }

    /// Writes the next payload into `out`; returns its position in 90 kHz ticks, or `None` at the end.
    pub fn next_payload(&mut self, out: &mut Vec<u8>) -> Option<u64> {
        loop {
            if let Some(info) = self.packetizer.next_packet(out) {
                return Some(self.base_ticks + info.timestamp);
            }
            self.passes_done += 1;
            if !self.passes.another_after(self.passes_done) {
                return None;
            }
            self.base_ticks += self.file.pass_ticks;
            // The size was accepted once already, so this cannot fail; stop if it somehow does.
            self.packetizer = MpaPacketizer::new(&self.file.bytes, self.max_payload).ok()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MP2: &[u8] = include_bytes!("../../codec/testdata/tone-48k-mono.mp2");

    #[test]
    fn mpeg_files_are_recognised_and_others_refused() {
        let file = MpaFile::from_bytes(MP2.to_vec()).unwrap();
        // Five 1152-sample frames at 48 kHz.
        assert_eq!(file.pass_ticks(), 5 * 2160);
        let wav =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/speech-48k-mono.wav"))
                .unwrap();
        assert!(MpaFile::from_bytes(wav).is_none());
        assert!(MpaFile::from_bytes(Vec::new()).is_none());
    }

    #[test]
    fn loops_continue_the_90khz_clock() {
        let file = MpaFile::from_bytes(MP2.to_vec()).unwrap();
        let mut source = MpaSource::new(&file, 200, Passes::Times(3)).unwrap();
        let mut out = Vec::new();
        let mut times = Vec::new();
        while let Some(t) = source.next_payload(&mut out) {
            times.push(t);
        }
        let expected: Vec<u64> = (0..15).map(|i| i * 2160).collect();
        assert_eq!(times, expected);
    }
}
