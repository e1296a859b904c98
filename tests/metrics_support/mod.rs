//! Helpers for the `--metrics-listen` tests: a free TCP port, a plain HTTP GET, and reading
//! series out of an OpenMetrics text exposition.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A loopback TCP address that was free a moment ago.
pub fn free_tcp_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral TCP port")
}

/// `GET path` over HTTP/1.0: the status code and body, or `None` if nothing answers.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// One sample line: its labels and value.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Label name to value.
    pub labels: HashMap<String, String>,
    /// The value.
    pub value: f64,
}

/// Every sample of series `name` in an exposition (labels in `{a="b",…}`, no escapes used).
pub fn samples(text: &str, name: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let labels = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (k, v) = p.split_once("=\"")?;
                Some((k.to_string(), v.trim_end_matches('"').to_string()))
            })
            .collect();
        if let Ok(value) = value.parse() {
            out.push(Sample { labels, value });
        }
    }
    out
}

/// The value of the one sample of `name` (with `label=value` if given); panics otherwise.
pub fn value(text: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
    let found: Vec<Sample> = samples(text, name)
        .into_iter()
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k).map(String::as_str) == Some(v)))
        .collect();
    assert_eq!(found.len(), 1, "{name} {label:?} in:\n{text}");
    found[0].value
}
