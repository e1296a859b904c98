//! What never reached the jitter buffer or the decoder, counted by the receive core.

use crate::counters::{counter_table, Kind::*, Series};

counter_table! {
    /// Lock-free copies of [`ReceiveCounts`] for views on other threads.
    cells ReceiveCells;
    /// Counts of what never reached the jitter buffer or the decoder.
    snapshot ReceiveCounts {
        /// Datagrams that were not valid RTP (exported with the stream's drops).
        malformed: u64 = Count => Series::HIDDEN,
        /// Packets of another payload type (exported with the stream's drops).
        unexpected_pt: u64 = Count => Series::HIDDEN,
        /// Comfort noise packets.
        comfort_noise: u64 = Count => Series::new(Counter, "comfort_noise_packets", "Comfort noise packets"),
        /// Telephone event packets.
        telephone_events: u64 = Count => Series::new(Counter, "telephone_event_packets", "Telephone event packets"),
        /// Payloads the decoder rejected (concealed instead), and comfort noise or
        /// telephone-event payloads that could not be read (ignored).
        decode_errors: u64 = Count => Series::new(Counter, "decode_errors", "Payloads the decoder rejected (concealed instead)"),
        /// Gaps in the audio where a non-audio packet (comfort noise, event, other payload
        /// type) took the sequence number: played as what they signal (tone, noise) or
        /// silence, not counted as lost.
        non_audio_gaps: u64 = Count => Series::new(Counter, "non_audio_gaps", "Sequence gaps taken by non-audio packets (not losses)"),
    }
}
