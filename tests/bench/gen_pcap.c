/*
 * gen_pcap: write a large synthetic capture for `make bench`.
 *
 * The generator works in two passes.  It first plans every flow (kind,
 * hosts, ports, start time, packet count) so that the file holds exactly
 * the asked number of packets and flows.  It then plays the flows out in
 * time order: a flow becomes active at its start time, builds its packet
 * script (direction, TCP flags, payload length and the gap before each
 * packet) and waits in a min-heap keyed by the time of its next packet.
 * Only active flows (a few thousand) hold scripts, so memory stays small
 * whatever the packet count, and many flows interleave as on a real link.
 *
 * Three shapes (-m): "bench", described below; "short", the same
 * machinery with only short TCP exchanges and DNS pairs and the spare
 * packets spread evenly, about 9 a flow; "flood", a bench-mix lead-in and
 * then a spoofed SYN flood, one new 5-tuple a packet, merged in time order.
 *
 * The mix is an office edge seen from a span port near the clients: ~70 %
 * TCP (mostly TLS and HTTP request/response rounds with a heavy tail of
 * bulk transfers, plus resets, refused and unanswered SYNs), ~25 % UDP (DNS
 * with real questions and answers, NTP, RTP-like media, syslog), ~5 % ICMP
 * echo; ~4 % of flows use IPv6.  Every length and checksum is right, so
 * tshark and anomd see well-formed traffic, and payload sizes vary so the
 * file stays near 500 MB at the defaults.
 *
 * The output depends only on the options and the libm in use (the heavy
 * tails go through log and exp), so a seed reproduces a capture on one
 * machine; -p prints the stamp that run-bench.sh compares before reusing a
 * capture.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bump whenever the bytes written for the same options change. */
#define GEN_VERSION 1

#define DEF_PACKETS 2200000
#define DEF_FLOWS 200000
#define DEF_SEED 1
#define DEF_SPAN_S 600

/* -m short: the bench mix without the heavy tail, ~9 packets a flow. */
#define SHORT_PACKETS 1800000
/* -m flood: a benign lead-in (enough to train on the first 120 s), then
 * the flood, one new 5-tuple per packet, at a steady rate. */
#define FLOOD_LEAD_PACKETS 550000
#define FLOOD_LEAD_FLOWS 50000
#define FLOOD_LEAD_SPAN_S 150
#define FLOOD_PACKETS 2000000
#define FLOOD_PPS 200000
#define FLOOD_DPORT 80

#define N_CLIENTS 1500
#define N_RESOLVERS 2
#define N_INTERNAL 48
#define N_EXTERNAL 1000
#define FIRST_RESOLVER N_CLIENTS
#define FIRST_INTERNAL (FIRST_RESOLVER + N_RESOLVERS)
#define FIRST_EXTERNAL (FIRST_INTERNAL + N_INTERNAL)
#define N_HOSTS (FIRST_EXTERNAL + N_EXTERNAL)

#define BASE_TIME_S 1700000000u
#define ETH_HLEN 14
#define ETH_MIN_FRAME 60
#define MTU_BYTES 1500
#define MAX_FRAME_BYTES (ETH_HLEN + MTU_BYTES)
#define IP4_HLEN 20
#define IP6_HLEN 40
#define TCP_HLEN 20
#define TCP_HLEN_TS 32 /* NOP, NOP, timestamps */
#define TCP_HLEN_SYN 40 /* MSS, SACK-permitted, timestamps, NOP, wscale */
#define UDP_HLEN 8
#define ICMP_HLEN 8
#define PATTERN_BYTES 65536

/* A flow whose heavy-tail weight is above this would dwarf the others. */
#define MAX_WEIGHT 1000.0
#define MAX_ROUNDS 32

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define USEC UINT64_C(1000000)

enum kind {
	K_TCP,
	K_TCP_RST,
	K_TCP_REFUSED,
	K_TCP_NOANSWER,
	K_DNS,
	K_NTP,
	K_MEDIA,
	K_SYSLOG,
	K_ICMP,
	K_ICMP_NOREPLY,
	K_COUNT
};

enum mode {
	MODE_BENCH, /* the office mix with a heavy tail of bulk transfers */
	MODE_SHORT, /* short TCP exchanges and DNS pairs only */
	MODE_FLOOD, /* a bench-mix lead-in, then a spoofed SYN flood */
};

static const char *const mode_names[] = {"bench", "short", "flood"};

/*
 * Share of flows per kind, in per mille, per mode.  Bench (and the flood's
 * lead-in): TCP 700, UDP 250, ICMP 50.  Short: a handshake, a few data
 * segments and a FIN (or a reset, a refusal, an unanswered SYN), or a DNS
 * request and its answer.
 */
static const struct {
	enum kind kind;
	unsigned permille;
	unsigned short_permille;
	const char *name;
} kinds[K_COUNT] = {
    {K_TCP, 595, 700, "tcp"},
    {K_TCP_RST, 42, 30, "tcp-rst"},
    {K_TCP_REFUSED, 35, 20, "tcp-refused"},
    {K_TCP_NOANSWER, 28, 10, "tcp-noanswer"},
    {K_DNS, 175, 240, "dns"},
    {K_NTP, 20, 0, "ntp"},
    {K_MEDIA, 30, 0, "udp-media"},
    {K_SYSLOG, 25, 0, "syslog"},
    {K_ICMP, 42, 0, "icmp-echo"},
    {K_ICMP_NOREPLY, 8, 0, "icmp-noreply"},
};

/* TCP services by share; internal ones are served from inside the LAN. */
static const struct {
	uint16_t port;
	unsigned permille;
	int internal;
} services[] = {
    {443, 620, 0},
    {80, 140, 0},
    {8443, 30, 0},
    {8080, 30, 0},
    {993, 30, 0},
    {465, 20, 0},
    {22, 40, 1},
    {445, 40, 1},
    {3389, 20, 1},
    {3306, 20, 1},
    {5432, 10, 1},
};

static const char *const domains[] = {"example.com", "example.net",
    "example.org", "wikipedia.org", "debian.org", "github.com",
    "githubusercontent.com", "googleapis.com", "gstatic.com", "akamaiedge.net",
    "cloudfront.net", "fastly.net", "office.com", "microsoft.com",
    "windowsupdate.com", "apple.com", "icloud.com", "ubuntu.com", "mozilla.org",
    "amazonaws.com", "slack.com", "zoom.us", "bbc.co.uk", "lemonde.fr",
    "spiegel.de", "nytimes.com", "stackoverflow.com", "doubleclick.net",
    "sentry.io", "pool.ntp.org"};

static const char *const prefixes[] = {"www", "api", "cdn", "mail", "static",
    "img", "login", "update", "assets", "edge", "ws", "m", "docs", "auth",
    "telemetry", "s3"};

/* Cleartext HTTP: every segment carries whole messages, padded to size. */
static const char http_request[] = "GET /api/v1/items HTTP/1.1\r\n"
				   "Host: www.example.com\r\n"
				   "Accept: */*\r\nX-Pad: ";
static const char http_response[] = "HTTP/1.1 200 OK\r\n"
				    "Content-Type: text/plain\r\n"
				    "Content-Length: %5u\r\n\r\n";
#define HTTP_MIN_SEG 96

static const char syslog_text[] =
    "<134>Nov 14 22:13:20 host app[4211]: request served status=200 "
    "bytes=48213 user=alice duration_ms=12 path=/api/v2/items "
    "trace=5f2c1a9b0e7d4c3a8b6f1e2d3c4b5a69 more detail follows";

/* What TCP and UDP payload bytes look like, so dissectors stay happy. */
enum app {
	APP_OPAQUE, /* pseudo-random bytes */
	APP_TLS, /* one TLS application-data record per segment */
	APP_HTTP, /* whole HTTP messages per segment */
	APP_TEXT, /* syslog lines */
};

struct rng {
	uint64_t s[4];
};

struct host {
	uint32_t v4;
	uint8_t v6[16];
	uint8_t mac[6];
	uint8_t ttl; /* as seen at the capture point */
	int external; /* behind the router */
	uint16_t next_port;
};

struct plan {
	uint64_t start_us; /* since the capture start */
	float weight; /* share of the spare packets (bulk TCP) */
	uint32_t npkts;
	uint16_t client;
	uint16_t server;
	uint16_t sport; /* ICMP: echo identifier */
	uint16_t dport;
	uint8_t kind;
	uint8_t v6;
};

struct step {
	uint32_t gap_us; /* after the flow's previous packet */
	uint16_t len; /* payload bytes (not for DNS) */
	uint8_t dir; /* 0 client to server, 1 back */
	uint8_t flags; /* TCP flags */
};

struct flow {
	const struct plan *p;
	struct step *steps;
	uint32_t pos;
	uint32_t rtt_us;
	uint32_t isn[2];
	uint32_t seq[2];
	uint32_t ts_base[2];
	uint32_t ts_last[2];
	uint32_t flowlabel[2];
	uint32_t ssrc[2];
	uint16_t ipid[2];
	uint16_t rtpseq[2];
	uint16_t window[2];
	uint16_t icmp_seq;
	uint16_t dns_id;
	uint16_t qtype;
	uint8_t rcode;
	uint8_t nans;
	uint8_t qname[256];
	uint8_t qname_len;
	uint8_t winping; /* 32-byte Windows echo payload instead of 56 */
	uint8_t app; /* enum app: how payloads look */
};

struct hent {
	uint64_t t_us;
	uint32_t slot;
};

struct gen {
	struct rng rng;
	enum mode mode;
	uint64_t seed;
	uint64_t npackets; /* flood: of the lead-in */
	size_t nflows; /* flood: of the lead-in */
	uint64_t span_us; /* flood: of the lead-in's flow starts */
	uint64_t flood_packets;
	uint64_t flood_pps;
	uint64_t flood_sent;
	uint32_t flood_ctr; /* source addresses handed out, skipped ones too */
	const char *path;
	FILE *out;
	struct host hosts[N_HOSTS];
	double client_cdf[N_CLIENTS];
	double external_cdf[N_EXTERNAL];
	uint8_t router_mac[6];
	struct plan *plan;
	struct flow *flows; /* active flows, indexed by slot */
	uint32_t *free_slots;
	size_t nslots;
	size_t nfree;
	struct hent *heap;
	size_t heap_len;
	uint64_t last_us;
	uint64_t written;
	uint64_t file_bytes;
	uint64_t per_kind[K_COUNT];
	uint8_t pattern[PATTERN_BYTES];
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

/* xoshiro256**: fast, and the same stream on every platform. */
static uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s, res, t;

	res = s[1] * 5;
	res = ((res << 7) | (res >> 57)) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return res;
}

static uint32_t
rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static uint32_t
rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

/* Uniform in (0, 1): never 0, so log() is safe. */
static double
rng_unit(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) * 0x1p-53;
}

static double
rng_normal(struct rng *r)
{
	double u = rng_unit(r), v = rng_unit(r);

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Log-normal microseconds around median, clamped: network delays. */
static uint32_t
rng_delay(
    struct rng *r, double median_us, double sigma, uint32_t lo, uint32_t hi)
{
	double d = median_us * exp(sigma * rng_normal(r));

	if (d < lo)
		return lo;
	if (d > hi)
		return hi;
	return (uint32_t)d;
}

static size_t
cdf_pick(const double *cdf, size_t n, double u)
{
	size_t lo = 0, hi = n - 1, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Zipf-like popularity: a few hosts carry most of the flows. */
static void
cdf_zipf(double *cdf, size_t n, double s)
{
	double sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		cdf[i] = sum += pow((double)(i + 1), -s);
	for (i = 0; i < n; i++)
		cdf[i] /= sum;
}

static void
host_mac(struct host *h, uint32_t tag)
{
	h->mac[0] = 0x02;
	h->mac[1] = 0x42;
	h->mac[2] = (uint8_t)(tag >> 24);
	h->mac[3] = (uint8_t)(tag >> 16);
	h->mac[4] = (uint8_t)(tag >> 8);
	h->mac[5] = (uint8_t)tag;
}

static void
host_v6(struct host *h, uint16_t net, uint32_t id)
{
	static const uint8_t ula[6] = {0xfd, 0x00, 0x0a, 0x0b, 0x0c, 0x00};
	static const uint8_t doc[4] = {0x20, 0x01, 0x0d, 0xb8};

	memset(h->v6, 0, sizeof(h->v6));
	memcpy(h->v6, h->external ? doc : ula, h->external ? 4 : 6);
	h->v6[6] = (uint8_t)(net >> 8);
	h->v6[7] = (uint8_t)net;
	h->v6[12] = (uint8_t)(id >> 24);
	h->v6[13] = (uint8_t)(id >> 16);
	h->v6[14] = (uint8_t)(id >> 8);
	h->v6[15] = (uint8_t)id;
}

/* A public-looking IPv4 address outside private and reserved blocks. */
static uint32_t
public_v4(struct rng *r)
{
	uint32_t a;
	unsigned o;

	for (;;) {
		a = (uint32_t)rng_next(r);
		o = a >> 24;
		if (o == 0 || o == 10 || o == 100 || o == 127 || o == 169 ||
		    o == 172 || o == 192 || o == 198 || o >= 224)
			continue;
		if ((a & 0xff) == 0 || (a & 0xff) == 255)
			continue;
		return a;
	}
}

/* Clients, resolvers and internal servers on 10/8, the rest outside. */
static void
hosts_init(struct gen *g)
{
	struct host *h;
	uint32_t i;

	for (i = 0; i < N_HOSTS; i++) {
		h = &g->hosts[i];
		h->external = i >= FIRST_EXTERNAL;
		if (i < FIRST_RESOLVER) {
			h->v4 = 0x0a010000u + (i / 250) * 256 + i % 250 + 1;
			h->ttl = rng_below(&g->rng, 10) < 7 ? 64 : 128;
		} else if (i < FIRST_INTERNAL) {
			h->v4 = 0x0a000035u + (i - FIRST_RESOLVER);
			h->ttl = 64;
		} else if (i < FIRST_EXTERNAL) {
			h->v4 = 0x0a000100u + (i - FIRST_INTERNAL) + 1;
			h->ttl = rng_below(&g->rng, 4) == 0 ? 128 : 64;
		} else {
			h->v4 = public_v4(&g->rng);
			h->ttl = rng_below(&g->rng, 3) == 0 ? 128 : 64;
			if (rng_below(&g->rng, 8) == 0)
				h->ttl = 255;
			/* Seen after a few routers' worth of hops. */
			h->ttl -= (uint8_t)rng_range(&g->rng, 5, 24);
		}
		host_v6(h, (uint16_t)(h->v4 >> 8), h->v4);
		host_mac(h, h->v4);
		h->next_port = (uint16_t)rng_range(&g->rng, 32768, 60999);
	}
	memcpy(g->router_mac, "\x00\x1b\x21\x3a\x4f\x01", 6);
	cdf_zipf(g->client_cdf, N_CLIENTS, 0.6);
	cdf_zipf(g->external_cdf, N_EXTERNAL, 1.0);
}

/* An ephemeral port, handed out in order so no two flows share a tuple. */
static uint16_t
host_port(struct gen *g, uint16_t client)
{
	struct host *h = &g->hosts[client];
	uint16_t port = h->next_port;

	h->next_port += (uint16_t)rng_range(&g->rng, 1, 3);
	if (h->next_port > 60999 || h->next_port < 32768)
		h->next_port = 32768 + (h->next_port & 0xff);
	return port;
}

static uint16_t
pick_external(struct gen *g)
{
	return (uint16_t)(FIRST_EXTERNAL +
	    cdf_pick(g->external_cdf, N_EXTERNAL, rng_unit(&g->rng)));
}

static uint16_t
pick_internal(struct gen *g)
{
	return (
	    uint16_t)(FIRST_INTERNAL + 1 + rng_below(&g->rng, N_INTERNAL - 1));
}

static enum kind
pick_kind(struct gen *g)
{
	unsigned u = rng_below(&g->rng, 1000), acc = 0;
	int i;

	for (i = 0; i < K_COUNT - 1; i++) {
		acc += g->mode == MODE_SHORT ? kinds[i].short_permille
					     : kinds[i].permille;
		if (u < acc)
			break;
	}
	return kinds[i].kind;
}

/* Server and port of a TCP flow; refused and unanswered SYNs scan more. */
static void
plan_tcp_service(struct gen *g, struct plan *p)
{
	unsigned u, acc = 0;
	size_t i, n = sizeof(services) / sizeof(services[0]);

	u = rng_below(&g->rng, 1000);
	for (i = 0; i < n - 1; i++) {
		acc += services[i].permille;
		if (u < acc)
			break;
	}
	p->dport = services[i].port;
	p->server = services[i].internal ? pick_internal(g) : pick_external(g);
	if ((p->kind == K_TCP_REFUSED || p->kind == K_TCP_NOANSWER) &&
	    rng_below(&g->rng, 2) == 0)
		p->dport = (uint16_t)rng_range(&g->rng, 1, 1024);
}

/* Pick hosts and ports; fixed-size kinds get their packet count here. */
static void
plan_endpoints(struct gen *g, struct plan *p)
{
	struct rng *r = &g->rng;

	p->client = (uint16_t)cdf_pick(g->client_cdf, N_CLIENTS, rng_unit(r));
	p->sport = host_port(g, p->client);
	p->v6 = rng_below(r, 100) < 4;
	switch ((enum kind)p->kind) {
	case K_TCP:
	case K_TCP_RST:
		plan_tcp_service(g, p);
		p->npkts = p->kind == K_TCP ? 10 : 5;
		/* Short flows share the spare packets about evenly. */
		if (g->mode == MODE_SHORT)
			p->weight = (float)(0.25 + rng_unit(r));
		else
			p->weight =
			    (float)fmin(pow(rng_unit(r), -1 / 1.4), MAX_WEIGHT);
		break;
	case K_TCP_REFUSED:
		plan_tcp_service(g, p);
		p->npkts = 2;
		break;
	case K_TCP_NOANSWER:
		plan_tcp_service(g, p);
		p->npkts = rng_range(r, 1, 3);
		break;
	case K_DNS:
		p->server =
		    (uint16_t)(FIRST_RESOLVER + rng_below(r, N_RESOLVERS));
		p->dport = 53;
		p->npkts = rng_below(r, 100) < 95 ? 2 : rng_range(r, 1, 3);
		break;
	case K_NTP:
		p->server = (uint16_t)(FIRST_EXTERNAL + rng_below(r, 4));
		p->dport = 123;
		p->npkts = 2;
		break;
	case K_MEDIA:
		p->server = pick_external(g);
		/* Even RTP ports in a range no default dissector claims. */
		p->dport = (uint16_t)(rng_range(r, 10300, 11100) * 2);
		p->sport = (uint16_t)(rng_range(r, 10300, 11100) * 2);
		p->npkts = rng_range(r, 6, 80);
		break;
	case K_SYSLOG:
		p->server = FIRST_INTERNAL;
		p->dport = 514;
		p->npkts = rng_range(r, 1, 6);
		break;
	case K_ICMP:
	case K_ICMP_NOREPLY:
		p->server =
		    rng_below(r, 10) < 7 ? pick_external(g) : pick_internal(g);
		p->dport = 0;
		p->npkts = rng_range(r, 1, 4);
		if (p->kind == K_ICMP)
			p->npkts *= 2;
		break;
	case K_COUNT:
		break;
	}
}

/*
 * Plan all flows: Poisson arrivals over the span, then the spare packets
 * (beyond each kind's minimum) spread over bulk-capable TCP flows by their
 * heavy-tailed weights, so that the total is exactly g->npackets.
 */
static int
plan_flows(struct gen *g)
{
	double mean_gap = (double)g->span_us / (double)g->nflows, t = 0;
	double wsum = 0;
	uint64_t fixed = 0, spare, given = 0;
	size_t i, nbulk = 0;
	struct plan *p;

	if (g->nflows == 0) /* a flood without a lead-in */
		return g->npackets == 0 ? 0 : -EINVAL;
	g->plan = calloc(g->nflows, sizeof(*g->plan));
	if (g->plan == NULL)
		return -ENOMEM;
	for (i = 0; i < g->nflows; i++) {
		p = &g->plan[i];
		t += -log(rng_unit(&g->rng)) * mean_gap;
		p->start_us = (uint64_t)t;
		p->kind = (uint8_t)pick_kind(g);
		plan_endpoints(g, p);
		fixed += p->npkts;
		wsum += p->weight;
		nbulk += p->weight > 0;
	}
	if (fixed > g->npackets || (nbulk == 0 && fixed < g->npackets)) {
		fprintf(stderr,
		    "gen_pcap: %zu flows need about %" PRIu64
		    " packets, not %" PRIu64 "\n",
		    g->nflows, fixed, g->npackets);
		return -EINVAL;
	}
	spare = g->npackets - fixed;
	for (i = 0; i < g->nflows; i++) {
		p = &g->plan[i];
		if (p->weight > 0) {
			uint64_t add = (uint64_t)((double)spare *
			    (double)p->weight / wsum);

			if (add > spare - given) /* rounding up */
				add = spare - given;
			p->npkts += (uint32_t)add;
			given += add;
		}
	}
	/* Rounding leaves a few packets over: one more to each in turn. */
	for (i = 0; given < spare; i = (i + 1) % g->nflows) {
		if (g->plan[i].weight > 0) {
			g->plan[i].npkts++;
			given++;
		}
	}
	return 0;
}

/* Segment payload sizes: many small records, some medium, some full. */
static uint32_t
seg_len(struct rng *r, const struct flow *f, uint16_t mss)
{
	uint32_t u = rng_below(r, 100), lo = 24;

	if (f->app == APP_HTTP)
		lo = HTTP_MIN_SEG;
	if (u < 50)
		return rng_range(r, lo, 200);
	if (u < 85)
		return rng_range(r, 200, 900);
	return mss;
}

static uint16_t
flow_mss(const struct flow *f)
{
	return (uint16_t)(MTU_BYTES - (f->p->v6 ? IP6_HLEN : IP4_HLEN) -
	    TCP_HLEN_TS);
}

static struct step *
add_step(struct step *s, uint8_t dir, uint8_t flags, uint32_t len, uint32_t gap)
{
	s->dir = dir;
	s->flags = flags;
	s->len = (uint16_t)len;
	s->gap_us = gap;
	return s + 1;
}

/* Gap before a packet: the capture sits near the client, so replies come
 * a round trip later and the client's own packets follow at once. */
static uint32_t
react(struct gen *g, const struct flow *f, uint8_t dir)
{
	if (dir == 1)
		return f->rtt_us;
	return rng_range(&g->rng, 15, 200);
}

/* One request/response round of exactly b packets with delayed ACKs. */
static struct step *
tcp_round(struct gen *g, struct flow *f, struct step *s, uint32_t b, int first)
{
	struct rng *r = &g->rng;
	uint16_t mss = flow_mss(f);
	uint32_t rc = 1, rs, acks, k;

	if (b >= 8 && rng_below(r, 5) == 0)
		rc += rng_below(r, 3);
	rs = (2 * (b - rc) + 2) / 3;
	acks = b - rc - rs;
	for (k = 0; k < rc; k++)
		s = add_step(s, 0, TH_ACK | (k == rc - 1 ? TH_PSH : 0),
		    seg_len(r, f, mss),
		    k > 0	? rng_range(r, 10, 150)
			: first ? rng_range(r, 30, 2000)
				: rng_delay(r, 40000, 1.5, 100, 5 * USEC));
	for (k = 0; k < rs; k++) {
		s = add_step(s, 1, TH_ACK | (k == rs - 1 ? TH_PSH : 0),
		    seg_len(r, f, mss),
		    k > 0 ? rng_range(r, 20, 400)
			  : f->rtt_us + rng_delay(r, 800, 1.2, 30, USEC));
		if ((k & 1) && acks > 0) {
			s = add_step(s, 0, TH_ACK, 0, rng_range(r, 10, 120));
			acks--;
		}
	}
	for (; acks > 0; acks--)
		s = add_step(s, 0, TH_ACK, 0, rng_range(r, 10, 300));
	return s;
}

/* Data of d packets in a few rounds; bulk flows get bigger rounds. */
static struct step *
tcp_data(struct gen *g, struct flow *f, struct step *s, uint32_t d)
{
	uint32_t rounds = 1 + d / 12, r, b;

	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	for (r = 0; r < rounds; r++) {
		b = r == rounds - 1 ? d : d / (rounds - r);
		s = tcp_round(g, f, s, b, r == 0);
		d -= b;
	}
	return s;
}

static void
script_tcp(struct gen *g, struct flow *f)
{
	struct rng *r = &g->rng;
	struct step *s = f->steps;
	uint32_t n = f->p->npkts, i;
	uint8_t x;

	s = add_step(s, 0, TH_SYN, 0, 0);
	switch ((enum kind)f->p->kind) {
	case K_TCP_NOANSWER:
		/* Linux retransmits an unanswered SYN after 1 s, then 2 s. */
		for (i = 1; i < n; i++)
			s = add_step(
			    s, 0, TH_SYN, 0, (uint32_t)(USEC << (i - 1)));
		return;
	case K_TCP_REFUSED:
		add_step(s, 1, TH_RST | TH_ACK, 0, f->rtt_us);
		return;
	default:
		break;
	}
	s = add_step(s, 1, TH_SYN | TH_ACK, 0, f->rtt_us);
	s = add_step(s, 0, TH_ACK, 0, rng_range(r, 15, 200));
	x = (uint8_t)(rng_below(r, 10) < 6 ? 0 : 1);
	if (f->p->kind == K_TCP_RST) {
		s = tcp_data(g, f, s, n - 4);
		add_step(s, x, TH_RST | TH_ACK, 0,
		    rng_delay(r, 100000, 1.5, 100, 8 * USEC));
		return;
	}
	s = tcp_data(g, f, s, n - 7);
	s = add_step(s, x, TH_FIN | TH_ACK, 0,
	    rng_delay(r, 200000, 2.0, 100, 15 * USEC));
	s = add_step(s, !x, TH_ACK, 0, react(g, f, !x));
	s = add_step(s, !x, TH_FIN | TH_ACK, 0, rng_range(r, 10, 1000));
	add_step(s, x, TH_ACK, 0, react(g, f, x));
}

static void
script_udp(struct gen *g, struct flow *f)
{
	struct rng *r = &g->rng;
	struct step *s = f->steps;
	uint32_t n = f->p->npkts, i;

	switch ((enum kind)f->p->kind) {
	case K_DNS:
		s = add_step(s, 0, 0, 0, 0);
		if (n == 3)
			s = add_step(s, 0, 0, 0, USEC);
		if (n >= 2)
			add_step(
			    s, 1, 0, 0, rng_delay(r, 2000, 1.5, 80, 500000));
		break;
	case K_NTP:
		s = add_step(s, 0, 0, 48, 0);
		add_step(s, 1, 0, 48, f->rtt_us);
		break;
	case K_MEDIA:
		/* Both ends send 20 ms voice frames, interleaved. */
		for (i = 0; i < n; i++)
			s = add_step(s, (uint8_t)(i & 1), 0, 172,
			    i == 0 ? 0 : rng_range(r, 5000, 15000));
		break;
	case K_SYSLOG:
		for (i = 0; i < n; i++)
			s = add_step(s, 0, 0,
			    rng_range(r, 60, sizeof(syslog_text) - 1),
			    i == 0 ? 0 : rng_delay(r, 50000, 1.5, 50, USEC));
		break;
	default:
		break;
	}
}

/* ping: a request a second, each answered a round trip later. */
static void
script_icmp(struct gen *g, struct flow *f)
{
	struct step *s = f->steps;
	uint32_t n = f->p->npkts, i;
	uint32_t len = f->winping ? 32 : 56;

	(void)g;
	for (i = 0; i < n; i++) {
		if (f->p->kind == K_ICMP && (i & 1))
			s = add_step(s, 1, 0, len, f->rtt_us);
		else
			s = add_step(s, 0, 0, len,
			    i == 0 ? 0
				   : USEC -
				    (f->p->kind == K_ICMP ? f->rtt_us : 0));
	}
}

/* A plausible name in DNS wire format: labels with length bytes. */
static void
dns_name(struct gen *g, struct flow *f)
{
	struct rng *r = &g->rng;
	const char *dom =
	    domains[rng_below(r, sizeof(domains) / sizeof(domains[0]))];
	const char *pre =
	    prefixes[rng_below(r, sizeof(prefixes) / sizeof(prefixes[0]))];
	char name[200], *lab, *save = NULL;
	uint32_t u = rng_below(r, 100);
	size_t n = 0, l;

	if (u < 55)
		snprintf(name, sizeof(name), "%s.%s", pre, dom);
	else if (u < 75)
		snprintf(name, sizeof(name), "%s", dom);
	else if (u < 90)
		snprintf(
		    name, sizeof(name), "%s-%u.%s", pre, rng_below(r, 64), dom);
	else
		snprintf(name, sizeof(name), "d%08" PRIx64 ".%s",
		    rng_next(r) & UINT64_C(0xffffffffff), dom);
	for (lab = strtok_r(name, ".", &save); lab != NULL;
	     lab = strtok_r(NULL, ".", &save)) {
		l = strlen(lab);
		f->qname[n++] = (uint8_t)l;
		memcpy(f->qname + n, lab, l);
		n += l;
	}
	f->qname[n++] = 0;
	f->qname_len = (uint8_t)n;
}

/* Question type, answer count and rcode of a DNS exchange. */
static void
dns_plan(struct gen *g, struct flow *f)
{
	struct rng *r = &g->rng;
	uint32_t u = rng_below(r, 100);

	dns_name(g, f);
	f->dns_id = (uint16_t)rng_next(r);
	f->rcode = 0;
	if (u < 70) {
		f->qtype = 1;
		f->nans = (uint8_t)rng_range(r, 1, 4);
	} else if (u < 92) {
		f->qtype = 28;
		f->nans = (uint8_t)rng_range(r, 1, 2);
	} else if (u < 97) {
		f->qtype = 65;
		f->nans = 0;
	} else {
		f->qtype = 16;
		f->nans = 1;
	}
	if (rng_below(r, 100) < 6) {
		f->rcode = 3;
		f->nans = 0;
	}
}

static enum app
flow_app(const struct plan *p)
{
	if (p->kind == K_SYSLOG)
		return APP_TEXT;
	if (p->kind > K_TCP_NOANSWER)
		return APP_OPAQUE;
	switch (p->dport) {
	case 80:
	case 8080:
		return APP_HTTP;
	case 443:
	case 465:
	case 993:
	case 8443:
		return APP_TLS;
	default:
		return APP_OPAQUE;
	}
}

/* A free slot in the active flow array, growing it when all are taken. */
static int
slot_get(struct gen *g, uint32_t *slot)
{
	size_t n = g->nslots ? g->nslots * 2 : 1024;
	struct flow *nf;
	uint32_t *ns;

	if (g->nfree == 0) {
		if ((nf = realloc(g->flows, n * sizeof(*nf))) == NULL)
			return -ENOMEM;
		g->flows = nf;
		if ((ns = realloc(g->free_slots, n * sizeof(*ns))) == NULL)
			return -ENOMEM;
		g->free_slots = ns;
		while (g->nslots < n)
			g->free_slots[g->nfree++] = (uint32_t)g->nslots++;
	}
	*slot = g->free_slots[--g->nfree];
	return 0;
}

/* Start a planned flow: its per-flow state and its packet script. */
static int
flow_start(struct gen *g, const struct plan *p, uint32_t *slotp)
{
	struct rng *r = &g->rng;
	struct flow *f;
	uint32_t slot;
	int d, rc;

	if ((rc = slot_get(g, &slot)) != 0)
		return rc;
	f = &g->flows[slot];
	memset(f, 0, sizeof(*f));
	f->p = p;
	f->steps = calloc(p->npkts, sizeof(*f->steps));
	if (f->steps == NULL)
		return -ENOMEM;
	f->rtt_us = g->hosts[p->server].external
	    ? rng_delay(r, 25000, 0.8, 1000, 400000)
	    : rng_delay(r, 400, 0.5, 60, 5000);
	for (d = 0; d < 2; d++) {
		f->isn[d] = (uint32_t)rng_next(r);
		f->ts_base[d] = (uint32_t)rng_next(r);
		f->flowlabel[d] = (uint32_t)rng_next(r) & 0xfffff;
		f->ssrc[d] = (uint32_t)rng_next(r);
		f->ipid[d] = (uint16_t)rng_next(r);
		f->rtpseq[d] = (uint16_t)rng_next(r);
		f->window[d] = (uint16_t)rng_range(r, 229, 2048);
	}
	f->winping = g->hosts[p->client].ttl == 128;
	f->app = flow_app(p);
	switch ((enum kind)p->kind) {
	case K_TCP:
	case K_TCP_RST:
	case K_TCP_REFUSED:
	case K_TCP_NOANSWER:
		script_tcp(g, f);
		break;
	case K_DNS:
		dns_plan(g, f);
		/* FALLTHROUGH */
	case K_NTP:
	case K_MEDIA:
	case K_SYSLOG:
		script_udp(g, f);
		break;
	case K_ICMP:
	case K_ICMP_NOREPLY:
		script_icmp(g, f);
		break;
	case K_COUNT:
		break;
	}
	*slotp = slot;
	return 0;
}

static void
put16(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void
put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static uint32_t
csum_add(uint32_t sum, const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An HTTP request or response of exactly len >= HTTP_MIN_SEG bytes. */
static void
fill_http(uint8_t dir, uint8_t *b, size_t len)
{
	char hdr[128];
	size_t n, i;

	if (dir == 0) {
		n = sizeof(http_request) - 1;
		memcpy(b, http_request, n);
		for (i = n; i < len - 4; i++)
			b[i] = (uint8_t)('a' + i % 26);
		memcpy(b + len - 4, "\r\n\r\n", 4);
		return;
	}
	/* Bodies stay under 100000 bytes, so %5u keeps the header length. */
	n = (size_t)snprintf(hdr, sizeof(hdr), http_response,
	    (unsigned)(len - (sizeof(http_response) - 1 - 3 + 5)));
	memcpy(b, hdr, n);
	for (i = n; i < len; i++)
		b[i] = (uint8_t)('a' + i % 26);
}

/* Fill a payload with a cheap pattern shaped like the application. */
static void
fill_payload(struct gen *g, const struct flow *f, uint8_t dir, uint8_t *b,
    size_t len, uint32_t off)
{
	size_t i;

	off %= PATTERN_BYTES - MTU_BYTES;
	switch ((enum app)f->app) {
	case APP_HTTP:
		if (len >= HTTP_MIN_SEG)
			fill_http(dir, b, len);
		else
			memset(b, 'a', len);
		break;
	case APP_TEXT:
		for (i = 0; i < len; i++)
			b[i] =
			    (uint8_t)syslog_text[i % (sizeof(syslog_text) - 1)];
		break;
	case APP_TLS:
		memcpy(b, g->pattern + off, len);
		if (len > 5) {
			memcpy(b, "\x17\x03\x03", 3);
			put16(b + 3, (uint32_t)(len - 5));
		}
		break;
	case APP_OPAQUE:
		memcpy(b, g->pattern + off, len);
		break;
	}
}

/* TCP segment with Linux-style options; returns the TCP length. */
static size_t
build_tcp(struct gen *g, struct flow *f, const struct step *s, uint8_t *b,
    uint64_t t_us)
{
	uint8_t d = s->dir, *o;
	size_t hlen = TCP_HLEN_TS;
	uint32_t seq, ack = 0, tsval;

	if (s->flags & TH_SYN) {
		seq = f->isn[d];
		f->seq[d] = seq + 1;
		hlen = TCP_HLEN_SYN;
	} else {
		seq = f->seq[d];
		f->seq[d] += s->len + (s->flags & TH_FIN ? 1 : 0);
	}
	if (s->flags & TH_ACK)
		ack = f->seq[!d];
	if ((s->flags & TH_RST) && f->p->kind == K_TCP_REFUSED) {
		seq = 0;
		hlen = TCP_HLEN;
	}
	put16(b, d ? f->p->dport : f->p->sport);
	put16(b + 2, d ? f->p->sport : f->p->dport);
	put32(b + 4, seq);
	put32(b + 8, ack);
	b[12] = (uint8_t)(hlen / 4 << 4);
	b[13] = s->flags;
	put16(b + 14, s->flags & TH_SYN ? 64240 : f->window[d]);
	put32(b + 16, 0);
	o = b + TCP_HLEN;
	tsval = f->ts_base[d] + (uint32_t)(t_us / 1000);
	if (hlen == TCP_HLEN_SYN) {
		memcpy(o, "\x02\x04\x00\x00\x04\x02\x08\x0a", 8);
		put16(o + 2, flow_mss(f) + TCP_HLEN_TS - TCP_HLEN);
		put32(o + 8, tsval);
		put32(o + 12, (s->flags & TH_ACK) ? f->ts_last[!d] : 0);
		memcpy(o + 16, "\x01\x03\x03\x07", 4);
	} else if (hlen == TCP_HLEN_TS) {
		memcpy(o, "\x01\x01\x08\x0a", 4);
		put32(o + 4, tsval);
		put32(o + 8, f->ts_last[!d]);
	}
	f->ts_last[d] = tsval;
	fill_payload(g, f, d, b + hlen, s->len, seq);
	return hlen + s->len;
}

static size_t
build_dns(const struct flow *f, const struct step *s, uint8_t *b)
{
	size_t n = 12, i;

	put16(b, f->dns_id);
	put16(b + 2, s->dir ? 0x8180u | f->rcode : 0x0100u);
	put16(b + 4, 1);
	put16(b + 6, s->dir ? f->nans : 0);
	put32(b + 8, 0);
	memcpy(b + n, f->qname, f->qname_len);
	n += f->qname_len;
	put16(b + n, f->qtype);
	put16(b + n + 2, 1);
	n += 4;
	for (i = 0; s->dir && i < f->nans; i++) {
		/* Name by pointer to the question, type, class IN, TTL. */
		put16(b + n, 0xc00c);
		put16(b + n + 2, f->qtype);
		put16(b + n + 4, 1);
		put32(b + n + 6, 300 + (f->dns_id % 3300));
		n += 10;
		if (f->qtype == 1) {
			put16(b + n, 4);
			put32(b + n + 2, 0x5db8d800u + f->dns_id + (uint32_t)i);
			n += 6;
		} else if (f->qtype == 28) {
			put16(b + n, 16);
			memcpy(b + n + 2,
			    "\x26\x06\x28\x00\x02\x20\x00\x01"
			    "\x02\x48\x18\x93\x25\xc8\x19\x46",
			    16);
			b[n + 17] = (uint8_t)(f->dns_id + i);
			n += 18;
		} else {
			put16(b + n, 12);
			memcpy(b + n + 2, "\x0bv=spf1 -all", 12);
			n += 14;
		}
	}
	return n;
}

/* UDP datagram: DNS, NTP, RTP-like media or syslog; returns UDP length. */
static size_t
build_udp(struct gen *g, struct flow *f, const struct step *s, uint8_t *b,
    uint64_t t_us)
{
	uint8_t *pl = b + UDP_HLEN;
	size_t len = s->len;
	uint8_t d = s->dir;

	switch ((enum kind)f->p->kind) {
	case K_DNS:
		len = build_dns(f, s, pl);
		break;
	case K_NTP:
		memset(pl, 0, len);
		pl[0] = d ? 0x24 : 0x23;
		pl[1] = d ? 2 : 0;
		put32(pl + 40,
		    (uint32_t)(BASE_TIME_S + 2208988800ull + t_us / USEC));
		break;
	case K_MEDIA:
		pl[0] = 0x80;
		pl[1] = 0;
		put16(pl + 2, f->rtpseq[d]++);
		put32(pl + 4, (uint32_t)(t_us / 125));
		put32(pl + 8, f->ssrc[d]);
		fill_payload(g, f, d, pl + 12, len - 12, f->rtpseq[d] * 160u);
		break;
	default:
		fill_payload(g, f, d, pl, len, 0);
		break;
	}
	put16(b, d ? f->p->dport : f->p->sport);
	put16(b + 2, d ? f->p->sport : f->p->dport);
	put16(b + 4, (uint32_t)(UDP_HLEN + len));
	put16(b + 6, 0);
	return UDP_HLEN + len;
}

/* Echo request or reply, v4 or v6; the caller adds the checksum. */
static size_t
build_icmp(struct flow *f, const struct step *s, uint8_t *b)
{
	static const char win[] = "abcdefghijklmnopqrstuvwabcdefghi";
	size_t i;

	if (s->dir == 0)
		f->icmp_seq++;
	if (f->p->v6)
		b[0] = s->dir ? 129 : 128;
	else
		b[0] = s->dir ? 0 : 8;
	b[1] = 0;
	put16(b + 2, 0);
	put16(b + 4, f->p->sport);
	put16(b + 6, f->icmp_seq);
	for (i = 0; i < s->len; i++)
		b[ICMP_HLEN + i] = f->winping ? (uint8_t)win[i] : (uint8_t)i;
	return ICMP_HLEN + s->len;
}

/* IP header in front of an L4 of l4len bytes; also the L4 checksum. */
static size_t
build_ip(struct flow *f, const struct host *src, const struct host *dst,
    uint8_t dir, uint8_t proto, uint8_t *b, size_t l4len)
{
	size_t hlen = f->p->v6 ? IP6_HLEN : IP4_HLEN;
	uint8_t *l4 = b + hlen, pseudo[4];
	uint32_t sum = 0;
	uint16_t ck;
	int csum_at = proto == 6 ? 16 : proto == 17 ? 6 : 2;

	if (f->p->v6) {
		put32(b, 0x60000000u | f->flowlabel[dir]);
		put16(b + 4, (uint32_t)l4len);
		b[6] = proto == 1 ? 58 : proto;
		b[7] = src->ttl;
		memcpy(b + 8, src->v6, 16);
		memcpy(b + 24, dst->v6, 16);
		sum = csum_add(0, b + 8, 32);
	} else {
		b[0] = 0x45;
		b[1] = 0;
		put16(b + 2, (uint32_t)(IP4_HLEN + l4len));
		put16(b + 4, f->ipid[dir]++);
		put16(b + 6, proto == 1 ? 0 : 0x4000);
		b[8] = src->ttl;
		b[9] = proto;
		put16(b + 10, 0);
		put32(b + 12, src->v4);
		put32(b + 16, dst->v4);
		put16(b + 10, csum_fold(csum_add(0, b, IP4_HLEN)));
		if (proto != 1)
			sum = csum_add(0, b + 12, 8);
	}
	if (f->p->v6 || proto != 1) {
		put32(pseudo, (uint32_t)l4len);
		sum = csum_add(sum, pseudo, 4);
		sum += f->p->v6 && proto == 1 ? 58 : proto;
	}
	ck = csum_fold(csum_add(sum, l4, l4len));
	if (proto == 17 && ck == 0)
		ck = 0xffff;
	put16(l4 + csum_at, ck);
	return hlen + l4len;
}

/* Build one packet of flow f at t_us and append it to the capture. */
static int
emit(struct gen *g, struct flow *f, uint64_t t_us)
{
	uint8_t pkt[MAX_FRAME_BYTES + 64];
	const struct step *s = &f->steps[f->pos];
	const struct host *cl = &g->hosts[f->p->client];
	const struct host *sv = &g->hosts[f->p->server];
	const struct host *src = s->dir ? sv : cl, *dst = s->dir ? cl : sv;
	size_t l3 = ETH_HLEN, l4 = l3 + (f->p->v6 ? IP6_HLEN : IP4_HLEN);
	size_t len;
	uint8_t proto;
	uint32_t rec[4];

	if (f->p->kind <= K_TCP_NOANSWER) {
		proto = 6;
		len = build_tcp(g, f, s, pkt + l4, t_us);
	} else if (f->p->kind <= K_SYSLOG) {
		proto = 17;
		len = build_udp(g, f, s, pkt + l4, t_us);
	} else {
		proto = 1;
		len = build_icmp(f, s, pkt + l4);
	}
	len = l3 + build_ip(f, src, dst, s->dir, proto, pkt + l3, len);
	memcpy(pkt, dst->external ? g->router_mac : dst->mac, 6);
	memcpy(pkt + 6, src->external ? g->router_mac : src->mac, 6);
	put16(pkt + 12, f->p->v6 ? 0x86dd : 0x0800);
	if (len < ETH_MIN_FRAME) {
		memset(pkt + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	rec[0] = (uint32_t)(BASE_TIME_S + t_us / USEC);
	rec[1] = (uint32_t)(t_us % USEC);
	rec[2] = rec[3] = (uint32_t)len;
	if (fwrite(rec, sizeof(rec), 1, g->out) != 1 ||
	    fwrite(pkt, len, 1, g->out) != 1)
		return -EIO;
	g->written++;
	g->file_bytes += sizeof(rec) + len;
	return 0;
}

/*
 * The flood's next source: an affine map of a counter is a bijection on 32
 * bits, so no address comes twice; reserved and private ones are skipped.
 */
static uint32_t
flood_source(struct gen *g)
{
	uint32_t a;
	unsigned o;

	for (;;) {
		a = g->flood_ctr++ * 0x9e3779b1u + 0x7f4a7c15u;
		o = a >> 24;
		if (o == 0 || o == 10 || o == 100 || o == 127 || o == 169 ||
		    o == 172 || o == 192 || o == 198 || o >= 224)
			continue;
		if ((a & 0xff) == 0 || (a & 0xff) == 255)
			continue;
		return a;
	}
}

/* When the flood's next packet is due, UINT64_MAX once it is over. */
static uint64_t
flood_due(const struct gen *g)
{
	if (g->flood_sent >= g->flood_packets)
		return UINT64_MAX;
	return g->span_us + g->flood_sent * USEC / g->flood_pps;
}

/*
 * One spoofed SYN of the flood, as hping3 --flood -S sends it: a bare TCP
 * header from a new source address and a random port to the victim's web
 * port, random sequence number, IP id, TTL and window.
 */
static int
emit_flood(struct gen *g, uint64_t t_us)
{
	uint8_t pkt[ETH_MIN_FRAME];
	const struct host *victim = &g->hosts[FIRST_INTERNAL + 1];
	uint8_t *ip = pkt + ETH_HLEN, *tcp = ip + IP4_HLEN;
	uint32_t rec[4], sum, src = flood_source(g);
	struct rng *r = &g->rng;

	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, victim->mac, 6);
	memcpy(pkt + 6, g->router_mac, 6);
	put16(pkt + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, IP4_HLEN + TCP_HLEN);
	put16(ip + 4, (uint32_t)rng_next(r));
	ip[8] = (uint8_t)rng_range(r, 32, 250);
	ip[9] = 6;
	put32(ip + 12, src);
	put32(ip + 16, victim->v4);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP4_HLEN)));
	put16(tcp, rng_range(r, 1024, 65535));
	put16(tcp + 2, FLOOD_DPORT);
	put32(tcp + 4, (uint32_t)rng_next(r));
	tcp[12] = TCP_HLEN / 4 << 4;
	tcp[13] = TH_SYN;
	put16(tcp + 14, rng_range(r, 512, 65535));
	sum = csum_add(0, ip + 12, 8) + 6 + TCP_HLEN;
	put16(tcp + 16, csum_fold(csum_add(sum, tcp, TCP_HLEN)));
	rec[0] = (uint32_t)(BASE_TIME_S + t_us / USEC);
	rec[1] = (uint32_t)(t_us % USEC);
	rec[2] = rec[3] = ETH_MIN_FRAME;
	if (fwrite(rec, sizeof(rec), 1, g->out) != 1 ||
	    fwrite(pkt, sizeof(pkt), 1, g->out) != 1)
		return -EIO;
	g->written++;
	g->flood_sent++;
	g->file_bytes += sizeof(rec) + sizeof(pkt);
	return 0;
}

static void
heap_push(struct gen *g, uint64_t t_us, uint32_t slot)
{
	size_t i = g->heap_len++, up;

	while (i > 0) {
		up = (i - 1) / 2;
		if (g->heap[up].t_us <= t_us)
			break;
		g->heap[i] = g->heap[up];
		i = up;
	}
	g->heap[i].t_us = t_us;
	g->heap[i].slot = slot;
}

static struct hent
heap_pop(struct gen *g)
{
	struct hent top = g->heap[0], last = g->heap[--g->heap_len];
	size_t i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= g->heap_len)
			break;
		if (c + 1 < g->heap_len &&
		    g->heap[c + 1].t_us < g->heap[c].t_us)
			c++;
		if (last.t_us <= g->heap[c].t_us)
			break;
		g->heap[i] = g->heap[c];
		i = c;
	}
	if (g->heap_len > 0)
		g->heap[i] = last;
	return top;
}

/* A packet due at t_us goes out then, or just after the last one. */
static uint64_t
stamp_at(const struct gen *g, uint64_t t_us)
{
	return t_us > g->last_us || g->written == 0 ? t_us : g->last_us + 1;
}

/*
 * Play the plan: start flows at their start times and emit the earliest
 * pending packet each turn, the flood's included.  Timestamps are bumped
 * to stay strictly increasing when two packets fall in the same
 * microsecond.
 */
static int
play(struct gen *g)
{
	size_t next = 0;
	struct hent h;
	struct flow *f;
	uint32_t slot;
	uint64_t t, tf;
	int rc;

	g->heap = calloc(g->nflows + 1, sizeof(*g->heap));
	if (g->heap == NULL)
		return -ENOMEM;
	while (next < g->nflows || g->heap_len > 0 ||
	    g->flood_sent < g->flood_packets) {
		tf = flood_due(g);
		if (next < g->nflows &&
		    (g->heap_len == 0 ||
			g->plan[next].start_us <= g->heap[0].t_us) &&
		    g->plan[next].start_us <= tf) {
			if ((rc = flow_start(g, &g->plan[next], &slot)) != 0)
				return rc;
			g->per_kind[g->plan[next].kind]++;
			heap_push(g, g->plan[next++].start_us, slot);
			continue;
		}
		if (g->heap_len == 0 || g->heap[0].t_us > tf) {
			t = stamp_at(g, tf);
			if ((rc = emit_flood(g, t)) != 0)
				return rc;
			g->last_us = t;
			continue;
		}
		h = heap_pop(g);
		t = stamp_at(g, h.t_us);
		f = &g->flows[h.slot];
		if ((rc = emit(g, f, t)) != 0)
			return rc;
		g->last_us = t;
		if (++f->pos < f->p->npkts) {
			heap_push(g, t + f->steps[f->pos].gap_us, h.slot);
		} else {
			free(f->steps);
			g->free_slots[g->nfree++] = h.slot;
		}
	}
	return 0;
}

/* The classic pcap file header, in host byte order as libpcap writes it. */
static int
write_header(struct gen *g)
{
	struct {
		uint32_t magic;
		uint16_t major;
		uint16_t minor;
		int32_t thiszone;
		uint32_t sigfigs;
		uint32_t snaplen;
		uint32_t linktype;
	} hdr = {0xa1b2c3d4u, 2, 4, 0, 0, 65535, 1};

	if (fwrite(&hdr, sizeof(hdr), 1, g->out) != 1)
		return -EIO;
	g->file_bytes = sizeof(hdr);
	return 0;
}

static void
print_stamp(const struct gen *g, FILE *fp)
{
	fprintf(fp,
	    "gen_pcap v%d packets=%" PRIu64 " flows=%zu seed=%" PRIu64
	    " span=%" PRIu64,
	    GEN_VERSION, g->npackets, g->nflows, g->seed, g->span_us / USEC);
	if (g->mode != MODE_BENCH)
		fprintf(fp, " mode=%s", mode_names[g->mode]);
	if (g->mode == MODE_FLOOD)
		fprintf(fp, " flood=%" PRIu64 " rate=%" PRIu64,
		    g->flood_packets, g->flood_pps);
	fputc('\n', fp);
}

static void
print_summary(const struct gen *g)
{
	int i;

	fprintf(stderr,
	    "gen_pcap: %s: %" PRIu64 " packets, %zu flows, %" PRIu64
	    " bytes, %.1f s\n",
	    g->path, g->written, g->nflows + g->flood_packets, g->file_bytes,
	    (double)g->last_us / USEC);
	for (i = 0; i < K_COUNT; i++)
		fprintf(stderr, "gen_pcap:   %-13s %8" PRIu64 " flows\n",
		    kinds[i].name, g->per_kind[i]);
	if (g->mode == MODE_FLOOD)
		fprintf(stderr,
		    "gen_pcap:   %-13s %8" PRIu64 " flows from %.1f s\n",
		    "syn-flood", g->flood_sent, (double)g->span_us / USEC);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: gen_pcap [-p] [-m bench|short|flood] [-n PACKETS] "
	    "[-f FLOWS] [-s SEED]\n"
	    "                [-d SECONDS] [-F PACKETS] [-R PPS] -o OUT.pcap\n"
	    "  -m  shape (default bench):\n"
	    "        bench  office mix with a heavy tail of bulk transfers\n"
	    "        short  short TCP exchanges and DNS pairs, ~9 packets "
	    "a flow\n"
	    "        flood  a bench-mix lead-in, then a spoofed SYN flood\n"
	    "  -n  packets to write (default %d; short %d; flood: of the "
	    "lead-in, %d)\n"
	    "  -f  flows (default %d; flood: of the lead-in, %d; 0 for "
	    "none)\n"
	    "  -s  PRNG seed (default %d)\n"
	    "  -d  simulated span of flow starts, seconds (default %d; "
	    "flood %d)\n"
	    "  -F  flood packets, each a new 5-tuple (default %d)\n"
	    "  -R  flood packets per second (default %d)\n"
	    "  -p  print the parameter stamp and exit\n",
	    DEF_PACKETS, SHORT_PACKETS, FLOOD_LEAD_PACKETS, DEF_FLOWS,
	    FLOOD_LEAD_FLOWS, DEF_SEED, DEF_SPAN_S, FLOOD_LEAD_SPAN_S,
	    FLOOD_PACKETS, FLOOD_PPS);
	exit(2);
}

static uint64_t
parse_num(const char *s, uint64_t min, uint64_t max, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min ||
	    v > max) {
		fprintf(stderr,
		    "gen_pcap: %s %s out of range (%" PRIu64 "..%" PRIu64 ")\n",
		    what, s, min, max);
		exit(2);
	}
	return v;
}

static enum mode
parse_mode(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0)
			return (enum mode)i;
	fprintf(stderr, "gen_pcap: unknown mode %s\n", s);
	exit(2);
}

static int
parse_args(struct gen *g, int argc, char **argv)
{
	int c, stamp = 0, n_given = 0, f_given = 0, d_given = 0;

	g->mode = MODE_BENCH;
	g->npackets = DEF_PACKETS;
	g->nflows = DEF_FLOWS;
	g->seed = DEF_SEED;
	g->span_us = DEF_SPAN_S * USEC;
	g->flood_pps = FLOOD_PPS;
	g->flood_packets = FLOOD_PACKETS;
	while ((c = getopt(argc, argv, "m:n:f:s:d:F:R:o:ph")) != -1) {
		switch (c) {
		case 'm':
			g->mode = parse_mode(optarg);
			break;
		case 'n':
			g->npackets =
			    parse_num(optarg, 0, 1ull << 31, "packets");
			n_given = 1;
			break;
		case 'f':
			g->nflows = parse_num(optarg, 0, 1ull << 26, "flows");
			f_given = 1;
			break;
		case 'F':
			g->flood_packets =
			    parse_num(optarg, 1, 1ull << 31, "flood packets");
			break;
		case 'R':
			g->flood_pps =
			    parse_num(optarg, 1, 100000000, "flood rate");
			break;
		case 's':
			g->seed = parse_num(optarg, 0, UINT64_MAX, "seed");
			break;
		case 'd':
			g->span_us = parse_num(optarg, 1, 86400, "span") * USEC;
			d_given = 1;
			break;
		case 'o':
			g->path = optarg;
			break;
		case 'p':
			stamp = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (!stamp && g->path == NULL))
		usage();
	if (g->mode == MODE_SHORT && !n_given)
		g->npackets = SHORT_PACKETS;
	if (g->mode == MODE_FLOOD) {
		g->npackets = n_given ? g->npackets : FLOOD_LEAD_PACKETS;
		g->nflows = f_given ? g->nflows : FLOOD_LEAD_FLOWS;
		if (!d_given)
			g->span_us = FLOOD_LEAD_SPAN_S * USEC;
		if ((g->nflows == 0) != (g->npackets == 0)) {
			fprintf(stderr,
			    "gen_pcap: a lead-in needs both "
			    "packets and flows, or neither\n");
			exit(2);
		}
	} else {
		g->flood_packets = 0;
		if (g->nflows == 0 || g->npackets == 0) {
			fprintf(stderr,
			    "gen_pcap: packets and flows must be "
			    "at least 1\n");
			exit(2);
		}
	}
	return stamp;
}

int
main(int argc, char **argv)
{
	static struct gen g;
	size_t i;
	int rc;

	if (parse_args(&g, argc, argv)) {
		print_stamp(&g, stdout);
		return 0;
	}
	rng_seed(&g.rng, g.seed);
	for (i = 0; i < PATTERN_BYTES; i++)
		g.pattern[i] = (uint8_t)(rng_next(&g.rng) >> 56);
	hosts_init(&g);
	if ((rc = plan_flows(&g)) != 0)
		return 1;
	if ((g.out = fopen(g.path, "wb")) == NULL) {
		fprintf(
		    stderr, "gen_pcap: open %s: %s\n", g.path, strerror(errno));
		return 1;
	}
	setvbuf(g.out, NULL, _IOFBF, 1 << 20);
	if ((rc = write_header(&g)) == 0)
		rc = play(&g);
	if (fclose(g.out) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0) {
		fprintf(
		    stderr, "gen_pcap: write %s: %s\n", g.path, strerror(-rc));
		return 1;
	}
	print_summary(&g);
	free(g.plan);
	free(g.heap);
	free(g.flows);
	free(g.free_slots);
	return 0;
}
