//! What the web server answered and refused, declared once (see [`crate::counters`]): served at
//! `/metrics`, inside `/stats.json` and on the dashboard.

use crate::counters::{counter_table, Kind::*, Series};

counter_table! {
    /// The web server's counters, published by its tasks, read by every view.
    cells WebStats;
    /// A serialisable copy of [`WebStats`].
    snapshot WebSnapshot {
        /// Requests answered (any route, any status).
        http_requests: u64 = Count => Series::new(Counter, "http_requests", "HTTP requests answered"),
        /// Scrapes of `/metrics` (counted before the values are read).
        http_scrapes: u64 = Count => Series::new(Counter, "http_scrapes", "Scrapes of /metrics"),
        /// Requests answered 4xx (unknown path, wrong method, oversize or garbled).
        http_client_errors: u64 = Count => Series::new(Counter, "http_client_errors", "HTTP requests answered with a client error"),
        /// Connections refused at once because the connection cap was reached.
        http_refused_connections: u64 = Count => Series::new(Counter, "http_refused_connections", "TCP connections refused over the connection cap"),
        /// Connections closed for a garbled request head, a head too large, or one not sent
        /// in time (slow or idle clients).
        http_closed_bad: u64 = Count => Series::new(Counter, "http_closed_bad", "HTTP connections closed for a bad, oversize or late request head"),
        /// Connections closed because the client stopped reading what was sent to it.
        http_closed_stalled: u64 = Count => Series::new(Counter, "http_closed_stalled", "HTTP connections closed because the client stopped reading"),
        /// Dashboard feed (`/ws`) clients accepted.
        ws_clients: u64 = Count => Series::new(Counter, "ws_clients", "Dashboard feed (WebSocket) clients accepted"),
        /// Dashboard feed clients refused with 503 (too many).
        ws_refused: u64 = Count => Series::new(Counter, "ws_refused", "Dashboard feed clients refused over the cap"),
        /// Feed updates dropped (oldest first) from the queues of clients that fell behind.
        ws_dropped_updates: u64 = Count => Series::new(Counter, "ws_dropped_updates", "Dashboard feed updates dropped from slow clients' queues"),
        /// Feed clients disconnected because their queue stayed full.
        ws_disconnected_slow: u64 = Count => Series::new(Counter, "ws_disconnected_slow", "Dashboard feed clients disconnected for staying behind"),
        /// `/listen` clients accepted.
        listen_clients: u64 = Count => Series::new(Counter, "listen_clients", "Audio listeners accepted"),
        /// `/listen` clients refused with 503 (too many).
        listen_refused: u64 = Count => Series::new(Counter, "listen_refused", "Audio listeners refused over the cap"),
        /// Listeners dropped because they fell behind the audio.
        listen_dropped_slow: u64 = Count => Series::new(Counter, "listen_dropped_slow", "Audio listeners dropped for falling behind"),
        /// Audio frames the web side lost because it fell behind the player (never playback's).
        listen_tap_dropped_frames: u64 = Count => Series::new(Counter, "listen_tap_dropped_frames", "Played frames the web audio tap dropped (the web side fell behind)"),
        /// Packet-delay points dropped because the web side fell behind the player.
        feed_dropped_points: u64 = Count => Series::new(Counter, "feed_dropped_points", "Packet delay points the dashboard feed dropped"),
    }
}

/// The web server's counters as a Prometheus collector.
#[derive(Debug)]
pub struct WebView(pub std::sync::Arc<WebStats>);

impl prometheus_client::collector::Collector for WebView {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let labels = super::exposition::Labels::new();
        let mut out = super::exposition::Exposition::new(&mut encoder, &labels);
        let mut tables = super::exposition::TableWriter::new(&mut out);
        self.0
            .snapshot()
            .visit(&mut |series, sample| tables.take(series, sample, false));
        tables.finish()
    }
}
