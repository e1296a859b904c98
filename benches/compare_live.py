#!/usr/bin/env python3
"""CPU and peak memory of a live RTP receiver: jitterplay beside ffmpeg and GStreamer, one run.

Each receiver gets the same stream in turn: `jitterplay send` streams N seconds (default 60) of
48 kHz stereo L16 in 5 ms packets (200 packets/s) over loopback. Receivers:
  jitterplay  play rtp://127.0.0.1:PORT --format l16/48000/2 --output null
  ffmpeg      -protocol_whitelist file,udp,rtp -i stream.sdp -f null -
  GStreamer   udpsrc ! rtpjitterbuffer latency=3000 ! rtpL16depay ! fakesink sync=true
Each receiver runs under GNU time (Debian package `time`), which reports its user+system CPU
time and peak RSS (measuring from Python itself would count the forked interpreter's memory);
CPU is reported per minute of stream.

    python3 benches/compare_live.py [seconds] [path/to/jitterplay]
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from udp_ports import bound, free_port

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 60
BIN = sys.argv[2] if len(sys.argv) > 2 else "target/release/jitterplay"
CAPS = ("application/x-rtp,media=(string)audio,clock-rate=(int)48000,encoding-name=(string)L16,"
        "encoding-params=(string)2,channels=(int)2,payload=(int)96")




def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def run(name, argv, port, work, stop_signal):
    out = f"{work}/{name}.time"
    receiver = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", out, *argv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if bound(port):
            break
        time.sleep(0.05)
    sender = subprocess.run(
        [BIN, "send", f"{work}/stream.wav", "--to", f"127.0.0.1:{port}", "--ptime", "5ms",
         "--pt", "96", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if sender.returncode != 0:
        sys.exit(f"sender failed for {name}")
    if stop_signal is not None:
        time.sleep(1.0)
        for child in children(receiver.pid):
            os.kill(child, stop_signal)
    receiver.wait()
    with open(out) as f:
        user, system, rss_kb = f.read().split()[-3:]
    return (float(user) + float(system)) * 60.0 / SECONDS, float(rss_kb) / 1024.0


def main():
    for tool in ("ffmpeg", "gst-launch-1.0", "/usr/bin/time"):
        if shutil.which(tool) is None:
            sys.exit(f"compare_live.py: {tool} is required")
    work = tempfile.mkdtemp()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency=440:sample_rate=48000:duration={SECONDS}", "-ac", "2",
                    "-c:a", "pcm_s16le", f"{work}/stream.wav"], check=True)
    rows = []
    port = free_port()
    rows.append(("jitterplay", *run("jitterplay", [
        BIN, "play", f"rtp://127.0.0.1:{port}", "--format", "l16/48000/2", "--output", "null",
        "--idle-timeout", "1s", "--quiet"], port, work, None)))
    port = free_port()
    with open(f"{work}/s.sdp", "w") as f:
        f.write("v=0\no=- 0 0 IN IP4 127.0.0.1\ns=bench\nc=IN IP4 127.0.0.1\nt=0 0\n"
                f"m=audio {port} RTP/AVP 96\na=rtpmap:96 L16/48000/2\n")
    rows.append(("ffmpeg", *run("ffmpeg", [
        "ffmpeg", "-v", "error", "-protocol_whitelist", "file,udp,rtp", "-i", f"{work}/s.sdp",
        "-f", "null", "-"], port, work, signal.SIGINT)))
    port = free_port()
    rows.append(("gstreamer", *run("gstreamer", [
        "gst-launch-1.0", "-q", "udpsrc", f"port={port}", f"caps={CAPS}", "!",
        "rtpjitterbuffer", "latency=3000", "!", "rtpL16depay", "!", "fakesink", "sync=true"],
        port, work, signal.SIGINT)))
    shutil.rmtree(work)
    print(f"{SECONDS} s of L16/48000/2 in 5 ms packets over loopback")
    print(f"{'receiver':<12} {'CPU s/min':>10} {'peak RSS MiB':>13}")
    for name, cpu, rss in rows:
        print(f"{name:<12} {cpu:>10.3f} {rss:>13.1f}")
    jp, ff, gst = rows
    print(f"jitterplay CPU / ffmpeg: {jp[1] / ff[1]:.2f}×; "
          f"jitterplay RSS / GStreamer: {jp[2] / gst[2]:.2f}×")


if __name__ == "__main__":
    main()
