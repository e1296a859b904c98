//! SDP tests: real ffmpeg output, GStreamer- and AES67-style descriptions, errors, round trips.

use super::*;
use proptest::prelude::*;

// Written by `ffmpeg -f lavfi -i sine=d=0.2 -c:a pcm_s16be -ar 48000 -ac 2 -payload_type 96
// -f rtp -sdp_file l16.sdp rtp://127.0.0.1:5004` (ffmpeg 5.1.9, Debian 12), CRLF kept.
const FFMPEG_L16: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 96\r\nb=AS:1536\r\na=rtpmap:96 L16/48000/2\r\n";
// The same with `-c:a pcm_s24be -payload_type 97`.
const FFMPEG_L24: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 97\r\nb=AS:2304\r\na=rtpmap:97 L24/48000/2\r\n";
// `-af aresample=8000 -c:a pcm_mulaw -ac 1`: static PT 0, no rtpmap.
const FFMPEG_PCMU: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 0\r\nb=AS:64\r\n";
// `-af aresample=8000 -c:a pcm_alaw -ac 1`: static PT 8.
const FFMPEG_PCMA: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 8\r\nb=AS:64\r\n";
// `-c:a mp2`: static PT 14 (the libmp3lame SDP is the same without b=).
const FFMPEG_MP2: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 14\r\nb=AS:384\r\n";
// `-c:a pcm_s16be -ar 44100 -ac 1` without -payload_type: ffmpeg picks static PT 11.
const FFMPEG_L16_MONO: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 11\r\nb=AS:705\r\n";
// `rtp://239.1.2.3:5004?ttl=16`: multicast with TTL.
const FFMPEG_MULTICAST: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 239.1.2.3/16\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 97\r\nb=AS:1536\r\na=rtpmap:97 L16/48000/2\r\n";
// `rtp://[::1]:5004`.
const FFMPEG_IPV6: &str = "v=0\r\no=- 0 0 IN IP6 ::1\r\ns=No Name\r\nc=IN IP6 ::1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 97\r\nb=AS:1536\r\na=rtpmap:97 L16/48000/2\r\n";
// `-c:a libopus` (RFC 7587 Opus; ffmpeg writes no fmtp).
const FFMPEG_OPUS: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5004 RTP/AVP 97\r\nb=AS:64\r\na=rtpmap:97 opus/48000/2\r\n";

// In the shape gst_sdp_message_as_text() writes (gst-rtsp-server, GStreamer 1.22): media-level
// c= with a multicast TTL, a=control, ts-refclk/mediaclk, a source filter, LF endings.
const GSTREAMER: &str = "v=0
o=- 1188340656180883 1 IN IP4 192.168.1.20
s=Session streamed with GStreamer
i=rtsp-server
t=0 0
a=tool:GStreamer
a=type:broadcast
a=control:*
a=range:npt=0-
m=audio 5004 RTP/AVP 96
c=IN IP4 224.2.0.1/127
b=AS:1536
a=rtpmap:96 L16/48000/2
a=control:stream=0
a=ts-refclk:local
a=mediaclk:sender
a=ptime:20
a=source-filter: incl IN IP4 224.2.0.1 192.168.1.20
";

// An AES67 stream: L24, fractional ptime, telephone events beside audio, SSM filter without
// the space after the colon, session-level c=.
const AES67: &str = "v=0
o=- 1 2 IN IP4 192.168.1.10
s=Stage box 1
c=IN IP4 239.69.1.1/32
t=0 0
a=source-filter:incl IN IP4 239.69.1.1 192.168.1.10
m=audio 5004 RTP/AVP 97 101 13
i=Channels 1-2
a=rtpmap:97 L24/48000/2
a=rtpmap:101 telephone-event/48000
a=fmtp:101 0-15
a=ptime:0.125
a=ts-refclk:ptp=IEEE1588-2008:00-11-22-FF-FE-33-44-55:0
a=mediaclk:direct=0
a=recvonly
";

fn l16(rate: u32, channels: u16) -> PayloadFormat {
    PayloadFormat::L16 { rate, channels }
}

#[test]
fn parses_every_ffmpeg_sdp() {
    let local = ConnectionAddress {
        addr: IpAddr::from([127, 0, 0, 1]),
        ttl: None,
    };
    let cases = [
        (FFMPEG_L16, 96, l16(48_000, 2)),
        (
            FFMPEG_L24,
            97,
            PayloadFormat::L24 {
                rate: 48_000,
                channels: 2,
            },
        ),
        (FFMPEG_PCMU, 0, PayloadFormat::Pcmu),
        (FFMPEG_PCMA, 8, PayloadFormat::Pcma),
        (FFMPEG_MP2, 14, PayloadFormat::Mpa),
        (FFMPEG_L16_MONO, 11, l16(44_100, 1)),
    ];
    for (text, pt, format) in cases {
        let s = parse_sdp(text.as_bytes()).unwrap();
        assert_eq!(s.primary(), Some((pt, format)), "{text}");
        assert_eq!((s.connection, s.port), (local, 5004));
        assert_eq!(s.session_name.as_deref(), Some("No Name"));
        assert_eq!(s.origin, Some(local.addr));
        assert_eq!((s.ptime, &s.source_filter), (None, &None));
    }
    let mc = parse_sdp(FFMPEG_MULTICAST.as_bytes()).unwrap();
    assert_eq!(
        mc.connection,
        ConnectionAddress {
            addr: IpAddr::from([239, 1, 2, 3]),
            ttl: Some(16)
        }
    );
    assert!(mc.connection.addr.is_multicast());
    let v6 = parse_sdp(FFMPEG_IPV6.as_bytes()).unwrap();
    assert_eq!(v6.connection.addr, "::1".parse::<IpAddr>().unwrap());
    assert_eq!(v6.primary(), Some((97, l16(48_000, 2))));
}

#[test]
fn parses_gstreamer_style_sdp() {
    let s = parse_sdp(GSTREAMER.as_bytes()).unwrap();
    assert_eq!(s.primary(), Some((96, l16(48_000, 2))));
    assert_eq!(
        s.connection,
        ConnectionAddress {
            addr: IpAddr::from([224, 2, 0, 1]),
            ttl: Some(127)
        }
    );
    assert_eq!(s.ptime, Some(Duration::from_millis(20)));
    let filter = s.source_filter.unwrap();
    assert!(filter.include);
    assert_eq!(filter.destination, Some(IpAddr::from([224, 2, 0, 1])));
    assert_eq!(filter.sources, [IpAddr::from([192, 168, 1, 20])]);
    assert_eq!(
        s.session_name.as_deref(),
        Some("Session streamed with GStreamer")
    );
}

#[test]
fn parses_aes67_sdp() {
    let s = parse_sdp(AES67.as_bytes()).unwrap();
    assert_eq!(
        s.primary(),
        Some((
            97,
            PayloadFormat::L24 {
                rate: 48_000,
                channels: 2
            }
        ))
    );
    assert_eq!(
        s.format_for(101),
        Some(PayloadFormat::TelephoneEvent { rate: 48_000 })
    );
    assert_eq!(
        s.format_for(13),
        Some(PayloadFormat::ComfortNoise { rate: 8000 })
    );
    assert_eq!(s.format_for(55), None);
    assert_eq!(s.payloads[1].fmtp.as_deref(), Some("0-15"));
    assert_eq!(s.ptime, Some(Duration::from_micros(125)));
    assert_eq!(s.connection.ttl, Some(32));
    // The session-level filter applies: the media has none of its own.
    assert_eq!(
        s.source_filter.unwrap().sources,
        [IpAddr::from([192, 168, 1, 10])]
    );
}

#[test]
fn picks_the_first_playable_audio_stream() {
    let text = "v=0\nc=IN IP4 10.0.0.1\nm=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\n\
        m=audio 0 RTP/AVP 0\nm=audio 5002 RTP/SAVP 0\nm=audio 5004 RTP/AVP 97\na=rtpmap:97 opus/48000/2\n\
        m=audio 5006 RTP/AVP 98 0\nc=IN IP4 10.0.0.2\na=rtpmap:98 speex/16000\n";
    let s = parse_sdp(text.as_bytes()).unwrap();
    assert_eq!(
        (s.port, s.primary()),
        (5004, Some((97, PayloadFormat::Opus)))
    );
    assert_eq!(s.connection.addr, IpAddr::from([10, 0, 0, 1]));
    let without_opus = text.replace("opus/48000/2", "G729/8000");
    let s = parse_sdp(without_opus.as_bytes()).unwrap();
    assert_eq!(
        (s.port, s.primary()),
        (5006, Some((0, PayloadFormat::Pcmu)))
    );
    assert_eq!(s.connection.addr, IpAddr::from([10, 0, 0, 2]));
    assert_eq!(s.payloads[0].rtpmap.as_deref(), Some("speex/16000"));
    assert_eq!(s.payloads[0].format, None);
}

#[test]
fn ffmpeg_opus_is_opus() {
    let s = parse_sdp(FFMPEG_OPUS.as_bytes()).unwrap();
    assert_eq!(
        (s.port, s.primary()),
        (5004, Some((97, PayloadFormat::Opus)))
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let err = |t: &str| parse_sdp(t.as_bytes()).unwrap_err();
    assert!(matches!(err("hello"), SdpError::Syntax(_)));
    assert!(matches!(err(""), SdpError::Syntax(_)));
    assert_eq!(
        err("v=0\nc=IN IP4 1.2.3.4\nm=video 5000 RTP/AVP 96\n"),
        SdpError::NoAudio
    );
    let speex = err(&FFMPEG_OPUS.replace("opus/48000/2", "speex/16000"));
    assert_eq!(speex, SdpError::Unsupported("speex/16000 (PT 97)".into()));
    assert!(speex.to_string().contains("jitterplay plays L16"));
    assert_eq!(err("v=0\nm=audio 5004 RTP/AVP 0\n"), SdpError::NoConnection);
    let bad_ptime = "v=0\nc=IN IP4 1.2.3.4\nm=audio 5004 RTP/AVP 0\na=ptime:soon\n";
    assert!(matches!(
        err(bad_ptime),
        SdpError::Invalid {
            what: "a=ptime",
            ..
        }
    ));
    let fqdn = "v=0\nc=IN IP4 1.2.3.4\nm=audio 5004 RTP/AVP 0\na=source-filter: incl IN IP4 * src.example\n";
    assert!(matches!(err(fqdn), SdpError::Invalid { .. }));
    let bad_pt = "v=0\nc=IN IP4 1.2.3.4\nm=audio 5004 RTP/AVP 0 200\n";
    assert!(matches!(
        err(bad_pt),
        SdpError::Invalid {
            what: "m= payload type",
            ..
        }
    ));
    let bad_c = "v=0\nc=IN IP4 not-an-address\nm=audio 5004 RTP/AVP 0\n";
    assert!(matches!(
        err(bad_c),
        SdpError::Invalid {
            what: "c= address",
            ..
        }
    ));
}

#[test]
fn written_sdp_round_trips() {
    let mut unicast = SdpStream::new(
        ConnectionAddress {
            addr: IpAddr::from([127, 0, 0, 1]),
            ttl: None,
        },
        5004,
        96,
        l16(48_000, 2),
    );
    unicast.ptime = Some(Duration::from_millis(20));
    let text = write_sdp(&unicast);
    assert_eq!(
        text,
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=jitterplay\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         a=tool:jitterplay\r\nm=audio 5004 RTP/AVP 96\r\na=rtpmap:96 L16/48000/2\r\na=ptime:20\r\n"
    );
    let back = parse_sdp(text.as_bytes()).unwrap();
    assert_eq!(back.primary(), unicast.primary());
    assert_eq!(
        (back.connection, back.port, back.ptime),
        (unicast.connection, 5004, unicast.ptime)
    );

    let group = IpAddr::from([232, 1, 2, 3]);
    let mut ssm = SdpStream::new(
        ConnectionAddress {
            addr: group,
            ttl: Some(8),
        },
        6000,
        14,
        PayloadFormat::Mpa,
    );
    ssm.session_name = Some("radio".into());
    ssm.origin = Some(IpAddr::from([10, 0, 0, 5]));
    ssm.ptime = Some(Duration::from_micros(125));
    ssm.payloads.push(SdpPayload {
        pt: 101,
        format: Some(PayloadFormat::TelephoneEvent { rate: 8000 }),
        rtpmap: None,
        fmtp: Some("0-15".into()),
    });
    ssm.source_filter = Some(SourceFilter {
        include: true,
        destination: Some(group),
        sources: vec![IpAddr::from([10, 0, 0, 5])],
    });
    let text = write_sdp(&ssm);
    assert!(text.contains("c=IN IP4 232.1.2.3/8\r\n") && text.contains("a=ptime:0.125\r\n"));
    let mut back = parse_sdp(text.as_bytes()).unwrap();
    // rtpmap text is what was read; the written stream had only formats.
    back.payloads.iter_mut().for_each(|p| p.rtpmap = None);
    assert_eq!(back, ssm);

    let v6 = SdpStream::new(
        ConnectionAddress {
            addr: "ff0e::1".parse().unwrap(),
            ttl: None,
        },
        5004,
        0,
        PayloadFormat::Pcmu,
    );
    let text = write_sdp(&v6);
    assert!(text.contains("o=- 0 0 IN IP6 ::\r\n") && text.contains("c=IN IP6 ff0e::1\r\n"));
    assert_eq!(
        parse_sdp(text.as_bytes()).unwrap().connection,
        v6.connection
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_sdp(&bytes);
    }

    #[test]
    fn arbitrary_sdp_like_lines_never_panic(lines in prop::collection::vec(
        ("[vocsmtab]", "[ -~]{0,40}"), 0..20)) {
        let mut text = String::from("v=0\n");
        for (key, value) in &lines {
            text.push_str(&format!("{key}={value}\n"));
        }
        text.push_str("m=audio 5004 RTP/AVP 96 0\n");
        let _ = parse_sdp(text.as_bytes());
    }
}

#[test]
fn rtcp_feedback_and_rtx_attributes_are_read_and_written_back() {
    let text = "v=0\r\no=- 0 0 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n\
        m=audio 5004 RTP/AVPF 96 97\r\na=rtpmap:96 L16/48000/2\r\na=rtpmap:97 rtx/48000\r\n\
        a=fmtp:97 apt=96;rtx-time=3000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n\
        a=rtcp:6000 IN IP4 10.0.0.2\r\na=rtcp-rsize\r\n";
    let s = parse_sdp(text.as_bytes()).unwrap();
    let rtx = RtxPayload {
        pt: 97,
        apt: 96,
        rtx_time: Some(Duration::from_secs(3)),
    };
    assert_eq!(
        s.rtcp,
        RtcpAttributes {
            mux: false,
            port: Some(6000),
            reduced_size: true,
            nack: true,
            rtx: Some(rtx)
        }
    );
    assert_eq!(
        s.primary().map(|p| p.0),
        Some(96),
        "the RTX payload type is not audio"
    );
    let again = parse_sdp(write_sdp(&s).as_bytes()).unwrap();
    assert_eq!(again.rtcp, s.rtcp);
    let written = write_sdp(&s);
    assert!(written.contains("RTP/AVPF 96 97"));
    // ffmpeg lets the last a=rtpmap of a section decide the stream: the audio's comes last.
    let rtx_at = written.find("a=rtpmap:97 rtx/48000").unwrap();
    assert!(
        rtx_at < written.find("a=rtpmap:96 L16/48000/2").unwrap(),
        "{written}"
    );

    let muxed = text
        .replace("a=rtcp:6000 IN IP4 10.0.0.2", "a=rtcp-mux")
        .replace("a=rtcp-fb:96 nack\r\n", "");
    let m = parse_sdp(muxed.as_bytes()).unwrap();
    assert!(m.rtcp.mux && !m.rtcp.nack && m.rtcp.port.is_none());
    assert!(parse_sdp(write_sdp(&m).as_bytes()).unwrap().rtcp.mux);
}

const KEY30: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";

#[test]
fn an_srtp_stream_takes_the_first_a_crypto_line_it_can_use() {
    use crate::srtp::Suite;
    let text = format!(
        "v=0\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/SAVP 0\n\
         a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY30}\n\
         a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}|2^20|1:4\n"
    );
    let sdp = parse_sdp(text.as_bytes()).unwrap();
    let srtp = sdp.srtp.expect("SRTP keying");
    assert_eq!((srtp.tag, srtp.suite), (2, Suite::AesCm128HmacSha1_32));
    assert_eq!(srtp.keys[0].mki.map(|m| m.len), Some(4));
}

#[test]
fn ffmpegs_a_crypto_under_rtp_avp_is_srtp_too() {
    let text = format!(
        "v=0\nc=IN IP4 127.0.0.1\nm=audio 5004 RTP/AVP 96\na=rtpmap:96 L16/48000/1\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}\n"
    );
    assert!(parse_sdp(text.as_bytes()).unwrap().srtp.is_some());
    let plain = "v=0\nc=IN IP4 127.0.0.1\nm=audio 5004 RTP/AVP 0\n";
    assert!(parse_sdp(plain.as_bytes()).unwrap().srtp.is_none());
}

#[test]
fn srtp_without_a_usable_key_is_explained_without_showing_keys() {
    let dtls = "v=0\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/SAVPF 0\n";
    let err = parse_sdp(dtls.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("no a=crypto key"), "{err}");
    let short = "v=0\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/SAVP 0\n\
                 a=crypto:1 AEAD_AES_256_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n";
    let err = parse_sdp(short.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("44 bytes"), "{err}");
    assert!(!err.contains("AAECAwQF"), "{err}");
}

#[test]
fn an_srtp_stream_written_reads_back_with_its_key() {
    let mut stream = SdpStream::new(
        ConnectionAddress {
            addr: "127.0.0.1".parse().unwrap(),
            ttl: None,
        },
        5004,
        0,
        PayloadFormat::Pcmu,
    );
    stream.srtp = Some(crate::srtp::SrtpKeying::generate(
        crate::srtp::Suite::AeadAes256Gcm,
    ));
    let text = write_sdp(&stream);
    assert!(text.contains("m=audio 5004 RTP/SAVP 0"), "{text}");
    assert_eq!(parse_sdp(text.as_bytes()).unwrap().srtp, stream.srtp);
}
