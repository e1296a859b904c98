#!/usr/bin/env python3
"""How `jitterplay monitor` scales: N live G.711 20 ms streams (50 packets/s each) on loopback
for a given time, for N = 100, 500, 1,000 and 2,000 (and 200 and 1,000 with `--loudness`), measuring the monitor's CPU (user+sys
from /proc), the packets/s it read and the kernel drops on its sockets (its own `monitor`
JSON line). Then a capture of 1,000 streams x 60 s analysed by `monitor` and by
`tshark -q -z rtp,streams`, side by side.

Usage: cargo build --release && python3 benches/monitor_scale.py [SECONDS] [--no-capture | --capture-only]

The capture is analysed three times by each, alternating; the medians are compared.

The senders are separate processes (one per 250 streams) pacing with a deadline loop; on a
two-core machine they compete with the monitor for CPU, so drops at 2,000 streams can be the
machine's, which the monitor then reports as its own.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "jitterplay")
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def sender(base, first, count, seconds):
    """A child process sending streams first..first+count to base+2k, 50 packets/s each."""
    code = f"""
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = bytes([0x55]) * 160
start = time.monotonic()
for n in range({int(seconds * 50)}):
    for k in range({first}, {first + count}):
        s.sendto(struct.pack('!BBHII', 0x80, 0, n & 0xFFFF, n * 160, 0x10000 + k) + payload,
                 ('127.0.0.1', {base} + 2 * k))
    wait = start + (n + 1) * 0.02 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
"""
    return subprocess.Popen([sys.executable, "-c", code])


def live(streams, seconds, loudness=False):
    base = 30000
    mon = subprocess.Popen(
        [BIN, "monitor", f"rtp://127.0.0.1:{base}-{base + 2 * streams - 2}", "--json",
         "--duration", f"{seconds + 3}s", "--idle", "60s", "--max-streams", str(streams)]
        + (["--loudness"] if loudness else []),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.5)
    before = cpu_seconds(mon.pid)
    t0 = time.monotonic()
    senders = [sender(base, f, min(250, streams - f), seconds) for f in range(0, streams, 250)]
    for s in senders:
        s.wait()
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(mon.pid) - before
    out = mon.communicate()[0]
    health = [json.loads(l) for l in out.splitlines() if '"type":"monitor"' in l][-1]
    ended = [json.loads(l) for l in out.splitlines() if '"type":"ended"' in l]
    packets = sum(r["packets"] for r in ended)
    lost = sum(r["lost"] for r in ended)
    return {
        "streams": streams,
        "packets_per_s": packets / elapsed,
        "cpu_s_per_s": cpu / elapsed,
        "cpu_per_1000_streams": cpu / elapsed * 1000 / streams,
        "us_per_packet": cpu / max(packets, 1) * 1e6,
        "kernel_drops": health["kernel_drops"],
        "network_lost": lost,
    }


def write_capture(path, streams, seconds):
    """A pcap (raw IPv4 link) of `streams` G.711 streams, 20 ms packets, for `seconds`."""
    payload = bytes([0x55]) * 160
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 228))
        for n in range(seconds * 50):
            for k in range(streams):
                t = n * 0.02 + k * 1e-5
                rtp = struct.pack("!BBHII", 0x80, 0, n & 0xFFFF, n * 160, 0x20000 + k) + payload
                udp = struct.pack("!HHHH", 40000 + 2 * k, 20000 + 2 * k, 8 + len(rtp), 0) + rtp
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                                 bytes([10, 0, k >> 8, k & 255]), bytes([10, 1, 0, 1])) + udp
                sec = int(t)
                f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(ip), len(ip)) + ip)


def timed(cmd):
    """Wall seconds and peak RSS (MiB) of one run of `cmd`."""
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed: {status}")
    return time.monotonic() - t0, usage.ru_maxrss / 1024


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = float(args[0]) if args else 20
    print(f"live: {seconds:.0f} s of G.711 20 ms streams on loopback, one monitor process")
    print("| streams | packets/s | monitor CPU (core share) | CPU per 1,000 streams | µs per packet | kernel drops | network loss |")
    print("|---|---|---|---|---|---|---|")
    rows = [(n, False) for n in (100, 500, 1000, 2000)] + [(200, True), (1000, True)]
    if "--capture-only" in sys.argv:
        rows = []
    for n, loudness in rows:
        r = live(n, seconds, loudness)
        label = f"{n} with --loudness" if loudness else f"{n}"
        print(f"| {label} | {r['packets_per_s']:,.0f} | {r['cpu_s_per_s']:.3f} | {r['cpu_per_1000_streams']:.3f} | "
              f"{r['us_per_packet']:.2f} | {r['kernel_drops']} | {r['network_lost']} |", flush=True)
    if "--no-capture" in sys.argv:
        return
    with tempfile.TemporaryDirectory() as d:
        cap = os.path.join(d, "streams.pcap")
        write_capture(cap, 1000, 60)
        runs = {"monitor": [], "tshark": []}
        for _ in range(3):
            runs["monitor"].append(timed([BIN, "monitor", cap, "--json", "--idle", "1h"]))
            runs["tshark"].append(timed(["tshark", "-q", "-o", "rtp.heuristic_rtp:TRUE", "-z", "rtp,streams", "-r", cap]))
        ours, our_rss = sorted(runs["monitor"])[1]
        theirs, their_rss = sorted(runs["tshark"])[1]
        each = lambda name: ", ".join(f"{t:.2f}" for t, _ in runs[name])
        print(f"\ncapture of 1,000 streams x 60 s ({os.path.getsize(cap) / 1e6:.0f} MB), median of 3: "
              f"monitor {ours:.2f} s ({our_rss:.0f} MiB peak), tshark {theirs:.2f} s ({their_rss:.0f} MiB peak) "
              f"({theirs / ours:.1f}x); runs: monitor {each('monitor')} s, tshark {each('tshark')} s")


if __name__ == "__main__":
    main()
