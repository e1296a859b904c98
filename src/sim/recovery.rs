//! The simulated sender's side of RTCP: its session (SR, NACKs answered from the history with
//! RTX) and the reverse network that reports and NACKs cross, all on virtual time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::scenario::RecoveryBehaviour;
use crate::netem::model::{Fate, NetworkCounts, NetworkModel};
use crate::rtcp::ntp::NtpTime;
use crate::rtcp::retransmit::RtxConfig;
use crate::rtcp::sender_session::{
    RtcpSenderSession, SenderRtcpCounts, SenderSessionConfig, Transmit,
};

/// The simulated wall clock's reading at virtual time zero (late 2023, any NTP era works).
const SIM_EPOCH: Duration = Duration::from_secs(1_700_000_000);

/// The payload type the simulated sender's retransmissions use.
pub const SIM_RTX_PT: u8 = 97;

/// What recovery cost and brought, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RecoveryReport {
    /// Bytes of the original packets the forward network dropped.
    pub lost_bytes: u64,
    /// Retransmissions sent.
    pub retransmissions: u64,
    /// Bytes of the retransmissions sent.
    pub retransmitted_bytes: u64,
    /// Bytes of RTCP the receiver sent back (reports and NACKs).
    pub feedback_bytes: u64,
    /// NACK and retransmission bytes over the lost bytes.
    pub overhead: f64,
    /// What the reverse network did.
    pub reverse: NetworkCounts,
    /// What the sender's session did (NACKs received and answered, refused and why).
    pub sender: SenderRtcpCounts,
}

/// The sender's RTCP and the way back to it.
pub struct SimRecovery {
    behaviour: RecoveryBehaviour,
    seed: u64,
    clock_rate: u32,
    session_rate: f64,
    session: Option<RtcpSenderSession>,
    reverse: NetworkModel,
    in_air: BinaryHeap<Reverse<(Duration, u64, Vec<u8>)>>,
    order: u64,
    report: RecoveryReport,
}

impl SimRecovery {
    /// Recovery as `behaviour` describes, for a stream at `clock_rate` carrying
    /// `session_rate` octets per second.
    pub fn new(
        behaviour: RecoveryBehaviour,
        seed: u64,
        clock_rate: u32,
        session_rate: f64,
    ) -> Self {
        SimRecovery {
            reverse: NetworkModel::new(behaviour.reverse.clone(), seed ^ 0x00ba_c0ff),
            behaviour,
            seed,
            clock_rate,
            session_rate,
            session: None,
            in_air: BinaryHeap::new(),
            order: 0,
            report: RecoveryReport::default(),
        }
    }

    fn wallclock(at: Duration) -> NtpTime {
        NtpTime::from_unix(SIM_EPOCH + at)
    }

    /// An original packet of SSRC `ssrc` leaves the sender at `at` (`dropped`: the network lost it).
    pub fn on_sent(&mut self, ssrc: u32, bytes: &[u8], at: Duration, dropped: bool) {
        if dropped {
            self.report.lost_bytes += bytes.len() as u64;
        }
        let session = self.session.get_or_insert_with(|| {
            let cfg = SenderSessionConfig {
                ssrc,
                cname: "sim-sender".to_owned(),
                clock_rate: self.clock_rate,
                rtx: self.behaviour.rtx.then_some(RtxConfig {
                    pt: SIM_RTX_PT,
                    ssrc: ssrc ^ 0x5a5a_5a5a,
                }),
                history: Duration::from_secs_f64(self.behaviour.history_s.max(0.0)),
                reduced_size: false,
                session_octets_per_s: self.session_rate,
                seed: self.seed,
            };
            RtcpSenderSession::new(cfg, at)
        });
        session.on_rtp_sent(bytes, at);
    }

    /// The receiver sent `datagram` at `at`: it crosses the reverse network.
    pub fn feedback(&mut self, at: Duration, datagram: &[u8]) {
        self.report.feedback_bytes += datagram.len() as u64;
        match self.reverse.transmit(at) {
            Fate::Dropped => {}
            Fate::Delivered(t) => self.push(t, datagram.to_vec()),
            Fate::Duplicated(a, b) => {
                self.push(a, datagram.to_vec());
                self.push(b, datagram.to_vec());
            }
        }
    }

    fn push(&mut self, at: Duration, bytes: Vec<u8>) {
        self.in_air.push(Reverse((at, self.order, bytes)));
        self.order += 1;
    }

    /// Delivers the feedback arriving by `now` to the sender and collects what it sends:
    /// `send(bytes)` takes each datagram (retransmissions and reports) into the forward network.
    pub fn poll(&mut self, now: Duration, mut send: impl FnMut(Vec<u8>)) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        while self
            .in_air
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at <= now)
        {
            if let Some(Reverse((at, _, bytes))) = self.in_air.pop() {
                session.on_rtcp(&bytes, at, Self::wallclock(at));
            }
        }
        let mut out = Vec::new();
        while let Some(kind) = session.poll_transmit(now, Self::wallclock(now), &mut out) {
            if kind == Transmit::Rtp {
                self.report.retransmissions += 1;
                self.report.retransmitted_bytes += out.len() as u64;
            }
            send(std::mem::take(&mut out));
        }
    }

    /// Whether feedback is still crossing the reverse network.
    pub fn busy(&self) -> bool {
        !self.in_air.is_empty()
    }

    /// The figures of the run, with NACK bytes as the receiver counted them.
    pub fn report(&self, nack_bytes: u64) -> RecoveryReport {
        let mut r = self.report;
        r.reverse = self.reverse.counts();
        if let Some(s) = &self.session {
            r.sender = s.counts();
        }
        r.overhead = if r.lost_bytes == 0 {
            0.0
        } else {
            (r.retransmitted_bytes + nack_bytes) as f64 / r.lost_bytes as f64
        };
        r
    }
}
