//! Hostile traffic at the live player's port. While `jitterplay play rtp://… --target-min 1s
//! --target-max 2s` plays 12 s of 48 kHz stereo L16 noise in 5 ms packets
//! (`net_support::stream_sender`), other sockets flood the same port from 0.5 s on for 10 s at
//! 20,000 datagrams/s: random bytes, RTP of another SSRC, RTP with the stream's own SSRC and
//! sequence numbers, 65,507-byte datagrams (one in five, about 260 MB/s: more than the socket's
//! buffer holds between two batched reads), and headers with absurd CSRC counts, extension
//! lengths and padding. The stream's own socket adds garbage too, below the
//! rate cap, so that some of it passes the network task and reaches the receive core.
//!
//! The stream stays bit-exact (every packet found once in the output), the player's peak RSS stays
//! within 2 MiB of an unflooded run of the same stream, and every datagram is counted exactly once:
//! received = accepted + each network drop reason, accepted = what the core counted, and the
//! datagrams of the flood equal the sum of the drop counters.

mod common;
mod net_support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;
use jitterplay::rtp::header::RtpHeader;
use net_support::stream_sender::*;
use net_support::*;
use serde_json::Value;

/// The stream's packet time.
const PTIME: Duration = Duration::from_millis(5);
/// The stream's length.
const STREAM: Duration = Duration::from_secs(12);
/// When the flood starts, after the player has locked on the stream's sender.
const FLOOD_FROM: Duration = Duration::from_millis(500);
/// How long it lasts.
const FLOOD_FOR: Duration = Duration::from_secs(10);
/// The flood's least average rate, all kinds together.
const FLOOD_MIN_RATE: f64 = 20_000.0;
/// How much more the flooded player may hold at its peak than the unflooded one.
const RSS_MARGIN_KIB: u64 = 2_048;
/// The stream's SSRC, first sequence number and timestamp.
const SSRC: u32 = 0x5EED_F10D;
const SEQ: u16 = 61_000;
const TS: u32 = 3_000_000_000;
/// Largest UDP payload over IPv4.
const MAX_UDP: usize = 65_507;

/// A kind of hostile datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Random bytes of random length, from another port.
    Random,
    /// Valid RTP of another SSRC, from another port.
    OtherSsrc,
    /// Valid RTP with the stream's SSRC and its current sequence numbers and timestamps, other
    /// audio, from another port: if it got in, the output would differ or repeat.
    Impostor,
    /// 65,507-byte valid RTP with the stream's SSRC, from another port.
    Huge,
    /// Headers with absurd CSRC counts, extension lengths and padding, from another port.
    AbsurdHeader,
    /// Absurd headers and version-0 bytes from the stream's own socket (reach the core).
    OwnGarbage,
    /// 65,507 bytes of version-0 garbage from the stream's own socket.
    OwnHuge,
    /// Valid RTP of another payload type, the stream's SSRC, from the stream's own socket.
    OwnOtherPt,
}

/// Every kind with its rate (datagrams/s): 20,000/s from other ports, one in five of them
/// 65,507 bytes long, and 420/s from the stream's socket (with the stream's 200/s far below the
/// default rate cap of 10,000/s).
const KINDS: [(Kind, u32); 8] = [
    (Kind::Random, 4_000),
    (Kind::OtherSsrc, 4_000),
    (Kind::Impostor, 4_000),
    (Kind::Huge, 4_000),
    (Kind::AbsurdHeader, 4_000),
    (Kind::OwnGarbage, 300),
    (Kind::OwnHuge, 20),
    (Kind::OwnOtherPt, 100),
];

impl Kind {
    fn is_from_the_stream_socket(self) -> bool {
        matches!(self, Kind::OwnGarbage | Kind::OwnHuge | Kind::OwnOtherPt)
    }
}

/// An RTP datagram.
fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0x80, pt];
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&ts.to_be_bytes());
    d.extend_from_slice(&ssrc.to_be_bytes());
    d.extend_from_slice(payload);
    d
}

/// Headers whose lengths lie: none of them is a valid RTP packet.
fn absurd_headers() -> Vec<Vec<u8>> {
    let base = rtp(PT, 1, 2, SSRC, &[0x55; 88]);
    let with = |first: u8, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut d = base.clone();
        d[0] = first;
        edit(&mut d);
        d
    };
    vec![
        // 15 CSRCs (60 bytes) claimed, 12 present.
        with(0x8F, &|d| d.truncate(24)),
        // An extension of 65,535 words.
        with(0x90, &|d| {
            d[12..16].copy_from_slice(&[0xBE, 0xDE, 0xFF, 0xFF])
        }),
        // 255 bytes of padding in a 100-byte packet.
        with(0xA0, &|d| *d.last_mut().expect("bytes") = 255),
        // Padding bit with a padding count of 0.
        with(0xA0, &|d| *d.last_mut().expect("bytes") = 0),
        // Everything at once: padding, extension, 15 CSRCs, 40 bytes.
        with(0xBF, &|d| d.truncate(40)),
        // 15 CSRCs present, then an extension of 16,384 words.
        with(0x9F, &|d| {
            d[72..76].copy_from_slice(&[0x10, 0x00, 0x40, 0x00])
        }),
    ]
}

/// Prebuilt datagrams for each kind (patched per send where sequence numbers matter).
struct Garbage {
    random: Vec<Vec<u8>>,
    absurd: Vec<Vec<u8>>,
    own_garbage: Vec<Vec<u8>>,
    noise: Vec<u8>,
    huge_rtp: Vec<u8>,
    huge_garbage: Vec<u8>,
}

impl Garbage {
    fn new() -> Self {
        let mut rng = Rng::new(0xF100D);
        let random = (0..256)
            .map(|_| {
                let len = 1 + rng.below(1_400) as usize;
                rng.bytes(len)
            })
            .collect();
        let absurd = absurd_headers();
        let mut own_garbage = absurd.clone();
        for _ in 0..10 {
            let len = 1 + rng.below(1_400) as usize;
            let mut bytes = rng.bytes(len);
            bytes[0] &= 0x3F; // RTP version 0
            own_garbage.push(bytes);
        }
        let mut huge_garbage = rng.bytes(MAX_UDP);
        huge_garbage[0] &= 0x3F;
        Garbage {
            random,
            absurd,
            own_garbage,
            noise: rng.bytes(960),
            huge_rtp: rtp(PT, 0, 0, SSRC, &rng.bytes(MAX_UDP - HEADER)),
            huge_garbage,
        }
    }

    /// The `n`-th datagram of `kind`, `since` after the stream started.
    fn datagram(&mut self, kind: Kind, n: u64, since: Duration) -> Vec<u8> {
        let n_usize = n as usize;
        // The stream's packet being sent about now, and a few ahead of it.
        let at = (since.as_nanos() / PTIME.as_nanos()) as u64 + n % 8;
        let seq = SEQ.wrapping_add(at as u16);
        let ts = TS.wrapping_add((at * 240) as u32);
        match kind {
            Kind::Random => self.random[n_usize % self.random.len()].clone(),
            Kind::OtherSsrc => rtp(PT, n as u16, (n * 240) as u32, 0x0BAD_55C0, &self.noise),
            Kind::Impostor => rtp(PT, seq, ts, SSRC, &self.noise),
            Kind::Huge => {
                self.huge_rtp[2..4].copy_from_slice(&seq.to_be_bytes());
                self.huge_rtp[4..8].copy_from_slice(&ts.to_be_bytes());
                self.huge_rtp.clone()
            }
            Kind::AbsurdHeader => self.absurd[n_usize % self.absurd.len()].clone(),
            Kind::OwnGarbage => self.own_garbage[n_usize % self.own_garbage.len()].clone(),
            Kind::OwnHuge => self.huge_garbage.clone(),
            // PCMU, far away from the stream's sequence numbers.
            Kind::OwnOtherPt => rtp(
                0,
                SEQ.wrapping_add(30_000 + n as u16),
                n as u32,
                SSRC,
                &[0xFF; 160],
            ),
        }
    }
}

/// What the flood sent.
#[derive(Debug, Clone)]
struct FloodLog {
    /// Datagrams sent, per entry of [`KINDS`].
    sent: Vec<u64>,
    /// Sends that failed (not sent), per entry of [`KINDS`].
    failed: Vec<u64>,
    /// From the first datagram to the last.
    elapsed: Duration,
}

impl FloodLog {
    fn total(&self) -> u64 {
        self.sent.iter().sum()
    }

    /// Datagrams sent of the kinds `which` selects.
    fn of(&self, which: impl Fn(Kind) -> bool) -> u64 {
        KINDS
            .iter()
            .zip(&self.sent)
            .filter(|((k, _), _)| which(*k))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Floods `port` from `FLOOD_FROM` to `FLOOD_FROM + FLOOD_FOR` after `stream_start`: each kind
/// at its rate from its own socket, the stream's kinds from `own` (the stream's socket).
fn flood(port: u16, own: UdpSocket, stream_start: Instant) -> FloodLog {
    let mut garbage = Garbage::new();
    let sockets: Vec<UdpSocket> = KINDS
        .iter()
        .map(|(kind, _)| {
            if kind.is_from_the_stream_socket() {
                own.try_clone().expect("clone the stream's socket")
            } else {
                let s = UdpSocket::bind("127.0.0.1:0").expect("bind a flood socket");
                s.connect(("127.0.0.1", port)).expect("connect");
                s
            }
        })
        .collect();
    let begin = stream_start + FLOOD_FROM;
    std::thread::sleep(begin.saturating_duration_since(Instant::now()));
    let t0 = Instant::now();
    let mut attempts = vec![0u64; KINDS.len()];
    let mut sent = vec![0u64; KINDS.len()];
    let mut failed = vec![0u64; KINDS.len()];
    loop {
        let elapsed = t0.elapsed();
        if elapsed >= FLOOD_FOR {
            break;
        }
        let since = stream_start.elapsed();
        for (k, &(kind, rate)) in KINDS.iter().enumerate() {
            // Every datagram due by now (a late wake-up sends the backlog at once).
            let due = (elapsed.as_secs_f64() * f64::from(rate)) as u64;
            while attempts[k] < due {
                let datagram = garbage.datagram(kind, attempts[k], since);
                attempts[k] += 1;
                match sockets[k].send(&datagram) {
                    Ok(n) if n == datagram.len() => sent[k] += 1,
                    _ => failed[k] += 1,
                }
            }
        }
        // Pacing, not synchronisation.
        std::thread::sleep(Duration::from_micros(200));
    }
    FloodLog {
        sent,
        failed,
        elapsed: t0.elapsed(),
    }
}

/// One run of the stream, flooded or not.
struct Run {
    plan: Plan,
    found: Found,
    stats: Value,
    max_rss_kib: u64,
    flood: Option<FloodLog>,
}

fn run(name: &str, flooded: bool) -> Run {
    let dir = scratch(name);
    let port = free_port();
    let stats_path = dir.join("stats.jsonl");
    let player = PlayerArgs::rtp(port)
        .format("l16/48000/2")
        .target("1s", "2s")
        .idle_timeout("2s")
        .stats_json(&stats_path)
        .spawn(&dir);
    wait_until_bound(port);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    socket.connect(("127.0.0.1", port)).expect("connect");
    let plan = PlanBuilder::new(7, SSRC, SEQ, TS)
        .packets(PTIME, STREAM)
        .build();
    let start = Instant::now();
    let flooder = flooded.then(|| {
        let own = socket.try_clone().expect("clone the stream's socket");
        std::thread::spawn(move || flood(port, own, start))
    });
    send_plan(&socket, &plan, start);
    let flood = flooder.map(|f| f.join().expect("flood thread"));
    let wav = player.wav.clone();
    let (played, max_rss_kib) = player.wait_with_max_rss(Duration::from_secs(60));
    played.assert_success();
    let stats = final_stats(&std::fs::read_to_string(&stats_path).expect("stats file"));
    let (out, rate, channels) = read_wav(&wav);
    assert_eq!(
        (rate, usize::from(channels)),
        (RATE, CHANNELS),
        "output format"
    );
    let found = find_packets(&plan, &out);
    Run {
        plan,
        found,
        stats,
        max_rss_kib,
        flood,
    }
}

/// The counters of a final stats line that the accounting uses.
struct Ledger<'a>(&'a Value);

impl Ledger<'_> {
    fn n(&self, pointer: &str) -> u64 {
        stat(self.0, pointer) as u64
    }

    fn sum(&self, pointers: &[&str]) -> u64 {
        pointers.iter().map(|p| self.n(p)).sum()
    }
}

/// Datagrams the network task read and did not queue, by reason.
const NET_DROPS: [&str; 4] = [
    "/net/foreign",
    "/net/oversize",
    "/net/rate_limited",
    "/net/queue_full",
];
/// Queued datagrams the receive core kept from the jitter buffer, by reason.
const CORE_DROPS: [&str; 4] = [
    "/metrics/malformed",
    "/metrics/unexpected_pt",
    "/receiver/comfort_noise",
    "/receiver/telephone_events",
];
/// Packets the jitter buffer took in but did not play, by reason.
const BUFFER_DROPS: [&str; 7] = [
    "/metrics/too_large",
    "/metrics/stray",
    "/metrics/foreign_ssrc",
    "/metrics/late",
    "/metrics/duplicate",
    "/metrics/overflow",
    "/metrics/discarded",
];

/// Failed checks, collected so that one run reports every property it broke.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    /// Records `what` unless `ok`.
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

/// Checks that every datagram sent is counted once: the kernel's drops plus what the socket
/// read; what it read is what it queued plus each drop reason; what it queued is what the core
/// counted; and every datagram that did not play (the flood, and any stream packet lost) is
/// counted as a drop.
fn check_ledger(name: &str, run: &Run, failures: &mut Failures) {
    let l = Ledger(&run.stats);
    let stream = run.plan.packets.len() as u64;
    let flood = run.flood.as_ref().map_or(0, FloodLog::total);
    let datagrams = l.n("/net/datagrams");
    let accepted = l.n("/net/accepted");
    let kernel = l.n("/net/kernel_drops");
    let played = l.n("/metrics/played");
    let net_drops = l.sum(&NET_DROPS);
    let core_drops = l.sum(&CORE_DROPS);
    let buffer_drops = l.sum(&BUFFER_DROPS);
    let drops = kernel + net_drops + core_drops + buffer_drops;
    eprintln!(
        "{name} ledger: sent {} (stream {stream} + flood {flood}) = kernel drops {kernel} + read \
         {datagrams}; read = accepted {accepted} + foreign {} + oversize {} + rate-limited {} + \
         queue-full {}; accepted = buffered {} + malformed {} + unexpected PT {} + comfort noise \
         {} + events {}; buffered = played {played} + too large {} + stray {} + foreign SSRC {} + \
         late {} + duplicate {} + overflow {} + discarded {}",
        stream + flood,
        l.n("/net/foreign"),
        l.n("/net/oversize"),
        l.n("/net/rate_limited"),
        l.n("/net/queue_full"),
        l.n("/metrics/received"),
        l.n("/metrics/malformed"),
        l.n("/metrics/unexpected_pt"),
        l.n("/receiver/comfort_noise"),
        l.n("/receiver/telephone_events"),
        l.n("/metrics/too_large"),
        l.n("/metrics/stray"),
        l.n("/metrics/foreign_ssrc"),
        l.n("/metrics/late"),
        l.n("/metrics/duplicate"),
        l.n("/metrics/overflow"),
        l.n("/metrics/discarded"),
    );
    failures.check(datagrams == accepted + net_drops, || {
        format!(
            "{name}: {datagrams} datagrams read ≠ {accepted} accepted + {net_drops} network drops"
        )
    });
    let buffered = l.n("/metrics/received");
    failures.check(accepted == buffered + core_drops, || {
        format!(
            "{name}: {accepted} datagrams queued for the core ≠ {buffered} buffered + {core_drops} \
             core drops"
        )
    });
    failures.check(stream + flood == datagrams + kernel, || {
        format!(
            "{name}: {} datagrams sent ≠ {datagrams} read + {kernel} kernel drops",
            stream + flood
        )
    });
    // The flood, and any stream packet that did not play, are each counted as one drop.
    failures.check(flood + (stream - played.min(stream)) == drops, || {
        format!(
            "{name}: {flood} flood datagrams sent and {} stream packets not played, {drops} \
             counted as dropped (kernel {kernel}, network {net_drops}, core {core_drops}, buffer \
             {buffer_drops})",
            stream - played.min(stream)
        )
    });
}

#[test]
fn the_garbage_is_garbage() {
    // The flood's kinds are what their names say, by the player's own parser.
    let mut g = Garbage::new();
    for kind in [Kind::AbsurdHeader, Kind::OwnGarbage, Kind::OwnHuge] {
        for n in 0..16 {
            let d = g.datagram(kind, n, Duration::ZERO);
            assert!(RtpHeader::parse(&d).is_err(), "{kind:?} {n} parses: {d:?}");
        }
    }
    for kind in [
        Kind::OtherSsrc,
        Kind::Impostor,
        Kind::Huge,
        Kind::OwnOtherPt,
    ] {
        let d = g.datagram(kind, 3, Duration::from_secs(1));
        let h = RtpHeader::parse(&d).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(h.ssrc == SSRC, kind != Kind::OtherSsrc, "{kind:?}");
        assert_eq!(h.payload_type == PT, kind != Kind::OwnOtherPt, "{kind:?}");
    }
    assert_eq!(g.datagram(Kind::Huge, 0, Duration::ZERO).len(), MAX_UDP);
    assert_eq!(g.datagram(Kind::OwnHuge, 0, Duration::ZERO).len(), MAX_UDP);
    // The impostor carries the sequence number the stream sends at that moment.
    let d = g.datagram(Kind::Impostor, 0, Duration::from_secs(1));
    let h = RtpHeader::parse(&d).expect("impostor parses");
    assert_eq!(
        (h.sequence, h.timestamp),
        (SEQ.wrapping_add(200), TS.wrapping_add(200 * 240))
    );
}

#[test]
fn a_flood_at_the_players_port_leaves_the_stream_bit_exact_and_is_counted() {
    // One after the other: the unflooded run is the memory baseline, and the two must not share
    // the machine.
    let quiet = run("flood_baseline", false);
    let flooded = run("flood", true);
    let flood = flooded.flood.as_ref().expect("flood log");
    let rate = flood.total() as f64 / flood.elapsed.as_secs_f64();
    for (name, r) in [("unflooded", &quiet), ("flooded", &flooded)] {
        eprintln!(
            "{name}: {}/{} packets bit-exact, {} found twice, {} out of order; peak RSS {} KiB; \
             net {}; metrics {}; receiver {}",
            r.found.found(),
            r.plan.packets.len(),
            r.found.repeated(),
            r.found.out_of_order(),
            r.max_rss_kib,
            r.stats["net"],
            r.stats["metrics"],
            r.stats["receiver"]
        );
    }
    eprintln!(
        "flood: {} datagrams in {:.2} s ({rate:.0}/s; {} from other ports, {} from the stream's \
         socket); per kind {:?}; failed sends {:?}; peak RSS {} KiB vs {} KiB unflooded ({:+} KiB)",
        flood.total(),
        flood.elapsed.as_secs_f64(),
        flood.of(|k| !k.is_from_the_stream_socket()),
        flood.of(Kind::is_from_the_stream_socket),
        KINDS
            .iter()
            .zip(&flood.sent)
            .map(|((k, _), n)| (k, n))
            .collect::<Vec<_>>(),
        flood.failed,
        flooded.max_rss_kib,
        quiet.max_rss_kib,
        flooded.max_rss_kib as i64 - quiet.max_rss_kib as i64
    );
    assert!(
        flood.elapsed >= FLOOD_FOR - Duration::from_secs(1) && rate >= FLOOD_MIN_RATE,
        "the flood was too weak to test anything: {rate:.0}/s for {:?}",
        flood.elapsed
    );
    let mut failures = Failures::default();
    for (name, r) in [("unflooded", &quiet), ("flooded", &flooded)] {
        let n = r.plan.packets.len();
        failures.check(
            (r.found.found(), r.found.repeated(), r.found.out_of_order()) == (n, 0, 0),
            || {
                format!(
                    "{name}: {} of {n} stream packets bit-exact in the output, {} twice, {} out of \
                     order; missing {:?} (kernel drops {})",
                    r.found.found(),
                    r.found.repeated(),
                    r.found.out_of_order(),
                    r.found.missing(20),
                    stat(&r.stats, "/net/kernel_drops")
                )
            },
        );
        check_ledger(name, r, &mut failures);
    }
    // Each kind is counted where it belongs (the kernel may have taken some of any kind).
    let l = Ledger(&flooded.stats);
    let kernel = l.n("/net/kernel_drops");
    for (what, counted, sent) in [
        (
            "foreign (other ports)",
            l.n("/net/foreign"),
            flood.of(|k| !k.is_from_the_stream_socket()),
        ),
        (
            "malformed (the stream's socket)",
            l.n("/metrics/malformed"),
            flood.of(|k| matches!(k, Kind::OwnGarbage | Kind::OwnHuge)),
        ),
        (
            "unexpected PT (the stream's socket)",
            l.n("/metrics/unexpected_pt"),
            flood.of(|k| k == Kind::OwnOtherPt),
        ),
    ] {
        failures.check(counted <= sent && sent - counted <= kernel, || {
            format!("{what}: {sent} sent, {counted} counted, {kernel} kernel drops")
        });
    }
    failures.check(
        flooded.max_rss_kib <= quiet.max_rss_kib + RSS_MARGIN_KIB,
        || {
            format!(
                "the flood raised the player's peak RSS from {} KiB to {} KiB (more than {} KiB)",
                quiet.max_rss_kib, flooded.max_rss_kib, RSS_MARGIN_KIB
            )
        },
    );
    assert!(failures.0.is_empty(), "{}", failures.0.join("\n"));
}
