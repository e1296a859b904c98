//! SDES keying (RFC 4568): `a=crypto` lines and the `--srtp` option, with keys that never print.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::suite::Suite;
use super::SrtpError;

/// One master key with its salt, optional lifetime and optional MKI.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    keying: Vec<u8>,
    /// How many packets the key may protect (`|2^31`), as offered; informational.
    pub lifetime: Option<u64>,
    /// The master key identifier and its length in bytes, when packets carry one.
    pub mki: Option<Mki>,
}

/// A master key identifier: its value and how many bytes it takes in each packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    /// The identifier.
    pub value: u64,
    /// Its length on the wire, 1–128 bytes (we accept up to 8).
    pub len: u8,
}

impl Mki {
    /// The identifier as it appears in packets: big-endian, `len` bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let be = self.value.to_be_bytes();
        let len = usize::from(self.len);
        if len <= 8 {
            be[8 - len..].to_vec()
        } else {
            let mut out = vec![0; len - 8];
            out.extend_from_slice(&be);
            out
        }
    }
}

impl MasterKey {
    /// A key from raw bytes (master key then salt) with no MKI or lifetime.
    pub fn from_bytes(keying: Vec<u8>) -> Self {
        MasterKey {
            keying,
            lifetime: None,
            mki: None,
        }
    }

    /// The master key then the master salt.
    pub fn keying(&self) -> &[u8] {
        &self.keying
    }

    /// The `inline:` form, for writing into an SDP we produce.
    pub fn inline(&self) -> String {
        let mut out = format!("inline:{}", STANDARD.encode(&self.keying));
        match self.lifetime {
            Some(l) if l.is_power_of_two() => out.push_str(&format!("|2^{}", l.trailing_zeros())),
            Some(l) => out.push_str(&format!("|{l}")),
            None => {}
        }
        if let Some(mki) = self.mki {
            out.push_str(&format!("|{}:{}", mki.value, mki.len));
        }
        out
    }

    /// The key redacted to its first base64 characters, for logs and reports.
    pub fn redacted(&self) -> String {
        let encoded = STANDARD.encode(&self.keying);
        format!("inline:{}…", &encoded[..encoded.len().min(4)])
    }

    /// Parses `inline:BASE64[|LIFETIME][|MKI:LEN]` for `suite`.
    fn parse(param: &str, suite: Suite) -> Result<Self, SrtpError> {
        let Some(rest) = param.trim().strip_prefix("inline:") else {
            return Err(SrtpError::BadKey(
                "only inline: keys are supported (RFC 4568 SDES)".into(),
            ));
        };
        let mut parts = rest.split('|');
        let encoded = parts.next().unwrap_or_default();
        let keying = STANDARD
            .decode(encoded)
            .map_err(|_| SrtpError::BadKey("the inline key is not valid base64".into()))?;
        if keying.len() != suite.keying_len() {
            return Err(SrtpError::BadKey(format!(
                "{suite} needs {} bytes of key and salt, the inline key has {}",
                suite.keying_len(),
                keying.len()
            )));
        }
        let mut key = MasterKey::from_bytes(keying);
        for part in parts {
            if let Some((value, len)) = part.split_once(':') {
                let value = value.parse::<u64>().map_err(|_| bad_mki(part))?;
                let len = len.parse::<u8>().map_err(|_| bad_mki(part))?;
                if !(1..=8).contains(&len) || (len < 8 && value >> (8 * u32::from(len)) != 0) {
                    return Err(bad_mki(part));
                }
                key.mki = Some(Mki { value, len });
            } else {
                key.lifetime = Some(parse_lifetime(part)?);
            }
        }
        Ok(key)
    }
}

fn bad_mki(part: &str) -> SrtpError {
    SrtpError::BadKey(format!(
        "MKI `{part}` is not VALUE:LENGTH with a length of 1 to 8 bytes that holds the value"
    ))
}

fn parse_lifetime(part: &str) -> Result<u64, SrtpError> {
    let bad = || SrtpError::BadKey(format!("key lifetime `{part}` is not a number or 2^N"));
    match part.strip_prefix("2^") {
        Some(exp) => {
            let exp = exp.parse::<u32>().map_err(|_| bad())?;
            1u64.checked_shl(exp).filter(|_| exp < 64).ok_or_else(bad)
        }
        None => part.parse().map_err(|_| bad()),
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("key", &self.redacted())
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}

/// A suite with its master keys: one `a=crypto` line, or the `--srtp` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeying {
    /// The `a=crypto` tag (1 when given on the command line).
    pub tag: u32,
    /// The crypto suite.
    pub suite: Suite,
    /// One key, or several told apart by their MKIs.
    pub keys: Vec<MasterKey>,
}

impl SrtpKeying {
    /// Parses the value of an `a=crypto` attribute: `TAG SUITE KEY-PARAMS [SESSION-PARAMS]`.
    pub fn from_crypto_attribute(value: &str) -> Result<Self, SrtpError> {
        let mut fields = value.split_whitespace();
        let (Some(tag), Some(suite), Some(params)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(SrtpError::BadKey(
                "a=crypto needs a tag, a suite and key parameters".into(),
            ));
        };
        let tag = tag
            .parse()
            .map_err(|_| SrtpError::BadKey(format!("a=crypto tag `{tag}` is not a number")))?;
        // Session parameters (KDR, UNENCRYPTED_SRTP, …) change the transform; refuse rather
        // than decrypt wrongly.
        if let Some(session) = fields.next() {
            return Err(SrtpError::BadKey(format!(
                "session parameter `{session}` is not supported"
            )));
        }
        Self::with_params(tag, suite.parse()?, params)
    }

    fn with_params(tag: u32, suite: Suite, params: &str) -> Result<Self, SrtpError> {
        let keys = params
            .split(';')
            .map(|p| MasterKey::parse(p, suite))
            .collect::<Result<Vec<_>, _>>()?;
        let with_mki = keys.iter().filter(|k| k.mki.is_some()).count();
        if keys.len() > 1 && with_mki != keys.len() {
            return Err(SrtpError::BadKey(
                "several keys need an MKI each to be told apart".into(),
            ));
        }
        if with_mki > 0 {
            let first = keys[0].mki.map(|m| m.len);
            if keys.iter().any(|k| k.mki.map(|m| m.len) != first) {
                return Err(SrtpError::BadKey(
                    "every MKI must have the same length".into(),
                ));
            }
        }
        Ok(SrtpKeying { tag, suite, keys })
    }

    /// One key (master key then salt) for `suite`, with no MKI or lifetime, tag 1.
    pub fn single(suite: Suite, keying: Vec<u8>) -> Self {
        SrtpKeying {
            tag: 1,
            suite,
            keys: vec![MasterKey::from_bytes(keying)],
        }
    }

    /// Bytes the MKI takes in each packet (0 without one).
    pub fn mki_len(&self) -> usize {
        self.keys
            .first()
            .and_then(|k| k.mki)
            .map_or(0, |m| usize::from(m.len))
    }

    /// A fresh random key for `suite`, for `send --srtp`.
    pub fn generate(suite: Suite) -> Self {
        use rand::RngCore;
        let mut keying = vec![0; suite.keying_len()];
        rand::rng().fill_bytes(&mut keying);
        Self::single(suite, keying)
    }

    /// `send --srtp`'s value: a suite (a fresh key is generated) or a whole
    /// `SUITE:inline:KEY`. Also tells whether the key was generated.
    pub fn for_sending(spec: &str) -> Result<(Self, bool), SrtpError> {
        if spec.contains("inline:") {
            Ok((spec.parse()?, false))
        } else {
            Ok((Self::generate(spec.parse()?), true))
        }
    }

    /// The `a=crypto` attribute value that offers this keying.
    pub fn crypto_attribute(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(MasterKey::inline).collect();
        format!("{} {} {}", self.tag, self.suite, keys.join(";"))
    }

    /// The attribute value with every key redacted, for logs and reports.
    pub fn redacted(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(MasterKey::redacted).collect();
        format!("{} {} {}", self.tag, self.suite, keys.join(";"))
    }
}

impl FromStr for SrtpKeying {
    type Err = SrtpError;

    /// The command-line form `SUITE:inline:BASE64[|LIFETIME][|MKI:LEN]`; also
    /// `SUITE inline:…` and a whole `a=crypto` value.
    fn from_str(s: &str) -> Result<Self, SrtpError> {
        let s = s.trim();
        let s = s.strip_prefix("a=crypto:").unwrap_or(s);
        if s.split_whitespace().count() >= 3 {
            return Self::from_crypto_attribute(s);
        }
        let (suite, params) = s
            .split_once([':', ' '])
            .ok_or_else(|| SrtpError::BadKey("expected SUITE:inline:BASE64".into()))?;
        Self::with_params(1, suite.parse()?, params.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY30: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    #[test]
    fn the_rfc_4568_example_line_parses_with_lifetime_and_mki() {
        let k = SrtpKeying::from_crypto_attribute(&format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^20|1:4"
        ))
        .unwrap();
        assert_eq!(k.tag, 1);
        assert_eq!(k.suite, Suite::AesCm128HmacSha1_80);
        assert_eq!(k.keys[0].lifetime, Some(1 << 20));
        assert_eq!(k.keys[0].mki, Some(Mki { value: 1, len: 4 }));
        assert_eq!(k.keys[0].mki.unwrap().bytes(), vec![0, 0, 0, 1]);
        assert_eq!(k.keys[0].keying().len(), 30);
        // Written back as it was offered.
        assert_eq!(
            k.crypto_attribute(),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^20|1:4")
        );
    }

    #[test]
    fn the_command_line_form_and_the_attribute_agree() {
        let a: SrtpKeying = format!("AES_CM_128_HMAC_SHA1_80:inline:{KEY30}")
            .parse()
            .unwrap();
        let b: SrtpKeying = format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}")
            .parse()
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.crypto_attribute().parse::<SrtpKeying>().unwrap(), a);
    }

    #[test]
    fn keys_never_print_whole() {
        let k: SrtpKeying = format!("AES_CM_128_HMAC_SHA1_80:inline:{KEY30}")
            .parse()
            .unwrap();
        for shown in [format!("{k:?}"), k.redacted()] {
            assert!(!shown.contains(KEY30), "{shown}");
            assert!(shown.contains("inline:WVNf…"), "{shown}");
        }
    }

    #[test]
    fn wrong_lengths_bad_base64_and_mixed_mkis_are_explained() {
        let short = SrtpKeying::from_str("AEAD_AES_128_GCM:inline:AAAA").unwrap_err();
        assert!(short.to_string().contains("28 bytes"), "{short}");
        assert!(SrtpKeying::from_str("AES_CM_128_HMAC_SHA1_80:inline:!!").is_err());
        let mixed = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1:1;inline:{KEY30}|2:2");
        assert!(SrtpKeying::from_crypto_attribute(&mixed).is_err());
        let session = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30} KDR=1");
        assert!(SrtpKeying::from_crypto_attribute(&session).is_err());
        assert!(SrtpKeying::from_str("AES_CM_128_HMAC_SHA1_80:inline:{KEY30}|300:1").is_err());
    }
}
