#!/usr/bin/env bash
# Decode+convert throughput: `jitterplay play --fast --output null` beside `ffmpeg -f null`,
# on the same long FLAC and MP3 files, in one run. Prints seconds (best of N) and the ratio.
#
#   bash benches/compare.sh [runs]      (default 5 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
command -v ffmpeg >/dev/null || { echo "compare.sh: ffmpeg is required" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/jitterplay
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# About 3 minutes of audio each, so process start-up does not dominate.
ffmpeg -v error -stream_loop 29 -i assets/music-48k-stereo.flac -c:a flac "$work/long.flac"
ffmpeg -v error -stream_loop 29 -i assets/music-44k-stereo.mp3 -c:a libmp3lame -b:a 192k "$work/long.mp3"

best_of() { # best wall time in seconds of "$@" over $runs runs
  local best=""
  for _ in $(seq "$runs"); do
    local t0 t1 dt
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    dt=$(awk "BEGIN { print $t1 - $t0 }")
    if [ -z "$best" ] || awk "BEGIN { exit !($dt < $best) }"; then best=$dt; fi
  done
  printf '%.3f' "$best"
}

printf '%-6s %-8s %12s %12s %8s\n' file audio_s jitterplay_s ffmpeg_s ratio
for f in "$work/long.flac" "$work/long.mp3"; do
  audio=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
  ours=$(best_of "$bin" play --quiet --fast --output null "$f")
  theirs=$(best_of ffmpeg -v error -i "$f" -f null -)
  printf '%-6s %-8.1f %12s %12s %8.2f\n' "${f##*.}" "$audio" "$ours" "$theirs" "$(awk "BEGIN { print $ours / $theirs }")"
done
