//! The dashboard's files, built into the binary (no CDN: it works offline). uPlot is vendored
//! under `assets/web/vendor/uplot` with its licence.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// (path, content type, bytes) of a file served.
type File = (&'static str, &'static str, &'static [u8]);

/// The player's dashboard (`play`, `send`, `relay`, `demo`).
const PLAYER_FILES: &[File] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_bytes!("../../assets/web/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/app.js"),
    ),
];

/// The monitor's streams table.
const MONITOR_FILES: &[File] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_bytes!("../../assets/web/monitor.html"),
    ),
    (
        "/monitor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/monitor.js"),
    ),
];

/// What both pages use.
const SHARED_FILES: &[File] = &[
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/web/style.css"),
    ),
    (
        "/vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "/vendor/uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/web/vendor/uplot/uPlot.min.css"),
    ),
    (
        "/vendor/uPlot.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/web/vendor/uplot/LICENSE"),
    ),
];

/// A router serving the player's dashboard.
pub fn player_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    routes(PLAYER_FILES)
}

/// A router serving the monitor's streams table.
pub fn monitor_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    routes(MONITOR_FILES)
}

fn routes<S: Clone + Send + Sync + 'static>(page: &'static [File]) -> Router<S> {
    page.iter()
        .chain(SHARED_FILES)
        .fold(Router::new(), |router, &(path, content_type, bytes)| {
            router.route(
                path,
                get(move || async move {
                    (
                        [
                            (header::CONTENT_TYPE, content_type),
                            (header::CACHE_CONTROL, "no-cache"),
                        ],
                        bytes,
                    )
                        .into_response()
                }),
            )
        })
}
