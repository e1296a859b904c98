//! The `a=fmtp` parameters of Opus (RFC 7587 §7.1): read from an SDP (everything jitterplay
//! plays decodes at 48 kHz stereo, so they only inform) and written for `send --sdp-out`.

use std::fmt;

/// RFC 7587 format parameters; `None` is "not given" (each has an RFC default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpusFmtp {
    /// The receiver prefers stereo (default: mono).
    pub stereo: Option<bool>,
    /// The sender is likely to send stereo (default: mono).
    pub sprop_stereo: Option<bool>,
    /// The receiver can use in-band FEC (default: no).
    pub useinbandfec: Option<bool>,
    /// The receiver prefers (or the sender uses) DTX (default: no).
    pub usedtx: Option<bool>,
    /// Constant bit rate preferred (default: variable).
    pub cbr: Option<bool>,
    /// Highest useful audio bandwidth, as a sample rate in Hz (default 48000).
    pub maxplaybackrate: Option<u32>,
    /// Highest average bit rate the receiver wants, bit/s.
    pub maxaveragebitrate: Option<u32>,
}

impl OpusFmtp {
    /// Reads `key=value; key=value` (unknown keys and unreadable values are ignored, as the
    /// RFC asks of receivers).
    pub fn parse(text: &str) -> Self {
        let mut f = OpusFmtp::default();
        for pair in text.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim();
            let flag = match value {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "stereo" => f.stereo = flag,
                "sprop-stereo" => f.sprop_stereo = flag,
                "useinbandfec" => f.useinbandfec = flag,
                "usedtx" => f.usedtx = flag,
                "cbr" => f.cbr = flag,
                "maxplaybackrate" => f.maxplaybackrate = value.parse().ok(),
                "maxaveragebitrate" => f.maxaveragebitrate = value.parse().ok(),
                _ => {}
            }
        }
        f
    }
}

impl fmt::Display for OpusFmtp {
    /// Writes the parameters given, `;`-separated in RFC order (empty when none are).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = [
            ("stereo", self.stereo),
            ("sprop-stereo", self.sprop_stereo),
            ("cbr", self.cbr),
            ("useinbandfec", self.useinbandfec),
            ("usedtx", self.usedtx),
        ];
        let numbers = [
            ("maxplaybackrate", self.maxplaybackrate),
            ("maxaveragebitrate", self.maxaveragebitrate),
        ];
        let mut sep = "";
        for (key, value) in numbers {
            if let Some(v) = value {
                write!(f, "{sep}{key}={v}")?;
                sep = "; ";
            }
        }
        for (key, value) in flags {
            if let Some(v) = value {
                write!(f, "{sep}{key}={}", u8::from(v))?;
                sep = "; ";
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_rfc_7587_parameters() {
        let f = OpusFmtp::parse(
            "minptime=10;useinbandfec=1; stereo=1;sprop-stereo=0;maxplaybackrate=16000;cbr=x",
        );
        assert_eq!(
            f,
            OpusFmtp {
                stereo: Some(true),
                sprop_stereo: Some(false),
                useinbandfec: Some(true),
                maxplaybackrate: Some(16_000),
                ..Default::default()
            }
        );
        assert_eq!(
            f.to_string(),
            "maxplaybackrate=16000; stereo=1; sprop-stereo=0; useinbandfec=1"
        );
        assert_eq!(OpusFmtp::parse(&f.to_string()), f);
        assert_eq!(OpusFmtp::default().to_string(), "");
    }
}
