#!/bin/sh
# The analyst's report (anomd -r ... --report): over the bundled sample the
# page is self-contained (no http:, https: or // reference), the same input
# gives the same bytes (also with another flow-hash seed, so another record
# order), it parses as HTML5 without errors (python3-html5lib), names the
# sample's scanner in the incidents table, has the latent map's points, and
# a model made with --train-only gives a report too.  With Debian's
# chromium, the page is rendered headless: the screenshot is not blank
# (more than a few colours) and the DOM chromium built holds the scanner
# and the points.  Checks that need a missing tool are skipped, said so.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
anomd=$build/anomd
pcap=$top/tests/data/sample.pcap
scanner=10.20.30.66
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0
passes=0

ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; }

run() { # out.html seed [more args]
	out=$1 seed=$2
	shift 2
	"$anomd" -r "$pcap" --seed "$seed" --db "$tmp/$out.db" \
	    --report "$tmp/$out" "$@" >"$tmp/$out.out" 2>"$tmp/$out.err" ||
		fail "anomd --report $out exited non-zero: $(tail -3 "$tmp/$out.err")"
}

run a.html 1
run b.html 7
[ -s a.html ] && ok || fail "no report written"
grep -q "report written to $tmp/a.html" a.html.out && ok ||
	fail "the summary should say where the report went"
cmp -s a.html b.html && ok || fail "the same input should give the same bytes"
size=$(wc -c <a.html)
[ "$size" -lt 3000000 ] && ok || fail "report is $size bytes"
if grep -Eq 'https?:|//' a.html; then
	fail "an external reference: $(grep -Eo '.{20}(https?:|//).{20}' a.html | head -2)"
else ok; fi
grep -q '<script' a.html && fail "the page should need no script" || ok
cat >"$tmp/check.py" <<'PY'
import re, sys
page = open(sys.argv[2]).read()
table = re.search(r'<table id="incident-table">(.*?)</table>', page, re.S)
assert table, "no incidents table"
assert sys.argv[1] in table.group(1), "the incidents table should name the scanner"
lat = re.search(r'<svg id="latent-map".*?</svg>', page, re.S)
assert lat, "no latent map"
pts = lat.group(0).count('class="pt"')
assert pts >= 100, "the latent map has %d points" % pts
assert 'class="cell"' in lat.group(0), "no density of normal flows"
assert 'class="baseline"' in lat.group(0), "no baseline outline"
for sec in ("timeline-chart", "scores-chart", "input-map", "heatmap-chart"):
    assert 'id="%s"' % sec in page, "no " + sec
assert "64 features &#8594; 12 numbers; benign flows reconstruct to a median error of" in page
PY
python3 "$tmp/check.py" "$scanner" a.html >"$tmp/py.out" 2>&1 && ok ||
	fail "$(tail -1 "$tmp/py.out")"

# Strict HTML5 parsing.
h5py=
for py in python3 /usr/bin/python3; do
	"$py" -c 'import html5lib' 2>/dev/null && h5py=$py && break
done
if [ -n "$h5py" ]; then
	"$h5py" -c '
import sys, html5lib
p = html5lib.HTMLParser(strict=True)
p.parse(open(sys.argv[1], "rb").read())
' a.html >"$tmp/h5.out" 2>&1 && ok || fail "html5lib: $(tail -2 "$tmp/h5.out")"
else
	skip "python3-html5lib is not installed: HTML not parsed"
fi

# A model trained with --train-only, then -m: the header has the baseline.
"$anomd" -r "$pcap" --seed 1 --train-only -m "$tmp/m.bin" >/dev/null 2>&1 ||
	fail "--train-only failed"
run m.html 1 -m "$tmp/m.bin"
grep -q 'benign flows reconstruct to a median error of' m.html && ok ||
	fail "a -m report should say what the baseline reconstructs to"
"$anomd" -r "$pcap" --train-only -m "$tmp/x.bin" --report x.html \
    >/dev/null 2>&1 && fail "--report with --train-only should be refused" || ok

# Render it with chromium, headless.
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chromium" ]; then
	flags="--headless --disable-gpu --no-sandbox --hide-scrollbars"
	flags="$flags --user-data-dir=$tmp/chr --no-first-run"
	# shellcheck disable=SC2086
	timeout 120 "$chromium" $flags --window-size=1200,3000 \
	    --screenshot="$tmp/shot.png" "file://$tmp/a.html" \
	    >"$tmp/chr.out" 2>&1
	if [ -s "$tmp/shot.png" ]; then
		n=$(python3 "$top/tests/pngcolours.py" "$tmp/shot.png")
		[ "${n:-0}" -gt 8 ] && ok || fail "the screenshot has $n colours"
	else
		fail "chromium made no screenshot: $(tail -2 "$tmp/chr.out")"
	fi
	# shellcheck disable=SC2086
	timeout 120 "$chromium" $flags --dump-dom "file://$tmp/a.html" \
	    >"$tmp/dom.html" 2>"$tmp/chr.err"
	grep -q "$scanner" "$tmp/dom.html" && ok ||
		fail "chromium's DOM should name the scanner"
	pts=$(grep -o 'class="pt"' "$tmp/dom.html" | wc -l)
	[ "$pts" -ge 100 ] && ok || fail "chromium's DOM has $pts map points"
else
	skip "chromium is not installed (tests/setup.sh installs it): not rendered"
fi

# A scan from one host is an attack, not an alert storm; a model facing
# traffic from and to everywhere (macof's random addresses, scored with
# the sample's model) says in the header that it does not fit.
grep -q '<tr class="warn"><th>alert storm' a.html &&
	fail "the sample's scan should not be an alert storm" || ok
macof=${ANOMD_SHARED_DATA:-$top/../shared/data}/pcaps/chappell_sec-macof.pcapng
if [ -f "$macof" ]; then
	"$anomd" -r "$pcap" --train-only -m "$tmp/s.model" --seed 1 \
	    >/dev/null 2>&1 || fail "training on the sample failed"
	"$anomd" -r "$macof" -m "$tmp/s.model" --db "$tmp/m.db" \
	    --report "$tmp/macof.html" >"$tmp/macof.out" 2>"$tmp/macof.err"
	grep -q '<tr class="warn"><th>alert storm</th><td>[0-9]' \
	    "$tmp/macof.html" && ok ||
		fail "no alert storm line in the macof report"
	grep -q "^alert storm: [0-9]* minute" "$tmp/macof.out" && ok ||
		fail "no alert storm line in the macof summary"
	grep -q "warning: alert storm:" "$tmp/macof.err" && ok ||
		fail "no alert storm warning in the macof log"
else
	skip "$macof not found: the alert storm line is not checked"
fi

echo "report: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
