//! Operability: `--record` beside the output (equal to it, and a slow writer never touches
//! playback), shell completions, man pages, and the demo running outside the source tree.

mod common;
mod net_support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::*;
use net_support::*;

const WINDOW: [&str; 4] = ["--target-min", "200ms", "--target-max", "500ms"];
const PLAYER_LIMIT: Duration = Duration::from_secs(60);

fn send(input: &Path, port: u16, args: &[&str]) -> Output {
    jitterplay()
        .arg("send")
        .arg(input)
        .args(["--to", &format!("127.0.0.1:{port}"), "--ptime", "10ms"])
        .args(args)
        .stdin(Stdio::null())
        .bounded_output()
        .expect("run jitterplay send")
}

/// Plays `passes` × 4.2 s of speech live with `--record`, returning the wav: output and the
/// final stats.
fn record_run(dir: &Path, record: &Path, passes: &str) -> (Vec<f32>, serde_json::Value) {
    let port = free_port();
    let stats = dir.join("stats.jsonl");
    let args = [
        &["--format", "l16/48000/1", "--idle-timeout", "500ms"][..],
        &["--record", record.to_str().expect("utf-8"), "--stats-json"],
        &[stats.to_str().expect("utf-8")],
        &WINDOW[..],
    ]
    .concat();
    let player = spawn_player(dir, &format!("rtp://127.0.0.1:{port}"), &args);
    wait_until_bound(port);
    let sent = summary(&send(
        &asset("speech-48k-mono.wav"),
        port,
        &[&format!("--loop={passes}")],
    ));
    assert!(count(&sent, "datagrams") > 400, "{sent:?}");
    let wav = player.wav.clone();
    let played = player.wait(PLAYER_LIMIT);
    played.assert_success();
    let (_, last) = read_stats(&stats);
    (read_wav(&wav).0, last)
}

#[test]
fn the_recording_equals_what_was_played() {
    let dir = scratch("op_record");
    let record = dir.join("heard.wav");
    let (played, stats) = record_run(&dir, &record, "1");
    let (recorded, rate, channels) = read_wav(&record);
    assert_eq!((rate, channels), (48_000, 1));
    assert!(played.len() > 48_000 * 4, "{}", played.len());
    assert_eq!(recorded.len(), played.len(), "{stats}");
    assert!(
        recorded == played,
        "the recording differs from the wav: output"
    );
    assert_eq!(
        stat(&stats, "/record/record_dropped_frames"),
        0.0,
        "{stats}"
    );
    assert_eq!(
        stat(&stats, "/record/written_frames"),
        played.len() as f64,
        "{stats}"
    );
    assert!(stat(&stats, "/record/flushes") >= 1.0, "{stats}");
}

#[test]
fn a_writer_that_cannot_keep_up_drops_from_the_recording_never_from_playback() {
    let dir = scratch("op_record_fifo");
    let fifo = dir.join("slow.wav");
    let _ = std::fs::remove_file(&fifo);
    let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    // A reader taking 4 KiB every 50 ms (80 KiB/s) from a 192 KB/s recording: the writer blocks
    // on the FIFO, its 5 s queue fills, and the tap must drop from the recording.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut f = std::fs::File::open(&fifo).expect("open the FIFO");
            let mut buf = [0u8; 4096];
            let mut total = 0usize;
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break total,
                    Ok(n) => total += n,
                    Err(e) => panic!("reading the FIFO: {e}"),
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let (played, stats) = record_run(&dir, &fifo, "4");
    let read = reader.join().expect("reader");
    // Playback is untouched: every packet played, nothing concealed, no underrun.
    assert_eq!(stat(&stats, "/metrics/underruns"), 0.0, "{stats}");
    assert_eq!(stat(&stats, "/metrics/lost"), 0.0, "{stats}");
    assert!(played.len() > 48_000 * 4);
    // The FIFO is not seekable: the header keeps its "unknown size" marks and the data follows.
    let written = stat(&stats, "/record/written_frames");
    let dropped = stat(&stats, "/record/record_dropped_frames");
    assert!(dropped > 48_000.0, "{stats}");
    assert_eq!(written + dropped, played.len() as f64, "{stats}");
    // Everything written reached the reader: the 46-byte header, then 4 bytes a frame.
    assert_eq!(read as f64, 46.0 + 4.0 * written, "{stats}");
}

#[test]
fn completions_and_man_pages_come_from_the_parser() {
    for (shell, marker) in [
        ("bash", "_jitterplay()"),
        ("zsh", "#compdef jitterplay"),
        ("fish", "complete -c jitterplay"),
    ] {
        let out = run_ok(jitterplay().args(["completions", shell]));
        let text = String::from_utf8(out.stdout).expect("utf-8");
        assert!(text.contains(marker), "{shell}: {text:.200}");
        for sub in ["play", "streams", "simulate", "send", "relay"] {
            assert!(text.contains(sub), "{shell} lacks {sub}");
        }
    }
    // The bash script parses.
    let dir = scratch("op_completions");
    let script = dir.join("jitterplay.bash");
    std::fs::write(
        &script,
        run_ok(jitterplay().args(["completions", "bash"])).stdout,
    )
    .expect("write");
    run_ok(std::process::Command::new("bash").arg("-n").arg(&script));
    // One page per command, each naming its options.
    let page = String::from_utf8(run_ok(jitterplay().args(["man", "play"])).stdout).expect("utf-8");
    assert!(page.contains(".TH jitterplay-play 1"), "{page:.300}");
    assert!(
        page.contains("record") && page.contains("target\\-min"),
        "{page:.2000}"
    );
    let pages = dir.join("man1");
    run_ok(jitterplay().args(["man", "--out-dir"]).arg(&pages));
    for name in [
        "jitterplay.1",
        "jitterplay-play.1",
        "jitterplay-simulate.1",
        "jitterplay-streams.1",
    ] {
        let text = std::fs::read_to_string(pages.join(name)).expect(name);
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{name}");
    }
    let bad = jitterplay()
        .args(["man", "nope"])
        .bounded_output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("pages exist for play"));
}

#[test]
fn the_demo_runs_outside_the_source_tree() {
    let dir = scratch("op_demo_cwd");
    let wav = dir.join("demo.wav");
    let out = jitterplay()
        .current_dir(&dir)
        .args(["demo", "--quiet", "--passes", "1", "--output"])
        .arg(format!("wav:{}", wav.display()))
        .stdin(Stdio::null())
        .bounded_output()
        .expect("run the demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (samples, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (48_000, 2));
    // The built-in sample is 6.5 s; the demo's network loses about 2 % (concealed, not cut).
    let secs = samples.len() as f64 / 2.0 / 48_000.0;
    assert!((6.3..=6.7).contains(&secs), "{secs} s");
    assert!(samples.iter().any(|s| s.abs() > 0.1), "silent");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("received"), "{stdout}");
}

#[test]
fn saved_packets_replay_to_the_same_audio_as_the_live_session() {
    for ext in ["pcap", "rtpdump"] {
        let dir = scratch(&format!("op_save_{ext}"));
        let saved = dir.join(format!("session.{ext}"));
        let stats = dir.join("stats.jsonl");
        let port = free_port();
        let args = [
            &["--format", "l16/48000/1", "--idle-timeout", "500ms"][..],
            &["--save-packets", saved.to_str().expect("utf-8")],
            &["--stats-json", stats.to_str().expect("utf-8")],
            &WINDOW[..],
        ]
        .concat();
        let player = spawn_player(&dir, &format!("rtp://127.0.0.1:{port}"), &args);
        wait_until_bound(port);
        let sent = summary(&send(&asset("speech-48k-mono.wav"), port, &[]));
        let datagrams = count(&sent, "datagrams");
        let live_wav = player.wav.clone();
        player.wait(PLAYER_LIMIT).assert_success();
        let (_, last) = read_stats(&stats);
        assert_eq!(stat(&last, "/save/saved"), datagrams as f64, "{last}");
        assert_eq!(stat(&last, "/save/save_dropped"), 0.0, "{last}");
        // The capture lists the one stream with every packet…
        let listed = run_ok(jitterplay().args(["streams", "--json"]).arg(&saved));
        let json: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
        let streams = json["streams"].as_array().expect("streams");
        assert_eq!(streams.len(), 1, "{json}");
        assert_eq!(streams[0]["stats"]["packets"], datagrams, "{json}");
        // …and replays, in its recorded timing, to exactly what played live.
        let replay = dir.join("replay.wav");
        run_ok(
            jitterplay()
                .arg("play")
                .arg(&saved)
                .args(["--quiet", "--format", "l16/48000/1", "--output"])
                .arg(format!("wav:{}", replay.display()))
                .args(WINDOW),
        );
        let (live, _, _) = read_wav(&live_wav);
        let (again, _, _) = read_wav(&replay);
        assert!(live.len() > 48_000 * 4, "{}", live.len());
        assert!(
            live == again,
            "{ext}: {} vs {} samples",
            live.len(),
            again.len()
        );
    }
}

#[test]
fn files_and_captures_record_what_they_play_too() {
    let dir = scratch("op_record_file");
    for (input, extra) in [
        (asset("music-48k-stereo.flac"), &[][..]),
        (
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/sip-rtp-g711.pcap"),
            &["--stream", "1", "--fast"][..],
        ),
    ] {
        let out = dir.join("out.wav");
        let rec = dir.join("rec.wav");
        run_ok(
            jitterplay()
                .arg("play")
                .arg(&input)
                .args(["--quiet", "--output"])
                .arg(format!("wav:{}", out.display()))
                .arg("--record")
                .arg(&rec)
                .args(extra),
        );
        let (played, rate, channels) = read_wav(&out);
        let (recorded, rrate, rchannels) = read_wav(&rec);
        assert_eq!((rate, channels), (rrate, rchannels));
        assert!(!played.is_empty());
        assert!(
            played == recorded,
            "{}: {} vs {}",
            input.display(),
            played.len(),
            recorded.len()
        );
    }
}

#[test]
fn a_flac_recording_holds_what_played_to_24_bits() {
    let dir = scratch("op_record_flac");
    let out = dir.join("out.wav");
    let rec = dir.join("rec.flac");
    run_ok(
        jitterplay()
            .arg("play")
            .arg(asset("music-48k-stereo.flac"))
            .args(["--quiet", "--output"])
            .arg(format!("wav:{}", out.display()))
            .arg("--record")
            .arg(&rec),
    );
    let (played, _, _) = read_wav(&out);
    let recorded = ffmpeg_decode(&rec);
    assert_eq!(recorded.len(), played.len());
    let quantised: Vec<f32> = played
        .iter()
        .map(|s| (s * 8_388_608.0).round() / 8_388_608.0)
        .collect();
    assert!(
        recorded == quantised,
        "the FLAC recording is not the played audio at 24 bits"
    );
}
