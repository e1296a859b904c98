//! The dashboard's files, built into the binary (no CDN: it works offline). uPlot is vendored
//! under `assets/web/vendor/uplot` with its licence.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// (path, content type, bytes) of every file served.
const FILES: &[(&str, &str, &[u8])] = &[
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

/// A router serving [`FILES`].
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    FILES
        .iter()
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
