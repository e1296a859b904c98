//! Durations as people type them (`3s`, `500ms`, `1m30s`) for every duration option.

use std::time::Duration;

/// Parses a humantime duration for clap.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration '{s}': {e} (try 3s, 500ms, 1m30s)"))
}
