#!/bin/sh
# run-bench.sh: anomd's throughput against a bare libpcap loop on one
# synthetic capture, plus the model benchmark.  `make bench` runs it from
# the build directory.  It prints figures and targets but never fails on
# speed: the exit status is non-zero only when a program is missing, crashes
# or exits with an error.  Timings on a shared machine are noisy, so each
# run is repeated and the best wall time kept.
set -u

anomd=./anomd
gen=./tests/bench/gen_pcap
bare=./tests/bench/bare_loop
model=./tests/bench/bench_model
pcap=tests/bench/bench.pcap
packets='' flows='' seed=''
runs=5
budget=90	# stop repeating a measurement once it has used this many s
baseline=120	# detection trains on the first 2 of the capture's ~10 min
detect=auto

usage() {
	cat >&2 <<EOF
usage: run-bench.sh [--anomd PATH] [--gen PATH] [--bare PATH] [--model PATH]
                    [--pcap PATH] [--packets N] [--flows N] [--seed N]
                    [--runs N] [--baseline SECONDS] [--no-detect]
EOF
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--anomd) anomd=$2; shift 2 ;;
	--gen) gen=$2; shift 2 ;;
	--bare) bare=$2; shift 2 ;;
	--model) model=$2; shift 2 ;;
	--pcap) pcap=$2; shift 2 ;;
	--packets) packets=$2; shift 2 ;;
	--flows) flows=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--baseline) baseline=$2; shift 2 ;;
	--no-detect) detect=no; shift ;;
	*) usage ;;
	esac
done

missing=
for p in "$gen" "$bare" "$anomd"; do
	[ -x "$p" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "run-bench: missing:$missing (build them with 'make bench')" >&2
	exit 1
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
failed=0

# The stamp names the generator version and its options: a capture made
# with the same stamp is the same file, so it is reused.
genargs="${packets:+-n $packets} ${flows:+-f $flows} ${seed:+-s $seed}"
# shellcheck disable=SC2086
stamp=$("$gen" -p $genargs) || exit 1
if [ -f "$pcap" ] && [ "$(cat "$pcap.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "run-bench: reusing $pcap ($stamp)"
else
	echo "run-bench: generating $pcap ($stamp)"
	mkdir -p "$(dirname "$pcap")"
	rm -f "$pcap.stamp"
	# shellcheck disable=SC2086
	if ! "$gen" $genargs -o "$pcap.tmp"; then
		rm -f "$pcap.tmp"
		echo "run-bench: gen_pcap failed" >&2
		exit 1
	fi
	mv "$pcap.tmp" "$pcap" && echo "$stamp" >"$pcap.stamp"
fi
# Read it once so every run below starts from the page cache.
cat "$pcap" >/dev/null

now() { date +%s.%N; }

# timeit LABEL CMD...: run CMD up to $runs times (fewer once $budget
# seconds are spent), keep the best wall time in $best and the last run's
# output in $tmp/out and $tmp/err.  Returns 1 if CMD fails.
timeit() {
	label=$1
	shift
	best='' spent=0 i=0
	while [ "$i" -lt "$runs" ]; do
		t0=$(now)
		"$@" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		t1=$(now)
		if [ "$rc" -ne 0 ]; then
			echo "run-bench: $label FAILED with exit status $rc" >&2
			tail -n 20 "$tmp/err" | sed 's/^/  /' >&2
			failed=1
			return 1
		fi
		best=$(awk -v a="$t0" -v b="$t1" -v m="$best" \
		    'BEGIN { d = b - a; if (m == "" || d < m) m = d; printf "%.4f", m }')
		spent=$(awk -v a="$t0" -v b="$t1" -v s="$spent" \
		    'BEGIN { printf "%.4f", s + b - a }')
		i=$((i + 1))
		awk -v s="$spent" -v b="$budget" 'BEGIN { exit !(s > b) }' && break
	done
	return 0
}

# detect_run: offline detection into a fresh database each time, since a
# run on a reused one would do less work.  The default baseline window is
# longer than the capture, so it is shortened to leave most flows scored.
# shellcheck disable=SC2317 # called through timeit
detect_run() {
	rm -f "$tmp"/detect.db*
	"$anomd" -r "$pcap" --db "$tmp/detect.db" --seed 1 \
	    --baseline "$baseline"
}

# score_run: detection with a model trained beforehand (-m), so the run is
# capture, flows and scoring alone: what the daemon does once it detects.
# shellcheck disable=SC2317 # called through timeit
score_run() {
	rm -f "$tmp"/score.db*
	"$anomd" -r "$pcap" --db "$tmp/score.db" --seed 1 -m "$tmp/bench.model"
}

# getstat NAME FILE: the value of a "name value" line.
getstat() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }

# row LABEL SECONDS: one line of the table against the bare loop.
row() {
	awk -v l="$1" -v s="$2" -v n="$npkts" -v base="$bare_pps" -v t="$3" '
	BEGIN {
		pps = n / s
		r = 100 * pps / base
		if (t == "")
			printf "%-26s %9.3f %12.0f %7.1f %%\n", l, s, pps, r
		else
			printf "%-26s %9.3f %12.0f %7.1f %%   >= %2d %%   %s\n",
			    l, s, pps, r, t, (r >= t ? "ok" : "BELOW TARGET")
	}'
}

echo "run-bench: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "best of $runs runs"

timeit "bare_loop" "$bare" "$pcap" || exit 1
bare_s=$best
npkts=$(getstat packets "$tmp/out")
bare_pps=$(awk -v n="$npkts" -v s="$bare_s" 'BEGIN { printf "%.0f", n / s }')
# The same loop reading as anomd reads (a 1 MiB stdio buffer), shown too so
# that the ratio's debt to that buffer can be seen.
bigbuf_s=
timeit "bare_loop -b" "$bare" -b "$pcap" && bigbuf_s=$best

flows_s=
if timeit "anomd --flows" "$anomd" -r "$pcap" --flows /dev/null --seed 1; then
	flows_s=$best
	cp "$tmp/err" "$tmp/flows.err"
fi

detect_s=
score_s=
if [ "$detect" = auto ] && "$anomd" --help 2>&1 | grep -q -- '--db'; then
	detect=yes
	timeit "anomd --db (detection)" detect_run && detect_s=$best &&
		cp "$tmp/out" "$tmp/detect.out"
	"$anomd" -r "$pcap" --baseline "$baseline" --train-only \
	    -m "$tmp/bench.model" >/dev/null 2>&1 &&
		timeit "anomd -m (scoring)" score_run && score_s=$best
fi

echo
echo "capture: $pcap: $npkts packets, $(getstat flows "$tmp/flows.err" 2>/dev/null || echo '?') flows (anomd), $(($(wc -c <"$pcap") / 1000000)) MB"
printf "%-26s %9s %12s %9s   %-7s\n" "" "best s" "packets/s" "vs bare" "target"
row "bare loop (libpcap)" "$bare_s" ""
[ -n "$bigbuf_s" ] && row "bare loop, 1 MiB buffer" "$bigbuf_s" ""
if [ -n "$flows_s" ]; then
	row "anomd --flows /dev/null" "$flows_s" 50
else
	echo "anomd --flows /dev/null    FAILED (see above)"
fi
if [ "$detect" = yes ]; then
	if [ -n "$detect_s" ]; then
		row "anomd --db (detection)" "$detect_s" 40
	else
		echo "anomd --db (detection)     FAILED (see above)"
	fi
	if [ -n "$detect_s" ]; then
		# What the detection run's time includes: training this model.
		sed -n 's/^model [0-9a-f]* (trained[^)]*): /  (detection trains: /p' \
		    "$tmp/detect.out" | sed 's/$/)/'
	fi
	if [ -n "$score_s" ]; then
		row "anomd -m (scoring only)" "$score_s" 40
		[ -n "$detect_s" ] && awk -v d="$detect_s" -v s="$score_s" \
		    'BEGIN { printf "  (detection less scoring only: %.3f s, the cost of training)\n", d - s }'
	else
		echo "anomd -m (scoring only)    FAILED (see above)"
	fi
elif [ "$detect" = no ]; then
	echo "anomd --db (detection)     not measured (--no-detect)"
else
	echo "anomd --db (detection)     not measured (anomd --help has no --db)"
fi
if [ -n "$flows_s" ]; then
	fsb=$(getstat flow_state_bytes_per_flow "$tmp/flows.err")
	if [ -z "$fsb" ]; then
		echo "flow state per flow        missing: anomd printed no" \
		    "flow_state_bytes_per_flow line"
	else
		printf "%-26s %22s %9s   <= 256 B   %s\n" \
		    "flow state per flow" "$fsb bytes" "" \
		    "$([ "$fsb" -le 256 ] && echo ok || echo ABOVE TARGET)"
	fi
fi

echo
if [ -x "$model" ]; then
	echo "run-bench: $model"
	if ! "$model"; then
		echo "run-bench: $model failed" >&2
		failed=1
	fi
else
	echo "run-bench: $model not built, model benchmark skipped"
fi

exit $failed
