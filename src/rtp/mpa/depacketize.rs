//! RFC 2250 depacketizer: whole frames out of payloads, reassembling fragmented frames.

use super::header::{parse_header, HEADER_LEN, MAX_FRAME_LEN};
use super::{MpaError, RFC2250_HEADER_LEN};

/// Turns RFC 2250 payloads, in playout order, into whole MPEG audio frames.
///
/// Sans-IO and allocation-free after construction: whole frames are handed out as slices of
/// the payload, and a fragmented frame is reassembled in a buffer sized for the largest frame.
#[derive(Debug)]
pub struct MpaDepacketizer {
    /// Bytes of the frame being reassembled (or the frame just completed, until the next call).
    partial: Vec<u8>,
    /// Length of the frame being reassembled; 0 when none is in progress.
    expected: usize,
    /// Frames abandoned because one of their fragments never arrived or did not fit.
    dropped: u64,
    /// The frame whose fragments are arriving was already abandoned and counted, so its
    /// remaining fragments are dropped without counting it again.
    orphan: bool,
}

impl Default for MpaDepacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl MpaDepacketizer {
    /// Creates a depacketizer with its reassembly buffer preallocated.
    pub fn new() -> Self {
        MpaDepacketizer {
            partial: Vec::with_capacity(MAX_FRAME_LEN),
            expected: 0,
            dropped: 0,
            orphan: false,
        }
    }

    /// Frames abandoned so far because a fragment was lost or inconsistent.
    pub fn dropped_fragments(&self) -> u64 {
        self.dropped
    }

    /// Signals that a packet was lost: a frame being reassembled can no longer complete.
    pub fn lost(&mut self) {
        self.abandon_partial();
    }

    /// Forgets any partial frame without counting it (sender restart, seek).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.expected = 0;
        self.orphan = false;
    }

    /// Drops the frame in reassembly, if any, counts it, and ignores the rest of its fragments.
    fn abandon_partial(&mut self) {
        if self.expected != 0 {
            self.dropped += 1;
            self.orphan = true;
        }
        self.partial.clear();
        self.expected = 0;
    }

    /// Takes the next payload in playout order and returns the whole frames it completes.
    ///
    /// On error nothing is returned and the payload is ignored; a frame in reassembly is then
    /// abandoned, since its remaining bytes can no longer be trusted.
    pub fn push<'a>(&'a mut self, payload: &'a [u8]) -> Result<MpaFrames<'a>, MpaError> {
        // A frame completed by the previous call has been consumed by now.
        if self.expected == 0 {
            self.partial.clear();
        }
        let (Some(head), Some(data)) = (
            payload.get(..RFC2250_HEADER_LEN),
            payload.get(RFC2250_HEADER_LEN..),
        ) else {
            self.abandon_partial();
            return Err(MpaError::TooShort(payload.len()));
        };
        if data.is_empty() {
            self.abandon_partial();
            return Err(MpaError::TooShort(payload.len()));
        }
        // The first 16 bits are "must be zero": RFC 2250 tells receivers to ignore them.
        let offset = usize::from(u16::from_be_bytes([head[2], head[3]]));
        if offset > 0 {
            return self.continue_fragment(offset, data);
        }
        self.abandon_partial();
        self.orphan = false;

        // Check the whole layout before handing anything out, so a bad payload yields nothing.
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            let header = match parse_header(rest) {
                Ok(h) => h,
                Err(e) if pos == 0 => return Err(e),
                Err(_) => return Err(MpaError::TrailingGarbage(rest.len())),
            };
            if header.frame_len > rest.len() {
                // The start of a frame too large for the packet: its fragments follow with
                // Frag_offset set to the bytes received so far.
                self.partial.extend_from_slice(rest);
                self.expected = header.frame_len;
                break;
            }
            pos += header.frame_len;
        }
        Ok(MpaFrames {
            whole: &data[..pos],
            reassembled: None,
        })
    }

    /// Appends a fragment with a non-zero offset to the frame in reassembly.
    fn continue_fragment<'a>(
        &'a mut self,
        offset: usize,
        data: &'a [u8],
    ) -> Result<MpaFrames<'a>, MpaError> {
        if self.expected == 0 || offset != self.partial.len() {
            // The frame's first fragment (or one in between) is missing: nothing to attach to.
            // Count the frame once, whether or not earlier fragments of it were buffered.
            if self.expected != 0 || !self.orphan {
                self.dropped += 1;
            }
            self.partial.clear();
            self.expected = 0;
            self.orphan = true;
            return Ok(MpaFrames::EMPTY);
        }
        if offset + data.len() > self.expected {
            let frame_len = self.expected;
            self.abandon_partial();
            return Err(MpaError::FragmentOverrun { frame_len });
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() < self.expected {
            return Ok(MpaFrames::EMPTY);
        }
        // Complete: the buffer is handed out now and cleared on the next call.
        self.expected = 0;
        Ok(MpaFrames {
            whole: &[],
            reassembled: Some(&self.partial),
        })
    }
}

/// The whole frames one payload yields, each exactly one frame with its header.
#[derive(Debug, Clone)]
pub struct MpaFrames<'a> {
    /// Consecutive whole frames not yet yielded, validated by `push`.
    whole: &'a [u8],
    /// A frame completed by reassembly.
    reassembled: Option<&'a [u8]>,
}

impl MpaFrames<'_> {
    const EMPTY: MpaFrames<'static> = MpaFrames {
        whole: &[],
        reassembled: None,
    };
}

impl<'a> Iterator for MpaFrames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some(frame) = self.reassembled.take() {
            return Some(frame);
        }
        let len = parse_header(self.whole).ok()?.frame_len;
        debug_assert!(len >= HEADER_LEN && len <= self.whole.len());
        let (frame, rest) = self.whole.split_at_checked(len)?;
        self.whole = rest;
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A valid 192-byte MPEG-1 Layer II frame (64 kbit/s, 48 kHz, mono) filled with `fill`.
    fn frame(fill: u8) -> Vec<u8> {
        let mut f = vec![fill; 192];
        f[..4].copy_from_slice(&[0xFF, 0xFD, 0x44, 0xC0]);
        f
    }

    fn payload(offset: u16, data: &[u8]) -> Vec<u8> {
        let mut p = vec![0, 0];
        p.extend_from_slice(&offset.to_be_bytes());
        p.extend_from_slice(data);
        p
    }

    fn frames_of(d: &mut MpaDepacketizer, p: &[u8]) -> Result<Vec<Vec<u8>>, MpaError> {
        Ok(d.push(p)?.map(<[u8]>::to_vec).collect())
    }

    #[test]
    fn several_whole_frames_in_one_packet() {
        let mut d = MpaDepacketizer::new();
        let data = [frame(1), frame(2), frame(3)].concat();
        let out = frames_of(&mut d, &payload(0, &data)).unwrap();
        assert_eq!(out, vec![frame(1), frame(2), frame(3)]);
    }

    #[test]
    fn reassembles_fragments() {
        let mut d = MpaDepacketizer::new();
        let f = frame(7);
        assert!(frames_of(&mut d, &payload(0, &f[..50])).unwrap().is_empty());
        assert!(frames_of(&mut d, &payload(50, &f[50..120]))
            .unwrap()
            .is_empty());
        assert_eq!(
            frames_of(&mut d, &payload(120, &f[120..])).unwrap(),
            vec![f.clone()]
        );
        // The next packet starts clean.
        assert_eq!(
            frames_of(&mut d, &payload(0, &frame(8))).unwrap(),
            vec![frame(8)]
        );
        assert_eq!(d.dropped_fragments(), 0);
    }

    #[test]
    fn a_lost_fragment_drops_the_frame() {
        let mut d = MpaDepacketizer::new();
        let f = frame(7);
        // The middle fragment never arrives: the last one cannot attach.
        frames_of(&mut d, &payload(0, &f[..50])).unwrap();
        assert!(frames_of(&mut d, &payload(120, &f[120..]))
            .unwrap()
            .is_empty());
        assert_eq!(d.dropped_fragments(), 1);
        // The first fragment is lost: its continuations are dropped, the frame counted once.
        assert_eq!(frames_of(&mut d, &payload(0, &frame(1))).unwrap().len(), 1);
        assert!(frames_of(&mut d, &payload(50, &f[50..120]))
            .unwrap()
            .is_empty());
        assert!(frames_of(&mut d, &payload(120, &f[120..]))
            .unwrap()
            .is_empty());
        assert_eq!(d.dropped_fragments(), 2);
        // The jitter buffer reports a loss while a frame is in reassembly; the frame's last
        // fragment then arrives and is dropped without counting the frame twice.
        frames_of(&mut d, &payload(0, &f[..50])).unwrap();
        d.lost();
        assert!(frames_of(&mut d, &payload(120, &f[120..]))
            .unwrap()
            .is_empty());
        assert_eq!(d.dropped_fragments(), 3);
        // A new frame starting before the previous one completed abandons it.
        frames_of(&mut d, &payload(0, &f[..50])).unwrap();
        assert_eq!(
            frames_of(&mut d, &payload(0, &frame(9))).unwrap(),
            vec![frame(9)]
        );
        assert_eq!(d.dropped_fragments(), 4);
    }

    #[test]
    fn rejects_malformed_payloads() {
        let mut d = MpaDepacketizer::new();
        assert_eq!(frames_of(&mut d, &[0, 0, 0]), Err(MpaError::TooShort(3)));
        assert_eq!(frames_of(&mut d, &[0, 0, 0, 0]), Err(MpaError::TooShort(4)));
        assert!(matches!(
            frames_of(&mut d, &payload(0, &[1, 2, 3, 4, 5])),
            Err(MpaError::BadHeader(_))
        ));
        let mut data = frame(1);
        data.extend_from_slice(&[0xAB; 10]);
        assert_eq!(
            frames_of(&mut d, &payload(0, &data)),
            Err(MpaError::TrailingGarbage(10))
        );
        let f = frame(1);
        frames_of(&mut d, &payload(0, &f[..100])).unwrap();
        let too_long = [f[100..].to_vec(), vec![0; 5]].concat();
        assert_eq!(
            frames_of(&mut d, &payload(100, &too_long)),
            Err(MpaError::FragmentOverrun { frame_len: 192 })
        );
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..20)) {
            let mut d = MpaDepacketizer::new();
            for p in &payloads {
                if let Ok(frames) = d.push(p) {
                    for f in frames {
                        let h = parse_header(f).unwrap();
                        prop_assert_eq!(h.frame_len, f.len());
                    }
                }
            }
            prop_assert!(d.partial.len() <= MAX_FRAME_LEN);
        }

        #[test]
        fn arbitrary_fragment_offsets_never_panic(first in prop::collection::vec(any::<u8>(), 1..300), rest in prop::collection::vec((any::<u16>(), prop::collection::vec(any::<u8>(), 1..300)), 0..10)) {
            let mut d = MpaDepacketizer::new();
            let mut start = frame(3);
            start.truncate(first.len().min(191));
            let _ = d.push(&payload(0, &start)).map(|f| f.count());
            for (offset, data) in &rest {
                let _ = d.push(&payload(*offset, data)).map(|f| f.count());
                prop_assert!(d.partial.len() <= MAX_FRAME_LEN);
            }
        }
    }
}
