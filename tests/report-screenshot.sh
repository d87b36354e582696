#!/bin/sh
# Render the analyst's report of a capture to a PNG with headless chromium:
# report-screenshot.sh ANOMD PCAP OUT.png (make report-screenshot).
set -eu
anomd=$1 pcap=$2 out=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chromium=$(command -v chromium || command -v chromium-browser) || {
	echo "report-screenshot: chromium is not installed" >&2
	exit 1
}
"$anomd" -r "$pcap" --seed 1 --db "$tmp/a.db" --report "$tmp/report.html" \
    >/dev/null
"$chromium" --headless --disable-gpu --no-sandbox --hide-scrollbars \
    --no-first-run --user-data-dir="$tmp/chr" --window-size=1180,3500 \
    --force-device-scale-factor=0.6 \
    --screenshot="$tmp/shot.png" "file://$tmp/report.html" >/dev/null 2>&1
mkdir -p "$(dirname "$out")"
cp "$tmp/shot.png" "$out"
echo "report-screenshot: wrote $out ($(wc -c <"$out") bytes)"
