//! The dashboard in a real browser: Debian's headless Chromium, driven over the DevTools
//! protocol (chromiumoxide). While `jitterplay send` streams a 997 Hz tone to
//! `jitterplay play … --web ADDR`:
//! - the page loads with no console error or uncaught exception;
//! - the depth chart gains points within 2 s of the page loading, and keeps gaining them;
//! - every counter the page shows equals `/stats.json`;
//! - an `<audio>` element playing `/listen` advances `currentTime` by at least 2 s, and a
//!   WebAudio analyser on it finds the tone's frequency as the FFT peak.
//!
//! The test also takes the screenshot the README shows (written to `JITTERPLAY_SCREENSHOT` when
//! that is set, e.g. `JITTERPLAY_SCREENSHOT=docs/dashboard.png cargo test --test web_browser`).

mod common;
mod net_support;
mod web_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use net_support::*;
use web_support::browser::{chromium_or_skip, Headless};
use web_support::*;

const TONE_HZ: f64 = 997.0;

/// Sends `wav` through a mildly bad network, so that the event lane has something to show.
fn send(wav: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jitterplay"))
        .args(["send", &wav.display().to_string(), "--to"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--impair",
            "delay=20ms,jitter=8ms,loss=1%,reorder=2%,seed=4",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn jitterplay send")
}

const AUDIO_CHECK: &str = r#"(async () => {
  const a = document.getElementById("player");
  const ctx = new AudioContext();
  const source = ctx.createMediaElementSource(a);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  source.connect(analyser);
  analyser.connect(ctx.destination);
  a.src = "/listen";
  await a.play();
  await ctx.resume();
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  while (a.currentTime === 0) await sleep(50);
  const start = a.currentTime;
  await sleep(3000);
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return { advanced: a.currentTime - start, peak_hz: best * ctx.sampleRate / analyser.fftSize,
           peak_db: bins[best], state: ctx.state };
})()"#;

const COUNTERS_CHECK: &str = r#"(async () => {
  const flat = {};
  (function walk(o, p) {
    for (const [k, v] of Object.entries(o || {})) {
      const key = p ? `${p}.${k}` : k;
      if (v !== null && typeof v === "object" && !Array.isArray(v)) walk(v, key);
      else if (typeof v === "number" || typeof v === "boolean") flat[key] = String(v);
    }
  })(await (await fetch("/stats.json")).json(), "");
  const shown = window.jitterplay.counters();
  const mismatched = Object.keys(flat).filter((k) => shown[k] !== flat[k]);
  return { compared: Object.keys(flat).length, mismatched };
})()"#;

#[derive(Debug, serde::Deserialize)]
struct Audio {
    advanced: f64,
    peak_hz: f64,
    peak_db: f64,
    state: String,
}

#[derive(Debug, serde::Deserialize)]
struct Counters {
    compared: usize,
    mismatched: Vec<String>,
}

#[tokio::test]
async fn the_dashboard_draws_counts_and_plays_in_headless_chromium() {
    if !chromium_or_skip() {
        return;
    }
    let dir = scratch("web_browser");
    let wav = dir.join("tone.wav");
    tone(&wav, TONE_HZ, 20);
    let port = free_port();
    let web = free_tcp_addr();
    let player = PlayerArgs::rtp(port)
        .format("l16/48000/2")
        .target("1s", "2s")
        .idle_timeout("2s")
        .args(&["--web", &web.to_string(), "--metrics-linger", "0s"])
        .spawn(&dir);
    wait_until_bound(port);
    wait_for_web(web, Duration::from_secs(20));
    let mut sender = send(&wav, port);

    let browser = Headless::launch(
        &dir.join("chromium-profile"),
        1200,
        900,
        &["autoplay-policy=no-user-gesture-required"],
    )
    .await;
    let page = &browser.page;
    page.goto(format!("http://{web}/"))
        .await
        .expect("open the dashboard");
    let loaded = Instant::now();

    // The depth chart gains points within 2 s, and keeps gaining them.
    let points = || async {
        page.evaluate("window.jitterplay.depthPoints()")
            .await
            .ok()
            .and_then(|r| r.into_value::<u64>().ok())
            .unwrap_or(0)
    };
    let mut first = 0;
    while loaded.elapsed() < Duration::from_secs(2) {
        first = points().await;
        if first > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_after = loaded.elapsed();
    assert!(first > 0, "no depth point within 2 s of loading");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = points().await;
    assert!(later > first, "the depth chart stopped at {first} points");

    // The audio: /listen in an <audio> element, through an analyser.
    let audio: Audio = page
        .evaluate(AUDIO_CHECK)
        .await
        .expect("audio check")
        .into_value()
        .expect("audio result");
    eprintln!("first depth point after {first_after:?}; audio {audio:?}");
    assert!(
        audio.advanced >= 2.0,
        "currentTime advanced {:.2} s (AudioContext {})",
        audio.advanced,
        audio.state
    );
    assert!(
        (audio.peak_hz - TONE_HZ).abs() < 15.0,
        "the FFT peak is at {:.1} Hz ({:.1} dB), not {TONE_HZ} Hz",
        audio.peak_hz,
        audio.peak_db
    );

    // Every counter shown equals /stats.json (both change ten times a second: retry until a
    // moment when they are the same update).
    let mut counters = None;
    for _ in 0..20 {
        let c: Counters = page
            .evaluate(COUNTERS_CHECK)
            .await
            .expect("counters check")
            .into_value()
            .expect("counters result");
        let done = c.mismatched.is_empty();
        counters = Some(c);
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    let counters = counters.expect("checked");
    assert!(counters.compared >= 40, "{counters:?}");
    assert!(counters.mismatched.is_empty(), "{counters:?}");

    browser
        .screenshot(&dir.join("dashboard.png"), "JITTERPLAY_SCREENSHOT")
        .await;

    let errors = browser.close().await;
    assert!(errors.is_empty(), "{errors:?}");
    let _ = sender.kill();
    let _ = sender.wait();
    drop(player);
}
