//! Debian's headless Chromium driven over CDP, for the browser tests: launch it on a page,
//! collect what the page logs as an error, close it.

use std::path::Path;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::listeners::EventStream;
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::{FutureExt, StreamExt};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether Chromium is installed; its absence fails the test under CI and skips it elsewhere.
pub fn chromium_or_skip() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is missing in CI"
    );
    eprintln!("skipped: no {CHROMIUM}");
    false
}

/// A headless Chromium with one blank page whose console errors and exceptions are kept.
pub struct Headless {
    browser: Browser,
    events: tokio::task::JoinHandle<()>,
    /// The page to drive.
    pub page: Page,
    console: EventStream<EventConsoleApiCalled>,
    exceptions: EventStream<EventExceptionThrown>,
}

impl Headless {
    /// Launches Chromium with a fresh profile in `profile`, a `width`×`height` window and
    /// `extra` command-line switches (without their leading `--`).
    pub async fn launch(profile: &Path, width: u32, height: u32, extra: &[&str]) -> Self {
        let mut args = vec!["disable-gpu", "disable-component-update", "disable-sync"];
        args.extend_from_slice(extra);
        let config = BrowserConfig::builder()
            .chrome_executable(CHROMIUM)
            .no_sandbox()
            .new_headless_mode()
            .user_data_dir(profile)
            .window_size(width, height)
            .viewport(None)
            .args(args)
            .build()
            .expect("browser config");
        let (browser, mut handler) = Browser::launch(config).await.expect("launch chromium");
        let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
        let page = browser.new_page("about:blank").await.expect("page");
        let console = page
            .event_listener::<EventConsoleApiCalled>()
            .await
            .expect("console events");
        let exceptions = page
            .event_listener::<EventExceptionThrown>()
            .await
            .expect("exceptions");
        Headless {
            browser,
            events,
            page,
            console,
            exceptions,
        }
    }

    /// A PNG of the whole page, written to `path` and, when the environment variable `env`
    /// names a file, there too (how the docs' screenshots are made).
    pub async fn screenshot(&self, path: &Path, env: &str) {
        let png = self
            .page
            .screenshot(
                ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .full_page(true)
                    .build(),
            )
            .await
            .expect("screenshot");
        std::fs::write(path, &png).expect("write screenshot");
        if let Some(copy) = std::env::var_os(env) {
            std::fs::write(copy, &png).unwrap_or_else(|e| panic!("write {env}: {e}"));
        }
    }

    /// Closes the browser; returns the page's console errors and uncaught exceptions.
    pub async fn close(mut self) -> Vec<String> {
        self.browser.close().await.ok();
        let _ = self.browser.wait().await;
        self.events.abort();
        let mut errors = Vec::new();
        while let Some(Some(e)) = self.console.next().now_or_never() {
            if e.r#type == ConsoleApiCalledType::Error {
                errors.push(format!("console.error: {:?}", e.args));
            }
        }
        while let Some(Some(e)) = self.exceptions.next().now_or_never() {
            errors.push(format!("exception: {:?}", e.exception_details));
        }
        errors
    }
}
