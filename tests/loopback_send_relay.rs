//! `send` and `relay` over real loopback sockets: pacing, bit-exact payloads, impairment counts
//! that match the summaries, the SDP, and real receivers (ffmpeg, GStreamer) reproducing the source.
//!
//! No sleep stands in for synchronisation: tests read until the sending process exits and then
//! drain; third-party receivers are watched through /proc/net/udp (bound, drained).

mod common;
mod net_support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use jitterplay::rtp::payload::PayloadFormat;
use jitterplay::rtp::sdp::parse_sdp;
use net_support::*;
use rtp_rs::RtpReader;

const SPEECH: &str = "speech-48k-mono.wav";

/// Starts `jitterplay send` of `input` to `to` with more arguments.
fn send(input: &str, to: SocketAddr, args: &[&str]) -> Child {
    jitterplay()
        .arg("send")
        .arg(asset(input))
        .args(["--to", &to.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jitterplay send")
}

/// The RTP fields a test checks.
#[derive(Debug)]
struct Rtp {
    seq: u16,
    ts: u32,
    pt: u8,
    ssrc: u32,
    marker: bool,
    payload: Vec<u8>,
}

fn parse(arrival: &Arrival) -> Rtp {
    let r = RtpReader::new(&arrival.bytes).expect("valid RTP");
    Rtp {
        seq: r.sequence_number().into(),
        ts: r.timestamp(),
        pt: r.payload_type(),
        ssrc: r.ssrc(),
        marker: r.mark(),
        payload: r.payload().to_vec(),
    }
}

/// The source's samples as `read_wav` gives them (16-bit mono at 48 kHz).
fn speech() -> Vec<f32> {
    let (samples, rate, channels) = read_wav(&asset(SPEECH));
    assert_eq!((rate, channels), (48_000, 1));
    samples
}

#[test]
fn l16_is_paced_in_order_and_bit_exact() {
    let rx = receiver();
    let args = [
        "--ptime",
        "10ms",
        "--pt",
        "97",
        "--ssrc",
        "0x1234abcd",
        "--seq",
        "65500",
        "--ts",
        "4294967000",
        "--duration",
        "1s",
    ];
    let (arrivals, output) = receive_until_exit(&rx, send(SPEECH, rx.local_addr().unwrap(), &args));
    let s = summary(&output);
    assert_eq!((count(&s, "packets"), count(&s, "datagrams")), (100, 100));
    assert_eq!(arrivals.len(), 100);
    let packets: Vec<Rtp> = arrivals.iter().map(parse).collect();
    for (i, p) in packets.iter().enumerate() {
        // Both counters wrap within this second.
        assert_eq!(p.seq, 65_500u16.wrapping_add(i as u16), "packet {i}");
        assert_eq!(
            p.ts,
            4_294_967_000u32.wrapping_add(480 * i as u32),
            "packet {i}"
        );
        assert_eq!(
            (p.pt, p.ssrc, p.marker),
            (97, 0x1234_abcd, i == 0),
            "packet {i}"
        );
    }
    let sent: Vec<u8> = packets.iter().flat_map(|p| p.payload.clone()).collect();
    assert!(
        sent == l16_bytes(&speech()[..48_000]),
        "payloads differ from the source"
    );
    // Paced in real time: 100 packets 10 ms apart span 0.99 s.
    let span = arrivals[99].at - arrivals[0].at;
    assert!(
        span >= Duration::from_millis(900) && span < Duration::from_secs(5),
        "sent 1 s of audio in {span:?}"
    );
}

#[test]
fn impaired_send_loses_what_its_summary_says() {
    let rx = receiver();
    let args = [
        "--impair",
        "loss=10%,seed=3",
        "--duration",
        "1s",
        "--seq",
        "0",
    ];
    let (arrivals, output) = receive_until_exit(&rx, send(SPEECH, rx.local_addr().unwrap(), &args));
    let s = summary(&output);
    let (packets, dropped) = (count(&s, "packets"), count(&s, "dropped"));
    assert!(dropped > 0 && dropped < packets / 4, "{s:?}");
    assert_eq!(count(&s, "datagrams"), packets - dropped);
    assert_eq!(arrivals.len() as u64, packets - dropped, "{s:?}");
    let last_seq = arrivals.iter().map(|a| parse(a).seq).max().unwrap();
    assert!(u64::from(last_seq) < packets);
}

#[test]
fn pcmu_sends_160_bytes_per_20_ms_as_pt_0() {
    let rx = receiver();
    let args = ["--format", "pcmu", "--duration", "500ms"];
    let (arrivals, output) = receive_until_exit(&rx, send(SPEECH, rx.local_addr().unwrap(), &args));
    assert_eq!(count(&summary(&output), "packets"), 25);
    let packets: Vec<Rtp> = arrivals.iter().map(parse).collect();
    assert_eq!(packets.len(), 25);
    for (i, p) in packets.iter().enumerate() {
        assert_eq!((p.pt, p.payload.len()), (0, 160), "packet {i}");
        assert_eq!(p.ts.wrapping_sub(packets[0].ts), 160 * i as u32);
        assert_eq!(p.seq, packets[0].seq.wrapping_add(i as u16));
    }
}

#[test]
fn mpa_sends_mp3_frames_and_refuses_other_files() {
    let rx = receiver();
    let to = rx.local_addr().unwrap();
    let args = ["--format", "mpa", "--duration", "1s"];
    let (arrivals, output) = receive_until_exit(&rx, send("speech-44k-mono.mp3", to, &args));
    summary(&output);
    assert!(arrivals.len() >= 3, "{} packets", arrivals.len());
    let packets: Vec<Rtp> = arrivals.iter().map(parse).collect();
    // As many whole frames as fit 1460 bytes, timed on the 90 kHz clock.
    assert!(packets
        .windows(2)
        .all(|w| (1..90_000).contains(&w[1].ts.wrapping_sub(w[0].ts))));
    for p in packets {
        assert_eq!(p.pt, 14);
        // RFC 2250 header (whole frames: offset 0), then an MPEG frame sync.
        assert_eq!(&p.payload[..4], &[0, 0, 0, 0]);
        assert_eq!((p.payload[4], p.payload[5] & 0xE0), (0xFF, 0xE0));
    }
    let out = send(SPEECH, to, &["--format", "mpa"])
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an MP3/MP2 file"));
}

#[test]
fn bad_destinations_and_formats_are_explained() {
    for (args, needle) in [
        (vec!["--to", "127.0.0.1"], "expected HOST:PORT"),
        (vec!["--to", "no-such-host.invalid:5004"], "cannot resolve"),
        (vec!["--to", "127.0.0.1:0"], "port 0"),
        (
            vec!["--to", "127.0.0.1:9", "--format", "l16/fast"],
            "invalid rate",
        ),
        (
            vec!["--to", "127.0.0.1:9", "--impair", "loss=200%"],
            "between 0 and 100",
        ),
    ] {
        let out = jitterplay()
            .arg("send")
            .arg(asset(SPEECH))
            .args(&args)
            .bounded_output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            err.contains(needle) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn relay_duplicates_reorders_and_counts() {
    let rx = receiver();
    let mut relay = jitterplay()
        .args([
            "relay",
            "--listen",
            "127.0.0.1:0",
            "--idle-timeout",
            "1s",
            "--to",
        ])
        .arg(rx.local_addr().unwrap().to_string())
        .args(["--impair", "dup=10%,reorder=10%,seed=5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line names the port it listens on.
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(relay.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let listen: SocketAddr = first
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    let sender = std::thread::spawn(move || {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0u32..200 {
            tx.send_to(&i.to_be_bytes(), listen).unwrap();
            // A 2 ms stream, like a fast RTP sender (pacing, not synchronisation).
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let (arrivals, mut output) = receive_until_exit(&rx, relay);
    sender.join().unwrap();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).unwrap();
    output.stdout = rest;
    let s = summary(&output);
    let (duplicated, dropped) = (count(&s, "duplicated"), count(&s, "dropped"));
    assert_eq!(count(&s, "received"), 200, "{s:?}");
    assert!(duplicated > 0 && count(&s, "reordered") > 0, "{s:?}");
    assert_eq!(count(&s, "forwarded"), 200 + duplicated - dropped, "{s:?}");
    assert_eq!(arrivals.len() as u64, 200 + duplicated - dropped, "{s:?}");
    let order: Vec<u32> = arrivals
        .iter()
        .map(|a| u32::from_be_bytes(a.bytes[..4].try_into().unwrap()))
        .collect();
    assert!(
        order.windows(2).any(|w| w[1] < w[0]),
        "nothing out of order"
    );
}

/// Writes the SDP of a 10 ms L16 stream to `port` without sending anything.
/// The SDP `send` (with `extra` options) writes for a stream to `port`.
fn write_sdp(dir: &std::path::Path, port: u16, extra: &[&str]) -> std::path::PathBuf {
    let sdp = dir.join("stream.sdp");
    run_ok(
        jitterplay()
            .arg("send")
            .arg(asset(SPEECH))
            .args(["--to", &format!("127.0.0.1:{port}"), "--ptime", "10ms"])
            .args(["--duration", "0s", "--sdp-out"])
            .arg(&sdp)
            .args(extra),
    );
    sdp
}

#[test]
fn sdp_out_describes_the_stream() {
    let dir = scratch("sdp_out");
    let stream = parse_sdp(&std::fs::read(write_sdp(&dir, 5004, &[])).unwrap()).unwrap();
    let l16 = PayloadFormat::L16 {
        rate: 48_000,
        channels: 1,
    };
    assert_eq!(stream.primary(), Some((96, l16)));
    assert_eq!(
        (stream.port, stream.connection.addr.to_string()),
        (5004, "127.0.0.1".into())
    );
    assert_eq!(stream.ptime, Some(Duration::from_millis(10)));
}

/// Sends 1 s of speech to `port`, where `receiver` listens, and stops it once it has read all.
fn feed_receiver(port: u16, receiver: Child, extra: &[&str]) {
    wait_until_bound(port);
    let rx_at = SocketAddr::from(([127, 0, 0, 1], port));
    let args = [&["--ptime", "10ms", "--duration", "1s"][..], extra].concat();
    let out = send(SPEECH, rx_at, &args);
    let out = out.wait_with_output().unwrap();
    assert_eq!(count(&summary(&out), "datagrams"), 100);
    wait_until_drained(port);
    interrupt(&receiver);
    let done = receiver.wait_with_output().unwrap();
    eprintln!("receiver: {}", String::from_utf8_lossy(&done.stderr));
}

/// ffmpeg reading the SDP `send` writes (with `extra` options), then receiving 1 s from it:
/// its output must be the source bit for bit.
fn ffmpeg_receives_send(name: &str, extra: &[&str]) {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch(name);
    let port = free_port();
    let sdp = write_sdp(&dir, port, extra);
    let wav = dir.join("rx.wav");
    let ffmpeg = ffmpeg_sdp_to_wav(&sdp, &wav);
    feed_receiver(port, ffmpeg, extra);
    let (got, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels, got.len()), (48_000, 1, 48_000));
    assert!(
        got == speech()[..48_000],
        "ffmpeg's output differs from the source"
    );
}

#[test]
fn ffmpeg_receives_send_sdp_out_bit_exact() {
    ffmpeg_receives_send("send_to_ffmpeg", &[]);
}

/// A fixed key, so that the SDP written first describes the stream sent after it.
const SRTP_KEY: &str = "AES_CM_128_HMAC_SHA1_80:inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";

#[test]
fn ffmpeg_decrypts_send_srtp_from_its_sdp_bit_exact() {
    ffmpeg_receives_send("send_srtp_to_ffmpeg", &["--srtp", SRTP_KEY]);
}

/// GStreamer receiving 1 s from `send` (with `extra` options): `caps` on `udpsrc`, then
/// `decrypt` (elements before the jitter buffer; none for plain RTP). Its output must hold the
/// source bit for bit.
fn gstreamer_receives_send(name: &str, caps: &str, decrypt: &[&str], extra: &[&str]) {
    if !require_tool("gst-launch-1.0") {
        return;
    }
    let dir = scratch(name);
    let port = free_port();
    let wav = dir.join("rx.wav");
    let gst = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "-e",
            "udpsrc",
            "address=127.0.0.1",
            &format!("port={port}"),
        ])
        .arg(format!("caps={caps}"))
        .args(decrypt)
        .args([
            "!",
            "rtpjitterbuffer",
            "latency=200",
            "!",
            "rtpL16depay",
            "!",
            "audioconvert",
        ])
        .args([
            "!",
            "wavenc",
            "!",
            "filesink",
            &format!("location={}", wav.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    feed_receiver(port, gst, extra);
    let (got, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (48_000, 1));
    let source = &speech()[..48_000];
    // GStreamer may start its output with silence before the first packet's time.
    let lead = (0..=got.len().saturating_sub(source.len()))
        .find(|&o| got[o..o + source.len()] == *source)
        .unwrap_or_else(|| panic!("source not found in GStreamer's {} samples", got.len()));
    assert!(lead < 4_800, "{lead} samples before the stream");
}

const L16_CAPS: &str = "media=(string)audio,clock-rate=(int)48000,encoding-name=(string)L16,\
                        encoding-params=(string)1,channels=(int)1,payload=(int)96";

#[test]
fn gstreamer_receives_send_bit_exact() {
    let caps = format!("application/x-rtp,{L16_CAPS}");
    gstreamer_receives_send("send_to_gstreamer", &caps, &[], &[]);
}

#[test]
fn gstreamer_srtpdec_decrypts_send_srtp_bit_exact() {
    // SRTP_KEY's 30 bytes in hex, as srtpdec's caps want them, for the SSRC they name.
    let key: String = (0..30u8).map(|b| format!("{b:02x}")).collect();
    let caps = format!(
        "application/x-srtp,{L16_CAPS},ssrc=(uint)4660,srtp-key=(buffer){key},\
         srtp-cipher=(string)aes-128-icm,srtp-auth=(string)hmac-sha1-80,\
         srtcp-cipher=(string)aes-128-icm,srtcp-auth=(string)hmac-sha1-80"
    );
    gstreamer_receives_send(
        "send_srtp_to_gstreamer",
        &caps,
        &["!", "srtpdec"],
        &["--srtp", SRTP_KEY, "--ssrc", "4660"],
    );
}
