/* Tests of flowtab.c and hostctx.c: direction, timeouts, memcap, hashing. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "capture/capture-int.h"
#include "tests/check-util.h"

#define S 1000000ull
#define MAX_RECS 2048

static struct flow_record recs[MAX_RECS];
static int nrecs;

/* Collect emitted records. */
static void
collect_cb(const struct flow_record *r, void *arg)
{
	(void)arg;
	ck_assert_int_lt(nrecs, MAX_RECS);
	recs[nrecs++] = *r;
}

/* A table with default timeouts, fixed seed and the given memcap. */
static struct flowtab *
table(size_t memcap)
{
	struct flowtab_opts o;

	flowtab_opts_default(&o);
	o.seed = 42;
	if (memcap)
		o.memcap = memcap;
	o.host_memcap = 1 << 20;
	nrecs = 0;
	return flowtab_create(&o, collect_cb, NULL);
}

/* Set an IPv4-mapped address 10.0.0.n. */
static void
v4(uint8_t *a, unsigned n)
{
	memset(a, 0, CAP_ADDR_LEN);
	a[10] = a[11] = 0xff;
	a[12] = 10;
	a[14] = (uint8_t)(n >> 8);
	a[15] = (uint8_t)n;
}

/* A decoded packet from host s:sp to host d:dp at time t (us). */
static struct cap_pkt
pkt(uint8_t proto, unsigned s, uint16_t sp, unsigned d, uint16_t dp, uint64_t t,
    uint8_t flags, uint32_t payload)
{
	struct cap_pkt p;

	memset(&p, 0, sizeof(p));
	p.kind = PKT_IP;
	p.ts_us = t;
	p.ipver = 4;
	p.proto = proto;
	p.ttl = 64;
	p.tcp_flags = flags;
	p.tcp_win = 1000;
	v4(p.src, s);
	v4(p.dst, d);
	p.sport = sp;
	p.dport = dp;
	p.has_l4 = 1;
	p.payload_wire = payload;
	p.wirelen = 54 + payload;
	return p;
}

#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define RST 0x04

/* Feed a packet. */
static void
feed(struct flowtab *ft, struct cap_pkt p)
{
	flowtab_packet(ft, &p);
}

START_TEST(test_direction)
{
	struct flowtab *ft = table(0);
	uint8_t a[16];

	feed(ft, pkt(17, 1, 5000, 2, 53, 1 * S, 0, 30));
	feed(ft, pkt(17, 2, 53, 1, 5000, 1 * S + 10, 0, 90));
	feed(ft, pkt(6, 3, 80, 4, 40000, 1 * S, SYN | ACK, 0));
	flowtab_flush(ft, FLOW_END_FLUSH);
	ck_assert_msg(nrecs == 2, "two flows should be emitted, got %d", nrecs);
	v4(a, 1);
	ck_assert_msg(memcmp(recs[1].src, a, 16) == 0 || recs[0].proto == 17,
	    "records are per flow");
	for (int i = 0; i < nrecs; i++) {
		if (recs[i].proto == 17) {
			v4(a, 1);
			ck_assert_msg(memcmp(recs[i].src, a, 16) == 0,
			    "initiator should be the first packet's sender");
			ck_assert_int_eq(recs[i].sport, 5000);
			ck_assert_int_eq(recs[i].dport, 53);
			ck_assert_msg(
			    recs[i].feat[1] == 1 && recs[i].feat[2] == 1,
			    "one packet should be counted each way");
			ck_assert_int_eq(recs[i].bytes, 54 + 30 + 54 + 90);
		} else {
			v4(a, 4);
			ck_assert_msg(memcmp(recs[i].src, a, 16) == 0,
			    "a SYN-ACK seen first should make its receiver "
			    "the initiator");
			ck_assert_int_eq(recs[i].dport, 80);
		}
		ck_assert_int_eq(recs[i].end, FLOW_END_FLUSH);
	}
	flowtab_free(ft);
}
END_TEST

/* One timeout case: packets, the time at which nothing may have ended yet,
 * the time at which the flow must have ended, and the reason. */
struct to_case {
	const char *name;
	uint8_t proto;
	uint8_t flags[4];
	int npkts;
	uint64_t quiet_s, end_s;
	enum flow_end why;
};

static const struct to_case to_cases[] = {
    {"udp idle", 17, {0}, 1, 59, 60, FLOW_END_IDLE},
    {"icmp idle", 1, {0}, 1, 29, 30, FLOW_END_IDLE},
    {"other idle", 47, {0}, 1, 59, 60, FLOW_END_IDLE},
    {"tcp half-open", 6, {SYN}, 1, 9, 10, FLOW_END_HALFOPEN},
    {"tcp established idle", 6, {SYN, SYN | ACK, ACK}, 3, 299, 300,
	FLOW_END_IDLE},
    {"tcp fin both ways", 6, {SYN, SYN | ACK, FIN | ACK, FIN | ACK}, 4, 1, 2,
	FLOW_END_FIN},
    {"tcp reset", 6, {SYN, RST | ACK}, 2, 1, 2, FLOW_END_RST},
    {"udp answered", 17, {0, 0}, 2, 1, 2, FLOW_END_ANSWERED},
};

START_TEST(test_timeouts)
{
	const struct to_case *c = &to_cases[_i];
	struct flowtab *ft = table(0);
	int k;

	for (k = 0; k < c->npkts; k++) {
		if (k % 2 == 0)
			feed(ft,
			    pkt(c->proto, 1, 1234, 2, 80, 100 * S, c->flags[k],
				0));
		else
			feed(ft,
			    pkt(c->proto, 2, 80, 1, 1234, 100 * S, c->flags[k],
				0));
	}
	flowtab_expire(ft, 100 * S + c->quiet_s * S);
	ck_assert_msg(nrecs == 0, "%s: flow should live %llu s", c->name,
	    (unsigned long long)c->quiet_s);
	flowtab_expire(ft, 100 * S + c->end_s * S);
	ck_assert_msg(nrecs == 1, "%s: flow should end at %llu s", c->name,
	    (unsigned long long)c->end_s);
	ck_assert_msg(recs[0].end == c->why, "%s: end reason %s, want %s",
	    c->name, flow_end_name(recs[0].end), flow_end_name(c->why));
	ck_assert_int_eq(flowtab_stats(ft)->flows_active, 0);
	flowtab_free(ft);
}
END_TEST

START_TEST(test_interim)
{
	struct flowtab *ft = table(0);
	uint64_t t;

	for (t = 0; t <= 700; t += 50)
		feed(ft, pkt(17, 1, 999, 2, 514, 1000 * S + t * S, 0, 10));
	ck_assert_msg(nrecs == 2,
	    "a 700 s flow should give 2 interim "
	    "records at 300 s steps, got %d",
	    nrecs);
	ck_assert_int_eq(recs[0].end, FLOW_END_ACTIVE);
	ck_assert_int_eq(recs[0].packets, 6);
	ck_assert_msg(recs[0].id == recs[1].id,
	    "interim records should keep the flow id");
	ck_assert_msg(recs[1].ts_first_us == 1300 * S,
	    "the second record should start where the first ended");
	ck_assert_msg(recs[1].feat[feat_index("continued")] == 1.0f,
	    "records after the first should be marked continued");
	ck_assert_msg(recs[0].feat[feat_index("init_flows_60s")] > 12.0f,
	    "the first record should keep the context of its start, got %g",
	    (double)recs[0].feat[feat_index("init_flows_60s")]);
	ck_assert_msg(recs[1].feat[feat_index("init_flows_60s")] < 0.01f,
	    "the next record should read the context of its own start, when "
	    "the one flow started 300 s before, got %g",
	    (double)recs[1].feat[feat_index("init_flows_60s")]);
	flowtab_flush(ft, FLOW_END_FLUSH);
	ck_assert_int_eq(nrecs, 3);
	ck_assert_int_eq(recs[2].packets, 15 - 12);
	flowtab_free(ft);
}
END_TEST

/*
 * A UDP exchange: packets at times in ms (negative: responder to
 * initiator), when it must still be open, when it must have ended and why.
 */
struct ans_case {
	const char *name;
	uint16_t port;
	int t_ms[5];
	int n;
	uint64_t open_ms, end_ms;
	enum flow_end why;
};

static const struct ans_case ans_cases[] = {
    {"dns answered", 53, {0, -10}, 2, 2009, 2010, FLOW_END_ANSWERED},
    {"dns two queries, two answers", 53, {0, 1, -10, -12}, 4, 2011, 2012,
	FLOW_END_ANSWERED},
    {"dns two queries, one answer", 53, {0, 1, -10}, 3, 59000, 60010,
	FLOW_END_IDLE},
    {"dns later query keeps it open", 53, {0, -10, 1000}, 3, 59000, 61000,
	FLOW_END_IDLE},
    {"dns later query answered again", 53, {0, -10, 1500, -1510}, 4, 3509, 3510,
	FLOW_END_ANSWERED},
    {"ntp answered", 123, {0, -5}, 2, 2004, 2005, FLOW_END_ANSWERED},
    {"other port, one request answered", 7777, {0, -5}, 2, 2004, 2005,
	FLOW_END_ANSWERED},
    {"other port, a stream", 7777, {0, -5, 20, -25}, 4, 59000, 60025,
	FLOW_END_IDLE},
    {"unanswered", 53, {0}, 1, 59000, 60000, FLOW_END_IDLE},
};

START_TEST(test_answered)
{
	const struct ans_case *c = &ans_cases[_i];
	struct flowtab *ft = table(0);
	const uint64_t t0 = 100 * S;
	int k, t;

	for (k = 0; k < c->n; k++) {
		t = c->t_ms[k];
		if (t > 0 || (t == 0 && k == 0))
			feed(ft,
			    pkt(17, 1, 40000, 2, c->port, t0 + t * 1000ull, 0,
				30));
		else
			feed(ft,
			    pkt(17, 2, c->port, 1, 40000, t0 - t * 1000ull, 0,
				90));
	}
	flowtab_expire(ft, t0 + c->open_ms * 1000);
	ck_assert_msg(nrecs == 0, "%s: the flow should be open at %llu ms",
	    c->name, (unsigned long long)c->open_ms);
	flowtab_expire(ft, t0 + c->end_ms * 1000);
	ck_assert_msg(nrecs == 1, "%s: the flow should have ended at %llu ms",
	    c->name, (unsigned long long)c->end_ms);
	ck_assert_msg(recs[0].end == c->why, "%s: end reason %s, want %s",
	    c->name, flow_end_name(recs[0].end), flow_end_name(c->why));
	ck_assert_int_eq(recs[0].packets, c->n);
	flowtab_free(ft);
}
END_TEST

/*
 * A DNS query answered, and a TCP connection closed, just before a burst of
 * 500 flows to the same server: both are emitted during the burst, yet
 * their responder context is the server's before it.
 */
START_TEST(test_context_from_flow_time)
{
	struct flowtab *ft = table(0);
	int r1 = feat_index("resp_flows_1s"),
	    r10 = feat_index("resp_flows_10s");
	int rs = feat_index("resp_src_hosts_1s");
	unsigned i;
	int k;

	feed(ft, pkt(17, 1, 40000, 2, 53, 10 * S, 0, 30));
	feed(ft, pkt(17, 2, 53, 1, 40000, 10 * S + 5000, 0, 90));
	feed(ft, pkt(6, 3, 50000, 2, 22, 10 * S + 100000, SYN, 0));
	feed(ft, pkt(6, 2, 22, 3, 50000, 10 * S + 100100, SYN | ACK, 0));
	feed(ft, pkt(6, 3, 50000, 2, 22, 10 * S + 100200, ACK, 0));
	feed(ft, pkt(6, 3, 50000, 2, 22, 10 * S + 900000, FIN | ACK, 0));
	feed(ft, pkt(6, 2, 22, 3, 50000, 10 * S + 900100, FIN | ACK, 0));
	for (i = 0; i < 500; i++)
		feed(ft,
		    pkt(6, 100 + i, 1024, 2, 80, 11 * S + i * 2000ull, SYN, 0));
	flowtab_expire(ft, 13 * S);
	ck_assert_msg(nrecs == 2,
	    "the answered and the closed flow should end 2 s after their "
	    "last packet, during the burst (%d records)",
	    nrecs);
	for (k = 0; k < 2; k++) {
		ck_assert_msg(
		    recs[k].feat[r1] < 3.0f && recs[k].feat[r10] < 6.0f,
		    "%s: the server's flow counts should be its own before the "
		    "burst, got %g (1 s) and %g (10 s)",
		    recs[k].proto == 17 ? "dns" : "ssh",
		    (double)recs[k].feat[r1], (double)recs[k].feat[r10]);
		ck_assert_msg(recs[k].feat[rs] < 2.1f,
		    "the server should have had at most two initiators, got %g",
		    (double)recs[k].feat[rs]);
	}
	ck_assert_int_eq(
	    recs[recs[0].proto == 17 ? 0 : 1].end, FLOW_END_ANSWERED);
	flowtab_flush(ft, FLOW_END_FLUSH);
	ck_assert_int_eq(nrecs, 502);
	ck_assert_msg(recs[501].feat[r1] > 200.0f && recs[501].feat[rs] > 50.0f,
	    "the burst's last flow should see the burst: %g flows, %g sources",
	    (double)recs[501].feat[r1], (double)recs[501].feat[rs]);
	flowtab_free(ft);
}
END_TEST

/* Host views kept per flow: 16-bit floats round-trip within 2^-11. */
START_TEST(test_view_packing)
{
	struct host_view iv, rv, iv2, rv2;
	struct host_view_pair p;
	static const float vals[] = {0.0f, 1e-10f, 1e-9f, 0.001f, 0.5f, 1.0f,
	    1.0078948f, 3.0f, 12.506944f, 255.0f, 1234.5f, 1.2e6f, 4e9f};
	float x, y;
	size_t i;
	int w;

	/*
	 * 200 B of flow, 16 of index (two 8-byte slots, at most half full),
	 * 32 of host views and 4 of the hint to the initiator's host record
	 * that spares its lookup at the end: within issue 2's 256 B.
	 */
	ck_assert_uint_le(flowtab_bytes_per_flow(), 256);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		memset(&iv, 0, sizeof(iv));
		memset(&rv, 0, sizeof(rv));
		for (w = 0; w < 3; w++)
			iv.flows[w] = iv.distinct_a[w] = iv.distinct_b[w] =
			    rv.flows[w] = rv.distinct_a[w] = vals[i];
		iv.fail_share = vals[i];
		host_view_pack(&iv, &rv, &p);
		memset(&iv2, 0xa5, sizeof(iv2));
		memset(&rv2, 0xa5, sizeof(rv2));
		host_view_unpack(&p, &iv2, &rv2);
		x = vals[i];
		for (w = 0; w < 3; w++) {
			y = iv2.flows[w];
			ck_assert_msg(y == iv2.distinct_a[w] &&
				y == iv2.distinct_b[w] && y == rv2.flows[w] &&
				y == rv2.distinct_a[w] && y == iv2.fail_share,
			    "every field should be restored alike");
			ck_assert_msg(
			    rv2.distinct_b[w] == 0.0f && rv2.fail_share == 0.0f,
			    "a responder's unused fields should read 0");
		}
		if (x < 4e-10f)
			ck_assert_msg(y == 0.0f, "%g should read 0, got %g",
			    (double)x, (double)y);
		else if (x > 4.2e9f)
			ck_assert_msg(y > 4.2e9f, "%g should saturate, got %g",
			    (double)x, (double)y);
		else
			ck_assert_msg(fabsf(y - x) <= x / 2048.0f,
			    "%g should come back within 2^-11, got %g",
			    (double)x, (double)y);
	}
}
END_TEST

/* Count flows from 10.0.0.1 to 10.0.0.2 at rate per_s from 0 to t_s. */
static float
steady_count(struct hostctx *hc, double per_s, double t_s, int w)
{
	struct host_view iv, rv;
	uint8_t a[16], b[16];
	uint64_t t, step = (uint64_t)(1e6 / per_s);

	v4(a, 1);
	v4(b, 2);
	for (t = 0; t <= (uint64_t)(t_s * 1e6); t += step)
		hostctx_flow_start(hc, 1000 * S + t, a, b, 80, &iv, &rv);
	ck_assert_msg(
	    iv.flows[w] == rv.flows[w], "one flow each way should count alike");
	return iv.flows[w];
}

/* Address 10.(n >> 16).(n >> 8).n, IPv4-mapped. */
static void
v4n(uint8_t a[16], uint32_t n)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = 10;
	a[13] = (uint8_t)(n >> 16);
	a[14] = (uint8_t)(n >> 8);
	a[15] = (uint8_t)n;
}

/*
 * The host index under churn: rounds of new sources, each round past the
 * idle time of the one before, so the expiry sweep frees records (and
 * their index entries) while others are made.  Every host of the current
 * round must still be found with its count (a lost or misplaced index
 * entry would make it read as new, 0 flows), and a host first seen now
 * reads as one peer and one port, as a full count would.
 */
START_TEST(test_host_index_churn)
{
	uint64_t key[2] = {7, 9}, t;
	struct host_view iv, rv;
	struct hostctx *hc = hostctx_create(1 << 20, key);
	uint8_t a[16], b[16];
	uint32_t round, i, n = 500;

	ck_assert_ptr_nonnull(hc);
	v4n(b, 0xfffff);
	for (round = 0; round < 8; round++) {
		t = 1000 * S + round * 200 * S;
		for (i = 0; i < n; i++) {
			v4n(a, round * n + i);
			hostctx_flow_start(hc, t + i, a, b, 80, &iv, &rv);
			ck_assert_msg(iv.distinct_a[2] > 0.99f &&
				iv.distinct_a[2] < 1.01f &&
				iv.distinct_b[0] > 0.99f &&
				iv.distinct_b[0] < 1.01f,
			    "a new host should read one port and one peer");
			/* the sweep runs while the round goes on */
			if (i % 50 == 0)
				hostctx_expire(hc, t + i);
		}
		for (i = 0; i < n; i++) {
			v4n(a, round * n + i);
			hostctx_read(hc, t + n, a, b, &iv, &rv);
			ck_assert_msg(iv.flows[2] > 0.9f,
			    "round %u host %u should still be known", round, i);
		}
		ck_assert_uint_le(hostctx_active(hc), 2 * n + 1);
	}
	hostctx_free(hc);
}
END_TEST

/*
 * Cold start: a steady 10 flows/s reads the same after 5 s of observing as
 * after 300 s, for every time constant.
 */
START_TEST(test_cold_start)
{
	static const float tau[3] = {1.0f, 10.0f, 60.0f};
	uint64_t key[2] = {1, 2};
	struct hostctx *hc;
	float early, late, want;
	int w;

	for (w = 0; w < 3; w++) {
		hc = hostctx_create(1 << 20, key);
		early = steady_count(hc, 10.0, 5.0, w);
		hostctx_free(hc);
		hc = hostctx_create(1 << 20, key);
		late = steady_count(hc, 10.0, 300.0, w);
		hostctx_free(hc);
		want = 10.0f * tau[w];
		ck_assert_msg(fabsf(early - late) < 0.05f * late &&
			fabsf(late - want) < 0.1f * want,
		    "tau %g s: a steady 10 flows/s should read ~%g after 5 s "
		    "(%g) and after 300 s (%g)",
		    (double)tau[w], (double)want, (double)early, (double)late);
	}
	ck_assert_msg(hostctx_warm_factor(60.0f, 0.0f) ==
		hostctx_warm_factor(60.0f, HOSTCTX_WARM_MIN_S),
	    "the correction should assume at least %g s", HOSTCTX_WARM_MIN_S);
	ck_assert_msg(hostctx_warm_factor(60.0f, 1200.0f) == 1.0f &&
		hostctx_warm_factor(1.0f, 20.0f) == 1.0f,
	    "past 20 time constants counts should not be corrected");
}
END_TEST

START_TEST(test_evict_order)
{
	size_t memcap = 64 * 1024;
	struct flowtab *ft = table(memcap);
	uint64_t cap = flowtab_stats(ft)->flows_max;
	unsigned i;

	/* the memcap holds its flows, fewer when the index rounds up */
	ck_assert_uint_le(cap, memcap / flowtab_bytes_per_flow());
	ck_assert_uint_ge(cap, memcap / flowtab_bytes_per_flow() * 9 / 10);
	for (i = 0; i < cap; i++)
		feed(ft, pkt(17, 1, (uint16_t)(1000 + i), 2, 53, S + i, 0, 0));
	feed(ft, pkt(17, 1, 1000, 2, 53, S + cap, 0, 0)); /* touch the first */
	ck_assert_msg(nrecs == 0, "nothing should be evicted below the cap");
	feed(ft, pkt(17, 1, 9, 2, 53, S + cap + 1, 0, 0));
	ck_assert_msg(nrecs == 1, "one flow should be evicted at the cap");
	ck_assert_int_eq(recs[0].end, FLOW_END_EVICT);
	ck_assert_msg(recs[0].sport == 1001,
	    "the least recently seen flow should go, not port %u",
	    recs[0].sport);
	feed(ft, pkt(17, 1, 10, 2, 53, S + cap + 2, 0, 0));
	ck_assert_int_eq(recs[1].sport, 1002);
	ck_assert_uint_eq(flowtab_stats(ft)->flows_active, cap);
	ck_assert_uint_eq(flowtab_stats(ft)->flows_evicted, 2);
	flowtab_free(ft);
}
END_TEST

START_TEST(test_memcap_too_small)
{
	struct flowtab_opts o;

	flowtab_opts_default(&o);
	o.memcap = 1000;
	errno = 0;
	ck_assert_msg(flowtab_create(&o, NULL, NULL) == NULL,
	    "a memcap below 64 KiB should be refused");
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_icmp_echo_pairs)
{
	struct flowtab *ft = table(0);

	/* The decoder gives request and reply the same (id, type) "ports". */
	feed(ft, pkt(1, 7, 0x1234, 9, 8 << 8, S, 0, 56));
	feed(ft, pkt(1, 9, 0x1234, 7, 8 << 8, S + 300, 0, 56));
	feed(ft, pkt(1, 7, 0x1234, 9, 8 << 8, 2 * S, 0, 56));
	flowtab_flush(ft, FLOW_END_FLUSH);
	ck_assert_msg(nrecs == 1,
	    "an echo reply should join its request's "
	    "flow, got %d flows",
	    nrecs);
	ck_assert_int_eq(recs[0].feat[1], 2);
	ck_assert_int_eq(recs[0].feat[2], 1);
	flowtab_free(ft);
}
END_TEST

START_TEST(test_port_reuse)
{
	struct flowtab *ft = table(0);

	feed(ft, pkt(6, 1, 4000, 2, 21, S, SYN, 0));
	feed(ft, pkt(6, 2, 21, 1, 4000, S + 1, RST | ACK, 0));
	feed(ft, pkt(6, 1, 4000, 2, 21, S + 2, SYN, 0));
	ck_assert_msg(nrecs == 1,
	    "a SYN on a reset flow should end it and start a new one");
	ck_assert_int_eq(recs[0].end, FLOW_END_RST);
	ck_assert_uint_eq(flowtab_stats(ft)->flows_created, 2);
	flowtab_free(ft);
}
END_TEST

START_TEST(test_fragments_and_icmp_errors)
{
	struct flowtab *ft = table(0);
	struct cap_pkt p;

	p = pkt(17, 1, 3333, 2, 53, S, 0, 3000);
	p.frag = 1;
	feed(ft, p);
	p.frag = 2;
	p.has_l4 = 0;
	feed(ft, p);
	feed(ft, p);
	p = pkt(1, 2, 0, 1, 3 << 8 | 3, S + 5, 0, 30);
	p.has_inner = 1;
	p.inner_proto = 17;
	v4(p.inner_src, 1);
	v4(p.inner_dst, 2);
	p.inner_sport = 3333;
	p.inner_dport = 53;
	feed(ft, p);
	flowtab_flush(ft, FLOW_END_FLUSH);
	ck_assert_msg(nrecs == 1,
	    "later fragments and the matched ICMP error "
	    "should not make flows, got %d records",
	    nrecs);
	ck_assert_uint_eq(flowtab_stats(ft)->fragments_later, 2);
	ck_assert_uint_eq(flowtab_stats(ft)->icmp_errors_matched, 1);
	ck_assert(recs[0].feat[feat_index("fragments")] == 1.0f);
	ck_assert(recs[0].feat[feat_index("icmp_errors")] == 1.0f);
	flowtab_free(ft);
}
END_TEST

/* Run a fixed packet sequence through a table with the given seed. */
static int
run_seeded(uint64_t seed, struct flow_record *out, int max)
{
	struct flowtab_opts o;
	struct flowtab *ft;
	unsigned i;

	flowtab_opts_default(&o);
	o.seed = seed;
	nrecs = 0;
	ft = flowtab_create(&o, collect_cb, NULL);
	for (i = 0; i < 500; i++)
		feed(ft,
		    pkt(6, i % 7, (uint16_t)(2000 + i), 100 + i % 13,
			(uint16_t)(i % 3 ? 80 : 443), S + i * 1000, SYN, 0));
	flowtab_flush(ft, FLOW_END_FLUSH);
	flowtab_free(ft);
	ck_assert_int_le(nrecs, max);
	memcpy(out, recs, (size_t)nrecs * sizeof(*out));
	return nrecs;
}

START_TEST(test_seeded_hash)
{
	static struct flow_record a[600], b[600];
	uint64_t k1[2] = {1, 2}, k2[2] = {1, 3};
	int na, nb;

	ck_assert_msg(cap_siphash(k1, "flow", 4) == cap_siphash(k1, "flow", 4),
	    "the hash should be a function of key and data");
	ck_assert_msg(cap_siphash(k1, "flow", 4) != cap_siphash(k2, "flow", 4),
	    "another key should give another hash");
	na = run_seeded(1, a, 600);
	nb = run_seeded(0xdeadbeef, b, 600);
	ck_assert_int_eq(na, 500);
	ck_assert_int_eq(na, nb);
	ck_assert_msg(memcmp(a, b, sizeof(a[0]) * (size_t)na) == 0,
	    "records should not depend on the hash seed");
}
END_TEST

START_TEST(test_host_context)
{
	struct flowtab *ft = table(0);
	int ports = feat_index("init_dst_ports_10s");
	int srcs = feat_index("resp_src_hosts_10s");
	int fail = feat_index("init_fail_share");
	unsigned i;

	/* Host 1 probes 40 ports of host 2 in 4 s; each gets a RST. */
	for (i = 0; i < 40; i++) {
		feed(ft,
		    pkt(6, 1, 5555, 2, (uint16_t)(100 + i), S + i * 100000, SYN,
			0));
		feed(ft,
		    pkt(6, 2, (uint16_t)(100 + i), 1, 5555, S + i * 100000 + 10,
			RST | ACK, 0));
	}
	flowtab_expire(ft, 7 * S);
	ck_assert_int_eq(nrecs, 40);
	ck_assert_msg(recs[39].feat[ports] > 30 && recs[39].feat[ports] < 55,
	    "40 distinct ports should be estimated near 40, got %g",
	    (double)recs[39].feat[ports]);
	ck_assert_msg(recs[39].feat[srcs] > 0.9 && recs[39].feat[srcs] < 1.1,
	    "one initiator should be counted once, got %g",
	    (double)recs[39].feat[srcs]);
	ck_assert_msg(recs[39].feat[fail] > 0.99,
	    "reset probes should count as failed, share %g",
	    (double)recs[39].feat[fail]);
	flowtab_free(ft);
}
END_TEST

/* Records gathered by a callback that may run on the delivery thread. */
struct gather {
	struct flow_record *r;
	size_t n, cap;
	int oom;
};

static void
gather_cb(const struct flow_record *r, void *arg)
{
	struct gather *g = arg;
	struct flow_record *nr;

	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		if ((nr = realloc(g->r, g->cap * sizeof(*nr))) == NULL) {
			g->oom = 1;
			return;
		}
		g->r = nr;
	}
	g->r[g->n++] = *r;
}

/*
 * A busy mixed sequence: 300 hosts, TCP handshakes, resets, half-open
 * probes, UDP, ICMP, long flows that hit a 20 s active timeout, through a
 * table small enough to evict.  Returns the table's stats.
 */
static struct cap_stats
run_mixed(int threaded, struct gather *g)
{
	struct flowtab_opts o;
	struct flowtab *ft;
	struct cap_stats st;
	uint64_t t = S, x = 88172645463325252ull;
	unsigned i, a, b;
	uint8_t proto, fl;

	flowtab_opts_default(&o);
	o.seed = 9;
	o.memcap = 256 * 1024;
	o.host_memcap = 64 * 1024;
	o.to.active = 20;
	o.threaded = threaded;
	memset(g, 0, sizeof(*g));
	ft = flowtab_create(&o, gather_cb, g);
	ck_assert_ptr_nonnull(ft);
	for (i = 0; i < 60000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		t += x % 3000;
		a = (unsigned)(x >> 8) % 300;
		b = 1000 + (unsigned)(x >> 20) % 40;
		proto = (x >> 30) % 10 < 7 ? 6 : (x >> 30) % 10 < 9 ? 17 : 1;
		fl = (x >> 34) % 5 == 0 ? SYN : (x >> 34) % 5 == 1 ? RST : ACK;
		if ((x >> 60) % 4 == 0) /* five busy UDP flows */
			feed(ft, pkt(17, a % 5, 3000, 1000, 80, t, 0, 100));
		else if ((x >> 40) % 2)
			feed(ft,
			    pkt(proto, a, (uint16_t)(3000 + (x >> 44) % 7), b,
				(uint16_t)(x >> 50) % 5 + 80, t, fl,
				(uint32_t)(x >> 54) % 900));
		else
			feed(ft,
			    pkt(proto, b, (uint16_t)(x >> 50) % 5 + 80, a,
				(uint16_t)(3000 + (x >> 44) % 7), t, fl,
				(uint32_t)(x >> 54) % 900));
	}
	flowtab_flush(ft, FLOW_END_FLUSH);
	st = *flowtab_stats(ft);
	flowtab_free(ft);
	return st;
}

START_TEST(test_threaded_same_records)
{
	struct gather a, b;
	struct cap_stats sa, sb;
	size_t i;

	sa = run_mixed(0, &a);
	sb = run_mixed(1, &b);
	ck_assert(!a.oom && !b.oom);
	ck_assert_msg(
	    sa.flows_evicted > 100 && sa.flows_ended[FLOW_END_ACTIVE] > 10,
	    "the sequence should evict (%llu) and hit the active timeout "
	    "(%llu)",
	    (unsigned long long)sa.flows_evicted,
	    (unsigned long long)sa.flows_ended[FLOW_END_ACTIVE]);
	ck_assert_msg(a.n > 5000 && a.n == b.n,
	    "threaded delivery should give as many records (%zu) as the "
	    "table on one thread (%zu)",
	    b.n, a.n);
	for (i = 0; i < a.n; i++)
		ck_assert_msg(memcmp(&a.r[i], &b.r[i], sizeof(a.r[i])) == 0,
		    "record %zu differs between threaded and unthreaded", i);
	ck_assert_msg(memcmp(&sa, &sb, sizeof(sa)) == 0,
	    "the counters should not depend on threading");
	free(a.r);
	free(b.r);
}
END_TEST

/* Freeing a threaded table with records in flight drops them cleanly. */
START_TEST(test_threaded_free_in_flight)
{
	struct flowtab_opts o;
	struct flowtab *ft;
	struct gather g;
	unsigned i;

	flowtab_opts_default(&o);
	o.seed = 3;
	o.threaded = 1;
	memset(&g, 0, sizeof(g));
	ft = flowtab_create(&o, gather_cb, &g);
	ck_assert_ptr_nonnull(ft);
	for (i = 0; i < 20000; i++)
		feed(ft,
		    pkt(17, i % 500, (uint16_t)(1000 + i), 7, 53,
			S + (uint64_t)i * 10000, 0, 40));
	flowtab_free(ft);
	ck_assert_msg(g.n < 20000,
	    "unflushed flows should not all be "
	    "delivered by free (%zu)",
	    g.n);
	free(g.r);
}
END_TEST

Suite *
flowtab_suite(void)
{
	Suite *s = suite_create("flowtab");
	TCase *tc;

	tc = tcase_create("direction");
	tcase_add_test(tc, test_direction);
	tcase_add_test(tc, test_icmp_echo_pairs);
	suite_add_tcase(s, tc);
	tc = tcase_create("timeouts");
	tcase_add_loop_test(tc, test_timeouts, 0,
	    (int)(sizeof(to_cases) / sizeof(to_cases[0])));
	tcase_add_test(tc, test_interim);
	tcase_add_test(tc, test_port_reuse);
	tcase_add_loop_test(tc, test_answered, 0,
	    (int)(sizeof(ans_cases) / sizeof(ans_cases[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("memcap");
	tcase_add_test(tc, test_evict_order);
	tcase_add_test(tc, test_memcap_too_small);
	suite_add_tcase(s, tc);
	tc = tcase_create("attribution");
	tcase_add_test(tc, test_fragments_and_icmp_errors);
	tcase_add_test(tc, test_seeded_hash);
	tcase_add_test(tc, test_host_context);
	tcase_add_test(tc, test_context_from_flow_time);
	tcase_add_test(tc, test_view_packing);
	tcase_add_test(tc, test_cold_start);
	tcase_add_test(tc, test_host_index_churn);
	suite_add_tcase(s, tc);
	tc = tcase_create("threaded");
	tcase_add_test(tc, test_threaded_same_records);
	tcase_add_test(tc, test_threaded_free_in_flight);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
