//! Tests of the capture reader: timestamp units and time jumps.

use super::*;

#[test]
fn pcapng_timestamp_resolutions_are_exact() {
    let micros = TsResolution::from_option(6);
    assert_eq!(
        micros.duration(1_700_000_000_250_001),
        Duration::new(1_700_000_000, 250_001_000)
    );
    let nanos = TsResolution::from_option(9);
    assert_eq!(
        nanos.duration(1_700_000_000_000_000_007),
        Duration::new(1_700_000_000, 7)
    );
    let binary = TsResolution::from_option(0x80 | 10);
    assert_eq!(
        binary.duration(1024 * 3 + 512),
        Duration::new(3, 500_000_000)
    );
}

#[test]
fn an_rtpdump_record_flipped_weeks_ahead_is_skipped_both_ways() {
    // Records every 20 ms; bit 31 of record 3's millisecond offset flipped (24.8 days).
    let mut f = b"#!rtpplay1.0 127.0.0.1/5004\n".to_vec();
    f.extend_from_slice(&[0u8; 16]);
    for k in 0..5u32 {
        let ms = if k == 2 { (k * 20) | 1 << 31 } else { k * 20 };
        f.extend_from_slice(&(8 + 12u16).to_be_bytes());
        f.extend_from_slice(&12u16.to_be_bytes());
        f.extend_from_slice(&ms.to_be_bytes());
        f.extend_from_slice(&[0x80; 12]);
    }
    let capture = read_capture_bytes(&f).unwrap();
    let arrivals: Vec<u128> = capture.datagrams.iter().map(|d| d.at.as_millis()).collect();
    assert_eq!(arrivals, [0, 20, 20, 20, 40]);
    let segments: Vec<u64> = capture.datagrams.iter().map(|d| d.segment).collect();
    assert_eq!(segments, [0, 0, 1, 2, 2]);
    let jumps = &capture.time_jumps;
    let records: Vec<u64> = jumps.listed.iter().map(|j| j.record).collect();
    assert_eq!((jumps.skipped, records), (2, vec![3, 4]));
    assert!(
        (jumps.listed[0].jump_s - 2_147_483.668).abs() < 1e-9,
        "{jumps:?}"
    );
}
