//! Property tests: the Opus payload path takes any bytes without panicking, and every loss
//! fill has exactly the length asked for.

use proptest::prelude::*;

use crate::codec::rtp_decoder::RtpDecoder;
use crate::rtp::payload::PayloadFormat;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_payloads_never_panic(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1500), 1..6),
        lost in 1usize..20_000,
    ) {
        let mut decoder = RtpDecoder::new(&PayloadFormat::Opus).unwrap();
        let mut out = Vec::new();
        for p in &payloads {
            let before = out.len();
            match decoder.decode(p, &mut out) {
                Ok(frames) => prop_assert_eq!(out.len() - before, frames * 2),
                Err(_) => prop_assert_eq!(out.len(), before),
            }
            for next in [Some(p.as_slice()), None] {
                let before = out.len();
                match decoder.fill_loss(lost, next, &mut out) {
                    Some(Ok(_)) => prop_assert_eq!(out.len() - before, lost * 2),
                    Some(Err(_)) => prop_assert_eq!(out.len(), before),
                    None => prop_assert!(false, "Opus fills its own losses"),
                }
            }
            out.clear();
        }
    }
}
