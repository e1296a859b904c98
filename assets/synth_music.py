#!/usr/bin/env python3
"""Deterministic synthesis of the jitterplay test "music" piece.

Usage: synth_music.py OUTDIR

Writes music-{44k,48k}-{stereo,mono}-{16,24}.wav into OUTDIR: the same
continuous-time score rendered natively at 44100 and 48000 Hz (no resampling),
each version peak-normalised to -3 dBFS and rounded (no dither) to 16 or 24 bit.

The score (6.5 s) is built so that dropouts, clicks and channel swaps are easy
to hear and so that cross-correlation alignment is unambiguous:
  * a chord progression with irregular chord lengths; within each chord the
    low voices sit left and the high voices right, plus a bass voice far left;
  * an exponential sine sweep 150 Hz -> 9 kHz from 0.6 s to 5.8 s, moving from
    left to right (never periodic, so no two windows of the piece look alike);
  * percussion at irregular, seeded onsets: kick (centre), snare (right of
    centre), hi-hat (left) and very short clicks hard left or hard right;
  * the first chord, a kick and a click all start at t < 10 ms.

Only the standard library is used; noise and onset jitter come from a fixed
xorshift32 generator, so the output depends only on this file (and libm's
sin/exp, which agree to the last bit on common platforms, far below 24-bit
resolution anyway).
"""

import math
import os
import struct
import sys
import wave

DURATION = 6.5
PEAK_DBFS = -3.0
TWO_PI = 2.0 * math.pi


class XorShift32:
    """Tiny deterministic PRNG (Marsaglia xorshift32)."""

    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFF or 1

    def next_u32(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def uniform(self):
        """Uniform in [-1, 1)."""
        return self.next_u32() / 2147483648.0 - 1.0


def midi_hz(n):
    return 440.0 * 2.0 ** ((n - 69) / 12.0)


def pan_gains(p):
    """Constant-power pan, p in [-1 (left), +1 (right)]."""
    a = (p + 1.0) * math.pi / 4.0
    return math.cos(a), math.sin(a)


# (start s, end s, MIDI notes low -> high). Irregular lengths on purpose.
CHORDS = [
    (0.00, 1.05, [48, 55, 60, 64]),       # C
    (1.05, 1.75, [45, 57, 60, 64]),       # Am
    (1.75, 2.95, [41, 57, 60, 64, 65]),   # Fmaj7
    (2.95, 3.65, [43, 55, 59, 62, 65]),   # G7
    (3.65, 4.65, [40, 55, 59, 64]),       # Em
    (4.65, 5.25, [38, 57, 60, 62, 65]),   # Dm7
    (5.25, 6.50, [36, 52, 60, 67, 72]),   # C (open voicing, different from the first)
]
HARMONICS = [1.0, 0.45, 0.22, 0.10]


def render(rate):
    n = int(round(DURATION * rate))
    left = [0.0] * n
    right = [0.0] * n

    def add(i0, samples, pan, gain):
        gl, gr = pan_gains(pan)
        gl *= gain
        gr *= gain
        for k, v in enumerate(samples):
            i = i0 + k
            if i >= n:
                break
            left[i] += gl * v
            right[i] += gr * v

    # --- chords -----------------------------------------------------------
    attack, release = 0.004, 0.060
    for c_start, c_end, notes in CHORDS:
        i0 = int(round(c_start * rate))
        length = c_end - c_start + release
        m = min(int(round(length * rate)), n - i0)
        for v, note in enumerate(notes):
            f = midi_hz(note)
            is_bass = v == 0
            pan = -0.85 if is_bass else -0.6 + 1.2 * (v - 1) / max(1, len(notes) - 2)
            gain = 0.16 if is_bass else 0.10
            out = [0.0] * m
            for k in range(m):
                t = k / rate
                if t < attack:
                    env = t / attack
                elif t > length - release:
                    env = max(0.0, (length - t) / release)
                else:
                    env = 1.0
                env *= 0.55 + 0.45 * math.exp(-t * 2.5)  # gentle decay
                s = 0.0
                ph = TWO_PI * f * t
                for h, a in enumerate(HARMONICS, 1):
                    if f * h < 0.45 * rate:
                        s += a * math.sin(h * ph)
                out[k] = env * s
            add(i0, out, pan, gain)

    # --- exponential sweep ------------------------------------------------
    s0, s1, f0, f1 = 0.6, 5.8, 150.0, 9000.0
    T = s1 - s0
    L = math.log(f1 / f0)
    i0 = int(round(s0 * rate))
    m = int(round(T * rate))
    gl_out, gr_out = [], []
    for k in range(m):
        t = k / rate
        ph = TWO_PI * f0 * T / L * (math.exp(t / T * L) - 1.0)
        env = min(1.0, t / 0.05, (T - t) / 0.05)
        v = 0.22 * env * math.sin(ph)
        gl, gr = pan_gains(-0.9 + 1.8 * t / T)
        left[i0 + k] += gl * v
        right[i0 + k] += gr * v

    # --- percussion ---------------------------------------------------------
    rng = XorShift32(0x4A495454)  # "JITT"

    def kick():
        m = int(0.25 * rate)
        out, ph = [], 0.0
        for k in range(m):
            t = k / rate
            f = 45.0 + 95.0 * math.exp(-t / 0.03)
            ph += TWO_PI * f / rate
            out.append(math.sin(ph) * math.exp(-t / 0.09))
        return out

    def snare(seed):
        r = XorShift32(seed)
        m = int(0.15 * rate)
        out = []
        for k in range(m):
            t = k / rate
            noise = 0.5 * r.uniform() * math.exp(-t / 0.008)
            out.append(noise + 0.6 * math.sin(TWO_PI * 190.0 * t) * math.exp(-t / 0.05))
        return out

    def hat():
        # Metallic hi-hat: inharmonic partials with a fast decay (tonal, so it
        # stays cheap for FLAC, unlike a noise burst).
        partials = (3150.0, 4730.0, 5660.0, 7020.0, 8310.0)
        m = int(0.04 * rate)
        out = []
        for k in range(m):
            t = k / rate
            s = sum(math.sin(TWO_PI * p * t + i) for i, p in enumerate(partials))
            out.append(0.35 * s * math.exp(-t / 0.008))
        return out

    def click():
        # Gaussian-derivative pulse, sigma 60 us: a sharp, rate-independent tick.
        sigma = 60e-6
        half = int(math.ceil(5 * sigma * rate))
        out = []
        for k in range(-half, half + 1):
            t = k / rate
            out.append(-(t / sigma) * math.exp(0.5 - 0.5 * (t / sigma) ** 2))
        return out, half

    kick_w = kick()
    hat_w = hat()
    click_w, click_half = click()

    def at(t):
        return int(round(t * rate))

    # Kicks: roughly on chord changes but jittered; first at 5 ms.
    t = 0.005
    while t < DURATION - 0.3:
        add(at(t), kick_w, 0.0, 0.55)
        t += 0.42 + 0.35 * (rng.next_u32() / 4294967296.0)
    # Snares: irregular.
    t = 0.37
    while t < DURATION - 0.2:
        add(at(t), snare(rng.next_u32()), 0.35, 0.35)
        t += 0.55 + 0.6 * (rng.next_u32() / 4294967296.0)
    # Hi-hats: irregular.
    t = 0.12
    while t < DURATION - 0.1:
        add(at(t), hat_w, -0.55, 0.5)
        t += 0.17 + 0.26 * (rng.next_u32() / 4294967296.0)
    # Clicks: hard left or hard right, irregular; first at 8 ms (left).
    t, side = 0.008, -1.0
    while t < DURATION - 0.05:
        add(at(t) - click_half, click_w, side, 0.6)
        side = -1.0 if rng.next_u32() & 1 else 1.0
        t += 0.25 + 0.5 * (rng.next_u32() / 4294967296.0)

    # --- final fade-out over the last 150 ms ----------------------------------
    fade = int(0.15 * rate)
    for k in range(fade):
        g = (fade - k) / fade
        left[n - fade + k] *= g
        right[n - fade + k] *= g
    return left, right


def normalise(chans):
    peak = max(max(abs(x) for x in c) for c in chans)
    g = 10.0 ** (PEAK_DBFS / 20.0) / peak
    return [[x * g for x in c] for c in chans]


def write_wav(path, chans, rate, bits):
    full = (1 << (bits - 1)) - 1
    n = len(chans[0])
    frames = bytearray()
    for i in range(n):
        for c in chans:
            v = int(round(c[i] * full))
            v = max(-full - 1, min(full, v))
            frames += struct.pack("<i", v)[: bits // 8]
    with wave.open(path, "wb") as w:
        w.setnchannels(len(chans))
        w.setsampwidth(bits // 8)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: synth_music.py OUTDIR")
    outdir = sys.argv[1]
    for rate, tag in ((44100, "44k"), (48000, "48k")):
        left, right = render(rate)
        stereo = normalise([left, right])
        mono = normalise([[0.5 * (a + b) for a, b in zip(left, right)]])
        for bits in (16, 24):
            write_wav(os.path.join(outdir, f"music-{tag}-stereo-{bits}.wav"), stereo, rate, bits)
            write_wav(os.path.join(outdir, f"music-{tag}-mono-{bits}.wav"), mono, rate, bits)


if __name__ == "__main__":
    main()
