//! SRTP's per-packet work allocates nothing in steady state: `SrtpReceiver::unprotect` of
//! SRTP and SRTCP (authenticated, refused as replays or forgeries), and `protect_rtcp` of the
//! reports we send.
//!
//! This binary installs `AllocDisabler`: an allocation inside `assert_no_alloc` aborts the
//! process. libsrtp allocates once per new SSRC (a stream cloned from the template), which
//! the warm-up does outside.

use std::sync::Arc;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};

use jitterplay::rtcp::wire::looks_like_rtcp;
use jitterplay::srtp::{
    Direction, SrtpKeying, SrtpReceiver, SrtpSession, SrtpStats, Suite, MAX_TRAILER,
};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0xd5, 160));
    p
}

fn protected(tx: &mut SrtpSession, packet: Vec<u8>, rtcp: bool) -> Vec<u8> {
    let len = packet.len();
    let mut buf = packet;
    buf.resize(len + MAX_TRAILER, 0);
    let n = if rtcp {
        tx.protect_rtcp(&mut buf, len)
    } else {
        tx.protect_rtp(&mut buf, len)
    }
    .unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn decrypting_refusing_and_encrypting_reports_allocate_nothing() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AeadAes128Gcm] {
        let keying = SrtpKeying::single(suite, vec![7; suite.keying_len()]);
        let stats = Arc::new(SrtpStats::default());
        let mut rx = SrtpReceiver::new(&keying, Arc::clone(&stats)).unwrap();
        let mut tx = SrtpSession::new(&keying, Direction::Outbound).unwrap();
        let mut rr = vec![0x80, 201, 0, 1];
        rr.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
        // Prepared outside: the packets as they would arrive, each with room for the work.
        let mut arrivals: Vec<Vec<u8>> = (0..400u16)
            .map(|seq| protected(&mut tx, rtp(seq), false))
            .collect();
        arrivals.push(protected(&mut tx, rr.clone(), true));
        let mut replays = arrivals[300..310].to_vec();
        // Tampered packets of sequence numbers not yet seen (a replay check comes first).
        let mut forged: Vec<Vec<u8>> = (500..505u16)
            .map(|seq| protected(&mut tx, rtp(seq), false))
            .collect();
        for f in &mut forged {
            let last = f.len() - 1;
            f[last] ^= 0xff;
        }
        // Forgeries under SSRCs never seen: libsrtp checks them against its template and must
        // not set up a context for them.
        let mut strangers: Vec<Vec<u8>> = (0..5u32)
            .map(|i| {
                let mut p = forged[0].clone();
                p[8..12].copy_from_slice(&(0x5000_0000 + i).to_be_bytes());
                p
            })
            .collect();
        for a in arrivals
            .iter_mut()
            .chain(&mut replays)
            .chain(&mut forged)
            .chain(&mut strangers)
        {
            a.reserve(MAX_TRAILER);
        }
        let (warm, steady) = arrivals.split_at_mut(10);
        for a in warm {
            assert!(rx.unprotect(a, false));
        }
        let mut report = rr.clone();
        report.reserve(MAX_TRAILER);
        assert!(rx.protect_rtcp(&report).is_some());
        assert_no_alloc(|| {
            for a in steady.iter_mut() {
                let is_rtcp = looks_like_rtcp(a);
                assert!(rx.unprotect(a, is_rtcp));
            }
            for r in replays.iter_mut().chain(&mut forged).chain(&mut strangers) {
                assert!(!rx.unprotect(r, false));
            }
            for _ in 0..10 {
                assert!(rx.protect_rtcp(&report).is_some());
            }
        });
        let s = stats.snapshot();
        assert_eq!(
            (s.srtp_decrypted, s.srtp_replayed, s.srtp_auth_failed),
            (401, 10, 10),
            "{suite}"
        );
    }
}
