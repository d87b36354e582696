#!/bin/sh
# The service unit: systemd-analyze verify is clean and the security
# exposure is 2.0 or lower.  Skips when systemd-analyze is missing.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
command -v systemd-analyze >/dev/null 2>&1 ||
	{ echo "skip: systemd-analyze not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
# The unit as installed, with ExecStart pointing at the built binary.
sed -e "s|@sbindir@|$build|g" "$top/systemd/anomd.service.in" >"$tmp/anomd.service"
if out=$(systemd-analyze verify --man=no "$tmp/anomd.service" 2>&1) && [ -z "$out" ]; then
	echo "ok: systemd-analyze verify"
else
	echo "FAIL: systemd-analyze verify:"; echo "$out"; fails=$((fails + 1))
fi
level=$(systemd-analyze security --offline=true "$tmp/anomd.service" 2>/dev/null |
	awk '/Overall exposure level/ { print $(NF-2) }')
if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
	echo "ok: security exposure $level (at most 2.0)"
else
	echo "FAIL: security exposure '${level:-unknown}', want 2.0 or lower"
	fails=$((fails + 1))
fi
echo "systemd: $((2 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
