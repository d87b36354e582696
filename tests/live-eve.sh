#!/bin/sh
# The live daemon's EVE outputs, end to end.  anomd captures on one end of a
# veth pair inside network namespaces this test creates and tcpreplay
# replays the bundled sample into the other end (as tests/live.sh does).
#  1. eve_output = regular: every line validates against Suricata's schema
#     (../shared/data/suricata/eve-schema.json, python3-jsonschema; skipped
#     with a message when absent); the file is moved and SIGUSR1 sent, as
#     logrotate's postrotate does: new lines land in a fresh file and the
#     two files hold exactly the lines status counts as eve.written, one
#     flow alert line per stored alert.
#  2. eve_output = redis (when redis-server, redis-cli and hiredis are
#     there): a real redis-server on a UNIX socket, the stream read back
#     with a consumer group: every line written is there.
# Needs root, ip netns, tcpreplay and python3; skips with a message otherwise.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
anomd=$build/anomd
anomctl=$build/anomctl
sample=$top/tests/data/sample.pcap
schema=${ANOMD_SHARED_DATA:-$top/../shared/data}/suricata/eve-schema.json
fails=0
passes=0

skip() { echo "skip: $*"; echo "live-eve: 0 passed, 0 failed, 1 skipped"; exit 77; }
ok() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

[ "$(id -u)" -eq 0 ] || skip "not root: the live test needs network namespaces"
command -v tcpreplay >/dev/null 2>&1 || skip "tcpreplay not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
ip netns add anomd-probe-$$ 2>/dev/null || skip "cannot create network namespaces here"
ip netns del anomd-probe-$$

ns=anomd-eve-$$
peer=anomd-evp-$$
tmp=$(mktemp -d)
chmod 755 "$tmp"
sock=$tmp/anomd.sock
rsock=$tmp/redis.sock
pid=
rpid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	ip netns del "$peer" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip netns add "$peer"
ip link add cap0 netns "$ns" type veth peer name rep0 netns "$peer"
ip -n "$ns" link set cap0 up
ip -n "$peer" link set rep0 up
ip -n "$ns" link set lo up

# No folding and no rate cap: every replay makes new rows, so new EVE lines.
cat >"$tmp/base.conf" <<CONF
interface = cap0
baseline_seconds = 10
baseline_min_flows = 200
state_dir = $tmp/state
db_path = $tmp/alerts.db
socket_path = $sock
socket_mode = 0666
user = ""
model_epochs = 10
alert_fold_seconds = 0
alert_rate_max = 0
sensor_name = live-sensor
CONF

ctl() { "$anomctl" -s "$sock" "$@"; }
jstatus() { ctl --json status 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

start() {
	ip netns exec "$ns" "$anomd" -c "$1" 2>>"$tmp/anomd.log" &
	pid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$sock" ]
}

stop() {
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	pid=
	return $rc
}

replay() {
	ip netns exec "$peer" tcpreplay -q -i rep0 --multiplier="$1" "$sample" >/dev/null 2>&1
}

wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
	t=$(($1 * 10)); shift
	while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done
	return 1
}
detecting() { [ "$(jstatus "['state']")" = detecting ]; }
stored_over() { [ "$(jstatus "['alert_counts']['stored']")" -gt "$1" ] 2>/dev/null; }
eve_drained() { [ "$(jstatus "['eve']['queued']")" = 0 ]; }
# lines FILE...: the number of lines in the files together.
lines() { cat "$@" 2>/dev/null | wc -l; }
# flow_lines FILE...: flow alerts and responder findings (not incidents).
flow_lines() { cat "$@" 2>/dev/null | grep -c '"signature_id":990000[12]'; }

validate() { # validate FILE...: every line against the schema
	if [ ! -f "$schema" ]; then
		echo "live-eve: $schema is absent; skipping the schema validation"
		return 0
	fi
	if ! python3 -c 'import jsonschema' 2>/dev/null; then
		echo "live-eve: python3-jsonschema is not installed (tests/setup.sh); skipping the schema validation"
		return 0
	fi
	python3 - "$schema" "$@" <<'PY'
import json, sys, jsonschema
v = jsonschema.Draft7Validator(json.load(open(sys.argv[1])))
bad = n = 0
for f in sys.argv[2:]:
    for line in open(f):
        n += 1
        errs = list(v.iter_errors(json.loads(line)))
        if errs:
            bad += 1
            if bad <= 3:
                print("%s: %s" % (f, errs[0].message))
print("live-eve: %d of %d lines invalid" % (bad, n))
sys.exit(bad > 0 or n == 0)
PY
}

# 1. eve_output = regular, moved and reopened on SIGUSR1.
eve=$tmp/eve.json
{ cat "$tmp/base.conf"; echo "eve_output = regular"; echo "eve_filename = $eve"; } >"$tmp/regular.conf"
start "$tmp/regular.conf" && ok "daemon started with eve_output = regular" ||
	{ fail "daemon did not start"; cat "$tmp/anomd.log"; exit 1; }
replay 20
wait_for 30 detecting && ok "model trained from the live baseline" ||
	fail "no model after the replay: $(ctl status 2>&1 | head -5)"
replay 20
wait_for 15 stored_over 0 && wait_for 10 eve_drained
s1=$(jstatus "['alert_counts']['stored']")
l1=$(lines "$eve")
[ "$l1" -gt 0 ] && ok "$l1 EVE lines for $s1 stored alerts" || fail "no EVE lines ($s1 stored)"
grep -q '"host":"live-sensor"' "$eve" && ok "sensor_name is the host" || fail "no host live-sensor"
grep -q '"in_iface":"cap0"' "$eve" && ok "in_iface is the capture interface" || fail "no in_iface cap0"

mv "$eve" "$eve.1"
kill -USR1 "$pid"
wait_for 5 test -e "$eve" && ok "SIGUSR1 reopened a fresh $eve" || fail "no fresh file after SIGUSR1"
replay 20
wait_for 15 stored_over "$s1" && wait_for 10 eve_drained
l2=$(lines "$eve")
[ "$l2" -gt 0 ] && ok "$l2 new lines in the fresh file" || fail "no lines after the reopen"
# Flows may still expire (and alert) meanwhile: compare a quiet moment.
balanced() {
	written=$(jstatus "['eve']['written']")
	dropped=$(jstatus "['eve']['dropped']")
	stored=$(jstatus "['alert_counts']['stored']")
	total=$(lines "$eve.1" "$eve")
	fl=$(flow_lines "$eve.1" "$eve")
	[ "$total" -eq "$written" ] && [ "$fl" -eq "$stored" ] &&
	    [ "$(jstatus "['eve']['written']")" -eq "$written" ]
}
wait_for 15 balanced
[ "$total" -eq "$written" ] && [ "$dropped" = 0 ] &&
	ok "none lost across the rotation: $total lines = eve.written $written" ||
	fail "$total lines in both files, eve.written $written, dropped $dropped"
[ "$fl" -eq "$stored" ] && ok "one flow alert line per stored alert ($stored)" ||
	fail "$fl flow alert lines, $stored stored"
ctl status | grep -q "^eve: *regular: [0-9]* lines written" &&
	ok "anomctl status shows the EVE counters" ||
	fail "anomctl status: $(ctl status | grep -A1 '^alerts\|^eve')"
ctl status | grep -q "of [0-9]* raised: " && ok "anomctl status shows the alert counts" ||
	fail "anomctl status: $(ctl status | grep -A1 '^alerts')"
stop && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $?"
validate "$eve.1" "$eve" && ok "every live EVE line validates" || fail "live EVE lines fail the schema"

# 2. eve_output = redis, read back with a consumer group.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	echo "live-eve: redis-server or redis-cli not installed; skipping the Redis output"
elif ! grep -q "define HAVE_HIREDIS 1" "$build/config.h" 2>/dev/null; then
	echo "live-eve: anomd built without hiredis; skipping the Redis output"
else
	cli() { redis-cli -s "$rsock" "$@"; }
	redis-server --port 0 --unixsocket "$rsock" --unixsocketperm 777 \
	    --dir "$tmp" --save "" --logfile "$tmp/redis.log" --daemonize no &
	rpid=$!
	wait_for 10 sh -c "redis-cli -s '$rsock' ping 2>/dev/null | grep -q PONG" ||
		fail "redis-server did not start"
	cli XGROUP CREATE anomd-live g '$' MKSTREAM >/dev/null
	{ cat "$tmp/base.conf"; echo "eve_output = redis"; echo "eve_redis_socket = $rsock"
	  echo "eve_redis_key = anomd-live"; } >"$tmp/redis.conf"
	start "$tmp/redis.conf" && detecting && ok "restarted with eve_output = redis, detecting" ||
		fail "redis daemon: $(tail -3 "$tmp/anomd.log")"
	replay 20
	wait_for 15 stored_over 0 && wait_for 10 eve_drained
	got=0
	read_back() { # what the group has not read yet, added to got
		written=$(jstatus "['eve']['written']")
		dropped=$(jstatus "['eve']['dropped']")
		got=$((got + $(cli XREADGROUP GROUP g c1 COUNT 1000000 STREAMS \
		    anomd-live '>' | grep -c '"event_type":"alert"')))
		[ "$got" -eq "$written" ]
	}
	wait_for 15 read_back
	[ "$written" -gt 0 ] && [ "$got" -eq "$written" ] && [ "$dropped" = 0 ] &&
		ok "Redis: the consumer group read every line written ($got)" ||
		fail "Redis: read $got, eve.written $written, dropped $dropped"
	stop && ok "SIGTERM with Redis: exit 0" || fail "SIGTERM with Redis: exit $?"
	cli shutdown nosave >/dev/null 2>&1
	wait "$rpid" 2>/dev/null
	rpid=
fi

grep -q "ERROR: AddressSanitizer\|runtime error" "$tmp/anomd.log" && fail "sanitizer report in the daemon log"
echo "live-eve: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
