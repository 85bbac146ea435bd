#!/usr/bin/env bash
# report_screenshot.sh: renders a flowers report.html in a real headless browser (Debian's
# chromium) into a PNG, to look at the page as a person would, and checks that a picture came out.
#   scripts/report_screenshot.sh RUN_DIR/report.html OUT.png [WIDTH [HEIGHT]]
# Exit 0 with "skipped: ..." when no chromium is installed (apt-get install chromium), so CI
# that lacks it does not fail; exit 1 when chromium runs but writes no PNG.
set -uo pipefail
report=${1:?usage: report_screenshot.sh REPORT.html OUT.png [WIDTH [HEIGHT]]}
out=${2:?usage: report_screenshot.sh REPORT.html OUT.png [WIDTH [HEIGHT]]}
width=${3:-1400}
height=${4:-1500}
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" > /dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
  echo "skipped: no chromium installed (apt-get install chromium) to take a screenshot of $report"
  exit 0
fi
[ -s "$report" ] || { echo "report_screenshot: $report: no such file" >&2; exit 1; }
abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
# --no-sandbox: CI containers often run as root, where chromium's sandbox refuses to start
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --window-size="$width,$height" --screenshot="$out" "file://$abs" > "$profile/log" 2>&1
status=$?
if [ ! -s "$out" ]; then
  echo "report_screenshot: $browser wrote no screenshot (exit $status):" >&2
  tail -5 "$profile/log" >&2
  exit 1
fi
head -c 8 "$out" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || { echo "report_screenshot: $out is not a PNG" >&2; exit 1; }
echo "screenshot: $out ($(wc -c < "$out") bytes)"
