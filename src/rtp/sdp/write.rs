//! Writing an SDP for a stream jitterplay sends, in the shape ffmpeg and GStreamer read.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::SdpStream;

/// Writes `stream` as an SDP file (CRLF line endings, as RFC 8866 asks).
///
/// Every payload type gets an `a=rtpmap`, static ones included: GStreamer's sdpdemux and
/// ffmpeg both read it, and it spares readers the static table. IPv4 multicast addresses carry
/// their TTL (RFC 8866 requires one; 1, link-local, when none is given); IPv6 has no TTL in SDP.
pub fn write_sdp(stream: &SdpStream) -> String {
    let family = |a: IpAddr| if a.is_ipv4() { "IP4" } else { "IP6" };
    let conn = stream.connection;
    // o= wants the originator's unicast address; the sans-IO core does not know the local one,
    // so use the destination when it is unicast (as ffmpeg does), else the unspecified address.
    let origin = stream.origin.unwrap_or(if conn.addr.is_multicast() {
        match conn.addr {
            IpAddr::V4(_) => IpAddr::from([0, 0, 0, 0]),
            IpAddr::V6(_) => IpAddr::from([0u16; 8]),
        }
    } else {
        conn.addr
    });
    let address = match conn.addr {
        IpAddr::V4(a) if a.is_multicast() => format!("{a}/{}", conn.ttl.unwrap_or(1)),
        a => a.to_string(),
    };
    let name = stream.session_name.as_deref().unwrap_or("jitterplay");
    let pts: Vec<String> = stream.payloads.iter().map(|p| p.pt.to_string()).collect();

    let mut sdp = String::new();
    // Writing into a String cannot fail.
    let mut line = |text: std::fmt::Arguments<'_>| {
        let _ = sdp.write_fmt(text);
        sdp.push_str("\r\n");
    };
    line(format_args!("v=0"));
    line(format_args!(
        "o=- {} 0 IN {} {origin}",
        stream.session_id,
        family(origin)
    ));
    line(format_args!("s={name}"));
    line(format_args!("c=IN {} {address}", family(conn.addr)));
    line(format_args!("t=0 0"));
    line(format_args!("a=tool:jitterplay"));
    // Feedback needs the AVPF profile (RFC 4585); ffmpeg and GStreamer read both.
    let profile = match (stream.rtcp.nack, stream.srtp.is_some()) {
        (true, false) => "RTP/AVPF",
        (false, false) => "RTP/AVP",
        (true, true) => "RTP/SAVPF",
        (false, true) => "RTP/SAVP",
    };
    line(format_args!(
        "m=audio {} {profile} {}",
        stream.port,
        pts.join(" ")
    ));
    // ffmpeg applies every a=rtpmap of a media section to its one stream, the last one winning:
    // retransmission payload types (rtx/…, no channel count) go first so the audio's is last.
    let is_rtx = |p: &&super::SdpPayload| {
        p.rtpmap
            .as_deref()
            .is_some_and(|r| r.to_ascii_lowercase().starts_with("rtx/"))
    };
    let ordered = stream
        .payloads
        .iter()
        .filter(is_rtx)
        .chain(stream.payloads.iter().filter(|p| !is_rtx(p)));
    for p in ordered {
        if let Some(rtpmap) = p.format.map(|f| f.rtpmap()).or_else(|| p.rtpmap.clone()) {
            line(format_args!("a=rtpmap:{} {rtpmap}", p.pt));
        }
        if let Some(fmtp) = &p.fmtp {
            line(format_args!("a=fmtp:{} {fmtp}", p.pt));
        }
    }
    if let Some(srtp) = &stream.srtp {
        // The key itself: this file is how the receiver gets it (keep it private).
        line(format_args!("a=crypto:{}", srtp.crypto_attribute()));
    }
    if let Some(ptime) = stream.ptime {
        // Whole milliseconds print without a fraction ("20"); AES67's 125 µs prints as "0.125".
        line(format_args!("a=ptime:{}", ptime.as_nanos() as f64 / 1e6));
    }
    for attr in stream.rtcp.lines() {
        line(format_args!("a={attr}"));
    }
    if let Some(refclk) = &stream.ts_refclk {
        line(format_args!("a=ts-refclk:{refclk}"));
    }
    if let Some(mediaclk) = &stream.mediaclk {
        line(format_args!("a=mediaclk:{mediaclk}"));
    }
    if let Some(filter) = &stream.source_filter {
        let mode = if filter.include { "incl" } else { "excl" };
        let dest = filter
            .destination
            .map_or_else(|| "*".to_owned(), |d| d.to_string());
        let family = filter.sources.first().map_or("*", |&s| family(s));
        let sources: Vec<String> = filter.sources.iter().map(IpAddr::to_string).collect();
        line(format_args!(
            "a=source-filter: {mode} IN {family} {dest} {}",
            sources.join(" ")
        ));
    }
    sdp
}
