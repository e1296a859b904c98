//! A captured stream as the network: each packet arrives at its captured time, relative to
//! the stream's first packet, so the receive core sees exactly the jitter, loss and reordering
//! the capture recorded.

use std::collections::HashMap;
use std::time::Duration;

use super::engine::{Arrival, PacketFeed, Played, VirtualPlayout};
use super::replay_config::ReplayConfig;
use super::report::SimReport;
use super::run::SimError;
use crate::capture::CapturedStream;
use crate::playout::ReceiveCoreConfig;
use crate::rtp::header::RtpHeader;
use crate::rtp::seq::TsExtender;
use crate::rtp::stream_format::{resolve, StreamFormat, StreamHint};

/// The capture's packets in arrival order.
pub struct CaptureFeed {
    packets: Vec<(Duration, Vec<u8>)>,
    next: usize,
    /// Estimated send time of each media packet by (SSRC, RTP timestamp).
    sent: HashMap<(u32, u32), Duration>,
}

impl CaptureFeed {
    /// A feed of `stream`'s packets; `clock_rate` of its media places them on the sender's clock.
    pub fn new(stream: &CapturedStream, media_pt: u8, clock_rate: u32) -> (Self, Vec<(f32, f32)>) {
        let mut packets: Vec<(Duration, Vec<u8>)> = stream
            .packets
            .iter()
            .map(|p| (p.at, p.bytes.clone()))
            .collect();
        // Capture order is arrival order, and the capture reader's arrival times never run
        // backwards (a step back is a skipped pause); the stable sort keeps that true of a
        // stream built any other way.
        packets.sort_by_key(|(at, _)| *at);
        // Send times are unknown: place each packet on the RTP clock, anchored so the fastest
        // packet had zero delay. Delays are then "above the fastest path", as a receiver sees them.
        let mut ts = TsExtender::new();
        let mut timed = Vec::new();
        let mut first_ts = None;
        for (at, bytes) in &packets {
            let Ok(h) = RtpHeader::parse(bytes) else {
                continue;
            };
            if h.payload_type != media_pt {
                continue;
            }
            let ext = ts.extend(h.timestamp);
            let base = *first_ts.get_or_insert(ext);
            let rtp = (ext as f64 - base as f64) / f64::from(clock_rate.max(1));
            timed.push(((h.ssrc, h.timestamp), at.as_secs_f64(), rtp));
        }
        let offset = timed
            .iter()
            .map(|(_, at, rtp)| at - rtp)
            .fold(f64::INFINITY, f64::min);
        let mut sent = HashMap::new();
        let mut delays = Vec::new();
        for (key, at, rtp) in timed {
            let s = (rtp + offset).max(0.0);
            sent.insert(key, Duration::from_secs_f64(s));
            delays.push((s as f32, ((at - s) * 1000.0) as f32));
        }
        (
            CaptureFeed {
                packets,
                next: 0,
                sent,
            },
            delays,
        )
    }
}

impl PacketFeed for CaptureFeed {
    fn deliver(&mut self, now: Duration, report: &mut SimReport, out: &mut Vec<Arrival>) {
        while let Some((at, bytes)) = self.packets.get_mut(self.next) {
            if *at > now {
                break;
            }
            report.packets_sent += 1;
            out.push(Arrival {
                at: *at,
                bytes: std::mem::take(bytes),
            });
            self.next += 1;
        }
    }

    fn exhausted(&self) -> bool {
        self.next >= self.packets.len()
    }

    fn played(&mut self, key: (u32, u32), _frames: usize, _samples: &[f32]) -> Option<Played> {
        // There is no source to compare with: a capture's audio is only what it carried.
        self.sent
            .get(&key)
            .map(|&sent| Played { sent, exact: false })
    }
}

/// A virtual-time replay of a captured stream, ready to step.
pub type CaptureReplay = VirtualPlayout<CaptureFeed>;

/// Builds the replay of `stream`: its format settled from its packets, the receive core
/// configured like the live player's, `cfg` giving the target window and virtual device.
pub fn capture_replay(
    stream: &CapturedStream,
    cfg: &ReplayConfig,
) -> Result<(CaptureReplay, StreamFormat), SimError> {
    let info = &stream.info;
    let hint = StreamHint {
        format: Some(stream.format),
        payload_type: Some(info.pt),
        telephone_event_pt: info.telephone_event_pt(),
    };
    let format = stream
        .packets
        .iter()
        .find_map(|p| resolve(&hint, &p.bytes).ok().flatten())
        .ok_or_else(|| {
            SimError::Capture(format!(
                "stream {} has no packet that settles its format ({})",
                info.index, stream.format
            ))
        })?;
    let (feed, delays) = CaptureFeed::new(stream, info.pt, format.format.clock_rate());
    let mut rcfg = ReceiveCoreConfig::new(format.format, format.rate, format.channels);
    rcfg.payload_type = Some(format.payload_type);
    rcfg.telephone_event_pt = hint.telephone_event_pt;
    rcfg.dtmf = cfg.dtmf;
    cfg.set_target_window(&mut rcfg);
    let duration = Duration::from_secs_f64(info.stats.duration_s);
    let mut report = SimReport::new(&cfg.scenario, cfg.seed, duration);
    report.captured = true;
    report.time_jumps = Some(stream.time_jumps.clone());
    report.delays = delays;
    report.network.dropped = info.stats.lost;
    report.network.duplicated = info.stats.duplicated;
    report.network.reordered = info.stats.out_of_order;
    let replay = VirtualPlayout::new(rcfg, &cfg.scenario.device, report, feed)?;
    Ok((replay, format))
}
