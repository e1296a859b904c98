//! `/ws`: the dashboard's feed. A new client first gets the last 60 s of history, then every
//! update. Each client has its own bounded queue (a broadcast receiver): when it is full the
//! oldest updates are dropped and counted; a client whose sends stay blocked for
//! [`SLOW_CLIENT`] is disconnected and counted. Over [`MAX_CLIENTS`] the answer is 503.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::hub::WebHub;

/// Feed clients served at once.
pub const MAX_CLIENTS: usize = 32;
/// How long a client's queue may stay full (its sends blocked) before it is disconnected.
pub const SLOW_CLIENT: Duration = Duration::from_secs(5);

/// Holds one of the [`MAX_CLIENTS`] places while a client is connected.
struct Place(Arc<WebHub>);

impl Place {
    fn take(hub: &Arc<WebHub>) -> Option<Place> {
        let taken = hub
            .ws_active
            .fetch_update(Relaxed, Relaxed, |n| (n < MAX_CLIENTS).then_some(n + 1));
        taken.is_ok().then(|| Place(Arc::clone(hub)))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.ws_active.fetch_sub(1, Relaxed);
    }
}

/// Upgrades to a WebSocket, or answers 503 when full.
pub async fn feed(State(hub): State<Arc<WebHub>>, upgrade: WebSocketUpgrade) -> Response {
    let Some(place) = Place::take(&hub) else {
        hub.counts().ws_refused.add(1);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many dashboard clients\n",
        )
            .into_response();
    };
    hub.counts().ws_clients.add(1);
    upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(socket, place))
}

async fn serve(mut socket: WebSocket, place: Place) {
    let hub = Arc::clone(&place.0);
    // Subscribed before the history is read, so no update falls between them.
    let mut updates = hub.subscribe_updates();
    let history = hub.history();
    let mut text = String::with_capacity(history.iter().map(|h| h.len() + 1).sum::<usize>() + 32);
    text.push_str("{\"history\":[");
    for (i, point) in history.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(point);
    }
    text.push_str("]}");
    if !send(&mut socket, &hub, &mut updates, text.into()).await {
        return;
    }
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(update) => {
                    // Every client sends the same bytes: the update is shared, not copied.
                    if !send(&mut socket, &hub, &mut updates, update).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => hub.counts().ws_dropped_updates.add(n),
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                // The client says nothing the server needs; it only closes.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Sends one message; false if the client is gone or was too slow (counted, with the
/// updates its queue dropped meanwhile).
async fn send(
    socket: &mut WebSocket,
    hub: &WebHub,
    updates: &mut tokio::sync::broadcast::Receiver<Utf8Bytes>,
    text: Utf8Bytes,
) -> bool {
    match tokio::time::timeout(SLOW_CLIENT, socket.send(Message::Text(text))).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            let mut dropped = 0;
            loop {
                match updates.try_recv() {
                    Ok(_) => {}
                    Err(TryRecvError::Lagged(n)) => dropped += n,
                    Err(_) => break,
                }
            }
            hub.counts().ws_dropped_updates.add(dropped);
            hub.counts().ws_disconnected_slow.add(1);
            tracing::info!(dropped, "dashboard client disconnected: it stopped reading");
            false
        }
    }
}
