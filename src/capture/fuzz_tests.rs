//! Arbitrary bytes through every capture parser: nothing input can reach may panic.

use std::time::Duration;

use proptest::prelude::*;

use super::link::{Link, UdpExtractor};
use super::reader::{Capture, CaptureKind, Datagram};
use super::{analyse, rtpdump};

fn arbitrary_rtpish() -> impl Strategy<Value = Vec<u8>> {
    // Mostly version-2 headers so the RTP, RTCP and event paths are reached, not only rejected.
    (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(first, rest)| {
        let mut p = vec![0x80 | (first & 0x3F)];
        p.extend(rest);
        p
    })
}

proptest! {
    #[test]
    fn frames_of_any_link_never_panic(frame in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut x = UdpExtractor::default();
        for link in [Link::Ethernet, Link::LinuxSll, Link::LinuxSll2, Link::Null, Link::RawIp] {
            let _ = x.frame(link, Duration::ZERO, &frame);
        }
        let _ = x.counts();
    }

    #[test]
    fn pcap_and_pcapng_files_of_any_records_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..400),
        link in prop_oneof![Just(1u32), Just(113), Just(276), Just(101), Just(0)],
        case in any::<u64>(),
    ) {
        let dir = std::env::temp_dir().join(format!("jitterplay-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A valid little-endian pcap header with the given link type, then arbitrary records.
        let mut pcap = vec![0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        pcap.extend_from_slice(&65535u32.to_le_bytes());
        pcap.extend_from_slice(&link.to_le_bytes());
        pcap.extend_from_slice(&body);
        let path = dir.join(format!("{case}.pcap"));
        std::fs::write(&path, &pcap).unwrap();
        if let Ok(capture) = super::read_capture(&path) {
            let _ = analyse(&capture);
        }
        // The same bytes behind a pcapng section header.
        let mut ng = vec![0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0];
        ng.extend_from_slice(&u64::MAX.to_le_bytes());
        ng.extend_from_slice(&28u32.to_le_bytes());
        ng.extend_from_slice(&body);
        std::fs::write(&path, &ng).unwrap();
        if let Ok(capture) = super::read_capture(&path) {
            let _ = analyse(&capture);
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn rtpdump_of_any_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut file = b"#!rtpplay1.0 10.0.0.1/5004\n".to_vec();
        file.extend(body);
        let _ = rtpdump::parse(&file);
    }

    #[test]
    fn analysing_any_datagrams_never_panics(
        payloads in proptest::collection::vec(arbitrary_rtpish(), 0..60),
        ports in proptest::collection::vec(0u16..3, 60),
    ) {
        let datagrams = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| Datagram {
                at: Duration::from_millis(i as u64 * 7),
                segment: 0,
                src: Some(std::net::SocketAddr::from(([10, 0, 0, 1], 4000 + ports[i]))),
                dst: Some(std::net::SocketAddr::from(([10, 0, 0, 2], 6000))),
                payload,
                rtcp_hint: false,
            })
            .collect();
        let capture = Capture {
            kind: CaptureKind::Pcap,
            records: 0,
            datagrams,
            sip_over_tcp: Vec::new(),
            frames: Default::default(),
            unsupported_link: 0,
            truncated: None,
            time_jumps: crate::capture::TimeJumps::none(crate::capture::DEFAULT_IDLE_TIMEOUT),
            srtp: Vec::new(),
        };
        let report = analyse(&capture);
        let _ = super::table::report_text(&report);
        for n in 0..=report.streams.len() + 1 {
            let _ = super::select(
                std::path::Path::new("x.pcap"),
                &capture,
                &report,
                super::Selector::Index(n),
                None,
            );
        }
    }
}
