#!/usr/bin/env bash
# Render a conformance report (index.html) in headless Chromium and save a PNG screenshot.
#
# usage: render_report_screenshot.sh REPORT_HTML OUT_PNG [WIDTH,HEIGHT]
#
# Uses Debian's chromium (apt-get install chromium; scripts/ensure_system_deps.sh installs it) with a fresh
# profile, no network-facing background services and no GPU. Exit 0 when the PNG was written, 2 on usage,
# 3 when chromium is not installed, 1 when it failed to produce the screenshot.
set -u
if [ $# -lt 2 ] || [ $# -gt 3 ]; then echo "usage: $0 REPORT_HTML OUT_PNG [WIDTH,HEIGHT]" >&2; exit 2; fi
html=$(readlink -f "$1"); out=$(readlink -f "$2"); size=${3:-1400,1800}
[ -f "$html" ] || { echo "$html does not exist" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 3; }
profile=$(mktemp -d); trap 'rm -rf "$profile"' EXIT
rm -f "$out"
timeout 90 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
  --hide-scrollbars --user-data-dir="$profile" --window-size="$size" --screenshot="$out" "file://$html" \
  >"$profile/chromium.log" 2>&1
status=$?
if [ ! -s "$out" ]; then
  echo "chromium (exit $status) wrote no screenshot; log:" >&2; tail -n 20 "$profile/chromium.log" >&2; exit 1
fi
echo "$out"
