#!/bin/sh
# The documentation agrees with the code: generated parts are current, every
# configuration key and feature is in the man pages, and the pages lint
# clean.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
anomd=${ANOMD_TOP_BUILDDIR:-$top}/anomd
fails=0
passes=0

sh "$top/tests/update-docs.sh" "$anomd" "$top" --check &&
	passes=$((passes + 1)) || fails=$((fails + 1))
for key in $("$anomd" --dump-config | awk '/^[a-z_]+ = / { print $1 }'); do
	if grep -q "^\.It Cm $key\$" "$top/man/anomd.conf.5"; then
		passes=$((passes + 1))
	else
		echo "FAIL: key $key is not in anomd.conf(5)"; fails=$((fails + 1))
	fi
done
for f in $("$anomd" --list-features | awk '{ print $2 }'); do
	if grep -q "^\.It Cm $f\$" "$top/man/anomd.8"; then
		passes=$((passes + 1))
	else
		echo "FAIL: feature $f is not in anomd(8)"; fails=$((fails + 1))
	fi
done
# anomctl: `help` lists every command of anomctl(8), each answers --help
# without a daemon, and the completion file reads the same list.
anomctl=${ANOMD_TOP_BUILDDIR:-$top}/anomctl
helped=$("$anomctl" help | awk '/^  [a-z]/ { print $1 }')
for cmd in $(sed -n 's/^\.It Cm \([a-z]*\).*/\1/p' "$top/man/anomctl.8"); do
	if ! echo "$helped" | grep -qx "$cmd"; then
		echo "FAIL: anomctl help does not list $cmd (anomctl(8) does)"
		fails=$((fails + 1))
	elif ! "$anomctl" -s /nonexistent "$cmd" --help | grep -q "^  $cmd"; then
		echo "FAIL: anomctl $cmd --help does not describe $cmd"
		fails=$((fails + 1))
	else
		passes=$((passes + 1))
	fi
done
for cmd in $helped; do
	if grep -q "^\.It Cm $cmd\b" "$top/man/anomctl.8"; then
		passes=$((passes + 1))
	else
		echo "FAIL: anomctl command $cmd is not in anomctl(8)"
		fails=$((fails + 1))
	fi
done
if grep -q '"$1" help' "$top/daemon/completion/anomctl"; then
	passes=$((passes + 1))
else
	echo "FAIL: the bash completion does not read anomctl help"
	fails=$((fails + 1))
fi
if command -v mandoc >/dev/null 2>&1; then
	for page in "$top"/man/*.[58]; do
		out=$(mandoc -T lint -W warning "$page" 2>&1)
		if [ -z "$out" ]; then
			passes=$((passes + 1))
		else
			echo "FAIL: mandoc -T lint $page:"; echo "$out"
			fails=$((fails + 1))
		fi
	done
else
	echo "skip: mandoc not installed; man pages not linted"
fi
echo "docs: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
