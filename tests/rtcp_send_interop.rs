//! The sending side of RTCP against real peers: a GStreamer rtpbin receiver recovers our RTX
//! through a lossy `relay` (both directions impaired), a GStreamer rtpbin's receiver reports
//! reach `send` (RTT and loss in its summary), and ffmpeg still plays our AVPF SDP bit-exact.
//!
//! Peers run as processes; the tests wait on their output and on /proc/net/udp, not on sleeps.
//! Without gst-launch-1.0, ffmpeg or Python GStreamer bindings they fail under CI, skip elsewhere.

mod common;
mod net_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;
use net_support::*;

const SPEECH: &str = "speech-48k-mono.wav";
const PYTHON: &str = "/usr/bin/python3";

/// True if Python's GStreamer bindings load (python3-gi, gir1.2-gstreamer-1.0).
fn require_gst_python() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import gi; gi.require_version('Gst', '1.0')"])
        .bounded_output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("python3-gi and gir1.2-gstreamer-1.0 are required in CI (scripts/install-deps.sh test)");
        }
        eprintln!("skipping: Python GStreamer bindings are not installed");
    }
    ok
}

/// `jitterplay relay` from `listen` to `to`, forwarding from `out` (RTCP: + 1).
fn relay(listen: u16, to: u16, out: u16, forward: &str, reverse: &str) -> Child {
    jitterplay()
        .args(["relay", "--listen", &format!("127.0.0.1:{listen}")])
        .args(["--to", &format!("127.0.0.1:{to}")])
        .args(["--out-port", &out.to_string()])
        .args(["--impair", forward, "--reverse", reverse])
        .args(["--idle-timeout", "3s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn relay")
}

/// Runs `jitterplay send` of the speech sample to `port` from `local` and returns its summary.
fn send(port: u16, local: u16, args: &[&str]) -> HashMap<String, String> {
    let out = jitterplay()
        .arg("send")
        .arg(asset(SPEECH))
        .args(["--to", &format!("127.0.0.1:{port}")])
        .args(["--local-port", &local.to_string(), "--ptime", "10ms"])
        .args(args)
        .bounded_output()
        .expect("run send");
    summary(&out)
}

/// A float summary field (`-` when there is none).
fn float(s: &HashMap<String, String>, key: &str) -> Option<f64> {
    s.get(key).and_then(|v| v.parse().ok())
}

/// The source's L16 bytes (big-endian, as on the wire).
fn source_bytes() -> Vec<u8> {
    let (samples, _, _) = read_wav(&asset(SPEECH));
    samples
        .iter()
        .flat_map(|&s| ((s * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_be_bytes())
        .collect()
}

#[test]
fn gstreamer_recovers_our_rtx_through_a_lossy_relay() {
    if !require_gst_python() {
        return;
    }
    let dir = scratch("gst_rtx_recovery");
    let (gst_port, relay_port, relay_out, local) =
        (free_port(), free_port(), free_port(), free_port());
    let raw = dir.join("rx.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gst_rtx_receiver.py");
    let mut gst = Command::new(PYTHON)
        .arg(script)
        .args([
            gst_port.to_string(),
            (relay_out + 1).to_string(),
            "9".into(),
        ])
        .arg(&raw)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the GStreamer receiver");
    let mut lines = BufReader::new(gst.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
    wait_until_bound(gst_port);
    let relay = relay(
        relay_port,
        gst_port,
        relay_out,
        "delay=20ms,loss=10%,seed=3",
        "delay=20ms,loss=5%,seed=4",
    );
    wait_until_bound(relay_port);
    let sent = send(relay_port, local, &["--linger", "2s"]);
    let relayed = summary(&relay.wait_with_output().unwrap());
    let stats_line = lines.next().and_then(Result::ok).unwrap_or_default();
    let _ = gst.wait();
    eprintln!("send: {sent:?}\nrelay: {relayed:?}\ngstreamer: {stats_line}");
    let stats: HashMap<String, serde_json::Value> =
        serde_json::from_str(&stats_line).expect("GStreamer's stats line");
    let stat = |k: &str| {
        stats
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let dropped = count(&relayed, "dropped");
    assert!(dropped >= 20, "the relay should lose about 10 %: {dropped}");
    assert!(count(&sent, "retransmitted") > 0, "no NACK was answered");
    assert!(stat("num-rtx-assoc-packets") > 0, "GStreamer used no RTX");
    // Both directions lose 5–10 %, and GStreamer gives up on a packet after a few tries:
    // most, not all, of what the relay lost comes back.
    assert!(
        stat("num-lost") * 3 < dropped,
        "lost {} of {dropped} dropped",
        stat("num-lost")
    );
    let got = std::fs::read(&raw).unwrap();
    let source = source_bytes();
    // Every packet missing from what GStreamer played is one it gave up on and counted
    // (num-lost): the rest of the source all came, ours or retransmitted.
    let missing = source.len().saturating_sub(got.len()) as u64;
    assert!(
        missing <= (stat("num-lost") + 2) * 960,
        "{} of {} bytes played, GStreamer lost {}",
        got.len(),
        source.len(),
        stat("num-lost")
    );
    // What was played is the source, in order: every 10 ms packet's bytes appear in it.
    let packet = 960;
    let matched = got
        .chunks_exact(packet)
        .filter(|c| source.chunks_exact(packet).any(|s| s == *c))
        .count();
    assert_eq!(
        matched,
        got.len() / packet,
        "played audio that is not the source"
    );
}

#[test]
fn gstreamer_reports_reach_send_with_rtt_and_loss() {
    if !require_tool("gst-launch-1.0") {
        return;
    }
    let (gst_port, relay_port, relay_out, local) =
        (free_port(), free_port(), free_port(), free_port());
    let caps = "application/x-rtp,media=(string)audio,clock-rate=(int)48000,\
                encoding-name=(string)L16,encoding-params=(string)1,channels=(int)1,payload=(int)96";
    let gst = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "20",
            "gst-launch-1.0",
            "-q",
            "rtpbin",
            "name=rb",
        ])
        .args(["udpsrc", "address=127.0.0.1", &format!("port={gst_port}")])
        .arg(format!("caps={caps}"))
        .args(["!", "rb.recv_rtp_sink_0"])
        .args([
            "udpsrc",
            "address=127.0.0.1",
            &format!("port={}", gst_port + 1),
        ])
        .args([
            "!",
            "rb.recv_rtcp_sink_0",
            "rb.send_rtcp_src_0",
            "!",
            "udpsink",
        ])
        .args(["host=127.0.0.1", &format!("port={}", relay_out + 1)])
        .args(["sync=false", "async=false", "rb.", "!", "fakesink"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gst-launch-1.0");
    wait_until_bound(gst_port);
    let relay = relay(
        relay_port,
        gst_port,
        relay_out,
        "delay=20ms,loss=5%,seed=7",
        "delay=20ms,seed=8",
    );
    wait_until_bound(relay_port);
    // 12.7 s of audio: receiver reports come about every 5 s.
    let sent = send(relay_port, local, &["--loop=3", "--no-nack"]);
    interrupt(&gst);
    let _ = gst.wait_with_output();
    let _ = relay.wait_with_output();
    eprintln!("send: {sent:?}");
    assert!(count(&sent, "rx_reports") >= 1, "no receiver report");
    let rtt = float(&sent, "rtt_ms").expect("an RTT from LSR/DLSR");
    // The relay adds 20 ms each way.
    assert!((35.0..400.0).contains(&rtt), "rtt {rtt} ms");
    let lost = count(&sent, "rx_lost");
    assert!(lost >= 1, "the receiver should report the relay's loss");
}

#[test]
fn ffmpeg_plays_our_avpf_sdp_with_rtx_bit_exact() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("ffmpeg_avpf");
    let port = free_port();
    let sdp = dir.join("stream.sdp");
    run_ok(
        jitterplay()
            .arg("send")
            .arg(asset(SPEECH))
            .args(["--to", &format!("127.0.0.1:{port}"), "--ptime", "10ms"])
            .args(["--duration", "0s", "--sdp-out"])
            .arg(&sdp),
    );
    let text = std::fs::read_to_string(&sdp).unwrap();
    for line in [
        "RTP/AVPF 96 97",
        "a=rtpmap:97 rtx/48000",
        "a=fmtp:97 apt=96;rtx-time=5000",
        "a=rtcp-fb:* nack",
        "a=rtcp-rsize",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    let wav = dir.join("rx.wav");
    let ffmpeg = ffmpeg_sdp_to_wav(&sdp, &wav);
    wait_until_bound(port);
    let sent = send(port, free_port(), &["--duration", "1s"]);
    assert_eq!(count(&sent, "datagrams"), 100);
    wait_until_drained(port);
    interrupt(&ffmpeg);
    let _ = ffmpeg.wait_with_output();
    let (got, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels, got.len()), (48_000, 1, 48_000));
    let (source, _, _) = read_wav(&asset(SPEECH));
    assert!(
        got == source[..48_000],
        "ffmpeg's output differs from the source"
    );
}
