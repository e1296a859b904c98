//! RFC 2250 packetizer: an MP3/MP2 elementary stream cut into frames and packed into payloads.

use super::header::{parse_header, MpaHeader, HEADER_LEN};
use super::{MpaError, RFC2250_HEADER_LEN};
use crate::rtp::payload::MPA_CLOCK_RATE;

/// Walks the frames of an MPEG audio elementary stream (an `.mp3`/`.mp2` file's bytes).
///
/// A leading ID3v2 tag is skipped, and so is anything between frames that is not one (an ID3v1
/// tag, junk). To (re)gain sync, a frame is only accepted where the next one, or the end of
/// data, follows it, which keeps false syncs inside tags and junk from being taken for frames;
/// once in sync, each frame that starts where the previous one ended is accepted as it is.
#[derive(Debug, Clone)]
pub struct MpaSplit<'a> {
    data: &'a [u8],
    pos: usize,
    synced: bool,
}

/// Iterates over the whole frames of an MPEG audio elementary stream, with their headers.
pub fn split_frames(data: &[u8]) -> MpaSplit<'_> {
    MpaSplit {
        data,
        pos: id3v2_len(data).min(data.len()),
        synced: false,
    }
}

/// Length of an ID3v2 tag at the start of `data`, or 0.
fn id3v2_len(data: &[u8]) -> usize {
    match data.get(..10) {
        Some([b'I', b'D', b'3', _, _, flags, s @ ..]) => {
            // Sizes are "syncsafe": 7 bits per byte.
            let size = s
                .iter()
                .fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7F));
            let footer = if flags & 0x10 != 0 { 10 } else { 0 };
            10 + size + footer
        }
        _ => 0,
    }
}

impl<'a> Iterator for MpaSplit<'a> {
    type Item = (MpaHeader, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos + HEADER_LEN <= self.data.len() {
            let rest = &self.data[self.pos..];
            if let Ok(h) = parse_header(rest) {
                if let Some(frame) = rest.get(..h.frame_len) {
                    let after = &rest[h.frame_len..];
                    if self.synced || after.len() < HEADER_LEN || parse_header(after).is_ok() {
                        self.pos += h.frame_len;
                        self.synced = true;
                        return Some((h, frame));
                    }
                }
            }
            self.synced = false;
            self.pos += 1;
        }
        None
    }
}

/// Where one RTP packet produced by [`MpaPacketizer`] sits in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpaPacketInfo {
    /// RTP timestamp offset from the start of the stream, in 90 kHz ticks (RFC 3551): the
    /// time of the packet's first frame. Fragments of one frame share it.
    pub timestamp: u64,
    /// Whole frames in the packet (0 for a fragment).
    pub frames: usize,
    /// Whether the packet holds a fragment of a frame larger than the payload limit.
    pub fragment: bool,
    /// Audio samples per channel that frames completed by this packet decode to.
    pub samples: usize,
}

/// Packs the frames of an MPEG audio elementary stream into RFC 2250 payloads.
///
/// As many whole frames as fit go into each payload; a frame larger than the limit is sent as
/// fragments with `Frag_offset` set, one per packet. Xing/Info/VBRI metadata frames are skipped:
/// they decode to silence and carry no audio.
#[derive(Debug, Clone)]
pub struct MpaPacketizer<'a> {
    frames: std::iter::Peekable<MpaSplit<'a>>,
    max_payload: usize,
    /// A frame being sent in fragments: the frame, bytes already sent, its timestamp.
    fragmenting: Option<(&'a [u8], usize, u64, usize)>,
    /// 90 kHz ticks of all frames at earlier sample rates.
    ticks_before: u64,
    /// Samples sent at the current rate, counted exactly so timestamps never drift.
    samples_at_rate: u64,
    rate: u32,
}

impl<'a> MpaPacketizer<'a> {
    /// Packetizes `stream`, a whole MP3/MP2 file's bytes, into payloads of at most `max_payload` bytes.
    pub fn new(stream: &'a [u8], max_payload: usize) -> Result<Self, MpaError> {
        // A first fragment must at least hold the frame header, or the receiver cannot size it.
        if max_payload < RFC2250_HEADER_LEN + HEADER_LEN {
            return Err(MpaError::PayloadTooSmall(max_payload));
        }
        let mut frames = split_frames(stream).peekable();
        if frames.peek().is_some_and(|(h, f)| h.is_metadata_frame(f)) {
            frames.next();
        }
        Ok(MpaPacketizer {
            frames,
            max_payload,
            fragmenting: None,
            ticks_before: 0,
            samples_at_rate: 0,
            rate: 0,
        })
    }

    /// 90 kHz time of the next frame; a change of sample rate folds the count into whole ticks.
    fn timestamp_for(&mut self, header: &MpaHeader) -> u64 {
        if header.sample_rate != self.rate {
            if self.rate != 0 {
                self.ticks_before +=
                    self.samples_at_rate * u64::from(MPA_CLOCK_RATE) / u64::from(self.rate);
            }
            self.rate = header.sample_rate;
            self.samples_at_rate = 0;
        }
        let ts = self.ticks_before
            + self.samples_at_rate * u64::from(MPA_CLOCK_RATE) / u64::from(self.rate);
        self.samples_at_rate += header.samples_per_frame as u64;
        ts
    }

    /// Writes the next payload (RFC 2250 header included) into `out`, replacing its contents.
    ///
    /// Returns `None` when the stream is exhausted.
    pub fn next_packet(&mut self, out: &mut Vec<u8>) -> Option<MpaPacketInfo> {
        out.clear();
        let room = self.max_payload - RFC2250_HEADER_LEN;
        if let Some((frame, sent, timestamp, samples)) = self.fragmenting {
            let end = (sent + room).min(frame.len());
            push_header(out, sent);
            out.extend_from_slice(&frame[sent..end]);
            let done = end == frame.len();
            self.fragmenting = (!done).then_some((frame, end, timestamp, samples));
            let samples = if done { samples } else { 0 };
            return Some(MpaPacketInfo {
                timestamp,
                frames: 0,
                fragment: true,
                samples,
            });
        }
        let (header, frame) = self.frames.next()?;
        let timestamp = self.timestamp_for(&header);
        push_header(out, 0);
        if frame.len() > room {
            out.extend_from_slice(&frame[..room]);
            self.fragmenting = Some((frame, room, timestamp, header.samples_per_frame));
            return Some(MpaPacketInfo {
                timestamp,
                frames: 0,
                fragment: true,
                samples: 0,
            });
        }
        out.extend_from_slice(frame);
        let mut info = MpaPacketInfo {
            timestamp,
            frames: 1,
            fragment: false,
            samples: header.samples_per_frame,
        };
        while let Some((next, f)) = self.frames.peek() {
            if out.len() + f.len() > self.max_payload {
                break;
            }
            let (next, f) = (*next, *f);
            self.frames.next();
            self.timestamp_for(&next);
            out.extend_from_slice(f);
            info.frames += 1;
            info.samples += next.samples_per_frame;
        }
        Some(info)
    }
}

/// Appends the RFC 2250 header: 16 zero bits, then the fragment offset.
fn push_header(out: &mut Vec<u8>, frag_offset: usize) {
    // Frames are at most MAX_FRAME_LEN bytes, so the offset always fits in 16 bits.
    let offset = u16::try_from(frag_offset).unwrap_or(u16::MAX);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&offset.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::mpa::MpaDepacketizer;
    use proptest::prelude::*;

    /// `ffmpeg -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=0.15" -ac 2 -c:a libmp3lame
    /// -b:a 32k -write_xing 0 -id3v2_version 0 -f mp3 tone-44k1-stereo.mp3` (ffmpeg 5.1.9, LAME).
    const MP3: &[u8] = include_bytes!("../../codec/testdata/tone-44k1-stereo.mp3");
    /// `ffmpeg -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=0.12" -ac 1 -c:a mp2
    /// -b:a 64k -f mp2 tone-48k-mono.mp2` (ffmpeg 5.1.9).
    const MP2: &[u8] = include_bytes!("../../codec/testdata/tone-48k-mono.mp2");

    #[test]
    fn splits_real_streams_into_frames() {
        let mp2: Vec<_> = split_frames(MP2).collect();
        assert_eq!(mp2.len(), 5);
        assert!(mp2
            .iter()
            .all(|(h, f)| h.frame_len == 192 && f.len() == 192 && h.channels == 1));
        let mp3: Vec<_> = split_frames(MP3).collect();
        assert_eq!(mp3.iter().map(|(_, f)| f.len()).sum::<usize>(), MP3.len());
        // 32 kbit/s at 44.1 kHz alternates 104- and 105-byte frames through the padding bit.
        assert!(mp3.iter().any(|(h, _)| h.padding) && mp3.iter().any(|(h, _)| !h.padding));
        assert!(mp3
            .iter()
            .all(|(h, _)| h.sample_rate == 44_100 && h.channels == 2));
    }

    #[test]
    fn skips_id3_tags_and_junk() {
        let mut tagged = b"ID3\x04\x00\x00\x00\x00\x00\x05\xFF\xFB\x90\x44\x00".to_vec();
        tagged.extend_from_slice(MP2);
        tagged.extend_from_slice(b"TAG junk that is not a frame");
        let frames: Vec<_> = split_frames(&tagged).map(|(_, f)| f).collect();
        assert_eq!(frames.concat(), MP2);
    }

    #[test]
    fn packs_whole_frames_and_times_them_at_90khz() {
        let mut p = MpaPacketizer::new(MP2, 400).unwrap();
        let mut out = Vec::new();
        let mut infos = Vec::new();
        while let Some(info) = p.next_packet(&mut out) {
            assert!(out.len() <= 400);
            infos.push(info);
        }
        // 192-byte frames: two per 400-byte payload (4 + 384 bytes).
        assert_eq!(
            infos.iter().map(|i| i.frames).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        // 1152 samples at 48 kHz are 2160 ticks at 90 kHz.
        assert_eq!(
            infos.iter().map(|i| i.timestamp).collect::<Vec<_>>(),
            [0, 4320, 8640]
        );
    }

    #[test]
    fn fragments_round_trip_through_the_depacketizer() {
        for max_payload in [8, 30, 60, 104, 109, 1500] {
            let mut p = MpaPacketizer::new(MP3, max_payload).unwrap();
            let mut d = MpaDepacketizer::new();
            let mut out = Vec::new();
            let mut got = Vec::new();
            let mut last_ts = None;
            while let Some(info) = p.next_packet(&mut out) {
                assert!(out.len() <= max_payload);
                if let Some(prev) = last_ts {
                    assert!(info.timestamp >= prev);
                }
                last_ts = Some(info.timestamp);
                got.extend(d.push(&out).unwrap().map(<[u8]>::to_vec));
            }
            assert_eq!(got.concat(), MP3, "max_payload {max_payload}");
            assert_eq!(d.dropped_fragments(), 0);
        }
        assert_eq!(
            MpaPacketizer::new(MP3, 7).unwrap_err(),
            MpaError::PayloadTooSmall(7)
        );
    }

    #[test]
    fn skips_a_leading_info_frame() {
        // A LAME Info frame: 44.1 kHz stereo Layer III header, 32 bytes of side info, then "Info".
        let mut info = vec![0u8; 417];
        info[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x44]);
        info[36..40].copy_from_slice(b"Info");
        let stream = [info, MP3.to_vec()].concat();
        let mut p = MpaPacketizer::new(&stream, 1500).unwrap();
        let mut out = Vec::new();
        let first = p.next_packet(&mut out).unwrap();
        assert_eq!(first.timestamp, 0);
        assert_eq!(&out[4..8], &MP3[..4]);
    }

    proptest! {
        #[test]
        fn arbitrary_streams_never_panic(
            junk in prop::collection::vec(any::<u8>(), 0..2000),
            cut in 0usize..731,
            max_payload in 8usize..2000,
        ) {
            // Junk alone, and junk spliced into a real stream.
            let spliced = [&MP3[..cut], &junk[..], &MP3[cut..]].concat();
            for stream in [&junk[..], &spliced[..]] {
                let mut p = MpaPacketizer::new(stream, max_payload).unwrap();
                let mut d = MpaDepacketizer::new();
                let mut out = Vec::new();
                while let Some(info) = p.next_packet(&mut out) {
                    prop_assert!(out.len() <= max_payload);
                    prop_assert!(info.frames > 0 || info.fragment);
                    for frame in d.push(&out).unwrap() {
                        prop_assert_eq!(parse_header(frame).unwrap().frame_len, frame.len());
                    }
                }
            }
        }
    }
}
