//! The receiving side of SRTP as a player drives it: every datagram is authenticated and
//! decrypted in place before anything reads it (sans-IO, no allocation per packet), refusals
//! are counted by cause, and the RTCP we send back is encrypted.

use std::sync::Arc;

use super::counts::{SrtpSnapshot, SrtpStats};
use super::session::{Direction, SrtpDrop, SrtpSession, MAX_TRAILER};
use super::{SrtpError, SrtpKeying, Suite};

/// Refusals without a single success after which the likely cause is told.
pub const SUSPICIOUS_FAILURES: u64 = 50;

/// Decrypts what arrives and encrypts the RTCP a receiver sends.
///
/// Our RTCP is protected with the same master key: SDES offers one key per direction, and a
/// one-way session (an SDP file, `--srtp`) has only the sender's; keystreams stay apart
/// because they depend on the SSRC, which differs.
pub struct SrtpReceiver {
    inbound: SrtpSession,
    outbound: SrtpSession,
    suite: Suite,
    stats: Arc<SrtpStats>,
    outgoing: Vec<u8>,
    told: bool,
}

impl SrtpReceiver {
    /// A receiver for `keying`, counting into `stats`.
    pub fn new(keying: &SrtpKeying, stats: Arc<SrtpStats>) -> Result<Self, SrtpError> {
        Ok(SrtpReceiver {
            inbound: SrtpSession::new(keying, Direction::Inbound)?,
            outbound: SrtpSession::new(keying, Direction::Outbound)?,
            suite: keying.suite,
            stats,
            outgoing: Vec::with_capacity(2048),
            told: false,
        })
    }

    /// Authenticates and decrypts `datagram` in place, as SRTCP if `rtcp` (the caller tells
    /// RTCP from RTP as it does for plain packets): true if it may be read, false if it was
    /// refused (and counted).
    pub fn unprotect(&mut self, datagram: &mut Vec<u8>, rtcp: bool) -> bool {
        let len = datagram.len();
        let result = if rtcp {
            self.inbound.unprotect_rtcp(datagram, len)
        } else {
            self.inbound.unprotect_rtp(datagram, len)
        };
        match result {
            Ok(n) => {
                datagram.truncate(n);
                self.stats.srtp_decrypted.add(1);
                true
            }
            Err(drop) => {
                let cell = match drop {
                    SrtpDrop::AuthFailed => &self.stats.srtp_auth_failed,
                    SrtpDrop::Replayed => &self.stats.srtp_replayed,
                    SrtpDrop::UnknownMki => &self.stats.srtp_unknown_mki,
                    SrtpDrop::NoKey => &self.stats.srtp_no_key,
                };
                cell.add(1);
                self.tell_likely_cause();
                false
            }
        }
    }

    /// Encrypts an RTCP datagram we are about to send; `None` if it could not be.
    pub fn protect_rtcp(&mut self, datagram: &[u8]) -> Option<&[u8]> {
        self.outgoing.clear();
        self.outgoing.extend_from_slice(datagram);
        self.outgoing.resize(datagram.len() + MAX_TRAILER, 0);
        match self
            .outbound
            .protect_rtcp(&mut self.outgoing, datagram.len())
        {
            Ok(n) => Some(&self.outgoing[..n]),
            Err(error) => {
                tracing::warn!(%error, "could not encrypt an RTCP packet; not sent");
                None
            }
        }
    }

    /// Why nothing authenticated, if that is where things stand.
    pub fn nothing_authenticated(&self) -> Option<String> {
        let s = self.stats.snapshot();
        (s.srtp_decrypted == 0 && s.refused() > 0).then(|| likely_cause(self.suite, &s))
    }

    fn tell_likely_cause(&mut self) {
        let s = self.stats.snapshot();
        if !self.told && s.srtp_decrypted == 0 && s.refused() >= SUSPICIOUS_FAILURES {
            self.told = true;
            tracing::error!("{}", likely_cause(self.suite, &s));
        }
    }
}

fn likely_cause(suite: Suite, s: &SrtpSnapshot) -> String {
    let refused = s.refused();
    let cause = if s.srtp_unknown_mki > s.srtp_auth_failed {
        "the sender uses a key (MKI) that was not offered".to_string()
    } else {
        format!(
            "the key or the suite ({suite}) is not the sender's, or the stream is not SRTP \
             (plain RTP fails authentication too)"
        )
    };
    format!(
        "none of {refused} SRTP packets authenticated ({} failed authentication, {} replays, \
         {} unknown MKIs): {cause}",
        s.srtp_auth_failed, s.srtp_replayed, s.srtp_unknown_mki
    )
}

impl std::fmt::Debug for SrtpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpReceiver")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keying(seed: u8) -> SrtpKeying {
        let suite = Suite::AesCm128HmacSha1_32;
        SrtpKeying::single(suite, vec![seed; suite.keying_len()])
    }

    fn srtp(key: &SrtpKeying, seq: u16) -> Vec<u8> {
        let mut tx = SrtpSession::new(key, Direction::Outbound).unwrap();
        let mut p = vec![
            0x80,
            0,
            (seq >> 8) as u8,
            seq as u8,
            0,
            0,
            0,
            160,
            0,
            0,
            0,
            1,
        ];
        p.extend_from_slice(&[0x55; 160]);
        let len = p.len();
        p.resize(len + MAX_TRAILER, 0);
        let n = tx.protect_rtp(&mut p, len).unwrap();
        p.truncate(n);
        p
    }

    #[test]
    fn packets_decrypt_in_place_and_refusals_are_counted_by_cause() {
        let stats = Arc::new(SrtpStats::default());
        let mut rx = SrtpReceiver::new(&keying(1), Arc::clone(&stats)).unwrap();
        let mut good = srtp(&keying(1), 1);
        let replay = good.clone();
        assert!(rx.unprotect(&mut good, false));
        assert_eq!(good.len(), 12 + 160);
        assert_eq!(&good[12..], &[0x55; 160][..]);
        assert!(!rx.unprotect(&mut replay.clone(), false));
        assert!(!rx.unprotect(&mut srtp(&keying(2), 2), false));
        let s = stats.snapshot();
        assert_eq!(
            (s.srtp_decrypted, s.srtp_replayed, s.srtp_auth_failed),
            (1, 1, 1)
        );
        assert_eq!(rx.nothing_authenticated(), None);
    }

    #[test]
    fn a_wrong_key_is_named_as_the_likely_cause() {
        let mut rx = SrtpReceiver::new(&keying(1), Arc::default()).unwrap();
        for seq in 0..60 {
            assert!(!rx.unprotect(&mut srtp(&keying(9), seq), false));
        }
        let told = rx.nothing_authenticated().unwrap();
        assert!(
            told.contains("none of 60 SRTP packets authenticated"),
            "{told}"
        );
        assert!(told.contains("AES_CM_128_HMAC_SHA1_32"), "{told}");
    }
}
