#!/bin/sh
# Integration test of the live daemon: anomd captures on one end of a veth
# pair inside network namespaces this test creates, tcpreplay replays the
# bundled sample into the other end, and everything is checked through the
# real control socket with anomctl.  Needs root, ip netns and tcpreplay;
# skips with a message otherwise.  All traffic stays inside the namespaces.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
anomd=$build/anomd
anomctl=$build/anomctl
sample=$top/tests/data/sample.pcap
fails=0
passes=0

skip() { echo "skip: $*"; echo "live: 0 passed, 0 failed, 1 skipped"; exit 77; }
ok() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

[ "$(id -u)" -eq 0 ] || skip "not root: the live test needs network namespaces"
command -v tcpreplay >/dev/null 2>&1 || skip "tcpreplay not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
ip netns add anomd-probe-$$ 2>/dev/null || skip "cannot create network namespaces here"
# ip netns exec remounts / as a slave and /sys: in a container whose / is
# not a mount point that fails ("mount --make-rslave /" failed).
if ! why=$(ip netns exec anomd-probe-$$ true 2>&1); then
	ip netns del anomd-probe-$$
	skip "ip netns exec cannot work here: $(echo "$why" | head -1)"
fi
ip netns del anomd-probe-$$

ns=anomd-cap-$$
peer=anomd-peer-$$
tmp=$(mktemp -d)
chmod 755 "$tmp"
sock=$tmp/anomd.sock
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null
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

cat >"$tmp/anomd.conf" <<CONF
interface = cap0
baseline_seconds = 10
baseline_min_flows = 200
state_dir = $tmp/state
db_path = $tmp/alerts.db
socket_path = $sock
socket_mode = 0666
user = ""
model_epochs = 10
max_clients = 256
max_clients_per_uid = 0
CONF

ctl() { "$anomctl" -s "$sock" "$@"; }
jfield() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

start() {
	ip netns exec "$ns" "$anomd" -c "$tmp/anomd.conf" "$@" 2>>"$tmp/anomd.log" &
	pid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$sock" ]
}

replay() {
	ip netns exec "$peer" tcpreplay -q -i rep0 --multiplier="$1" "$sample" >/dev/null 2>&1
}

wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
	t=$(($1 * 10)); shift
	while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done
	return 1
}
state_is() { [ "$(ctl --json status 2>/dev/null | jfield "['state']")" = "$1" ]; }
model_id() { ctl --json status 2>/dev/null | jfield "['model']['id'] if d['model'] else ''"; }
model_is_not() { m=$(model_id); [ -n "$m" ] && [ "$m" != "$1" ]; }

# 1. Start, learn from the replayed baseline, detect the scan.
start && ok "daemon started, socket bound" || { fail "daemon did not start"; cat "$tmp/anomd.log"; exit 1; }
[ "$(stat -c %a "$sock")" = 666 ] && ok "socket mode as configured" || fail "socket mode $(stat -c %a "$sock")"
state_is learning && ok "state learning" || fail "state is not learning"
"$anomctl" -s "$sock" --json follow >"$tmp/follow.json" 2>/dev/null &
fpid=$!
sleep 0.5
replay 20
wait_for 30 state_is detecting && ok "model trained from the live baseline" ||
	fail "no model after the replay: $(ctl status 2>&1 | head -5)"
grep -q "installed: .*trained at nice 10" "$tmp/anomd.log" &&
	ok "trained at a lower CPU priority (nice 10)" ||
	fail "training priority: $(grep -E 'installed|priority' "$tmp/anomd.log")"
alerts_stored() { [ "$(ctl --json status 2>/dev/null | jfield "['alerts']")" -gt 0 ]; }
wait_for 15 alerts_stored
n=$(ctl --json status | jfield "['alerts']")
[ "${n:-0}" -gt 0 ] && ok "$n alerts stored" || fail "no alerts stored"
c=$(ctl --json status | jfield "['alert_counts']")
ctl --json status | python3 -c 'import json, sys
c = json.load(sys.stdin)["alert_counts"]
sys.exit(c["raised"] != c["stored"] + c["folded"] + c["capped"] + c["dropped"] + c["rejected"])' &&
	ok "status accounts for every raised alert: $c" || fail "status counts do not add up: $c"
# The sample's scan is one host: an attack, not a model that does not fit.
st=$(ctl --json status | jfield "['storm']")
[ "$st" = "{'minutes': 0, 'last': None}" ] &&
	ok "status: no alert storm for a scan ($st)" || fail "status storm: $st"
wait_for 5 test -s "$tmp/follow.json" && ok "follow received alerts live" || fail "follow saw nothing"
ctl alerts --limit 5 >/dev/null && ok "anomctl alerts" || fail "anomctl alerts"
first=$(ctl --json alerts --limit 1 | jfield "['alerts'][0]['id']")
ctl alert "$first" | grep -q "explanation\|score" && ok "anomctl alert $first" || fail "anomctl alert"

# 1a. anomctl report: the analyst's page built by the daemon from its store,
# over the socket; self-contained, strict HTML5 (when python3-html5lib is
# there), the scanner in its incidents table, stored alerts on the map.
has_scanner() { ctl --json incidents 2>/dev/null | grep -q '"10.20.30.66"'; }
wait_for 10 has_scanner
# --since: the report's default window starts when the model was
# installed, and the scan may have ended (its last packet) just before
# that while its records were scored just after.
ctl report --since 10m -o "$tmp/report.html" 2>"$tmp/report.err" && [ -s "$tmp/report.html" ] &&
	ok "anomctl report -o: $(cat "$tmp/report.err")" ||
	fail "anomctl report: $(cat "$tmp/report.err")"
h5py=python3 # Debian's python3-html5lib is for /usr/bin/python3
/usr/bin/python3 -c 'import html5lib' 2>/dev/null && h5py=/usr/bin/python3
"$h5py" - "$tmp/report.html" <<'PY' >"$tmp/report.py" 2>&1 && ok "report page: $(cat "$tmp/report.py")" || fail "report page: $(tail -2 "$tmp/report.py")"
import re, sys
page = open(sys.argv[1]).read()
assert not re.search(r"https?:|//", page), "an external reference"
table = re.search(r'<table id="incident-table">(.*?)</table>', page, re.S)
assert table and "10.20.30.66" in table.group(1), \
    "no scanner in the incidents table: %s" % re.sub(r"<[^>]*>", " ", page)[:600]
lat = re.search(r'<svg id="latent-map".*?</svg>', page, re.S)
assert lat and 'class="pt"' in lat.group(0), "no stored alert on the latent map"
try:
    import html5lib
    html5lib.HTMLParser(strict=True).parse(page)
    print("html5 ok,", lat.group(0).count('class="pt"'), "points")
except ImportError:
    print("html5lib missing: not parsed,", lat.group(0).count('class="pt"'), "points")
PY
ctl report --since 1m >"$tmp/report-1m.html" && grep -q '</html>' "$tmp/report-1m.html" &&
	ok "anomctl report --since 1m to stdout" || fail "anomctl report --since 1m"

# 1b. /metrics (metrics_listen's default, 127.0.0.1:9469, in the capture
# namespace): Prometheus text that promtool accepts, with the series of
# every counter `anomctl stats` shows; other paths 404, other methods fail.
http() { # http METHOD PATH: prints "code content-type", then the body
	ip netns exec "$ns" python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request("http://127.0.0.1:9469" + sys.argv[2], method=sys.argv[1])
try:
    r = urllib.request.urlopen(req, timeout=5)
    code, ctype, body = r.status, r.headers.get("Content-Type"), r.read()
except urllib.error.HTTPError as e:
    code, ctype, body = e.code, e.headers.get("Content-Type"), b""
print(code, ctype)
sys.stdout.write(body.decode())
PY
}
http GET /metrics >"$tmp/metrics.out" 2>&1
head -1 "$tmp/metrics.out" | grep -q "^200 text/plain; version=0.0.4" &&
	ok "GET /metrics: 200, text format 0.0.4" || fail "GET /metrics: $(head -3 "$tmp/metrics.out")"
sed 1d "$tmp/metrics.out" >"$tmp/metrics.txt"
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1 &&
		ok "promtool check metrics: clean" || fail "promtool check metrics: $(cat "$tmp/promtool.out")"
else
	echo "skip: promtool not installed (Debian package prometheus): /metrics not linted"
fi
grep -q '^anomd_state{state="detecting"} 1$' "$tmp/metrics.txt" &&
	grep -q '^anomd_build_info{version="[^"]*"} 1$' "$tmp/metrics.txt" &&
	grep -q '^anomd_alerts_total{outcome="stored"} [1-9]' "$tmp/metrics.txt" &&
	grep -q '^anomd_capture_packets_total [1-9]' "$tmp/metrics.txt" &&
	grep -q '^anomd_store_flush_seconds_count [1-9]' "$tmp/metrics.txt" &&
	ok "/metrics: state, build_info, stored alerts, packets, flush latency" ||
	fail "/metrics lacks a main series: $(grep -E 'state|build_info|alerts_total|packets_total|flush_seconds_count' "$tmp/metrics.txt")"
ctl --json stats | python3 -c 'import sys, json
d = json.load(sys.stdin)
text = open(sys.argv[1]).read()
assert sorted(d) == ["counters", "gauges", "limits"], sorted(d)
assert "flows_max" in d["limits"] and "flows_active" in d["gauges"]
missing = [k for g in d.values() for k in g if "anomd_" + k not in text]
print("stats names missing from /metrics:", missing)
sys.exit(1 if missing else 0)' "$tmp/metrics.txt" &&
	ok "anomctl stats: counters, gauges and limits, named as in /metrics" ||
	fail "stats groups or names differ from /metrics"
ctl stats | grep -q "^limits:" && ok "anomctl stats prints the groups" || fail "anomctl stats: no limits group"
[ "$(http GET /nope | head -1 | cut -d' ' -f1)" = 404 ] && ok "GET /nope: 404" || fail "GET /nope: $(http GET /nope | head -1)"
code=$(http POST /metrics | head -1 | cut -d' ' -f1)
[ "$code" -ge 400 ] 2>/dev/null && ok "POST /metrics refused ($code)" || fail "POST /metrics: $code"

# 2. Socket abuse while capturing; the daemon keeps answering.
python3 "$top/tests/abuse.py" "$sock" && ok "socket abuse survived" || fail "socket abuse"
ctl status >/dev/null && ok "still answering after abuse" || fail "not answering after abuse"
setpriv --reuid=65534 --regid=65534 --clear-groups "$anomctl" -s "$sock" retrain >/dev/null 2>&1
[ $? -eq 1 ] && ok "unprivileged user cannot retrain" || fail "unprivileged retrain was not refused"

# 3. SIGHUP: a new model after a new baseline window, with no gap.
old=$(model_id)
kill -HUP "$pid"
replay 20 &
rpid=$!
gap=0
while ! model_is_not "$old"; do
	[ -z "$(model_id)" ] && gap=1
	kill -0 "$rpid" 2>/dev/null || break
	sleep 0.2
done
wait "$rpid"
wait_for 20 model_is_not "$old" && ok "SIGHUP gave a new model ($old -> $(model_id))" ||
	fail "no new model after SIGHUP"
[ $gap -eq 0 ] && ok "no detection gap while retraining" || fail "no model at some point while retraining"

# 4. SIGTERM: exit 0 in time; every alert follow saw is in SQLite.
sleep 1.5
kill -TERM "$pid"
t=0
while kill -0 "$pid" 2>/dev/null && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
if kill -0 "$pid" 2>/dev/null; then
	fail "still running 10 s after SIGTERM"
else
	wait "$pid"; rc=$?
	[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
fi
pid=
[ ! -e "$sock" ] && ok "socket removed" || fail "socket left behind"
grep -q "capture: [0-9]* packets captured, [0-9]* received by the kernel, [0-9]* dropped" "$tmp/anomd.log" &&
	ok "shutdown logs the capture totals" || fail "no capture totals at shutdown"
wait "$fpid" 2>/dev/null
python3 - "$tmp/follow.json" "$tmp/alerts.db" <<'PY' && ok "every followed alert is in SQLite" || fail "followed alerts missing from SQLite"
import json, sqlite3, sys
ids = [json.loads(l)["alert"]["id"] for l in open(sys.argv[1]) if l.strip()]
db = sqlite3.connect(sys.argv[2])
have = {r[0] for r in db.execute("select id from alerts")}
missing = [i for i in ids if i not in have]
print("followed", len(ids), "alerts;", len(missing), "missing")
sys.exit(1 if missing or not ids else 0)
PY

# 5. A restart loads the saved model and detects at once.
start && state_is detecting && ok "restart detects at once with the saved model" ||
	fail "restart did not load the saved model"

# 6. The interface goes away and comes back: the daemon keeps answering,
# reopens the capture (every 5 s) and counts packets again.
packets() { ctl --json status 2>/dev/null | jfield "['capture']['packets']"; }
more_packets() { [ "$(packets)" -gt "$1" ] 2>/dev/null; }
p0=$(packets)
ip -n "$ns" link del cap0
wait_for 10 grep -q "capture closed, reopening" "$tmp/anomd.log" &&
	ok "a vanished interface closes the capture" || fail "no word of the vanished interface"
ctl status >/dev/null && ok "still answering without an interface" || fail "not answering without an interface"
ip link add cap0 netns "$ns" type veth peer name rep0 netns "$peer"
ip -n "$ns" link set cap0 up
ip -n "$peer" link set rep0 up
sleep 6 # past the next reopen attempt
ip netns exec "$peer" tcpreplay -q -i rep0 --multiplier=20 --limit=400 "$sample" >/dev/null 2>&1
wait_for 10 more_packets "${p0:-0}" && ok "capture reopened: packets counted again ($p0 -> $(packets))" ||
	fail "capture not reopened: packets $p0 -> $(packets)"
kill -TERM "$pid"; wait "$pid"; pid=

# 7. Started as root with a user set: drops to it, keeps working, and can
# still remove its socket (in a folder it created) at exit.
if id nobody >/dev/null 2>&1; then
	sed -e "s|^user = .*|user = nobody|" \
	    -e "s|^socket_path = .*|socket_path = $tmp/run/anomd.sock|" \
	    -e "s|^db_path = .*|db_path = $tmp/state/alerts.db|" \
	    "$tmp/anomd.conf" >"$tmp/drop.conf"
	sock=$tmp/run/anomd.sock
	# After setresuid the process is not dumpable, and LeakSanitizer,
	# which stops threads with ptrace, cannot run at its exit.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    ip netns exec "$ns" "$anomd" -c "$tmp/drop.conf" 2>>"$tmp/anomd.log" &
	pid=$!
	wait_for 10 test -S "$sock"
	if [ "$(ps -o user= -p "$pid" 2>/dev/null)" = nobody ] && state_is detecting; then
		ok "dropped to nobody and detecting"
	else
		fail "privilege drop: user $(ps -o user= -p "$pid"), state $(ctl status 2>&1 | head -1)"
	fi
	kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
	[ $rc -eq 0 ] && [ ! -e "$sock" ] && ok "unprivileged daemon exits 0 and removes its socket" ||
		fail "unprivileged daemon: exit $rc, socket $(ls "$sock" 2>&1)"
fi

grep -q "ERROR: AddressSanitizer\|runtime error" "$tmp/anomd.log" && fail "sanitizer report in the daemon log"
echo "live: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
