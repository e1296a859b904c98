//! `monitor --web` in a real browser: Debian's headless Chromium, driven over the DevTools
//! protocol (chromiumoxide), while 30 seeded streams (each with its own loss, bursts,
//! duplicates, reordering, jitter, silence or RTCP) reach the monitor:
//! - the page loads with no console error or uncaught exception, and its table fills while the
//!   streams run, worst MOS first;
//! - once the monitor has finished, every stream's packets, loss, duplicates and reordering in
//!   the table equal the figures the send schedule implies;
//! - sorting by loss puts the lossiest stream first; a stream's row opens its burst histogram,
//!   which equals the schedule's runs of lost packets; the filter finds a stream by SSRC.
//!
//! `JITTERPLAY_MONITOR_SCREENSHOT=docs/monitor-dashboard.png` also writes the screenshot the
//! docs show.

mod common;
mod monitor_support;
mod web_support;

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chromiumoxide::page::Page;

use common::*;
use monitor_support::{expected, plan, Impairment, Planned};
use web_support::browser::{chromium_or_skip, Headless};
use web_support::*;

const STREAMS: u16 = 30;

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug, serde::Deserialize)]
struct Row {
    ssrc: String,
    state: String,
    cells: BTreeMap<String, String>,
}

async fn rows(page: &Page) -> Vec<Row> {
    page.evaluate("window.jitterplay.rows()")
        .await
        .expect("read the table")
        .into_value()
        .expect("rows")
}

async fn value<T: serde::de::DeserializeOwned>(page: &Page, js: &str) -> T {
    page.evaluate(js)
        .await
        .unwrap_or_else(|e| panic!("{js}: {e}"))
        .into_value()
        .unwrap_or_else(|e| panic!("{js}: {e}"))
}

/// A number shown in a cell ("–" where the figure is unknown).
fn shown(row: &Row, key: &str) -> Option<f64> {
    row.cells[key].parse().ok()
}

#[tokio::test]
async fn the_monitor_streams_table_shows_every_streams_figures_in_headless_chromium() {
    if !chromium_or_skip() {
        return;
    }
    let dir = scratch("monitor_browser");
    let base = monitor_support::free_range(STREAMS);
    let plans: Vec<Planned> = (0..STREAMS)
        .map(|i| plan(usize::from(i), base + 2 * i))
        .collect();
    let web = free_tcp_addr();
    let mut monitor = Killed(
        jitterplay()
            .args([
                "monitor",
                &format!("rtp://127.0.0.1:{base}-{}", base + 2 * STREAMS - 2),
            ])
            .args(["--idle", "30s", "--duration", "13s", "--quiet"])
            .args(["--web", &web.to_string(), "--metrics-linger", "60s"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the monitor"),
    );
    wait_for_web(web, Duration::from_secs(20));

    let browser = Headless::launch(&dir.join("chromium-profile"), 1400, 1000, &[]).await;
    let page = &browser.page;
    page.goto(format!("http://{web}/"))
        .await
        .expect("open the streams table");

    let sending = {
        let plans = plans.clone();
        std::thread::spawn(move || monitor_support::send_all(&plans, Duration::from_millis(5)))
    };

    // While the streams run: every stream gets a row within a few reports, worst MOS first.
    let started = Instant::now();
    let live = loop {
        let live = rows(page).await;
        if live.len() == usize::from(STREAMS) {
            break live;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{} of {STREAMS} rows after 6 s",
            live.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("all rows shown after {:?}", started.elapsed());
    assert!(live.iter().all(|r| r.state == "live"), "{live:?}");
    let mos: Vec<Option<f64>> = live.iter().map(|r| shown(r, "mos")).collect();
    let scored: Vec<f64> = mos.iter().map_while(|m| *m).collect();
    assert!(
        mos[scored.len()..].iter().all(Option::is_none),
        "unscored rows go last: {mos:?}"
    );
    assert!(
        scored.windows(2).all(|w| w[0] <= w[1]),
        "worst MOS first: {mos:?}"
    );
    let updates_live: u64 = value(page, "window.jitterplay.updates()").await;

    sending.join().expect("sender");
    let finished_by = Instant::now() + Duration::from_secs(20);
    while !value::<bool>(page, "window.jitterplay.finished()").await {
        assert!(Instant::now() < finished_by, "the page never saw the end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let updates: u64 = value(page, "window.jitterplay.updates()").await;
    assert!(
        updates >= updates_live + 5,
        "the page stopped updating ({updates_live} → {updates})"
    );

    // The final table: each stream's figures as the schedule implies them.
    let last = rows(page).await;
    assert_eq!(last.len(), usize::from(STREAMS), "{last:?}");
    for p in &plans {
        let e = expected(p);
        let ssrc = format!("0x{:08X}", p.ssrc);
        let row = last
            .iter()
            .find(|r| r.ssrc == ssrc)
            .unwrap_or_else(|| panic!("no row for {ssrc}"));
        let figures = [
            ("packets", e.packets),
            ("lost", e.lost),
            ("dup", e.duplicated),
            ("reorder", e.out_of_order),
        ];
        for (key, want) in figures {
            assert_eq!(
                shown(row, key),
                Some(want as f64),
                "{ssrc} ({:?}) {key}: {row:?}",
                p.impairment
            );
        }
        let share = 100.0 * e.lost as f64 / e.expected as f64;
        let loss = shown(row, "loss").expect("a loss share");
        assert!(
            (loss - share).abs() < 0.006,
            "{ssrc}: {loss} % for {share} %"
        );
    }

    // Sorted by loss: the lossiest first, and no row above one with more loss.
    page.evaluate("document.querySelector('th[data-key=loss]').click()")
        .await
        .expect("sort by loss");
    let by_loss = rows(page).await;
    let losses: Vec<f64> = by_loss.iter().filter_map(|r| shown(r, "loss")).collect();
    assert_eq!(losses.len(), usize::from(STREAMS));
    assert!(losses.windows(2).all(|w| w[0] >= w[1]), "{losses:?}");
    let lossiest = plans
        .iter()
        .map(|p| {
            let e = expected(p);
            e.lost as f64 / e.expected as f64
        })
        .fold(0.0, f64::max);
    assert!(
        (losses[0] - 100.0 * lossiest).abs() < 0.006,
        "{losses:?} for {lossiest}"
    );

    // A burst stream's details: its histogram is the schedule's runs of lost packets.
    let bursty = plans
        .iter()
        .find(|p| matches!(p.impairment, Impairment::Bursts(n) if n > 1))
        .expect("a burst stream");
    let ssrc = format!("0x{:08X}", bursty.ssrc);
    page.evaluate(format!(
        "document.querySelector('#streams tbody tr[data-ssrc=\"{ssrc}\"] td').click()"
    ))
    .await
    .expect("open a stream");
    let bursts: BTreeMap<String, u64> = value(page, "window.jitterplay.bursts()").await;
    let want: BTreeMap<String, u64> = expected(bursty)
        .bursts
        .iter()
        .map(|(len, n)| (len.to_string(), *n))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(bursts, want, "{ssrc} ({:?})", bursty.impairment);

    // Its history: a sample for each report the page saw, whose losses add up to the stream's
    // (each is the difference of two reports' counts), drawn with a point per sample.
    let id: u64 = value(
        page,
        &format!("window.jitterplay.rows().find((r) => r.ssrc === '{ssrc}').id"),
    )
    .await;
    let history: serde_json::Value = value(page, &format!("window.jitterplay.history({id})")).await;
    let lost: Vec<i64> = history["lost"]
        .as_array()
        .expect("history.lost")
        .iter()
        .map(|v| v.as_i64().expect("a count"))
        .collect();
    assert!(lost.len() >= 5, "{history}");
    assert_eq!(
        lost.iter().sum::<i64>(),
        expected(bursty).lost as i64,
        "{history}"
    );
    let points: BTreeMap<String, usize> = value(page, "window.jitterplay.historyPoints()").await;
    assert_eq!(points.get("loss"), Some(&lost.len()), "{points:?}");
    assert_eq!(points.get("jitter"), Some(&lost.len()), "{points:?}");

    browser
        .screenshot(&dir.join("monitor.png"), "JITTERPLAY_MONITOR_SCREENSHOT")
        .await;

    // The filter finds one stream by its SSRC.
    let filtered: usize = value(
        page,
        &format!(
            "(() => {{ const f = document.getElementById('filter'); f.value = '{}';
               f.dispatchEvent(new Event('input')); return window.jitterplay.rows().length; }})()",
            ssrc.to_lowercase()
        ),
    )
    .await;
    assert_eq!(filtered, 1);

    let errors = browser.close().await;
    assert!(errors.is_empty(), "{errors:?}");

    // A scrape of the final figures ends the monitor's linger.
    let (status, _) = get(web, "/metrics", Duration::from_secs(5)).expect("scrape");
    assert_eq!(status, 200);
    let exit = monitor.0.wait().expect("monitor exit");
    assert!(exit.success(), "monitor failed: {exit}");
}
