//! `/listen`, `/listen.wav`, `/listen.flac`: the audio being played, as a live HTTP stream.
//!
//! Each listener has its own bounded queue of ≤ 20 ms chunks (a broadcast receiver) and its
//! own encoder. A listener that falls behind the queue is dropped and counted; it never slows
//! playback, which only pushes into the hub's lock-free tap. Over [`MAX_LISTENERS`] the answer
//! is 503.

pub mod encoders;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

use super::hub::{PcmChunk, WebHub};
use encoders::{ChunkEncoder, ListenFormat};

/// Listeners served at once (each runs an encoder).
pub const MAX_LISTENERS: usize = 16;

/// `/listen`: Ogg Opus.
pub async fn ogg(State(hub): State<Arc<WebHub>>) -> Response {
    listen(hub, ListenFormat::OggOpus)
}

/// `/listen.wav`.
pub async fn wav(State(hub): State<Arc<WebHub>>) -> Response {
    listen(hub, ListenFormat::Wav)
}

/// `/listen.flac`.
pub async fn flac(State(hub): State<Arc<WebHub>>) -> Response {
    listen(hub, ListenFormat::Flac)
}

fn listen(hub: Arc<WebHub>, format: ListenFormat) -> Response {
    let taken = hub
        .listen_active
        .fetch_update(Relaxed, Relaxed, |n| (n < MAX_LISTENERS).then_some(n + 1));
    if taken.is_err() {
        hub.counts().listen_refused.add(1);
        return (StatusCode::SERVICE_UNAVAILABLE, "too many listeners\n").into_response();
    }
    hub.counts().listen_clients.add(1);
    let listener = Listener {
        chunks: hub.subscribe_audio(),
        hub,
        format,
        encoder: None,
        out: Vec::new(),
        dropped: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(listener, |mut l| async move {
        l.next().await.map(|item| (item, l))
    }));
    (
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Why a listener's stream ended early (hyper then closes the connection).
#[derive(Debug, thiserror::Error)]
enum ListenEnd {
    #[error("the listener fell behind the audio")]
    TooSlow,
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// One listener: its queue, its encoder, its place.
struct Listener {
    hub: Arc<WebHub>,
    chunks: Receiver<PcmChunk>,
    format: ListenFormat,
    encoder: Option<Box<dyn ChunkEncoder>>,
    out: Vec<u8>,
    dropped: bool,
}

impl Listener {
    async fn next(&mut self) -> Option<Result<Bytes, ListenEnd>> {
        loop {
            let chunk = match self.chunks.recv().await {
                Ok(chunk) => chunk,
                Err(RecvError::Lagged(_)) => {
                    self.drop_slow();
                    return Some(Err(ListenEnd::TooSlow));
                }
                Err(RecvError::Closed) => return None,
            };
            let encoder = match self.encoder.as_mut() {
                Some(e) => e,
                None => match self.format.encoder(&chunk) {
                    Ok(e) => self.encoder.insert(e),
                    Err(e) => return Some(Err(ListenEnd::Encode(e))),
                },
            };
            if let Err(e) = encoder.encode(&chunk, &mut self.out) {
                return Some(Err(ListenEnd::Encode(e)));
            }
            if !self.out.is_empty() {
                return Some(Ok(Bytes::from(std::mem::take(&mut self.out))));
            }
        }
    }

    fn drop_slow(&mut self) {
        if !self.dropped {
            self.dropped = true;
            self.hub.counts().listen_dropped_slow.add(1);
            tracing::info!("listener dropped: it fell behind the audio");
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // A listener whose connection was closed for not reading left its queue overrun.
        if matches!(self.chunks.try_recv(), Err(TryRecvError::Lagged(_))) {
            self.drop_slow();
        }
        self.hub.listen_active.fetch_sub(1, Relaxed);
    }
}
