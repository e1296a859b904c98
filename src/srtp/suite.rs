//! The SRTP crypto suites jitterplay speaks, by their SDES names (RFC 4568, RFC 6188, RFC 7714).

use std::fmt;
use std::str::FromStr;

use super::ffi;
use super::SrtpError;

/// An SRTP crypto suite: cipher, authentication and their key sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-128 counter mode with an 80-bit HMAC-SHA1 tag (RFC 4568's default).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode with a 32-bit HMAC-SHA1 tag on RTP (80 bits on RTCP).
    AesCm128HmacSha1_32,
    /// AES-256 counter mode with an 80-bit HMAC-SHA1 tag (RFC 6188).
    AesCm256HmacSha1_80,
    /// AES-256 counter mode with a 32-bit HMAC-SHA1 tag on RTP (RFC 6188).
    AesCm256HmacSha1_32,
    /// AES-128 in Galois/Counter Mode with a 128-bit tag (RFC 7714).
    AeadAes128Gcm,
    /// AES-256 in Galois/Counter Mode with a 128-bit tag (RFC 7714).
    AeadAes256Gcm,
}

impl Suite {
    /// Every suite, in order of preference when we offer them.
    pub const ALL: [Suite; 6] = [
        Suite::AesCm128HmacSha1_80,
        Suite::AesCm128HmacSha1_32,
        Suite::AesCm256HmacSha1_80,
        Suite::AesCm256HmacSha1_32,
        Suite::AeadAes128Gcm,
        Suite::AeadAes256Gcm,
    ];

    /// The name SDP's `a=crypto` uses.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Suite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm128HmacSha1_32 | Suite::AeadAes128Gcm => 16,
            Suite::AesCm256HmacSha1_80 | Suite::AesCm256HmacSha1_32 | Suite::AeadAes256Gcm => 32,
        }
    }

    /// Master salt length in bytes (112 bits for AES-CM, 96 for GCM).
    pub fn salt_len(self) -> usize {
        match self {
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// The length of the `inline:` key: master key then master salt.
    pub fn keying_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// Bytes SRTP adds to an RTP packet (the tag; GCM's tag covers what a MAC would).
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm256HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 | Suite::AesCm256HmacSha1_32 => 4,
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => 16,
        }
    }

    /// Bytes of the authentication tag on SRTCP (80 bits even for the `_32` suites).
    pub fn rtcp_tag_len(self) -> usize {
        match self {
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => 16,
            _ => 10,
        }
    }

    /// libsrtp's crypto policies for RTP and RTCP. The 32-bit suites keep an 80-bit tag on
    /// RTCP (RFC 4568 section 6.2.1), as libsrtp's profiles do.
    pub(crate) fn policies(
        self,
        lib: &ffi::Library,
    ) -> (ffi::srtp_crypto_policy_t, ffi::srtp_crypto_policy_t) {
        let mut rtp = ffi::srtp_crypto_policy_t::default();
        let mut rtcp = ffi::srtp_crypto_policy_t::default();
        // SAFETY: each setter only writes the policy struct it is given.
        unsafe {
            match self {
                Suite::AesCm128HmacSha1_80 => {
                    (lib.srtp_crypto_policy_set_rtp_default)(&mut rtp);
                    (lib.srtp_crypto_policy_set_rtp_default)(&mut rtcp);
                }
                Suite::AesCm128HmacSha1_32 => {
                    (lib.srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32)(&mut rtp);
                    (lib.srtp_crypto_policy_set_rtp_default)(&mut rtcp);
                }
                Suite::AesCm256HmacSha1_80 => {
                    (lib.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80)(&mut rtp);
                    (lib.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80)(&mut rtcp);
                }
                Suite::AesCm256HmacSha1_32 => {
                    (lib.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32)(&mut rtp);
                    (lib.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80)(&mut rtcp);
                }
                Suite::AeadAes128Gcm => {
                    (lib.srtp_crypto_policy_set_aes_gcm_128_16_auth)(&mut rtp);
                    (lib.srtp_crypto_policy_set_aes_gcm_128_16_auth)(&mut rtcp);
                }
                Suite::AeadAes256Gcm => {
                    (lib.srtp_crypto_policy_set_aes_gcm_256_16_auth)(&mut rtp);
                    (lib.srtp_crypto_policy_set_aes_gcm_256_16_auth)(&mut rtcp);
                }
            }
        }
        (rtp, rtcp)
    }
}

impl serde::Serialize for Suite {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = SrtpError;

    /// Accepts the SDES names, case-insensitively, with both spellings of the AES-256 suites
    /// (`AES_256_CM_…` of RFC 6188 and the `AES_CM_256_…` that some stacks write) and the
    /// `SRTP_` prefix of the DTLS-SRTP profile names.
    fn from_str(s: &str) -> Result<Self, SrtpError> {
        let upper = s.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("SRTP_").unwrap_or(&upper);
        let suite = match name {
            "AES_CM_128_HMAC_SHA1_80" | "AES128_CM_HMAC_SHA1_80" => Suite::AesCm128HmacSha1_80,
            "AES_CM_128_HMAC_SHA1_32" | "AES128_CM_HMAC_SHA1_32" => Suite::AesCm128HmacSha1_32,
            "AES_256_CM_HMAC_SHA1_80" | "AES_CM_256_HMAC_SHA1_80" | "AES256_CM_HMAC_SHA1_80" => {
                Suite::AesCm256HmacSha1_80
            }
            "AES_256_CM_HMAC_SHA1_32" | "AES_CM_256_HMAC_SHA1_32" | "AES256_CM_HMAC_SHA1_32" => {
                Suite::AesCm256HmacSha1_32
            }
            "AEAD_AES_128_GCM" => Suite::AeadAes128Gcm,
            "AEAD_AES_256_GCM" => Suite::AeadAes256Gcm,
            _ => return Err(SrtpError::UnknownSuite(s.trim().to_string())),
        };
        Ok(suite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_aes_256_and_every_name_round_trip() {
        for suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>().unwrap(), suite);
        }
        assert_eq!(
            "aes_cm_256_hmac_sha1_80".parse::<Suite>().unwrap(),
            Suite::AesCm256HmacSha1_80
        );
        assert_eq!(
            "SRTP_AES128_CM_HMAC_SHA1_32".parse::<Suite>().unwrap(),
            Suite::AesCm128HmacSha1_32
        );
        assert!(matches!(
            "F8_128_HMAC_SHA1_80".parse::<Suite>(),
            Err(SrtpError::UnknownSuite(name)) if name == "F8_128_HMAC_SHA1_80"
        ));
    }

    #[test]
    fn key_lengths_follow_the_rfcs() {
        assert_eq!(Suite::AesCm128HmacSha1_80.keying_len(), 30);
        assert_eq!(Suite::AesCm256HmacSha1_32.keying_len(), 46);
        assert_eq!(Suite::AeadAes128Gcm.keying_len(), 28);
        assert_eq!(Suite::AeadAes256Gcm.keying_len(), 44);
    }
}
