#!/usr/bin/env python3
"""Soak: a looping, impaired sender into a live player for N minutes; does anything grow?

Runs, over loopback (ports chosen free at start):
  jitterplay send FILE --to 127.0.0.1:PORT --loop --impair SPEC --sdp-out stream.sdp \
      --metrics-listen 127.0.0.1:M1 --quiet
  jitterplay play stream.sdp --output null --stats-json stats.jsonl \
      --metrics-listen 127.0.0.1:M2 --quiet
(the SDP carries RTP/AVPF with NACK and RTX, so RTCP and retransmission run too).

Every minute it records, for both processes: RSS and threads (/proc/PID/status), open file
descriptors (/proc/PID/fd), CPU seconds (utime + stime of /proc/PID/stat); and every numeric
field: the player's last complete --stats-json line and both Prometheus scrapes. /proc is read
before scraping so the scrape's own connection is never counted as an fd.

It prints a markdown table (one row per minute, key columns) and a verdict, and writes
PREFIX.csv (every column), PREFIX.json (rows, command lines, verdict) and PREFIX.md (table and
verdict). Verdict: RSS, fds and threads over the second half of the run are compared with the
first minutes (minutes 1..3, or the first half of a short run); RSS may rise by
max(2 MiB, 5 %), fds and threads not at all. CPU per minute is compared the same way (median
of the second half against median of the first minutes; more than 1.5× is growth: a steady
stream should cost the same every minute). Gauges (buffer depth, held datagrams...): the median
of the second half against the median of the first (more than 1.5× is growth). Counters are
expected to grow and are only tabulated.

Not run in CI (it takes as long as you ask). Example:
    python3 benches/soak.py --minutes 60 --out /tmp/soak
    python3 benches/soak.py --minutes 2 --interval 20 --out /tmp/soak-try   # quick try
    python3 benches/soak.py --from /tmp/soak.csv --out /tmp/again           # table again
"""
import argparse
import csv
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

DEFAULT_IMPAIR = "delay=40ms,jitter=20ms,loss=2%,burst=3,reorder=5%,dup=1%,drift=300ppm,seed=7"
# Labels naming the stream rather than a breakdown: left out of column names so they stay stable.
IDENTITY_LABELS = {"source", "destination", "ssrc", "format", "listen"}
RSS_TOLERANCE_KIB, RSS_TOLERANCE_FRACTION = 2048, 0.05
CPU_RATE_TOLERANCE = 1.5
GAUGE_TOLERANCE = 1.5
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=60.0, help="how long to run (default 60)")
    p.add_argument("--interval", type=float, default=60.0,
                   help="seconds between rows (default 60: one row per minute)")
    p.add_argument("--bin", default="target/release/jitterplay")
    p.add_argument("--input", default="assets/music-48k-stereo.flac")
    p.add_argument("--impair", default=DEFAULT_IMPAIR)
    p.add_argument("--out", default="soak", help="prefix of PREFIX.csv/.json/.md (default soak)")
    p.add_argument("--workdir", help="where the SDP, stats.jsonl and logs go (default: a temp dir)")
    p.add_argument("--from", dest="saved", metavar="FILE",
                   help="run nothing: print the table and verdict of a saved PREFIX.csv or "
                        "PREFIX.json again (written to OUT.md)")
    return p.parse_args()


def free_rtp_port():
    """An even UDP port whose odd neighbour (RTCP) is free too."""
    for _ in range(200):
        port = random.randrange(20000, 60000, 2)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
                return port
        except OSError:
            continue
    sys.exit("soak.py: no free pair of UDP ports")


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_sample(pid):
    """RSS (KiB, in all and anonymous/file), threads, open fds and CPU seconds of `pid`, or None
    once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces: fields are counted after its closing ')'.
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return None
    if status.get("State", "").strip().startswith("Z"):
        return None
    return {
        "rss_kib": int(status["VmRSS"].split()[0]),
        # Heap growth shows in the anonymous part; the file part is code pages touched late.
        "rss_anon_kib": int(status["RssAnon"].split()[0]),
        "rss_file_kib": int(status["RssFile"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": fds,
        "cpu_s": (int(fields[11]) + int(fields[12])) / CLK_TCK,
    }


def flatten(prefix, value, out):
    """Every numeric leaf of a JSON object, keyed by its dotted path (booleans are not numbers)."""
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = value


def last_stats_line(path):
    """The last complete JSON line of --stats-json (the writer may be mid-line at any moment)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            lines = f.read().split(b"\n")
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def scrape(port, kinds):
    """Every sample of a Prometheus scrape as {column: value}; `kinds` learns each TYPE."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    families = {}
    out = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            families[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, labels = head, ""
        if "{" in head:
            name, rest = head.split("{", 1)
            pairs = [kv.split("=", 1) for kv in rest.rstrip("}").split('",') if "=" in kv]
            labels = ",".join(f"{k}={v.strip(chr(34))}" for k, v in pairs
                              if k not in IDENTITY_LABELS)
        column = f"{name}{{{labels}}}" if labels else name
        # Series of two streams would share a column; a looping sender keeps one SSRC.
        out[column] = out.get(column, 0.0) + float(value)
        family = next((f for f in families if name == f or name.startswith(f + "_")), None)
        kinds[column] = families.get(family, "unknown")
    return out


def baseline_and_late(rows):
    """The rows of the first minutes and of the second half."""
    n = len(rows)
    first = rows[:max(1, min(3, n // 2))]
    late = rows[n // 2:] if n >= 2 else rows
    return first, late


def slope(rows, column):
    """Least-squares slope of `column` per minute (0 with fewer than two rows)."""
    xs = [r["minute"] for r in rows]
    ys = [r[column] for r in rows]
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def verdict(rows, kinds):
    """Lines saying what grew; the bool says whether anything (but counters) grew."""
    first, late = baseline_and_late(rows)
    lines, grew = [], False
    for who in ("player", "sender"):
        base = max(r[f"{who}.rss_kib"] for r in first)
        top = max(r[f"{who}.rss_kib"] for r in late)
        tol = max(RSS_TOLERANCE_KIB, RSS_TOLERANCE_FRACTION * base)
        bad = top > base + tol
        grew |= bad
        lines.append(f"{who} RSS: first minutes max {base / 1024:.1f} MiB, second half max "
                     f"{top / 1024:.1f} MiB (tolerance {tol / 1024:.1f} MiB): "
                     f"{'GREW' if bad else 'steady'}; second-half trend "
                     f"{slope(late, f'{who}.rss_kib'):+.2f} KiB/min"
                     + (f" (anonymous {slope(late, f'{who}.rss_anon_kib'):+.2f})"
                        if f"{who}.rss_anon_kib" in late[0] else ""))
        for key in ("fds", "threads"):
            base = max(r[f"{who}.{key}"] for r in first)
            top = max(r[f"{who}.{key}"] for r in late)
            bad = top > base
            grew |= bad
            lines.append(f"{who} {key}: first minutes max {base}, second half max {top} "
                         f"(tolerance 0): {'GREW' if bad else 'steady'}")
        rates = [r[f"{who}.cpu_per_min"] for r in rows if r.get(f"{who}.cpu_per_min") is not None]
        if len(rates) >= 2:
            r_first, r_late = baseline_and_late(rates)
            base, top = statistics.median(r_first), statistics.median(r_late)
            bad = top > CPU_RATE_TOLERANCE * base + 0.05
            grew |= bad
            lines.append(f"{who} CPU: median {base:.2f} s/min in the first minutes, {top:.2f} "
                         f"s/min in the second half (tolerance {CPU_RATE_TOLERANCE}×): "
                         f"{'GREW' if bad else 'steady'}")
    # Gauges move with the network from one sample to the next, so the max of 30 samples beats
    # the max of 3 by chance: halves of equal size are compared, median against median.
    half = len(rows) // 2
    for column, kind in sorted(kinds.items()):
        if kind != "gauge":
            continue
        values_first = [r[column] for r in rows[:max(1, half)] if column in r]
        values_late = [r[column] for r in late if column in r]
        if not values_first or not values_late:
            continue
        base, top = statistics.median(values_first), statistics.median(values_late)
        bad = top > GAUGE_TOLERANCE * base if base > 0 else top > 0
        grew |= bad
        lines.append(f"gauge {column}: median {base:g} in the first half, {top:g} in the second "
                     f"(range {min(values_first + values_late):g}–"
                     f"{max(values_first + values_late):g}; tolerance {GAUGE_TOLERANCE}×): "
                     f"{'GREW' if bad else 'steady'}")
    return lines, grew


TABLE = [  # (header, column, format); player counters from the scrape, live at the sample time
    ("min", "minute", "{:g}"),
    ("play RSS MiB", "player.rss_kib", "kib"),
    ("play fds", "player.fds", "{}"),
    ("play thr", "player.threads", "{}"),
    ("play CPU s", "player.cpu_s", "{:.1f}"),
    ("played", "player.jitterplay_packets_played_total", "{:.0f}"),
    ("lost", "player.jitterplay_packets_lost_total", "{:.0f}"),
    ("recovered", "player.jitterplay_recovered_total", "{:.0f}"),
    ("late", "player.jitterplay_drop_count_total{reason=late}", "{:.0f}"),
    ("dup", "player.jitterplay_drop_count_total{reason=duplicate}", "{:.0f}"),
    ("concealed ms", "player.jitterplay_concealed_seconds_total", "ms"),
    ("underruns", "player.jitterplay_underruns_total", "{:.0f}"),
    ("depth ms", "player.jitterplay_buffer_depth_seconds", "ms"),
    ("drift ppm", "player.jitterplay_clock_drift_ratio", "ppm"),
    ("send RSS MiB", "sender.rss_kib", "kib"),
    ("send fds", "sender.fds", "{}"),
    ("send thr", "sender.threads", "{}"),
    ("send CPU s", "sender.cpu_s", "{:.1f}"),
    ("sent pkts", "sender.jitterplay_sent_packets_total", "{:.0f}"),
]
SCALED = {"kib": (1 / 1024, "{:.1f}"), "ms": (1e3, "{:.0f}"), "ppm": (1e6, "{:.0f}")}


def markdown_table(rows):
    out = ["| " + " | ".join(h for h, _, _ in TABLE) + " |",
           "|" + "|".join("---:" for _ in TABLE) + "|"]
    for r in rows:
        cells = []
        for _, column, fmt in TABLE:
            v = r.get(column)
            scale, fmt = SCALED.get(fmt, (1, fmt))
            cells.append("–" if v is None else fmt.format(v * scale))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def tail(path, n=5):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


def number(text):
    try:
        return int(text)
    except ValueError:
        return float(text)


def load_saved(path):
    """Rows, metric kinds and early end of a saved run. A CSV has no TYPE lines: its scraped
    columns are counters when they end in `_total` (OpenMetrics requires it), else gauges."""
    if path.endswith(".json"):
        with open(path) as f:
            saved = json.load(f)
        return saved["rows"], saved["kinds"], saved["ended_early"]
    with open(path, newline="") as f:
        rows = [{k: number(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)]
    kinds = {}
    for column in (rows[0] if rows else {}):
        who, _, name = column.partition(".")
        if who in ("player", "sender") and name.startswith("jitterplay_"):
            kinds[column] = "counter" if name.split("{")[0].endswith("_total") else "gauge"
    return rows, kinds, None


def report(rows, kinds, ended, out):
    """Prints the table and verdict and writes them to OUT.md; the bool: did anything grow."""
    lines, grew = verdict(rows, kinds) if rows else ([], False)
    if ended:
        lines.insert(0, f"FINDING: {ended}")
    summary = ("Verdict: " + ("something besides the counters GREW (see above)" if grew or ended
                              else "nothing besides the counters grew") +
               f" over {len(rows)} rows.")
    table = markdown_table(rows)
    text = table + "\n\n" + "\n".join(f"- {line}" for line in lines) + "\n\n" + summary + "\n"
    print(text, end="")
    with open(out + ".md", "w") as f:
        f.write(text)
    return lines, grew or bool(ended)


def main():
    args = parse_args()
    if args.saved:
        report(*load_saved(args.saved), args.out)
        return
    work = args.workdir or tempfile.mkdtemp(prefix="soak-")
    os.makedirs(work, exist_ok=True)
    rtp, m_send, m_play = free_rtp_port(), free_tcp_port(), free_tcp_port()
    sdp, stats = os.path.join(work, "stream.sdp"), os.path.join(work, "stats.jsonl")
    send_cmd = [args.bin, "send", args.input, "--to", f"127.0.0.1:{rtp}", "--loop",
                "--impair", args.impair, "--sdp-out", sdp,
                "--metrics-listen", f"127.0.0.1:{m_send}", "--quiet"]
    play_cmd = [args.bin, "play", sdp, "--output", "null", "--stats-json", stats,
                "--metrics-listen", f"127.0.0.1:{m_play}", "--quiet"]
    logs = {name: open(os.path.join(work, f"{name}.log"), "w") for name in ("send", "play")}
    sender = subprocess.Popen(send_cmd, stdout=logs["send"], stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(sdp) or sender.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists(sdp):
        sender.kill()
        sys.exit(f"soak.py: the sender wrote no SDP: {tail(os.path.join(work, 'send.log'))}")
    player = subprocess.Popen(play_cmd, stdout=logs["play"], stderr=subprocess.STDOUT)
    print(f"soak: {args.minutes:g} min, work dir {work}", file=sys.stderr)

    rows, kinds, ended = [], {}, None
    start = time.monotonic()
    count = int(round(args.minutes * 60 / args.interval))
    for k in range(1, count + 1):
        time.sleep(max(0.0, start + k * args.interval - time.monotonic()))
        row = {"minute": round(k * args.interval / 60, 3),
               "elapsed_s": round(time.monotonic() - start, 1)}
        for who, proc in (("player", player), ("sender", sender)):
            sample = proc_sample(proc.pid)
            if sample is None or proc.poll() is not None:
                ended = f"{who} exited (code {proc.poll()}) before minute {row['minute']:g}"
                break
            row.update({f"{who}.{key}": v for key, v in sample.items()})
        if ended:
            break
        flatten("json", last_stats_line(stats), row)
        for who, port in (("player", m_play), ("sender", m_send)):
            sample_kinds = {}
            row.update({f"{who}.{c}": v for c, v in scrape(port, sample_kinds).items()})
            kinds.update({f"{who}.{c}": kind for c, kind in sample_kinds.items()})
        for who in ("player", "sender"):
            prev = rows[-1][f"{who}.cpu_s"] if rows else None
            row[f"{who}.cpu_per_min"] = (None if prev is None else
                                         (row[f"{who}.cpu_s"] - prev) * 60 / args.interval)
        rows.append(row)
        print(f"soak: minute {row['minute']:g}: player RSS {row['player.rss_kib']} KiB, "
              f"fds {row['player.fds']}, threads {row['player.threads']}", file=sys.stderr)

    for proc in (player, sender):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for f in logs.values():
        f.close()

    if ended:
        ended += (f"; last log lines: {tail(os.path.join(work, 'play.log'))}"
                  f" {tail(os.path.join(work, 'send.log'))}")
    lines, grew = report(rows, kinds, ended, args.out)

    columns = sorted({c for r in rows for c in r},
                     key=lambda c: (c not in ("minute", "elapsed_s"), c))
    with open(args.out + ".csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    with open(args.out + ".json", "w") as f:
        json.dump({"send": send_cmd, "play": play_cmd, "interval_s": args.interval,
                   "kinds": kinds, "verdict": lines, "grew": grew,
                   "ended_early": ended, "rows": rows}, f, indent=1)
    sys.exit(1 if ended else 0)


if __name__ == "__main__":
    main()
