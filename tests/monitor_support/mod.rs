//! Many seeded RTP streams sent from one thread on a schedule, and the figures a monitor must
//! find for each, computed from the schedule itself (what was sent, in which order).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Packets per stream (20 ms each: 8 s).
pub const PACKETS: u32 = 400;
/// Packet time.
pub const PTIME: Duration = Duration::from_millis(20);

/// What a stream suffers on the way (by `kind`, seeded by its number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impairment {
    /// Nothing.
    Clean,
    /// Every `n`th packet lost.
    Periodic(u32),
    /// A burst of `n` lost every 40 packets.
    Bursts(u32),
    /// Every 25th packet sent twice.
    Duplicates,
    /// Every 30th packet sent after the next one.
    Reordered,
    /// Random delay of up to `n` ms and 2 % random loss.
    Jitter(u32),
    /// Digital silence from packet 100 to 350.
    Silence,
    /// Packets 200..210 held 1.5 s.
    Spike,
    /// Random loss, duplicates and swaps together.
    Mixed,
    /// Clean, with RTCP: a sender report and a receiver report saying 25 % lost, round trip 100 ms.
    Rtcp,
}

/// One planned stream.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Its number.
    pub index: usize,
    /// Where it goes.
    pub port: u16,
    /// Its SSRC.
    pub ssrc: u32,
    /// What it suffers.
    pub impairment: Impairment,
    /// (send offset, sequence index) in send order.
    pub sends: Vec<(Duration, u32)>,
}

/// What a monitor must find for a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Packets sent (duplicates included).
    pub packets: u64,
    /// The sequence range's length.
    pub expected: u64,
    /// Distinct numbers never sent within the range.
    pub lost: u64,
    /// Packets sent twice.
    pub duplicated: u64,
    /// Packets sent after a higher number.
    pub out_of_order: u64,
    /// Runs of lost numbers by length.
    pub bursts: BTreeMap<u64, u64>,
}

/// The impairment of stream `index`.
pub fn impairment(index: usize) -> Impairment {
    let step = (index / 10) as u32;
    match index % 10 {
        0 => Impairment::Clean,
        1 => Impairment::Periodic(5 + step % 15),
        2 => Impairment::Bursts(1 + step % 8),
        3 => Impairment::Duplicates,
        4 => Impairment::Reordered,
        5 => Impairment::Jitter(5 + (step % 8) * 5),
        6 => Impairment::Silence,
        7 => Impairment::Spike,
        8 => Impairment::Mixed,
        _ => Impairment::Rtcp,
    }
}

/// Plans stream `index` to `port`.
pub fn plan(index: usize, port: u16) -> Planned {
    let impairment = impairment(index);
    let mut rng = ChaCha8Rng::seed_from_u64(index as u64 * 7919 + 1);
    let mut sends = Vec::new();
    let at = |n: u32| PTIME * n;
    for n in 0..PACKETS {
        // The first and last packets always arrive, so the range is the whole stream.
        let edge = n == 0 || n + 1 == PACKETS;
        match impairment {
            Impairment::Periodic(p) if !edge && n % p == p - 1 => {}
            Impairment::Bursts(len) if !edge && n % 40 >= 20 && n % 40 < 20 + len => {}
            Impairment::Duplicates if n % 25 == 12 => {
                sends.push((at(n), n));
                sends.push((at(n) + Duration::from_millis(1), n));
            }
            Impairment::Reordered if !edge && n % 30 == 15 => {
                sends.push((at(n + 1) + Duration::from_millis(1), n))
            }
            Impairment::Jitter(max) => {
                if edge || rng.random::<f64>() >= 0.02 {
                    let d = Duration::from_micros(rng.random_range(0..u64::from(max) * 1000));
                    sends.push((at(n) + d, n));
                }
            }
            Impairment::Spike if (200..210).contains(&n) => {
                sends.push((at(n) + Duration::from_millis(1500), n))
            }
            Impairment::Mixed if !edge => {
                let r = rng.random::<f64>();
                if r < 0.05 {
                } else if r < 0.08 {
                    sends.push((at(n), n));
                    sends.push((at(n) + Duration::from_millis(2), n));
                } else if r < 0.11 {
                    sends.push((at(n) + Duration::from_millis(25), n));
                } else {
                    sends.push((at(n), n));
                }
            }
            _ => sends.push((at(n), n)),
        }
    }
    sends.sort_by_key(|(t, _)| *t);
    Planned {
        index,
        port,
        ssrc: 0x5EED_0000 + index as u32,
        impairment,
        sends,
    }
}

/// The figures the schedule implies.
pub fn expected(p: &Planned) -> Expected {
    let mut seen = HashSet::new();
    let mut highest: Option<u32> = None;
    let (mut duplicated, mut out_of_order) = (0, 0);
    for &(_, n) in &p.sends {
        if !seen.insert(n) {
            duplicated += 1;
        } else if highest.is_some_and(|h| n < h) {
            out_of_order += 1;
        }
        highest = Some(highest.map_or(n, |h| h.max(n)));
    }
    let (low, high) = (*seen.iter().min().unwrap(), *seen.iter().max().unwrap());
    let mut bursts = BTreeMap::new();
    let mut run = 0;
    for n in low..=high {
        if seen.contains(&n) {
            if run > 0 {
                *bursts.entry(run).or_default() += 1;
            }
            run = 0;
        } else {
            run += 1;
        }
    }
    Expected {
        packets: p.sends.len() as u64,
        expected: u64::from(high - low + 1),
        lost: u64::from(high - low + 1) - seen.len() as u64,
        duplicated,
        out_of_order,
        bursts,
    }
}

/// A µ-law packet of a 440 Hz tone at −12 dBFS (or digital silence).
fn payload(n: u32, silent: bool) -> Vec<u8> {
    (0..160)
        .map(|i| {
            if silent {
                return 0xFF;
            }
            let t = f64::from(n * 160 + i) / 8000.0;
            let s = 0.25 * (2.0 * std::f64::consts::PI * 440.0 * t).sin();
            jitterplay::audio::g711::linear_to_ulaw((s * 32767.0) as i16)
        })
        .collect()
}

fn rtp(p: &Planned, n: u32) -> Vec<u8> {
    let seq = (n + p.index as u32 * 1000) as u16;
    let ts = n.wrapping_mul(160).wrapping_add(p.ssrc);
    let mut b = vec![0x80, 0];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(&p.ssrc.to_be_bytes());
    let silent = p.impairment == Impairment::Silence && (100..350).contains(&n);
    b.extend(payload(n, silent));
    b
}

/// A sender report from `ssrc` with NTP time `ntp` (middle 32 bits: `ntp >> 16`).
fn sender_report(ssrc: u32, ntp: u64) -> Vec<u8> {
    let mut b = vec![0x80, 200, 0, 6];
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(&ntp.to_be_bytes());
    b.extend_from_slice(&[0; 12]);
    b
}

/// A receiver report about `ssrc`: 25 % lost, answering the report with middle bits `lsr`
/// after holding it `dlsr` (1/65536 s).
fn receiver_report(ssrc: u32, lsr: u32, dlsr: u32) -> Vec<u8> {
    let mut b = vec![0x81, 201, 0, 7];
    b.extend_from_slice(&0xFA2_0000u32.to_be_bytes());
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(&[64, 0, 0, 3]);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&lsr.to_be_bytes());
    b.extend_from_slice(&dlsr.to_be_bytes());
    b
}

/// Sends every planned stream to 127.0.0.1 on its schedule from one socket, streams starting
/// `stagger` apart; the RTCP streams send an SR at 1 s and the RR 0.6 s later (held 0.5 s by
/// the far end: a round trip of 100 ms).
pub fn send_all(plans: &[Planned], stagger: Duration) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    let mut events: Vec<(Duration, Vec<u8>, u16)> = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let start = stagger * i as u32;
        for &(at, n) in &p.sends {
            events.push((start + at, rtp(p, n), p.port));
        }
        if p.impairment == Impairment::Rtcp {
            let ntp = 0x0000_1234_5678_0000u64 + i as u64;
            let middle = (ntp >> 16) as u32;
            events.push((
                start + Duration::from_secs(1),
                sender_report(p.ssrc, ntp),
                p.port + 1,
            ));
            events.push((
                start + Duration::from_millis(1600),
                receiver_report(p.ssrc, middle, 0x8000),
                p.port + 1,
            ));
        }
    }
    events.sort_by_key(|(t, ..)| *t);
    let origin = Instant::now();
    for (at, bytes, port) in events {
        if let Some(wait) = at.checked_sub(origin.elapsed()) {
            std::thread::sleep(wait);
        }
        socket
            .send_to(&bytes, ("127.0.0.1", port))
            .expect("send to the monitor");
    }
}

/// `count` free even ports with their odd neighbours, consecutive from the returned one.
pub fn free_range(count: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering::Relaxed};
    // Tests of one binary run at once: each call starts from another block.
    static CALLS: AtomicU16 = AtomicU16::new(0);
    let span = count * 2;
    let seed = u16::try_from(std::process::id() % 40).unwrap_or(0) + CALLS.fetch_add(7, Relaxed);
    for attempt in 0..40u16 {
        let base = 36_000 + ((seed + attempt) % 40) * 700;
        let held: Vec<UdpSocket> = (base..base + span)
            .map_while(|p| UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(span) {
            return base;
        }
    }
    panic!("no {span} consecutive free UDP ports");
}
