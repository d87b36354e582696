#!/bin/sh
# Summarise automake test results in build folders: each skipped test with
# its reason, each part a passing or failing test skipped, each failure,
# then one line "N passed, N failed, N skipped" (tests/run-all.sh).
# A test's .trs holds its result; its .log what it printed, where a skip
# says why in a line starting "skip:" or containing "skipping".
# usage: sh tests/summary.sh BUILD_DIR...
set -u
pass=0 fail=0 skip=0
for dir in "$@"; do
	for trs in $(find "$dir" -path "$dir/anomd-*" -prune -o \
	    -name '*.trs' -print 2>/dev/null | sort); do
		log=${trs%.trs}.log
		name=${trs#"$dir"/}
		name=${name%.trs}
		res=$(sed -n 's/^:test-result: \([A-Z]*\).*/\1/p' "$trs" | head -1)
		why=$(grep -E '^skip: |skipping' "$log" 2>/dev/null |
		    sed 's/^skip: //' | sort -u)
		case $res in
		PASS | XFAIL) pass=$((pass + 1)) ;;
		SKIP)
			skip=$((skip + 1))
			echo "skipped: $dir/$name: ${why:-no reason given}" |
			    head -1
			continue
			;;
		*)
			fail=$((fail + 1))
			echo "failed: $dir/$name ($res)"
			;;
		esac
		[ -n "$why" ] && echo "$why" | while IFS= read -r w; do
			echo "part skipped: $dir/$name: $w"
		done
	done
done
echo "$pass passed, $fail failed, $skip skipped"
