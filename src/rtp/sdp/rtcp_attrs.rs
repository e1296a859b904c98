//! The RTCP and retransmission attributes of an audio stream: `a=rtcp-mux` (RFC 5761),
//! `a=rtcp:` (RFC 3605), `a=rtcp-rsize` (RFC 5506), `a=rtcp-fb:… nack` (RFC 4585) and an RTX
//! payload type (`a=rtpmap:97 rtx/48000`, `a=fmtp:97 apt=96;rtx-time=3000`, RFC 4588).

use std::time::Duration;

use sdp_types::Media;

use super::SdpPayload;

/// How a stream's RTCP and retransmissions travel, as its SDP says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtcpAttributes {
    /// RTCP shares the RTP port (`a=rtcp-mux`).
    pub mux: bool,
    /// RTCP's own port (`a=rtcp:PORT`), when not RTP's + 1.
    pub port: Option<u16>,
    /// Reduced-size RTCP is allowed (`a=rtcp-rsize`).
    pub reduced_size: bool,
    /// Generic NACK feedback is offered (`a=rtcp-fb:* nack` or for the audio payload type).
    pub nack: bool,
    /// The retransmission payload type, if one is announced.
    pub rtx: Option<RtxPayload>,
}

/// An RFC 4588 retransmission payload type and what it repairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxPayload {
    /// The RTX payload type.
    pub pt: u8,
    /// The payload type it carries retransmissions of (`apt=`).
    pub apt: u8,
    /// How long the sender keeps packets for retransmission (`rtx-time=`, ms), if said.
    pub rtx_time: Option<Duration>,
}

impl RtcpAttributes {
    /// Reads the attributes of `media`, whose payload types are `payloads`.
    pub(super) fn parse(media: &Media, payloads: &[SdpPayload]) -> Self {
        let has = |name: &str| media.get_attribute_values(name).next().is_some();
        let port = media
            .get_attribute_values("rtcp")
            .flatten()
            .find_map(|v| v.split_ascii_whitespace().next()?.parse::<u16>().ok())
            .filter(|&p| p != 0);
        let nack = media.get_attribute_values("rtcp-fb").flatten().any(|v| {
            let mut words = v.split_ascii_whitespace();
            let _pt = words.next();
            // "nack" alone is generic NACK; "nack pli" is a video picture-loss request.
            words.next() == Some("nack") && words.next().is_none()
        });
        let rtx = payloads.iter().find_map(rtx_payload);
        RtcpAttributes {
            mux: has("rtcp-mux"),
            port,
            reduced_size: has("rtcp-rsize"),
            nack,
            rtx,
        }
    }

    /// The attribute lines (without `a=`) that say this, for [`super::write_sdp`]; the RTX
    /// payload's rtpmap and fmtp are written with the other payload types.
    pub(super) fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.mux {
            lines.push("rtcp-mux".to_owned());
        } else if let Some(port) = self.port {
            lines.push(format!("rtcp:{port}"));
        }
        if self.reduced_size {
            lines.push("rtcp-rsize".to_owned());
        }
        if self.nack {
            lines.push("rtcp-fb:* nack".to_owned());
        }
        lines
    }
}

impl RtxPayload {
    /// The payload-type entry announcing it, for a stream whose audio clock is `clock_rate`.
    pub fn sdp_payload(&self, clock_rate: u32) -> SdpPayload {
        let mut fmtp = format!("apt={}", self.apt);
        if let Some(t) = self.rtx_time {
            fmtp.push_str(&format!(";rtx-time={}", t.as_millis()));
        }
        SdpPayload {
            pt: self.pt,
            format: None,
            rtpmap: Some(format!("rtx/{clock_rate}")),
            fmtp: Some(fmtp),
        }
    }
}

/// The RTX description of payload `p`, if its rtpmap is `rtx/…` with an `apt=`.
fn rtx_payload(p: &SdpPayload) -> Option<RtxPayload> {
    let name = p.rtpmap.as_deref()?.split('/').next()?;
    if !name.eq_ignore_ascii_case("rtx") {
        return None;
    }
    let mut apt = None;
    let mut rtx_time = None;
    for param in p.fmtp.as_deref()?.split(';') {
        match param.trim().split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("apt") => {
                apt = v.trim().parse::<u8>().ok().filter(|&pt| pt <= 127);
            }
            Some((k, v)) if k.trim().eq_ignore_ascii_case("rtx-time") => {
                rtx_time = v.trim().parse::<u64>().ok().map(Duration::from_millis);
            }
            _ => {}
        }
    }
    Some(RtxPayload {
        pt: p.pt,
        apt: apt?,
        rtx_time,
    })
}
