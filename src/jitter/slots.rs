//! Packet storage for the jitter buffer, indexed by extended sequence number.
//!
//! Slots hold each packet's metadata; payload bytes live in a [`BytePool`] with a fixed byte
//! budget, so any datagram size is accepted and memory stays bounded whatever arrives. Storing
//! copies the payload into pool blocks; `take_payload` copies it out into a preallocated scratch
//! buffer and frees the blocks at once. A played slot keeps its metadata, which lets a late
//! duplicate be told apart from a packet that never came.

use std::time::Duration;

use super::pool::{BytePool, Handle};

/// Largest UDP payload over IPv4; no RTP payload can be longer.
pub(crate) const MAX_PAYLOAD: usize = 65_507;

/// What a slot currently holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Nothing (never used, evicted or discarded).
    Empty,
    /// A packet waiting for its turn.
    Queued,
    /// A packet that has been handed out by `pop` (kept to recognise duplicates).
    Played,
}

/// One packet's storage and metadata.
#[derive(Debug)]
pub(crate) struct Slot {
    pub state: SlotState,
    pub ssrc: u32,
    pub ext_seq: u64,
    pub ext_ts: u64,
    pub rtp_ts: u32,
    pub rtp_seq: u16,
    pub marker: bool,
    pub payload_type: u8,
    pub arrival: Duration,
    /// The packet's own duration in RTP ticks when its payload says it (0: unknown).
    pub own_ticks: u64,
    handle: Option<Handle>,
}

impl Slot {
    /// A slot that holds nothing.
    fn empty() -> Self {
        Slot {
            state: SlotState::Empty,
            ssrc: 0,
            ext_seq: 0,
            ext_ts: 0,
            rtp_ts: 0,
            rtp_seq: 0,
            marker: false,
            payload_type: 0,
            arrival: Duration::ZERO,
            own_ticks: 0,
            handle: None,
        }
    }
}

/// Metadata stored alongside a payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotMeta {
    pub ssrc: u32,
    pub ext_seq: u64,
    pub ext_ts: u64,
    pub rtp_ts: u32,
    pub rtp_seq: u16,
    pub marker: bool,
    pub payload_type: u8,
    pub arrival: Duration,
    pub own_ticks: u64,
}

/// Why a payload could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// The pool has no room now: older packets must make way.
    NoRoom,
    /// Larger than the whole byte budget.
    TooLarge,
}

/// A fixed ring of slots; slot `i` holds extended sequence numbers congruent to `i`.
///
/// The ring's length is the capacity rounded up to a power of two, so that a slot's index is a
/// mask rather than a division (for every packet, several times); what the buffer may hold (its
/// window) is the capacity asked for.
#[derive(Debug)]
pub(crate) struct SlotStore {
    slots: Vec<Slot>,
    capacity: usize,
    pool: BytePool,
    scratch: Box<[u8]>,
}

/// The ring length for `capacity` slots.
fn ring_len(capacity: usize) -> usize {
    capacity
        .max(1)
        .checked_next_power_of_two()
        .unwrap_or(capacity)
}

impl SlotStore {
    /// Allocates `capacity` slots and a pool of `budget` payload bytes, up front.
    pub fn new(capacity: usize, budget: usize) -> Self {
        let capacity = capacity.max(1);
        let slots = (0..ring_len(capacity)).map(|_| Slot::empty()).collect();
        let pool = BytePool::new(budget);
        Self {
            slots,
            capacity,
            // No payload is longer than the pool holds.
            scratch: vec![0u8; MAX_PAYLOAD.min(pool.capacity())].into_boxed_slice(),
            pool,
        }
    }

    /// Grows to `capacity` slots, keeping every packet (each moves to its index in the larger
    /// ring: their sequence numbers span less than the old capacity, so none collide), and the
    /// pool to at least a block per slot (short packets take a whole block each), unless it
    /// holds headers only (a budget of 0).
    pub fn grow(&mut self, capacity: usize) {
        if capacity <= self.capacity {
            return;
        }
        self.capacity = capacity;
        if self.pool.capacity() > 0 {
            self.pool.grow_to_blocks(capacity);
            let longest = MAX_PAYLOAD.min(self.pool.capacity());
            if self.scratch.len() < longest {
                self.scratch = vec![0u8; longest].into_boxed_slice();
            }
        }
        if ring_len(capacity) <= self.slots.len() {
            return;
        }
        let old = std::mem::replace(
            &mut self.slots,
            (0..ring_len(capacity)).map(|_| Slot::empty()).collect(),
        );
        for slot in old.into_iter().filter(|s| s.state != SlotState::Empty) {
            let i = self.index(slot.ext_seq);
            if let Some(to) = self.slots.get_mut(i) {
                *to = slot;
            }
        }
    }

    /// Packets the ring holds at most (the sequence window).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The payload byte pool (shared with packets held aside as restart candidates).
    pub fn pool(&mut self) -> &mut BytePool {
        &mut self.pool
    }

    /// Whether a payload of `len` bytes fits in the free part of the pool.
    pub fn fits(&self, len: usize) -> bool {
        self.pool.fits(len)
    }

    fn index(&self, ext_seq: u64) -> usize {
        // The modulus is the slot count, so the result always fits in usize. The usual counts
        // are powers of two, where a mask gives the same remainder without a division.
        let n = self.slots.len() as u64;
        if n.is_power_of_two() {
            (ext_seq & (n - 1)) as usize
        } else {
            (ext_seq % n) as usize
        }
    }

    /// The slot that `ext_seq` maps to (which may hold another sequence number).
    pub fn get(&self, ext_seq: u64) -> Option<&Slot> {
        self.slots.get(self.index(ext_seq))
    }

    /// The slot if it holds exactly `ext_seq` in the given state.
    pub fn find(&self, ext_seq: u64, state: SlotState) -> Option<&Slot> {
        self.get(ext_seq)
            .filter(|s| s.ext_seq == ext_seq && s.state == state)
    }

    /// Whether `ext_seq` is queued.
    pub fn is_queued(&self, ext_seq: u64) -> bool {
        self.find(ext_seq, SlotState::Queued).is_some()
    }

    /// Copies a packet into its slot and marks it queued.
    pub fn store(&mut self, meta: SlotMeta, payload: &[u8]) -> Result<(), StoreError> {
        if payload.len() > MAX_PAYLOAD || !self.pool.could_fit(payload.len()) {
            return Err(StoreError::TooLarge);
        }
        let i = self.index(meta.ext_seq);
        if let Some(h) = self.slots.get_mut(i).and_then(|s| s.handle.take()) {
            self.pool.release(h);
        }
        let handle = self.pool.store(payload).ok_or(StoreError::NoRoom)?;
        let Some(slot) = self.slots.get_mut(i) else {
            self.pool.release(handle);
            return Err(StoreError::NoRoom);
        };
        slot.handle = Some(handle);
        slot.state = SlotState::Queued;
        slot.ssrc = meta.ssrc;
        slot.ext_seq = meta.ext_seq;
        slot.ext_ts = meta.ext_ts;
        slot.rtp_ts = meta.rtp_ts;
        slot.rtp_seq = meta.rtp_seq;
        slot.marker = meta.marker;
        slot.payload_type = meta.payload_type;
        slot.arrival = meta.arrival;
        slot.own_ticks = meta.own_ticks;
        Ok(())
    }

    /// Marks `ext_seq` played and lends its payload, copied out of the pool (whose blocks are
    /// free again at once).
    pub fn take_payload(&mut self, ext_seq: u64) -> &[u8] {
        let i = self.index(ext_seq);
        let handle = match self.slots.get_mut(i) {
            Some(slot) if slot.ext_seq == ext_seq => {
                slot.state = SlotState::Played;
                slot.handle.take()
            }
            _ => None,
        };
        let Some(h) = handle else {
            return &[];
        };
        // Released blocks keep their bytes until the next store, which needs `&mut self`:
        // a payload in consecutive blocks is lent in place, without a copy.
        if let Some(range) = self.pool.contiguous(h) {
            self.pool.release(h);
            return self.pool.bytes(range);
        }
        self.pool.read(h, &mut self.scratch);
        self.pool.release(h);
        self.scratch.get(..h.len()).unwrap_or(&[])
    }

    /// Copies the payload of queued `ext_seq` into `out` (resized to fit); false if not queued.
    pub fn read_payload(&self, ext_seq: u64, out: &mut Vec<u8>) -> bool {
        let Some(h) = self.find(ext_seq, SlotState::Queued).and_then(|s| s.handle) else {
            return false;
        };
        out.resize(h.len(), 0);
        self.pool.read(h, out);
        true
    }

    /// Sets the state of the slot holding `ext_seq`, if it holds it.
    pub fn set_state(&mut self, ext_seq: u64, state: SlotState) {
        let i = self.index(ext_seq);
        if let Some(slot) = self.slots.get_mut(i) {
            if slot.ext_seq == ext_seq {
                slot.state = state;
                if state != SlotState::Queued {
                    if let Some(h) = slot.handle.take() {
                        self.pool.release(h);
                    }
                }
            }
        }
    }

    /// Marks every queued slot empty and returns how many there were.
    pub fn discard_queued(&mut self) -> u64 {
        let mut n = 0;
        for slot in &mut self.slots {
            if slot.state == SlotState::Queued {
                slot.state = SlotState::Empty;
                if let Some(h) = slot.handle.take() {
                    self.pool.release(h);
                }
                n += 1;
            }
        }
        n
    }
}
