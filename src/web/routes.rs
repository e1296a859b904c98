//! The routes: the dashboard's files, its feed, the audio, the metrics and the status; and the
//! layers that keep short requests short (timeout, concurrency, body size) and count answers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tower::limit::ConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::assets;
use super::counts::WebStats;
use super::hub::WebHub;
use super::monitor_view::MonitorPublished;
use super::{listen, ws};

/// The OpenMetrics text format's content type.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long a short request (not `/ws` or `/listen`) may take.
pub const SHORT_REQUEST: Duration = Duration::from_secs(5);
/// Short requests answered at once.
const SHORT_CONCURRENCY: usize = 64;
/// Request bodies are never needed: anything larger than this is refused.
const MAX_BODY: usize = 4096;

#[derive(Clone)]
struct Metrics {
    registry: Arc<Registry>,
    counts: Arc<WebStats>,
}

/// The router for `--metrics-listen`: `/metrics` alone.
pub fn metrics_only(registry: Arc<Registry>, counts: Arc<WebStats>) -> Router {
    layered(metrics_route(registry, &counts), counts)
}

/// The router for `--web`: everything.
pub fn dashboard(registry: Arc<Registry>, hub: Arc<WebHub>) -> Router {
    let counts = Arc::clone(hub.counts());
    let short = metrics_route(registry, &counts)
        .merge(
            Router::new()
                .route("/stats.json", get(stats))
                .route("/healthz", get(healthz))
                .with_state(Arc::clone(&hub)),
        )
        .merge(assets::player_routes());
    let streams = Router::new()
        .route("/ws", get(ws::feed))
        .route("/listen", get(listen::ogg))
        .route("/listen.ogg", get(listen::ogg))
        .route("/listen.opus", get(listen::ogg))
        .route("/listen.wav", get(listen::wav))
        .route("/listen.flac", get(listen::flac))
        .with_state(hub);
    layered(short, Arc::clone(&counts))
        .merge(streams.layer(middleware::from_fn_with_state(counts, count_answers)))
}

/// The router for `monitor --web`: the streams table, its feed, the metrics and the status.
pub fn monitor(
    registry: Arc<Registry>,
    published: Arc<MonitorPublished>,
    counts: Arc<WebStats>,
) -> Router {
    let short = metrics_route(registry, &counts)
        .merge(
            Router::new()
                .route("/streams.json", get(streams))
                .route("/healthz", get(monitor_health))
                .with_state(published),
        )
        .merge(assets::monitor_routes());
    layered(short, counts)
}

/// `/metrics` from `registry`, its answers counted in `counts`.
fn metrics_route(registry: Arc<Registry>, counts: &Arc<WebStats>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(Metrics {
            registry,
            counts: Arc::clone(counts),
        })
}

/// Short routes get a deadline, a concurrency limit and a body limit; every answer is counted.
fn layered(short: Router, counts: Arc<WebStats>) -> Router {
    short
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    Arc::clone(&counts),
                    count_answers,
                ))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    SHORT_REQUEST,
                ))
                .layer(RequestBodyLimitLayer::new(MAX_BODY))
                .layer(axum::error_handling::HandleErrorLayer::new(|_| async {
                    StatusCode::SERVICE_UNAVAILABLE
                }))
                .layer(tower::load_shed::LoadShedLayer::new())
                .layer(ConcurrencyLimitLayer::new(SHORT_CONCURRENCY)),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(counts, count_fallback))
}

async fn count_answers(
    State(counts): State<Arc<WebStats>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    counts.http_requests.add(1);
    if response.status().is_client_error() {
        counts.http_client_errors.add(1);
    }
    response
}

/// Counts what no route took (404; a route's own 405 is counted by [`count_answers`]).
async fn count_fallback(
    State(counts): State<Arc<WebStats>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::NOT_FOUND {
        counts.http_requests.add(1);
        counts.http_client_errors.add(1);
    }
    response
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn metrics(State(m): State<Metrics>) -> Response {
    // Counted before the values are read, so a scrape counted after some moment read values
    // from after it.
    m.counts.http_scrapes.add(1);
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &m.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode\n").into_response(),
    }
}

async fn stats(State(hub): State<Arc<WebHub>>) -> Response {
    match hub.latest() {
        Some(status) => ([(header::CACHE_CONTROL, "no-store")], axum::Json(status)).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "no status yet\n",
        )
            .into_response(),
    }
}

async fn healthz(State(hub): State<Arc<WebHub>>) -> Response {
    let state = hub
        .latest()
        .and_then(|s| s.get("state").and_then(|v| v.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "starting".into());
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(serde_json::json!({"ok": true, "state": state}).to_string()),
    )
        .into_response()
}

async fn streams(State(published): State<Arc<MonitorPublished>>) -> Response {
    match published.streams_json() {
        Some(json) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            json,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "no report yet\n",
        )
            .into_response(),
    }
}

async fn monitor_health(State(published): State<Arc<MonitorPublished>>) -> Response {
    let state = match published.tracked() {
        None => "starting",
        Some(_) if published.finished() => "finished",
        Some(_) => "watching",
    };
    let body = serde_json::json!({"ok": true, "state": state, "streams": published.tracked()});
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body.to_string()),
    )
        .into_response()
}
