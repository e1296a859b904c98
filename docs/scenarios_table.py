#!/usr/bin/env python3
"""Runs every built-in scenario through `jitterplay simulate` and prints the results table of
docs/scenarios.md (markdown), so the table is always a fresh run, never typed in.

Usage: python3 docs/scenarios_table.py [path/to/jitterplay] [seed] [results|descriptions]
"""
import json
import re
import subprocess
import sys
import tempfile

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/jitterplay"
SEED = sys.argv[2] if len(sys.argv) > 2 else "1"
MODE = sys.argv[3] if len(sys.argv) > 3 else "results"
INPUT = "assets/music-48k-stereo.flac"

err = subprocess.run([BIN, "simulate", INPUT, "--scenario", "no-such-scenario"],
                     capture_output=True, text=True).stderr
names = re.search(r"built-in: ([^;]+);", err).group(1).split(", ")

def report(name):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([BIN, "simulate", INPUT, "--scenario", name, "--seed", SEED,
                        "--report", f.name], check=True, capture_output=True)
        return json.load(open(f.name))


if MODE == "descriptions":
    print("| name | length s | what it models |")
    print("|---|---|---|")
    for name in names:
        r = report(name)
        print(f"| `{name}` | {r['duration_s']:.1f} | {r['description']} |")
    sys.exit(0)

print("| name | length s | packets | dropped | late | lost | overflow | bit-exact % | in time bit-exact % "
      "| concealed ms | underruns | rebuffers | resets | latency mean / p95 ms | end target ms "
      "| drift true / estimated ppm |")
print("|---|" + "---|" * 15)
reports = {}
for name in names:
    r = report(name)
    reports[name] = r
    m, n = r["metrics"], r["network"]
    sent = r["packets_sent"]
    # With NACK recovery a dropped packet may still come in time (the network's count then
    # includes lost retransmissions): what never played is what was lost.
    gone = m["lost"] if r.get("recovery") else n["dropped"]
    in_time = sent - gone - m["late"]
    exact = 100.0 * r["bit_exact_share"]
    exact_in_time = exact * sent / in_time if in_time else 0.0
    est = r["estimated_drift_ppm"]
    est = "unknown" if est is None else f"{est:+.0f}"
    print(f"| `{name}` | {r['duration_s']:.1f} | {sent} | {n['dropped']} | {m['late']} | {m['lost']} "
          f"| {m['overflow']} | {exact:.2f} | {exact_in_time:.2f} | {m['concealed_ms']:.0f} "
          f"| {m['underruns']} | {m['rebuffers']} | {m['resets']} "
          f"| {r['latency_mean_ms']:.0f} / {r['latency_p95_ms']:.0f} | {m['target_ms']:.0f} "
          f"| {r['true_drift_ppm']:+.0f} / {est} |")

# Scenarios with RTCP: what NACK recovery did, and the same run with --no-nack.
recovering = [(n, r) for n, r in reports.items() if r.get("recovery")]
if recovering:
    print()
    print("| name | asked for (NACKs) | recovered | too late | given up | overhead × | RTT ms "
          "| back-channel lost | bit-exact % | bit-exact % with `--no-nack` |")
    print("|---|" + "---|" * 9)
    for name, r in recovering:
        m, rec = r["metrics"], r["recovery"]
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            subprocess.run([BIN, "simulate", INPUT, "--scenario", name, "--seed", SEED, "--no-nack",
                            "--report", f.name], check=True, capture_output=True)
            off = json.load(open(f.name))
        rtt = "–" if m["rtt_ms"] is None else f"{m['rtt_ms']:.0f}"
        print(f"| `{name}` | {m['nack_packets']} ({m['nack_sent']}) | {m['recovered']} "
              f"| {m['recovered_too_late']} | {m['nack_given_up']} | {rec['overhead']:.2f} | {rtt} "
              f"| {rec['reverse']['dropped']} of {rec['reverse']['sent']} "
              f"| {100.0 * r['bit_exact_share']:.2f} | {100.0 * off['bit_exact_share']:.2f} |")
