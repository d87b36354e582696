/*
 * Beacons: periodic contact from one host to a host never seen in the
 * baseline, judged across flows.
 *
 * One flow of a beacon (a small poll of a command server) looks like any
 * small request, so the model, which sees one row at a time, cannot tell
 * it from a benign update check.  What tells them apart is across flows:
 * the same initiator contacts the same responder again and again at a
 * steady rhythm, and that responder was never seen while the baseline was
 * gathered.
 *
 * The baseline set.  While a baseline is gathered, both hosts of every
 * flow are collected (beacon_learn), up to max_known (at most
 * BEACON_KNOWN_MAX = 65 536; past it hosts are counted, not kept, and
 * then a kept-out host reads as new).  When the model is installed the set
 * becomes the known set and is saved with the model as its extra
 * BEACON_EXTRA_TAG: u32 version 1, u32 count, count addresses of 16 bytes
 * in ascending order (so the bytes depend only on the set).  A model
 * without it (made before this existed) loads, and then nothing is judged
 * new, so no beacon is raised.  Hosts are exact addresses, not prefixes:
 * a command server may share a /24 with a benign service (a cloud
 * provider's), while a CDN that moves a benign service to a new address
 * restarts its pair's timing.
 *
 * The timing.  A flow whose responder is known costs one hash lookup and
 * nothing else.  Otherwise (multicast and broadcast responders aside) the
 * pair (initiator, responder) is found in a table of max_pairs entries
 * (least recently contacted evicted first) holding the latest BEACON_RING
 * flow start times, kept sorted.  A start within 1 s of one kept is the
 * same contact (a poll that opens two connections); the continuation
 * records of a long flow (after an interim record) are not contacts.
 * After each new contact, beacon_periodic() judges the kept times, and the
 * first success raises one hit for the episode; later contacts only count,
 * until the pair is quiet for 8 periods, which ends the episode.
 *
 * The test.  Gaps between contacts must have a median of at least
 * BEACON_MIN_PERIOD_US (shorter is a burst), the contacts must span
 * BEACON_MIN_SPAN_US, and each gap must lie within 30 % of the median
 * (jitter) or within 30 % of 2 to 4 times it (missed beats, at most a
 * quarter of the gaps); at most (gaps + 4) / 8 gaps may be neither.  The
 * period is the time those gaps span over the beats they hold.
 * Random (Poisson) contacts fail it: their gaps spread over the whole
 * exponential range.  Everything runs on the flows' own start times, so an
 * offline run gives the same hits every time.
 *
 * Memory: about 2 * max_known * 17 bytes for each of the two sets and
 * max_pairs * 330 bytes for the pairs (2.6 MB at 8 192 pairs).
 */
#include <sys/queue.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

#define BEACON_VERSION 1u
#define BEACON_SAME_US 1000000u /* starts this close are one contact */
#define BEACON_TOL 0.3 /* a gap's allowed deviation, share of the period */
#define BEACON_MISS_MAX 4 /* missed beats a gap may span */
#define BEACON_QUIET_PERIODS 8 /* a gap this long ends an episode */

/* A hash set of addresses (open addressing, grown up to a cap). */
struct hset {
	uint8_t (*key)[CAP_ADDR_LEN];
	uint8_t *used;
	size_t slots, n, max;
	uint64_t dropped;
};

struct pair {
	uint8_t src[CAP_ADDR_LEN], dst[CAP_ADDR_LEN];
	uint64_t t[BEACON_RING]; /* contact starts, ascending */
	size_t nt;
	uint64_t total, first_us, cont_id;
	int alerted;
	double period_s, dev_s;
	struct pair *hnext;
	TAILQ_ENTRY(pair) lru;
};

TAILQ_HEAD(pair_list, pair);

struct beacon {
	struct beacon_opts o;
	struct hset known, learn;
	struct pair *pool;
	size_t npool;
	struct pair **bucket;
	size_t nbuckets;
	struct pair_list lru; /* most recently contacted first */
	struct pair_list spare;
	struct beacon_stats st;
};

/* A 64-bit hash of an address. */
static uint64_t
addr_hash(const uint8_t *a, const uint8_t *b)
{
	uint64_t x, y, h;

	memcpy(&x, a, 8);
	memcpy(&y, a + 8, 8);
	h = x * 0x9e3779b97f4a7c15ULL ^ y;
	if (b != NULL) {
		memcpy(&x, b, 8);
		memcpy(&y, b + 8, 8);
		h = (h ^ x) * 0xbf58476d1ce4e5b9ULL ^ y;
	}
	h ^= h >> 31;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 29);
}

/* Free a set's storage. */
static void
hset_clear(struct hset *s)
{
	free(s->key);
	free(s->used);
	s->key = NULL;
	s->used = NULL;
	s->slots = s->n = 0;
	s->dropped = 0;
}

/* The slot of a in s: where it is, or the empty one where it would go. */
static size_t
hset_slot(const struct hset *s, const uint8_t *a)
{
	size_t i = (size_t)addr_hash(a, NULL) & (s->slots - 1);

	while (s->used[i] && memcmp(s->key[i], a, CAP_ADDR_LEN) != 0)
		i = (i + 1) & (s->slots - 1);
	return i;
}

/* Whether a is in s. */
static int
hset_has(const struct hset *s, const uint8_t *a)
{
	return s->slots > 0 && s->used[hset_slot(s, a)];
}

static int hset_add(struct hset *s, const uint8_t *a);

/* Double the slots (at most 2 * max, kept a power of two). */
static int
hset_grow(struct hset *s)
{
	struct hset g = {0};
	size_t i;

	g.slots = s->slots ? 2 * s->slots : 1024;
	g.max = s->max;
	if ((g.key = calloc(g.slots, sizeof(*g.key))) == NULL ||
	    (g.used = calloc(g.slots, 1)) == NULL) {
		free(g.key);
		return -ENOMEM;
	}
	for (i = 0; i < s->slots; i++)
		if (s->used[i])
			(void)hset_add(&g, s->key[i]);
	g.dropped = s->dropped;
	hset_clear(s);
	*s = g;
	return 0;
}

/* Add a; 1 when added, 0 when there already, -ENOSPC past max. */
static int
hset_add(struct hset *s, const uint8_t *a)
{
	size_t i;

	if (s->slots > 0 && s->used[(i = hset_slot(s, a))])
		return 0;
	if (s->n >= s->max) {
		s->dropped++;
		return -ENOSPC;
	}
	if ((s->n + 1) * 2 > s->slots) {
		if (hset_grow(s) != 0)
			fatal("beacon: baseline hosts");
	}
	i = hset_slot(s, a);
	memcpy(s->key[i], a, CAP_ADDR_LEN);
	s->used[i] = 1;
	s->n++;
	return 1;
}

/* Create a detector. */
struct beacon *
beacon_create(const struct beacon_opts *o)
{
	struct beacon *b;
	size_t i;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("beacon: create");
	b->o = *o;
	if (b->o.max_known > BEACON_KNOWN_MAX)
		b->o.max_known = BEACON_KNOWN_MAX;
	b->known.max = b->learn.max = b->o.max_known;
	TAILQ_INIT(&b->lru);
	TAILQ_INIT(&b->spare);
	if (b->o.max_pairs == 0 || b->o.min_contacts == 0)
		return b;
	for (b->nbuckets = 1; b->nbuckets < b->o.max_pairs; b->nbuckets *= 2)
		;
	if ((b->pool = calloc(b->o.max_pairs, sizeof(*b->pool))) == NULL ||
	    (b->bucket = calloc(b->nbuckets, sizeof(*b->bucket))) == NULL)
		fatal("beacon: create");
	b->npool = b->o.max_pairs;
	for (i = 0; i < b->npool; i++)
		TAILQ_INSERT_TAIL(&b->spare, &b->pool[i], lru);
	return b;
}

/* Free a detector. */
void
beacon_free(struct beacon *b)
{
	if (b == NULL)
		return;
	hset_clear(&b->known);
	hset_clear(&b->learn);
	free(b->pool);
	free(b->bucket);
	free(b);
}

/* Collect the hosts of a baseline flow. */
void
beacon_learn(struct beacon *b, const struct flow_record *r)
{
	(void)hset_add(&b->learn, r->src);
	(void)hset_add(&b->learn, r->dst);
	b->st.learnt = b->learn.n;
	b->st.learn_dropped = b->learn.dropped;
}

/* Forget the hosts collected. */
void
beacon_learn_reset(struct beacon *b)
{
	size_t max = b->learn.max;

	hset_clear(&b->learn);
	b->learn.max = max;
	b->st.learnt = b->st.learn_dropped = 0;
}

/* Drop every timed pair. */
static void
pairs_reset(struct beacon *b)
{
	struct pair *p;

	while ((p = TAILQ_FIRST(&b->lru)) != NULL) {
		TAILQ_REMOVE(&b->lru, p, lru);
		TAILQ_INSERT_TAIL(&b->spare, p, lru);
	}
	if (b->bucket != NULL)
		memset(b->bucket, 0, b->nbuckets * sizeof(*b->bucket));
	b->st.pairs = 0;
}

/* Order addresses, for a serialisation that depends only on the set. */
static int
addr_cmp(const void *x, const void *y)
{
	return memcmp(x, y, CAP_ADDR_LEN);
}

/* Put a little-endian u32 at p. */
static void
le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The little-endian u32 at p. */
static uint32_t
le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* The collected hosts become the baseline set, serialised into *bufp. */
int
beacon_commit(struct beacon *b, uint8_t **bufp, size_t *lenp)
{
	uint8_t *buf, *q;
	size_t i, n = 0;

	if ((buf = malloc(8 + b->learn.n * CAP_ADDR_LEN)) == NULL)
		return -ENOMEM;
	q = buf + 8;
	for (i = 0; i < b->learn.slots; i++)
		if (b->learn.used[i])
			memcpy(q + CAP_ADDR_LEN * n++, b->learn.key[i],
			    CAP_ADDR_LEN);
	qsort(q, n, CAP_ADDR_LEN, addr_cmp);
	le32_put(buf, BEACON_VERSION);
	le32_put(buf + 4, (uint32_t)n);
	hset_clear(&b->known);
	b->known = b->learn;
	memset(&b->learn, 0, sizeof(b->learn));
	b->learn.max = b->known.max;
	b->st.have_known = 1;
	b->st.known = b->known.n;
	b->st.learnt = b->st.learn_dropped = 0;
	pairs_reset(b);
	*bufp = buf;
	*lenp = 8 + n * CAP_ADDR_LEN;
	return 0;
}

/* Load the baseline set from a model's blob. */
int
beacon_load(struct beacon *b, const void *p, size_t len, char **cause)
{
	const uint8_t *q = p;
	struct hset s = {.max = b->o.max_known};
	uint32_t n = 0, i;
	const char *why = NULL;

	hset_clear(&b->known);
	b->st.have_known = 0;
	b->st.known = 0;
	pairs_reset(b);
	if (p == NULL)
		return 0;
	if (len < 8 || le32_get(q) != BEACON_VERSION)
		why = "not version 1";
	else if ((n = le32_get(q + 4)) > b->o.max_known)
		why = "more hosts than beacon_known_max";
	else if (len != 8 + (size_t)n * CAP_ADDR_LEN)
		why = "length does not match its count";
	for (i = 1; why == NULL && i < n; i++)
		if (memcmp(q + 8 + (i - 1) * CAP_ADDR_LEN,
			q + 8 + i * CAP_ADDR_LEN, CAP_ADDR_LEN) >= 0)
			why = "hosts not in ascending order";
	if (why != NULL) {
		if (cause != NULL &&
		    asprintf(cause, "baseline hosts of the model: %s", why) < 0)
			*cause = NULL;
		return -EPROTO;
	}
	for (i = 0; i < n; i++)
		(void)hset_add(&s, q + 8 + i * CAP_ADDR_LEN);
	b->known = s;
	b->st.have_known = 1;
	b->st.known = n;
	return 0;
}

/* Whether addr is in the baseline set. */
int
beacon_known(const struct beacon *b, const uint8_t *addr)
{
	return hset_has(&b->known, addr);
}

/* Compare doubles, for medians. */
static int
dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return a < c ? -1 : a > c;
}

/* The median of v[n] (n > 0); reorders v. */
static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The periodicity test; see daemon.h. */
int
beacon_periodic(
    const uint64_t *t, size_t n, uint32_t min, double *period_s, double *dev_s)
{
	double g[BEACON_RING], reg[BEACON_RING], dev[BEACON_RING], m, q, k;
	double sum = 0, beats = 0;
	size_t i, ng, nreg = 0, miss = 0, odd = 0;

	if (n > BEACON_RING)
		t += n - BEACON_RING, n = BEACON_RING;
	if (n < 3 || n < min || t[n - 1] - t[0] < BEACON_MIN_SPAN_US)
		return 0;
	ng = n - 1;
	for (i = 0; i < ng; i++)
		g[i] = dev[i] = (double)(t[i + 1] - t[i]) / 1e6;
	m = median(dev, ng);
	if (m < BEACON_MIN_PERIOD_US / 1e6)
		return 0;
	for (i = 0; i < ng; i++) {
		q = g[i] / m;
		k = floor(q + 0.5);
		if (k == 1 && fabs(q - 1) <= BEACON_TOL)
			reg[nreg++] = g[i];
		else if (k >= 2 && k <= BEACON_MISS_MAX &&
		    fabs(q - k) <= BEACON_TOL)
			miss++;
		else {
			odd++;
			continue;
		}
		sum += g[i];
		beats += k;
	}
	if (odd > (ng + 4) / 8 || miss > ng / 4 || nreg * 2 < ng)
		return 0;
	/* the period over every beat, missed ones too: no bias to the median */
	m = sum / beats;
	for (i = 0; i < nreg; i++)
		dev[i] = fabs(reg[i] - m);
	*period_s = m;
	*dev_s = median(dev, nreg);
	return 1;
}

/* Whether a responder is a group or the broadcast: not a host contacted. */
static int
not_a_host(const uint8_t *a)
{
	static const uint8_t v4[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (memcmp(a, v4, 12) == 0)
		return (a[12] >= 224 && a[12] <= 239) ||
		    (a[12] == 255 && a[13] == 255 && a[14] == 255 &&
			a[15] == 255);
	return a[0] == 0xff;
}

/* The pair of (src, dst), found or made (evicting the stalest). */
static struct pair *
pair_get(struct beacon *b, const uint8_t *src, const uint8_t *dst)
{
	size_t h = (size_t)addr_hash(src, dst) & (b->nbuckets - 1), oh;
	struct pair *p, **pp;

	for (p = b->bucket[h]; p != NULL; p = p->hnext)
		if (memcmp(p->src, src, CAP_ADDR_LEN) == 0 &&
		    memcmp(p->dst, dst, CAP_ADDR_LEN) == 0) {
			TAILQ_REMOVE(&b->lru, p, lru);
			TAILQ_INSERT_HEAD(&b->lru, p, lru);
			return p;
		}
	if ((p = TAILQ_FIRST(&b->spare)) != NULL) {
		TAILQ_REMOVE(&b->spare, p, lru);
		b->st.pairs++;
	} else {
		p = TAILQ_LAST(&b->lru, pair_list);
		TAILQ_REMOVE(&b->lru, p, lru);
		oh = (size_t)addr_hash(p->src, p->dst) & (b->nbuckets - 1);
		for (pp = &b->bucket[oh]; *pp != p; pp = &(*pp)->hnext)
			;
		*pp = p->hnext;
		b->st.evicted++;
	}
	memset(p, 0, sizeof(*p));
	memcpy(p->src, src, CAP_ADDR_LEN);
	memcpy(p->dst, dst, CAP_ADDR_LEN);
	p->hnext = b->bucket[h];
	b->bucket[h] = p;
	TAILQ_INSERT_HEAD(&b->lru, p, lru);
	return p;
}

/* Add a contact start to a pair's sorted times; 0 when it is no news. */
static int
pair_add(struct pair *p, uint64_t ts)
{
	size_t i, j;

	for (i = 0; i < p->nt; i++)
		if ((ts > p->t[i] ? ts - p->t[i] : p->t[i] - ts) <
		    BEACON_SAME_US)
			return 0;
	if (p->nt == BEACON_RING) {
		if (ts < p->t[0])
			return 0;
		memmove(p->t, p->t + 1, (BEACON_RING - 1) * sizeof(p->t[0]));
		p->nt--;
	}
	for (i = p->nt; i > 0 && p->t[i - 1] > ts; i--)
		;
	for (j = p->nt; j > i; j--)
		p->t[j] = p->t[j - 1];
	p->t[i] = ts;
	p->nt++;
	return 1;
}

/* A pair's evidence, with r its latest contact. */
static void
fill_hit(
    const struct pair *p, const struct flow_record *r, struct beacon_hit *hit)
{
	memcpy(hit->src, r->src, CAP_ADDR_LEN);
	memcpy(hit->dst, r->dst, CAP_ADDR_LEN);
	hit->dport = r->dport;
	hit->proto = r->proto;
	hit->contacts = (uint32_t)p->nt;
	hit->total = p->total;
	hit->first_us = p->first_us;
	hit->last_us = p->t[p->nt - 1];
	hit->period_s = p->period_s;
	hit->dev_s = p->dev_s;
}

/* Time one flow record. */
int
beacon_record(
    struct beacon *b, const struct flow_record *r, struct beacon_hit *hit)
{
	struct pair *p;
	uint64_t ts = r->ts_first_us, last;
	double per, dev;

	if (!b->st.have_known || b->pool == NULL ||
	    hset_has(&b->known, r->dst) || not_a_host(r->dst))
		return 0;
	p = pair_get(b, r->src, r->dst);
	if (p->cont_id != 0 && p->cont_id == r->id)
		return 0; /* the rest of a flow after an interim record */
	p->cont_id = r->end == FLOW_END_ACTIVE ? r->id : 0;
	last = p->nt > 0 ? p->t[p->nt - 1] : 0;
	if (p->alerted && ts > last &&
	    ts - last > BEACON_QUIET_PERIODS * p->period_s * 1e6) {
		/* quiet for long: a new episode */
		p->nt = 0;
		p->alerted = 0;
		p->total = 0;
	}
	if (!pair_add(p, ts))
		return 0;
	if (p->total++ == 0 || ts < p->first_us)
		p->first_us = ts;
	if (p->alerted) {
		fill_hit(p, r, hit);
		return 2;
	}
	if (!beacon_periodic(p->t, p->nt, b->o.min_contacts, &per, &dev))
		return 0;
	p->alerted = 1;
	p->period_s = per;
	p->dev_s = dev;
	b->st.hits++;
	fill_hit(p, r, hit);
	return 1;
}

/* The counters. */
const struct beacon_stats *
beacon_stats(const struct beacon *b)
{
	return &b->st;
}
