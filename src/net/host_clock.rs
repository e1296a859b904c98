//! What disciplines the host clock that media clocks are measured against: linuxptp's state
//! when `pmc` answers (PTP: the grandmaster it follows), else the kernel's TAI offset, which
//! linuxptp or chrony set (else the clock is taken to be NTP-disciplined UTC). linuxptp is read,
//! never driven: jitterplay has no PTP servo.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Asks linuxptp (`pmc -u -b 0 'GET TIME_STATUS_NP'`, at most a second) and the kernel, and
/// says what the reference clock is, in a few words.
pub fn describe() -> String {
    let tai = super::ref_clock::tai_offset_s();
    let base = if tai == 0 {
        "host UTC (no TAI offset set: NTP assumed)".to_string()
    } else {
        format!("host TAI (kernel TAI offset {tai} s)")
    };
    match pmc_status() {
        Some(PtpStatus {
            gm_present: true,
            gm_identity,
            master_offset_ns,
        }) => format!(
            "{base}, PTP grandmaster {} (ptp4l offset {} ns)",
            gm_identity.as_deref().unwrap_or("?"),
            master_offset_ns.map_or("?".into(), |o| o.to_string())
        ),
        Some(_) => format!("{base}, ptp4l running without a grandmaster"),
        None => base,
    }
}

/// linuxptp's `TIME_STATUS_NP` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtpStatus {
    /// Whether ptp4l follows a grandmaster.
    pub gm_present: bool,
    /// The grandmaster's clock identity, as pmc prints it.
    pub gm_identity: Option<String>,
    /// ptp4l's offset from its master, ns.
    pub master_offset_ns: Option<i64>,
}

/// Reads `pmc`'s printout of `GET TIME_STATUS_NP`.
pub fn parse_time_status(text: &str) -> Option<PtpStatus> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let gm_present = field("gmPresent")?;
    Some(PtpStatus {
        gm_present: gm_present == "true",
        gm_identity: field("gmIdentity"),
        master_offset_ns: field("master_offset").and_then(|v| v.parse().ok()),
    })
}

fn pmc_status() -> Option<PtpStatus> {
    let mut child = Command::new("pmc")
        .args(["-u", "-b", "0", "GET TIME_STATUS_NP"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < Duration::from_secs(1) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    parse_time_status(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linuxptps_time_status_is_read() {
        let text = "sending: GET TIME_STATUS_NP\n\t90e2ba.fffe.0c4a5e-0 seq 0 RESPONSE MANAGEMENT TIME_STATUS_NP\n\t\tmaster_offset              -21\n\t\tingress_time               1583000000000000000\n\t\tgmPresent                  true\n\t\tgmIdentity                 001dc1.fffe.123456\n";
        assert_eq!(
            parse_time_status(text),
            Some(PtpStatus {
                gm_present: true,
                gm_identity: Some("001dc1.fffe.123456".into()),
                master_offset_ns: Some(-21),
            })
        );
        assert_eq!(parse_time_status("sending: GET TIME_STATUS_NP\n"), None);
    }

    #[test]
    fn without_linuxptp_the_host_clock_is_still_described() {
        assert!(describe().starts_with("host "), "{}", describe());
    }
}
