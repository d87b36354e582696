#!/bin/sh
# EVE that pipelines accept: every line of an offline run's --eve over the
# bundled sample validates against Suricata's EVE schema
# (../shared/data/suricata/eve-schema.json, with python3-jsonschema), has
# no -0, no exponent and no fraction in a count; and nothing is dropped
# silently: the summary's stored count is the database's row count, and a
# store that cannot be written fails the run (as root, on a tiny tmpfs).
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
anomd=$build/anomd
schema=${ANOMD_SHARED_DATA:-$top/../shared/data}/suricata/eve-schema.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0
passes=0

ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# A rate cap of 1 alert/s must not apply offline: every alert is stored.
printf 'alert_rate_max = 1\nsensor_name = sensor-a\n' >"$tmp/a.conf"
"$anomd" -c "$tmp/a.conf" -r "$top/tests/data/sample.pcap" --baseline 200 \
    --seed 1 --db "$tmp/a.db" --eve "$tmp/eve.json" >"$tmp/out" 2>"$tmp/err" ||
	fail "offline run exited non-zero: $(tail -3 "$tmp/err")"
lines=$(wc -l <"$tmp/eve.json")
[ "$lines" -gt 500 ] && ok || fail "only $lines EVE lines"
grep -q '"event_type":"alert"' "$tmp/eve.json" && ok || fail "no alert lines"
if grep -v '"event_type":"alert"' "$tmp/eve.json" | grep -q .; then
	fail "lines that are not alerts"
else ok; fi
grep -q '"host":"sensor-a"' "$tmp/eve.json" && ok || fail "sensor_name as host"
grep -q '"signature_id":9900003' "$tmp/eve.json" && ok || fail "no incident line"
num='[:,[]-?[0-9]+(\.[0-9]+)?[eE][-+]?[0-9]+[],}]'
if grep -Eq '[:,[]-0(\.0*)?[],}]' "$tmp/eve.json" || grep -Eq "$num" "$tmp/eve.json"; then
	fail "a -0 or an exponent: $(grep -Eo ".{30}$num" "$tmp/eve.json" | head -2)"
else ok; fi

# The summary says what was stored, and the database agrees.
grep -q "0 capped" "$tmp/out" && ok || fail "offline alerts were capped: $(grep '^alerts:' "$tmp/out")"
stored=$(sed -n 's/^alerts: [0-9]* raised: \([0-9]*\) stored.*/\1/p' "$tmp/out")
tail -1 "$tmp/out" | grep -q "^stored in $tmp/a.db: $stored alert rows" &&
	ok || fail "last line: $(tail -1 "$tmp/out")"
if command -v sqlite3 >/dev/null 2>&1; then
	rows=$(sqlite3 "$tmp/a.db" 'select count(*) from alerts')
	[ "$rows" = "$stored" ] && ok || fail "summary stored $stored, database has $rows"
	flows=$(grep -c '"signature_id":990000[12]' "$tmp/eve.json")
	[ "$flows" = "$stored" ] && ok || fail "EVE has $flows alert lines, $stored stored"
fi

# A store that cannot be written (its database on a 128 KiB tmpfs): the run
# exits non-zero and its last line says FAILED, with what was committed.
if [ "$(id -u)" -ne 0 ]; then
	echo "eve: not root; skipping the full-disk run"
elif ! mkdir "$tmp/full" || ! mount -t tmpfs -o size=128k anomd-test "$tmp/full" 2>/dev/null; then
	echo "eve: cannot mount a tmpfs; skipping the full-disk run"
else
	trap 'umount "$tmp/full" 2>/dev/null; rm -rf "$tmp"' EXIT
	if "$anomd" -r "$top/tests/data/sample.pcap" --baseline 200 --seed 1 \
	    --db "$tmp/full/a.db" >"$tmp/full.out" 2>"$tmp/full.err"; then
		fail "a run whose store failed exited 0"
	else ok; fi
	last=$(tail -1 "$tmp/full.out")
	case $last in
	"FAILED: store $tmp/full/a.db: "*" alert rows committed; "*"disk is full"*) ok ;;
	*) fail "last line of a failed store: $last" ;;
	esac
	grep -q '^stored in' "$tmp/full.out" && fail "a failed store says stored in" || ok
	grep -q 'warning: store: .*disk is full' "$tmp/full.err" && ok ||
		fail "no warning for the failed store: $(tail -1 "$tmp/full.err")"
	if command -v sqlite3 >/dev/null 2>&1; then
		said=$(echo "$last" | sed -n 's/.*: \([0-9]*\) alert rows committed.*/\1/p')
		rows=$(sqlite3 "$tmp/full/a.db" 'select count(*) from alerts' 2>/dev/null)
		[ "$rows" = "$said" ] && ok ||
			fail "FAILED line says $said committed, database has $rows"
	fi
	umount "$tmp/full"
fi

if [ ! -f "$schema" ]; then
	echo "eve: $schema is absent; skipping the schema validation"
elif ! python3 -c 'import jsonschema' 2>/dev/null; then
	echo "eve: python3-jsonschema is not installed (tests/setup.sh); skipping the schema validation"
else
	if python3 - "$schema" "$tmp/eve.json" <<'PY'
import json, sys, jsonschema
v = jsonschema.Draft7Validator(json.load(open(sys.argv[1])))
bad = 0
for n, line in enumerate(open(sys.argv[2]), 1):
    errs = list(v.iter_errors(json.loads(line)))
    if errs:
        bad += 1
        if bad <= 3:
            print("line %d: %s" % (n, errs[0].message))
print("eve: %d of %d lines invalid" % (bad, n))
sys.exit(bad > 0)
PY
	then ok; else fail "EVE lines fail the schema"; fi
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
