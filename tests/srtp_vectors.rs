//! SRTP through libsrtp and our bindings, checked against an independent transform built here
//! from RustCrypto primitives, which is itself checked against RFC 3711 appendix B.
//!
//! RFC 3711 B.2 (AES-CM keystream) and B.3 (key derivation) are given for session keys and
//! the bare PRF, which libsrtp does not expose; so the reference transform is proven on them,
//! and every suite's packets from libsrtp are then recomputed bit for bit by the reference
//! (RFC 3711 section 4 for AES-CM with HMAC-SHA1, RFC 7714 section 8 for AES-GCM).

use aes::cipher::{KeyIvInit, StreamCipher};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use hmac::Mac;
use jitterplay::srtp::{
    Direction, MasterKey, Mki, SrtpDrop, SrtpKeying, SrtpSession, Suite, MAX_TRAILER,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// AES in counter mode from a 128-bit initial counter, as SRTP uses it.
fn aes_cm(key: &[u8], iv: &[u8; 16], data: &mut [u8]) {
    match key.len() {
        16 => ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into()).apply_keystream(data),
        32 => ctr::Ctr128BE::<aes::Aes256>::new(key.into(), iv.into()).apply_keystream(data),
        n => panic!("AES key of {n} bytes"),
    }
}

/// RFC 3711 section 4.3.1's PRF with a key derivation rate of 0: `len` bytes for `label`.
fn kdf(master_key: &[u8], master_salt: &[u8], label: u8, len: usize) -> Vec<u8> {
    let mut iv = [0u8; 16];
    iv[..master_salt.len()].copy_from_slice(master_salt);
    // x = key_id XOR master_salt, where key_id = label || index DIV kdr (0) sits at byte 7
    // of the 112-bit salt.
    iv[7] ^= label;
    let mut out = vec![0u8; len];
    aes_cm(master_key, &iv, &mut out);
    out
}

struct SessionKeys {
    cipher: Vec<u8>,
    salt: Vec<u8>,
    auth: Vec<u8>,
}

fn session_keys(suite: Suite, keying: &[u8], rtcp: bool) -> SessionKeys {
    let (master_key, master_salt) = keying.split_at(suite.key_len());
    let base = if rtcp { 3 } else { 0 };
    SessionKeys {
        cipher: kdf(master_key, master_salt, base, suite.key_len()),
        salt: kdf(master_key, master_salt, base + 2, suite.salt_len()),
        auth: kdf(master_key, master_salt, base + 1, 20),
    }
}

/// The reference SRTP packet for an RTP packet with ROC 0.
fn reference_protect(suite: Suite, keying: &[u8], rtp: &[u8]) -> Vec<u8> {
    let keys = session_keys(suite, keying, false);
    let header_len = 12 + 4 * usize::from(rtp[0] & 0x0f);
    let (header, payload) = rtp.split_at(header_len);
    let ssrc = &rtp[8..12];
    let seq = &rtp[2..4];
    match suite {
        Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => {
            // RFC 7714 section 8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt, AAD = header.
            let mut iv = [0u8; 12];
            iv[2..6].copy_from_slice(ssrc);
            iv[10..12].copy_from_slice(seq);
            for (b, s) in iv.iter_mut().zip(&keys.salt) {
                *b ^= s;
            }
            let mut body = payload.to_vec();
            let tag = if suite == Suite::AeadAes128Gcm {
                aes_gcm::Aes128Gcm::new_from_slice(&keys.cipher)
                    .unwrap()
                    .encrypt_in_place_detached((&iv).into(), header, &mut body)
                    .unwrap()
            } else {
                aes_gcm::Aes256Gcm::new_from_slice(&keys.cipher)
                    .unwrap()
                    .encrypt_in_place_detached((&iv).into(), header, &mut body)
                    .unwrap()
            };
            [header, &body, tag.as_slice()].concat()
        }
        _ => {
            // RFC 3711 section 4.1.1: IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16).
            let mut iv = [0u8; 16];
            iv[..14].copy_from_slice(&keys.salt);
            for (i, b) in ssrc.iter().enumerate() {
                iv[4 + i] ^= b;
            }
            iv[12] ^= seq[0];
            iv[13] ^= seq[1];
            let mut body = payload.to_vec();
            aes_cm(&keys.cipher, &iv, &mut body);
            let mut mac = <hmac::Hmac<sha1::Sha1> as Mac>::new_from_slice(&keys.auth).unwrap();
            mac.update(header);
            mac.update(&body);
            mac.update(&0u32.to_be_bytes());
            let tag = mac.finalize().into_bytes();
            [header, &body, &tag[..suite.rtp_tag_len()]].concat()
        }
    }
}

fn rtp_packet(ssrc: u32, seq: u16, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i * 7 + usize::from(seq)) as u8));
    p
}

fn keying_for(suite: Suite, seed: u8) -> SrtpKeying {
    let bytes = (0..suite.keying_len())
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    SrtpKeying::single(suite, bytes)
}

/// A receiver report with one block, from SSRC 42.
fn receiver_report() -> Vec<u8> {
    let mut rr = vec![0x81, 201, 0, 7];
    rr.extend_from_slice(&42u32.to_be_bytes());
    rr.extend((0..24).map(|i| i as u8));
    rr
}

fn protect(session: &mut SrtpSession, rtp: &[u8]) -> Vec<u8> {
    let mut buf = rtp.to_vec();
    buf.resize(rtp.len() + MAX_TRAILER, 0);
    let n = session.protect_rtp(&mut buf, rtp.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(session: &mut SrtpSession, srtp: &[u8]) -> Result<Vec<u8>, SrtpDrop> {
    let mut buf = srtp.to_vec();
    let n = session.unprotect_rtp(&mut buf, srtp.len())?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn the_reference_aes_cm_gives_rfc_3711_b2s_keystream() {
    let key = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"));
    let mut stream = vec![0u8; 48];
    aes_cm(&key, &iv, &mut stream);
    assert_eq!(
        stream,
        hex(
            "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB \
             41E95B3BB0A2E8DD477901E4FCA894C0"
        )
    );
}

#[test]
fn the_reference_kdf_gives_rfc_3711_b3s_session_keys() {
    let master_key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let master_salt = hex("0EC675AD498AFEEBB6960B3AABE6");
    assert_eq!(
        kdf(&master_key, &master_salt, 0, 16),
        hex("C61E7A93744F39EE10734AFE3FF7A087")
    );
    assert_eq!(
        kdf(&master_key, &master_salt, 2, 14),
        hex("30CBBC08863D8C85D49DB34A9AE1")
    );
    assert_eq!(
        kdf(&master_key, &master_salt, 1, 20),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

#[test]
fn libsrtp_with_the_b3_master_key_protects_as_the_reference() {
    let keying = [
        hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
        hex("0EC675AD498AFEEBB6960B3AABE6"),
    ]
    .concat();
    let suite = Suite::AesCm128HmacSha1_80;
    let mut tx = SrtpSession::new(
        &SrtpKeying::single(suite, keying.clone()),
        Direction::Outbound,
    )
    .unwrap();
    let rtp = rtp_packet(0xdead_beef, 4711, 160);
    assert_eq!(
        protect(&mut tx, &rtp),
        reference_protect(suite, &keying, &rtp)
    );
}

#[test]
fn every_suite_protects_as_the_reference_and_round_trips() {
    for suite in Suite::ALL {
        let keying = keying_for(suite, 9);
        let mut tx = SrtpSession::new(&keying, Direction::Outbound).unwrap();
        let mut rx = SrtpSession::new(&keying, Direction::Inbound).unwrap();
        for seq in [1u16, 2, 3, 500] {
            let rtp = rtp_packet(0x1234_5678, seq, 160);
            let srtp = protect(&mut tx, &rtp);
            assert_eq!(
                srtp,
                reference_protect(suite, keying.keys[0].keying(), &rtp),
                "{suite} seq {seq}"
            );
            assert_eq!(srtp.len(), rtp.len() + suite.rtp_tag_len(), "{suite}");
            assert_eq!(unprotect(&mut rx, &srtp).unwrap(), rtp, "{suite}");
        }
    }
}

#[test]
fn tampering_a_wrong_key_and_a_truncated_tag_fail_authentication() {
    for suite in Suite::ALL {
        let mut tx = SrtpSession::new(&keying_for(suite, 1), Direction::Outbound).unwrap();
        let mut rx = SrtpSession::new(&keying_for(suite, 1), Direction::Inbound).unwrap();
        let mut wrong = SrtpSession::new(&keying_for(suite, 2), Direction::Inbound).unwrap();
        let srtp = protect(&mut tx, &rtp_packet(7, 10, 160));
        let mut flipped = srtp.clone();
        flipped[40] ^= 1;
        assert_eq!(
            unprotect(&mut rx, &flipped),
            Err(SrtpDrop::AuthFailed),
            "{suite}"
        );
        assert_eq!(
            unprotect(&mut wrong, &srtp),
            Err(SrtpDrop::AuthFailed),
            "{suite}"
        );
        assert_eq!(
            unprotect(&mut rx, &srtp[..srtp.len() - 2]),
            Err(SrtpDrop::AuthFailed),
            "{suite}"
        );
        assert_eq!(
            unprotect(&mut rx, &srtp[..14]),
            Err(SrtpDrop::AuthFailed),
            "{suite}"
        );
        // Failures leave the session intact: the genuine packet still plays.
        assert!(unprotect(&mut rx, &srtp).is_ok(), "{suite}");
    }
}

#[test]
fn replays_are_dropped_while_reordering_and_late_packets_within_the_window_pass() {
    let keying = keying_for(Suite::AesCm128HmacSha1_80, 3);
    let mut tx = SrtpSession::new(&keying, Direction::Outbound).unwrap();
    let mut rx = SrtpSession::new(&keying, Direction::Inbound).unwrap();
    let packets: Vec<Vec<u8>> = (0..3000u16)
        .map(|seq| protect(&mut tx, &rtp_packet(5, seq, 40)))
        .collect();
    // 2,999 first, then everything else in reverse: 3,000 packets late, all inside the window.
    assert!(unprotect(&mut rx, &packets[2999]).is_ok());
    for p in packets[..2999].iter().rev() {
        assert!(unprotect(&mut rx, p).is_ok());
    }
    assert_eq!(unprotect(&mut rx, &packets[1500]), Err(SrtpDrop::Replayed));
    assert_eq!(unprotect(&mut rx, &packets[2999]), Err(SrtpDrop::Replayed));
}

#[test]
fn the_rollover_counter_follows_sequence_wraps() {
    let keying = keying_for(Suite::AeadAes128Gcm, 4);
    let mut tx = SrtpSession::new(&keying, Direction::Outbound).unwrap();
    let mut rx = SrtpSession::new(&keying, Direction::Inbound).unwrap();
    let mut before_wrap = Vec::new();
    let mut first_round = Vec::new();
    for i in 0..200_000u32 {
        let seq = (65_000 + i) as u16;
        let srtp = protect(&mut tx, &rtp_packet(9, seq, 8));
        assert!(
            unprotect(&mut rx, &srtp).is_ok(),
            "packet {i} after two wraps"
        );
        match i {
            400 => before_wrap = srtp,
            1_000 => first_round = srtp,
            // Just after the wrap, a replay from just before it is known for one.
            700 => assert_eq!(unprotect(&mut rx, &before_wrap), Err(SrtpDrop::Replayed)),
            _ => {}
        }
    }
    // Two wraps later the old packet is taken for a current one and fails authentication:
    // dropped either way, never played.
    assert!(unprotect(&mut rx, &first_round).is_err());
}

#[test]
fn a_sender_switching_keys_by_mki_plays_and_an_unknown_mki_is_told() {
    let suite = Suite::AesCm128HmacSha1_80;
    let key = |seed, mki| {
        let mut key = MasterKey::from_bytes(keying_for(suite, seed).keys[0].keying().to_vec());
        key.mki = Some(Mki { value: mki, len: 2 });
        key
    };
    let both = SrtpKeying {
        tag: 1,
        suite,
        keys: vec![key(1, 1), key(2, 2)],
    };
    let mut rx = SrtpSession::new(&both, Direction::Inbound).unwrap();
    let sender = |k: MasterKey| {
        SrtpSession::new(
            &SrtpKeying {
                tag: 1,
                suite,
                keys: vec![k],
            },
            Direction::Outbound,
        )
        .unwrap()
    };
    let (mut first, mut second, mut stranger) =
        (sender(key(1, 1)), sender(key(2, 2)), sender(key(3, 3)));
    let a = protect(&mut first, &rtp_packet(11, 1, 80));
    assert_eq!(a.len(), 12 + 80 + 2 + 10, "the MKI travels in the packet");
    assert!(unprotect(&mut rx, &a).is_ok());
    assert!(unprotect(&mut rx, &protect(&mut second, &rtp_packet(11, 2, 80))).is_ok());
    assert_eq!(
        unprotect(&mut rx, &protect(&mut stranger, &rtp_packet(11, 3, 80))),
        Err(SrtpDrop::UnknownMki)
    );
}

#[test]
fn srtcp_round_trips_and_rejects_tampering() {
    for suite in Suite::ALL {
        let keying = keying_for(suite, 5);
        let mut tx = SrtpSession::new(&keying, Direction::Outbound).unwrap();
        let mut rx = SrtpSession::new(&keying, Direction::Inbound).unwrap();
        let rr = receiver_report();
        let len = rr.len();
        let mut buf = rr.clone();
        buf.resize(len + MAX_TRAILER, 0);
        let n = tx.protect_rtcp(&mut buf, len).unwrap();
        let mut bad = buf[..n].to_vec();
        bad[10] ^= 0x80;
        assert_eq!(
            rx.unprotect_rtcp(&mut bad, n),
            Err(SrtpDrop::AuthFailed),
            "{suite}"
        );
        let m = rx.unprotect_rtcp(&mut buf, n).unwrap();
        assert_eq!(&buf[..m], &rr[..], "{suite}");
    }
}

#[test]
fn a_sender_restarting_with_a_new_ssrc_starts_a_fresh_replay_window() {
    // A restart keeps the key but takes a new SSRC and starts its sequence numbers again: the
    // old stream's replay history must not refuse the new one's packets.
    let keying = keying_for(Suite::AesCm128HmacSha1_80, 6);
    let mut rx = SrtpSession::new(&keying, Direction::Inbound).unwrap();
    let mut before = SrtpSession::new(&keying, Direction::Outbound).unwrap();
    for seq in 0..50u16 {
        assert!(unprotect(&mut rx, &protect(&mut before, &rtp_packet(1, seq, 40))).is_ok());
    }
    let mut after = SrtpSession::new(&keying, Direction::Outbound).unwrap();
    for seq in 0..50u16 {
        let srtp = protect(&mut after, &rtp_packet(2, seq, 40));
        assert!(
            unprotect(&mut rx, &srtp).is_ok(),
            "seq {seq} of the new SSRC"
        );
        assert_eq!(unprotect(&mut rx, &srtp), Err(SrtpDrop::Replayed));
    }
}

#[test]
fn srtcp_with_an_mki_round_trips_and_the_32_bit_suites_refuse_an_mki_clearly() {
    for suite in Suite::ALL {
        let mut key = MasterKey::from_bytes(keying_for(suite, 8).keys[0].keying().to_vec());
        key.mki = Some(Mki { value: 7, len: 2 });
        let keying = SrtpKeying {
            tag: 1,
            suite,
            keys: vec![key],
        };
        if suite.rtp_tag_len() != suite.rtcp_tag_len() {
            // libsrtp looks for the SRTCP MKI at the RTP tag's offset: refused up front.
            let error = SrtpSession::new(&keying, Direction::Inbound).unwrap_err();
            assert!(
                error.to_string().contains("with an MKI is not supported"),
                "{error}"
            );
            continue;
        }
        let mut tx = SrtpSession::new(&keying, Direction::Outbound).unwrap();
        let mut rx = SrtpSession::new(&keying, Direction::Inbound).unwrap();
        let rr = receiver_report();
        let len = rr.len();
        let mut buf = rr.clone();
        buf.resize(len + MAX_TRAILER, 0);
        let n = tx.protect_rtcp(&mut buf, len).unwrap();
        let m = rx.unprotect_rtcp(&mut buf, n);
        assert_eq!(m.map(|m| buf[..m].to_vec()), Ok(rr.clone()), "{suite}");
    }
}
