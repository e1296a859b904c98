//! The SDP `send --sdp-out` writes: the media payload type (with Opus's fmtp), and with RTCP
//! on, AVPF feedback (`a=rtcp-fb:* nack`), the RTX payload type, `a=rtcp-rsize` and `a=rtcp-mux`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::send_config::SendConfig;
use crate::rtp::opus_fmtp::OpusFmtp;
use crate::rtp::payload::PayloadFormat;
use crate::rtp::sdp::{write_sdp, ConnectionAddress, RtcpAttributes, RtxPayload, SdpStream};

/// The SDP of a stream of `format` on payload type `pt` to `destination`.
pub(super) fn stream_sdp(
    config: &SendConfig,
    destination: SocketAddr,
    pt: u8,
    format: PayloadFormat,
    ptime: Option<Duration>,
    ssrc: u32,
) -> String {
    let addr = destination.ip();
    let ttl = match addr {
        IpAddr::V4(a) if a.is_multicast() => {
            Some(u8::try_from(config.ttl.unwrap_or(1)).unwrap_or(u8::MAX))
        }
        _ => None,
    };
    let mut stream = SdpStream::new(
        ConnectionAddress { addr, ttl },
        destination.port(),
        pt,
        format,
    );
    stream.ptime = ptime;
    stream.srtp = config.srtp.clone();
    stream.session_name = config.session_name.clone();
    if let Some(offset) = config.media_clock_offset {
        // The host clock, NTP- (or PTP-) disciplined: RFC 7273's "traceable" NTP reference.
        stream.ts_refclk = Some("ntp=/traceable/".into());
        stream.mediaclk = Some(format!("direct={offset}"));
    }
    // Unique per sender, so that SAP listeners tell two jitterplay sessions of a host apart.
    stream.session_id = u64::from(ssrc);
    if format == PayloadFormat::Opus {
        if let Some(p) = stream.payloads.first_mut() {
            p.fmtp = Some(opus_fmtp(config).to_string());
        }
    }
    let rtcp = &config.rtcp;
    if rtcp.enabled {
        let rtx = rtcp.rtx().map(|rtx_pt| RtxPayload {
            pt: rtx_pt,
            apt: pt,
            rtx_time: Some(rtcp.history),
        });
        if let Some(rtx) = rtx {
            stream.payloads.push(rtx.sdp_payload(format.clock_rate()));
        }
        stream.rtcp = RtcpAttributes {
            mux: rtcp.mux,
            port: None,
            // We read reduced-size NACKs; our own reports stay compound.
            reduced_size: true,
            nack: rtcp.answers_nacks(),
            rtx,
        };
    }
    write_sdp(&stream)
}

/// The RFC 7587 parameters of what is sent: always stereo, the bit rate, FEC and DTX.
fn opus_fmtp(config: &SendConfig) -> OpusFmtp {
    let o = config.opus;
    OpusFmtp {
        stereo: Some(true),
        sprop_stereo: Some(true),
        useinbandfec: Some(o.fec),
        usedtx: o.dtx.then_some(true),
        maxaveragebitrate: Some(o.bitrate),
        ..OpusFmtp::default()
    }
}
