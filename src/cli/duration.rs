//! Durations as people type them (`3s`, `500ms`, `1m30s`) for every duration option, and SSRCs
//! (hex or decimal).

use std::time::Duration;

/// Parses a humantime duration for clap.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration '{s}': {e} (try 3s, 500ms, 1m30s)"))
}

/// Reads an SSRC in hex (`0x…`) or decimal.
pub fn parse_ssrc(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("not an SSRC: {text:?} (write 0x1234abcd or a decimal number)"))
}
