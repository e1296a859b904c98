//! The sessions SAP has announced (RFC 2974), kept up to date from packets and time: new
//! sessions, updates (a changed SDP for the same `o=` identity), deletions and timeouts. Sans-IO:
//! the caller hands in datagrams with their arrival time and asks for expiries at a time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::sap::{self, SapError, SapKind};
use super::sdp::{parse_sdp, SdpStream};

/// Sessions tracked at most; announcements of more are counted and ignored.
pub const MAX_SESSIONS: usize = 1024;
/// An SDP longer than this is refused (a SAP packet should fit a 1 KB datagram).
pub const MAX_SDP_BYTES: usize = 16 * 1024;

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SapChange {
    /// First heard.
    New,
    /// Its SDP changed.
    Updated,
    /// Deleted by its announcer.
    Deleted,
    /// Not heard for its timeout.
    Expired,
}

/// One announced session.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SapSession {
    /// `s=`, or the identity when the SDP has no name.
    pub name: String,
    /// The `o=` line without its version: the session's identity across updates.
    pub identity: String,
    /// The announcer (SAP's originating source).
    pub origin: IpAddr,
    /// The SDP as announced.
    pub sdp: String,
    /// The stream it describes, or why it cannot be played.
    #[serde(skip)]
    pub stream: Result<SdpStream, String>,
    /// When it was first heard.
    #[serde(skip)]
    pub first_heard: Duration,
    /// When it was last heard.
    #[serde(skip)]
    pub last_heard: Duration,
    /// The announcement interval seen (the mean gap between repetitions).
    #[serde(skip)]
    pub interval: Option<Duration>,
    /// Announcements heard.
    pub announcements: u64,
    msg_id_hash: u16,
}

/// A change and the session it happened to.
#[derive(Debug, Clone)]
pub struct SapEvent {
    /// What happened.
    pub change: SapChange,
    /// The session (as it was last, for deletions and expiries).
    pub session: SapSession,
}

/// What the directory refused or ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SapCounts {
    /// SAP packets read.
    pub packets: u64,
    /// Datagrams that were not SAP packets jitterplay reads (garbled, encrypted, compressed).
    pub refused: u64,
    /// Announcements of new sessions ignored because [`MAX_SESSIONS`] were tracked.
    pub over_capacity: u64,
    /// Deletions of sessions not known.
    pub unknown_deletions: u64,
}

/// The announced sessions.
#[derive(Debug)]
pub struct SapDirectory {
    sessions: BTreeMap<String, SapSession>,
    min_timeout: Duration,
    counts: SapCounts,
}

impl SapDirectory {
    /// A directory that expires a session after ten announcement intervals of silence, and never
    /// sooner than `min_timeout`.
    pub fn new(min_timeout: Duration) -> Self {
        SapDirectory {
            sessions: BTreeMap::new(),
            min_timeout,
            counts: SapCounts::default(),
        }
    }

    /// The sessions, by identity.
    pub fn sessions(&self) -> impl Iterator<Item = &SapSession> {
        self.sessions.values()
    }

    /// What was refused or ignored.
    pub fn counts(&self) -> SapCounts {
        self.counts
    }

    /// A datagram arrived on a SAP group at `now`.
    pub fn on_datagram(
        &mut self,
        datagram: &[u8],
        now: Duration,
    ) -> Result<Option<SapEvent>, SapError> {
        let packet = match sap::parse(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.counts.refused += 1;
                return Err(e);
            }
        };
        self.counts.packets += 1;
        if packet.sdp.len() > MAX_SDP_BYTES {
            self.counts.refused += 1;
            return Err(SapError::Truncated);
        }
        let identity = sap::session_identity(packet.sdp)
            .unwrap_or_else(|| format!("{} {:04x}", packet.origin, packet.msg_id_hash));
        if packet.kind == SapKind::Delete {
            let key = if self.sessions.contains_key(&identity) {
                Some(identity)
            } else {
                // A deletion may carry no usable o= line: match the announcement it names.
                self.sessions
                    .iter()
                    .find(|(_, s)| s.origin == packet.origin && s.msg_id_hash == packet.msg_id_hash)
                    .map(|(k, _)| k.clone())
            };
            return Ok(match key.and_then(|k| self.sessions.remove(&k)) {
                Some(session) => Some(SapEvent {
                    change: SapChange::Deleted,
                    session,
                }),
                None => {
                    self.counts.unknown_deletions += 1;
                    None
                }
            });
        }
        let text = String::from_utf8_lossy(packet.sdp).into_owned();
        if let Some(known) = self.sessions.get_mut(&identity) {
            let gap = now.saturating_sub(known.last_heard);
            known.interval = Some(match known.interval {
                Some(i) => (i * 7 + gap) / 8,
                None => gap,
            });
            known.last_heard = now;
            known.announcements += 1;
            if known.sdp == text {
                return Ok(None);
            }
            known.sdp = text;
            known.msg_id_hash = packet.msg_id_hash;
            known.stream = parse_sdp(packet.sdp).map_err(|e| e.to_string());
            known.name = name_of(&known.stream, &known.identity);
            return Ok(Some(SapEvent {
                change: SapChange::Updated,
                session: known.clone(),
            }));
        }
        if self.sessions.len() >= MAX_SESSIONS {
            self.counts.over_capacity += 1;
            return Ok(None);
        }
        let stream = parse_sdp(packet.sdp).map_err(|e| e.to_string());
        let session = SapSession {
            name: name_of(&stream, &identity),
            identity: identity.clone(),
            origin: packet.origin,
            sdp: text,
            stream,
            first_heard: now,
            last_heard: now,
            interval: None,
            announcements: 1,
            msg_id_hash: packet.msg_id_hash,
        };
        self.sessions.insert(identity, session.clone());
        Ok(Some(SapEvent {
            change: SapChange::New,
            session,
        }))
    }

    /// Removes the sessions not heard for their timeout by `now`.
    pub fn expire(&mut self, now: Duration) -> Vec<SapEvent> {
        let min = self.min_timeout;
        let stale: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.last_heard) > timeout(s, min))
            .map(|(k, _)| k.clone())
            .collect();
        stale
            .into_iter()
            .filter_map(|k| self.sessions.remove(&k))
            .map(|session| SapEvent {
                change: SapChange::Expired,
                session,
            })
            .collect()
    }

    /// The next moment a session may expire.
    pub fn next_expiry(&self) -> Option<Duration> {
        self.sessions
            .values()
            .map(|s| s.last_heard + timeout(s, self.min_timeout))
            .min()
    }
}

/// Ten announcement intervals (RFC 2974 §3.1), never less than `min`.
fn timeout(s: &SapSession, min: Duration) -> Duration {
    s.interval.map_or(min, |i| (i * 10).max(min))
}

fn name_of(stream: &Result<SdpStream, String>, identity: &str) -> String {
    stream
        .as_ref()
        .ok()
        .and_then(|s| s.session_name.clone())
        .unwrap_or_else(|| identity.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::sap::build;

    fn sdp(version: u32, port: u16) -> Vec<u8> {
        format!(
            "v=0\r\no=- 42 {version} IN IP4 10.0.0.1\r\ns=studio A\r\nc=IN IP4 239.9.9.9/32\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 96\r\na=rtpmap:96 L24/48000/2\r\na=ptime:1\r\n\
             a=ts-refclk:ptp=IEEE1588-2008:00-11-22-FF-FE-33-44-55:0\r\na=mediaclk:direct=0\r\n"
        )
        .into_bytes()
    }

    fn announce(sdp: &[u8]) -> Vec<u8> {
        build(
            SapKind::Announce,
            sap::msg_id_hash(sdp),
            "10.0.0.1".parse().unwrap(),
            sdp,
        )
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_session_is_new_then_repeated_then_updated_then_deleted() {
        let mut d = SapDirectory::new(S(60));
        let first = d
            .on_datagram(&announce(&sdp(1, 5004)), S(0))
            .unwrap()
            .expect("new");
        assert_eq!(first.change, SapChange::New);
        assert_eq!(first.session.name, "studio A");
        let stream = first.session.stream.as_ref().expect("playable");
        assert_eq!(stream.port, 5004);
        assert_eq!(stream.ptime, Some(Duration::from_millis(1)));
        assert_eq!(stream.mediaclk.as_deref(), Some("direct=0"));
        assert!(stream
            .ts_refclk
            .as_deref()
            .unwrap()
            .starts_with("ptp=IEEE1588-2008"));
        assert!(
            d.on_datagram(&announce(&sdp(1, 5004)), S(5))
                .unwrap()
                .is_none(),
            "a repetition"
        );
        let update = d
            .on_datagram(&announce(&sdp(2, 5006)), S(10))
            .unwrap()
            .expect("update");
        assert_eq!(update.change, SapChange::Updated);
        assert_eq!(update.session.stream.as_ref().unwrap().port, 5006);
        assert_eq!(d.sessions().count(), 1);
        let deletion = build(
            SapKind::Delete,
            1,
            "10.0.0.1".parse().unwrap(),
            b"v=0\r\no=- 42 2 IN IP4 10.0.0.1\r\n",
        );
        let gone = d.on_datagram(&deletion, S(11)).unwrap().expect("deleted");
        assert_eq!(gone.change, SapChange::Deleted);
        assert_eq!(d.sessions().count(), 0);
        assert!(d.on_datagram(&deletion, S(12)).unwrap().is_none());
        assert_eq!(d.counts().unknown_deletions, 1);
    }

    #[test]
    fn silence_for_ten_intervals_expires_a_session_but_never_before_the_floor() {
        let mut d = SapDirectory::new(S(30));
        for t in [0, 5, 10] {
            d.on_datagram(&announce(&sdp(1, 5004)), S(t)).unwrap();
        }
        // Interval 5 s: ten of them is 50 s after the last announcement.
        assert!(d.expire(S(59)).is_empty());
        let expired = d.expire(S(61));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].change, SapChange::Expired);
        // Heard once: the floor.
        d.on_datagram(&announce(&sdp(1, 5004)), S(100)).unwrap();
        assert_eq!(d.next_expiry(), Some(S(130)));
        assert!(d.expire(S(129)).is_empty());
        assert_eq!(d.expire(S(131)).len(), 1);
    }

    #[test]
    fn garbage_is_counted_and_the_directory_is_bounded() {
        let mut d = SapDirectory::new(S(60));
        assert!(d.on_datagram(b"\xff\xff", S(0)).is_err());
        for i in 0..MAX_SESSIONS + 5 {
            let text = format!("v=0\r\no=- {i} 1 IN IP4 10.0.0.1\r\ns=s{i}\r\nc=IN IP4 239.1.1.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n");
            d.on_datagram(&announce(text.as_bytes()), S(1)).unwrap();
        }
        assert_eq!(d.sessions().count(), MAX_SESSIONS);
        let c = d.counts();
        assert_eq!((c.refused, c.over_capacity), (1, 5));
    }
}
