//! Unit tests of scoped payload bindings.
use super::*;
use crate::rtp::sdp::audio_media;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

/// An SDP seen at `at` saying `ip`:`port` receives PT 99 as `rtpmap` (and PT 0).
fn sighting(at: u64, ip: &str, port: u16, rtpmap: &str) -> SdpSighting {
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 99 0\r\na=rtpmap:99 {rtpmap}\r\n"
    );
    SdpSighting {
        at: secs(at),
        sender: addr(&format!("{ip}:5060")),
        media: audio_media(sdp.as_bytes()).unwrap(),
    }
}

fn named(b: &PayloadBindings, src: &str, dst: &str, at: u64) -> Option<(String, Scope)> {
    b.lookup(addr(src), addr(dst), 99, secs(at))
        .map(|(p, scope)| (p.rtpmap.clone().unwrap_or_default(), scope))
}

fn sdp(name: &str) -> Option<(String, Scope)> {
    Some((name.to_owned(), Scope::Endpoint))
}

#[test]
fn calls_one_after_another_on_the_same_ports_each_take_their_own_mapping() {
    // Four calls between the same two endpoints, each offer and answer remapping PT 99.
    let rates = ["L16/8000/2", "L16/16000/2", "L16/11025", "L16/48000"];
    let mut sightings = Vec::new();
    for (i, rtpmap) in rates.iter().enumerate() {
        let t = 100 * i as u64;
        sightings.push(sighting(t, "10.0.0.1", 4000, rtpmap));
        sightings.push(sighting(t + 1, "10.0.0.2", 6000, rtpmap));
    }
    // Given out of order (as SIP over TCP is gathered apart): time decides, not input order.
    sightings.reverse();
    let b = PayloadBindings::new(sightings, 8);
    assert_eq!(b.sdp_bodies, 8);
    for (i, rtpmap) in rates.iter().enumerate() {
        let t = 100 * i as u64 + 2;
        assert_eq!(
            named(&b, "10.0.0.1:4000", "10.0.0.2:6000", t),
            sdp(rtpmap),
            "call {i}"
        );
        assert_eq!(
            named(&b, "10.0.0.2:6000", "10.0.0.1:4000", t + 50),
            sdp(rtpmap),
            "call {i} back"
        );
    }
}

#[test]
fn each_side_receives_at_its_own_endpoint_and_a_reinvite_rebinds_only_its_sender() {
    // The offer says the caller receives PT 99 as L16/8000; the answer that the callee
    // receives it as L16/16000. At 50 s the caller re-INVITEs: it now receives L16/48000/2.
    let b = PayloadBindings::new(
        vec![
            sighting(0, "10.0.0.1", 4000, "L16/8000"),
            sighting(1, "10.0.0.2", 6000, "L16/16000"),
            sighting(50, "10.0.0.1", 4000, "L16/48000/2"),
        ],
        3,
    );
    // Toward the callee: the answer, before and after the re-INVITE.
    assert_eq!(
        named(&b, "10.0.0.1:4000", "10.0.0.2:6000", 10),
        sdp("L16/16000")
    );
    assert_eq!(
        named(&b, "10.0.0.1:4000", "10.0.0.2:6000", 60),
        sdp("L16/16000")
    );
    // Toward the caller: the offer, then the re-INVITE from the moment it was captured.
    assert_eq!(
        named(&b, "10.0.0.2:6000", "10.0.0.1:4000", 10),
        sdp("L16/8000")
    );
    assert_eq!(
        named(&b, "10.0.0.2:6000", "10.0.0.1:4000", 50),
        sdp("L16/48000/2")
    );
    // From an unsignalled sender to the caller: the receiver's SDP still decides.
    assert_eq!(
        named(&b, "10.0.0.9:7000", "10.0.0.1:4000", 60),
        sdp("L16/48000/2")
    );
    // To an unsignalled receiver from the callee: the sender's own SDP (symmetric RTP).
    assert_eq!(
        named(&b, "10.0.0.2:6000", "10.0.0.9:7000", 10),
        sdp("L16/16000")
    );
}

#[test]
fn without_sdp_in_force_the_nearest_mapping_is_a_guess() {
    let b = PayloadBindings::new(
        vec![
            sighting(10, "10.0.0.1", 4000, "L16/8000"),
            sighting(20, "10.0.0.3", 8000, "L16/44100"),
            sighting(30, "10.0.0.5", 9000, "L16/32000"),
        ],
        3,
    );
    let guess = |name: &str| Some((name.to_owned(), Scope::CaptureWide));
    // RTP to 10.0.0.1:4000 before its SDP was captured: that endpoint's later SDP is still
    // the one on its port.
    assert_eq!(
        named(&b, "10.0.0.2:6000", "10.0.0.1:4000", 5),
        guess("L16/8000")
    );
    // Nothing on these ports: the mapping last in force before the stream started.
    assert_eq!(
        named(&b, "10.0.0.7:1000", "10.0.0.8:2000", 25),
        guess("L16/44100")
    );
    // Before every SDP: the first one captured after.
    assert_eq!(
        named(&b, "10.0.0.7:1000", "10.0.0.8:2000", 0),
        guess("L16/8000")
    );
    // A payload type no SDP maps is not named at all.
    assert!(b
        .lookup(addr("10.0.0.7:1000"), addr("10.0.0.1:4000"), 98, secs(40))
        .is_none());
    assert!(PayloadBindings::default().is_empty());
}
