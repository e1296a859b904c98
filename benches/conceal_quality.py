#!/usr/bin/env python3
"""Loss concealment scored perceptually: jitterplay beside GStreamer and ffmpeg, one run.

Every player receives the same RTP packets over loopback, with the same packets missing:
the script builds the stream, drops packets by a seeded schedule, writes what is left to a
pcap file (raw IPv4/UDP/RTP, so `jitterplay streams FILE.pcap` shows the losses) and replays
that capture in real time to each player in turn, at 20 ms per packet.

Signals
  speech  17 s of espeak-ng (en-us, 150 words/min), 16 kHz mono, sent as L16/16000/1
  music   assets/music-48k-stereo.flac (6.5 s), sent as L16/48000/2 (3840-byte datagrams)
Losses (packets of 20 ms; seed 15 unless --seed)
  none      nothing lost (the baseline)
  rand3     each packet lost with probability 3 %
  rand10    each packet lost with probability 10 %
  burst2-5  a burst of 2-5 packets (uniform) starts at a packet with probability 2 %
  gap200    one 200 ms gap (10 packets) at 40 % of the signal
Players
  jitterplay  play rtp://127.0.0.1:PORT --format l16/RATE/CH --output wav:OUT (paced, default
              3-5 s target window), --stats-json for concealed ms by method
  GStreamer   udpsrc ! rtpjitterbuffer latency=3000 ! rtpL16depay ! audiorate ! audioconvert
              ! wavenc (audiorate keeps lost packets on the timeline as silence)
  ffmpeg      -max_delay 3000000 -i stream.sdp -af aresample=async=1 (a 3 s reorder window;
              aresample keeps the timeline)
Scores (each output aligned to the source by cross-correlation first)
  speech  ITU-T P.862.2 wide-band PESQ, MOS-LQO 1.0-4.64, higher is better (`pesq` package,
          which also aligns each utterance itself)
  music   log-spectral distance in dB, lower is better, after aligning each second of the
          output again by whole packets (within 12: ffmpeg shifts its timeline by a few packets
          even with aresample=async=1, and LSD has no alignment of its own): per channel,
          2048-point Hann STFT
          (43 ms, half overlap), power normalised to full scale and floored at -90 dB, the RMS
          over 20 Hz-20 kHz of 10 log10(P_source / P_output) per frame, averaged over the
          frames where the source is above -60 dBFS. A lost packet filled with silence scores
          tens of dB there; a good concealment a few.

Prerequisites (not needed by the test suite): ffmpeg, gst-launch-1.0 with plugins-base and
plugins-good, espeak-ng; Python 3 with numpy, scipy and pesq:
    apt-get install -y espeak-ng ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base \\
        gstreamer1.0-plugins-good
    pip install pesq numpy scipy          # add --break-system-packages on Debian 12
    cargo build --release

    python3 benches/conceal_quality.py [--players jitterplay,gstreamer,ffmpeg]
        [--signals speech,music] [--losses none,rand3,rand10,burst2-5,gap200] [--seed 15]
        [--bin target/release/jitterplay] [--offline] [--keep DIR] [--rescore DIR]

--offline scores jitterplay alone by replaying each capture through `play FILE.pcap --fast`
(the same receive core in virtual time, seconds instead of minutes): for tuning, not for the
table. --rescore DIR scores again what a run kept with --keep DIR. The run takes about 13
minutes (every player hears every signal in real time). Run it on an idle machine: the
players are live, and a starved decoder thread underruns (jitterplay's line reports its
underruns; a lossless row below 4.64 or above 0 says a run was disturbed).
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.io import wavfile
from scipy.signal import correlate, stft

from udp_ports import bound, free_port

SPEECH_TEXT = (
    "The quick brown fox jumps over the lazy dog. A lost packet that nobody can retransmit "
    "must still sound like nothing happened. Pitch based concealment repeats the last voice "
    "period with a smooth overlap at every join, and fades out slowly when the gap grows long. "
    "Seven silver swans swam silently seaward, while the waves washed over the rocks."
)
PTIME = 0.020
SSRC = 0x15C0FFEE
PT = 96
LOSSES = ["none", "rand3", "rand10", "burst2-5", "gap200"]
PLAYERS = ["jitterplay", "gstreamer", "ffmpeg"]


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def make_signals(work, which):
    """Source PCM per signal: (name, rate, channels, int16 array frames x channels)."""
    out = []
    if "speech" in which:
        sh("espeak-ng", "-v", "en-us", "-s", "150", "-w", f"{work}/speech22k.wav", SPEECH_TEXT)
        sh("ffmpeg", "-v", "error", "-y", "-i", f"{work}/speech22k.wav", "-ar", "16000", "-ac",
           "1", "-c:a", "pcm_s16le", f"{work}/speech.wav")
        rate, x = wavfile.read(f"{work}/speech.wav")
        out.append(("speech", rate, 1, x.reshape(-1, 1)))
    if "music" in which:
        here = os.path.dirname(os.path.abspath(__file__))
        sh("ffmpeg", "-v", "error", "-y", "-i", f"{here}/../assets/music-48k-stereo.flac",
           "-c:a", "pcm_s16le", f"{work}/music.wav")
        rate, x = wavfile.read(f"{work}/music.wav")
        out.append(("music", rate, 2, x.reshape(len(x), -1)))
    return out


def lost_packets(pattern, n, seed):
    """Indices of the packets a pattern drops, drawn from a generator seeded per pattern."""
    rng = random.Random(f"{pattern}/{seed}")
    lost = set()
    if pattern.startswith("rand"):
        p = int(pattern[4:]) / 100.0
        lost = {i for i in range(n) if rng.random() < p}
    elif pattern == "burst2-5":
        i = 0
        while i < n:
            if rng.random() < 0.02:
                length = rng.randint(2, 5)
                lost.update(range(i, min(n, i + length)))
                i += length + 1  # a burst ends with a received packet
            else:
                i += 1
    elif pattern == "gap200":
        start = int(0.4 * n)
        lost = set(range(start, start + 10))
    lost.discard(0)  # every player needs the first packet to start
    return lost


def rtp_packets(pcm, rate):
    """L16 RTP packets of PTIME each, network byte order."""
    frames = int(rate * PTIME)
    packets = []
    for k, at in enumerate(range(0, len(pcm) - frames + 1, frames)):
        header = struct.pack("!BBHII", 0x80, PT, (1000 + k) & 0xFFFF, k * frames, SSRC)
        packets.append(header + pcm[at:at + frames].astype(">i2").tobytes())
    return packets


def ip_checksum(header):
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_pcap(path, packets, port):
    """Raw-IPv4 pcap (link type 101) of the packets sent at their 20 ms slots."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for slot, payload in packets:
            udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), slot & 0xFFFF, 0, 64, 17,
                             0, socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
            ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
            t = slot * PTIME
            f.write(struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)), len(ip + udp),
                                len(ip + udp)))
            f.write(ip + udp)


def replay(packets, port):
    """Sends (slot, payload) pairs to 127.0.0.1:port at their slots on an absolute schedule."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        start = time.monotonic() + 0.1
        for slot, payload in packets:
            delay = start + slot * PTIME - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            s.sendto(payload, ("127.0.0.1", port))




def receive(player, args, rate, channels, packets, out, work):
    """Plays the packets to one player live; returns its stats (jitterplay) or None."""
    port = free_port(even=True)
    caps = (f"application/x-rtp,media=(string)audio,clock-rate=(int){rate},"
            f"encoding-name=(string)L16,encoding-params=(string){channels},"
            f"channels=(int){channels},payload=(int){PT}")
    stats = out[:-4] + ".stats.jsonl"
    if player == "jitterplay":
        argv = [args.bin, "play", f"rtp://127.0.0.1:{port}", "--format",
                f"l16/{rate}/{channels}", "--output", f"wav:{out}", "--idle-timeout", "1s",
                "--quiet", "--stats-json", stats]
    elif player == "gstreamer":
        argv = ["gst-launch-1.0", "-q", "-e", "udpsrc", f"port={port}", "address=127.0.0.1",
                "buffer-size=4194304", f"caps={caps}", "!", "rtpjitterbuffer", "latency=3000",
                "!", "rtpL16depay", "!", "audiorate", "!", "audioconvert", "!", "wavenc", "!",
                "filesink", f"location={out}"]
    else:
        sdp = f"{work}/s.sdp"
        with open(sdp, "w") as f:
            f.write("v=0\no=- 0 0 IN IP4 127.0.0.1\ns=conceal\nc=IN IP4 127.0.0.1\nt=0 0\n"
                    f"m=audio {port} RTP/AVP {PT}\na=rtpmap:{PT} L16/{rate}/{channels}\n")
        argv = ["ffmpeg", "-v", "error", "-y", "-protocol_whitelist", "file,udp,rtp",
                "-max_delay", "3000000", "-i", sdp, "-af", "aresample=async=1", "-c:a",
                "pcm_s16le", out]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    for _ in range(200):
        if bound(port):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    replay(packets, port)
    if player != "jitterplay":
        # Let the 3 s window play out, then stop the peer cleanly (EOS / trailer).
        time.sleep(4.0)
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if not os.path.exists(out):
        sys.exit(f"{player} wrote no output: {err.decode(errors='replace')[-500:]}")
    if player == "jitterplay":
        return last_stats(stats)
    return None


def last_stats(path):
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    final = lines[-1] if lines else {}
    return final.get("metrics", final)


def offline(args, rate, channels, pcap, out, work):
    stats = out[:-4] + ".stats.jsonl"
    sh(args.bin, "play", pcap, "--format", f"l16/{rate}/{channels}", "--output", f"wav:{out}",
       "--fast", "--quiet", "--stats-json", stats)
    return last_stats(stats)


def read_float(path, channels):
    _, x = wavfile.read(path)
    if x.dtype == np.int16:
        x = x.astype(np.float64) / 32768.0
    x = x.astype(np.float64).reshape(len(x), -1)
    if x.shape[1] != channels:
        x = np.repeat(x.mean(axis=1, keepdims=True), channels, axis=1)
    return x


def align(ref, deg):
    """`deg` shifted to line up with `ref` (by the channel mix), cut or padded to its length."""
    a, b = ref.mean(axis=1), deg.mean(axis=1)
    c = correlate(b, a, mode="full", method="fft")
    lag = int(np.argmax(c)) - (len(a) - 1)
    if lag >= 0:
        deg = deg[lag:]
    else:
        deg = np.vstack([np.zeros((-lag, deg.shape[1])), deg])
    if len(deg) < len(ref):
        deg = np.vstack([deg, np.zeros((len(ref) - len(deg), deg.shape[1]))])
    return deg[:len(ref)]


def align_blocks(ref, deg, rate):
    """`deg` realigned to `ref` one second at a time, so a player that shifts its timeline is
    scored on its audio, not on the shift. A player shifts by whole packets (it drops or
    inserts them), so only shifts by whole packets within 240 ms of the global alignment are
    tried: a finer search could lock onto a concealed pitch period one period off."""
    block, packet = rate, int(rate * PTIME)
    reach = 12 * packet
    a, b = ref.mean(axis=1), deg.mean(axis=1)
    padded = np.vstack([np.zeros((reach, deg.shape[1])), deg, np.zeros((reach, deg.shape[1]))])
    bp = padded.mean(axis=1)
    out = np.zeros_like(ref)
    for at in range(0, len(ref), block):
        seg = a[at:at + block]
        window = bp[at:at + len(seg) + 2 * reach]
        if len(window) < len(seg) + 2 * reach or not seg.any():
            out[at:at + len(seg)] = deg[at:at + len(seg)]
            continue
        c = correlate(window, seg, mode="valid", method="fft")
        shift = max(range(0, 2 * reach + 1, packet), key=lambda k: c[k])
        out[at:at + len(seg)] = padded[at + shift:at + shift + len(seg)]
    return out


def log_spectral_distance(ref, deg, rate):
    deg = align_blocks(ref, deg, rate)
    n = 2048
    values = []
    for c in range(ref.shape[1]):
        f, _, r = stft(ref[:, c], rate, "hann", n, n // 2, boundary=None, padded=False,
                       scaling="spectrum")
        _, _, d = stft(deg[:, c], rate, "hann", n, n // 2, boundary=None, padded=False,
                       scaling="spectrum")
        band = (f >= 20) & (f <= 20000)
        pr = np.maximum(np.abs(r[band]) ** 2, 1e-9)
        pd = np.maximum(np.abs(d[band]) ** 2, 1e-9)
        frame_db = 10 * np.log10(np.maximum(np.sum(np.abs(r) ** 2, axis=0), 1e-30))
        active = frame_db > -60
        per_frame = np.sqrt(np.mean((10 * np.log10(pr / pd)) ** 2, axis=0))
        values.append(per_frame[active])
    return float(np.mean(np.concatenate(values)))


def score(name, ref, deg, rate):
    if name == "speech":
        from pesq import pesq
        try:
            return float(pesq(rate, ref[:, 0], deg[:, 0], "wb"))
        except Exception as e:  # the pesq package raises on output it cannot score
            print(f"  pesq failed: {e}", file=sys.stderr)
            return float("nan")
    return log_spectral_distance(ref, deg, rate)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--players", default=",".join(PLAYERS))
    ap.add_argument("--signals", default="speech,music")
    ap.add_argument("--losses", default=",".join(LOSSES))
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--bin", default="target/release/jitterplay")
    ap.add_argument("--offline", action="store_true")
    ap.add_argument("--keep", help="directory to keep captures and outputs in")
    ap.add_argument("--rescore", metavar="DIR",
                    help="score the outputs a run kept in DIR (--keep) again; plays nothing")
    args = ap.parse_args()
    if args.rescore:
        args.keep = args.rescore
    players = ["jitterplay"] if args.offline else args.players.split(",")
    tools = {"gstreamer": "gst-launch-1.0", "ffmpeg": "ffmpeg"}
    for tool in ["espeak-ng", "ffmpeg"] + [tools[p] for p in players if p in tools]:
        if shutil.which(tool) is None:
            sys.exit(f"conceal_quality.py: {tool} is required (see the header)")
    work = args.keep or tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    results = {}
    for name, rate, channels, pcm in make_signals(work, args.signals.split(",")):
        ref = pcm.astype(np.float64) / 32768.0
        packets = rtp_packets(pcm, rate)
        ref = ref[:len(packets) * int(rate * PTIME)]
        for loss in args.losses.split(","):
            lost = lost_packets(loss, len(packets), args.seed)
            kept = [(i, p) for i, p in enumerate(packets) if i not in lost]
            pcap = f"{work}/{name}-{loss}.pcap"
            write_pcap(pcap, kept, 5004)
            for player in players:
                out = f"{work}/{name}-{loss}-{player}.wav"
                if args.rescore:
                    stats_file = out[:-4] + ".stats.jsonl"
                    stats = last_stats(stats_file) if os.path.exists(stats_file) else None
                elif args.offline:
                    stats = offline(args, rate, channels, pcap, out, work)
                else:
                    stats = receive(player, args, rate, channels, kept, out, work)
                deg = align(ref, read_float(out, channels))
                s = score(name, ref, deg, rate)
                results[(name, loss, player)] = s
                how = ""
                if stats:
                    how = (" concealed {:.0f} ms (pitch {:.0f}, fade {:.0f}, noise {:.0f}),"
                           " underruns {}").format(
                        stats.get("concealed_ms", 0), stats.get("concealed_pitch_ms", 0),
                        stats.get("concealed_fade_ms", 0), stats.get("concealed_noise_ms", 0),
                        stats.get("underruns", "?"))
                print(f"{name:<7} {loss:<9} {player:<11} lost {len(lost):>3}/{len(packets)} "
                      f"score {s:.3f}{how}", flush=True)
    print()
    print("| signal (score) | loss | " + " | ".join(players) + " |")
    print("|---|---|" + "---|" * len(players))
    for name in args.signals.split(","):
        unit = "PESQ-WB, higher is better" if name == "speech" else "LSD dB, lower is better"
        for loss in args.losses.split(","):
            cells = [results.get((name, loss, p)) for p in players]
            text = ["n/a" if v is None else (f"{v:.2f}") for v in cells]
            print(f"| {name} ({unit}) | {loss} | " + " | ".join(text) + " |")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
