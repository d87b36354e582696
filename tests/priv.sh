#!/bin/sh
# Privilege drop of the live daemon started as root (issue 9): a scratch
# service user this test creates, a state folder and socket in a scratch
# folder, capture on a veth in a network namespace.  Checks that
#  - the socket belongs to the user and the configured group, the user can
#    connect, and it is removed at exit after the drop;
#  - the daemon keeps CAP_NET_RAW alone, with no_new_privs, and reopens a
#    capture whose interface went away and came back;
#  - a symbolic link the user plants in the state folder (the model, the
#    database journal) is refused at the next root start and its target
#    stays root's;
#  - a retrain without memory for its baseline is refused, not fatal.
# Needs root, useradd and ip netns; skips with a message otherwise.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
anomd=$build/anomd
anomctl=$build/anomctl
fails=0
passes=0

skip() { echo "skip: $*"; echo "priv: 0 passed, 0 failed, 1 skipped"; exit 77; }
ok() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

[ "$(id -u)" -eq 0 ] || skip "not root: the privilege test starts anomd as root"
command -v useradd >/dev/null 2>&1 || skip "useradd not installed"
command -v runuser >/dev/null 2>&1 || skip "runuser not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
ip netns add anomd-pprobe-$$ 2>/dev/null || skip "cannot create network namespaces here"
ip netns del anomd-pprobe-$$

# After the switch the process is not dumpable, and LeakSanitizer, which
# stops threads with ptrace, cannot run at its exit.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
u=anomdt$$
ns=anomd-priv-$$
peer=anomd-ppeer-$$
tmp=$(mktemp -d)
chmod 755 "$tmp"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	ip netns del "$peer" 2>/dev/null
	userdel "$u" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin --user-group "$u" || skip "useradd failed"
ip netns add "$ns"
ip netns add "$peer"
veth() {
	ip link add cap0 netns "$ns" type veth peer name rep0 netns "$peer" &&
	    ip -n "$ns" link set cap0 up && ip -n "$peer" link set rep0 up
}
veth || skip "cannot create a veth pair"

sock=$tmp/run/anomd.sock
cat >"$tmp/anomd.conf" <<CONF
interface = cap0
state_dir = $tmp/state
db_path = $tmp/state/anomd.db
socket_path = $sock
socket_mode = 0660
user = $u
CONF

start() { # start: anomd as root in the namespace; 0 once the socket is up
	ip netns exec "$ns" "$anomd" -c "$tmp/anomd.conf" 2>>"$tmp/anomd.log" &
	pid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	[ -S "$sock" ]
}
stop() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	pid=
	return $rc
}
ctl_as_user() { runuser -u "$u" -- "$anomctl" -s "$sock" "$@"; }
jfield() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
capture_up() {
	[ "$("$anomctl" -s "$sock" --json status 2>/dev/null |
	    jfield '["capture"]["up"]' 2>/dev/null)" = "$1" ]
}
wait_for() { # wait_for SECONDS COMMAND...: poll twice a second
	t=$(($1 * 2)); shift
	while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.5; t=$((t - 1)); done
	return 1
}

# 1. First start as root: the drop, the socket's owner.
if start; then ok "anomd started as root and dropped to $u"; else
	fail "anomd did not start as root"; cat "$tmp/anomd.log"; exit 1
fi
own=$(stat -c '%U:%G %a' "$sock")
[ "$own" = "$u:$u 660" ] && ok "the socket is $own" ||
    fail "the socket should be $u:$u 660, is $own"
if ctl_as_user status >"$tmp/status.txt" 2>&1; then
	ok "the service user can use the socket"
else
	fail "the service user cannot use the socket: $(cat "$tmp/status.txt")"
fi
grep -q "^capture: *cap0 up" "$tmp/status.txt" &&
    ok "anomctl status says the capture is up" ||
    fail "anomctl status should say the capture is up: $(cat "$tmp/status.txt")"
st=/proc/$pid/status
cap=$(awk '/^CapEff/ {print $2}' "$st")
[ "$cap" = "0000000000002000" ] && ok "CAP_NET_RAW alone is kept (CapEff $cap)" ||
    fail "CapEff should be CAP_NET_RAW alone (0000000000002000), is $cap"
nnp=$(awk '/^NoNewPrivs/ {print $2}' "$st")
[ "$nnp" = "1" ] && ok "no_new_privs is set" || fail "NoNewPrivs should be 1, is $nnp"
uids=$(awk '/^Uid/ {print $2, $3, $4, $5}' "$st")
want=$(id -u "$u")
[ "$uids" = "$want $want $want $want" ] && ok "every uid is $u's" ||
    fail "uids should all be $want, are $uids"
[ "$(stat -c %U "$tmp/state")" = "$u" ] && ok "the state folder is $u's" ||
    fail "the state folder should be handed to $u"

# 2. The interface goes away and comes back: reopened after the drop.
ip -n "$ns" link del cap0
if wait_for 5 capture_up False; then ok "status says the capture is down"; else
	fail "status should say the capture is down"
fi
ctl_as_user --json status | jfield '["capture"]["error"]' | grep -q capture &&
    ok "status gives the capture's error" || fail "status should give the capture's error"
veth
if wait_for 15 capture_up True; then
	ok "the capture is reopened after the drop"
else
	fail "the capture should be reopened with CAP_NET_RAW"
	tail -5 "$tmp/anomd.log"
fi

# 3. Stop: the socket is removed even though the daemon is no longer root.
stop; rc=$?
[ $rc -eq 0 ] && ok "anomd stopped cleanly" || fail "anomd should stop with 0, got $rc"
[ ! -e "$sock" ] && ok "the socket was removed at exit" ||
    fail "the socket should be removed at exit"
grep -q "unlink" "$tmp/anomd.log" && fail "anomd could not unlink: $(grep unlink "$tmp/anomd.log")"

# 4. The attack: the service user plants links in the state folder.
for f in anomd.model anomd.db-wal; do
	target=$tmp/root-owned-$f
	echo secret >"$target"
	chmod 600 "$target"
	runuser -u "$u" -- ln -sf "$target" "$tmp/state/$f"
	ip netns exec "$ns" timeout 30 "$anomd" -c "$tmp/anomd.conf" \
	    2>"$tmp/anomd.log"
	rc=$?
	[ $rc -eq 1 ] && ok "anomd refused to start ($f is a link)" ||
	    fail "anomd should exit 1 with $f a link, got $rc"
	[ ! -e "$sock" ] && ok "the refused start left no socket" ||
	    fail "a refused start should leave no socket"
	grep -q "state/$f is a symbolic link; refusing" "$tmp/anomd.log" &&
	    ok "it says why: $(sed -n 's/.*error: //p' "$tmp/anomd.log" | head -1)" ||
	    fail "the message should name the link: $(cat "$tmp/anomd.log")"
	own=$(stat -c '%U:%G %a' "$target")
	[ "$own" = "root:root 600" ] && ok "the link's target is still root:root 600" ||
	    fail "the link's target should stay root:root 600, is $own"
	rm -f "$tmp/state/$f"
done

# 5. A retrain whose baseline buffer cannot be allocated (10 M flows, 2.5 GB,
# under a 1 GB RLIMIT_AS) is refused with an error reply; the current model
# keeps detecting.  Not under AddressSanitizer, which needs the address space.
sample=$top/tests/data/sample.pcap
if ldd "$anomd" 2>/dev/null | grep -q asan; then
	echo "skip: RLIMIT_AS retrain test under AddressSanitizer"
elif ! command -v prlimit >/dev/null 2>&1; then
	echo "skip: prlimit not installed"
elif "$anomd" -r "$sample" --train-only -m "$tmp/m.model" >/dev/null 2>&1; then
	sed -e "s|^user = .*|user = \"\"|" "$tmp/anomd.conf" >"$tmp/oom.conf"
	echo "baseline_max_flows = 10000000" >>"$tmp/oom.conf"
	ip netns exec "$ns" prlimit --as=$((1024 * 1024 * 1024)) \
	    "$anomd" -c "$tmp/oom.conf" -m "$tmp/m.model" 2>"$tmp/oom.log" &
	pid=$!
	wait_for 10 test -S "$sock"
	out=$("$anomctl" -s "$sock" retrain 2>&1); rc=$?
	[ $rc -ne 0 ] && echo "$out" | grep -q "retrain refused" &&
	    ok "retrain without memory gets an error reply ($out)" ||
	    fail "retrain without memory should be refused, got $rc: $out"
	st=$("$anomctl" -s "$sock" --json status 2>/dev/null | jfield '["state"]')
	[ "$st" = detecting ] && kill -0 "$pid" 2>/dev/null &&
	    ok "the daemon goes on detecting with its model" ||
	    fail "the daemon should go on detecting, state $st"
	grep -q "retrain refused, the current model keeps detecting" "$tmp/oom.log" &&
	    ok "the log says why" || fail "the log should say why: $(cat "$tmp/oom.log")"
	stop
else
	fail "could not train a model on $sample"
fi

echo "priv: $passes passed, $fails failed"
[ $fails -eq 0 ]
