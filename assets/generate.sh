#!/usr/bin/env bash
# Regenerates every bundled sample in assets/ from scratch.
#
#   bash assets/generate.sh          (from any directory)
#
# Needs: ffmpeg (with the flac, libmp3lame and libvorbis encoders), sox,
# espeak-ng, python3 (standard library only). Nothing is random: with the same
# tool versions the output is byte-for-byte identical. The versions used for the
# committed files are listed in assets/README.md.
set -euo pipefail

ASSETS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "generate.sh: $*" >&2; exit 1; }

for tool in ffmpeg ffprobe sox espeak-ng python3; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "'$tool' not found; install it (Debian: apt-get install ffmpeg sox espeak-ng python3)"
done
encoders="$(ffmpeg -hide_banner -encoders 2>/dev/null)"
for enc in flac libmp3lame libvorbis pcm_s16le; do
    grep -qw "$enc" <<<"$encoders" || die "ffmpeg lacks the '$enc' encoder"
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Flags that keep encoder versions, dates and random stream serials out of the files.
BITEXACT=(-fflags +bitexact -flags:a +bitexact -map_metadata -1 -map_chapters -1)

# Slowest but smallest FLAC settings (still deterministic); Cholesky LPC with
# several passes saves ~25 % on the 24-bit file.
FLAC=(-c:a flac -compression_level 12 -frame_size 1152 -lpc_type cholesky -lpc_passes 4
      -exact_rice_parameters 1)

# enc INPUT OUTPUT [ffmpeg output options...]
enc() {
    local in="$1" out="$2"
    shift 2
    ffmpeg -nostdin -hide_banner -v error -y -i "$in" "${BITEXACT[@]}" "$@" "$ASSETS/$out"
}

rm -f "$ASSETS"/*.wav "$ASSETS"/*.flac "$ASSETS"/*.mp3 "$ASSETS"/*.ogg

# ---------------------------------------------------------------- speech
SPEECH_TEXT="This is jitterplay. Packets may arrive late, early, or not at all."
espeak-ng -v en-us -s 165 -w "$TMP/speech-raw.wav" "$SPEECH_TEXT"
# Trim espeak's leading/trailing silence (10 ms lead-in, 50 ms tail remain),
# resample with sox's very-high-quality rate, normalise the peak to -3 dBFS.
# -D: no dither, -R: repeatable, so the output is deterministic.
speech_master() { # RATE BITS OUT
    sox -R -D "$TMP/speech-raw.wav" -b "$2" "$3" \
        silence 1 0.005 0.5% reverse silence 1 0.005 0.5% reverse pad 0.01 0.05 \
        rate -v "$1" norm -3
}
speech_master 48000 16 "$TMP/speech-48k-16.wav"
speech_master 44100 24 "$TMP/speech-44k-24.wav"

enc "$TMP/speech-48k-16.wav" speech-48k-mono.wav -c:a pcm_s16le
enc "$TMP/speech-48k-16.wav" speech-48k-mono.flac -c:a flac -compression_level 12
enc "$TMP/speech-44k-24.wav" speech-44k-mono.mp3 -c:a libmp3lame -b:a 64k \
    -id3v2_version 0 -write_id3v1 0

# ----------------------------------------------------------------- music
python3 "$ASSETS/synth_music.py" "$TMP"

enc "$TMP/music-48k-stereo-16.wav" music-48k-stereo.flac "${FLAC[@]}"
enc "$TMP/music-44k-stereo-24.wav" music-44k-stereo.mp3 -c:a libmp3lame -b:a 112k \
    -id3v2_version 0 -write_id3v1 0
enc "$TMP/music-44k-stereo-24.wav" music-44k-stereo.ogg -c:a libvorbis -q:a 4
enc "$TMP/music-48k-mono-24.wav" music-48k-mono.ogg -c:a libvorbis -q:a 3
# 24-bit FLAC: the first 1.5 s only (the whole piece at 24 bit would be ~1.8x the 16-bit FLAC),
# with a 20 ms fade-out so it does not end on a discontinuity.
enc "$TMP/music-44k-stereo-24.wav" music-44k-stereo-24bit.flac "${FLAC[@]}" \
    -sample_fmt s32 -bits_per_raw_sample 24 \
    -af "atrim=end_sample=66150,afade=t=out:start_sample=65268:nb_samples=882"

# ---------------------------------------------------------------- verify
echo "file                          bytes    seconds  rate   ch  codec      peak(dBFS)"
for f in "$ASSETS"/*.wav "$ASSETS"/*.flac "$ASSETS"/*.mp3 "$ASSETS"/*.ogg; do
    ffmpeg -nostdin -v error -i "$f" -f null - || die "$f does not decode cleanly"
    read -r codec rate ch < <(ffprobe -v error -select_streams a:0 \
        -show_entries stream=codec_name,sample_rate,channels -of csv=p=0 "$f" | tr ',' ' ')
    dur="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")"
    ffmpeg -nostdin -v error -y -i "$f" -c:a pcm_f32le "$TMP/check.wav"
    peak="$(sox "$TMP/check.wav" -n stat 2>&1 | awk '
        /Maximum amplitude/ {mx=$3} /Minimum amplitude/ {mn=-$3}
        END {p = (mx > mn ? mx : mn); printf "%.2f", 20*log(p)/log(10)}')"
    awk -v p="$peak" -v f="$f" 'BEGIN { if (p + 0 >= -0.01) { print "generate.sh: " f " clips" > "/dev/stderr"; exit 1 } }'
    printf '%-28s %8d %8.3f  %-6s %-3s %-10s %s\n' "$(basename "$f")" "$(stat -c %s "$f")" \
        "$dur" "$rate" "$ch" "$codec" "$peak"
done
du -ch "$ASSETS"/*.wav "$ASSETS"/*.flac "$ASSETS"/*.mp3 "$ASSETS"/*.ogg | tail -n 1
