#!/bin/sh
# Regenerate (or, with --check, compare) the parts of the documentation
# that come from tables in the code: the FEATURES list of anomd(8), the KEYS
# list of anomd.conf(5) and the commented etc/anomd.conf.
# usage: update-docs.sh ANOMD SRCDIR [--check]
set -eu
anomd=$1
src=$2
check=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# splice FILE MARKER CONTENT: FILE with CONTENT between the BEGIN and END
# comment lines of MARKER.
splice() {
	awk -v m="$2" -v content="$3" '
		$0 ~ "^\\.\\\\\" BEGIN " m { print; while ((getline l < content) > 0) print l; skip = 1; next }
		$0 ~ "^\\.\\\\\" END " m { skip = 0 }
		!skip { print }' "$1"
}

# update TARGET NEW: replace TARGET by NEW, or report a difference.
update() {
	if cmp -s "$1" "$2"; then
		return
	fi
	if [ "$check" = --check ]; then
		echo "out of date: $1 (run make update-docs)"
		diff -u "$1" "$2" | head -20
		status=1
	else
		cp "$2" "$1"
		echo "updated $1"
	fi
}

"$anomd" --list-features=man >"$tmp/features"
splice "$src/man/anomd.8" FEATURES "$tmp/features" >"$tmp/anomd.8"
update "$src/man/anomd.8" "$tmp/anomd.8"
"$anomd" --dump-config=man >"$tmp/keys"
splice "$src/man/anomd.conf.5" KEYS "$tmp/keys" >"$tmp/anomd.conf.5"
update "$src/man/anomd.conf.5" "$tmp/anomd.conf.5"
"$anomd" --dump-config >"$tmp/anomd.conf"
update "$src/etc/anomd.conf" "$tmp/anomd.conf"
exit $status
