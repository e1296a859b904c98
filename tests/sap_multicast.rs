//! SAP and multicast end to end, inside network namespaces the tests make and remove (multicast
//! never leaves the machine):
//! - ffmpeg's `-f sap` session is listed by `streams sap://` (name, group, port, format) and
//!   played bit-exact by `play "sap://NAME"`, which joins the group while it plays and leaves
//!   it when it exits;
//! - an AES67-style GStreamer sender (L24/48000/8 in 1 ms packets) announced with `ts-refclk`
//!   and `mediaclk` is listed with its clock lines and played bit-exact;
//! - `send --sap` announces its session and deletes the announcement when it ends;
//! - when an announcement changes (another group and port), `play sap://NAME` follows it.

mod common;
mod multicast_support;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use multicast_support::*;

#[test]
fn ffmpegs_sap_session_is_listed_played_bit_exact_and_its_group_left() {
    if !netns_available() || !require_tool("ffmpeg") {
        return;
    }
    let dir = scratch("sap_ffmpeg");
    let ns = Netns::new("sapff");
    let wav = dir.join("noise.wav");
    let source = noise_wav(&wav, 2, 16, 8.0, 7);
    let mut listing = ns.jitterplay(
        &dir,
        "list",
        &["streams", "sap://", "--json", "--duration", "5s"],
    );
    let mut player = play_to_wav(&ns, &dir, "play", "sap://my session", &[], &[]);
    std::thread::sleep(Duration::from_millis(500));
    let _ffmpeg = Running(
        ns.command("ffmpeg")
            .args(["-v", "error", "-re", "-i"])
            .arg(&wav)
            .args([
                "-c:a",
                "pcm_s16be",
                "-metadata",
                "title=my session",
                "-f",
                "sap",
                "sap://239.9.9.9:5004",
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("ffmpeg"),
    );
    assert!(wait_exit(&mut listing, Duration::from_secs(20)).success());
    let events = json_lines(&dir.join("list.stdout"));
    let found = events
        .iter()
        .find(|e| e["name"] == "my session" && e["change"] == "new")
        .unwrap_or_else(|| panic!("ffmpeg's session not listed: {events:?}"));
    assert_eq!(found["group"], "239.9.9.9", "{found}");
    assert_eq!(found["port"], 5004, "{found}");
    assert_eq!(found["format"], "l16/48000/2", "{found}");
    // While it plays, the player has joined the group.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        ns.joined_groups().contains(&"239.9.9.9".to_string()),
        "group not joined while playing: {:?}",
        ns.joined_groups()
    );
    let status = wait_exit(&mut player, Duration::from_secs(30));
    let stderr = std::fs::read_to_string(dir.join("play.stderr")).unwrap_or_default();
    assert!(status.success(), "play: {stderr}");
    assert!(
        !ns.joined_groups().contains(&"239.9.9.9".to_string()),
        "the group is still joined after play exited: {:?}",
        ns.joined_groups()
    );
    let (out, rate, channels) = read_wav(&dir.join("play.wav"));
    assert_eq!((rate, channels), (48_000, 2));
    let matched = assert_bit_exact_run(&out, &source, 16, 2);
    eprintln!(
        "ffmpeg over SAP: {matched} frames bit-exact of {}",
        source.len() / 2
    );
    assert!(matched > 48_000 * 4, "only {matched} frames played");
}

#[test]
fn an_aes67_style_l24_session_at_1_ms_is_listed_with_its_clock_and_played_bit_exact() {
    if !netns_available() || !require_tool("gst-launch-1.0") || !require_tool("python3") {
        return;
    }
    let dir = scratch("sap_aes67");
    let ns = Netns::new("aes67");
    let wav = dir.join("noise8.wav");
    let source = noise_wav(&wav, 8, 24, 8.0, 11);
    let sdp = "v=0\r\no=- 1311738121 1311738121 IN IP4 127.0.0.1\r\ns=AES67 studio\r\n\
               c=IN IP4 239.9.9.10/32\r\nt=0 0\r\nm=audio 5006 RTP/AVP 97\r\n\
               a=rtpmap:97 L24/48000/8\r\na=ptime:1\r\na=recvonly\r\n\
               a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-12-34-56:0\r\na=mediaclk:direct=0\r\n";
    let announcement = jitterplay::rtp::sap::build(
        jitterplay::rtp::sap::SapKind::Announce,
        jitterplay::rtp::sap::msg_id_hash(sdp.as_bytes()),
        "127.0.0.1".parse().expect("ip"),
        sdp.as_bytes(),
    );
    let packet = dir.join("announce.bin");
    std::fs::write(&packet, &announcement).expect("write the SAP packet");
    // An AES67 device announces on 239.255.255.255 every second.
    let _announcer = Running(
        ns.command("python3")
            .args([
                "-c",
                "import socket,sys,time\n\
                 s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                 s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_TTL,1)\n\
                 p=open(sys.argv[1],'rb').read()\n\
                 while True:\n  s.sendto(p,('239.255.255.255',9875)); time.sleep(1)",
            ])
            .arg(&packet)
            .spawn()
            .expect("announcer"),
    );
    let mut listing = ns.jitterplay(
        &dir,
        "list",
        &["streams", "sap://", "--json", "--duration", "3s"],
    );
    assert!(wait_exit(&mut listing, Duration::from_secs(20)).success());
    let events = json_lines(&dir.join("list.stdout"));
    let found = events
        .iter()
        .find(|e| e["name"] == "AES67 studio")
        .unwrap_or_else(|| panic!("the AES67 session not listed: {events:?}"));
    assert_eq!(found["format"], "l24/48000/8", "{found}");
    assert_eq!(found["ptime_ms"], 1.0, "{found}");
    assert_eq!(
        found["ts_refclk"], "ptp=IEEE1588-2008:00-1D-C1-FF-FE-12-34-56:0",
        "{found}"
    );
    assert_eq!(found["mediaclk"], "direct=0", "{found}");

    let mut player = play_to_wav(&ns, &dir, "play", "sap://AES67 studio", &[], &[]);
    std::thread::sleep(Duration::from_millis(1500));
    gst_l24_send(&ns, &wav, 8, 97, 1_000_000, "239.9.9.10", 5006);
    let status = wait_exit(&mut player, Duration::from_secs(30));
    let stderr = std::fs::read_to_string(dir.join("play.stderr")).unwrap_or_default();
    assert!(status.success(), "play: {stderr}");
    let (out, rate, channels) = read_wav(&dir.join("play.wav"));
    assert_eq!((rate, channels), (48_000, 8));
    let matched = assert_bit_exact_run(&out, &source, 24, 8);
    eprintln!(
        "L24/8 at 1 ms: {matched} frames bit-exact of {}",
        source.len() / 8
    );
    assert!(matched > 48_000 * 7, "only {matched} frames played");
}

#[test]
fn send_announces_its_session_and_deletes_it_when_done() {
    if !netns_available() {
        return;
    }
    let dir = scratch("sap_send");
    let ns = Netns::new("sapsnd");
    let wav = dir.join("noise.wav");
    noise_wav(&wav, 1, 16, 2.0, 3);
    let mut listing = ns.jitterplay(
        &dir,
        "list",
        &["streams", "sap://", "--json", "--duration", "6s"],
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut sender = ns.jitterplay(
        &dir,
        "send",
        &[
            "send",
            &wav.display().to_string(),
            "--to",
            "239.9.9.11:5008",
            "--sap",
            "--sap-interval",
            "500ms",
            "--name",
            "from jitterplay",
        ],
    );
    assert!(wait_exit(&mut sender, Duration::from_secs(20)).success());
    assert!(wait_exit(&mut listing, Duration::from_secs(20)).success());
    let events = json_lines(&dir.join("list.stdout"));
    let changes: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "from jitterplay")
        .filter_map(|e| e["change"].as_str())
        .collect();
    assert_eq!(changes, ["new", "deleted"], "{events:?}");
    let new = &events[0];
    assert_eq!(new["group"], "239.9.9.11", "{new}");
    assert_eq!(new["format"], "l16/48000/1", "{new}");
}

/// A SAP announcer in the namespace that re-reads its packet file every half second (so the
/// test can change the announcement).
fn announcer(ns: &Netns, packet: &std::path::Path) -> Running {
    Running(
        ns.command("python3")
            .args([
                "-c",
                "import socket,sys,time\n\
                 s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                 s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_TTL,1)\n\
                 while True:\n  s.sendto(open(sys.argv[1],'rb').read(),('239.255.255.255',9875)); time.sleep(0.5)",
            ])
            .arg(packet)
            .spawn()
            .expect("announcer"),
    )
}

fn sap_packet(version: u32, group: &str, port: u16) -> Vec<u8> {
    let sdp = format!(
        "v=0\r\no=- 77 {version} IN IP4 127.0.0.1\r\ns=moving\r\nc=IN IP4 {group}/32\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 96\r\na=rtpmap:96 L16/48000/2\r\n"
    );
    jitterplay::rtp::sap::build(
        jitterplay::rtp::sap::SapKind::Announce,
        jitterplay::rtp::sap::msg_id_hash(sdp.as_bytes()),
        "127.0.0.1".parse().expect("ip"),
        sdp.as_bytes(),
    )
}

#[test]
fn play_follows_an_announcement_that_moves_the_session() {
    if !netns_available() || !require_tool("python3") {
        return;
    }
    let dir = scratch("sap_follow");
    let ns = Netns::new("follow");
    let (a_wav, b_wav) = (dir.join("a.wav"), dir.join("b.wav"));
    noise_wav(&a_wav, 2, 16, 8.0, 41);
    let b = noise_wav(&b_wav, 2, 16, 8.0, 42);
    let packet = dir.join("announce.bin");
    std::fs::write(&packet, sap_packet(1, "239.9.9.20", 5020)).expect("write");
    let _announcer = announcer(&ns, &packet);
    let mut player = play_to_wav(
        &ns,
        &dir,
        "play",
        "sap://moving",
        &[],
        &[("RUST_LOG", "jitterplay=info")],
    );
    let send = |label: &str, wav: &std::path::Path, to: &str| {
        ns.jitterplay(
            &dir,
            label,
            &["send", &wav.display().to_string(), "--to", to, "--no-rtcp"],
        )
    };
    let _a = Running(send("a", &a_wav, "239.9.9.20:5020"));
    let _b = Running(send("b", &b_wav, "239.9.9.21:5022"));
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(&packet, sap_packet(2, "239.9.9.21", 5022)).expect("rewrite");
    let status = wait_exit(&mut player, Duration::from_secs(30));
    let stderr = std::fs::read_to_string(dir.join("play.stderr")).unwrap_or_default();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("the announcement changed: following it"),
        "{stderr}"
    );
    // The output ends with the second stream's audio, bit-exact.
    let (out, _, _) = read_wav(&dir.join("play.wav"));
    let tail_start = out
        .chunks_exact(2)
        .rposition(|f| f.iter().any(|&v| v != 0.0))
        .expect("audio")
        .saturating_sub(48_000);
    let tail = &out[tail_start * 2..(tail_start + 4_800) * 2];
    let scaled: Vec<i32> = tail
        .iter()
        .map(|&v| (v * 32_768.0).round() as i32)
        .collect();
    assert!(
        b.windows(scaled.len()).step_by(2).any(|w| w == &scaled[..]),
        "the output's last second is not from the second stream"
    );
}
