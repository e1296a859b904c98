//! What a finished `send` did: the summary line's fields, RTCP's included.

use std::fmt;
use std::time::Duration;

use super::send_rtcp::RtcpSummary;
use crate::netem::queue::ImpairCounts;

/// What a finished (or stopped) send did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendReport {
    /// RTP packets produced.
    pub packets: u64,
    /// Datagrams that left the socket (after impairment: minus dropped, plus duplicates).
    pub datagrams: u64,
    /// Datagrams the socket refused (logged).
    pub send_errors: u64,
    /// What the impairment did, when one was applied.
    pub impairment: Option<ImpairCounts>,
    /// Impaired copies still held when sending was stopped, never sent.
    pub discarded: u64,
    /// Audio sent, for PCM formats.
    pub audio: Option<Duration>,
    /// Wall time from the first packet's schedule to the end.
    pub elapsed: Duration,
    /// Whether the stop future (Ctrl-C) ended it.
    pub interrupted: bool,
    /// What RTCP told and did (`None` with RTCP off).
    pub rtcp: Option<RtcpSummary>,
    /// With SRTP: the suite, and the SRTCP packets from the receiver that failed
    /// authentication (never read).
    pub srtp: Option<(crate::srtp::Suite, u64)>,
}

impl fmt::Display for SendReport {
    /// One line: `sent packets=50 datagrams=45 dropped=5 ... elapsed=1.000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent packets={} datagrams={} {}",
            self.packets,
            self.datagrams,
            self.impairment.unwrap_or_default()
        )?;
        if self.discarded > 0 {
            write!(f, " discarded={}", self.discarded)?;
        }
        if self.send_errors > 0 {
            write!(f, " errors={}", self.send_errors)?;
        }
        if let Some(audio) = self.audio {
            write!(f, " audio={:.3}s", audio.as_secs_f64())?;
        }
        if let Some(rtcp) = &self.rtcp {
            write_rtcp(f, rtcp)?;
        }
        if let Some((suite, refused)) = self.srtp {
            write!(f, " srtp={suite} srtcp_refused={refused}")?;
        }
        write!(f, " elapsed={:.3}s", self.elapsed.as_secs_f64())?;
        if self.interrupted {
            f.write_str(" (interrupted)")?;
        }
        Ok(())
    }
}

/// The RTCP fields: what the receiver reported (`rx_…`, `rtt_ms`; `-` before any report) and
/// how NACKs were answered.
fn write_rtcp(f: &mut fmt::Formatter<'_>, rtcp: &RtcpSummary) -> fmt::Result {
    let c = &rtcp.counts;
    write!(
        f,
        " rtcp_sent={} rtcp_received={}",
        c.reports_sent, c.rtcp_received
    )?;
    match &rtcp.receiver {
        Some(v) => {
            write!(
                f,
                " rx_reports={} rx_fraction_lost={:.3} rx_lost={} rx_jitter_ms={:.2}",
                v.reports, v.fraction_lost, v.cumulative_lost, v.jitter_ms
            )?;
            match v.rtt {
                Some(rtt) => write!(f, " rtt_ms={:.1}", rtt.as_secs_f64() * 1000.0)?,
                None => f.write_str(" rtt_ms=-")?,
            }
        }
        None => f.write_str(" rx_reports=0 rtt_ms=-")?,
    }
    write!(
        f,
        " nacks={} retransmitted={} retransmitted_bytes={} not_in_history={} rate_limited={}",
        c.nacks_received, c.retransmitted, c.retransmitted_bytes, c.not_in_history, c.rate_limited
    )?;
    write!(
        f,
        " rtcp_malformed={} foreign_reports={} foreign_nacks={}",
        c.malformed, c.foreign_reports, c.foreign_nacks
    )
}

/// Where a running send is, for a status line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendProgress {
    /// Time since the first packet's schedule.
    pub elapsed: Duration,
    /// RTP packets produced.
    pub packets: u64,
    /// What RTCP has told so far (`None` with RTCP off).
    pub rtcp: Option<RtcpSummary>,
}
