#!/usr/bin/env python3
"""Writes assets/srtp-call.pcap: a SIP call whose media is SDES-keyed SRTP, encrypted by
libsrtp through PyPI's pylibsrtp (a build independent of Debian's libsrtp that jitterplay
links), and assets/srtp-call-a.ulaw, the plaintext G.711 mu-law audio the caller sent.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pylibsrtp==1.0.0
    /tmp/venv/bin/python scripts/make_srtp_call.py

The call (10.0.0.1 calls 10.0.0.2):
  0.000 s  INVITE with an SDP offering RTP/SAVP PCMU on 10.0.0.1:40000 with two a=crypto
           lines: an F8 suite jitterplay does not speak, then AES_CM_128_HMAC_SHA1_80 (key A)
  0.050 s  200 OK answering RTP/SAVP PCMU on 10.0.0.2:50000 with AEAD_AES_128_GCM (key B)
  0.100 s  2 s of PCMU each way in 20 ms packets, each side encrypting with the key it
           offered; the caller's audio is the first 2 s of assets/speech-48k-mono.wav taken
           to 8 kHz by keeping every sixth sample, the callee's the next 2 s
  1.000 s  an SRTCP sender report from each side (RTCP on port + 1)
  then     from the caller: its 10th packet again (a replay) and one more packet with a
           flipped bit (a forgery)
Deterministic: fixed keys, SSRCs, sequence numbers and timestamps.
"""
import base64
import struct
import wave
from pathlib import Path

from pylibsrtp import Policy, Session

ROOT = Path(__file__).resolve().parent.parent
KEY_A = bytes(range(1, 31))  # AES_CM_128_HMAC_SHA1_80: 16-byte key + 14-byte salt
KEY_B = bytes(range(101, 129))  # AEAD_AES_128_GCM: 16-byte key + 12-byte salt
CALLER, CALLEE = ("10.0.0.1", 40000), ("10.0.0.2", 50000)


def mulaw(sample):
    """G.711 mu-law encoding of a 16-bit sample."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = 7
    for e in range(7, -1, -1):
        if magnitude & (0x4000 >> (7 - e)):
            exponent = e
            break
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def speech_ulaw(start_s, seconds):
    with wave.open(str(ROOT / "assets" / "speech-48k-mono.wav")) as w:
        frames = w.readframes(w.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)[::6]
    return bytes(mulaw(s) for s in samples[start_s * 8000:(start_s + seconds) * 8000])


def sdp(addr, port, session_id, cryptos):
    lines = [
        "v=0", f"o=- {session_id} 1 IN IP4 {addr}", "s=-", f"c=IN IP4 {addr}", "t=0 0",
        f"m=audio {port} RTP/SAVP 0", "a=rtpmap:0 PCMU/8000", "a=ptime:20",
    ] + [f"a=crypto:{i + 1} {c}" for i, c in enumerate(cryptos)]
    return "\r\n".join(lines) + "\r\n"


def sip(first_line, body, call_id="srtp-call-1@10.0.0.1"):
    head = [
        first_line, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1", "From: <sip:a@10.0.0.1>;tag=1",
        "To: <sip:b@10.0.0.2>", f"Call-ID: {call_id}", "CSeq: 1 INVITE",
        "Content-Type: application/sdp", f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def rtp(seq, ts, ssrc, payload, marker=False):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0), seq, ts, ssrc) + payload


def sender_report(ssrc, ntp, ts, packets, octets):
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, ntp >> 32, ntp & 0xFFFFFFFF, ts, packets, octets)


def ip_checksum(header):
    total = sum(struct.unpack("!10H", header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def frame(src, dst, payload):
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes(map(int, src[0].split("."))), bytes(map(int, dst[0].split("."))))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp


def session(key, profile):
    return Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))


def main():
    a_audio, b_audio = speech_ulaw(0, 2), speech_ulaw(2, 2)
    offer = sdp(CALLER[0], CALLER[1], 1, [
        f"1 F8_128_HMAC_SHA1_80 inline:{base64.b64encode(bytes(30)).decode()}",
        f"AES_CM_128_HMAC_SHA1_80 inline:{base64.b64encode(KEY_A).decode()}",
    ])
    # The first line's tag is written by sdp(); keep the tags 1 and 2.
    offer = offer.replace("a=crypto:1 1 F8", "a=crypto:1 F8")
    answer = sdp(CALLEE[0], CALLEE[1], 2, [f"AEAD_AES_128_GCM inline:{base64.b64encode(KEY_B).decode()}"])
    packets = [
        (0.000, ("10.0.0.1", 5060), ("10.0.0.2", 5060), sip("INVITE sip:b@10.0.0.2 SIP/2.0", offer)),
        (0.050, ("10.0.0.2", 5060), ("10.0.0.1", 5060), sip("SIP/2.0 200 OK", answer)),
    ]
    tx_a = session(KEY_A, Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    tx_b = session(KEY_B, Policy.SRTP_PROFILE_AEAD_AES_128_GCM)
    sent_a = []
    for i in range(100):
        at = 0.100 + 0.020 * i
        a = tx_a.protect(rtp(1000 + i, 16000 + 160 * i, 0x11111111, a_audio[160 * i:160 * (i + 1)], i == 0))
        b = tx_b.protect(rtp(5000 + i, 90000 + 160 * i, 0x22222222, b_audio[160 * i:160 * (i + 1)], i == 0))
        sent_a.append(a)
        packets.append((at, CALLER, CALLEE, a))
        packets.append((at + 0.003, CALLEE, CALLER, b))
        if i == 45:
            ntp = (3_900_000_000 << 32)
            for (tx, ssrc, src, dst, ts) in [(tx_a, 0x11111111, CALLER, CALLEE, 16000 + 160 * i),
                                             (tx_b, 0x22222222, CALLEE, CALLER, 90000 + 160 * i)]:
                sr = tx.protect_rtcp(sender_report(ssrc, ntp, ts, i + 1, 160 * (i + 1)))
                packets.append((at + 0.010, (src[0], src[1] + 1), (dst[0], dst[1] + 1), sr))
    packets.append((2.110, CALLER, CALLEE, sent_a[9]))
    forged = bytearray(tx_a.protect(rtp(1100, 16000 + 160 * 100, 0x11111111, bytes([0xFF]) * 160)))
    forged[20] ^= 0x01
    packets.append((2.120, CALLER, CALLEE, bytes(forged)))
    packets.sort(key=lambda p: p[0])
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    base = 1_764_000_000
    for at, src, dst, payload in packets:
        f = frame(src, dst, payload)
        usec = round(at * 1_000_000)
        out += struct.pack("<IIII", base + usec // 1_000_000, usec % 1_000_000, len(f), len(f)) + f
    (ROOT / "assets" / "srtp-call.pcap").write_bytes(out)
    (ROOT / "assets" / "srtp-call-a.ulaw").write_bytes(a_audio)


if __name__ == "__main__":
    main()
