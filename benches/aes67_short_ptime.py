#!/usr/bin/env python3
"""AES67's shortest packet time: L24/48000/2 in 125 µs packets (8,000 packets/s), played by
jitterplay and by a GStreamer receiver from the same GStreamer sender, one after the other.

The sender is GStreamer's `rtpL24pay min-ptime=125000 max-ptime=125000` reading N seconds
(default 20) of seeded 24-bit stereo noise, paced by `udpsink sync=true` over loopback.
Receivers:
  jitterplay  play rtp://127.0.0.1:PORT --format l24/48000/2 --output wav:OUT (then checked
              bit-exact against the source: every frame after the first played one)
  GStreamer   udpsrc ! rtpjitterbuffer latency=3000 ! rtpL24depay ! fakesink sync=true
Each receiver runs under GNU time (Debian package `time`), which reports its user+system CPU
time and peak RSS; CPU is given per minute of stream.

    python3 benches/aes67_short_ptime.py [seconds] [path/to/jitterplay]
"""
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

from udp_ports import bound, free_port

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
BIN = sys.argv[2] if len(sys.argv) > 2 else "target/release/jitterplay"
CAPS = ("application/x-rtp,media=(string)audio,clock-rate=(int)48000,encoding-name=(string)L24,"
        "encoding-params=(string)2,channels=(int)2,payload=(int)96")




def write_noise(path, seconds):
    """24-bit stereo noise without zero samples; returns the samples as integers."""
    rng = random.Random(7)
    samples = [rng.randrange(1, 1 << 22) * rng.choice((1, -1)) for _ in range(48000 * seconds * 2)]
    data = b"".join(struct.pack("<i", s)[:3] for s in samples)
    fmt = struct.pack("<HHIIHH", 1, 2, 48000, 48000 * 6, 6, 24)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16))
        f.write(fmt + b"data" + struct.pack("<I", len(data)) + data)
    return samples


def read_float_wav(path):
    with open(path, "rb") as f:
        raw = f.read()
    at = 12
    while at + 8 <= len(raw):
        tag, size = raw[at:at + 4], struct.unpack("<I", raw[at + 4:at + 8])[0]
        if tag == b"data":
            body = raw[at + 8:at + 8 + size]
            return struct.unpack(f"<{len(body) // 4}f", body[:len(body) // 4 * 4])
        at += 8 + size + (size & 1)
    return ()


def send(wav, port):
    return subprocess.Popen(
        ["gst-launch-1.0", "-q", "filesrc", f"location={wav}", "!", "wavparse", "!", "audioconvert",
         "!", "audio/x-raw,format=S24BE,rate=48000,channels=2", "!", "rtpL24pay", "pt=96",
         "min-ptime=125000", "max-ptime=125000", "!", "udpsink", "host=127.0.0.1",
         f"port={port}", "sync=true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def receive(name, argv, port, wav, work):
    timing = f"{work}/{name}.time"
    # GNU time measures the receiver alone (wait4 from here would count this interpreter's
    # memory, which the child had before it exec'd).
    receiver = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", timing, *argv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if bound(port):
            break
        time.sleep(0.05)
    sender = send(wav, port)
    sender.wait()
    if name == "GStreamer":
        time.sleep(4)  # the 3 s jitter buffer drains
        # SIGINT to the receiver itself (GNU time passes it on).
        for child in open(f"/proc/{receiver.pid}/task/{receiver.pid}/children").read().split():
            os.kill(int(child), 2)
    receiver.wait()
    with open(timing) as f:
        user, system, rss = f.read().split()[-3:]
    cpu = float(user) + float(system)
    print(f"{name:<11} CPU {cpu * 60 / SECONDS:6.2f} s per minute of stream, "
          f"peak RSS {int(rss) / 1024:6.1f} MiB")


def main():
    work = tempfile.mkdtemp(prefix="jp-aes67-")
    wav = f"{work}/noise.wav"
    source = write_noise(wav, SECONDS)
    print(f"L24/48000/2, 125 µs packets ({8000 * SECONDS} packets), {SECONDS} s")
    port = free_port()
    out = f"{work}/out.wav"
    receive("jitterplay", [BIN, "play", f"rtp://127.0.0.1:{port}", "--format", "l24/48000/2",
                           "--output", f"wav:{out}", "--target-min", "1s", "--target-max", "2s",
                           "--idle-timeout", "2s", "--quiet"], port, wav, work)
    played = [round(v * (1 << 23)) for v in read_float_wav(out)]
    first = next(i for i, v in enumerate(played) if v != 0)
    first -= first % 2
    head = played[first:first + 16]
    at = next(i for i in range(0, len(source) - 16, 2) if source[i:i + 16] == head)
    run = 0
    for a, b in zip(played[first:], source[at:]):
        if a != b:
            break
        run += 1
    print(f"jitterplay  {run // 2} frames bit-exact from the first played one "
          f"({(len(source) - at) // 2} sent from there on)")
    port = free_port()
    receive("GStreamer", ["gst-launch-1.0", "-q", "udpsrc", f"port={port}", f"caps={CAPS}", "!",
                          "rtpjitterbuffer", "latency=3000", "!", "rtpL24depay", "!", "fakesink",
                          "sync=true"], port, wav, work)


main()
