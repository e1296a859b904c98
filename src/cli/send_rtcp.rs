//! `send`'s RTCP and retransmission options, and the status line of what the receiver reports.

use std::time::Duration;

use clap::Args;

use super::duration::parse_duration;
use crate::net::send_report::SendProgress;
use crate::net::send_rtcp::{RtcpSendOptions, DEFAULT_RTX_PT};

/// RTCP options of `send`.
#[derive(Debug, Args)]
pub struct RtcpSendArgs {
    /// No RTCP at all: no reports, no BYE, no retransmission (send as it was before RTCP).
    #[arg(long)]
    pub no_rtcp: bool,
    /// Send and receive RTCP on the RTP port (RFC 5761) instead of port + 1.
    #[arg(long, conflicts_with = "no_rtcp")]
    pub rtcp_mux: bool,
    /// Do not answer NACKs (no history is kept; the SDP offers no NACK or RTX).
    #[arg(long, conflicts_with = "no_rtcp")]
    pub no_nack: bool,
    /// Answer NACKs by resending the packet on the media SSRC instead of RFC 4588 RTX.
    #[arg(long, conflicts_with_all = ["no_nack", "no_rtcp"])]
    pub no_rtx: bool,
    /// Payload type of RTX retransmissions.
    #[arg(long, value_name = "PT", default_value_t = DEFAULT_RTX_PT,
          value_parser = clap::value_parser!(u8).range(0..=127))]
    pub rtx_pt: u8,
    /// How long sent packets are kept for retransmission (announced as rtx-time).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub rtx_time: Duration,
    /// After the input ends, keep answering NACKs this long before sending BYE.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub linger: Duration,
    /// Local RTP port (RTCP on port + 1, unless muxed); default: any free port, RTCP on + 1 if free.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..65535))]
    pub local_port: Option<u16>,
}

impl RtcpSendArgs {
    /// The options these arguments select.
    pub fn options(&self) -> RtcpSendOptions {
        if self.no_rtcp {
            return RtcpSendOptions::off();
        }
        RtcpSendOptions {
            enabled: true,
            mux: self.rtcp_mux,
            nack: !self.no_nack,
            rtx_pt: (!self.no_rtx).then_some(self.rtx_pt),
            history: self.rtx_time,
            linger: if self.no_nack {
                Duration::ZERO
            } else {
                self.linger
            },
        }
    }
}

/// The status line: time, packets, and what the receiver reports (loss, jitter, RTT) with
/// how its NACKs were answered.
pub fn status_text(p: &SendProgress) -> String {
    let mut line = format!("send {:>7.1}s  {} pkts", p.elapsed.as_secs_f64(), p.packets);
    let Some(rtcp) = p.rtcp else {
        return line;
    };
    match rtcp.receiver {
        Some(v) => {
            let rtt = v.rtt.map_or_else(
                || "-".to_owned(),
                |r| format!("{:.0} ms", r.as_secs_f64() * 1e3),
            );
            line.push_str(&format!(
                "  | receiver: loss {:.1}% (total {})  jitter {:.1} ms  rtt {rtt}",
                v.fraction_lost * 100.0,
                v.cumulative_lost,
                v.jitter_ms
            ));
        }
        None => line.push_str("  | receiver: no report yet"),
    }
    let c = rtcp.counts;
    if c.nacks_received > 0 {
        line.push_str(&format!(
            "  | nack {} resent {}",
            c.nacks_received, c.retransmitted
        ));
    }
    line
}
