//! RTCP on the wire: one outgoing compound packet described by [`Outgoing`], and incoming
//! datagrams turned into [`Event`]s, both through `rtcp-types` (no allocation when parsing).

use rtcp_types::prelude::*;
use rtcp_types::{
    Bye, Compound, Nack, Packet, ReceiverReport, ReportBlock, Sdes, SdesChunk, SdesItem,
    SenderReport, TransportFeedback,
};

use super::ntp::NtpTime;
use super::RtcpError;

/// SDES item type of the canonical name (RFC 3550 §6.5.1).
const SDES_CNAME: u8 = 1;

/// Largest RTCP datagram we build: one report block, a CNAME, a NACK of many ranges and a BYE.
pub const MAX_RTCP_LEN: usize = 1200;

/// True if `data` starts like RTCP: version 2 and a packet type 200–207 (which RTP cannot
/// carry on the same port, RFC 5761 §4), so muxed RTCP is told from RTP.
pub fn looks_like_rtcp(data: &[u8]) -> bool {
    data.len() >= 8 && data[0] >> 6 == 2 && (200..=207).contains(&data[1])
}

/// The sender-info section of a sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// Wall-clock time the report describes.
    pub ntp: NtpTime,
    /// The RTP timestamp of the same instant.
    pub rtp_timestamp: u32,
    /// Packets sent since the start.
    pub packets: u32,
    /// Payload octets sent since the start.
    pub octets: u32,
}

/// One report block: what a receiver saw of one source (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceptionBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 256ths.
    pub fraction_lost: u8,
    /// Packets lost since the start (24-bit two's complement on the wire; clamped).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP time (0 if none).
    pub lsr: u32,
    /// Time since that SR, 16.16 seconds (0 if none).
    pub dlsr: u32,
}

/// A generic NACK (RFC 4585 §6.2.1): the sequence numbers of one media source asked for again.
#[derive(Debug, Clone, Copy)]
pub struct NackRequest<'a> {
    /// The media source whose packets are missing.
    pub media_ssrc: u32,
    /// The missing sequence numbers.
    pub seqs: &'a [u16],
}

/// What one outgoing RTCP datagram says.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outgoing<'a> {
    /// Our SSRC (the reporter).
    pub ssrc: u32,
    /// Sender info: makes the report an SR (else an RR).
    pub sender: Option<SenderInfo>,
    /// Report block about the source we receive, if any.
    pub block: Option<ReceptionBlock>,
    /// Our canonical name, sent as SDES.
    pub cname: Option<&'a str>,
    /// A generic NACK to append.
    pub nack: Option<NackRequest<'a>>,
    /// Whether to end with BYE (and the reason given).
    pub bye: Option<&'a str>,
    /// Send the NACK alone (RFC 5506 reduced-size RTCP), when negotiated with `a=rtcp-rsize`.
    pub reduced_size: bool,
}

impl Outgoing<'_> {
    /// Writes the datagram into `buf`, returning its length.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, RtcpError> {
        let block = self.block.map(block_builder);
        let nack_fci = self.nack.map(|n| {
            n.seqs
                .iter()
                .fold(Nack::builder(), |b, &s| b.add_rtp_sequence(s))
        });
        let mut compound = Compound::builder();
        let nack_only = self.reduced_size && self.nack.is_some() && self.bye.is_none();
        if !nack_only {
            compound = match self.sender {
                Some(info) => {
                    let mut sr = SenderReport::builder(self.ssrc)
                        .ntp_timestamp(info.ntp.0)
                        .rtp_timestamp(info.rtp_timestamp)
                        .packet_count(info.packets)
                        .octet_count(info.octets);
                    if let Some(b) = block {
                        sr = sr.add_report_block(b);
                    }
                    compound.add_packet(sr)
                }
                None => {
                    let mut rr = ReceiverReport::builder(self.ssrc);
                    if let Some(b) = block {
                        rr = rr.add_report_block(b);
                    }
                    compound.add_packet(rr)
                }
            };
            if let Some(cname) = self.cname {
                let chunk =
                    SdesChunk::builder(self.ssrc).add_item(SdesItem::builder(SDES_CNAME, cname));
                compound = compound.add_packet(Sdes::builder().add_chunk(chunk));
            }
        }
        if let (Some(n), Some(fci)) = (self.nack, nack_fci.as_ref()) {
            let fb = TransportFeedback::builder(fci)
                .sender_ssrc(self.ssrc)
                .media_ssrc(n.media_ssrc);
            compound = compound.add_packet(fb);
        }
        if let Some(reason) = self.bye {
            let mut bye = Bye::builder().add_source(self.ssrc);
            if !reason.is_empty() {
                bye = bye.reason(reason);
            }
            compound = compound.add_packet(bye);
        }
        Ok(compound.write_into(buf)?)
    }
}

fn block_builder(b: ReceptionBlock) -> rtcp_types::ReportBlockBuilder {
    // The wire field is a signed 24-bit count (duplicates can make it negative).
    let lost = b.cumulative_lost.clamp(-(1 << 23), (1 << 23) - 1) as u32 & 0x00ff_ffff;
    ReportBlock::builder(b.ssrc)
        .fraction_lost(b.fraction_lost)
        .cumulative_lost(lost)
        .extended_sequence_number(b.extended_highest_seq)
        .interarrival_jitter(b.jitter)
        .last_sender_report_timestamp(b.lsr)
        .delay_since_last_sender_report_timestamp(b.dlsr)
}

/// One thing an incoming RTCP datagram says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A sender report's sender info.
    SenderReport {
        /// The sender.
        ssrc: u32,
        /// What it reports.
        info: SenderInfo,
    },
    /// A report block, in an SR or RR.
    Reception {
        /// Who reports.
        reporter: u32,
        /// What it saw.
        block: ReceptionBlock,
    },
    /// A source's canonical name.
    Cname {
        /// The source.
        ssrc: u32,
        /// Its CNAME, as sent.
        name: &'a [u8],
    },
    /// A source leaves.
    Bye {
        /// The source.
        ssrc: u32,
    },
    /// A generic NACK entry: `seq` of `media_ssrc` is missing at `sender_ssrc`.
    Nack {
        /// Who asks.
        sender_ssrc: u32,
        /// Whose packet.
        media_ssrc: u32,
        /// The missing sequence number.
        seq: u16,
    },
}

/// Reads every packet of an RTCP datagram (compound or reduced-size), calling `on_event` for
/// each thing it says; packets of other kinds (APP, XR, other feedback) are skipped.
pub fn parse(data: &[u8], mut on_event: impl FnMut(Event<'_>)) -> Result<(), RtcpError> {
    for packet in Compound::parse(data)? {
        match packet? {
            Packet::Sr(sr) => {
                let info = SenderInfo {
                    ntp: NtpTime(sr.ntp_timestamp()),
                    rtp_timestamp: sr.rtp_timestamp(),
                    packets: sr.packet_count(),
                    octets: sr.octet_count(),
                };
                on_event(Event::SenderReport {
                    ssrc: sr.ssrc(),
                    info,
                });
                for b in sr.report_blocks() {
                    on_event(Event::Reception {
                        reporter: sr.ssrc(),
                        block: reception(&b),
                    });
                }
            }
            Packet::Rr(rr) => {
                for b in rr.report_blocks() {
                    on_event(Event::Reception {
                        reporter: rr.ssrc(),
                        block: reception(&b),
                    });
                }
            }
            Packet::Sdes(sdes) => {
                for chunk in sdes.chunks() {
                    for item in chunk.items().filter(|i| i.type_() == SDES_CNAME) {
                        on_event(Event::Cname {
                            ssrc: chunk.ssrc(),
                            name: item.value(),
                        });
                    }
                }
            }
            Packet::Bye(bye) => bye.ssrcs().for_each(|ssrc| on_event(Event::Bye { ssrc })),
            Packet::TransportFeedback(fb) => {
                if let Ok(nack) = fb.parse_fci::<Nack>() {
                    for seq in nack.entries() {
                        on_event(Event::Nack {
                            sender_ssrc: fb.sender_ssrc(),
                            media_ssrc: fb.media_ssrc(),
                            seq,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn reception(b: &ReportBlock<'_>) -> ReceptionBlock {
    // Sign-extend the 24-bit cumulative loss.
    let lost = ((b.cumulative_lost() << 8) as i32) >> 8;
    ReceptionBlock {
        ssrc: b.ssrc(),
        fraction_lost: b.fraction_lost(),
        cumulative_lost: lost,
        extended_highest_seq: b.extended_sequence_number(),
        jitter: b.interarrival_jitter(),
        lsr: b.last_sender_report_timestamp(),
        dlsr: b.delay_since_last_sender_report_timestamp(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events, written out (a CNAME borrows the parser's packet, so it cannot be kept).
    fn events(data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        parse(data, |e| out.push(format!("{e:?}"))).unwrap();
        out
    }

    fn shown(e: Event<'_>) -> String {
        format!("{e:?}")
    }

    #[test]
    fn a_receiver_report_with_cname_nack_and_bye_round_trips() {
        let block = ReceptionBlock {
            ssrc: 0xdead_beef,
            fraction_lost: 12,
            cumulative_lost: -3,
            extended_highest_seq: 0x1_0005,
            jitter: 77,
            lsr: 0x1234_5678,
            dlsr: 0x0001_8000,
        };
        let seqs = [65534, 65535, 0, 3, 40];
        let out = Outgoing {
            ssrc: 42,
            block: Some(block),
            cname: Some("jitterplay@host"),
            nack: Some(NackRequest {
                media_ssrc: 0xdead_beef,
                seqs: &seqs,
            }),
            bye: Some("done"),
            ..Outgoing::default()
        };
        let mut buf = [0u8; MAX_RTCP_LEN];
        let n = out.write(&mut buf).unwrap();
        let ev = events(&buf[..n]);
        assert_eq!(
            ev[0],
            shown(Event::Reception {
                reporter: 42,
                block
            })
        );
        assert_eq!(
            ev[1],
            shown(Event::Cname {
                ssrc: 42,
                name: b"jitterplay@host"
            })
        );
        let mut nacked = Vec::new();
        parse(&buf[..n], |e| {
            if let Event::Nack {
                sender_ssrc: 42,
                media_ssrc: 0xdead_beef,
                seq,
            } = e
            {
                nacked.push(seq);
            }
        })
        .unwrap();
        nacked.sort_unstable();
        assert_eq!(nacked, vec![0, 3, 40, 65534, 65535]);
        assert_eq!(ev.last(), Some(&shown(Event::Bye { ssrc: 42 })));
    }

    #[test]
    fn a_sender_report_carries_its_clock_mapping() {
        let info = SenderInfo {
            ntp: NtpTime(0x0102_0304_0506_0708),
            rtp_timestamp: 9_000,
            packets: 50,
            octets: 8_000,
        };
        let out = Outgoing {
            ssrc: 7,
            sender: Some(info),
            ..Outgoing::default()
        };
        let mut buf = [0u8; MAX_RTCP_LEN];
        let n = out.write(&mut buf).unwrap();
        assert_eq!(
            events(&buf[..n]),
            vec![shown(Event::SenderReport { ssrc: 7, info })]
        );
    }

    #[test]
    fn reduced_size_sends_the_nack_alone() {
        let seqs = [10, 11];
        let nack = Some(NackRequest {
            media_ssrc: 5,
            seqs: &seqs,
        });
        let mut buf = [0u8; MAX_RTCP_LEN];
        let full = Outgoing {
            ssrc: 1,
            cname: Some("x"),
            nack,
            ..Outgoing::default()
        };
        let full_len = full.write(&mut buf).unwrap();
        let reduced = Outgoing {
            reduced_size: true,
            ..full
        };
        let n = reduced.write(&mut buf).unwrap();
        assert_eq!(n, 16, "header, two SSRCs and one PID/BLP entry");
        assert!(full_len > n);
        assert_eq!(events(&buf[..n]).len(), 2);
    }

    #[test]
    fn rtcp_is_told_from_rtp_by_its_packet_type() {
        assert!(looks_like_rtcp(&[0x80, 200, 0, 6, 0, 0, 0, 1]));
        assert!(looks_like_rtcp(&[0x81, 205, 0, 3, 0, 0, 0, 1]));
        assert!(!looks_like_rtcp(&[0x80, 96, 0, 1, 0, 0, 0, 1]));
        // PT 96 with the marker bit set.
        assert!(!looks_like_rtcp(&[0x80, 0xe0, 0, 1, 0, 0, 0, 1]));
        assert!(!looks_like_rtcp(&[0x80, 200]));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for data in [
            &[][..],
            &[0x80, 201, 0, 9][..],
            &[0x40, 200, 0, 0][..],
            &[0xff; 3][..],
        ] {
            let _ = parse(data, |_| {});
        }
        assert!(parse(&[0x80, 201, 0, 9], |_| {}).is_err());
    }
}
