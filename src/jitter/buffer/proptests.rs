//! Property tests: any reordering and duplication inside the window plays out in order, once,
//! bit-exact, and every copy of every packet is accounted for by exactly one reason.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use crate::jitter::test_rng::TestRng;
use crate::jitter::{InsertOutcome, JitterBuffer, JitterConfig, PopOutcome};
use crate::rtp::header::RtpHeader;

const STEP: u32 = 160;

struct Stream {
    seq0: u16,
    ts0: u32,
    payloads: Vec<Vec<u8>>,
    /// Arrival order: packet indices, duplicates included.
    arrivals: Vec<usize>,
    injected_duplicates: usize,
}

/// `n` packets; each arrives displaced by up to `displace` places, and is duplicated with
/// probability `dup` (the copy displaced independently). Packets 0 and 1 lead, as a sender's
/// first packets do, so the source passes probation.
fn stream(seed: u64, n: usize, displace: u64, dup: f64) -> Stream {
    let mut rng = TestRng::new(seed);
    let seq0 = rng.next_u64() as u16;
    let ts0 = rng.next_u64() as u32;
    let payloads = (0..n)
        .map(|_| {
            let len = 1 + rng.below(32) as usize;
            (0..len).map(|_| rng.next_u64() as u8).collect()
        })
        .collect();
    let mut keyed: Vec<(u64, usize)> = Vec::new();
    let mut injected_duplicates = 0;
    for i in 2..n {
        keyed.push((i as u64 * 1000 + rng.below(displace * 1000 + 1), i));
    }
    for i in 0..n {
        if rng.unit() < dup {
            keyed.push((i as u64 * 1000 + rng.below(displace * 1000 + 1), i));
            injected_duplicates += 1;
        }
    }
    keyed.sort();
    let mut arrivals = vec![0, 1];
    arrivals.extend(keyed.into_iter().map(|(_, i)| i));
    Stream {
        seq0,
        ts0,
        payloads,
        arrivals,
        injected_duplicates,
    }
}

fn insert(b: &mut JitterBuffer, s: &Stream, i: usize, at: usize) -> InsertOutcome {
    let seq = s.seq0.wrapping_add(i as u16);
    let ts = s.ts0.wrapping_add(STEP * i as u32);
    let h = RtpHeader::synthetic(96, seq, ts, 0x1234, false);
    b.insert(&h, &s.payloads[i], Duration::from_millis(at as u64 * 5))
}

fn buffer() -> JitterBuffer {
    JitterBuffer::new(JitterConfig::new(8000))
}

proptest! {
    #[test]
    fn reordered_duplicated_stream_plays_once_in_order(
        seed in any::<u64>(), n in 2usize..300, displace in 0u64..150, dup in 0.0f64..0.3,
    ) {
        let s = stream(seed, n, displace, dup);
        let mut b = buffer();
        let mut dups = 0;
        for (at, i) in s.arrivals.iter().enumerate() {
            match insert(&mut b, &s, *i, at) {
                InsertOutcome::Queued { .. } => {}
                InsertOutcome::Duplicate => dups += 1,
                other => prop_assert!(false, "packet {} -> {:?}", i, other),
            }
        }
        let mut played = 0usize;
        let mut last_seq = None;
        loop {
            match b.pop(Duration::from_secs(3600)) {
                PopOutcome::Frame { payload, ext_seq, .. } => {
                    prop_assert!(played < n);
                    prop_assert_eq!(payload, &s.payloads[played][..], "bit-exact, in order");
                    if let Some(l) = last_seq { prop_assert_eq!(ext_seq, l + 1); }
                    last_seq = Some(ext_seq);
                    played += 1;
                }
                PopOutcome::Empty => break,
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(played, n);
        prop_assert_eq!(dups, s.injected_duplicates);
        let st = b.stats();
        prop_assert_eq!((st.duplicate, st.late, st.lost, st.played), (dups as u64, 0, 0, n as u64));
    }

    #[test]
    fn interleaved_playout_accounts_for_every_copy(
        seed in any::<u64>(), n in 2usize..300, displace in 0u64..40, dup in 0.0f64..0.3,
        pop_rate in 0.0f64..1.5,
    ) {
        let s = stream(seed, n, displace, dup);
        let mut rng = TestRng::new(seed ^ 0x5eed);
        let mut b = buffer();
        let mut outcomes: HashMap<usize, Vec<InsertOutcome>> = HashMap::new();
        let mut frames: Vec<(u64, Vec<u8>)> = Vec::new();
        let pop = |b: &mut JitterBuffer, frames: &mut Vec<(u64, Vec<u8>)>| match b.pop(Duration::ZERO) {
            PopOutcome::Frame { ext_seq, payload, .. } => {
                frames.push((ext_seq, payload.to_vec()));
                true
            }
            PopOutcome::Lost { .. } | PopOutcome::Silence { .. } => true,
            PopOutcome::Empty => false,
        };
        for (at, i) in s.arrivals.iter().enumerate() {
            let o = insert(&mut b, &s, *i, at);
            outcomes.entry(*i).or_default().push(o);
            let mut k = pop_rate;
            while k > 0.0 && rng.unit() < k {
                pop(&mut b, &mut frames);
                k -= 1.0;
            }
        }
        while pop(&mut b, &mut frames) {}
        // Frames strictly in order, each exactly the payload that was sent.
        prop_assert!(frames.windows(2).all(|w| w[0].0 < w[1].0));
        let base = frames.first().map_or(0, |f| f.0);
        for (ext, payload) in &frames {
            let idx = usize::try_from(ext - base).unwrap_or(usize::MAX);
            prop_assert!(idx < n);
            prop_assert_eq!(payload, &s.payloads[idx]);
        }
        // Per packet: first copy queued and the rest duplicates, or every copy late.
        let mut queued = 0u64;
        let mut dups = 0u64;
        let mut late = 0u64;
        for os in outcomes.values() {
            match os[0] {
                InsertOutcome::Queued { .. } => {
                    queued += 1;
                    prop_assert!(os[1..].iter().all(|o| *o == InsertOutcome::Duplicate), "{:?}", os);
                    dups += os.len() as u64 - 1;
                }
                InsertOutcome::Late => {
                    prop_assert!(os.iter().all(|o| *o == InsertOutcome::Late), "{:?}", os);
                    late += os.len() as u64;
                }
                other => prop_assert!(false, "unexpected first outcome {:?}", other),
            }
        }
        let st = b.stats();
        prop_assert_eq!(st.played, queued, "everything queued plays");
        prop_assert_eq!(frames.len() as u64, queued);
        prop_assert_eq!((st.duplicate, st.late), (dups, late));
        prop_assert_eq!(st.played + st.lost, n as u64, "each packet is played or lost, once");
        prop_assert_eq!(st.received, s.arrivals.len() as u64);
    }
}
