/*
 * Unit tests of daemon/beacon.c: the periodicity test, the baseline host
 * set (novelty, bounds, serialisation) and the pair table.  Randomised
 * arrivals use a fixed, printed seed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "daemon/daemon.h"

#define S 1000000ULL /* microseconds per second */
#define T0 (1700000000ULL * S)

/* splitmix64, for seeded arrivals. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double
unif(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* An IPv4 address as anomd stores it (::ffff:a.b.c.d). */
static void
v4(uint8_t a[CAP_ADDR_LEN], uint32_t ip)
{
	memset(a, 0, CAP_ADDR_LEN);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)(ip >> 24);
	a[13] = (uint8_t)(ip >> 16);
	a[14] = (uint8_t)(ip >> 8);
	a[15] = (uint8_t)ip;
}

/* A flow record from src to dst started at ts. */
static void
rec(struct flow_record *r, uint32_t src, uint32_t dst, uint64_t ts, uint64_t id)
{
	memset(r, 0, sizeof(*r));
	v4(r->src, src);
	v4(r->dst, dst);
	r->id = id;
	r->proto = 6;
	r->dport = 80;
	r->ts_first_us = ts;
	r->ts_last_us = ts + S / 10;
	r->end = FLOW_END_FIN;
}

/* n starts every period s with uniform jitter of +-jit (share). */
static size_t
jittered(uint64_t *t, size_t n, double period, double jit, uint64_t *seed)
{
	size_t i;
	double at = 0;

	for (i = 0; i < n; i++) {
		t[i] = T0 + (uint64_t)(at * 1e6);
		at += period * (1 + jit * (2 * unif(seed) - 1));
	}
	return n;
}

START_TEST(test_periodic_jitter)
{
	static const double per[] = {5, 30, 60, 600, 3600};
	static const double jit[] = {0, 0.1, 0.2, 0.25};
	uint64_t t[BEACON_RING], seed = 42;
	double p, d;
	size_t i, j, k, pass = 0, tries = 0;

	printf("check_beacon: seed 42\n");
	for (i = 0; i < sizeof(per) / sizeof(per[0]); i++)
		for (j = 0; j < sizeof(jit) / sizeof(jit[0]); j++)
			for (k = 0; k < 20; k++) {
				size_t n = per[i] < 10 ? 30 : 12;

				jittered(t, n, per[i], jit[j], &seed);
				tries++;
				if (beacon_periodic(t, n, 8, &p, &d)) {
					pass++;
					double mean =
					    (double)(t[n - 1] - t[0]) / 1e6 /
					    (double)(n - 1);

					ck_assert_msg(
					    fabs(p - mean) < 0.1 * mean,
					    "period %g s should be found "
					    "(got %g)",
					    mean, p);
				}
			}
	ck_assert_msg(pass * 100 >= tries * 97,
	    "jittered periodic contacts should pass: %zu of %zu", pass, tries);
}
END_TEST

START_TEST(test_periodic_missed_beats)
{
	uint64_t t[12];
	double p, d;
	size_t i, n = 0;

	/* every 60 s, beats 4 and 9 missed */
	for (i = 0; i < 14; i++)
		if (i != 4 && i != 9)
			t[n++] = T0 + i * 60 * S + (i % 3) * S;
	ck_assert_msg(beacon_periodic(t, n, 8, &p, &d) == 1,
	    "a rhythm with two missed beats should pass");
	ck_assert_msg(fabs(p - 60) < 2, "its period should be 60 s, not %g", p);
}
END_TEST

START_TEST(test_periodic_poisson)
{
	uint64_t t[BEACON_RING], seed = 7, at;
	double p, d;
	size_t k, i, n, hits = 0, tries = 0;

	printf("check_beacon: seed 7\n");
	for (k = 0; k < 500; k++) {
		at = T0;
		/* Poisson contacts, mean gap 30 s; test every prefix */
		for (i = 0; i < BEACON_RING; i++) {
			t[i] = at;
			at += (uint64_t)(-log(1 - unif(&seed)) * 30e6);
		}
		for (n = 8; n <= BEACON_RING; n++) {
			tries++;
			hits += beacon_periodic(t, n, 8, &p, &d);
		}
	}
	ck_assert_msg(hits * 1000 <= tries,
	    "random arrivals should fail: %zu of %zu passed", hits, tries);
}
END_TEST

START_TEST(test_periodic_bounds)
{
	uint64_t t[40];
	double p = -1, d = -1;
	size_t i;

	/* a burst: 30 contacts every 2 s */
	for (i = 0; i < 30; i++)
		t[i] = T0 + i * 2 * S;
	ck_assert_msg(!beacon_periodic(t, 30, 8, &p, &d),
	    "contacts 2 s apart are a burst, not a beacon");
	/* too few, and too short a span */
	for (i = 0; i < 40; i++)
		t[i] = T0 + i * 30 * S;
	ck_assert_msg(!beacon_periodic(t, 7, 8, &p, &d),
	    "7 contacts should be too few for 8");
	ck_assert_msg(p == -1 && d == -1, "a failed test leaves the outputs");
	ck_assert_msg(!beacon_periodic(t, 4, 3, &p, &d),
	    "90 s of contacts should be too short a span");
	ck_assert_msg(beacon_periodic(t, 8, 8, &p, &d) == 1 && p == 30,
	    "8 contacts every 30 s should pass");
	ck_assert_msg(beacon_periodic(t, 40, 8, &p, &d) == 1,
	    "more contacts than the ring should judge the latest");
}
END_TEST

/* A detector whose baseline saw hosts 10.0.0.1 to 10.0.0.nbase. */
static struct beacon *
trained(uint32_t nbase, size_t pairs, size_t known_max)
{
	struct beacon_opts o = {8, pairs, known_max};
	struct beacon *b = beacon_create(&o);
	struct flow_record r;
	uint8_t *buf;
	size_t len;
	uint32_t i;

	for (i = 1; i <= nbase; i++) {
		rec(&r, 0x0a000001, 0x0a000000 + i, T0, i);
		beacon_learn(b, &r);
	}
	ck_assert_int_eq(beacon_commit(b, &buf, &len), 0);
	free(buf);
	return b;
}

/* Feed n contacts every period s from src to dst; returns hits. */
static int
feed(struct beacon *b, uint32_t src, uint32_t dst, size_t n, uint64_t from,
    uint64_t period, struct beacon_hit *last)
{
	struct flow_record r;
	struct beacon_hit h;
	size_t i;
	int hits = 0, rc;
	static uint64_t id = 1000;

	for (i = 0; i < n; i++) {
		rec(&r, src, dst, from + i * period, ++id);
		if ((rc = beacon_record(b, &r, &h)) == 1) {
			hits++;
			*last = h;
		}
	}
	return hits;
}

START_TEST(test_record_new_and_known)
{
	struct beacon *b = trained(50, 64, 1000);
	struct beacon_hit h;
	uint8_t a[CAP_ADDR_LEN];

	v4(a, 0x0a000005);
	ck_assert_msg(beacon_known(b, a), "a baseline host should be known");
	ck_assert_msg(feed(b, 0x0a000001, 0x0a000005, 20, T0, 30 * S, &h) == 0,
	    "periodic contact with a baseline host is no beacon");
	memset(&h, 0xa5, sizeof(h));
	ck_assert_msg(feed(b, 0x0a000001, 0xcb007150, 20, T0, 30 * S, &h) == 1,
	    "periodic contact with a new host should hit once");
	ck_assert_msg(h.contacts == 8 && h.total == 8 && h.period_s == 30 &&
		h.first_us == T0 && h.dport == 80,
	    "the hit should hold the evidence (%u contacts, %g s)", h.contacts,
	    h.period_s);
	/* quiet for 8 periods: a new episode, and a new hit */
	ck_assert_msg(
	    feed(b, 0x0a000001, 0xcb007150, 10, T0 + 3600 * S, 30 * S, &h) == 1,
	    "a new episode after a long quiet should hit again");
	ck_assert_msg(h.first_us == T0 + 3600 * S,
	    "the new episode starts at its first contact");
	ck_assert_int_eq(beacon_stats(b)->hits, 2);
	beacon_free(b);
}
END_TEST

START_TEST(test_record_no_baseline)
{
	struct beacon_opts o = {8, 64, 1000};
	struct beacon *b = beacon_create(&o);
	struct beacon_hit h;

	ck_assert_msg(feed(b, 0x0a000001, 0xcb007150, 20, T0, 30 * S, &h) == 0,
	    "without a baseline set nothing is new, so nothing hits");
	ck_assert_int_eq(beacon_load(b, NULL, 0, NULL), 0);
	ck_assert_int_eq(beacon_stats(b)->have_known, 0);
	beacon_free(b);
}
END_TEST

START_TEST(test_record_merge_and_interim)
{
	struct beacon *b = trained(5, 64, 1000);
	struct flow_record r;
	struct beacon_hit h;
	size_t i;
	int hits = 0;

	for (i = 0; i < 12; i++) {
		/* two connections per poll, 0.3 s apart: one contact */
		rec(&r, 0x0a000001, 0xcb007150, T0 + i * 30 * S, 2 * i + 1);
		hits += beacon_record(b, &r, &h) == 1;
		rec(&r, 0x0a000001, 0xcb007150, T0 + i * 30 * S + S * 3 / 10,
		    2 * i + 2);
		ck_assert_msg(beacon_record(b, &r, &h) == 0,
		    "a second connection of one poll is no contact");
	}
	ck_assert_int_eq(hits, 1);
	ck_assert_msg(h.total == 12, "12 polls should be 12 contacts, not %llu",
	    (unsigned long long)h.total);
	/* a long flow's interim records are not contacts */
	for (i = 0; i < 12; i++) {
		rec(&r, 0x0a000002, 0xcb007151, T0 + i * 300 * S, 77);
		r.end = FLOW_END_ACTIVE;
		ck_assert_msg(beacon_record(b, &r, &h) == 0,
		    "interim records of one flow are not periodic contacts");
	}
	beacon_free(b);
}
END_TEST

START_TEST(test_record_multicast)
{
	struct beacon *b = trained(5, 64, 1000);
	struct beacon_hit h;

	ck_assert_msg(feed(b, 0x0a000001, 0xeffffffa, 20, T0, 30 * S, &h) == 0,
	    "announcements to a group are not contacts with a host");
	ck_assert_msg(feed(b, 0x0a000001, 0xffffffff, 20, T0, 30 * S, &h) == 0,
	    "broadcasts are not contacts with a host");
	beacon_free(b);
}
END_TEST

START_TEST(test_pairs_evict)
{
	struct beacon *b = trained(5, 16, 1000);
	struct beacon_hit h;
	struct flow_record r;
	uint32_t k;
	size_t i;
	int hits = 0;

	/* 100 new hosts contacted at random: the table stays at 16 */
	for (k = 0; k < 100; k++) {
		rec(&r, 0x0a000001, 0xc6336400 + k, T0 + k * S, k + 1);
		beacon_record(b, &r, &h);
	}
	ck_assert_int_eq(beacon_stats(b)->pairs, 16);
	ck_assert_int_eq(beacon_stats(b)->evicted, 84);
	/* a beacon among churn is still found when it stays recent */
	for (i = 0; i < 12; i++) {
		rec(&r, 0x0a000001, 0xcb007150, T0 + 200 * S + i * 30 * S,
		    1000 + i);
		hits += beacon_record(b, &r, &h) == 1;
		for (k = 0; k < 5; k++) {
			rec(&r, 0x0a000001, 0xc6336500 + (uint32_t)(i * 5 + k),
			    T0 + 200 * S + i * 30 * S + (k + 1) * S,
			    2000 + i * 5 + k);
			beacon_record(b, &r, &h);
		}
	}
	ck_assert_int_eq(hits, 1);
	beacon_free(b);
}
END_TEST

START_TEST(test_set_bounds)
{
	struct beacon *b = trained(100, 64, 40);
	const struct beacon_stats *st = beacon_stats(b);
	uint8_t a[CAP_ADDR_LEN];

	/* 101 hosts offered (10.0.0.1 and 1..100), 40 kept */
	ck_assert_int_eq(st->known, 40);
	ck_assert_msg(st->have_known, "a committed set is loaded");
	v4(a, 0x0a000001);
	ck_assert_msg(beacon_known(b, a), "the first host should be kept");
	v4(a, 0x0a000064);
	ck_assert_msg(!beacon_known(b, a), "a host past the cap is not kept");
	beacon_free(b);
}
END_TEST

START_TEST(test_set_roundtrip)
{
	struct beacon_opts o = {8, 64, 1000};
	struct beacon *b = beacon_create(&o), *c, *d;
	struct flow_record r;
	uint8_t *buf, *buf2, *bad, a[CAP_ADDR_LEN];
	size_t len, len2;
	uint32_t i;
	char *cause = NULL;

	for (i = 300; i > 0; i--) {
		rec(&r, 0x0a000000 + i, 0xc0a80000 + i * 7, T0, i);
		beacon_learn(b, &r);
	}
	ck_assert_int_eq(beacon_commit(b, &buf, &len), 0);
	ck_assert_int_eq(len, 8 + 600 * CAP_ADDR_LEN);
	c = beacon_create(&o);
	ck_assert_int_eq(beacon_load(c, buf, len, &cause), 0);
	ck_assert_int_eq(beacon_stats(c)->known, 600);
	for (i = 1; i <= 300; i++) {
		v4(a, 0xc0a80000 + i * 7);
		ck_assert_msg(beacon_known(c, a), "loaded set keeps each host");
	}
	v4(a, 0x08080808);
	ck_assert_msg(!beacon_known(c, a), "a host never seen stays new");
	/* the same set learnt in another order serialises to the same bytes */
	d = beacon_create(&o);
	for (i = 1; i <= 300; i++) {
		rec(&r, 0x0a000000 + i, 0xc0a80000 + i * 7, T0, i);
		beacon_learn(d, &r);
	}
	ck_assert_int_eq(beacon_commit(d, &buf2, &len2), 0);
	ck_assert_int_eq(len2, len);
	ck_assert_mem_eq(buf, buf2, len);
	free(buf2);
	/* corrupted blobs are refused and leave no set */
	bad = malloc(len);
	memcpy(bad, buf, len);
	bad[0] = 2;
	ck_assert_int_eq(beacon_load(d, bad, len, &cause), -EPROTO);
	ck_assert_msg(cause != NULL && strstr(cause, "version") != NULL,
	    "the cause should name the version: %s", cause);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(beacon_stats(d)->have_known, 0);
	ck_assert_int_eq(beacon_load(d, buf, len - 1, NULL), -EPROTO);
	ck_assert_int_eq(beacon_load(d, buf, 5, NULL), -EPROTO);
	memcpy(bad, buf, len);
	memcpy(bad + 8, buf + 8 + CAP_ADDR_LEN, CAP_ADDR_LEN); /* a dup */
	ck_assert_int_eq(beacon_load(d, bad, len, &cause), -EPROTO);
	ck_assert_msg(cause != NULL && strstr(cause, "order") != NULL,
	    "the cause should name the order: %s", cause);
	free(cause);
	memcpy(bad, buf, len);
	bad[4] = 0xff; /* count past max_known */
	ck_assert_int_eq(beacon_load(d, bad, len, NULL), -EPROTO);
	free(bad);
	free(buf);
	beacon_free(b);
	beacon_free(c);
	beacon_free(d);
}
END_TEST

static Suite *
beacon_suite(void)
{
	Suite *s = suite_create("beacon");
	TCase *tc = tcase_create("periodicity");

	tcase_add_test(tc, test_periodic_jitter);
	tcase_add_test(tc, test_periodic_missed_beats);
	tcase_add_test(tc, test_periodic_poisson);
	tcase_add_test(tc, test_periodic_bounds);
	suite_add_tcase(s, tc);
	tc = tcase_create("pairs");
	tcase_add_test(tc, test_record_new_and_known);
	tcase_add_test(tc, test_record_no_baseline);
	tcase_add_test(tc, test_record_merge_and_interim);
	tcase_add_test(tc, test_record_multicast);
	tcase_add_test(tc, test_pairs_evict);
	suite_add_tcase(s, tc);
	tc = tcase_create("baseline set");
	tcase_add_test(tc, test_set_bounds);
	tcase_add_test(tc, test_set_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(beacon_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
