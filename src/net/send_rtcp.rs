//! `send`'s RTCP shell: the socket (RTP port + 1, or the RTP socket itself with rtcp-mux), the
//! clocks, and the [`RtcpSenderSession`] that decides. The pacing loop hands it every packet it
//! sends, every datagram that arrives, and sends what it writes.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime};

use super::socket::{sending_socket_at, SocketError};
use crate::rtcp::ntp::NtpTime;
use crate::rtcp::sender_session::{
    ReceiverView, RtcpSenderSession, RtxConfig, SenderRtcpCounts, SenderSessionConfig, Transmit,
};
use crate::rtcp::wire::{looks_like_rtcp, MAX_RTCP_LEN};

/// RFC 4588's retransmission payload type when none is given (the usual dynamic choice + 1).
pub const DEFAULT_RTX_PT: u8 = 97;
/// How long retransmission history is kept by default (also announced as `rtx-time`).
pub const DEFAULT_HISTORY: Duration = Duration::from_secs(5);

/// How `send` does RTCP and retransmission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpSendOptions {
    /// Send reports and read the receiver's at all.
    pub enabled: bool,
    /// RTCP on the RTP port (RFC 5761) instead of port + 1.
    pub mux: bool,
    /// Answer NACKs from the history.
    pub nack: bool,
    /// Retransmit as RTX on this payload type; `None` resends on the media SSRC.
    pub rtx_pt: Option<u8>,
    /// How long sent packets are kept for retransmission.
    pub history: Duration,
    /// After the input ends, keep answering NACKs this long before the BYE.
    pub linger: Duration,
}

impl Default for RtcpSendOptions {
    /// Reports on port + 1, NACKs answered with RTX on PT 97 from a 5 s history, 500 ms linger.
    fn default() -> Self {
        RtcpSendOptions {
            enabled: true,
            mux: false,
            nack: true,
            rtx_pt: Some(DEFAULT_RTX_PT),
            history: DEFAULT_HISTORY,
            linger: Duration::from_millis(500),
        }
    }
}

impl RtcpSendOptions {
    /// No RTCP at all: `send` as it was before RTCP.
    pub fn off() -> Self {
        RtcpSendOptions {
            enabled: false,
            nack: false,
            rtx_pt: None,
            linger: Duration::ZERO,
            ..RtcpSendOptions::default()
        }
    }

    /// The RTX payload type in use (NACKs answered as RTX), if any.
    pub fn rtx(&self) -> Option<u8> {
        self.rtx_pt.filter(|_| self.enabled && self.nack)
    }

    /// Whether NACKs are answered at all.
    pub fn answers_nacks(&self) -> bool {
        self.enabled && self.nack
    }
}

/// What RTCP told and did during a send.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RtcpSummary {
    /// The receiver's latest report about our stream.
    pub receiver: Option<ReceiverView>,
    /// What the session did.
    pub counts: SenderRtcpCounts,
}

/// The sender's RTCP endpoint: the session, where reports go, and the clocks.
pub(super) struct SendRtcp {
    session: RtcpSenderSession,
    destination: SocketAddr,
    /// Unix time at the loop's epoch: wall clock = epoch + `now`, so NTP and `now` never disagree.
    unix_at_start: Duration,
    /// What [`SendRtcp::poll`] and [`SendRtcp::bye`] wrote, reused.
    pub(super) outgoing: Vec<u8>,
}

impl SendRtcp {
    /// Opens the RTCP socket (none when RTCP is off or muxed): the RTP socket's port + 1
    /// (RFC 3550's convention, so a receiver answering there reaches us); when that is taken,
    /// an error if `strict` (the user chose the port), else any port.
    pub(super) fn open_socket(
        options: &RtcpSendOptions,
        rtp_destination: SocketAddr,
        rtp_local: Option<SocketAddr>,
        ttl: Option<u32>,
        strict: bool,
    ) -> Result<Option<UdpSocket>, SocketError> {
        if !options.enabled || options.mux {
            return Ok(None);
        }
        let dest = rtcp_destination(rtp_destination, false);
        let paired = rtp_local
            .and_then(|a| a.port().checked_add(1))
            .map(|p| sending_socket_at(dest, ttl, p));
        match paired {
            Some(Ok(s)) => Ok(Some(s)),
            Some(Err(e)) if strict => Err(e),
            _ => {
                tracing::debug!("RTP port + 1 is taken; RTCP uses another port");
                sending_socket_at(dest, ttl, 0).map(Some)
            }
        }
    }

    /// The endpoint for the media stream `ssrc`/`clock_rate` (`media_octets_per_s` sizes the
    /// report interval and retransmission budget).
    pub(super) fn new(
        options: &RtcpSendOptions,
        rtp_destination: SocketAddr,
        ssrc: u32,
        clock_rate: u32,
        media_octets_per_s: f64,
    ) -> Self {
        let rtx = options.rtx().map(|pt| RtxConfig {
            pt,
            ssrc: rtx_ssrc(ssrc),
        });
        let config = SenderSessionConfig {
            ssrc,
            cname: super::socket::cname(),
            clock_rate,
            rtx,
            history: if options.answers_nacks() {
                options.history
            } else {
                Duration::ZERO
            },
            reduced_size: true,
            session_octets_per_s: media_octets_per_s,
            seed: u64::from(ssrc) ^ u64::from(std::process::id()) << 32,
        };
        let unix_at_start = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        SendRtcp {
            session: RtcpSenderSession::new(config, Duration::ZERO),
            destination: rtcp_destination(rtp_destination, options.mux),
            unix_at_start,
            outgoing: Vec::with_capacity(MAX_RTCP_LEN.max(1_500)),
        }
    }

    /// A media packet was sent (scheduled) at `now`.
    pub(super) fn on_rtp_sent(&mut self, packet: &[u8], now: Duration) {
        self.session.on_rtp_sent(packet, now);
    }

    /// When [`SendRtcp::poll`] has something next.
    pub(super) fn next_timer(&self) -> Duration {
        self.session.next_timer()
    }

    /// The measured media rate, for the report interval and retransmission budget.
    pub(super) fn set_session_rate(&mut self, octets_per_s: f64, now: Duration) {
        self.session.set_session_rate(octets_per_s, now);
    }

    /// Where reports go.
    pub(super) fn destination(&self) -> SocketAddr {
        self.destination
    }

    /// The NTP wall clock at loop time `now`.
    pub(super) fn wallclock(&self, now: Duration) -> NtpTime {
        NtpTime::from_unix(self.unix_at_start + now)
    }

    /// An incoming datagram: RTCP is handed to the session; anything else (RTP on a muxed
    /// port) is ignored.
    pub(super) fn on_datagram(&mut self, data: &[u8], now: Duration) {
        let wall = self.wallclock(now);
        if looks_like_rtcp(data) {
            self.session.on_rtcp(data, now, wall);
        }
    }

    /// The next datagram to send at `now` into [`SendRtcp::outgoing`], if any.
    pub(super) fn poll(&mut self, now: Duration) -> Option<Transmit> {
        let wall = self.wallclock(now);
        self.session.poll_transmit(now, wall, &mut self.outgoing)
    }

    /// Makes a sender report due at once: the media ended, and the receiver learns from it
    /// how many packets there were while the retransmission history still holds the last.
    pub(super) fn report_now(&mut self, now: Duration) {
        self.session.report_now(now);
    }

    /// Writes the closing SR + SDES + BYE into [`SendRtcp::outgoing`].
    pub(super) fn bye(&mut self, now: Duration) {
        let wall = self.wallclock(now);
        self.session.bye(now, wall, &mut self.outgoing);
    }

    /// What the receiver reported and what the session did.
    pub(super) fn summary(&self) -> RtcpSummary {
        RtcpSummary {
            receiver: self.session.receiver_view(),
            counts: self.session.counts(),
        }
    }
}

/// Where RTCP for an RTP destination goes: the same port muxed, else port + 1.
pub fn rtcp_destination(rtp: SocketAddr, mux: bool) -> SocketAddr {
    if mux {
        rtp
    } else {
        SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
    }
}

/// The RTX SSRC of media SSRC `ssrc`: derived, so a run is reproducible with `--ssrc`, and
/// never equal to it.
pub fn rtx_ssrc(ssrc: u32) -> u32 {
    ssrc.rotate_left(16) ^ 0x5254_5800
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rtx_ssrc_differs_from_the_media_ssrc() {
        for ssrc in [0, 1, 0x5254_5800, 0xffff_ffff, 0x1234_abcd] {
            assert_ne!(rtx_ssrc(ssrc), ssrc);
        }
    }

    #[test]
    fn rtcp_goes_to_the_next_port_unless_muxed() {
        let rtp: SocketAddr = "127.0.0.1:5004".parse().unwrap();
        assert_eq!(rtcp_destination(rtp, false).port(), 5005);
        assert_eq!(rtcp_destination(rtp, true), rtp);
    }
}
