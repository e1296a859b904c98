//! What `monitor` watches, from its command line: `rtp://` URLs (with port ranges), `.sdp`
//! files, one capture file, or a live interface. Sockets are bound here, with the RTCP port
//! beside each even RTP port, and the formats the SDP files and `--format` declare become
//! payload bindings for the sockets' addresses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use super::live::{InputSocket, SOCKET_BUFFER};
use crate::capture::bindings::PayloadBindings;
use crate::capture::types::SdpSighting;
use crate::net::bind::{bind, ReceiveError};
use crate::net::rtp_url::{RtpUrl, RtpUrlError};
use crate::rtp::payload::PayloadFormat;
use crate::rtp::sdp::{SdpAudioMedia, SdpPayload};

/// Ports one `rtp://` range may span at most.
const MAX_RANGE: u32 = 32_768;

/// What the monitor reads.
#[derive(Debug)]
pub enum Source {
    /// Bound sockets, and what the SDP files and `--format` say their payload types are.
    Live(Vec<InputSocket>, PayloadBindings),
    /// A capture file.
    Capture(PathBuf),
}

/// Why the inputs cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A malformed `rtp://` URL.
    #[error(transparent)]
    Url(#[from] RtpUrlError),
    /// A port range that is not `LOW-HIGH` with LOW ≤ HIGH.
    #[error("invalid port range in '{0}': use LOW-HIGH, e.g. rtp://@:20000-21998 (at most 32,768 ports)")]
    Range(String),
    /// A socket could not be bound or joined.
    #[error(transparent)]
    Bind(#[from] ReceiveError),
    /// An SDP file could not be read or has no audio.
    #[error("{path}: {reason}")]
    Sdp {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A capture mixed with other inputs, or several captures.
    #[error("a capture file is watched on its own: give one capture, or live inputs")]
    MixedCapture,
    /// Nothing to watch.
    #[error("nothing to watch: give rtp:// URLs, .sdp files, a capture file or --interface")]
    Nothing,
}

/// Opens `inputs`; `format` names the dynamic payload types of the `rtp://` inputs, `interface`
/// is where multicast groups are joined.
pub fn open(
    inputs: &[String],
    format: Option<PayloadFormat>,
    interface: Option<&str>,
) -> Result<Source, InputError> {
    let captures: Vec<&String> = inputs
        .iter()
        .filter(|i| crate::capture::is_capture_path(std::path::Path::new(i)))
        .collect();
    match captures.len() {
        0 => {}
        1 if inputs.len() == 1 => return Ok(Source::Capture(PathBuf::from(captures[0]))),
        _ => return Err(InputError::MixedCapture),
    }
    if inputs.is_empty() {
        return Err(InputError::Nothing);
    }
    crate::net::socket::raise_descriptor_limit();
    let mut sockets = Vec::new();
    let mut sightings = Vec::new();
    for input in inputs {
        if input.starts_with("rtp://") {
            for mut url in expand_range(input)? {
                if url.interface.is_none() {
                    url.interface = interface.map(str::to_owned);
                }
                let local = bind_pair(&url, &mut sockets)?;
                if let Some(f) = format {
                    sightings.push(declared(local, dynamic_payloads(f)));
                }
            }
        } else {
            open_sdp(input, interface, &mut sockets, &mut sightings)?;
        }
    }
    Ok(Source::Live(sockets, PayloadBindings::new(sightings, 0)))
}

/// The URLs of `input`: one, or one per even port of a `LOW-HIGH` range.
fn expand_range(input: &str) -> Result<Vec<RtpUrl>, InputError> {
    let (head, ports) = input
        .rsplit_once(':')
        .ok_or_else(|| InputError::Range(input.to_owned()))?;
    let Some((low, high)) = ports.split_once('-') else {
        return Ok(vec![input.parse()?]);
    };
    let bad = || InputError::Range(input.to_owned());
    let (low, high): (u16, u16) = (
        low.parse().map_err(|_| bad())?,
        high.parse().map_err(|_| bad())?,
    );
    if low > high || u32::from(high - low) >= MAX_RANGE {
        return Err(bad());
    }
    (low..=high)
        .filter(|p| p % 2 == 0)
        .map(|p| format!("{head}:{p}").parse().map_err(InputError::from))
        .collect()
}

/// Binds `url`, and its RTCP port (the next one) when its port is even; returns where the RTP
/// socket is bound.
fn bind_pair(url: &RtpUrl, sockets: &mut Vec<InputSocket>) -> Result<SocketAddr, InputError> {
    let granted = AtomicU64::new(0);
    let socket = bind(url, Some(SOCKET_BUFFER), &granted)?;
    let local = url.bind;
    sockets.push(InputSocket { socket, local });
    if local.port() % 2 == 0 {
        let mut rtcp = url.clone();
        rtcp.bind.set_port(local.port() + 1);
        match bind(&rtcp, Some(SOCKET_BUFFER), &granted) {
            Ok(socket) => sockets.push(InputSocket {
                socket,
                local: rtcp.bind,
            }),
            // The RTP figures do not need it: say so and watch without the far end's reports.
            Err(error) => tracing::warn!(%error, "RTCP port not watched"),
        }
    }
    Ok(local)
}

/// Every dynamic payload type as `format` (what `--format` says of unnamed streams).
fn dynamic_payloads(format: PayloadFormat) -> Vec<SdpPayload> {
    (96..=127)
        .map(|pt| SdpPayload {
            pt,
            format: Some(format),
            rtpmap: Some(format.rtpmap()),
            fmtp: None,
        })
        .collect()
}

/// An SDP made up for a socket bound at `local`, naming `payloads`.
fn declared(local: SocketAddr, payloads: Vec<SdpPayload>) -> SdpSighting {
    SdpSighting {
        at: std::time::Duration::ZERO,
        sender: None,
        media: vec![SdpAudioMedia {
            connection: Some(local.ip()),
            port: local.port(),
            payloads,
            srtp: Ok(None),
        }],
    }
}

/// Binds every audio stream of the SDP file `path` and declares its payload types.
fn open_sdp(
    path: &str,
    interface: Option<&str>,
    sockets: &mut Vec<InputSocket>,
    sightings: &mut Vec<SdpSighting>,
) -> Result<(), InputError> {
    let sdp_error = |reason: String| InputError::Sdp {
        path: PathBuf::from(path),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| sdp_error(e.to_string()))?;
    let media = crate::rtp::sdp::audio_media(&text).map_err(|e| sdp_error(e.to_string()))?;
    if media.is_empty() {
        return Err(sdp_error("no audio stream (m=audio line)".into()));
    }
    for m in media {
        let group = m.connection.filter(|ip| ip.is_multicast());
        let url = RtpUrl {
            bind: match group {
                Some(g) => SocketAddr::new(g, m.port),
                None if m.connection.is_some_and(|ip| ip.is_ipv6()) => {
                    SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), m.port)
                }
                None => SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), m.port),
            },
            group,
            source: None,
            interface: interface.map(str::to_owned),
        };
        let local = bind_pair(&url, sockets)?;
        sightings.push(declared(local, m.payloads));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_gives_its_even_ports_and_bad_ranges_are_refused() {
        let urls = expand_range("rtp://@:20000-20007").unwrap();
        let ports: Vec<u16> = urls.iter().map(|u| u.bind.port()).collect();
        assert_eq!(ports, [20000, 20002, 20004, 20006]);
        assert_eq!(expand_range("rtp://@:5004").unwrap().len(), 1);
        assert!(matches!(
            expand_range("rtp://@:6000-5000"),
            Err(InputError::Range(_))
        ));
        assert!(matches!(
            expand_range("rtp://@:1-60000"),
            Err(InputError::Range(_))
        ));
        let group = expand_range("rtp://239.1.2.3:5004-5006").unwrap();
        assert_eq!(group.len(), 2);
        assert!(group[0].group.is_some());
    }
}
