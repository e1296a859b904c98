#!/usr/bin/env python3
"""An AES67-style RTP sender for the media clock tests: L16/48000/2 in 5 ms packets whose
timestamps follow the host's TAI clock (as an AES67 sender's follow PTP) plus an offset, sent
on time to within tens of microseconds (a short spin before each send), optionally from a
clock that runs PPM fast.

usage: mediaclk_sender.py HOST PORT OFFSET PPM SECONDS
"""
import math
import socket
import struct
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
offset, ppm, seconds = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
RATE, FRAMES = 48000, 240
PERIOD = FRAMES / RATE / (1.0 + ppm * 1e-6)  # a fast clock sends its samples sooner

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tai = lambda: time.clock_gettime(time.CLOCK_TAI)
mono = time.monotonic
payload = b"".join(
    struct.pack(">hh", v, v)
    for v in (int(8000 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(FRAMES))
)
start_mono = mono() + 0.05
# The first sample is due at start: its timestamp is the TAI clock then, in samples.
start_ts = int((tai() + (start_mono - mono())) * RATE) + offset
for k in range(int(seconds / PERIOD)):
    due = start_mono + k * PERIOD
    while True:
        left = due - mono()
        if left <= 0:
            break
        if left > 0.0015:
            time.sleep(left - 0.001)
    ts = (start_ts + k * FRAMES) & 0xFFFFFFFF
    header = struct.pack(">BBHII", 0x80, 96, k & 0xFFFF, ts, 0x0A0B0C0D)
    sock.sendto(header + payload, (host, port))
