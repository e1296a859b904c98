//! Multicast groups end to end, inside a network namespace the test makes and removes:
//! - any-source multicast: two players on one group and port each play the whole stream
//!   bit-exact (the port is shared);
//! - source-specific multicast: with two senders to one group, `rtp://SOURCE@GROUP:PORT` plays
//!   only SOURCE's stream, bit-exact, and the other never reaches the player's socket (the
//!   kernel filters it: nothing is counted as a foreign sender);
//! - IPv6 over a veth pair between two namespaces: an any-source join (interface as the
//!   address's `%scope`) and a source-specific MLDv2 join (`--interface`) both play bit-exact,
//!   the second sender is filtered by the kernel, and both groups are left at exit;
//! - `send --multicast-if` with an address that is not local, and `--interface` naming no
//!   interface, are clear errors.

mod common;
mod multicast_support;

use std::time::Duration;

use common::*;
use multicast_support::*;

fn player(ns: &Netns, dir: &std::path::Path, label: &str, url: &str) -> std::process::Child {
    play_to_wav(ns, dir, label, url, &["--format", "l16/48000/2"], &[])
}

fn final_net(dir: &std::path::Path, label: &str, key: &str) -> u64 {
    let lines = json_lines(&dir.join(format!("{label}.jsonl")));
    let last = lines.last().unwrap_or_else(|| panic!("{label}: no stats"));
    last["net"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("{label}: no net.{key} in {last}"))
}

#[test]
fn two_players_share_an_any_source_group_and_both_play_it_bit_exact() {
    if !netns_available() {
        return;
    }
    let dir = scratch("mc_asm");
    let ns = Netns::new("asm");
    let wav = dir.join("noise.wav");
    let source = noise_wav(&wav, 2, 16, 4.0, 21);
    let mut a = player(&ns, &dir, "a", "rtp://@239.9.9.12:5010");
    let mut b = player(&ns, &dir, "b", "rtp://@239.9.9.12:5010");
    std::thread::sleep(Duration::from_millis(700));
    let mut sender = ns.jitterplay(
        &dir,
        "send",
        &[
            "send",
            &wav.display().to_string(),
            "--to",
            "239.9.9.12:5010",
        ],
    );
    assert!(wait_exit(&mut sender, Duration::from_secs(20)).success());
    for (label, child) in [("a", &mut a), ("b", &mut b)] {
        assert!(
            wait_exit(child, Duration::from_secs(20)).success(),
            "{label}"
        );
        let (out, _, _) = read_wav(&dir.join(format!("{label}.wav")));
        let matched = assert_bit_exact_run(&out, &source, 16, 2);
        assert_eq!(matched, source.len() / 2, "{label}: every frame played");
    }
}

#[test]
fn a_source_specific_join_plays_only_its_source() {
    if !netns_available() {
        return;
    }
    let dir = scratch("mc_ssm");
    let ns = Netns::new("ssm");
    for addr in ["10.200.0.1/32", "10.200.0.2/32"] {
        ns.exec_ok(&["ip", "addr", "add", addr, "dev", "lo"]);
    }
    let wanted = dir.join("wanted.wav");
    let other = dir.join("other.wav");
    let source = noise_wav(&wanted, 2, 16, 4.0, 31);
    noise_wav(&other, 2, 16, 4.0, 32);
    let mut p = player(&ns, &dir, "ssm", "rtp://10.200.0.1@232.1.1.1:5012");
    std::thread::sleep(Duration::from_millis(700));
    let send = |label: &str, wav: &std::path::Path, from: &str| {
        ns.jitterplay(
            &dir,
            label,
            &[
                "send",
                &wav.display().to_string(),
                "--to",
                "232.1.1.1:5012",
                "--multicast-if",
                from,
                "--no-rtcp",
            ],
        )
    };
    let mut s1 = send("wanted", &wanted, "10.200.0.1");
    let mut s2 = send("other", &other, "10.200.0.2");
    assert!(wait_exit(&mut s1, Duration::from_secs(20)).success());
    assert!(wait_exit(&mut s2, Duration::from_secs(20)).success());
    assert!(wait_exit(&mut p, Duration::from_secs(20)).success());
    let (out, _, _) = read_wav(&dir.join("ssm.wav"));
    let matched = assert_bit_exact_run(&out, &source, 16, 2);
    assert_eq!(
        matched,
        source.len() / 2,
        "every frame of the wanted source"
    );
    assert_eq!(
        final_net(&dir, "ssm", "foreign"),
        0,
        "the kernel filtered the other source"
    );
    // The sender's summary: "sent packets=N datagrams=N …".
    let summary = std::fs::read_to_string(dir.join("wanted.stdout")).expect("sender summary");
    let sent: u64 = summary
        .split_whitespace()
        .find_map(|w| w.strip_prefix("datagrams="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no datagram count in {summary:?}"));
    assert_eq!(
        final_net(&dir, "ssm", "datagrams"),
        sent,
        "only the wanted source's datagrams reached the socket"
    );
}

#[test]
fn a_multicast_interface_that_is_not_local_is_a_clear_error() {
    let out = jitterplay()
        .args(["send"])
        .arg(asset("speech-48k-mono.wav"))
        .args(["--to", "239.9.9.13:5014", "--multicast-if", "192.0.2.77"])
        .bounded_output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--multicast-if 192.0.2.77: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

/// The IPv6 groups joined on `iface` in `ns` (`/proc/net/igmp6`), in full form.
fn joined_v6(ns: &Netns, iface: &str) -> Vec<std::net::Ipv6Addr> {
    let out = ns.exec_ok(&["cat", "/proc/net/igmp6"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&iface)).then_some(())?;
            let hex = f.get(2)?;
            let v = u128::from_str_radix(hex, 16).ok()?;
            Some(std::net::Ipv6Addr::from(v))
        })
        .collect()
}

#[test]
fn ipv6_any_source_and_source_specific_joins_over_a_link() {
    if !netns_available() {
        return;
    }
    let dir = scratch("mc_v6");
    let link = VethPair::new("v6");
    let iface = link.receiver_if.clone();
    let wav = dir.join("a.wav");
    let other = dir.join("b.wav");
    let source = noise_wav(&wav, 2, 16, 3.0, 51);
    noise_wav(&other, 2, 16, 3.0, 52);
    // Any-source, with the interface given as the address's scope.
    let mut asm = player(
        &link.receiver,
        &dir,
        "asm6",
        &format!("rtp://[ff15::1234%{iface}]:5020"),
    );
    // Source-specific (MLDv2), with --interface.
    let mut ssm = play_to_wav(
        &link.receiver,
        &dir,
        "ssm6",
        "rtp://[fd00::1]@[ff35::1234]:5022",
        &["--format", "l16/48000/2", "--interface", &iface],
        &[],
    );
    std::thread::sleep(Duration::from_millis(800));
    let joined = joined_v6(&link.receiver, &iface);
    for group in ["ff15::1234", "ff35::1234"] {
        let g: std::net::Ipv6Addr = group.parse().expect("group");
        assert!(
            joined.contains(&g),
            "{group} not joined on {iface}: {joined:?}"
        );
    }
    let send = |label: &str, wav: &std::path::Path, to: &str, from: &str| {
        link.sender.jitterplay(
            &dir,
            label,
            &[
                "send",
                &wav.display().to_string(),
                "--to",
                to,
                "--multicast-if",
                from,
                "--no-rtcp",
            ],
        )
    };
    let mut senders = [
        send("s-asm", &wav, "[ff15::1234]:5020", "fd00::1"),
        send("s-ssm", &wav, "[ff35::1234]:5022", "fd00::1"),
        send("s-other", &other, "[ff35::1234]:5022", "fd00::3"),
    ];
    for s in &mut senders {
        assert!(wait_exit(s, Duration::from_secs(20)).success());
    }
    for (label, child) in [("asm6", &mut asm), ("ssm6", &mut ssm)] {
        assert!(
            wait_exit(child, Duration::from_secs(20)).success(),
            "{label}"
        );
        let (out, _, _) = read_wav(&dir.join(format!("{label}.wav")));
        let matched = assert_bit_exact_run(&out, &source, 16, 2);
        assert_eq!(matched, source.len() / 2, "{label}: every frame played");
    }
    assert_eq!(
        final_net(&dir, "ssm6", "foreign"),
        0,
        "the kernel filtered fd00::3"
    );
    // Both players have left their groups.
    let joined = joined_v6(&link.receiver, &iface);
    assert!(
        !joined.iter().any(|g| g.segments()[7] == 0x1234),
        "groups still joined after the players exited: {joined:?}"
    );
}

#[test]
fn a_group_on_an_interface_that_does_not_exist_is_a_clear_error() {
    let out = jitterplay()
        .args([
            "play",
            "rtp://239.9.9.14:5016",
            "--format",
            "pcmu",
            "--interface",
            "nosuch0",
        ])
        .bounded_output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"nosuch0\"") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn aes67s_shortest_packets_125_us_l24_play_bit_exact() {
    if !netns_available() || !require_tool("gst-launch-1.0") {
        return;
    }
    let dir = scratch("mc_125us");
    let ns = Netns::new("125us");
    let wav = dir.join("noise.wav");
    let source = noise_wav(&wav, 2, 24, 4.0, 61);
    let mut p = play_to_wav(
        &ns,
        &dir,
        "play",
        "rtp://@239.9.9.15:5030",
        &["--format", "l24/48000/2"],
        &[],
    );
    std::thread::sleep(Duration::from_millis(700));
    // 6 frames per packet: 8,000 packets/s.
    gst_l24_send(&ns, &wav, 2, 96, 125_000, "239.9.9.15", 5030);
    assert!(wait_exit(&mut p, Duration::from_secs(30)).success());
    let (out, _, _) = read_wav(&dir.join("play.wav"));
    let matched = assert_bit_exact_run(&out, &source, 24, 2);
    assert_eq!(
        matched,
        source.len() / 2,
        "every frame of 32,000 packets played"
    );
}
