//! Network namespaces for multicast tests: multicast never leaves the machine. Each test makes
//! its own namespace whose loopback carries multicast (224.0.0.0/4 routed to `lo`), runs
//! senders and receivers inside it with `ip netns exec`, and removes it when it ends.

#![allow(dead_code)]

use std::process::{Child, Command, Output, Stdio};
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
        let file = |ext: &str| {
            std::fs::File::create(dir.join(format!("{label}.{ext}"))).expect("create log")
        };
        self.command(env!("CARGO_BIN_EXE_jitterplay"))
            .args(args)
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
                let _ = Command::new("kill").args(["-9", pid]).output();
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
