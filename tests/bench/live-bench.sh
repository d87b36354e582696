#!/bin/sh
# Live capture bench: does anomd, detecting with a saved model, lose no
# more packets in the kernel than tcpdump on the same interface?
#
# Makes a veth pair whose ends sit in two network namespaces, replays a
# capture into one end with tcpreplay (--topspeed, then fixed rates), and
# captures on the other end in turn with anomd (-m MODEL, a fresh
# database) and with `tcpdump -w /dev/null`, then prints one table: the
# rate tcpreplay reports, then packets received and kernel drops of each.
# With --slow-store, an extra anomd trial per rate keeps its database on a
# slow store: an ext4 image on a loop device mounted `sync` (when the
# kernel lets us) while another process holds SQLite's write lock for 0.9 s
# of every second, so every commit of anomd's loop thread waits up to its
# busy timeout.  Its kernel drops should not rise against the plain trial:
# the loop thread stalls, the capture thread does not.
#
# Needs root, ip netns, tcpreplay and tcpdump; skips (exit 77) otherwise.
# Not part of `make check`: `make bench-live` runs it.  The machine's other
# load shows in every figure: run it on a quiet machine.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
anomd=./anomd
anomctl=./anomctl
gen=./tests/bench/gen_pcap
pcap=
packets=
rates="topspeed 100000 300000 1000000"
seconds=4
slow=no
baseline=120

usage() {
	cat <<EOF
usage: live-bench.sh [--anomd PATH] [--anomctl PATH] [--gen PATH]
                     [--pcap FILE | --packets N] [--rates "topspeed 100000 ..."]
                     [--seconds S] [--slow-store] [--baseline S]
  --pcap FILE   capture to replay (default tests/bench/bench.pcap when it
                exists, else one made with gen_pcap -n 300000 -f 30000)
  --packets N   replay a capture of N packets made with gen_pcap instead
  --rates LIST  topspeed and/or packets per second (default "$rates")
  --seconds S   length of a fixed-rate trial (default $seconds): tcpreplay
                loops the capture and stops after rate * S packets
  --slow-store  add an anomd trial per rate with a slow database
  --baseline S  seconds of the capture the model is trained on (default $baseline)
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--anomd) anomd=$2; shift 2 ;;
	--anomctl) anomctl=$2; shift 2 ;;
	--gen) gen=$2; shift 2 ;;
	--pcap) pcap=$2; shift 2 ;;
	--packets) packets=$2; shift 2 ;;
	--rates) rates=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--slow-store) slow=yes; shift ;;
	--baseline) baseline=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

skip() { echo "live-bench: skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "not root (needs network namespaces and a veth pair)"
for c in ip tcpreplay tcpdump python3; do
	command -v $c >/dev/null 2>&1 || skip "$c not installed"
done
[ -x "$anomd" ] || skip "no anomd at $anomd (run from the build directory)"

tmp=$(mktemp -d /tmp/anomd-live-bench.XXXXXX)
ns=anomd-lb-cap-$$
peer=anomd-lb-peer-$$
pid=
lockpid=
mnt=
loopdev=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$lockpid" ] && kill "$lockpid" 2>/dev/null
	wait 2>/dev/null
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null
	fi
	[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	ip netns del "$peer" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns" 2>/dev/null || skip "cannot create network namespaces"
ip netns add "$peer"
ip link add lb0 netns "$ns" type veth peer name lb1 netns "$peer" ||
	skip "cannot create a veth pair"
ip -n "$ns" link set lb0 up
ip -n "$peer" link set lb1 up
ip -n "$ns" link set lo up

# The capture to replay.
if [ -z "$pcap" ] && [ -z "$packets" ] && [ -s tests/bench/bench.pcap ]; then
	pcap=tests/bench/bench.pcap
fi
if [ -z "$pcap" ]; then
	[ -x "$gen" ] || skip "no gen_pcap at $gen"
	n=${packets:-300000}
	pcap=$tmp/live.pcap
	"$gen" -n "$n" -f $((n / 10)) -o "$pcap" >/dev/null 2>&1 ||
		{ echo "live-bench: gen_pcap failed" >&2; exit 1; }
fi
npk=$(tcpdump -r "$pcap" -qn 2>/dev/null | wc -l)
echo "live-bench: replaying $pcap ($npk packets) on a veth pair"
echo "live-bench: training the model on its first ${baseline} s"
"$anomd" -r "$pcap" --train-only -m "$tmp/model" --baseline "$baseline" \
    --seed 1 >"$tmp/train.log" 2>&1 ||
	{ echo "live-bench: training failed:" >&2; tail -3 "$tmp/train.log" >&2; exit 1; }

# replay RATE: replay into the peer end; prints the pps tcpreplay reports.
replay() {
	if [ "$1" = topspeed ]; then
		set -- --topspeed
	else
		set -- --pps="$1" --loop=1000 --limit=$(($1 * seconds))
	fi
	ip netns exec "$peer" tcpreplay -i lb1 --preload-pcap "$@" "$pcap" \
	    >"$tmp/replay.out" 2>&1
	sed -n 's/.*Rated: .* Mbps, \([0-9.]*\) pps.*/\1/p' "$tmp/replay.out" |
	    head -1 | cut -d. -f1
}

# settle: wait until the kernel has handed every packet to the reader.
settle() { sleep 1.5; }

# run_tcpdump RATE: "offered received dropped"
run_tcpdump() {
	ip netns exec "$ns" tcpdump -i lb0 -w /dev/null -n >"$tmp/td.out" \
	    2>"$tmp/td.err" &
	pid=$!
	i=0
	while ! grep -q "listening on" "$tmp/td.err" && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	sleep 0.3
	off=$(replay "$1")
	settle
	kill -INT "$pid"
	wait "$pid" 2>/dev/null
	pid=
	rcv=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$tmp/td.err")
	drp=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$tmp/td.err")
	echo "${off:-?} ${rcv:-?} ${drp:-?}"
}

# run_anomd RATE DBDIR: "offered received dropped scored queue_waits
# mean_commit"
run_anomd() {
	rm -f "$2"/lb.db "$2"/lb.db-wal "$2"/lb.db-shm
	cat >"$tmp/anomd.conf" <<CONF
interface = lb0
state_dir = $tmp/state
db_path = $2/lb.db
socket_path = $tmp/anomd.sock
user = ""
metrics_listen = ""
promiscuous = no
CONF
	ip netns exec "$ns" "$anomd" -c "$tmp/anomd.conf" -m "$tmp/model" \
	    2>"$tmp/anomd.log" &
	pid=$!
	i=0
	while ! [ -S "$tmp/anomd.sock" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$2" = "$tmp" ] || start_locker "$2/lb.db"
	off=$(replay "$1")
	settle
	# the commits' mean time, to show the slow store was slow
	cm=$("$anomctl" -s "$tmp/anomd.sock" --json stats 2>/dev/null |
	    python3 -c 'import json, sys
c = json.load(sys.stdin)["counters"]
n = c.get("store_flush_seconds_count", 0)
print("%.0fms" % (1000 * c.get("store_flush_seconds_sum", 0) / n) if n else "-")' 2>/dev/null)
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
	pid=
	stop_locker
	# "capture: P packets captured, R received by the kernel, D dropped
	# by the kernel, ...; F flows, E evicted at flow_memcap, S scored"
	line=$(grep "packets captured" "$tmp/anomd.log" | tail -1)
	rcv=$(echo "$line" | sed -n 's/.* \([0-9]*\) received by the kernel.*/\1/p')
	drp=$(echo "$line" | sed -n 's/.* \([0-9]*\) dropped by the kernel.*/\1/p')
	scd=$(echo "$line" | sed -n 's/.* \([0-9]*\) scored.*/\1/p')
	qw=$(sed -n 's/.*capture waited \([0-9]*\) times.*/\1/p' "$tmp/anomd.log")
	echo "${off:-?} ${rcv:-?} ${drp:-?} ${scd:-?} ${qw:-?} ${cm:--}"
}

# The slow store: a sync-mounted ext4 image on a loop device if possible,
# and a process that holds the database's write lock 0.9 s of every 1 s.
slowdir=
setup_slow() {
	slowdir=$tmp/slow
	mkdir -p "$slowdir"
	if command -v mkfs.ext4 >/dev/null 2>&1 &&
	    truncate -s 256M "$tmp/slow.img" &&
	    mkfs.ext4 -q -F "$tmp/slow.img" >/dev/null 2>&1 &&
	    loopdev=$(losetup -f --show --direct-io=on "$tmp/slow.img" 2>/dev/null) &&
	    mount -o sync,dirsync "$loopdev" "$slowdir" 2>/dev/null; then
		mnt=$slowdir
		echo "live-bench: slow store: ext4 on $loopdev (direct I/O), mounted sync, plus a writer holding the lock 0.9 s a second"
	else
		[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
		loopdev=
		echo "live-bench: slow store: no loop mount here; a writer holding the lock 0.9 s a second"
	fi
}
start_locker() {
	python3 - "$1" <<'PY' &
import sqlite3, sys, time
while True:
    try:
        db = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
        break
    except sqlite3.Error:
        time.sleep(0.1)
while True:
    try:
        db.execute("BEGIN IMMEDIATE")
        time.sleep(0.9)
        db.execute("COMMIT")
    except sqlite3.Error:
        pass
    time.sleep(0.1)
PY
	lockpid=$!
}
stop_locker() {
	[ -n "$lockpid" ] && kill "$lockpid" 2>/dev/null
	[ -n "$lockpid" ] && wait "$lockpid" 2>/dev/null
	lockpid=
}

[ "$slow" = yes ] && setup_slow

printf '%s\n' "rate		tcpdump			anomd -m					$([ "$slow" = yes ] && echo "anomd -m, slow store")"
printf '%s\n' "offered pps	received	drops	received	drops	scored	qwait	commit	$([ "$slow" = yes ] && echo "received	drops	scored	qwait	commit")"
for r in $rates; do
	set -- $(run_tcpdump "$r")
	t_off=$1 t_rcv=$2 t_drp=$3
	set -- $(run_anomd "$r" "$tmp")
	a_off=$1 a_rcv=$2 a_drp=$3 a_scd=$4 a_qw=$5 a_cm=$6
	extra=
	if [ "$slow" = yes ]; then
		set -- $(run_anomd "$r" "$slowdir")
		extra="	$2	$3	$4	$5	$6	($1 pps)"
	fi
	label=$r
	[ "$r" = topspeed ] && label="top"
	printf '%s\n' "$label ${t_off}/${a_off}	$t_rcv	$t_drp	$a_rcv	$a_drp	$a_scd	$a_qw	$a_cm$extra"
done
echo "(offered: tcpreplay's own pps for the tcpdump/anomd trials; qwait: times"
echo " the capture waited for a full record queue; commit: mean store commit)"
