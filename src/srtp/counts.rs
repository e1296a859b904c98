//! What SRTP let through and what it refused, declared once (see [`crate::counters`]).

use crate::counters::{counter_table, Kind::*, Series};

counter_table! {
    /// SRTP's counters, published by the decoder thread, read by every view.
    cells SrtpStats;
    /// A serialisable copy of [`SrtpStats`].
    snapshot SrtpSnapshot {
        /// SRTP and SRTCP packets that authenticated and were decrypted.
        srtp_decrypted: u64 = Count => Series::new(Counter, "srtp_decrypted", "SRTP and SRTCP packets authenticated and decrypted"),
        /// Packets whose authentication tag did not match (wrong key or suite, forged,
        /// corrupted or truncated): never decoded.
        srtp_auth_failed: u64 = Count => Series::new(Counter, "srtp_auth_failed", "SRTP packets that failed authentication (never decoded)"),
        /// Packets already received or older than the replay window: never decoded.
        srtp_replayed: u64 = Count => Series::new(Counter, "srtp_replayed", "SRTP packets refused as replays (never decoded)"),
        /// Packets whose MKI names none of the offered keys.
        srtp_unknown_mki: u64 = Count => Series::new(Counter, "srtp_unknown_mki", "SRTP packets with an MKI naming no known key"),
        /// Packets for which there is no key.
        srtp_no_key: u64 = Count => Series::new(Counter, "srtp_no_key", "SRTP packets with no key to decrypt them"),
    }
}

impl SrtpSnapshot {
    /// Packets refused, whatever the cause.
    pub fn refused(&self) -> u64 {
        self.srtp_auth_failed + self.srtp_replayed + self.srtp_unknown_mki + self.srtp_no_key
    }
}

#[cfg(test)]
mod tests {
    use crate::net::stats::NetStats;

    #[test]
    fn the_network_counters_carry_srtps_to_every_view() {
        let net = NetStats::default();
        net.srtp.srtp_auth_failed.add(3);
        let snapshot = net.snapshot();
        let mut seen = Vec::new();
        snapshot.visit(&mut |series, _| seen.push(series.name));
        for name in [
            "srtp_decrypted",
            "srtp_auth_failed",
            "srtp_replayed",
            "srtp_unknown_mki",
            "srtp_no_key",
        ] {
            assert!(seen.contains(&name), "{name} not exported: {seen:?}");
        }
        let json = serde_json::to_value(snapshot).unwrap();
        assert_eq!(json["srtp_auth_failed"], 3, "{json}");
    }
}
