#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages jitterplay needs. `demo` needs only the build
# dependencies (ALSA, libopus and libpcap headers, pkg-config) and libsrtp2, loaded when SRTP is used; `test` adds the audio server, the RTP
# peers the test suite drives (GStreamer also through its Python bindings, to attach rtpbin's
# RTX receiver; its "bad" plugins for srtpenc), tshark (Wireshark's RTP Streams figures that `streams` is compared with),
# Chromium (the dashboard's browser test, headless), iproute2 (the multicast tests' network
# namespaces) and
# the Prometheus server that scrapes `--metrics-listen`.
# Runs `apt-get update` when the package lists are empty, and uses sudo only when not root.
# The README's two set-up commands and .ci/run call this script, so they cannot drift apart.
set -euo pipefail
what=${1:-demo}
packages=(libasound2-dev libopus-dev libsrtp2-1 libpcap-dev pkg-config)
if [ "$what" = test ]; then
  packages+=(ffmpeg pulseaudio pulseaudio-utils libasound2-plugins
             gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
             gstreamer1.0-plugins-bad
             python3-gi gir1.2-gstreamer-1.0 tshark prometheus chromium
             iproute2 python3)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# tshark's package asks whether non-root users may capture; answer no instead of prompting.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ]; then
  $SUDO apt-get update -qq
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  # Stale lists (a package moved): refresh once and retry.
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
