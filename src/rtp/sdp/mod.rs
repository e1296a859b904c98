//! SDP for RTP audio: what the player needs from a session description, and one for `send` to write.
//!
//! Parsing is sdp-types (Sebastian Dröge's crate, from the GStreamer world): it reads RFC 8866
//! leniently (CRLF or LF, `o=`/`s=`/`t=` optional, any field order after `v=`) and has typed
//! `rtpmap`, `source-filter` and connection addresses with TTL. On top of it this module picks the
//! audio stream and maps its payload types to [`PayloadFormat`]s.

mod rtcp_attrs;
mod write;

use crate::srtp::SrtpKeying;
use std::net::IpAddr;
use std::time::Duration;

use sdp_types::{Connection, Media, RtpMap, Session, SourceFilterAddress, SourceFilterDestination};

use crate::rtp::payload::PayloadFormat;

pub use rtcp_attrs::{RtcpAttributes, RtxPayload};
pub use write::write_sdp;

/// Longest `a=ptime` accepted; anything longer is a typo, not a packet time.
const MAX_PTIME: Duration = Duration::from_secs(10);

/// Why a session description could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The text is not SDP.
    #[error("not a valid SDP file: {0}")]
    Syntax(String),
    /// No `m=audio` line with an RTP transport and a non-zero port.
    #[error("the SDP describes no RTP audio stream (no usable m=audio line)")]
    NoAudio,
    /// The audio stream offers only payload formats jitterplay cannot decode.
    #[error(
        "the SDP's audio stream offers only {0}; jitterplay plays L16, L24, PCMU, PCMA, MPA and opus"
    )]
    Unsupported(String),
    /// Neither the media nor the session has a `c=` line.
    #[error("the SDP has no connection address (c=) for its audio stream")]
    NoConnection,
    /// A line or attribute jitterplay needs is malformed.
    #[error("invalid {what} in SDP: {value:?}")]
    Invalid {
        /// Which line or attribute (e.g. "c=", "a=ptime").
        what: &'static str,
        /// The offending text.
        value: String,
    },
}

/// Where an SDP says the stream goes: `c=` address, with the TTL of IPv4 multicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionAddress {
    /// Unicast or multicast address.
    pub addr: IpAddr,
    /// IPv4 multicast TTL (`c=IN IP4 239.1.2.3/127`); IPv6 has none in SDP.
    pub ttl: Option<u8>,
}

/// One payload type of the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpPayload {
    /// RTP payload type.
    pub pt: u8,
    /// The format, if jitterplay knows it (from `a=rtpmap`, or the static table without one).
    pub format: Option<PayloadFormat>,
    /// The `a=rtpmap` value as written (`opus/48000/2`), if there was one.
    pub rtpmap: Option<String>,
    /// The `a=fmtp` parameters as written (after the payload type), if any.
    pub fmtp: Option<String>,
}

/// Source-specific filter from `a=source-filter` (RFC 4570).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFilter {
    /// Whether `sources` are the only ones allowed (`incl`) or the ones refused (`excl`).
    pub include: bool,
    /// The destination it applies to; `None` for `*` (all of the session's addresses).
    pub destination: Option<IpAddr>,
    /// Source addresses.
    pub sources: Vec<IpAddr>,
}

/// The audio stream a session description describes: everything the player needs to receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpStream {
    /// `s=`, unless empty or `-`.
    pub session_name: Option<String>,
    /// The `o=` originator address, when it is a real one.
    pub origin: Option<IpAddr>,
    /// The media's `c=`, or the session's.
    pub connection: ConnectionAddress,
    /// The `m=audio` port.
    pub port: u16,
    /// Payload types in `m=` order (the sender's preference).
    pub payloads: Vec<SdpPayload>,
    /// `a=ptime`, media-level or else session-level.
    pub ptime: Option<Duration>,
    /// `a=source-filter`, media-level or else session-level (RFC 4570: media overrides).
    pub source_filter: Option<SourceFilter>,
    /// Where RTCP goes, and whether NACK and retransmission are offered.
    pub rtcp: RtcpAttributes,
    /// The SRTP key of an `RTP/SAVP` or `RTP/SAVPF` stream: the first `a=crypto` line
    /// whose suite jitterplay speaks.
    pub srtp: Option<SrtpKeying>,
    /// RFC 7273 `a=ts-refclk` (e.g. `ptp=IEEE1588-2008:00-1D-C1-FF-FE-12-34-56:0`), media-level
    /// or else session-level: the clock the sender's timestamps follow.
    pub ts_refclk: Option<String>,
    /// RFC 7273 `a=mediaclk` (e.g. `direct=0`): how RTP time maps onto that clock.
    pub mediaclk: Option<String>,
    /// The `o=` session id written (0 when parsed: the identity of a parsed session is its
    /// whole `o=` line, see `sap::session_identity`).
    pub session_id: u64,
}

impl SdpStream {
    /// A stream description for sending one payload type to `connection`:`port` (for [`write_sdp`]).
    pub fn new(connection: ConnectionAddress, port: u16, pt: u8, format: PayloadFormat) -> Self {
        SdpStream {
            session_name: None,
            origin: None,
            connection,
            port,
            payloads: vec![SdpPayload {
                pt,
                format: Some(format),
                rtpmap: None,
                fmtp: None,
            }],
            ptime: None,
            source_filter: None,
            rtcp: RtcpAttributes::default(),
            srtp: None,
            ts_refclk: None,
            mediaclk: None,
            session_id: 0,
        }
    }

    /// The first payload type in `m=` order that carries decodable audio, with its format.
    pub fn primary(&self) -> Option<(u8, PayloadFormat)> {
        self.payloads
            .iter()
            .find_map(|p| p.format.filter(PayloadFormat::is_audio).map(|f| (p.pt, f)))
    }

    /// The format of payload type `pt`, if the stream lists it and jitterplay knows it.
    pub fn format_for(&self, pt: u8) -> Option<PayloadFormat> {
        self.payloads
            .iter()
            .find(|p| p.pt == pt)
            .and_then(|p| p.format)
    }
}

/// Parses a session description and returns its first RTP audio stream with a decodable format.
pub fn parse_sdp(text: &[u8]) -> Result<SdpStream, SdpError> {
    let session = Session::parse(text).map_err(|e| SdpError::Syntax(e.to_string()))?;
    let mut offered = Vec::new();
    for media in session.medias.iter().filter(|m| is_rtp_audio(m)) {
        let payloads = payloads(media)?;
        let srtp = match srtp_keying(media) {
            Ok(srtp) => srtp,
            Err(why) => {
                offered.push(why);
                continue;
            }
        };
        if !payloads
            .iter()
            .any(|p| p.format.is_some_and(|f| f.is_audio()))
        {
            offered.extend(payloads.iter().map(describe));
            continue;
        }
        let connection = media
            .connections
            .first()
            .or(session.connection.as_ref())
            .ok_or(SdpError::NoConnection)
            .and_then(connection_address)?;
        let ptime = match first_value(media, &session, "ptime") {
            Some(v) => Some(ptime(v)?),
            None => None,
        };
        let source_filter = match first_value(media, &session, "source-filter") {
            Some(v) => Some(source_filter(v)?),
            None => None,
        };
        let name = session.session_name.trim();
        let rtcp = RtcpAttributes::parse(media, &payloads);
        return Ok(SdpStream {
            session_name: (!name.is_empty() && name != "-").then(|| name.to_owned()),
            origin: session
                .origin
                .try_parse_unicast_ip_address()
                .ok()
                .filter(|a| !a.is_unspecified()),
            connection,
            port: media.port,
            payloads,
            ptime,
            source_filter,
            rtcp,
            srtp,
            ts_refclk: first_value(media, &session, "ts-refclk").map(str::to_owned),
            mediaclk: first_value(media, &session, "mediaclk").map(str::to_owned),
            session_id: 0,
        });
    }
    if offered.is_empty() {
        Err(SdpError::NoAudio)
    } else {
        Err(SdpError::Unsupported(offered.join(", ")))
    }
}

/// One `m=audio` line of a session description, whatever its formats.
#[derive(Debug, Clone, PartialEq)]
pub struct SdpAudioMedia {
    /// Where the media goes (`c=` of the media, else of the session), if given.
    pub connection: Option<IpAddr>,
    /// The media's port.
    pub port: u16,
    /// Its payload types in `m=` order.
    pub payloads: Vec<SdpPayload>,
    /// SRTP: the first usable `a=crypto` key, or `Err` with why there is none (for an
    /// `RTP/SAVP` line, or one with `a=crypto` lines); `Ok(None)` for plain RTP.
    pub srtp: Result<Option<SrtpKeying>, String>,
}

/// Every RTP audio `m=` line of `text`, decodable or not (to name what a captured call carried).
pub fn audio_media(text: &[u8]) -> Result<Vec<SdpAudioMedia>, SdpError> {
    let session = Session::parse(text).map_err(|e| SdpError::Syntax(e.to_string()))?;
    session
        .medias
        .iter()
        .filter(|m| is_rtp_audio(m))
        .map(|media| {
            let connection = media
                .connections
                .first()
                .or(session.connection.as_ref())
                .and_then(|c| connection_address(c).ok())
                .map(|c| c.addr);
            Ok(SdpAudioMedia {
                connection,
                port: media.port,
                payloads: payloads(media)?,
                srtp: srtp_keying(media),
            })
        })
        .collect()
}

/// An audio `m=` line with an RTP or SRTP transport and a live port.
fn is_rtp_audio(media: &Media) -> bool {
    let proto = media.proto.to_ascii_uppercase();
    media.media.eq_ignore_ascii_case("audio")
        && media.port != 0
        && matches!(
            proto.as_str(),
            "RTP/AVP" | "RTP/AVPF" | "RTP/SAVP" | "RTP/SAVPF"
        )
}

/// The SDES key of an SRTP `m=` line (`None` for plain RTP), or why it cannot be played.
/// An `a=crypto` line means SRTP whatever the profile says: ffmpeg writes it under
/// `RTP/AVP`.
fn srtp_keying(media: &Media) -> Result<Option<SrtpKeying>, String> {
    let proto = media.proto.to_ascii_uppercase();
    let has_crypto = media.get_attribute_values("crypto").next().is_some();
    if !proto.starts_with("RTP/SAVP") && !has_crypto {
        return Ok(None);
    }
    let mut refused = Vec::new();
    for line in media.get_attribute_values("crypto").flatten() {
        match SrtpKeying::from_crypto_attribute(line) {
            Ok(keying) => return Ok(Some(keying)),
            // The reason only: the line itself holds a key.
            Err(e) => refused.push(e.to_string()),
        }
    }
    Err(if refused.is_empty() {
        format!("{proto} with no a=crypto key (DTLS-SRTP keys are not supported)")
    } else {
        format!(
            "{proto} with no usable a=crypto line ({})",
            refused.join("; ")
        )
    })
}

/// The payload types of `m=` with their rtpmap/fmtp, in `m=` order.
fn payloads(media: &Media) -> Result<Vec<SdpPayload>, SdpError> {
    let rtpmaps: Vec<RtpMap> = media
        .attributes_typed::<RtpMap>()
        .filter_map(Result::ok)
        .collect();
    media
        .fmt
        .split_ascii_whitespace()
        .map(|field| {
            let pt = field
                .parse::<u8>()
                .ok()
                .filter(|&pt| pt <= 127)
                .ok_or_else(|| invalid("m= payload type", field))?;
            let rtpmap = rtpmaps.iter().find(|r| r.payload_type == pt);
            let format = match rtpmap {
                Some(r) => PayloadFormat::from_rtpmap(
                    &r.encoding_name,
                    r.clock_rate,
                    r.encoding_params.as_deref(),
                )
                .ok(),
                None => PayloadFormat::from_static_pt(pt),
            };
            let fmtp = media.get_attribute_values("fmtp").flatten().find_map(|v| {
                let (fmt, params) = v.trim().split_once(' ')?;
                (fmt.parse::<u8>().ok()? == pt).then(|| params.trim().to_owned())
            });
            let rtpmap = rtpmap.map(|r| match &r.encoding_params {
                Some(p) => format!("{}/{}/{p}", r.encoding_name, r.clock_rate),
                None => format!("{}/{}", r.encoding_name, r.clock_rate),
            });
            Ok(SdpPayload {
                pt,
                format,
                rtpmap,
                fmtp,
            })
        })
        .collect()
}

/// How a payload type reads in an error message: `opus/48000/2 (PT 97)`.
fn describe(p: &SdpPayload) -> String {
    match (&p.rtpmap, p.format) {
        (Some(map), _) => format!("{map} (PT {})", p.pt),
        (None, Some(f)) => format!("{} (PT {})", f.rtpmap(), p.pt),
        (None, None) => format!("unknown static PT {}", p.pt),
    }
}

fn invalid(what: &'static str, value: &str) -> SdpError {
    SdpError::Invalid {
        what,
        value: value.to_owned(),
    }
}

/// The value of the first `a=<name>` of the media, or else of the session.
fn first_value<'a>(media: &'a Media, session: &'a Session, name: &'a str) -> Option<&'a str> {
    media
        .get_attribute_values(name)
        .next()
        .or_else(|| session.get_attribute_values(name).next())
        .map(|v| v.unwrap_or_default().trim())
}

fn connection_address(c: &Connection) -> Result<ConnectionAddress, SdpError> {
    let parsed = c
        .try_address()
        .map_err(|_| invalid("c= address", &c.connection_address))?;
    Ok(ConnectionAddress {
        addr: parsed.ip,
        ttl: parsed.ttl,
    })
}

/// `a=ptime` in milliseconds, fractional for AES67 (`0.125`).
fn ptime(value: &str) -> Result<Duration, SdpError> {
    let ms: f64 = value.parse().map_err(|_| invalid("a=ptime", value))?;
    Duration::try_from_secs_f64(ms / 1000.0)
        .ok()
        .filter(|d| !d.is_zero() && *d <= MAX_PTIME)
        .ok_or_else(|| invalid("a=ptime", value))
}

fn source_filter(value: &str) -> Result<SourceFilter, SdpError> {
    let parsed: sdp_types::SourceFilter = value
        .parse()
        .map_err(|_| invalid("a=source-filter", value))?;
    // Host names would need a resolver, which has no place in the sans-IO core.
    let ip = |a: &SourceFilterAddress| match a {
        SourceFilterAddress::IpAddr(ip) => Ok(*ip),
        SourceFilterAddress::FQDN(_) => Err(invalid(
            "a=source-filter (host names are not supported)",
            value,
        )),
    };
    let destination = match &parsed.destination {
        SourceFilterDestination::Wildcard => None,
        SourceFilterDestination::Address(a) => Some(ip(a)?),
    };
    Ok(SourceFilter {
        include: parsed.mode == sdp_types::SourceFilterMode::Incl,
        destination,
        sources: parsed.sources.iter().map(ip).collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests;
