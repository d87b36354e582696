#!/bin/sh
# The live EVE output to Redis, end to end: a real redis-server (Debian's)
# on a UNIX socket in a temp dir, tests/evout_feed writing numbered alert
# lines through daemon/evout.c on a libevent loop, Redis restarted in the
# middle, and the lines read back with a consumer group (XREADGROUP).  Every
# line must arrive except those the output counted as dropped.  Skips with
# a message when redis-server or redis-cli is missing.
set -u
top=${ANOMD_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${ANOMD_TOP_BUILDDIR:-$top}
feed=$build/tests/evout_feed
fails=0
passes=0

skip() { echo "skip: $*"; echo "evout: 0 passed, 0 failed, 1 skipped"; exit 77; }
ok() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

command -v redis-server >/dev/null 2>&1 ||
	skip "redis-server not installed (apt-get install redis-server)"
command -v redis-cli >/dev/null 2>&1 ||
	skip "redis-cli not installed (apt-get install redis-tools)"
[ -x "$feed" ] || skip "$feed not built"
grep -q "define HAVE_HIREDIS 1" "$build/config.h" 2>/dev/null ||
	skip "anomd built without hiredis (libhiredis-dev)"

tmp=$(mktemp -d)
rsock=$tmp/redis.sock
rpid=
fpid=
cleanup() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cli() { redis-cli -s "$rsock" "$@"; }

# Start Redis with every write on disk before it answers, so a restart
# keeps what it acknowledged.
redis_start() {
	redis-server --port 0 --unixsocket "$rsock" --unixsocketperm 700 \
	    --dir "$tmp" --appendonly yes --appendfsync always --save "" \
	    --logfile "$tmp/redis.log" --daemonize no "$@" &
	rpid=$!
	i=0
	while ! cli ping 2>/dev/null | grep -q PONG; do
		i=$((i + 1))
		[ $i -gt 100 ] && { fail "redis-server did not start"; exit 1; }
		sleep 0.1
	done
}

redis_stop() {
	cli shutdown >/dev/null 2>&1
	wait "$rpid" 2>/dev/null
	rpid=
}

# The distinct seq numbers of the alert lines in the output of a read.
seqs() { sed -n 's/.*"seq":\([0-9]*\).*/\1/p' | sort -un; }

# check NAME N STATS UNIQUE: every line arrived or was counted as dropped.
check() {
	name=$1 n=$2 stats=$3 got=$4
	dropped=$(echo "$stats" | sed -n 's/.*dropped=\([0-9]*\).*/\1/p')
	queued=$(echo "$stats" | sed -n 's/.*queued=\([0-9]*\).*/\1/p')
	written=$(echo "$stats" | sed -n 's/.*written=\([0-9]*\).*/\1/p')
	echo "$name: sent $n, read back $got distinct, $stats"
	[ "$queued" = 0 ] && ok "$name: the queue drained before close" ||
		fail "$name: $queued lines still queued at close"
	[ $((got + dropped)) -eq "$n" ] &&
		ok "$name: every line arrived or was counted as dropped" ||
		fail "$name: $got arrived + $dropped dropped != $n sent"
	[ "$written" -ge "$got" ] &&
		ok "$name: written ($written) covers what arrived" ||
		fail "$name: written $written < $got arrived"
}

redis_start

# 1. Stream mode, Redis restarted in the middle, a queue big enough to
# hold what comes meanwhile: nothing may be lost.
cli XGROUP CREATE anomd g '$' MKSTREAM >/dev/null
n=3000
"$feed" $n 2 eve_output=redis "eve_redis_socket=$rsock" \
    eve_redis_mode=stream eve_redis_key=anomd >"$tmp/feed1.out" \
    2>"$tmp/feed1.err" &
fpid=$!
sleep 0.5
redis_stop
sleep 1
redis_start
wait "$fpid"
fpid=
stats=$(cat "$tmp/feed1.out")
cat "$tmp/feed1.err"
got=$(cli XREADGROUP GROUP g c1 COUNT 100000 STREAMS anomd '>' | seqs | wc -l)
check "stream, restart" $n "$stats" "$got"
dropped=$(echo "$stats" | sed -n 's/.*dropped=\([0-9]*\).*/\1/p')
[ "$dropped" = 0 ] && ok "stream, restart: nothing dropped with room in the queue" ||
	fail "stream, restart: $dropped dropped with room in the queue"
recon=$(echo "$stats" | sed -n 's/.*reconnects=\([0-9]*\).*/\1/p')
[ "$recon" -ge 1 ] && ok "stream, restart: the output reconnected" ||
	fail "stream, restart: no reconnect counted"
grep -q "back" "$tmp/feed1.err" && ok "stream, restart: the log says it is back" ||
	fail "stream, restart: no log line for the reconnect"
# Delivery is at least once: a line Redis stored just before the restart
# may be sent again, so the group may hold a few more entries than distinct
# lines, never fewer.
pending=$(cli XPENDING anomd g | head -1)
[ "$pending" -ge "$got" ] 2>/dev/null &&
	[ "$pending" -le $((got + 256)) ] &&
	ok "stream: the consumer group holds what was read ($pending entries, $got distinct)" ||
	fail "stream: XPENDING says $pending, read $got distinct"

# 2. A small queue and Redis down for a while: lines are dropped, and
# every one of them is counted.
cli DEL anomd2 >/dev/null
n=3000
"$feed" $n 2 eve_output=redis "eve_redis_socket=$rsock" \
    eve_redis_mode=stream eve_redis_key=anomd2 eve_queue_max=200 \
    >"$tmp/feed2.out" 2>"$tmp/feed2.err" &
fpid=$!
sleep 0.3
redis_stop
sleep 1
redis_start
wait "$fpid"
fpid=
stats=$(cat "$tmp/feed2.out")
cat "$tmp/feed2.err"
cli XGROUP CREATE anomd2 g2 0 >/dev/null
got=$(cli XREADGROUP GROUP g2 c1 COUNT 100000 STREAMS anomd2 '>' | seqs | wc -l)
check "small queue, down" $n "$stats" "$got"
dropped=$(echo "$stats" | sed -n 's/.*dropped=\([0-9]*\).*/\1/p')
[ "$dropped" -gt 0 ] && ok "small queue, down: drops were counted ($dropped)" ||
	fail "small queue, down: nothing dropped while Redis was down"
grep -q "dropped (queue full)" "$tmp/feed2.err" &&
	ok "small queue, down: the drop was logged" ||
	fail "small queue, down: no drop warning"

# 3. List mode: RPUSH, read back in order.
n=500
stats=$("$feed" $n 50 eve_output=redis "eve_redis_socket=$rsock" \
    eve_redis_mode=list eve_redis_key=anomdlist 2>/dev/null)
got=$(cli LRANGE anomdlist 0 -1 | seqs | wc -l)
check "list" $n "$stats" "$got"
first=$(cli LINDEX anomdlist 0 | seqs)
last=$(cli LINDEX anomdlist -1 | seqs)
[ "$first" = 0 ] && [ "$last" = $((n - 1)) ] &&
	ok "list: lines in order" || fail "list: first $first, last $last"

# 4. MAXLEN ~ trims the stream.
stats=$("$feed" 5000 100 eve_output=redis "eve_redis_socket=$rsock" \
    eve_redis_key=anomdcap eve_redis_stream_maxlen=1000 2>/dev/null)
len=$(cli XLEN anomdcap)
[ "$len" -ge 1000 ] && [ "$len" -lt 5000 ] &&
	ok "stream maxlen: trimmed to about 1000 ($len)" ||
	fail "stream maxlen: XLEN $len"

redis_stop

# 5. AUTH: a Redis that wants a password.  The right one (from a file, as
# a systemd credential would be) gets every line through; a wrong one is
# logged as refused, and nothing is written or silently lost: the lines
# stay queued until the output closes.
rsock_plain=$rsock
rsock=$tmp/redis-auth.sock
cli() { redis-cli -s "$rsock" --no-auth-warning -a 's3cret-pass' "$@"; }
redis_start --requirepass 's3cret-pass'
printf 's3cret-pass\n' >"$tmp/auth.ok"
printf 'wrong\n' >"$tmp/auth.bad"
printf 'default s3cret-pass\n' >"$tmp/auth.user"
chmod 600 "$tmp/auth.ok" "$tmp/auth.bad" "$tmp/auth.user"
for form in ok user; do
	n=300
	stats=$("$feed" $n 50 eve_output=redis "eve_redis_socket=$rsock" \
	    eve_redis_mode=list "eve_redis_key=auth$form" \
	    "eve_redis_auth_file=$tmp/auth.$form" 2>"$tmp/feed5$form.err")
	got=$(cli LRANGE "auth$form" 0 -1 | seqs | wc -l)
	check "auth ($form)" $n "$stats" "$got"
done
n=100
stats=$(EVOUT_FEED_DRAIN_S=2 "$feed" $n 50 eve_output=redis \
    "eve_redis_socket=$rsock" eve_redis_mode=list eve_redis_key=authbad \
    "eve_redis_auth_file=$tmp/auth.bad" 2>"$tmp/feed6.err")
echo "auth, wrong password: $stats"
cat "$tmp/feed6.err"
got=$(cli LRANGE authbad 0 -1 | seqs | wc -l)
queued=$(echo "$stats" | sed -n 's/.*queued=\([0-9]*\).*/\1/p')
written=$(echo "$stats" | sed -n 's/.*written=\([0-9]*\).*/\1/p')
[ "$got" = 0 ] && [ "$written" = 0 ] && [ "$queued" = $n ] &&
	ok "auth, wrong password: nothing written, all $n still queued" ||
	fail "auth, wrong password: $got arrived, written $written, queued $queued"
grep -q "AUTH refused" "$tmp/feed6.err" &&
	ok "auth, wrong password: the log says AUTH was refused" ||
	fail "auth, wrong password: no log line for the refused AUTH"
[ "$(grep -c "AUTH refused" "$tmp/feed6.err")" = 1 ] &&
	ok "auth, wrong password: said once, not at every retry" ||
	fail "auth, wrong password: said $(grep -c "AUTH refused" "$tmp/feed6.err") times"
# refused WHAT FILE PATTERN: the output will not open with that password
# file, and says why in words matching PATTERN.
refused() {
	if "$feed" 1 1 eve_output=redis "eve_redis_socket=$rsock" \
	    "eve_redis_auth_file=$2" >/dev/null 2>"$tmp/refused.err"; then
		fail "auth: $1 should stop the start"
	elif grep -q "$3" "$tmp/refused.err"; then
		ok "auth: $1 is a clear start-up error"
	else
		fail "auth: unclear error for $1: $(cat "$tmp/refused.err")"
	fi
}
: >"$tmp/auth.empty"
refused "a missing password file" "$tmp/missing" \
    "eve_redis_auth_file: $tmp/missing"
refused "an empty password file" "$tmp/auth.empty" \
    "the first line must be a password"
refused "a relative password file path" auth.ok "not an absolute path"
redis_stop
rsock=$rsock_plain
echo "evout: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
