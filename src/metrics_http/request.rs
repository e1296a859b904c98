//! The one HTTP exchange the metrics endpoint knows: read a bounded request head, answer
//! `GET /metrics`, refuse everything else. Sans IO: bytes in, a decision and bytes out.

/// Largest request head read. A scraper's request is a few hundred bytes; anything longer is
/// refused rather than buffered.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// The content type of an OpenMetrics text exposition.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What a request head asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The head is not complete yet: read more.
    Incomplete,
    /// `GET /metrics` (any query string).
    Metrics,
    /// A `GET` of another path.
    NotFound,
    /// A well-formed request with another method.
    MethodNotAllowed,
    /// Not an HTTP/1.x request line, or a head longer than [`MAX_REQUEST_HEAD`].
    Bad,
}

impl Request {
    /// The status line this request is answered with (`None` while incomplete).
    pub fn status(self) -> Option<&'static str> {
        match self {
            Request::Incomplete => None,
            Request::Metrics => Some("200 OK"),
            Request::NotFound => Some("404 Not Found"),
            Request::MethodNotAllowed => Some("405 Method Not Allowed"),
            Request::Bad => Some("400 Bad Request"),
        }
    }
}

/// Reads what the bytes received so far ask for.
pub fn parse_head(buf: &[u8]) -> Request {
    let Some(end) = find(buf, b"\r\n\r\n").or_else(|| find(buf, b"\n\n")) else {
        return if buf.len() >= MAX_REQUEST_HEAD {
            Request::Bad
        } else {
            Request::Incomplete
        };
    };
    if end > MAX_REQUEST_HEAD {
        return Request::Bad;
    }
    let line_end = find(buf, b"\n").unwrap_or(end);
    let Ok(line) = std::str::from_utf8(&buf[..line_end]) else {
        return Request::Bad;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Request::Bad;
    }
    if method != "GET" {
        return Request::MethodNotAllowed;
    }
    let path = target.split('?').next().unwrap_or(target);
    if path == "/metrics" {
        Request::Metrics
    } else {
        Request::NotFound
    }
}

/// A complete response that closes the connection (one request per connection keeps the
/// responder trivial; scrapers reconnect each time anyway).
pub fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_get_metrics_with_or_without_query() {
        let head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
        assert_eq!(parse_head(head), Request::Metrics);
        assert_eq!(
            parse_head(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Request::Metrics
        );
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\n\n"), Request::Metrics);
    }

    #[test]
    fn waits_for_the_end_of_the_head() {
        assert_eq!(parse_head(b""), Request::Incomplete);
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.1\r\n"),
            Request::Incomplete
        );
    }

    #[test]
    fn other_paths_methods_and_garbage() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(
            parse_head(b"GET /metricsx HTTP/1.1\r\n\r\n"),
            Request::NotFound
        );
        assert_eq!(
            parse_head(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Request::MethodNotAllowed
        );
        for bad in [
            &b"\r\n\r\n"[..],
            b"GET /metrics\r\n\r\n",
            b"GET /metrics SPDY/3\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"\xff\xfe /metrics HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                parse_head(bad),
                Request::Bad,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn refuses_heads_over_the_bound() {
        let long = vec![b'a'; MAX_REQUEST_HEAD];
        assert_eq!(parse_head(&long), Request::Bad);
        assert_eq!(
            parse_head(&long[..MAX_REQUEST_HEAD - 1]),
            Request::Incomplete
        );
    }

    #[test]
    fn response_has_length_and_closes() {
        let r = String::from_utf8(response("200 OK", "text/plain", "héllo")).unwrap_or_default();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Length: 6\r\n"), "{r}");
        assert!(r.contains("Connection: close\r\n\r\nhéllo"), "{r}");
    }
}
