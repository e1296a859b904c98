//! The ITU-T E-model (G.107 narrowband, G.107.1 wideband): an R-factor and a MOS for a stream
//! from its codec, its packet loss (rate and burstiness) and its mouth-to-ear delay.
//!
//! A monitor that reports "MOS 4.5" for every stream tells an operator nothing. This module
//! makes the score fall with loss and delay the way the standard's equations and the
//! G.113 codec tables say it does, so a lossy G.729 call and a clean G.711 call rank apart.
//!
//! Pure arithmetic: no IO, no clocks. Every G.107 parameter other than the codec (Ie, Bpl), the
//! loss (Ppl, BurstR) and the delay (T = Ta = mouth-to-ear, Tr = 2T) stays at its G.107
//! Table 3 default, which is what makes the unimpaired G.711 rating the familiar 93.2.
//!
//! Wideband codecs are rated on the G.107.1 scale (0–129) and also reported as R_wb / 1.29,
//! the narrowband-comparable figure G.107.1 Annex A converts to MOS, so every stream has one
//! `r` and one `mos` that can sit in the same column.

use serde::Serialize;

/// Which E-model scale a codec is rated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Band {
    /// G.107, 300–3400 Hz, R from 0 to 100.
    Narrow,
    /// G.107.1, 50–7000 Hz, R from 0 to 129.
    Wide,
}

/// A codec's equipment impairment and loss robustness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment factor: Ie for narrowband, Ie,wb for wideband codecs.
    pub ie: f64,
    /// Packet-loss robustness factor Bpl: the larger, the less each lost packet costs.
    pub bpl: f64,
    /// The scale `ie` and `bpl` belong to.
    pub band: Band,
}

// ---------------------------------------------------------------------------------------------
// Codec table. G.113 values are planning values, not measurements of one call; where G.113 has
// no row for a codec the choice and the reason are written on the row.
// ---------------------------------------------------------------------------------------------

/// G.711 (PCMU, PCMA): Ie 0 from G.113 Appendix I Table I.1. Bpl 25.1 from Table I.3's row for
/// G.711 with its Appendix I packet-loss concealment (10 ms packets, random loss). We assume
/// concealment because our player conceals lost packets; without it Table I.3 gives 4.3.
const G711: CodecImpairment = CodecImpairment {
    ie: 0.0,
    bpl: 25.1,
    band: Band::Narrow,
};

/// G.729 (SDP `G729`, which in practice is G.729A, usually with Annex B VAD): Ie 11, Bpl 19.0
/// from G.113 Table I.3 (G.729A + VAD, two 10 ms frames a packet). Table I.1 gives Ie 10 for
/// plain G.729, but I.3's pair was fitted together, so both come from I.3.
const G729: CodecImpairment = CodecImpairment {
    ie: 11.0,
    bpl: 19.0,
    band: Band::Narrow,
};

/// G.723.1 (SDP `G723`): Ie 15, Bpl 16.1 from G.113 Table I.3 (6.3 kbit/s + VAD, 30 ms
/// packets). The 5.3 kbit/s rate has Ie 19 in Table I.1 but no Bpl, and the name does not
/// say which rate is sent, so we rate the one the table can rate under loss.
const G723: CodecImpairment = CodecImpairment {
    ie: 15.0,
    bpl: 16.1,
    band: Band::Narrow,
};

/// GSM full rate (GSM 06.10, SDP `GSM`): Ie 20 from G.113 Table I.1. G.113 has no Bpl for it;
/// we use GSM-EFR's 10.0 from Table I.3, since both conceal the same way (substitute the last
/// good frame, then mute: GSM 06.11 / 06.61), not G.711's waveform extrapolation.
const GSM_FR: CodecImpairment = CodecImpairment {
    ie: 20.0,
    bpl: 10.0,
    band: Band::Narrow,
};

/// GSM enhanced full rate (SDP `GSM-EFR`): Ie 5 from G.113 Table I.1, Bpl 10.0 from Table I.3.
const GSM_EFR: CodecImpairment = CodecImpairment {
    ie: 5.0,
    bpl: 10.0,
    band: Band::Narrow,
};

/// AMR narrowband (SDP `AMR`): G.113 has no AMR row. AMR's 12.2 kbit/s mode is GSM-EFR
/// (3GPP TS 26.071), so we use GSM-EFR's Ie 5 and Bpl 10.0 (Tables I.1, I.3). The encoding name
/// does not carry the mode, and lower modes are worse, so this is the best case for AMR.
const AMR_NB: CodecImpairment = GSM_EFR;

/// iLBC: G.113 has no iLBC row; both values are our choice. Ie 11 is G.729A's (Table I.3),
/// because RFC 3951 puts iLBC's clean quality at least level with G.729A's; Bpl 25.1 is
/// G.711-with-concealment's (Table I.3), because RFC 3951 describes iLBC's response to loss as
/// similar to PCM with packet-loss concealment (its frames are coded independently).
const ILBC: CodecImpairment = CodecImpairment {
    ie: 11.0,
    bpl: 25.1,
    band: Band::Narrow,
};

/// G.722 at 64 kbit/s: Ie,wb 13 from G.113 Appendix IV Table IV.1. We found no Bpl for it we
/// could confirm, so we use G.711-with-concealment's 25.1 (Table I.3): G.722 decoders conceal
/// by the same kind of waveform extrapolation (G.722 Appendices III and IV), and our player
/// conceals. Wideband whatever the SDP clock rate says, because RFC 3551 registers G.722 at
/// 8000 Hz although it samples at 16 kHz.
const G722: CodecImpairment = CodecImpairment {
    ie: 13.0,
    bpl: 25.1,
    band: Band::Wide,
};

/// AMR-WB (G.722.2, SDP `AMR-WB`): Ie,wb 13 for the 12.65 kbit/s mode from G.113 Table IV.1
/// (the name does not carry the mode; 12.65 kbit/s is the usual VoLTE mode, and the table
/// runs from 1 at 23.05 kbit/s to 41 at 6.6 kbit/s). Bpl 10.0 is borrowed from AMR 12.2 /
/// GSM-EFR (Table I.3), the same 3GPP ACELP family with the same substitute-and-mute
/// concealment; we found no wideband Bpl for this mode that we could confirm.
const AMR_WB: CodecImpairment = CodecImpairment {
    ie: 13.0,
    bpl: 10.0,
    band: Band::Wide,
};

/// Opus: no ITU table rates it, so these are published research values, not a standard's:
/// the Ie,wb and random-loss Bpl derived for Opus in wideband VBR mode at 13 kbit/s by
/// Alahmadi et al. (2021; published with their Opus E-model tables), rounded: Ie,wb 20,
/// Bpl 19.5. That is the highest wideband rate they rate and below what VoIP usually sends, so
/// it errs low; and rating Opus on the wideband scale ignores its super-wideband and fullband
/// modes, which the G.107.2 fullband scale would credit.
const OPUS: CodecImpairment = CodecImpairment {
    ie: 20.0,
    bpl: 19.5,
    band: Band::Wide,
};

/// Linear PCM (L16, L24): no coding distortion, so Ie 0, with G.711-with-concealment's Bpl 25.1
/// (Table I.3) because a lost PCM packet is concealed the same way a lost G.711 one is.
/// Wideband from 16 kHz up: at those rates it is the wideband scale's own unimpaired reference.
fn linear_pcm(clock_rate: u32) -> CodecImpairment {
    CodecImpairment {
        band: if clock_rate >= 16_000 {
            Band::Wide
        } else {
            Band::Narrow
        },
        ..G711
    }
}

/// The impairment of the codec an RTP stream carries, from its SDP/static encoding name
/// (case-insensitive, e.g. "PCMU", "PCMA", "G722", "G729", "GSM", "iLBC", "opus", "L16", "L24",
/// "AMR", "AMR-WB", "speex") and clock rate; None if unknown.
///
/// Speex is known but returns None: no table rates it, and its rates (2.15 to 44 kbit/s) span
/// more than any single Ie could stand for, which the name does not narrow down.
pub fn codec_impairment(encoding_name: &str, clock_rate: u32) -> Option<CodecImpairment> {
    let name = encoding_name.trim().to_ascii_lowercase();
    match name.as_str() {
        "pcmu" | "pcma" => Some(G711),
        "g729" => Some(G729),
        "g723" => Some(G723),
        "gsm" => Some(GSM_FR),
        "gsm-efr" => Some(GSM_EFR),
        "amr" => Some(AMR_NB),
        "ilbc" => Some(ILBC),
        "g722" => Some(G722),
        "amr-wb" => Some(AMR_WB),
        "opus" => Some(OPUS),
        "l16" | "l24" => Some(linear_pcm(clock_rate)),
        _ => None,
    }
}

/// What the score is computed from.
#[derive(Debug, Clone, Copy)]
pub struct EModelInput {
    /// The codec's impairment and robustness, e.g. from [`codec_impairment`].
    pub codec: CodecImpairment,
    /// Packet loss Ppl, in percent (0–100) of the packets the stream should have delivered.
    pub loss_percent: f64,
    /// BurstR: 1 for random loss, above 1 for bursty loss (see [`burst_ratio`]).
    pub burst_ratio: f64,
    /// One-way mouth-to-ear delay in milliseconds (network, jitter buffer, codec and device).
    pub mouth_to_ear_ms: f64,
}

/// The E-model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// R on the narrowband 0–100 scale (R_wb / 1.29 for wideband codecs).
    pub r: f64,
    /// R on the wideband 0–129 scale, for wideband codecs only.
    pub r_wb: Option<f64>,
    /// MOS (G.107 Annex B; G.107.1 Annex A applies the same curve to R_wb / 1.29).
    pub mos: f64,
}

// ---------------------------------------------------------------------------------------------
// G.107 Table 3 defaults for everything this module does not measure.
// ---------------------------------------------------------------------------------------------

/// Send loudness rating, dB.
const SLR: f64 = 8.0;
/// Receive loudness rating, dB.
const RLR: f64 = 2.0;
/// Sidetone masking rating, dB.
const STMR: f64 = 15.0;
/// Listener sidetone rating, dB.
const LSTR: f64 = 18.0;
/// D-value of the telephone, send side.
const DS: f64 = 3.0;
/// Talker echo loudness rating, dB.
const TELR: f64 = 65.0;
/// Weighted echo path loss, dB.
const WEPL: f64 = 110.0;
/// Quantizing distortion units.
const QDU: f64 = 1.0;
/// Circuit noise referred to the 0 dBr point, dBm0p.
const NC: f64 = -70.0;
/// Noise floor at the receive side, dBmp.
const NFOR: f64 = -64.0;
/// Room noise at the send side, dB(A).
const PS: f64 = 35.0;
/// Room noise at the receive side, dB(A).
const PR: f64 = 35.0;
/// Advantage factor: none, because a monitor should not grade a stream up for being mobile.
const A: f64 = 0.0;

/// Ro,wb: the G.107.1 wideband scale's unimpaired rating (Is,wb and A are 0 by default).
const RO_WB: f64 = 129.0;
/// The ratio of the wideband scale to the narrowband one (G.107.1 Annex A's R / 1.29).
const WB_SCALE: f64 = 1.29;
/// Narrowband Ie,eff tends to 95 as loss grows (G.107 equation for Ie,eff).
const IE_CEILING_NB: f64 = 95.0;
/// Wideband Ie,wb,eff tends to 129, so that loss can use up the whole wideband scale the way
/// 95 lets it use up the narrowband one. (One secondary transcription of G.107.1's equation
/// reads 95 here; with 95 a stream losing every packet would keep R_wb near 34.)
const IE_CEILING_WB: f64 = RO_WB;

/// Delay beyond which nothing changes what a listener thinks; also keeps the logarithms finite.
const MAX_DELAY_MS: f64 = 60_000.0;
/// Smallest BurstR used: below 1 (loss more regular than random) is kept as given, but zero
/// would divide by zero.
const MIN_BURST_R: f64 = 0.01;
/// Largest BurstR used; past this Ppl / BurstR is zero for any loss anyway.
const MAX_BURST_R: f64 = 1.0e6;
/// Smallest Bpl used, so that Ppl / (Ppl / BurstR + Bpl) stays defined for a hand-made codec.
const MIN_BPL: f64 = 1.0e-3;

/// `x` clamped to `lo..=hi`, or `nan` when `x` is NaN (clamp would pass the NaN through).
fn clamp_or(x: f64, lo: f64, hi: f64, nan: f64) -> f64 {
    if x.is_nan() {
        nan
    } else {
        x.clamp(lo, hi)
    }
}

/// 10^(x / 10): a level in dB back to a power ratio.
fn from_db(x: f64) -> f64 {
    10f64.powf(x / 10.0)
}

/// The G.107 noise sum No (dBm0p) at the default loudness and noise parameters.
fn noise_no() -> f64 {
    let olr = SLR + RLR;
    let nos = PS - SLR - DS - 100.0 + 0.004 * (PS - olr - DS - 14.0).powi(2);
    let pre = PR + 10.0 * (1.0 + from_db(10.0 - LSTR)).log10();
    let nor = RLR - 121.0 + pre + 0.008 * (pre - 35.0).powi(2);
    let nfo = NFOR + RLR;
    10.0 * (from_db(NC) + from_db(nos) + from_db(nor) + from_db(nfo)).log10()
}

/// The basic signal-to-noise ratio Ro.
fn basic_ro(no: f64) -> f64 {
    15.0 - 1.5 * (SLR + no)
}

/// The simultaneous impairment Is = Iolr + Ist + Iq. Ist depends on the delay T only through
/// the echo heard as sidetone, which at TELR 65 dB is negligible, but the equation keeps it.
fn simultaneous_is(ro: f64, no: f64, t: f64) -> f64 {
    let olr = SLR + RLR;
    let xolr = olr + 0.2 * (64.0 + no - RLR);
    let iolr = 20.0 * ((1.0 + (xolr / 8.0).powi(8)).powf(1.0 / 8.0) - xolr / 8.0);
    let stmro = -10.0 * (from_db(-STMR) + (-t / 4.0).exp() * from_db(-TELR)).log10();
    let ist = 12.0 * (1.0 + ((stmro - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
        - 28.0 * (1.0 + ((stmro + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
        - 13.0 * (1.0 + ((stmro - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
        + 29.0;
    let q = 37.0 - 15.0 * QDU.log10();
    let g = 1.07 + 0.258 * q + 0.0602 * q * q;
    let y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
    let z = 46.0 / 30.0 - g / 40.0;
    let iq = 15.0 * (1.0 + 10f64.powf(y) + 10f64.powf(z)).log10();
    iolr + ist + iq
}

/// Talker echo impairment Idte for mean one-way delay `t` ms. STMR is 15 dB, so neither of the
/// standard's sidetone corrections (STMR < 9 dB, STMR > 20 dB) applies.
fn talker_echo_idte(no: f64, t: f64) -> f64 {
    let roe = -1.5 * (no - RLR);
    let terv =
        TELR - 40.0 * ((1.0 + t / 10.0) / (1.0 + t / 150.0)).log10() + 6.0 * (-0.3 * t * t).exp();
    let re = 80.0 + 2.5 * (terv - 14.0);
    let d = roe - re;
    (d / 2.0 + (d * d / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-t).exp())
}

/// Listener echo impairment Idle for round-trip delay `tr` ms.
fn listener_echo_idle(ro: f64, tr: f64) -> f64 {
    let rle = 10.5 * (WEPL + 7.0) * (tr + 1.0).powf(-0.25);
    let d = ro - rle;
    d / 2.0 + (d * d / 4.0 + 169.0).sqrt()
}

/// Impairment from absolute delay Idd for `ta` ms; zero up to 100 ms. This is the G.107 (2015)
/// form with its default delay sensitivity (mT = 100 ms, sT = 1), which is the older form.
fn absolute_delay_idd(ta: f64) -> f64 {
    if ta <= 100.0 {
        return 0.0;
    }
    let x = (ta / 100.0).log2();
    25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
        + 2.0)
}

/// The delay impairment Id = Idte + Idle + Idd with T = Ta = `t` and Tr = 2T.
fn delay_id(ro: f64, no: f64, t: f64) -> f64 {
    talker_echo_idte(no, t) + listener_echo_idle(ro, 2.0 * t) + absolute_delay_idd(t)
}

/// Ie,eff = Ie + (ceiling − Ie) · Ppl / (Ppl / BurstR + Bpl), with inputs already sanitized.
fn effective_ie(ie: f64, bpl: f64, ppl: f64, burst_r: f64, ceiling: f64) -> f64 {
    if ppl <= 0.0 {
        return ie;
    }
    ie + (ceiling - ie) * ppl / (ppl / burst_r + bpl)
}

/// R-factor and MOS (G.107 Annex B conversion) for `input`; `r` is on the narrowband 0–100
/// scale (for wideband codecs, R_wb / 1.29 as G.107.1 says to compare), `r_wb` set for
/// wideband codecs.
///
/// Out-of-range and NaN inputs are clamped rather than rejected, because a monitor should show
/// a degraded score for a broken measurement, not panic or print NaN.
pub fn score(input: &EModelInput) -> Score {
    let ppl = clamp_or(input.loss_percent, 0.0, 100.0, 0.0);
    let burst_r = clamp_or(input.burst_ratio, MIN_BURST_R, MAX_BURST_R, 1.0);
    let t = clamp_or(input.mouth_to_ear_ms, 0.0, MAX_DELAY_MS, 0.0);
    let bpl = clamp_or(input.codec.bpl, MIN_BPL, f64::MAX, MIN_BPL);

    let no = noise_no();
    let ro = basic_ro(no);
    let id = delay_id(ro, no, t);

    let (r, r_wb) = match input.codec.band {
        Band::Narrow => {
            let ie = clamp_or(input.codec.ie, 0.0, IE_CEILING_NB, 0.0);
            let ie_eff = effective_ie(ie, bpl, ppl, burst_r, IE_CEILING_NB);
            let is = simultaneous_is(ro, no, t);
            (finite_in(ro - is - id - ie_eff + A, 100.0), None)
        }
        Band::Wide => {
            let ie = clamp_or(input.codec.ie, 0.0, IE_CEILING_WB, 0.0);
            let ie_eff = effective_ie(ie, bpl, ppl, burst_r, IE_CEILING_WB);
            // G.107.1 §7.4's own text was not available to us, so Id,wb is the narrowband Id
            // times 1.29: a given delay then costs the same on the compared scale (R_wb / 1.29)
            // whatever the codec, so delay alone never reorders a narrowband and a wideband
            // stream.
            let id_wb = WB_SCALE * id;
            let r_wb = finite_in(RO_WB - id_wb - ie_eff + A, RO_WB);
            (r_wb / WB_SCALE, Some(r_wb))
        }
    };
    Score {
        r,
        r_wb,
        mos: mos_from_r(r),
    }
}

/// `r` limited to `0..=top`, with a non-finite result (which sanitized inputs should never
/// produce) read as the bottom of the scale rather than passed on.
fn finite_in(r: f64, top: f64) -> f64 {
    if r.is_finite() {
        r.clamp(0.0, top)
    } else {
        0.0
    }
}

/// BurstR (G.107 / G.113) from a loss sequence's transition counts: p = P(lost | previous
/// received), q = P(received | previous lost); BurstR = 1/(p+q); 1.0 for random loss, > 1
/// bursty. Returns 1.0 when there is no loss or not enough evidence.
pub fn burst_ratio(
    received_after_received: u64,
    lost_after_received: u64,
    received_after_lost: u64,
    lost_after_lost: u64,
) -> f64 {
    if lost_after_received == 0 && lost_after_lost == 0 {
        return 1.0;
    }
    let after_received = received_after_received.saturating_add(lost_after_received);
    let after_lost = received_after_lost.saturating_add(lost_after_lost);
    // Either conditional probability needs at least one packet to condition on.
    if after_received == 0 || after_lost == 0 {
        return 1.0;
    }
    let p = lost_after_received as f64 / after_received as f64;
    let q = received_after_lost as f64 / after_lost as f64;
    // p + q = 0 means loss neither started after a received packet nor ever ended: no
    // transition to estimate a burst length from.
    if p + q <= 0.0 {
        return 1.0;
    }
    1.0 / (p + q)
}

/// MOS from R (G.107 Annex B): 1 below 0, 4.5 above 100, else
/// 1 + 0.035R + R(R−60)(100−R)·7e-6.
///
/// The polynomial dips to about 0.99 for R between 0 and 6.5; the result is held at 1 there,
/// because a MOS below the bottom of its own 1–5 scale would read as a bug, not a rating.
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6).max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(codec: CodecImpairment, loss: f64, burst: f64, delay: f64) -> EModelInput {
        EModelInput {
            codec,
            loss_percent: loss,
            burst_ratio: burst,
            mouth_to_ear_ms: delay,
        }
    }

    fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() <= tolerance
    }

    #[test]
    fn default_g711_without_loss_scores_93_2() {
        // Ro = 94.769, Is = 1.414 and Idle(Tr = 0) = 0.149 give 93.206, the G.107 default.
        let s = score(&input(G711, 0.0, 1.0, 0.0));
        assert!(close(s.r, 93.2, 0.1), "r = {}", s.r);
        assert!(close(s.mos, 4.41, 0.01), "mos = {}", s.mos);
        assert_eq!(s.r_wb, None);
    }

    #[test]
    fn up_to_100_ms_only_echo_costs_anything() {
        // Idd is zero up to 100 ms. The echo terms are not: at T = 100 ms with TELR 65 dB,
        // TERV = 65 − 40·log10(11 / 1.667) = 32.2, Re = 125.5, Roe = 94.77, so
        // Idte = −15.37 + √(235.6 + 100) − 1 = 1.96; Rle(Tr = 200) = 326.6 gives Idle = 0.73.
        // R = 93.355 − 1.96 − 0.73 = 90.66, not 93.2.
        for t in 0..=100 {
            assert_eq!(absolute_delay_idd(f64::from(t)), 0.0);
            let s = score(&input(G711, 0.0, 1.0, f64::from(t)));
            assert!(s.r > 90.6 && s.r < 93.3, "r({t} ms) = {}", s.r);
        }
        let s = score(&input(G711, 0.0, 1.0, 100.0));
        assert!(close(s.r, 90.66, 0.02), "r = {}", s.r);
    }

    #[test]
    fn idd_matches_hand_computed_values() {
        // X = log2(Ta / 100); Idd = 25·((1 + X⁶)^(1/6) − 3·(1 + (X/3)⁶)^(1/6) + 2).
        // 200 ms: X = 1: 2^(1/6) = 1.122462, 3·1.0013717^(1/6) = 3.000686 → 25·0.121776 = 3.0444.
        // 300 ms: X = 1.584963: 16.853^(1/6) = 1.601229, 3·1.021747^(1/6) = 3.010776
        //         → 25·0.590453 = 14.761.
        // 400 ms: X = 2: 65^(1/6) = 2.005175, 3·1.087791^(1/6) = 3.042372 → 25·0.962803 = 24.070.
        assert!(close(absolute_delay_idd(200.0), 3.0444, 0.001));
        assert!(close(absolute_delay_idd(300.0), 14.761, 0.001));
        assert!(close(absolute_delay_idd(400.0), 24.070, 0.001));
    }

    #[test]
    fn g711_with_plc_at_one_percent_random_loss() {
        // Ie,eff = 0 + 95 · 1 / (1/1 + 25.1) = 3.6398; R = 93.2062 − 3.6398 = 89.566.
        let s = score(&input(G711, 1.0, 1.0, 0.0));
        assert!(close(s.r, 89.566, 0.002), "r = {}", s.r);
        assert!(close(
            effective_ie(0.0, 25.1, 1.0, 1.0, 95.0),
            3.6398,
            0.0001
        ));
        // Without concealment (Bpl 4.3) the same loss costs 95 / 5.3 = 17.92.
        assert!(close(effective_ie(0.0, 4.3, 1.0, 1.0, 95.0), 17.925, 0.001));
    }

    #[test]
    fn r_at_200_ms_matches_the_equations() {
        // Idte = 3.5708, Idle(Tr = 400) = 0.9353, Idd = 3.0444 (each checked by hand):
        // R = 93.3553 − 7.5505 = 85.805.
        let s = score(&input(G711, 0.0, 1.0, 200.0));
        assert!(close(s.r, 85.805, 0.002), "r = {}", s.r);
    }

    #[test]
    fn mos_from_r_reference_points() {
        assert_eq!(mos_from_r(0.0), 1.0);
        assert_eq!(mos_from_r(-5.0), 1.0);
        // 1 + 1.75 + 50·(−10)·50·7e-6 = 2.575.
        assert!(close(mos_from_r(50.0), 2.575, 1e-9));
        // 1 + 3.262 + 93.2·33.2·6.8·7e-6 = 4.40929.
        assert!(close(mos_from_r(93.2), 4.40929, 1e-5));
        assert_eq!(mos_from_r(100.0), 4.5);
        assert_eq!(mos_from_r(120.0), 4.5);
        // The raw polynomial gives 0.9908 at R = 4.6; the scale stops at 1.
        assert_eq!(mos_from_r(4.6), 1.0);
        assert!(mos_from_r(7.0) > 1.0);
    }

    fn assert_strictly_falling(values: &[f64], what: &str) {
        for pair in values.windows(2) {
            assert!(pair[1] < pair[0], "{what} not strictly falling: {values:?}");
        }
    }

    #[test]
    fn r_falls_strictly_with_loss() {
        let losses = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0];
        for codec in [G711, G729, G722, AMR_WB, OPUS, linear_pcm(48_000)] {
            let scores: Vec<Score> = losses
                .iter()
                .map(|&loss| score(&input(codec, loss, 1.0, 50.0)))
                .collect();
            let r: Vec<f64> = scores.iter().map(|s| s.r).collect();
            assert_strictly_falling(&r, &format!("r of {codec:?} with loss"));
            if codec.band == Band::Wide {
                let r_wb: Vec<f64> = scores.iter().map(|s| s.r_wb.unwrap()).collect();
                assert_strictly_falling(&r_wb, &format!("r_wb of {codec:?} with loss"));
            }
        }
    }

    #[test]
    fn r_falls_strictly_with_delay() {
        for codec in [G711, G729, G722, AMR_WB, OPUS] {
            let scores: Vec<Score> = (100..=500)
                .step_by(50)
                .map(|t| score(&input(codec, 1.0, 1.0, f64::from(t))))
                .collect();
            let r: Vec<f64> = scores.iter().map(|s| s.r).collect();
            assert_strictly_falling(&r, &format!("r of {codec:?} with delay"));
            if codec.band == Band::Wide {
                let r_wb: Vec<f64> = scores.iter().map(|s| s.r_wb.unwrap()).collect();
                assert_strictly_falling(&r_wb, &format!("r_wb of {codec:?} with delay"));
            }
        }
    }

    #[test]
    fn bursty_loss_scores_below_random_loss() {
        // Ie,eff at 5 %: random 95·5/30.1 = 15.78, BurstR 2: 95·5/27.6 = 17.21.
        let random = score(&input(G711, 5.0, 1.0, 0.0));
        let bursty = score(&input(G711, 5.0, 2.0, 0.0));
        assert!(bursty.r < random.r, "{bursty:?} vs {random:?}");
        assert!(close(random.r - bursty.r, 17.210 - 15.781, 0.01));
        assert!(bursty.mos < random.mos);
    }

    #[test]
    fn wideband_scale() {
        // Linear PCM at 48 kHz is the wideband reference: R_wb = 129 − 1.29·Idle(0) = 128.81.
        let pcm = score(&input(linear_pcm(48_000), 0.0, 1.0, 0.0));
        let r_wb = pcm.r_wb.unwrap();
        assert!(close(r_wb, 129.0 - 1.29 * 0.14905, 0.001), "r_wb = {r_wb}");
        assert!(close(pcm.r, r_wb / 1.29, 1e-12));
        // G.722: 128.81 − 13 = 115.81 on the wideband scale, 115.81 / 1.29 = 89.77 compared.
        let g722 = score(&input(G722, 0.0, 1.0, 0.0));
        assert!(close(g722.r_wb.unwrap(), 115.808, 0.002));
        assert!(close(g722.r, 115.808 / 1.29, 0.002));
        assert!(close(g722.mos, mos_from_r(g722.r), 1e-12));
        // Loss on the wideband ceiling: 1 % with Bpl 25.1 costs (129 − 13)/26.1 = 4.444.
        let lossy = score(&input(G722, 1.0, 1.0, 0.0));
        assert!(close(
            g722.r_wb.unwrap() - lossy.r_wb.unwrap(),
            116.0 / 26.1,
            1e-9
        ));
    }

    #[test]
    fn burst_ratio_of_random_loss_is_about_one() {
        // A Bernoulli sequence (5 % loss) from a fixed xorshift generator.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut counts = [0u64; 4]; // rr, lr, rl, ll
        let mut previous_lost = false;
        for i in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let uniform = (state >> 11) as f64 / (1u64 << 53) as f64;
            let lost = uniform < 0.05;
            if i > 0 {
                let index = match (previous_lost, lost) {
                    (false, false) => 0,
                    (false, true) => 1,
                    (true, false) => 2,
                    (true, true) => 3,
                };
                counts[index] += 1;
            }
            previous_lost = lost;
        }
        let b = burst_ratio(counts[0], counts[1], counts[2], counts[3]);
        assert!(close(b, 1.0, 0.05), "BurstR = {b}, counts {counts:?}");
        // Exact Bernoulli proportions: p = 0.05, q = 0.95.
        assert!(close(burst_ratio(9025, 475, 475, 25), 1.0, 1e-12));
    }

    #[test]
    fn burst_ratio_of_clustered_loss_is_above_one() {
        // Cycles of 95 received then 5 lost: rr 94, lr 1, rl 1, ll 4 a cycle.
        // p = 1/95, q = 1/5, BurstR = 1 / 0.210526 = 4.75.
        let b = burst_ratio(94 * 100, 100, 100, 400);
        assert!(close(b, 4.75, 1e-9), "BurstR = {b}");
    }

    #[test]
    fn burst_ratio_without_loss_or_evidence_is_one() {
        assert_eq!(burst_ratio(1000, 0, 0, 0), 1.0);
        assert_eq!(burst_ratio(0, 0, 0, 0), 1.0);
        // Loss that never ended and never began after a received packet.
        assert_eq!(burst_ratio(10, 0, 0, 5), 1.0);
        // Nothing was received before any loss.
        assert_eq!(burst_ratio(0, 0, 3, 2), 1.0);
    }

    #[test]
    fn nan_and_out_of_range_inputs_give_finite_scores() {
        let weird = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0, 1e300];
        let codecs = [
            G711,
            G722,
            CodecImpairment {
                ie: f64::NAN,
                bpl: f64::NAN,
                band: Band::Narrow,
            },
            CodecImpairment {
                ie: -10.0,
                bpl: 0.0,
                band: Band::Wide,
            },
            CodecImpairment {
                ie: f64::INFINITY,
                bpl: -3.0,
                band: Band::Narrow,
            },
        ];
        for codec in codecs {
            for &loss in &weird {
                for &burst in &weird {
                    for &delay in &weird {
                        let s = score(&input(codec, loss, burst, delay));
                        assert!(s.r.is_finite() && (0.0..=100.0).contains(&s.r), "{s:?}");
                        assert!(s.mos.is_finite() && (1.0..=4.5).contains(&s.mos), "{s:?}");
                        if let Some(r_wb) = s.r_wb {
                            assert!(r_wb.is_finite() && (0.0..=129.0).contains(&r_wb));
                        }
                    }
                }
            }
        }
        // Negative loss is no loss; loss above 100 % is 100 %.
        assert_eq!(
            score(&input(G711, -5.0, 1.0, 0.0)),
            score(&input(G711, 0.0, 1.0, 0.0))
        );
        assert_eq!(
            score(&input(G711, 250.0, 1.0, 0.0)),
            score(&input(G711, 100.0, 1.0, 0.0))
        );
        assert!(mos_from_r(f64::NAN) == 1.0);
    }

    #[test]
    fn codec_lookup() {
        assert_eq!(codec_impairment("PCMU", 8000), Some(G711));
        assert_eq!(codec_impairment("pcma", 8000), Some(G711));
        assert_eq!(codec_impairment("G729", 8000).map(|c| c.ie), Some(11.0));
        assert_eq!(codec_impairment("g729", 8000).map(|c| c.bpl), Some(19.0));
        assert_eq!(codec_impairment("G723", 8000), Some(G723));
        assert_eq!(codec_impairment("GSM", 8000), Some(GSM_FR));
        assert_eq!(codec_impairment("iLBC", 8000), Some(ILBC));
        assert_eq!(codec_impairment("AMR", 8000), Some(AMR_NB));
        assert_eq!(codec_impairment("AMR-WB", 16_000), Some(AMR_WB));
        assert_eq!(codec_impairment("opus", 48_000), Some(OPUS));
        // G.722's RTP clock rate is 8000 but it is wideband.
        assert_eq!(
            codec_impairment("G722", 8000).map(|c| c.band),
            Some(Band::Wide)
        );
        assert_eq!(
            codec_impairment("L16", 8000).map(|c| c.band),
            Some(Band::Narrow)
        );
        assert_eq!(
            codec_impairment("L16", 44_100).map(|c| c.band),
            Some(Band::Wide)
        );
        assert_eq!(
            codec_impairment("l24", 48_000).map(|c| c.band),
            Some(Band::Wide)
        );
        assert_eq!(codec_impairment("L24", 16_000).map(|c| c.ie), Some(0.0));
        assert_eq!(codec_impairment("speex", 8000), None);
        assert_eq!(codec_impairment("MPA", 90_000), None);
        assert_eq!(codec_impairment("", 8000), None);
    }

    #[test]
    fn serializes_band_and_score() {
        assert_eq!(serde_json::to_string(&Band::Wide).unwrap(), "\"wide\"");
        assert_eq!(serde_json::to_string(&Band::Narrow).unwrap(), "\"narrow\"");
        let json = serde_json::to_value(score(&input(G711, 0.0, 1.0, 0.0))).unwrap();
        assert!(json["r_wb"].is_null());
        assert!(json["mos"].as_f64().unwrap() > 4.4);
    }
}
