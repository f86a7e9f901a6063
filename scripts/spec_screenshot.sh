#!/usr/bin/env bash
# Build the living documentation page (`mandate-rules spec`) for this repository and take a
# screenshot of its top with headless Chromium, to docs/spec-report.png.
#
#   scripts/spec_screenshot.sh            # uses .venv/bin/mandate-rules, else the one on PATH
#
# The page is written to a temporary folder and removed afterwards. Exits with the status of
# `mandate-rules spec` when nothing could be run (2), else 0 once the screenshot is taken, and
# says so when a scenario failed (the screenshot then shows the failures).
set -uo pipefail
cd "$(dirname "$0")/.."

exe=.venv/bin/mandate-rules
[ -x "$exe" ] || exe=$(command -v mandate-rules) || { echo "mandate-rules is not installed" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser) \
  || { echo "chromium is not installed (apt-get install -y chromium)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$exe" spec --out "$work/spec-report.html"
status=$?
if [ "$status" -ge 2 ] || [ ! -f "$work/spec-report.html" ]; then
  exit "$status"
fi
[ "$status" -eq 0 ] || echo "some scenarios failed; the screenshot shows the page as it is" >&2

"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1280,2400 \
  --screenshot="$PWD/docs/spec-report.png" "file://$work/spec-report.html" 2>/dev/null
test -s docs/spec-report.png || { echo "chromium wrote no screenshot" >&2; exit 2; }
echo "wrote docs/spec-report.png"
