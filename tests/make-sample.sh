#!/bin/bash
# make-sample.sh [OUTPUT.pcap]: record tests/data/sample.pcap (the default
# output), a small labelled capture for anomd, in a lab made of network
# namespaces; about 5.5 minutes.  tests/data/SAMPLE.md describes the result.
# make-sample.sh --summary FILE.pcap: print the summary of a capture (no root).
#
# The lab (all of it inside namespaces this script creates and deletes):
#
#   smp-sw   "switch": bridge br0 in hub mode (ageing_time 0, so every frame
#            is flooded to every port), one veth port per host
#   smp-mon  capture host: tcpdump on its port sees each frame exactly once
#   smp-web  10.20.30.10   nginx, static files of 200 B to 500 KB
#   smp-dns  10.20.30.53   dnsmasq, authoritative for lab.test, no upstream
#   smp-c1..smp-c4  10.20.30.101-104   benign clients (curl, dig, ping)
#   smp-atk  10.20.30.66   attacker, silent until the attack
#
# No namespace has a default route or any link to the host's namespace, so
# nothing can leave the lab.  Every loop is bounded in count and time.
#
# Timeline, in seconds of packet time from the first captured packet:
#   0 .. BASELINE_SECONDS (240)  benign traffic only (the baseline)
#   BASELINE_SECONDS             nmap -sS -T4 -Pn top 1000 TCP ports of web,
#                                then nmap -sU top 100 UDP ports of dns,
#                                then an ICMP echo sweep of 10.20.30.0/24
#   attack end .. + TAIL_SECONDS (60)  benign traffic only
# Benign traffic runs throughout.
#
# Needs root and, on Debian 12: iproute2 tcpdump nginx-light dnsmasq-base
# curl dnsutils iputils-ping nmap ethtool tshark (capinfos).  Clients draw
# their actions from bash RANDOM with fixed seeds; timing is real, so two
# runs differ in detail but not in shape.  BASELINE_SECONDS and TAIL_SECONDS
# may be set in the environment for a quicker trial run.
set -euo pipefail

prog=make-sample.sh
die() { echo "$prog: $*" >&2; exit 1; }

net=10.20.30
web_ip=$net.10
dns_ip=$net.53
atk_ip=$net.66

utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.%3NZ; }
# span FILE FILTER: "first last" epoch times of the packets FILTER matches
span() {
	tshark -r "$1" -Y "$2" -T fields -e frame.time_epoch 2>/dev/null |
		awk 'NR == 1 { f = $1 } { l = $1 } END { print f, l }'
}
# convs FILE PROTO [FILTER]: how many conversations tshark's conv table lists
convs() { tshark -r "$1" -q -z "conv,$2${3:+,$3}" 2>/dev/null | grep -c '<->' || true; }

# summary FILE: packets, duration, attack window and conversation counts
summary() {
	local f=$1 t0 a_first a_last p_first p_last base name filter
	t0=$(tshark -r "$f" -c 1 -T fields -e frame.time_epoch 2>/dev/null)
	read -r a_first a_last < <(span "$f" "ip.addr == $atk_ip")
	# flows starting before the attack: TCP and UDP by address and port pair
	# (as tshark's conv tables count them), ICMP echo by host pair
	base=$(tshark -r "$f" -Y '(tcp || udp || icmp.type == 8) && !icmp.type == 3' -T fields \
		-E separator=/t -e frame.time_epoch -e ip.proto -e ip.src -e ip.dst \
		-e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport 2>/dev/null |
		awk -F'\t' -v lim="$a_first" '{
			a = $3 ":" $5 $7; b = $4 ":" $6 $8
			k = $2 " " (a < b ? a " " b : b " " a)
			if (!(k in seen)) { seen[k] = 1; if ($1 < lim) n++ }
		} END { print n + 0 }')
	echo "== $f"
	capinfos -M -t -E -c -u -a -e -s "$f" | sed 's/^/  /'
	printf '  %-20s %s  %s\n' "first packet" "$t0" "$(utc "$t0")"
	printf '  %-20s %s\n' "attacker" "$atk_ip" \
		"targets" "$web_ip (TCP SYN scan), $dns_ip (UDP scan), $net.0/24 (ICMP sweep)"
	for name in attack "SYN scan" "UDP scan" "ICMP sweep"; do
		case $name in
		attack) filter="ip.addr == $atk_ip" ;;
		"SYN scan") filter="ip.src == $atk_ip && tcp && !icmp" ;;
		"UDP scan") filter="ip.src == $atk_ip && udp && !icmp" ;;
		*) filter="ip.src == $atk_ip && icmp.type == 8" ;;
		esac
		read -r p_first p_last < <(span "$f" "$filter")
		printf '  %-20s %s .. %s  (%s .. %s s; %s .. %s)\n' "$name" "$p_first" "$p_last" \
			"$(awk -v a="$p_first" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" \
			"$(awk -v a="$p_last" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" \
			"$(utc "$p_first")" "$(utc "$p_last")"
	done
	printf '  %-20s %s  (%s with %s)\n' \
		"TCP conversations" "$(convs "$f" tcp)" "$(convs "$f" tcp "ip.addr==$atk_ip")" "$atk_ip" \
		"UDP conversations" "$(convs "$f" udp)" "$(convs "$f" udp "ip.addr==$atk_ip")" "$atk_ip"
	printf '  %-20s %s (TCP and UDP conversations, ICMP echo host pairs)\n' \
		"flows before attack" "$base"
}

if [[ ${1:-} == --summary ]]; then
	[[ -f ${2:-} ]] || die "usage: $prog --summary FILE.pcap"
	summary "$2"
	exit 0
fi

if [[ $EUID -ne 0 ]]; then
	die "must run as root (it creates network namespaces); try: sudo $0 $*"
fi

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/data/sample.pcap}
BASELINE_SECONDS=${BASELINE_SECONDS:-240}
TAIL_SECONDS=${TAIL_SECONDS:-60}
MAX_SECONDS=$((BASELINE_SECONDS + TAIL_SECONDS + 300)) # hard stop for clients

for t in ip tcpdump nginx dnsmasq curl dig ping nmap ethtool tshark capinfos timeout awk; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done

client_ips=("$net.101" "$net.102" "$net.103" "$net.104")
# host namespace, address, last MAC byte (fixed MACs keep the layout stable)
hosts=(
	"smp-web $web_ip 0a"
	"smp-dns $dns_ip 35"
	"smp-c1 ${client_ips[0]} 65"
	"smp-c2 ${client_ips[1]} 66"
	"smp-c3 ${client_ips[2]} 67"
	"smp-c4 ${client_ips[3]} 68"
	"smp-atk $atk_ip 42"
)
sw=smp-sw
mon=smp-mon
all_ns=("$sw" "$mon")
for h in "${hosts[@]}"; do all_ns+=("${h%% *}"); done

for ns in "${all_ns[@]}"; do
	if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
		die "namespace $ns already exists (another run, or a stale one: ip netns del $ns)"
	fi
done

tmp=$(mktemp -d /tmp/make-sample.XXXXXX)
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

log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "$prog" "$*" >&2; }

# ---------------------------------------------------------------- the lab
log "building the lab in $tmp"
for ns in "${all_ns[@]}"; do
	ip netns add "$ns"
	made_ns+=("$ns")
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$sw" link add br0 type bridge ageing_time 0 stp_state 0 mcast_snooping 0
ip -n "$sw" link set br0 up

# port NS PORTNAME MACBYTE: a veth from the switch to eth0 in NS, offloads off
# so the capture holds wire-sized frames with real checksums.
port() {
	ip -n "$sw" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$1" link set eth0 address "02:00:0a:14:1e:$3"
	ip netns exec "$sw" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
	ip netns exec "$1" ethtool -K eth0 tx off tso off gso off gro off >/dev/null 2>&1 || true
	ip -n "$sw" link set "$2" master br0 up
	ip -n "$1" link set eth0 up
}
port "$mon" p-mon ff
for h in "${hosts[@]}"; do
	read -r ns addr mac <<<"$h"
	port "$ns" "p-${ns#smp-}" "$mac"
	ip -n "$ns" addr add "$addr/24" dev eth0
	# resolver for processes run with ip netns exec in this namespace
	mkdir -p "/etc/netns/$ns"
	made_etc+=("/etc/netns/$ns")
	printf 'nameserver %s\nsearch lab.test\noptions timeout:1 attempts:2\n' "$dns_ip" \
		>"/etc/netns/$ns/resolv.conf"
	printf '127.0.0.1 localhost\n%s %s.lab.test %s\n' "$addr" "${ns#smp-}" "${ns#smp-}" \
		>"/etc/netns/$ns/hosts"
done
# nmap's UDP scan gets a prompt port-unreachable for every probe
ip netns exec smp-dns sysctl -q -w net.ipv4.icmp_ratelimit=0
ip netns exec smp-dns sysctl -q -w net.ipv4.icmp_msgs_burst=10000 2>/dev/null || true

# ---------------------------------------------------------------- web server
log "generating web content"
www=$tmp/www
mkdir -p "$www"/{news,css,js,api,img,docs,downloads} "$tmp/nginx"
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
	}' >"$www/$1"
}
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

cat >"$tmp/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 512; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log $tmp/nginx/access.log;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	keepalive_timeout 8s;
	sendfile off;
	server {
		listen $web_ip:80 default_server;
		server_name web.lab.test www.lab.test;
		root $www;
		index index.html;
	}
}
EOF
ip netns exec smp-web nginx -t -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx/t.log" ||
	{ cat "$tmp/nginx/t.log" >&2; die "nginx configuration rejected"; }
ip netns exec smp-web nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
pids+=($!)

# ---------------------------------------------------------------- DNS server
dns_args=(
	--keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll
	--user=root --group=root --pid-file= --bind-interfaces --listen-address="$dns_ip"
	--except-interface=lo --no-dhcp-interface=eth0 --local=/lab.test/ --domain-needed
	--bogus-priv --log-facility="$tmp/dnsmasq.log"
	--host-record="web.lab.test,$web_ip" --host-record="dns.lab.test,$dns_ip"
	--host-record="ns1.lab.test,$dns_ip" --cname=www.lab.test,web.lab.test
	--cname=static.lab.test,web.lab.test --mx-host=lab.test,mail.lab.test,10
	--txt-record=lab.test,"v=spf1 mx -all"
)
names=(mail files intranet wiki git ci build backup nas printer1 printer2 vpn
	proxy ldap db1 db2 cache monitor grafana chat calendar time api app1 app2
	dev1 dev2 lab1 lab2 voip camera1)
dns_names=(web www static dns ns1)
i=0
for n in "${names[@]}"; do
	dns_args+=(--host-record="$n.lab.test,$net.$((150 + i))")
	dns_names+=("$n")
	i=$((i + 1))
done
for k in 1 2 3 4; do
	dns_args+=(--host-record="client$k.lab.test,${client_ips[k - 1]}")
	dns_names+=("client$k")
done
ip netns exec smp-dns dnsmasq "${dns_args[@]}" &
pids+=($!)

# wait for both servers, bounded
for _ in $(seq 50); do
	if ip netns exec smp-c1 curl -s -o /dev/null --max-time 1 "http://$web_ip/api/status.json" 2>/dev/null &&
		ip netns exec smp-c1 dig +short +time=1 +tries=1 "@$dns_ip" web.lab.test | grep -q .; then
		ready=1
		break
	fi
	sleep 0.2
done
[[ ${ready:-} ]] || die "servers did not come up"
sleep 2 # let the readiness probes' connections finish before the capture

# ---------------------------------------------------------------- clients
cat >"$tmp/client.sh" <<'EOF'
#!/bin/bash
# client.sh ID SEED STOPFILE DEADLINE NAME...: benign traffic until STOPFILE
# exists or the epoch DEADLINE passes (at most 20000 iterations).
set -u
id=$1 RANDOM=$2 stop=$3 deadline=$4
shift 4
names=("$@")
base=http://web.lab.test
small=(/ /index.html /about.html /contact.html /favicon.ico /css/site.css
	/api/status.json /api/items.json)
for i in $(seq -w 1 20); do small+=("/news/article$i.html"); done
medium=(/js/app.js /img/logo.png /img/banner.jpg)
large=(/img/photo.jpg /docs/handbook.pdf /downloads/tool.tar.gz)
agents=("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/118.0"
	"curl/7.88.1" "lab-monitor/1.2" "python-requests/2.28.1")
peers=(10.20.30.10 10.20.30.53 10.20.30.101 10.20.30.102 10.20.30.103 10.20.30.104)
ua=${agents[(id - 1) % ${#agents[@]}]}
pick() { local -n a=$1; echo "${a[RANDOM % ${#a[@]}]}"; }
get() { timeout 20 curl -s -o /dev/null --max-time 15 -A "$ua" "$@" 2>/dev/null; }
nap() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# per-client mix, in 1/10000: small page, keep-alive burst, HEAD/404,
# medium, large, dig name, dig NXDOMAIN, dig other type, dig over TCP; the
# rest is ping.  Mostly DNS and small pages: many flows, few bytes.
case $id in
1) mix=(1000 250 200 30 3 5900 900 700 100); napmin=130 napspan=280 ;; # browser
2) mix=(1100 80 150 10 1 6500 800 400 100); napmin=100 napspan=260 ;; # API poller
3) mix=(500 100 100 10 1 6300 1500 900 200); napmin=80 napspan=240 ;; # DNS-heavy
*) mix=(900 180 250 25 3 5600 1200 600 100); napmin=130 napspan=300 ;; # mixed
esac
for ((n = 0; n < 20000; n++)); do
	[[ -e $stop ]] && break
	((EPOCHSECONDS < deadline)) || break
	r=$(((RANDOM * 32768 + RANDOM) % 10000))
	k=0
	while ((k < 9 && r >= mix[k])); do r=$((r - mix[k])); k=$((k + 1)); done
	case $k in
	0) if ((id == 2 && RANDOM % 2)); then get "$base/api/status.json"
	   else get "$base$(pick small)"; fi ;;
	1) # one connection, several requests (keep-alive)
	   args=(); m=$((2 + RANDOM % 4)); for ((j = 0; j < m; j++)); do args+=(-o /dev/null "$base$(pick small)"); done
	   timeout 20 curl -s --max-time 15 -A "$ua" "${args[@]}" 2>/dev/null ;;
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
	*) timeout 5 ping -q -n -c $((1 + RANDOM % 3)) -i 0.3 -W 1 "$(pick peers)" >/dev/null 2>&1 ;;
	esac
	nap $((napmin + RANDOM % napspan))
done
EOF

# ---------------------------------------------------------------- capture
tcpdump_pcap=$tmp/capture.pcap
ip netns exec "$mon" tcpdump -i eth0 -s 0 -n -U -Z root -w "$tcpdump_pcap" 2>"$tmp/tcpdump.log" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
for _ in $(seq 50); do grep -q listening "$tmp/tcpdump.log" && break; sleep 0.1; done
grep -q listening "$tmp/tcpdump.log" || die "tcpdump did not start: $(cat "$tmp/tcpdump.log")"
sleep 0.5

t0=$(date +%s)
log "capture started; benign clients for ${BASELINE_SECONDS}s before the attack"
k=1
client_pids=()
for ns in smp-c1 smp-c2 smp-c3 smp-c4; do
	ip netns exec "$ns" bash "$tmp/client.sh" "$k" $((4242 + k * 101)) "$tmp/stop" \
		$((t0 + MAX_SECONDS)) "${dns_names[@]}" &
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
sleep_until $((t0 + BASELINE_SECONDS))

# ---------------------------------------------------------------- attack
atk_start=$(date +%s.%N)
log "attack: SYN scan of $web_ip from $atk_ip"
ip netns exec smp-atk timeout 300 nmap -sS -T4 -Pn -n --top-ports 1000 --max-retries 2 \
	"$web_ip" -oN "$tmp/nmap-syn.txt" >/dev/null || log "SYN scan failed (ignored)"
sleep 5
log "attack: UDP scan of $dns_ip"
ip netns exec smp-atk timeout 120 nmap -sU -T4 -Pn -n --top-ports 100 --max-retries 1 \
	"$dns_ip" -oN "$tmp/nmap-udp.txt" >/dev/null || log "UDP scan failed (ignored)"
sleep 3
log "attack: ICMP echo sweep of $net.0/24"
ip netns exec smp-atk timeout 120 nmap -sn -PE --send-ip -n --max-retries 1 "$net.1-254" \
	-oN "$tmp/nmap-sweep.txt" >/dev/null || log "ping sweep failed (ignored)"
atk_end=$(date +%s.%N)
log "attack over after $(awk -v a="$atk_start" -v b="$atk_end" 'BEGIN { printf "%.1f", b - a }')s; ${TAIL_SECONDS}s more benign traffic"
grep -E '^[0-9]+/(tcp|udp)' "$tmp/nmap-syn.txt" "$tmp/nmap-udp.txt" | sed 's/^/  /' >&2 || true

sleep_until "$(awk -v a="$atk_end" -v t="$TAIL_SECONDS" 'BEGIN { printf "%.3f", a + t }')"
touch "$tmp/stop"
for p in "${client_pids[@]}"; do
	timeout 30 tail --pid="$p" -f /dev/null || kill "$p" 2>/dev/null || true
done
sleep 1
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
grep -E 'captured|dropped' "$tmp/tcpdump.log" | sed 's/^/  tcpdump: /' >&2 || true

mkdir -p "$(dirname "$out")"
cp "$tcpdump_pcap" "$out"

summary "$out"
