//! What a sender's RTCP session counted (reports, NACKs, retransmissions).

/// What the session did, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SenderRtcpCounts {
    /// NACKed sequence numbers of our stream.
    pub nacks_received: u64,
    /// NACK entries about another media SSRC (ignored).
    pub foreign_nacks: u64,
    /// Retransmissions sent.
    pub retransmitted: u64,
    /// Bytes of those retransmissions.
    pub retransmitted_bytes: u64,
    /// NACKed packets no longer (or never) in the history.
    pub not_in_history: u64,
    /// NACKed packets not resent because the retransmission budget was spent.
    pub rate_limited: u64,
    /// NACKs for a packet already queued or just retransmitted (answered once).
    pub repeated_nacks: u64,
    /// NACKed packets dropped because too many were waiting.
    pub pending_overflow: u64,
    /// Reports (SR or RR, with SDES) sent, the BYE included.
    pub reports_sent: u64,
    /// RTCP datagrams received.
    pub rtcp_received: u64,
    /// RTCP datagrams that did not parse (what parsed before the fault was used).
    pub malformed: u64,
    /// Report blocks about another SSRC.
    pub foreign_reports: u64,
    /// BYEs from other participants.
    pub receiver_byes: u64,
    /// Datagrams given to `on_rtp_sent` that were not RTP (not stored).
    pub not_rtp: u64,
    /// Reports that could not be written (counted, skipped until the next interval).
    pub write_errors: u64,
}
