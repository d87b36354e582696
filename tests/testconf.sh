#!/bin/sh
# anomd -t refuses, with exit 1 and a message naming the key, every value
# that would otherwise fail only later (issue 9), and passes a good file.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
anomd=$build/anomd
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
long=$(printf '%0120d' 0)

base() { # a configuration that passes -t anywhere
	printf 'interface = lo\nuser = ""\nsocket_path = %s/a.sock\n' "$tmp"
}

# refused LINE MESSAGE: -t exits 1 and says MESSAGE about LINE.
refused() {
	{ base; echo "$1"; } >"$tmp/c"
	out=$("$anomd" -c "$tmp/c" -t 2>&1); rc=$?
	if [ $rc -eq 1 ] && echo "$out" | grep -qF "$2"; then
		ok "-t refuses '$1'"
	else
		fail "-t should refuse '$1' with '$2', got $rc: $out"
	fi
}

refused 'model_layers = abc' 'model_layers "abc": want 1 to 8 comma-separated'
refused 'model_layers = -1' 'model_layers "-1"'
refused 'model_layers = 0' 'model_layers "0"'
refused 'model_layers = ""' 'model_layers "": want'
refused 'model_layers = 48,,12' 'model_layers "48,,12"'
refused 'model_layers = 99999999' 'model_layers "99999999"'
refused 'filter = "tcp portt 80"' 'filter "tcp portt 80": not a BPF filter'
refused "socket_path = /tmp/$long" 'want a path of 1 to 107 bytes'
refused 'interface = abcdefghijklmnopq' 'want a name of at most 15 bytes'
refused 'metrics_listen = 9469' 'metrics_listen "9469": want host:port'
refused 'metrics_listen = ::1:9469' 'metrics_listen "::1:9469": want host:port'
refused 'metrics_listen = 127.0.0.1:70000' 'port 1 to 65535'
refused 'socket_group = nosuchgroup-anomd' 'socket_group "nosuchgroup-anomd" does not exist'
if [ "$(id -u)" -eq 0 ]; then
	refused 'user = nosuchuser' 'user "nosuchuser" does not exist'
else
	echo "skip: user = nosuchuser (a missing user only matters to root)"
fi

base >"$tmp/c"
out=$("$anomd" -c "$tmp/c" -t 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "configuration OK" ] && ok "-t passes a good file" ||
	fail "-t should pass a good file, got $rc: $out"
{ base; echo "interface = nosuchif9"; } >"$tmp/c"
out=$("$anomd" -c "$tmp/c" -t 2>&1); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "warning: interface nosuchif9 does not exist now" &&
	ok "-t warns about a missing interface" ||
	fail "-t should warn about a missing interface and pass, got $rc: $out"
out=$("$anomd" -c "$tmp/c" -i abcdefghijklmnopq -t 2>&1); rc=$?
[ $rc -eq 2 ] && ok "-i too long is refused" || fail "-i too long: $rc: $out"

echo "testconf: $passes passed, $fails failed"
[ $fails -eq 0 ]
