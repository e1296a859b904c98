//! Network namespaces for multicast tests: multicast never leaves the machine. Each test makes
//! its own namespace whose loopback carries multicast (224.0.0.0/4 routed to `lo`), runs
//! senders and receivers inside it with `ip netns exec`, and removes it when it ends.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

/// A network namespace, removed on drop.
pub struct Netns {
    /// Its name.
    pub name: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Whether this machine can make namespaces (root with `ip`); in CI it must.
pub fn netns_available() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if !(root && ip) {
        assert!(
            std::env::var_os("CI").is_none(),
            "multicast tests need root and iproute2 in CI (root: {root}, ip: {ip})"
        );
        eprintln!("skipping: network namespaces need root and iproute2");
    }
    root && ip
}

fn ip(args: &[&str]) -> Output {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Netns {
    /// A new namespace whose loopback carries IPv4 multicast.
    pub fn new(test: &str) -> Netns {
        let name = format!(
            "jp-{}-{}-{}",
            &test[..test.len().min(6)],
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns.exec_ok(&["ip", "link", "set", "lo", "multicast", "on"]);
        ns.exec_ok(&["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]);
        ns
    }

    /// `ip netns exec NAME program…`, ready to spawn.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `args` in the namespace and asserts it succeeded.
    pub fn exec_ok(&self, args: &[&str]) -> Output {
        let out = self
            .command(args[0])
            .args(&args[1..])
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{args:?} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Spawns jitterplay in the namespace with `args`; stdout and stderr go to files in `dir`
    /// named after `label`.
    pub fn jitterplay(&self, dir: &std::path::Path, label: &str, args: &[&str]) -> Child {
        self.jitterplay_with(dir, label, args, &[])
    }

    /// [`Netns::jitterplay`] with environment variables set (`RUST_LOG`, …).
    pub fn jitterplay_with(
        &self,
        dir: &std::path::Path,
        label: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Child {
        let file = |ext: &str| {
            std::fs::File::create(dir.join(format!("{label}.{ext}"))).expect("create log")
        };
        self.command(env!("CARGO_BIN_EXE_jitterplay"))
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(file("stdout"))
            .stderr(file("stderr"))
            .spawn()
            .expect("spawn jitterplay in the namespace")
    }

    /// The IPv4 groups joined in the namespace (`/proc/net/igmp`), as dotted quads.
    pub fn joined_groups(&self) -> Vec<String> {
        let out = self.exec_ok(&["cat", "/proc/net/igmp"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let hex = l.split_whitespace().next()?;
                if hex.len() != 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                let v = u32::from_str_radix(hex, 16).ok()?;
                // /proc/net/igmp prints the address in host order of a little-endian machine.
                Some(std::net::Ipv4Addr::from(v.swap_bytes()).to_string())
            })
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Whatever still runs in it dies with it.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: kill only sends a signal to the process named.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Kills a child on drop.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WAV of seeded noise (no zero sample, so that silence never matches it), `channels` ×
/// `bits`-bit at 48 kHz; returns its samples as integers.
pub fn noise_wav(path: &Path, channels: u16, bits: u16, seconds: f64, seed: u64) -> Vec<i32> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: 48_000,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    let mut x = seed | 1;
    let frames = (48_000.0 * seconds) as usize;
    let scale = 1i32 << (bits - 2);
    let mut samples = Vec::with_capacity(frames * usize::from(channels));
    for _ in 0..frames * usize::from(channels) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = match (x >> 40) as i32 % scale {
            0 => 1,
            v => v,
        };
        w.write_sample(v).expect("write");
        samples.push(v);
    }
    w.finalize().expect("finalize");
    samples
}

/// Checks that the audio in `out` (float, full scale ±1) is a run of `source` (integers of
/// `bits` bits), sample for sample, from where it starts to where it ends; returns how many
/// frames matched.
pub fn assert_bit_exact_run(out: &[f32], source: &[i32], bits: u16, channels: usize) -> usize {
    let scale = (1i64 << (bits - 1)) as f32;
    let as_int = |v: f32| (v * scale).round() as i32;
    let first = out
        .chunks_exact(channels)
        .position(|f| f.iter().any(|&v| v != 0.0))
        .expect("the output has audio");
    let head: Vec<i32> = out[first * channels..][..channels * 8]
        .iter()
        .map(|&v| as_int(v))
        .collect();
    let at = source
        .chunks_exact(channels)
        .enumerate()
        .position(|(i, _)| source.get(i * channels..i * channels + head.len()) == Some(&head[..]))
        .expect("the output's first frames are in the source");
    let played: Vec<i32> = out[first * channels..].iter().map(|&v| as_int(v)).collect();
    let mut matched = 0;
    for (frame, (a, b)) in played
        .chunks_exact(channels)
        .zip(source[at * channels..].chunks_exact(channels))
        .enumerate()
    {
        if a.iter().all(|&v| v == 0) && frame > 0 {
            // The stream ended (or a trailing silence): everything before it matched.
            break;
        }
        assert_eq!(a, b, "frame {frame} after the first played one differs");
        matched += 1;
    }
    matched
}

pub fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two namespaces joined by a veth pair, for IPv6 multicast (which loopback does not carry):
/// the sender's side has `fd00::1` and `fd00::3`, the receiver's `fd00::2`; removed on drop.
pub struct VethPair {
    /// The senders' namespace (interface `NAME0`).
    pub sender: Netns,
    /// The receivers' namespace (interface `receiver_if`).
    pub receiver: Netns,
    /// The receiver's interface name.
    pub receiver_if: String,
}

impl VethPair {
    /// Makes both namespaces and the link between them.
    pub fn new(test: &str) -> VethPair {
        let sender = Netns::new(&format!("{test}s"));
        let receiver = Netns::new(&format!("{test}r"));
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let (a, b) = (
            format!("jpa{}x{n}", std::process::id() % 100_000),
            format!("jpb{}x{n}", std::process::id() % 100_000),
        );
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &a, "netns", &sender.name]);
        ip(&["link", "set", &b, "netns", &receiver.name]);
        sender.exec_ok(&["ip", "link", "set", &a, "up"]);
        receiver.exec_ok(&["ip", "link", "set", &b, "up"]);
        for addr in ["fd00::1/64", "fd00::3/64"] {
            sender.exec_ok(&["ip", "-6", "addr", "add", addr, "dev", &a, "nodad"]);
        }
        receiver.exec_ok(&["ip", "-6", "addr", "add", "fd00::2/64", "dev", &b, "nodad"]);
        VethPair {
            sender,
            receiver,
            receiver_if: b,
        }
    }
}

/// Starts `jitterplay play INPUT --quiet --output wav:DIR/LABEL.wav --target-min 1s
/// --target-max 2s --idle-timeout 2s --stats-json DIR/LABEL.jsonl EXTRA…` in `ns`, with `envs`.
pub fn play_to_wav(
    ns: &Netns,
    dir: &Path,
    label: &str,
    input: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> Child {
    let wav = format!("wav:{}", dir.join(format!("{label}.wav")).display());
    let stats = dir.join(format!("{label}.jsonl")).display().to_string();
    let mut args = vec![
        "play",
        input,
        "--quiet",
        "--output",
        &wav,
        "--target-min",
        "1s",
        "--target-max",
        "2s",
        "--idle-timeout",
        "2s",
        "--stats-json",
        &stats,
    ];
    args.extend_from_slice(extra);
    ns.jitterplay_with(dir, label, &args, envs)
}

/// GStreamer's `rtpL24pay` sends `wav` as L24/48000/`channels` with payload type `pt` in
/// packets of `ptime_ns` to `group:port`, paced by the clock, to its end.
pub fn gst_l24_send(
    ns: &Netns,
    wav: &Path,
    channels: u16,
    pt: u8,
    ptime_ns: u64,
    group: &str,
    port: u16,
) -> Output {
    let out = ns
        .command("gst-launch-1.0")
        .args(["-q", "filesrc"])
        .arg(format!("location={}", wav.display()))
        .args(["!", "wavparse", "!", "audioconvert", "!"])
        .arg(format!(
            "audio/x-raw,format=S24BE,rate=48000,channels={channels}"
        ))
        .args(["!", "rtpL24pay"])
        .args([
            format!("pt={pt}"),
            format!("min-ptime={ptime_ns}"),
            format!("max-ptime={ptime_ns}"),
        ])
        .args(["!", "udpsink"])
        .args([format!("host={group}"), format!("port={port}")])
        .args(["auto-multicast=true", "sync=true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("gst-launch-1.0");
    assert!(out.status.success(), "gst-launch-1.0 failed");
    out
}
