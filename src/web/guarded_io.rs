//! A TCP stream that gives up on a client that stops reading: a write that cannot make progress
//! for [`WRITE_STALL`] fails, so the connection closes and its memory and slot come back.
//!
//! hyper has a deadline for reading a request head but none for writing: a `/listen` or `/ws`
//! client that never reads would otherwise hold its connection until the kernel gave up.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep, Sleep};

use super::counts::WebStats;

/// How long a write may wait for a client that does not read.
pub const WRITE_STALL: Duration = Duration::from_secs(10);

/// A [`TcpStream`] whose writes fail after [`WRITE_STALL`] without progress.
pub struct GuardedStream {
    inner: TcpStream,
    stall: Duration,
    stalled_since: Option<Pin<Box<Sleep>>>,
    counts: Arc<WebStats>,
    counted: bool,
}

impl GuardedStream {
    /// Wraps `inner`; a stall is counted in `counts` once.
    pub fn new(inner: TcpStream, stall: Duration, counts: Arc<WebStats>) -> Self {
        GuardedStream {
            inner,
            stall,
            stalled_since: None,
            counts,
            counted: false,
        }
    }

    /// `Pending` from the socket: starts (or checks) the stall clock.
    fn check_stall<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let stall = self.stall;
        let timer = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(sleep(stall)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                if !self.counted {
                    self.counted = true;
                    self.counts.http_closed_stalled.add(1);
                }
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.check_stall(cx),
            ready => {
                self.stalled_since = None;
                ready
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.check_stall(cx),
            ready => {
                self.stalled_since = None;
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn a_client_that_never_reads_fails_the_write_and_is_counted() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            // The client connects and never reads.
            let _client = TcpStream::connect(addr).await.expect("connect");
            let (server, _) = listener.accept().await.expect("accept");
            let counts = Arc::new(WebStats::default());
            let mut guarded = GuardedStream::new(server, WRITE_STALL, Arc::clone(&counts));
            let chunk = vec![0u8; 64 * 1024];
            let error = loop {
                if let Err(e) = guarded.write_all(&chunk).await {
                    break e;
                }
            };
            assert_eq!(error.kind(), io::ErrorKind::TimedOut);
            assert_eq!(counts.snapshot().http_closed_stalled, 1);
        });
    }
}
