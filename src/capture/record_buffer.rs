//! The read buffer that pcap and pcapng records are parsed from, sized for records, not files.
//!
//! pcap-file's own readers parse from an 8 MB buffer that they fill from the start: a capture
//! smaller than that is copied whole into fresh pages (a page fault every 4 KiB, about a
//! quarter of a short replay's faults), and a larger one keeps all 8 MB resident. This buffer
//! starts at 128 KiB, stays within the core's L2 cache, and grows only for a record larger
//! than it holds. The parsers (`PcapParser`, `PcapNgParser`) are pcap-file's.

use std::io::{self, Read};

use pcap_file::PcapError;

/// The buffer's size to start with.
const INITIAL: usize = 128 << 10;
/// The largest record accepted, as pcap-file's readers (they stop at their 8 MB buffer).
const MAX_RECORD: usize = 8_000_000;

/// Bytes read ahead from `R`, handed to a parser one record at a time.
pub(super) struct RecordBuffer<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl<R: Read> RecordBuffer<R> {
    /// A buffer over `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; INITIAL],
            pos: 0,
            len: 0,
        }
    }

    /// Runs `step` on the unparsed bytes until it takes a record, reading more while it says
    /// [`PcapError::IncompleteBuffer`]; `step` returns how many bytes it took. `Ok(false)` at
    /// the end of the input between records; a record cut off by the end is an
    /// `UnexpectedEof` error, as pcap-file's readers report it.
    pub fn next(
        &mut self,
        mut step: impl FnMut(&[u8]) -> Result<usize, PcapError>,
    ) -> Result<bool, PcapError> {
        if self.pos == self.len && self.fill().map_err(PcapError::IoError)? == 0 {
            return Ok(false);
        }
        loop {
            match step(&self.buf[self.pos..self.len]) {
                Ok(taken) => {
                    self.pos = (self.pos + taken).min(self.len);
                    return Ok(true);
                }
                Err(PcapError::IncompleteBuffer) => {
                    if self.fill().map_err(PcapError::IoError)? == 0 {
                        return Err(PcapError::IoError(io::ErrorKind::UnexpectedEof.into()));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves the unparsed bytes to the front (growing the buffer if they fill it) and reads
    /// after them; how many bytes were read, 0 at the end of the input.
    fn fill(&mut self) -> io::Result<usize> {
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        if self.len == self.buf.len() {
            if self.buf.len() >= MAX_RECORD {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let grown = (self.buf.len() * 2).min(MAX_RECORD);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.len..]) {
                Ok(n) => {
                    self.len += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `n`-byte records whose first byte is their length.
    fn take_record(src: &[u8], seen: &mut Vec<usize>) -> Result<usize, PcapError> {
        let Some(&n) = src.first() else {
            return Err(PcapError::IncompleteBuffer);
        };
        let n = usize::from(n);
        if src.len() < n {
            return Err(PcapError::IncompleteBuffer);
        }
        seen.push(n);
        Ok(n)
    }

    /// A reader that returns at most `chunk` bytes per read, as a pipe might.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn records_split_across_reads_come_out_whole_and_in_order() {
        let lengths: Vec<usize> = (0..5000).map(|i| 1 + (i * 37) % 250).collect();
        let mut data = Vec::new();
        for &n in &lengths {
            data.push(n as u8);
            data.extend(std::iter::repeat_n(0xAB, n - 1));
        }
        for chunk in [1, 7, 4096, 1 << 20] {
            let mut buffer = RecordBuffer::new(Trickle { data: &data, chunk });
            let mut seen = Vec::new();
            while buffer.next(|src| take_record(src, &mut seen)).unwrap() {}
            assert_eq!(seen, lengths, "reads of {chunk} bytes");
        }
    }

    #[test]
    fn a_record_cut_off_by_the_end_is_unexpected_eof() {
        let data = [3u8, 0, 0, 5, 0];
        let mut buffer = RecordBuffer::new(&data[..]);
        let mut seen = Vec::new();
        assert!(buffer.next(|src| take_record(src, &mut seen)).unwrap());
        let err = buffer.next(|src| take_record(src, &mut seen)).unwrap_err();
        assert!(
            matches!(&err, PcapError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof),
            "{err}"
        );
        assert_eq!(seen, [3]);
    }

    #[test]
    fn a_record_larger_than_the_buffer_grows_it() {
        // One record of INITIAL * 3 bytes, announced by a parser that wants it all at once.
        let size = INITIAL * 3;
        let data = vec![7u8; size];
        let mut buffer = RecordBuffer::new(&data[..]);
        let mut got = 0;
        let step = |src: &[u8]| {
            if src.len() < size {
                return Err(PcapError::IncompleteBuffer);
            }
            got = src.len();
            Ok(size)
        };
        assert!(buffer.next(step).unwrap());
        assert_eq!(got, size);
        assert!(!buffer.next(|_| Ok(0)).unwrap(), "the input has ended");
    }
}
