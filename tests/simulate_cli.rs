//! `jitterplay simulate` from the outside: report, plot and WAV outputs, scenario errors,
//! determinism, and the scenario documentation staying in step with the built-ins.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use jitterplay::sim::scenario::BUILT_IN;
use jitterplay::sim::Scenario;

const MUSIC: &str = "music-48k-stereo.flac";

/// The report's top-level fields, each documented in docs/scenarios.md.
const REPORT_FIELDS: &[&str] = &[
    "scenario",
    "description",
    "seed",
    "duration_s",
    "captured",
    "time_jumps",
    "lossy",
    "lossless_snr_db",
    "simulated_s",
    "drained",
    "packets_sent",
    "frames_sent",
    "bit_exact_frames",
    "bit_exact_share",
    "out_of_order_frames",
    "late_share",
    "latency_mean_ms",
    "latency_p95_ms",
    "true_drift_ppm",
    "estimated_drift_ppm",
    "level_error_max_ms",
    "metrics",
    "receiver",
    "network",
    "recovery",
    "timeline",
    "delays",
    "events",
];

/// Runs `simulate MUSIC --scenario SCENARIO` with `extra` arguments.
fn simulate(scenario: &str, extra: &[&str]) -> Output {
    jitterplay()
        .arg("simulate")
        .arg(asset(MUSIC))
        .args(["--scenario", scenario])
        .args(extra)
        .bounded_output()
        .expect("spawn jitterplay")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("report written");
    serde_json::from_str(&text).expect("valid JSON")
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 scratch path")
}

#[test]
fn report_is_json_with_every_top_level_field() {
    let dir = scratch("simulate_report");
    let report = dir.join("lan.json");
    let out = ok(simulate(
        "lan",
        &["--duration", "5s", "--report", path_arg(&report)],
    ));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bit-exact"));
    let json = read_json(&report);
    let object = json.as_object().expect("a JSON object");
    for field in REPORT_FIELDS {
        assert!(object.contains_key(*field), "missing {field}");
    }
    for key in object.keys() {
        assert!(
            REPORT_FIELDS.contains(&key.as_str()),
            "new report field {key}: add it to REPORT_FIELDS and docs/scenarios.md"
        );
    }
    assert_eq!(json["scenario"], "lan");
    assert_eq!(json["seed"], 1);
    assert_eq!(json["duration_s"], 5.0);
    assert_eq!(json["drained"], true);
    assert!(json["metrics"]["target_ms"].is_number());
    let timeline = json["timeline"].as_array().expect("timeline array");
    assert!(timeline.len() >= 50, "a point per 100 ms");
    let delays = json["delays"].as_array().expect("delays array");
    assert_eq!(Some(delays.len() as u64), json["packets_sent"].as_u64());
}

#[test]
fn plot_writes_an_svg() {
    let dir = scratch("simulate_plot");
    let plot = dir.join("wifi.svg");
    ok(simulate(
        "wifi",
        &["--duration", "5s", "--seed", "3", "--plot", path_arg(&plot)],
    ));
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(svg.starts_with("<svg"), "not an SVG");
    assert!(svg.trim_end().ends_with("</svg>"), "unfinished SVG");
    assert!(
        svg.contains("wifi (seed 3)"),
        "title names scenario and seed"
    );
    assert!(svg.contains("<polyline") && svg.contains("<circle"));
}

/// The virtual device pulls 10 ms periods (480 frames at 48 kHz, exact clock in `lan`) and the
/// report's `simulated_s` is the start of the last period, in which the remaining audio ran out:
/// the WAV holds `simulated_s / 10 ms` full periods plus that last partial one.
#[test]
fn wav_output_holds_exactly_the_simulated_periods() {
    let dir = scratch("simulate_wav");
    let (wav, report) = (dir.join("heard.wav"), dir.join("report.json"));
    let output = format!("wav:{}", wav.display());
    ok(simulate(
        "lan",
        &[
            "--duration",
            "4s",
            "--output",
            &output,
            "--report",
            path_arg(&report),
        ],
    ));
    let (samples, rate, channels) = read_wav(&wav);
    assert_eq!((rate, channels), (48_000, 2));
    assert_eq!(samples.len() % 2, 0);
    let frames = samples.len() / 2;
    let json = read_json(&report);
    let simulated_s = json["simulated_s"].as_f64().expect("simulated_s");
    let periods = (simulated_s / 0.010).round() as usize;
    assert!(
        (simulated_s - periods as f64 * 0.010).abs() < 1e-6,
        "{simulated_s} s is a whole number of periods"
    );
    assert!(
        frames >= periods * 480 && frames < (periods + 1) * 480,
        "{frames} frames for {periods} periods"
    );
    // It played the whole stream: the 3 s prebuffer of silence, then 4 s of audio.
    assert!(frames >= 7 * 48_000, "{frames} frames");
}

#[test]
fn an_unknown_scenario_lists_the_built_ins() {
    let out = simulate("no-such-network", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown scenario 'no-such-network'"), "{err}");
    for name in BUILT_IN {
        assert!(err.contains(name), "{name} not listed: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_scenario_file_with_an_unknown_key_names_its_line() {
    let dir = scratch("simulate_bad_toml");
    let file = dir.join("typo.toml");
    std::fs::write(
        &file,
        "name = \"typo\"\n\n[network]\ndelay_ms = 40\njiter = 5\n",
    )
    .expect("write scenario");
    let out = simulate(path_arg(&file), &["--duration", "1s"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("jiter"), "{err}");
}

#[test]
fn the_seed_alone_decides_the_run() {
    let dir = scratch("simulate_seeds");
    let run = |seed: &str| {
        let path = dir.join(format!("mobile-{seed}.json"));
        ok(simulate(
            "mobile",
            &[
                "--duration",
                "20s",
                "--seed",
                seed,
                "--report",
                path_arg(&path),
            ],
        ));
        std::fs::read_to_string(&path).expect("report written")
    };
    let (a, b, c) = (run("5"), run("5"), run("6"));
    assert!(a == b, "same seed, different reports");
    assert!(a != c, "different seeds, same report");
}

#[test]
fn opus_is_judged_against_the_lossless_decode() {
    let dir = scratch("simulate_opus");
    let scenario = dir.join("loss.toml");
    std::fs::write(
        &scenario,
        "name = \"loss-3pct\"\nduration_s = 10\n[network]\ndelay_ms = 40\nloss = 0.03\n[sender]\nptime_ms = 20\n",
    )
    .unwrap();
    let run = |scenario: &str, name: &str| {
        let report = dir.join(name);
        let out = ok(simulate(
            scenario,
            &[
                "--format",
                "opus",
                "--bitrate",
                "48k",
                "--report",
                path_arg(&report),
            ],
        ));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("equal to the lossless decode"), "{text}");
        read_json(&report)
    };
    let clean = run("clean", "clean.json");
    assert_eq!(clean["lossy"], true);
    assert_eq!(
        clean["bit_exact_share"], 1.0,
        "no loss: every packet as decoded in order"
    );
    let lossy = run(path_arg(&scenario), "loss.json");
    let share = lossy["bit_exact_share"].as_f64().unwrap();
    let dropped = lossy["network"]["dropped"].as_u64().unwrap();
    assert!(dropped > 5, "{}", lossy["network"]);
    // After a loss the decoder state differs from the lossless decode's for a while; the
    // packets that play meanwhile are close but not equal.
    assert!(share > 0.5 && share < 1.0, "{share}");
    assert!(
        lossy["lossless_snr_db"].as_f64().unwrap() > 10.0,
        "{}",
        lossy["lossless_snr_db"]
    );
    assert_eq!(lossy["metrics"]["plc_ms"], dropped as f64 * 20.0);
    // 44.1 kHz sources are refused: Opus runs at 48 kHz.
    let out = jitterplay()
        .arg("simulate")
        .arg(asset("music-44k-stereo.mp3"))
        .args(["--format", "opus"])
        .bounded_output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("48 kHz"), "{}", stderr(&out));
}

fn docs(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name)
}

#[test]
fn every_built_in_scenario_and_report_field_is_documented() {
    let doc = std::fs::read_to_string(docs("scenarios.md")).expect("docs/scenarios.md");
    for field in REPORT_FIELDS {
        assert!(
            doc.contains(&format!("`{field}`")),
            "document report field {field}"
        );
    }
    for name in BUILT_IN {
        let entry = format!("| `{name}` |");
        assert!(
            doc.matches(&entry).count() >= 2,
            "docs/scenarios.md needs `{name}` in the scenario table and the results table"
        );
    }
}

#[test]
fn the_example_scenario_loads_and_runs() {
    let path = docs("example-scenario.toml");
    let scenario = Scenario::load(path_arg(&path)).expect("example loads");
    assert_eq!(scenario.name, "hotel-wifi");
    assert!(scenario.network.burst.is_some() && scenario.network.spikes.is_some());
    assert_eq!(scenario.network.outages.len(), 2);
    assert_eq!(scenario.sender.pauses.len(), 1);
    // The copy shown in docs/scenarios.md says the same thing.
    let doc = std::fs::read_to_string(docs("scenarios.md")).expect("docs/scenarios.md");
    let shown = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block in docs/scenarios.md");
    assert_eq!(
        Scenario::from_toml(shown).expect("doc example parses"),
        scenario
    );
    let out = ok(simulate(path_arg(&path), &["--duration", "3s"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("scenario hotel-wifi"));
}

#[test]
fn a_24_bit_source_is_judged_against_the_16_bit_audio_sent() {
    let dir = scratch("simulate_24bit");
    let report = dir.join("r.json");
    let out = ok(jitterplay()
        .arg("simulate")
        .arg(asset("music-44k-stereo-24bit.flac"))
        .args(["--scenario", "wifi", "--report", path_arg(&report)])
        .bounded_output()
        .expect("spawn jitterplay"));
    let text = stderr(&out) + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("100.000 % bit-exact"), "{text}");
    let r = read_json(&report);
    assert_eq!(r["bit_exact_frames"], r["frames_sent"], "{r}");
}
