//! Helpers for the loopback network tests: receiving until a process exits, summary lines, and
//! waiting on a peer's UDP socket through /proc (bound, drained) instead of sleeping.
#![allow(dead_code)]

pub mod stream_sender;

use std::collections::HashMap;
use std::net::UdpSocket;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// How long the socket stays quiet, after the sender exited, before the test stops reading.
pub const DRAIN: Duration = Duration::from_millis(300);

/// A datagram as the test received it.
pub struct Arrival {
    /// When it was read.
    pub at: Instant,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A receiving socket on an ephemeral loopback port.
pub fn receiver() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");
    socket
}

/// Reads datagrams until `child` exits, then until the socket is quiet for [`DRAIN`].
pub fn receive_until_exit(socket: &UdpSocket, mut child: Child) -> (Vec<Arrival>, Output) {
    let mut arrivals = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let mut exited_quiet_since: Option<Instant> = None;
    loop {
        match socket.recv_from(&mut buf) {
            Ok((len, _)) => {
                arrivals.push(Arrival {
                    at: Instant::now(),
                    bytes: buf[..len].to_vec(),
                });
                if exited_quiet_since.is_some() {
                    exited_quiet_since = Some(Instant::now());
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                match exited_quiet_since {
                    Some(since) if since.elapsed() >= DRAIN => break,
                    Some(_) => {}
                    None => {
                        if child.try_wait().expect("try_wait").is_some() {
                            exited_quiet_since = Some(Instant::now());
                        }
                    }
                }
            }
            Err(e) => panic!("receive failed: {e}"),
        }
    }
    let output = child.wait_with_output().expect("collect output");
    (arrivals, output)
}

/// The `key=value` fields of the last stdout line, checking the process succeeded.
pub fn summary(output: &Output) -> HashMap<String, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    last.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A numeric summary field.
pub fn count(summary: &HashMap<String, String>, key: &str) -> u64 {
    summary
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {summary:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {summary:?}"))
}

/// A UDP port that was free a moment ago (for peers that cannot report the port they bound).
///
/// It is taken below the kernel's ephemeral range (32768–60999 by default), one after another
/// within this test process: an ephemeral port could be handed to another test's socket bound to
/// port 0 between this check and the player's own bind, and that test's datagrams would then be
/// refused (a flake seen in CI). Ports go four apart, so the RTCP port (+1) an RTP peer such as
/// ffmpeg also uses never lands on another test's port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering::Relaxed};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Test binaries run one after another; their threads share the counter.
    let base = 20_000 + u16::try_from(std::process::id() % 10).unwrap_or(0) * 1_200;
    for _ in 0..300 {
        let port = base + (NEXT.fetch_add(1, Relaxed) % 300) * 4;
        let free = |p: u16| UdpSocket::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 1) {
            return port;
        }
    }
    panic!("no free UDP port in {base}..{}", base + 1_200)
}

/// The receive queue (bytes) of every UDP socket bound to `port`, from /proc/net/udp{,6}.
fn udp_rx_queues(port: u16) -> Vec<u64> {
    let mut queues = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(queues_field)) = (fields.get(1), fields.get(4)) else {
                continue;
            };
            let bound = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            let rx = queues_field
                .split_once(':')
                .and_then(|(_, rx)| u64::from_str_radix(rx, 16).ok());
            if let (Some(p), Some(rx)) = (bound, rx) {
                if p == port {
                    queues.push(rx);
                }
            }
        }
    }
    queues
}

/// Polls until `ok` holds for the sockets on `port`, failing after `limit`.
fn wait_for_port(port: u16, what: &str, limit: Duration, ok: impl Fn(&[u64]) -> bool) {
    let start = Instant::now();
    while !ok(&udp_rx_queues(port)) {
        assert!(
            start.elapsed() < limit,
            "port {port}: {what} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until some process has bound UDP `port` (a receiver we cannot ask directly).
pub fn wait_until_bound(port: u16) {
    wait_for_port(port, "bound", Duration::from_secs(20), |q| !q.is_empty());
}

/// Waits until the sockets on `port` have read everything queued for them.
pub fn wait_until_drained(port: u16) {
    wait_for_port(port, "drained", Duration::from_secs(20), |q| {
        q.iter().all(|&rx| rx == 0)
    });
}

/// Asks a child to finish as after Ctrl-C (ffmpeg finalizes its output, gst-launch -e sends EOS).
pub fn interrupt(child: &Child) {
    send_signal(child.id(), libc::SIGINT);
}

/// Sends `signal` to process `pid`.
pub fn send_signal(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).expect("pid");
    // SAFETY: kill(2) with a valid signal number has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill -{signal} {pid}");
}

/// The big-endian 16-bit encoding of samples read by `read_wav` from a 16-bit file.
pub fn l16_bytes(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|&s| ((s * 32_768.0).round() as i16).to_be_bytes())
        .collect()
}

// ---- The live player (`jitterplay play rtp://…` / `.sdp`), for tests/live_rtp.rs and
// ---- tests/interop_receive.rs.

/// A running `jitterplay play` writing `out.wav` (and its stdout and stderr) into a directory.
pub struct Player {
    child: Child,
    started: Instant,
    /// The WAV it writes.
    pub wav: std::path::PathBuf,
    stdout: std::path::PathBuf,
    stderr: std::path::PathBuf,
}

/// How a [`Player`] ended.
pub struct Played {
    /// Its exit status.
    pub status: std::process::ExitStatus,
    /// From spawning to exit.
    pub elapsed: Duration,
    /// Everything it printed to stdout.
    pub stdout: String,
    /// Everything it printed to stderr.
    pub stderr: String,
}

/// The flags of a test's `jitterplay play`, set by name; [`PlayerArgs::spawn`] starts it.
#[derive(Debug, Clone, Default)]
pub struct PlayerArgs {
    input: String,
    args: Vec<String>,
}

impl PlayerArgs {
    /// Plays `rtp://127.0.0.1:PORT`.
    pub fn rtp(port: u16) -> Self {
        Self::input(&format!("rtp://127.0.0.1:{port}"))
    }

    /// Plays `input` (a URL, an SDP or a file).
    pub fn input(input: &str) -> Self {
        PlayerArgs {
            input: input.to_string(),
            args: Vec::new(),
        }
    }

    fn flag(mut self, name: &str, value: impl ToString) -> Self {
        self.args.push(name.to_string());
        self.args.push(value.to_string());
        self
    }

    /// `--format FORMAT`.
    pub fn format(self, format: &str) -> Self {
        self.flag("--format", format)
    }

    /// `--target-min MIN --target-max MAX`.
    pub fn target(self, min: &str, max: &str) -> Self {
        self.flag("--target-min", min).flag("--target-max", max)
    }

    /// `--idle-timeout T`.
    pub fn idle_timeout(self, t: &str) -> Self {
        self.flag("--idle-timeout", t)
    }

    /// `--stats-json PATH`.
    pub fn stats_json(self, path: &std::path::Path) -> Self {
        self.flag("--stats-json", path.display())
    }

    /// `--metrics-listen ADDR`.
    pub fn metrics_listen(self, addr: impl std::fmt::Display) -> Self {
        self.flag("--metrics-listen", addr)
    }

    /// Any other flags, as they are.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Starts the player with its WAV and output files in `dir` (see [`spawn_player`]).
    pub fn spawn(self, dir: &std::path::Path) -> Player {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        spawn_player(dir, &self.input, &args)
    }
}

/// Starts `jitterplay play INPUT --output wav:DIR/out.wav --quiet ARGS…`; stdout and stderr go to
/// files in `dir` (no pipe can fill up and stall it).
pub fn spawn_player(dir: &std::path::Path, input: &str, args: &[&str]) -> Player {
    let wav = dir.join("out.wav");
    let stdout = dir.join("play.stdout");
    let stderr = dir.join("play.stderr");
    let file = |p: &std::path::Path| std::fs::File::create(p).expect("create output file");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_jitterplay"))
        .args(["play", input, "--quiet", "--output"])
        .arg(format!("wav:{}", wav.display()))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(file(&stdout))
        .stderr(file(&stderr))
        .spawn()
        .expect("spawn jitterplay play");
    Player {
        child,
        started: Instant::now(),
        wav,
        stdout,
        stderr,
    }
}

impl Player {
    /// What it printed to stdout so far (Rust flushes stdout at every line).
    pub fn stdout_so_far(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Waits until a stdout line satisfies `ok`, failing after `limit` or if the player exits.
    pub fn wait_for_line(&mut self, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            if self.stdout_so_far().lines().any(&ok) {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "player exited ({status}) before {what}; stderr: {}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            assert!(start.elapsed() < limit, "no {what} within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for it to exit like [`Player::wait`], reaping it with wait4(2) to learn its peak
    /// resident set size (`ru_maxrss`, KiB), the kernel's own high-water mark.
    pub fn wait_with_max_rss(self, limit: Duration) -> (Played, u64) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        let mut raw_status = 0;
        // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: wait4 writes only into the two live, properly typed locals passed to it.
            let rc = unsafe { libc::wait4(pid, &mut raw_status, libc::WNOHANG, &mut usage) };
            assert!(rc >= 0, "wait4({pid}): {}", std::io::Error::last_os_error());
            if rc == pid {
                break;
            }
            assert!(
                self.started.elapsed() <= limit,
                "jitterplay play still running after {limit:?}; stderr: {}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let max_rss_kib = u64::try_from(usage.ru_maxrss).expect("ru_maxrss");
        let played = Played {
            status: std::os::unix::process::ExitStatusExt::from_raw(raw_status),
            elapsed: self.started.elapsed(),
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        };
        // Reaped: `Drop` finds no child (try_wait errs) and leaves it alone.
        (played, max_rss_kib)
    }

    /// True once the player has exited (it is reaped later by [`Player::wait`]).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for it to exit; after `limit` it is killed and the test fails.
    pub fn wait(mut self, limit: Duration) -> Played {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "jitterplay play still running after {limit:?}; stderr: {}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Played {
            status,
            elapsed: self.started.elapsed(),
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }
}

impl Drop for Player {
    /// A test that fails half-way does not leave a player bound to its port.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Played {
    /// Checks it exited 0.
    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "jitterplay play failed: {}\nstderr: {}",
            self.status,
            self.stderr
        );
    }
}

/// The final line (`"final":true`) of `--stats-json` output, parsed.
pub fn final_stats(jsonl: &str) -> serde_json::Value {
    let last = jsonl
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no stats lines in {jsonl:?}"));
    let value: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("stats line {last:?}: {e}"));
    assert_eq!(value["final"], true, "last stats line is not final: {last}");
    value
}

/// Every line of a `--stats-json` file parsed, and its final line (checked to be final).
pub fn read_stats(path: &std::path::Path) -> (Vec<serde_json::Value>, serde_json::Value) {
    let jsonl = std::fs::read_to_string(path).expect("stats file");
    let lines = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stats line {l}: {e}")))
        .collect();
    (lines, final_stats(&jsonl))
}

/// A counter of a stats line by JSON pointer, e.g. `/metrics/lost`.
pub fn stat(stats: &serde_json::Value, pointer: &str) -> f64 {
    stats
        .pointer(pointer)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {stats}"))
}

/// Starts ffmpeg receiving the stream `sdp` describes into the 16-bit WAV `wav` (stop it with
/// [`interrupt`]).
pub fn ffmpeg_sdp_to_wav(sdp: &std::path::Path, wav: &std::path::Path) -> Child {
    std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-protocol_whitelist",
            // srtp and crypto for an SDP with a=crypto.
            "file,udp,rtp,srtp,crypto",
            "-i",
        ])
        .arg(sdp)
        .args(["-c:a", "pcm_s16le", "-y"])
        .arg(wav)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg")
}
