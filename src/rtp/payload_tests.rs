//! Tests of `PayloadFormat`: static PTs, `--format` strings, rtpmap, packet sizes.

use super::*;

#[test]
fn static_payload_types() {
    assert_eq!(PayloadFormat::from_static_pt(0), Some(PayloadFormat::Pcmu));
    assert_eq!(PayloadFormat::from_static_pt(8), Some(PayloadFormat::Pcma));
    let l16_stereo = PayloadFormat::from_static_pt(10).unwrap();
    assert_eq!(
        l16_stereo,
        PayloadFormat::L16 {
            rate: 44_100,
            channels: 2
        }
    );
    assert_eq!(l16_stereo.static_pt(), Some(10));
    assert_eq!(
        PayloadFormat::from_static_pt(11).unwrap().channels(),
        Some(1)
    );
    let cn = PayloadFormat::from_static_pt(13).unwrap();
    assert!(!cn.is_audio());
    assert_eq!(cn.clock_rate(), 8000);
    let mpa = PayloadFormat::from_static_pt(14).unwrap();
    assert_eq!(
        (mpa.clock_rate(), mpa.sample_rate(), mpa.channels()),
        (90_000, None, None)
    );
    for pt in [1, 3, 9, 96, 127] {
        assert_eq!(PayloadFormat::from_static_pt(pt), None, "pt {pt}");
    }
    for pt in [0, 8, 10, 11, 13, 14] {
        assert_eq!(
            PayloadFormat::from_static_pt(pt).unwrap().static_pt(),
            Some(pt)
        );
    }
}

#[test]
fn parses_format_strings() {
    let l16: PayloadFormat = "l16/48000/2".parse().unwrap();
    assert_eq!(
        l16,
        PayloadFormat::L16 {
            rate: 48_000,
            channels: 2
        }
    );
    assert_eq!(l16.static_pt(), None);
    assert_eq!(
        "L24/96000".parse(),
        Ok(PayloadFormat::L24 {
            rate: 96_000,
            channels: 1
        })
    );
    assert_eq!("pcmu".parse(), Ok(PayloadFormat::Pcmu));
    assert_eq!("pcma/8000/1".parse(), Ok(PayloadFormat::Pcma));
    assert_eq!("mpa".parse(), Ok(PayloadFormat::Mpa));
    assert_eq!("cn".parse(), Ok(PayloadFormat::ComfortNoise { rate: 8000 }));
    assert_eq!(
        "telephone-event/48000".parse(),
        Ok(PayloadFormat::TelephoneEvent { rate: 48_000 })
    );
}

#[test]
fn rejects_bad_format_strings_with_clear_errors() {
    let err = |s: &str| s.parse::<PayloadFormat>().unwrap_err();
    assert_eq!(err("l16"), PayloadFormatError::MissingRate("l16"));
    assert!(err("speex/16000")
        .to_string()
        .contains("unknown payload format"));
    assert_eq!("opus/48000/2".parse(), Ok(PayloadFormat::Opus));
    assert_eq!("opus".parse(), Ok(PayloadFormat::Opus));
    assert!(err("opus/44100").to_string().contains("opus/48000/2"));
    assert!(err("opus/48000/1").to_string().contains("opus/48000/2"));
    assert!(matches!(
        err("l16/fast"),
        PayloadFormatError::InvalidNumber { what: "rate", .. }
    ));
    assert!(matches!(
        err("l16/48000/x"),
        PayloadFormatError::InvalidNumber { .. }
    ));
    assert_eq!(
        err("l16/48000/0"),
        PayloadFormatError::ChannelsOutOfRange(0)
    );
    assert_eq!(
        err("l16/48000/65"),
        PayloadFormatError::ChannelsOutOfRange(65)
    );
    assert_eq!(err("l16/10"), PayloadFormatError::RateOutOfRange(10));
    assert!(matches!(
        err("pcmu/16000"),
        PayloadFormatError::FixedParameters { .. }
    ));
    assert!(matches!(
        err("pcma/8000/2"),
        PayloadFormatError::FixedParameters { .. }
    ));
    assert!(matches!(
        err("mpa/44100"),
        PayloadFormatError::FixedParameters { .. }
    ));
    assert!(matches!(
        err("l16/48000/2/x"),
        PayloadFormatError::TooManyFields(_)
    ));
    assert!(matches!(err(""), PayloadFormatError::UnknownEncoding(_)));
    assert!(matches!(
        err("l16/99999999999"),
        PayloadFormatError::InvalidNumber { .. }
    ));
}

#[test]
fn display_round_trips() {
    let all = [
        PayloadFormat::L16 {
            rate: 48_000,
            channels: 2,
        },
        PayloadFormat::L24 {
            rate: 44_100,
            channels: 6,
        },
        PayloadFormat::Pcmu,
        PayloadFormat::Pcma,
        PayloadFormat::Mpa,
        PayloadFormat::ComfortNoise { rate: 16_000 },
        PayloadFormat::TelephoneEvent { rate: 8_000 },
    ];
    for f in all {
        assert_eq!(f.to_string().parse(), Ok(f), "{f}");
        let rtpmap = f.rtpmap();
        let mut parts = rtpmap.split('/');
        let name = parts.next().unwrap();
        let clock: u32 = parts.next().unwrap().parse().unwrap();
        assert_eq!(
            PayloadFormat::from_rtpmap(name, clock, parts.next()),
            Ok(f),
            "{rtpmap}"
        );
    }
}

#[test]
fn rtpmap_strings() {
    assert_eq!(
        PayloadFormat::L16 {
            rate: 48_000,
            channels: 2
        }
        .rtpmap(),
        "L16/48000/2"
    );
    assert_eq!(PayloadFormat::Pcmu.rtpmap(), "PCMU/8000");
    assert_eq!(PayloadFormat::Pcma.rtpmap(), "PCMA/8000");
    assert_eq!(PayloadFormat::Mpa.rtpmap(), "MPA/90000");
    assert_eq!(
        PayloadFormat::TelephoneEvent { rate: 8000 }.rtpmap(),
        "telephone-event/8000"
    );
    // SDP writers vary in case and in what they put after MPA's clock rate.
    assert_eq!(
        PayloadFormat::from_rtpmap("mpa", 90_000, Some("2")),
        Ok(PayloadFormat::Mpa)
    );
    assert_eq!(
        PayloadFormat::from_rtpmap("TELEPHONE-EVENT", 48_000, None),
        Ok(PayloadFormat::TelephoneEvent { rate: 48_000 })
    );
}

#[test]
fn packet_sizes() {
    let l16 = PayloadFormat::L16 {
        rate: 48_000,
        channels: 2,
    };
    assert_eq!(l16.samples_per_packet(3840), Some(960));
    assert_eq!(l16.samples_per_packet(3841), None);
    assert_eq!(
        PayloadFormat::L24 {
            rate: 48_000,
            channels: 2
        }
        .samples_per_packet(1440),
        Some(240)
    );
    assert_eq!(PayloadFormat::Pcmu.samples_per_packet(160), Some(160));
    assert_eq!(PayloadFormat::Mpa.samples_per_packet(400), None);
    assert_eq!(l16.frames_per_ptime(Duration::from_millis(20)), Some(960));
    let cd = PayloadFormat::L16 {
        rate: 44_100,
        channels: 2,
    };
    assert_eq!(cd.frames_per_ptime(Duration::from_millis(20)), Some(882));
    assert_eq!(
        PayloadFormat::Pcma.frames_per_ptime(Duration::from_millis(30)),
        Some(240)
    );
    assert_eq!(
        PayloadFormat::Mpa.frames_per_ptime(Duration::from_millis(20)),
        None
    );
}
