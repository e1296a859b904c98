//! A fixed byte budget for packet payloads, handed out in small blocks.
//!
//! Datagrams range from a 12-byte comfort-noise packet to 65,507 bytes, so slots of one fixed
//! size either waste memory or refuse large packets. Instead every payload is stored as a chain
//! of [`BLOCK`]-byte blocks taken from one allocation made up front; a payload costs its length
//! rounded up to a block, and memory is bounded by the budget whatever arrives. Allocating and
//! freeing only moves indices on a free list, so a stream in steady state allocates nothing.

/// Bytes per block: small enough that a 160-byte G.711 packet wastes little, large enough that
/// a 64 KiB datagram is a chain of a few hundred.
pub(crate) const BLOCK: usize = 256;

const NIL: u32 = u32::MAX;

/// Where a stored payload lives: its first block and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handle {
    first: u32,
    len: u32,
}

impl Handle {
    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }
}

/// The block store.
#[derive(Debug)]
pub(crate) struct BytePool {
    data: Box<[u8]>,
    next: Box<[u32]>,
    free_head: u32,
    free: usize,
}

impl BytePool {
    /// A pool of at least `budget` bytes, rounded up to whole blocks. A budget of 0 holds
    /// only empty payloads (a buffer that keeps headers alone, as the monitor's player model).
    pub fn new(budget: usize) -> Self {
        let blocks = budget.div_ceil(BLOCK).min(NIL as usize - 1);
        let next: Box<[u32]> = (0..blocks)
            .map(|i| if i + 1 < blocks { i as u32 + 1 } else { NIL })
            .collect();
        Self {
            data: vec![0u8; blocks * BLOCK].into_boxed_slice(),
            next,
            free_head: if blocks > 0 { 0 } else { NIL },
            free: blocks,
        }
    }

    /// Total bytes the pool can hold.
    pub fn capacity(&self) -> usize {
        self.next.len() * BLOCK
    }

    /// Whether a payload of `len` bytes fits in what is free now.
    /// Grows to at least `blocks` blocks (handles stay valid: they are block indices), so
    /// that many one-block packets fit.
    pub fn grow_to_blocks(&mut self, blocks: usize) {
        let old = self.next.len();
        let blocks = blocks.min(NIL as usize - 1);
        if blocks <= old {
            return;
        }
        let mut data = vec![0u8; blocks * BLOCK];
        data[..self.data.len()].copy_from_slice(&self.data);
        self.data = data.into_boxed_slice();
        let mut next = self.next.to_vec();
        // The new blocks go in front of the free list, chained in order.
        next.extend((old..blocks).map(|i| {
            if i + 1 < blocks {
                i as u32 + 1
            } else {
                self.free_head
            }
        }));
        self.next = next.into_boxed_slice();
        self.free_head = old as u32;
        self.free += blocks - old;
    }

    pub fn fits(&self, len: usize) -> bool {
        Self::blocks_for(len) <= self.free
    }

    /// Whether a payload of `len` bytes could ever fit (the pool empty).
    pub fn could_fit(&self, len: usize) -> bool {
        Self::blocks_for(len) <= self.next.len()
    }

    /// Blocks a payload of `len` bytes takes: an empty one takes none.
    fn blocks_for(len: usize) -> usize {
        len.div_ceil(BLOCK)
    }

    /// Copies `bytes` in; `None` when not enough blocks are free.
    pub fn store(&mut self, bytes: &[u8]) -> Option<Handle> {
        let need = Self::blocks_for(bytes.len());
        if need > self.free {
            return None;
        }
        if need == 0 {
            return Some(Handle { first: NIL, len: 0 });
        }
        let first = self.free_head;
        let mut block = first;
        let mut last = first;
        let mut chunks = bytes.chunks(BLOCK);
        for _ in 0..need {
            let at = block as usize * BLOCK;
            if let (Some(chunk), Some(dst)) = (chunks.next(), self.data.get_mut(at..at + BLOCK)) {
                dst[..chunk.len()].copy_from_slice(chunk);
            }
            last = block;
            block = self.next.get(block as usize).copied().unwrap_or(NIL);
        }
        self.free_head = block;
        if let Some(n) = self.next.get_mut(last as usize) {
            *n = NIL;
        }
        self.free -= need;
        Some(Handle {
            first,
            len: bytes.len() as u32,
        })
    }

    /// Copies a stored payload into `out` (which must hold [`Handle::len`] bytes).
    pub fn read(&self, h: Handle, out: &mut [u8]) {
        let mut block = h.first;
        for dst in out[..h.len()].chunks_mut(BLOCK) {
            let at = block as usize * BLOCK;
            if let Some(src) = self.data.get(at..at + dst.len()) {
                dst.copy_from_slice(src);
            }
            block = self.next.get(block as usize).copied().unwrap_or(NIL);
        }
    }

    /// Where a stored payload lies when its blocks follow each other in memory (the usual case
    /// once a stream's packets all have one size: a released chain goes back to the free list
    /// whole, and the next payload of that size takes it again), so it can be lent in place.
    pub fn contiguous(&self, h: Handle) -> Option<std::ops::Range<usize>> {
        let need = Self::blocks_for(h.len());
        if need == 0 {
            return Some(0..0);
        }
        let mut block = h.first;
        for _ in 1..need {
            let next = *self.next.get(block as usize)?;
            if next != block + 1 {
                return None;
            }
            block = next;
        }
        let start = h.first as usize * BLOCK;
        Some(start..start + h.len())
    }

    /// The pool's bytes (a range from [`BytePool::contiguous`] is a payload).
    pub fn bytes(&self, range: std::ops::Range<usize>) -> &[u8] {
        self.data.get(range).unwrap_or(&[])
    }

    /// Returns a payload's blocks to the free list.
    pub fn release(&mut self, h: Handle) {
        let need = Self::blocks_for(h.len());
        if need == 0 {
            return;
        }
        let mut last = h.first;
        for _ in 1..need {
            last = self.next.get(last as usize).copied().unwrap_or(NIL);
        }
        if let Some(n) = self.next.get_mut(last as usize) {
            *n = self.free_head;
        }
        self.free_head = h.first;
        self.free += need;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_of_any_size_round_trip_and_free_their_blocks() {
        let mut pool = BytePool::new(70_000);
        let total = pool.capacity() / BLOCK;
        let big: Vec<u8> = (0..65_507u32).map(|i| (i * 7 % 251) as u8).collect();
        let small = [1u8, 2, 3];
        let hb = pool.store(&big).unwrap();
        let hs = pool.store(&small).unwrap();
        let mut out = vec![0u8; 65_507];
        pool.read(hb, &mut out);
        assert_eq!(out, big);
        pool.read(hs, &mut out[..3]);
        assert_eq!(&out[..3], &small);
        assert!(!pool.fits(big.len()), "only one 64 KiB payload fits");
        pool.release(hb);
        pool.release(hs);
        assert_eq!(pool.free, total);
        let empty = pool.store(&[]).unwrap();
        assert_eq!(empty.len(), 0);
        pool.release(empty);
        assert_eq!(pool.free, total);
    }

    #[test]
    fn growing_keeps_what_is_stored_and_adds_free_blocks() {
        let mut pool = BytePool::new(2 * BLOCK);
        let a = pool.store(&[7u8; 300]).unwrap();
        assert!(!pool.fits(1));
        pool.grow_to_blocks(10);
        assert_eq!(pool.free, 8);
        let b = pool.store(&[9u8; 5 * BLOCK]).unwrap();
        let mut out = vec![0u8; 5 * BLOCK];
        pool.read(a, &mut out[..300]);
        assert_eq!(&out[..300], &[7u8; 300][..]);
        pool.read(b, &mut out);
        assert!(out.iter().all(|&v| v == 9));
        pool.release(a);
        pool.release(b);
        assert_eq!(pool.free, 10);
    }

    #[test]
    fn interleaved_store_and_release_never_mixes_payloads() {
        let mut pool = BytePool::new(8 * BLOCK);
        let mut live: Vec<(Handle, Vec<u8>)> = Vec::new();
        for i in 0..500usize {
            let len = (i * 97) % (3 * BLOCK);
            let bytes: Vec<u8> = (0..len).map(|k| (k + i) as u8).collect();
            while !pool.fits(len) {
                let (h, _) = live.remove(0);
                pool.release(h);
            }
            live.push((pool.store(&bytes).unwrap(), bytes));
            for (h, b) in &live {
                let mut out = vec![0u8; h.len()];
                pool.read(*h, &mut out);
                assert_eq!(&out, b);
            }
        }
    }
}
