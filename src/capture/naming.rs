//! Naming a stream's payload types: from the SDP in force for the stream's endpoints, the RFC
//! 3551 static table, a capture-wide guess from another call's SDP, or the packets' shape
//! (RFC 4733 events sent without SDP).

use std::net::SocketAddr;
use std::time::Duration;

use super::bindings::{PayloadBindings, Scope};
use super::reader::Datagram;
use super::types::{NamedBy, PayloadRole, PayloadUse};
use crate::rtp::header::RtpHeader;
use crate::rtp::payload::PayloadFormat;

/// Where and when a payload type was first used in a stream, and how often.
#[derive(Debug, Clone, Copy)]
pub struct FirstUse {
    /// Sender.
    pub src: Option<SocketAddr>,
    /// Receiver.
    pub dst: Option<SocketAddr>,
    /// Capture time of the stream's first packet of this payload type: the mapping in force
    /// then is the one that names it.
    pub at: Duration,
    /// Packets of the stream carrying it.
    pub packets: u64,
}

/// Names payload type `pt`: from the SDP in force for the stream's endpoints when it was first
/// used, else the static table, else a capture-wide SDP guess, else its packets' shape.
pub fn name_payload<'a>(
    pt: u8,
    first: FirstUse,
    bindings: &PayloadBindings,
    stream: impl Iterator<Item = &'a Datagram>,
) -> PayloadUse {
    let FirstUse {
        src,
        dst,
        at,
        packets,
    } = first;
    let use_of =
        |name: String, role, named_by, format: Option<PayloadFormat>, clock_rate| PayloadUse {
            pt,
            name,
            role,
            named_by,
            packets,
            format,
            clock_rate,
        };
    let signalled = bindings.lookup(src, dst, pt, at);
    // A static payload type means what the table says unless the stream's own SDP remaps it;
    // another call's SDP is no reason to doubt the table.
    let signalled = signalled.filter(|(_, scope)| {
        *scope == Scope::Endpoint || PayloadFormat::from_static_pt(pt).is_none()
    });
    if let Some((p, scope)) = signalled {
        let rtpmap = p.rtpmap.clone();
        let clock = rtpmap
            .as_deref()
            .and_then(|m| m.split('/').nth(1)?.parse().ok())
            .or(p.format.map(|f| f.clock_rate()));
        let name = rtpmap.unwrap_or_else(|| p.format.map_or(format!("PT {pt}"), |f| f.rtpmap()));
        return use_of(
            name.clone(),
            role_of(p.format, &name),
            match scope {
                Scope::Endpoint => NamedBy::Sdp,
                Scope::CaptureWide => NamedBy::Guess,
            },
            p.format,
            clock,
        );
    }
    if let Some(f) = PayloadFormat::from_static_pt(pt) {
        return use_of(
            f.rtpmap(),
            role_of(Some(f), ""),
            NamedBy::Static,
            Some(f),
            Some(f.clock_rate()),
        );
    }
    if let Some((name, clock)) = unsupported_static(pt) {
        return use_of(
            name.into(),
            PayloadRole::UnsupportedAudio,
            NamedBy::Static,
            None,
            Some(clock),
        );
    }
    if looks_like_telephone_events(pt, stream) {
        // RFC 4733 events run on the audio's clock, which nothing here names: no clock rate
        // is better than an assumed one.
        let f = PayloadFormat::TelephoneEvent { rate: 8000 };
        return use_of(
            "telephone-event".into(),
            PayloadRole::TelephoneEvent,
            NamedBy::Guess,
            Some(f),
            None,
        );
    }
    use_of(
        format!("dynamic {pt}"),
        PayloadRole::Unknown,
        NamedBy::Nothing,
        None,
        None,
    )
}

fn role_of(format: Option<PayloadFormat>, name: &str) -> PayloadRole {
    match format {
        Some(PayloadFormat::TelephoneEvent { .. }) => PayloadRole::TelephoneEvent,
        Some(PayloadFormat::ComfortNoise { .. }) => PayloadRole::ComfortNoise,
        Some(_) => PayloadRole::Audio,
        None => {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("telephone-event") {
                PayloadRole::TelephoneEvent
            } else if lower.starts_with("cn/") {
                PayloadRole::ComfortNoise
            } else {
                PayloadRole::UnsupportedAudio
            }
        }
    }
}

/// Static audio payload types (RFC 3551 table 4) that jitterplay does not decode.
fn unsupported_static(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        3 => ("GSM/8000", 8000),
        4 => ("G723/8000", 8000),
        5 => ("DVI4/8000", 8000),
        6 => ("DVI4/16000", 16000),
        7 => ("LPC/8000", 8000),
        9 => ("G722/8000", 8000),
        12 => ("QCELP/8000", 8000),
        15 => ("G728/8000", 8000),
        16 => ("DVI4/11025", 11025),
        17 => ("DVI4/22050", 22050),
        18 => ("G729/8000", 8000),
        _ => return None,
    })
}

/// RFC 4733 events without SDP: every payload 4 bytes, and an event's packets share their
/// timestamp (updates and the three end packets) or carry the end bit.
fn looks_like_telephone_events<'a>(pt: u8, stream: impl Iterator<Item = &'a Datagram>) -> bool {
    let mut timestamps = std::collections::HashSet::new();
    let mut repeated_or_ended = false;
    for d in stream {
        let Ok(h) = RtpHeader::parse(&d.payload) else {
            continue;
        };
        if h.payload_type != pt {
            continue;
        }
        let payload = h.payload(&d.payload);
        if payload.len() != 4 {
            return false;
        }
        repeated_or_ended |= payload[1] & 0x80 != 0 || !timestamps.insert(h.timestamp);
    }
    repeated_or_ended
}
