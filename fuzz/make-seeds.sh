#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (see fuzz/corpus/README.md).
#
# Needs python3 (standard library only) and ffmpeg (for the file_decode seeds). Every seed is
# small (at most a few kilobytes) and derived from the repository's own test data or made here;
# the output is deterministic for a given ffmpeg version. Existing seeds of the same name are
# overwritten; nothing else in the corpus directories is touched.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="$root/fuzz/corpus"
mkdir -p "$corpus"/{rtp_packet,receive_core,sdp,capture,file_decode}

# --- file_decode: tiny audio files, 8 kHz mono tones of 50-100 ms, metadata stripped -----------
tone() { # duration rate channels -> lavfi input arguments
  echo "-f lavfi -i sine=frequency=440:sample_rate=$2:duration=$1 -ac $3"
}
enc() { # name duration rate channels ffmpeg-output-arguments...
  local name=$1 dur=$2 rate=$3 ch=$4
  shift 4
  # shellcheck disable=SC2046
  ffmpeg -hide_banner -loglevel error -y $(tone "$dur" "$rate" "$ch") -map_metadata -1 \
    -fflags +bitexact -flags:a +bitexact "$@" "$corpus/file_decode/$name"
}
if command -v ffmpeg > /dev/null; then
  enc s16le-8k-mono.wav 0.05 8000 1 -c:a pcm_s16le -f wav
  enc f32le-8k-stereo.wav 0.02 8000 2 -c:a pcm_f32le -f wav
  enc ulaw-8k-mono.wav 0.05 8000 1 -c:a pcm_mulaw -f wav
  enc ima-adpcm-8k-mono.wav 0.1 8000 1 -c:a adpcm_ima_wav -f wav
  enc s16be-8k-mono.aiff 0.05 8000 1 -c:a pcm_s16be -f aiff
  enc flac-8k-mono.flac 0.1 8000 1 -c:a flac -f flac
  enc flac-8k-mono.mka 0.1 8000 1 -c:a flac -f matroska
  enc alac-8k-mono.caf 0.1 8000 1 -c:a alac -f caf
  enc alac-8k-mono.m4a 0.1 8000 1 -c:a alac -f ipod
  enc aac-8k-mono.m4a 0.2 8000 1 -c:a aac -b:a 16k -f ipod
  enc aac-8k-mono.adts 0.2 8000 1 -c:a aac -b:a 16k -f adts
  enc mp3-8k-mono.mp3 0.2 8000 1 -c:a libmp3lame -b:a 8k -write_xing 0 -id3v2_version 0 -f mp3
  enc vorbis-8k-mono.ogg 0.1 8000 1 -c:a libvorbis -q:a 0 -f ogg
else
  echo "ffmpeg not found: file_decode seeds other than the MPEG audio test data skipped" >&2
fi
cp "$root/src/codec/testdata/tone-44k1-stereo.mp3" "$corpus/file_decode/tone-44k1-stereo.mp3"
cp "$root/src/codec/testdata/tone-48k-mono.mp2" "$corpus/file_decode/tone-48k-mono.mp2"

# ffmpeg's FLAC muxer reserves 8 KB of PADDING metadata: drop it to keep the seed small.
python3 - "$corpus/file_decode/flac-8k-mono.flac" << 'PYTHON'
import sys
from pathlib import Path

path = Path(sys.argv[1])
if path.exists():
    b = path.read_bytes()
    assert b[:4] == b"fLaC"
    blocks, off, last = [], 4, False
    while not last:
        last, kind, n = b[off] >> 7, b[off] & 0x7F, int.from_bytes(b[off + 1:off + 4], "big")
        blocks.append((kind, b[off + 4:off + 4 + n]))
        off += 4 + n
    blocks = [(k, body) for k, body in blocks if k != 1]
    out = bytearray(b"fLaC")
    for i, (k, body) in enumerate(blocks):
        out += bytes([k | (0x80 if i == len(blocks) - 1 else 0)]) + len(body).to_bytes(3, "big") + body
    path.write_bytes(out + b[off:])
PYTHON

# --- everything else: built from tests/data and src test data by a Python script -------------
python3 - "$root" << 'PYTHON'
import re
import struct
import sys
from pathlib import Path

root = Path(sys.argv[1])
corpus = root / "fuzz" / "corpus"
data = root / "tests" / "data"


def write(target, name, payload):
    (corpus / target / name).write_bytes(bytes(payload))


# ---------------------------------------------------------------- captures and their packets
def pcap_records(path):
    """(global header, link type, [(record header, frame)]) of a little-endian microsecond pcap."""
    b = path.read_bytes()
    assert b[:4] == bytes.fromhex("d4c3b2a1"), path
    link = struct.unpack("<I", b[20:24])[0]
    records, off = [], 24
    while off + 16 <= len(b):
        incl = struct.unpack("<I", b[off + 8:off + 12])[0]
        records.append((b[off:off + 16], b[off + 16:off + 16 + incl]))
        off += 16 + incl
    return b[:24], link, records


def udp_payload(link, frame):
    """The UDP payload of an Ethernet or Linux-cooked IPv4 frame, else None."""
    if link == 1:
        off, ethertype = 14, frame[12:14]
        if ethertype == b"\x81\x00":
            off, ethertype = 18, frame[16:18]
    elif link == 113:
        off, ethertype = 16, frame[14:16]
    else:
        return None
    if ethertype != b"\x08\x00" or len(frame) < off + 20:
        return None
    ihl = (frame[off] & 0x0F) * 4
    if frame[off + 9] != 17:
        return None
    return frame[off + ihl + 8:]


def rtp_pt(p):
    return p[1] & 0x7F if p and len(p) >= 12 and p[0] >> 6 == 2 else None


def pcap_of(header, records):
    return header + b"".join(h + f for h, f in records)


caps = {name: pcap_records(data / name) for name in
        ["sip-rtp-g711.pcap", "nb6-telephone.pcap", "g711a.pcap", "sip-rtp-opus.pcap",
         "ulaw-2013785496.pcap"]}

# The first records of each real capture: SIP with SDP, then the first RTP packets.
for name, n in [("sip-rtp-g711.pcap", 12), ("nb6-telephone.pcap", 14), ("g711a.pcap", 6),
                ("sip-rtp-opus.pcap", 12)]:
    header, _, records = caps[name]
    write("capture", "head-" + name, pcap_of(header, records[:n]))

# Linux cooked capture: a few PCMU packets, then the first telephone events.
header, link, records = caps["ulaw-2013785496.pcap"]
events = [i for i, (_, f) in enumerate(records) if rtp_pt(udp_payload(link, f)) == 101]
picked = records[:4] + records[events[0] - 1:events[0] + 5]
write("capture", "sll-events-ulaw.pcap", pcap_of(header, picked))
# The same records with a truncated last record.
write("capture", "truncated-ulaw.pcap", pcap_of(header, picked)[:-37])

# pcapng from the head of g711a.pcap: SHB, IDB with if_tsresol=9 (ns), EPBs, one SPB.
def block(kind, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)

header, link, records = caps["g711a.pcap"]
ng = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
ng += block(1, struct.pack("<HHI", link, 0, 65535) + struct.pack("<HHB3x", 9, 1, 9) + b"\0" * 4)
for rh, frame in records[:5]:
    sec, usec = struct.unpack("<II", rh[:8])
    t = sec * 1_000_000_000 + usec * 1000
    ng += block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(frame), len(frame)) + frame)
ng += block(3, struct.pack("<I", len(records[5][1])) + records[5][1])
write("capture", "g711a-ns.pcapng", ng)

# Synthetic pcap records on other link types and shapes: IPv6 raw IP, BSD loopback, VLAN,
# Linux cooked v2, IPv4 fragments, RTCP.
def rtp(pt, seq, ts, ssrc, payload, marker=False):
    return struct.pack(">BBHII", 0x80, pt | (0x80 if marker else 0), seq, ts, ssrc) + payload

def ipv4(src, dst, proto, payload, ident=1, frag=0):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                    bytes(src), bytes(dst))
    return h + payload

def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload

def ipv6_udp(sport, dport, payload):
    src = bytes.fromhex("fd000000000000000000000000000001")
    dst = bytes.fromhex("fd000000000000000000000000000002")
    u = udp(sport, dport, payload)
    return struct.pack(">IHBB", 0x60000000, len(u), 17, 64) + src + dst + u

def pcap(link, frames, step_us=20_000):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link)
    for i, f in enumerate(frames):
        t = 1_700_000_000 * 1_000_000 + i * step_us
        out += struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(f), len(f)) + f
    return out

a, b = [10, 0, 0, 1], [10, 0, 0, 2]
pcmu = lambda k: bytes((i * 7 + k) & 0xFF for i in range(160))
sr = struct.pack(">BBHI", 0x80, 200, 6, 0x1234) + b"\0" * 20
sdes = struct.pack(">BBHI", 0x81, 202, 3, 0x1234) + b"\x01\x03abc\0\0\0"
bye = struct.pack(">BBHI", 0x81, 203, 1, 0x1234)
write("capture", "rawip-ipv6.pcap", pcap(101, [
    ipv6_udp(4000, 5004, rtp(0, (65534 + k) & 0xFFFF, 160 * k, 0x1234, pcmu(k))) for k in range(4)]))
write("capture", "null-loopback.pcap", pcap(0, [
    struct.pack("<I", 2) + ipv4(a, b, 17, udp(4000, 5004, rtp(8, k, 160 * k, 0x99, pcmu(k))))
    for k in [0, 1, 3, 2, 2]]))
eth = lambda ip: b"\x02" * 6 + b"\x04" * 6 + b"\x81\x00\x00\x05\x08\x00" + ip
write("capture", "vlan-rtcp.pcap", pcap(1, [
    eth(ipv4(a, b, 17, udp(4000, 5004, rtp(0, k, 160 * k, 0x1234, pcmu(k))))) for k in range(3)]
    + [eth(ipv4(a, b, 17, udp(4001, 5005, sr + sdes + bye)))]))
sll2 = lambda ip: struct.pack(">HHIHBB8s", 0x0800, 0, 1, 1, 4, 6, b"\2" * 8) + ip
big = udp(4000, 5004, rtp(96, 7, 0, 0x42, bytes(range(256)) * 6))
frags = [ipv4(a, b, 17, big[:800], ident=9, frag=0x2000), ipv4(a, b, 17, big[800:], ident=9, frag=100)]
write("capture", "sll2-fragments.pcap", pcap(276, [sll2(f) for f in frags[::-1]]))

# rtpdump: the real file, and a short synthetic one.
write("capture", "bark.rtp", (data / "bark.rtp").read_bytes())
dump = b"#!rtpplay1.0 10.0.0.2/5004\n" + b"\0" * 16
for k in range(4):
    p = rtp(0, k, 160 * k, 0x77, pcmu(k)[:40])
    dump += struct.pack(">HHI", 8 + len(p), len(p), 20 * k) + p
dump += struct.pack(">HHI", 8 + len(sr), 0, 90) + sr
write("capture", "synthetic.rtpdump", dump)

# ----------------------------------------------------------------------- single RTP packets
bark = (data / "bark.rtp").read_bytes()
first = bark.index(b"\n") + 1 + 16
length, plen = struct.unpack(">HH", bark[first:first + 4])
write("rtp_packet", "pcmu-bark.bin", bark[first + 8:first + 8 + plen])
header, link, records = caps["g711a.pcap"]
write("rtp_packet", "pcma-g711a.bin", udp_payload(link, records[0][1]))
header, link, records = caps["ulaw-2013785496.pcap"]
write("rtp_packet", "telephone-event.bin", udp_payload(link, records[events[0]][1]))
l16 = b"".join(struct.pack(">hh", 1000 * i, -1000 * i) for i in range(8))
write("rtp_packet", "l16-stereo.bin", rtp(96, 1, 0, 0xABCD, l16))
# CSRCs, a header extension and padding.
ext = struct.pack(">HH", 0xBEDE, 1) + b"\x10\xAA\0\0"
write("rtp_packet", "csrc-ext-padding.bin",
      struct.pack(">BBHII", 0xB2, 97, 9, 480, 0xABCD) + struct.pack(">II", 1, 2) + ext
      + bytes(range(12)) + b"\0\0\x03")
fragments, off = [], 0
blob = (root / "src/codec/testdata/ffmpeg-rtp-mp3-fragments.bin").read_bytes()
while off + 2 <= len(blob):
    n = struct.unpack("<H", blob[off:off + 2])[0]
    fragments.append(blob[off + 2:off + 2 + n])
    off += 2 + n
write("rtp_packet", "mpa-mp3-fragment-first.bin", rtp(14, 0, 0, 0x1, fragments[0]))
write("rtp_packet", "mpa-mp3-fragment-middle.bin", rtp(14, 1, 0, 0x1, fragments[1]))
mp2 = (root / "src/codec/testdata/tone-48k-mono.mp2").read_bytes()
write("rtp_packet", "mpa-mp2-two-frames.bin", rtp(14, 0, 0, 0x1, b"\0" * 4 + mp2[:384]))
write("rtp_packet", "l24-mono.bin", rtp(97, 3, 3, 3, bytes(range(30))))

# ------------------------------------------------------------------------------------- SDP
tests = (root / "src/rtp/sdp/tests.rs").read_text()
for name, body in re.findall(r'const ([A-Z0-9_]+): &str = "(.*?)";\n', tests, re.S):
    text = body.replace("\\r", "\r").replace("\\n", "\n").replace('\\"', '"')
    write("sdp", name.lower() + ".sdp", text.encode())
# The SDP body of the first SIP message with one in sip-rtp-g711.pcap.
header, link, records = caps["sip-rtp-g711.pcap"]
for _, frame in records:
    p = udp_payload(link, frame)
    if p and b"\r\n\r\nv=0" in p:
        write("sdp", "sip-body.sdp", p[p.index(b"\r\n\r\nv=0") + 4:])
        break

# --------------------------------------------------- receive_core programs (src/fuzzing.rs)
class Program:
    """Writes a receive_core program; see `receive_core` in src/fuzzing.rs for the format."""

    def __init__(self, setup, window, events=False, learn_pt=False, ring=False):
        self.b = bytearray([setup | window << 3 | events << 5 | learn_pt << 6 | ring << 7])

    def packet(self, frames4=40, dt=20, move=0, arg=0, marker=False, pt=None, ssrc=0,
               seq_ts=None, payload=None):
        flags = marker | (3 << 1 if pt is not None else 0) | min(ssrc, 3) << 3 | move << 5
        if seq_ts is not None:
            flags = flags & 0x1F | 6 << 5
        length = len(payload) if payload is not None else frames4
        self.b += bytes([6 if payload is not None else 0, flags, arg, length, dt])
        if pt is not None:
            self.b.append(pt)
        if ssrc >= 3:
            self.b += struct.pack(">I", ssrc)
        if seq_ts is not None:
            self.b += struct.pack(">HI", *seq_ts)
        if payload is not None:
            self.b += payload
        return self

    def raw(self, datagram):
        self.b += bytes([7, len(datagram)]) + datagram
        return self

    def tick(self, dt, ring):
        self.b += bytes([8, dt, ring])
        return self

    def timer(self):
        self.b.append(9)
        return self

    def produce(self, want):
        self.b += bytes([10, want])
        return self

    def jump(self, seconds):
        self.b += bytes([12, seconds])
        return self

    def underrun(self):
        self.b.append(13)
        return self

    def finish(self):
        self.b.append(14)
        return self

    def period(self, dt=0):
        self.b += bytes([15, dt])
        return self


L16_48K_STEREO, PCMU_8K, L16_TO_44K1, PCMU_TO_48K, PCMA_8K, L24_MONO, MPA, L16_8K = range(8)
LOW, MID, ZERO, DEFAULT = range(4)

# Steady 20 ms L16 stereo with a loss and a late packet, played bit-exact.
p = Program(L16_48K_STEREO, LOW)
for k in range(50):
    if k == 20:
        p.packet(frames4=240, move=4, arg=1).timer()
    elif k == 30:
        p.packet(frames4=240, move=3, arg=3)
    else:
        p.packet(frames4=240)
    p.period()
write("receive_core", "l16-steady-loss-late.bin", p.finish().b)

# A G.711 call with events, comfort noise, reordering, duplicates, an SSRC change and a wrap.
p = Program(PCMU_8K, MID, events=True)
for k in range(90):
    if k == 10:
        p.packet(pt=101, frames4=1)
    elif k == 15:
        p.packet(pt=13, frames4=1)
    elif k == 20:
        p.packet(move=3, arg=1)
    elif k == 25:
        p.packet(move=5)
    elif k == 40:
        p.packet(ssrc=1, move=6, seq_ts=(65530, 0xFFFFFF00), marker=True)
    elif k == 50:
        p.packet(move=4, arg=2).timer()
    elif k == 60:
        p.packet(ssrc=0x0BADCAFE, move=6, seq_ts=(100, 5))
    else:
        p.packet(ssrc=1 if 40 <= k < 60 else (0x0BADCAFE if k > 60 else 0))
    p.period()
write("receive_core", "pcmu-call-events-restart-wrap.bin", p.finish().b)

# MPEG audio: ffmpeg's fragmented MP3 payloads, then whole MP2 frames.
p = Program(MPA, LOW)
for frag in fragments:
    p.packet(payload=frag, dt=9).period()
for k in range(5):
    p.packet(payload=b"\0" * 4 + mp2[192 * k:192 * (k + 1)], dt=24).period()
write("receive_core", "mpa-fragments-and-frames.bin", p.finish().b)

# Resampled to 44.1 kHz, zero target window, learnt PT, output ring; a pause and an underrun.
p = Program(L16_TO_44K1, ZERO, learn_pt=True, ring=True)
for k in range(40):
    p.packet(frames4=60, dt=5).period(0)
p.jump(3).underrun().tick(10, 0).produce(50)
for k in range(20):
    p.packet(frames4=60, dt=5).period(0)
write("receive_core", "l16-resampled-zero-window-pause.bin", p.finish().b)

# The default 3-5 s window: prebuffering, then finish and drain.
p = Program(PCMA_8K, DEFAULT)
for k in range(180):
    p.packet(dt=20 if k % 7 else 45).period()
write("receive_core", "pcma-default-window-drain.bin", p.finish().b)

# Raw datagrams: real packets and malformed ones, upsampled PCMU.
p = Program(PCMU_TO_48K, LOW)
p.raw(bark[first + 8:first + 8 + plen][:200])
for bad in [b"\x80\x00\x00", b"\x40" + b"\0" * 11, b"\xA0\x00" + b"\0" * 10 + b"\x05",
            b"\x8F\x00" + b"\0" * 14, b"\x90\x00" + b"\0" * 10 + b"\xBE\xDE\xFF\xFF"]:
    p.raw(bad)
for k in range(30):
    p.packet().period()
write("receive_core", "pcmu-raw-and-malformed.bin", p.finish().b)

# L24 mono to stereo: sequence and timestamp wraps, timestamp jumps with markers, a late
# packet, a sequence jump.
p = Program(L24_MONO, MID)
for k in range(60):
    if k == 0:
        p.packet(frames4=240, seq_ts=(65520, 0xFFFF0000))
    elif k % 15 == 7:
        p.packet(frames4=240, move=7, arg=3, marker=True)
    elif k == 33:
        p.packet(frames4=240, move=3, arg=10)
    elif k == 45:
        p.packet(frames4=240, seq_ts=(1000, 1 << 31))
    else:
        p.packet(frames4=240)
    p.period()
write("receive_core", "l24-jumps-late-wrap.bin", p.finish().b)

# Every operation once or more, with 8 kHz L16 and odd payload sizes.
p = Program(L16_8K, LOW, events=True)
for k in range(20):
    p.packet(frames4=k % 5 * 10 + 1, dt=k * 3 % 40).tick(k % 4, k * 11 % 200).produce(k * 13 % 120)
p.packet(payload=bytes(33)).packet(pt=7).underrun().jump(70).packet().period(20)
p.packet(move=4, arg=3).timer().timer().packet()
write("receive_core", "l16-8k-every-op.bin", p.b)
PYTHON

for t in rtp_packet receive_core sdp capture file_decode; do
  printf '%-13s %3d files %7d bytes\n' "$t" "$(find "$corpus/$t" -type f | wc -l)" \
    "$(find "$corpus/$t" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
done
