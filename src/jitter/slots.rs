//! Preallocated packet storage for the jitter buffer, indexed by extended sequence number.
//!
//! Every slot owns a byte buffer of the maximum payload size, allocated once when the store is
//! built; storing a packet copies its payload into the slot, so a stream in steady state allocates
//! nothing. A slot keeps its bytes after it is played, which lets `pop` lend them out without a
//! copy and lets a late duplicate be told apart from a packet that never came.

use std::time::Duration;

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
    pub ext_seq: u64,
    pub ext_ts: u64,
    pub rtp_ts: u32,
    pub rtp_seq: u16,
    pub marker: bool,
    pub payload_type: u8,
    pub arrival: Duration,
    len: usize,
    data: Box<[u8]>,
}

impl Slot {
    /// The stored payload.
    pub fn payload(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or(&[])
    }
}

/// Metadata stored alongside a payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotMeta {
    pub ext_seq: u64,
    pub ext_ts: u64,
    pub rtp_ts: u32,
    pub rtp_seq: u16,
    pub marker: bool,
    pub payload_type: u8,
    pub arrival: Duration,
}

/// A fixed ring of slots; slot `i` holds extended sequence numbers congruent to `i`.
#[derive(Debug)]
pub(crate) struct SlotStore {
    slots: Vec<Slot>,
    max_payload: usize,
}

impl SlotStore {
    /// Allocates `capacity` slots of `max_payload` bytes each, up front.
    pub fn new(capacity: usize, max_payload: usize) -> Self {
        let capacity = capacity.max(1);
        let slots = (0..capacity)
            .map(|_| Slot {
                state: SlotState::Empty,
                ext_seq: 0,
                ext_ts: 0,
                rtp_ts: 0,
                rtp_seq: 0,
                marker: false,
                payload_type: 0,
                arrival: Duration::ZERO,
                len: 0,
                data: vec![0u8; max_payload].into_boxed_slice(),
            })
            .collect();
        Self { slots, max_payload }
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Largest payload a slot can hold.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    fn index(&self, ext_seq: u64) -> usize {
        // The modulus is the slot count, so the result always fits in usize.
        (ext_seq % self.slots.len() as u64) as usize
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

    /// Copies a packet into its slot and marks it queued; false if the payload does not fit.
    pub fn store(&mut self, meta: SlotMeta, payload: &[u8]) -> bool {
        let i = self.index(meta.ext_seq);
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        let Some(dst) = slot.data.get_mut(..payload.len()) else {
            return false;
        };
        dst.copy_from_slice(payload);
        slot.len = payload.len();
        slot.state = SlotState::Queued;
        slot.ext_seq = meta.ext_seq;
        slot.ext_ts = meta.ext_ts;
        slot.rtp_ts = meta.rtp_ts;
        slot.rtp_seq = meta.rtp_seq;
        slot.marker = meta.marker;
        slot.payload_type = meta.payload_type;
        slot.arrival = meta.arrival;
        true
    }

    /// Sets the state of the slot holding `ext_seq`, if it holds it.
    pub fn set_state(&mut self, ext_seq: u64, state: SlotState) {
        let i = self.index(ext_seq);
        if let Some(slot) = self.slots.get_mut(i) {
            if slot.ext_seq == ext_seq {
                slot.state = state;
            }
        }
    }

    /// Marks every queued slot empty and returns how many there were.
    pub fn discard_queued(&mut self) -> u64 {
        let mut n = 0;
        for slot in &mut self.slots {
            if slot.state == SlotState::Queued {
                slot.state = SlotState::Empty;
                n += 1;
            }
        }
        n
    }
}

/// A single spare packet kept aside while a restart or a new SSRC awaits confirmation.
#[derive(Debug)]
pub(crate) struct HeldPacket {
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    pub payload_type: u8,
    pub arrival: Duration,
    len: usize,
    data: Box<[u8]>,
}

impl HeldPacket {
    /// Allocates the spare slot up front.
    pub fn new(max_payload: usize) -> Self {
        Self {
            ssrc: 0,
            seq: 0,
            ts: 0,
            marker: false,
            payload_type: 0,
            arrival: Duration::ZERO,
            len: 0,
            data: vec![0u8; max_payload].into_boxed_slice(),
        }
    }

    /// The held payload.
    pub fn payload(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or(&[])
    }

    /// Copies a payload in; false if it does not fit.
    pub fn set_payload(&mut self, payload: &[u8]) -> bool {
        match self.data.get_mut(..payload.len()) {
            Some(dst) => {
                dst.copy_from_slice(payload);
                self.len = payload.len();
                true
            }
            None => false,
        }
    }
}
