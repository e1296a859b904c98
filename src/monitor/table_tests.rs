//! The monitor gives the same reports whichever way its per-stream work runs: after each
//! datagram, queued and run stream by stream, or on a lent slab (as the capture reader's
//! measuring thread runs it).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::rtcp::ntp::NtpTime;
use crate::rtcp::wire::{Outgoing, ReceptionBlock, SenderInfo};

fn addr(host: u8, port: u16) -> Option<SocketAddr> {
    Some(SocketAddr::from((Ipv4Addr::new(10, 0, 0, host), port)))
}

/// One datagram of the schedule.
struct Sent {
    at: Duration,
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    data: Vec<u8>,
}

/// 60 streams over 20 s, G.711 20 ms packets with seeded loss, duplicates, reordering and
/// jitter; some stop early (and end idle, their slots reused by streams starting late), some
/// say BYE; sources send SRs and receivers RRs about them.
fn schedule(seed: u64) -> Vec<Sent> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for k in 0..60u16 {
        let ssrc = 0x1000 + u32::from(k);
        let (src, dst) = (addr(1, 4000 + 2 * k), addr(2, 6000 + 2 * k));
        let pt = if k % 3 == 0 { 8 } else { 0 };
        let start_ms = if k >= 50 {
            9_000
        } else {
            rng.random_range(0..500)
        };
        let stop_ms = if k % 7 == 0 { 5_000 } else { 20_000 };
        let loss = rng.random_range(0..8);
        let mut n = 0u16;
        let mut t_ms = start_ms;
        while t_ms < stop_ms {
            let seq = n.wrapping_add(k * 1000);
            let mut data = vec![0x80, pt];
            data.extend(seq.to_be_bytes());
            data.extend((u32::from(n) * 160).to_be_bytes());
            data.extend(ssrc.to_be_bytes());
            data.extend((0..160).map(|_| rng.random::<u8>() | if k % 5 == 0 { 0x70 } else { 0 }));
            let jitter_us = rng.random_range(0..15_000);
            let at = Duration::from_millis(t_ms) + Duration::from_micros(jitter_us);
            if rng.random_range(0..100) >= loss {
                if rng.random_range(0..200) == 0 {
                    out.push(Sent {
                        at,
                        src,
                        dst,
                        data: data.clone(),
                    });
                }
                out.push(Sent { at, src, dst, data });
            }
            if n % 250 == 100 {
                out.push(rtcp(ssrc, src, dst, at, n, k % 11 == 0 && t_ms > 15_000));
                out.push(receiver_report(ssrc, dst, src, at));
            }
            n += 1;
            t_ms += 20;
        }
    }
    // Stable: reordering comes from the jitter, equal times keep the order they were made in.
    out.sort_by_key(|s| s.at);
    out
}

fn rtcp(
    ssrc: u32,
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    at: Duration,
    n: u16,
    bye: bool,
) -> Sent {
    let mut buf = [0u8; 1500];
    let report = Outgoing {
        ssrc,
        sender: Some(SenderInfo {
            ntp: NtpTime::from_unix(at),
            rtp_timestamp: u32::from(n) * 160,
            packets: u32::from(n),
            octets: u32::from(n) * 160,
        }),
        bye: bye.then_some("done"),
        ..Outgoing::default()
    };
    let len = report.write(&mut buf).expect("an SR fits");
    let src = src.map(|a| SocketAddr::new(a.ip(), a.port() + 1));
    let dst = dst.map(|a| SocketAddr::new(a.ip(), a.port() + 1));
    Sent {
        at,
        src,
        dst,
        data: buf[..len].to_vec(),
    }
}

fn receiver_report(
    ssrc: u32,
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    at: Duration,
) -> Sent {
    let mut buf = [0u8; 1500];
    let report = Outgoing {
        ssrc: 0xfeed,
        block: Some(ReceptionBlock {
            ssrc,
            fraction_lost: 12,
            cumulative_lost: 40,
            jitter: 80,
            ..ReceptionBlock::default()
        }),
        ..Outgoing::default()
    };
    let len = report.write(&mut buf).expect("an RR fits");
    let at = at + Duration::from_millis(3);
    Sent {
        at,
        src,
        dst,
        data: buf[..len].to_vec(),
    }
}

fn monitor() -> Monitor {
    let mut cfg = MonitorConfig::new(Duration::from_millis(60), Duration::from_millis(400));
    cfg.idle = Duration::from_secs(3);
    cfg.max_streams = 48;
    Monitor::new(cfg, PayloadBindings::default())
}

/// How the datagrams go in.
#[derive(Clone, Copy)]
enum Way {
    EachDatagram,
    Queued,
}

/// Feeds the schedule, ticking (and, if `reports`, reporting) each second; returns every
/// report as JSON, the final one last.
fn run(sent: &[Sent], way: Way, reports: bool) -> Vec<String> {
    let mut m = monitor();
    let mut out = Vec::new();
    let mut next = Duration::from_secs(1);
    for s in sent {
        while s.at >= next {
            m.tick(next);
            if reports {
                out.push(serde_json::to_string(&m.report(next)).unwrap());
            }
            next += Duration::from_secs(1);
        }
        match way {
            Way::EachDatagram => m.on_datagram(s.at, 0, s.src, s.dst, &s.data),
            Way::Queued => m.queue_datagram(s.at, s.src, s.dst, &s.data),
        }
    }
    let end = sent.last().map_or(Duration::ZERO, |s| s.at);
    m.finish(end);
    out.push(serde_json::to_string(&m.report(end)).unwrap());
    out
}

/// As `run` without reports, but with the slab lent: the queue is handed over (when full, and
/// at seeded points) and run on the lent slab, as the measuring thread does.
fn run_lent(sent: &[Sent], seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = monitor();
    let mut slab = m.lend_streams().expect("not lent yet");
    assert!(m.lend_streams().is_none());
    let mut next = Duration::from_secs(1);
    for s in sent {
        while s.at >= next {
            m.tick(next);
            next += Duration::from_secs(1);
        }
        m.queue_datagram(s.at, s.src, s.dst, &s.data);
        if m.queue_is_full() || rng.random_range(0..3000) == 0 {
            let mut batch = m.swap_queue(Deferred::default());
            slab.run(&mut batch);
        }
    }
    let end = sent.last().map_or(Duration::ZERO, |s| s.at);
    // While lent, a report has the monitor's own counters and no stream.
    let lent = m.report(end);
    assert!(lent.streams.is_empty() && lent.health.datagrams == sent.len() as u64);
    m.return_streams(slab);
    m.finish(end);
    serde_json::to_string(&m.report(end)).unwrap()
}

#[test]
fn queued_and_lent_work_give_the_reports_of_work_done_per_datagram() {
    for seed in [1, 0x5eed, 0xdead_beef] {
        let sent = schedule(seed);
        assert!(sent.len() > 40_000, "the queue must fill at least once");
        let each = run(&sent, Way::EachDatagram, true);
        let queued = run(&sent, Way::Queued, true);
        assert_eq!(each.len(), queued.len());
        for (a, b) in each.iter().zip(&queued) {
            assert_eq!(a, b);
        }
        // The schedule exercised what it is for: untracked streams, slot reuse, ended rows.
        let v: serde_json::Value = serde_json::from_str(each.last().unwrap()).unwrap();
        assert!(
            v["health"]["untracked_streams"].as_u64().unwrap() > 0,
            "{v}"
        );
        assert!(v["health"]["started"].as_u64().unwrap() > 48, "{v}");
        assert!(v["ended"].as_array().unwrap().len() > 40, "{v}");
        let without_reports = run(&sent, Way::EachDatagram, false).pop().unwrap();
        assert_eq!(without_reports, run_lent(&sent, seed));
    }
}
