//! The kernel's drop counter for a UDP socket (what SO_RXQ_OVFL reports), from /proc/net/udp.

/// Drops the kernel counted for the UDP socket bound to local `port` (IPv4 or IPv6), if found.
pub fn udp_drops(port: u16) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|table| drops_in(&table, port))
}

/// Parses a /proc/net/udp table: the `drops` column of the row whose local port is `port`.
fn drops_in(table: &str, port: u16) -> Option<u64> {
    let hex_port = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local = fields.get(1)?;
        if !local.ends_with(&hex_port) {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_drops_column_of_the_right_socket() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  133: 00000000:138C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41 2 0000000000000000 17\n\
  140: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 42 2 0000000000000000 0\n";
        assert_eq!(drops_in(table, 5004), Some(17));
        assert_eq!(drops_in(table, 8080), Some(0));
        assert_eq!(drops_in(table, 9), None);
    }
}
