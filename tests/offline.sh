#!/bin/sh
# Integration test: anomd -r on the bundled sample, on every shared capture
# when ../shared/data is there, and on broken files.  Under the sanitizer
# build any report aborts anomd, which fails the test.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
anomd=$build/anomd
shared=${ANOMD_SHARED_DATA:-$top/../shared/data}/pcaps
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1 # offline runs write ./anomd.db by default
fails=0
passes=0

ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# stat NAME FILE: the value of a "name value" statistics line.
stat() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# run FILE: anomd -r FILE --flows CSV, which must exit 0 with a statistics
# block and one CSV row per flow record.
run() {
	f=$1
	name=$(basename "$f")
	if ! "$anomd" -r "$f" --flows "$tmp/$name.csv" --seed 1 \
	    >"$tmp/$name.out" 2>"$tmp/$name.err"; then
		fail "$name: anomd exited non-zero"; sed 's/^/  /' "$tmp/$name.err"
		return 1
	fi
	rows=$(($(wc -l <"$tmp/$name.csv") - 1))
	recs=0
	for r in idle fin rst halfopen active evict flush shutdown answered; do
		recs=$((recs + $(stat "records_$r" "$tmp/$name.err")))
	done
	if [ "$rows" -ne "$recs" ]; then
		fail "$name: $rows CSV rows but $recs records counted"
		return 1
	fi
	frames=$(stat frames "$tmp/$name.err")
	echo "ok: $name: $frames frames, $(stat flows "$tmp/$name.err") flows, $rows records"
	ok
}

# expect_flows FILE N: anomd must count N flows in FILE.
expect_flows() {
	got=$(stat flows "$tmp/$(basename "$1").err")
	if [ "$got" = "$2" ]; then ok; else fail "$(basename "$1"): $got flows, want $2"; fi
}

# The header: 11 key columns and every feature named by --list-features.
run "$top/tests/data/sample.pcap"
nf=$("$anomd" --list-features | wc -l)
cols=$(head -1 "$tmp/sample.pcap.csv" | tr ',' '\n' | wc -l)
[ "$cols" -eq $((11 + nf)) ] && ok || fail "CSV has $cols columns, want $((11 + nf))"
head -1 "$tmp/sample.pcap.csv" | grep -q '^flow_id,ts_first,ts_last,proto,src_ip,src_port,dst_ip,dst_port,packets,bytes,end,duration,' &&
	ok || fail "CSV header does not start with the key columns"

# Same input twice: byte-identical flows, whatever the hash seed.
"$anomd" -r "$top/tests/data/sample.pcap" --flows "$tmp/again.csv" --seed 99 2>/dev/null >/dev/null
cmp -s "$tmp/sample.pcap.csv" "$tmp/again.csv" && ok || fail "two runs differ"

# Detection: the README's run learns from the first 200 s and alerts on the
# scan; two runs give byte-identical scores and the same alerts.
for i in 1 2; do
	"$anomd" -r "$top/tests/data/sample.pcap" --baseline 200 --seed "$i" \
	    --db "$tmp/det$i.db" --scores "$tmp/scores$i.csv" \
	    --eve "$tmp/eve$i.json" >"$tmp/det$i.out" 2>"$tmp/det$i.err" ||
		fail "detection run $i exited non-zero"
done
cmp -s "$tmp/scores1.csv" "$tmp/scores2.csv" && cmp -s "$tmp/eve1.json" "$tmp/eve2.json" &&
	ok || fail "two detection runs gave different scores or alerts"
head -1 "$tmp/scores1.csv" | grep -q '^ts_first,ts_last,proto,src_ip,src_port,dst_ip,dst_port,packets,bytes,score,threshold,alert' &&
	ok || fail "scores header"
scan=$(awk -F, '$4 == "10.20.30.66" && $12 == 1' "$tmp/scores1.csv" | wc -l)
[ "$scan" -gt 500 ] && ok || fail "only $scan scan flows alerted"
grep -q '"event_type":"alert"' "$tmp/eve1.json" && grep -q '"src_ip":"10.20.30.66"' "$tmp/eve1.json" &&
	ok || fail "EVE lines for the scan"
grep -q "10.20.30.66" "$tmp/det1.out" && grep -q "baseline p50" "$tmp/det1.out" &&
	ok || fail "the summary names the scanner with explanations"
"$anomd" -r "$top/tests/data/sample.pcap" --train-only -m "$tmp/m.model" >/dev/null 2>&1 &&
	"$anomd" -r "$top/tests/data/sample.pcap" -m "$tmp/m.model" --db "$tmp/m.db" >/dev/null 2>&1 &&
	ok || fail "--train-only then -m"
head -c 100 "$tmp/m.model" >"$tmp/bad.model"
"$anomd" -r "$top/tests/data/sample.pcap" -m "$tmp/bad.model" --db "$tmp/b.db" >/dev/null 2>"$tmp/bad.err"
[ $? -eq 1 ] && grep -q "model file" "$tmp/bad.err" && ok || fail "a truncated model is refused"

# The summary reads like a report: incidents first (the scan named as one),
# then the top evidence with no two lines alike, the model and threshold as
# sentences, the totals last; the counters only with --stats.
out=$tmp/det1.out
head -1 "$out" | grep -q '^incidents: [1-9]' && ok || fail "summary starts with: $(head -1 "$out")"
grep -q '^  #1 10.20.30.66: port scan' "$out" && ok || fail "the scan is not incident #1 in words"
# one line per initiator, responder, protocol and strongest feature
awk '/^top evidence:/ { t = 1; next } /^The model/ { t = 0 }
	t && /^  [0-9]/ { sub(/:[0-9]+$/, "", $3); sub(/:[0-9]+$/, "", $5); k = $2 " " $3 " " $5; f = 1; next }
	t && f { print k, $1; f = 0 }' "$out" >"$tmp/top.txt"
n=$(wc -l <"$tmp/top.txt")
[ "$n" -ge 2 ] && [ -z "$(sort "$tmp/top.txt" | uniq -d)" ] && ok ||
	fail "top evidence has $n lines, or near-copies: $(sort "$tmp/top.txt" | uniq -d | head -1)"
grep -q '×[0-9]* alike' "$out" && ok || fail "near-copies are not folded into one line"
grep -q '^The model [0-9a-f]* was trained on the baseline window: it learnt [0-9]* baseline flows .*\.$' "$out" &&
	ok || fail "model line: $(grep '^The model' "$out")"
grep -q '^A flow alerts when its reconstruction error is above .*\.$' "$out" && ok ||
	fail "threshold line: $(grep -i 'threshold' "$out" | head -1)"
awk '/^The model/ { m = NR } /^scored [0-9]* flow records/ { s = NR } /^top evidence/ { e = NR }
	END { exit !(e && m > e && s > m) }' "$out" && ok || fail "summary order: evidence, model, totals"
grep -qE '^(frames|malformed_[a-z0-9_]*) [0-9]+$' "$tmp/det1.err" &&
	fail "counters on stderr without --stats" || ok

# Every flow gets a score, the baseline's too, even when the baseline is
# sampled down to baseline_max_flows to train.
printf 'baseline_max_flows = 1000\n' >"$tmp/small.conf"
"$anomd" -c "$tmp/small.conf" -r "$top/tests/data/sample.pcap" --db "$tmp/s.db" \
    --scores "$tmp/all.csv" --stats >/dev/null 2>"$tmp/all.err"
recs=0
for r in idle fin rst halfopen active evict flush shutdown answered; do
	recs=$((recs + $(stat "records_$r" "$tmp/all.err")))
done
[ $(($(wc -l <"$tmp/all.csv") - 1)) -eq "$recs" ] && ok ||
	fail "scores has $(($(wc -l <"$tmp/all.csv") - 1)) rows for $recs records"

# Standard input works like a file (and is not read twice).
"$anomd" -r - --flows "$tmp/stdin.csv" --seed 1 <"$top/tests/data/sample.pcap" >/dev/null 2>&1 &&
	cmp -s "$tmp/stdin.csv" "$tmp/sample.pcap.csv" && ok || fail "-r - (standard input)"

# Broken input: a clear error, never a crash.
head -c 5000 /dev/urandom >"$tmp/garbage.pcap" 2>/dev/null ||
	dd if=/dev/urandom of="$tmp/garbage.pcap" bs=1000 count=5 2>/dev/null
"$anomd" -r "$tmp/garbage.pcap" >/dev/null 2>"$tmp/garbage.err"
[ $? -eq 1 ] && grep -q "error: capture: read .*garbage.pcap" "$tmp/garbage.err" &&
	! grep -q "warning:" "$tmp/garbage.err" &&
	ok || fail "garbage file: want exit 1 and an error: (not warning:) capture: read"
# A pcap header of an unsupported version: fatal, so it says error:.
printf '\324\303\262\241\011\000\004\000\000\000\000\000\000\000\000\000\377\377\000\000\001\000\000\000' >"$tmp/badver.pcap"
"$anomd" -r "$tmp/badver.pcap" --db "$tmp/badver.db" >/dev/null 2>"$tmp/badver.err"
[ $? -eq 1 ] && grep -q "error: capture: read .*badver.pcap" "$tmp/badver.err" &&
	[ ! -e "$tmp/badver.db" ] &&
	ok || fail "unsupported pcap version: want exit 1, error:, nothing created"
head -c 100000 "$top/tests/data/sample.pcap" >"$tmp/truncated.pcap"
if "$anomd" -r "$tmp/truncated.pcap" --flows "$tmp/t.csv" >/dev/null 2>"$tmp/t.err" &&
    grep -q "truncated" "$tmp/t.err" && [ "$(wc -l <"$tmp/t.csv")" -gt 1 ]; then
	ok
else
	fail "truncated file: want a warning and the flows read before the cut"
fi
# A pcap header with link type 105 (802.11), which anomd does not decode.
printf '\324\303\262\241\002\000\004\000\000\000\000\000\000\000\000\000\377\377\000\000\151\000\000\000' >"$tmp/wifi.pcap"
"$anomd" -r "$tmp/wifi.pcap" >/dev/null 2>"$tmp/wifi.err"
[ $? -eq 1 ] && grep -q "unsupported link type 105" "$tmp/wifi.err" &&
	ok || fail "802.11 file: want an error naming link type 105"
"$anomd" -r "$tmp/does-not-exist.pcap" >/dev/null 2>"$tmp/nx.err"
[ $? -eq 1 ] && grep -q "No such file" "$tmp/nx.err" && ok || fail "missing file"
"$anomd" --bogus >/dev/null 2>&1
[ $? -eq 2 ] && ok || fail "unknown option: want exit 2"

if [ -d "$shared" ]; then
	for f in "$shared"/*.pcap "$shared"/*.pcapng; do
		run "$f"
	done
	# Flow counts checked against tshark's conversations (tshark -q -z
	# conv,tcp -z conv,udp -z conv,ip): the counts below are TCP + UDP
	# conversations plus ICMP/other flows, for captures where no
	# conversation outlives a timeout or reuses its ports.
	. "$top/tests/flowcounts.sh"
else
	echo "skip: $shared not found; shared captures not checked"
fi

echo "offline: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
