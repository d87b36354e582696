/*
 * Host context, in the spirit of Kitsune's damped windows.
 *
 * Every host seen as a flow's initiator or responder gets a fixed-size
 * record with:
 *  - exponentially decayed counts of flows it started and received, with
 *    time constants of 1, 10 and 60 s, so a count reads as "flows over
 *    about the last tau seconds" without keeping the flows;
 *  - three small slot arrays that estimate distinct responder ports,
 *    responder hosts and (as a responder) initiators.  An item hashes to one
 *    of HC_SLOTS slots, which remembers the last tick it was hit.  Counting
 *    the slots hit within a window and correcting for collisions (linear
 *    counting, n = -m ln(1 - k/m)) gives the distinct count over that
 *    window; one array serves all three windows and never grows;
 *  - decayed counts of ended and failed flows as an initiator.
 * Records live in one flat array sized from the memcap, found through an
 * open-addressing index whose entries carry 32 bits of the address's hash
 * beside the record's number, so a miss (a flood of new sources) reads a
 * cache line of the index and no record.  Two compact arrays beside the
 * records keep each record's last update and hash, so eviction, expiry and
 * freeing read those and never a cold record either.  A host idle for
 * longer than the longest window (HC_IDLE_US) reads as new when it comes
 * back, since everything it held has decayed; a sweep that visits a bounded
 * stretch at each expiry call frees such records, so expiry never changes a
 * feature, only how soon the memory is reused.  At the cap, the oldest of
 * HC_EVICT_PICK records in a row at a rotating hand is evicted: close to
 * least recently used, deterministic, with no list to keep in order.
 *
 * A record starts again without clearing its slot arrays (768 bytes, most
 * of it): it notes the tick it was born, and marks older than that read as
 * empty.  Only when the record's previous host was updated in the very tick
 * the new one starts are the arrays cleared, so a mark of the old host can
 * never pass for one of the new.  A host born with this flow has exactly
 * this flow's mark in each array, so its distinct counts are known without
 * reading them.
 *
 * Cold start.  The table starts empty whenever anomd starts reading (an
 * offline run, a daemon start), so for the first minutes every decayed
 * count reads low: a steady rate r gives r tau (1 - exp(-T/tau)) after T
 * seconds of observing, not r tau.  Like Adam's correction of its moment
 * estimates for their zero start, hostctx_read() divides each flow count by
 * 1 - exp(-T/tau), where T is the time since the table's first flow, so a
 * steady rate reads the same from the first seconds on.  T is taken as at
 * least HOSTCTX_WARM_MIN_S (5 s): the correction multiplies a count by up
 * to 12.5 (60 s constant), and a shorter T would let one flow of a quiet
 * host in the first second read as 60.  Past 20 tau the factor is exactly
 * 1.  A host first seen later is not corrected further: the table has been
 * watching, and it really was quiet.
 *
 * The distinct counts are not scaled up.  Most hosts keep revisiting the
 * same few peers, so what T seconds show is close to what the window
 * would: scaling by window / T would turn a client of three servers into
 * one of 36 after 5 s.  They may read low for the first minute (a busy
 * server's initiators), which looks like a quieter host, never like a
 * scan.  The failed share is a ratio of two counts that start together and
 * needs no correction.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture-int.h"

#define HC_SLOTS 64
#define HC_TICKS_PER_S 64u
#define HC_IDLE_US (120 * 1000000ull) /* forget after this, > 60 s */
#define HC_EVICT_PICK 8 /* records looked at for one eviction */
#define HC_NONE UINT32_MAX

static const float hc_tau_s[3] = {1.0f, 10.0f, 60.0f};
static const uint32_t hc_win_ticks[3] = {
    1 * HC_TICKS_PER_S, 10 * HC_TICKS_PER_S, 60 * HC_TICKS_PER_S};

/* The first 64 bytes are what a lookup touches. */
struct host {
	uint8_t addr[CAP_ADDR_LEN];
	uint32_t born; /* tick of the record's start; older marks are empty */
	float out[3], in[3]; /* decayed flows started / received */
	float ended, failed; /* decayed with the 60 s constant */
	uint32_t ports[HC_SLOTS], hosts[HC_SLOTS], peers[HC_SLOTS];
};

struct hostctx {
	uint64_t key[2];
	struct host *h;
	uint64_t *last; /* per record: last update, us */
	uint64_t *hv; /* per record: its address's hash, 0 = free */
	uint64_t *ix; /* index: hash high 32 bits << 32 | record + 1; 0 empty */
	uint32_t mask, cap, used, freelist;
	uint32_t fresh; /* records below it have been used */
	uint32_t evict_hand, sweep_hand;
	uint64_t evicted;
	uint64_t t0_us; /* the first flow's start: observing since */
	int started;
};

/* -m ln(1 - k/m) for k slots hit of m (linear counting), k = m read as m - 0.5.
 */
static float hc_linear[HC_SLOTS + 1];
static pthread_once_t hc_linear_once = PTHREAD_ONCE_INIT;

static void
hc_linear_init(void)
{
	float m = HC_SLOTS, hit;
	int k;

	for (k = 0; k <= HC_SLOTS; k++) {
		hit = k < HC_SLOTS ? (float)k : m - 0.5f;
		hc_linear[k] = -m * logf(1.0f - hit / m);
	}
}

/* Create a table holding as many hosts as memcap allows. */
struct hostctx *
hostctx_create(size_t memcap, const uint64_t key[2])
{
	struct hostctx *hc;
	size_t per = sizeof(struct host) + 4 * sizeof(uint64_t);
	size_t cap = memcap / per, nb = 1;

	pthread_once(&hc_linear_once, hc_linear_init);
	if (cap < 64 || cap > UINT32_MAX / 4) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < 2 * cap) /* the index at most half full */
		nb <<= 1;
	if ((hc = calloc(1, sizeof(*hc))) == NULL)
		return NULL;
	hc->h = calloc(cap, sizeof(*hc->h));
	hc->last = calloc(cap, sizeof(*hc->last));
	hc->hv = calloc(cap, sizeof(*hc->hv));
	hc->ix = calloc(nb, sizeof(*hc->ix));
	if (hc->h == NULL || hc->last == NULL || hc->hv == NULL ||
	    hc->ix == NULL) {
		hostctx_free(hc);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(hc->key, key, sizeof(hc->key));
	hc->mask = (uint32_t)nb - 1;
	hc->cap = (uint32_t)cap;
	hc->freelist = HC_NONE;
	return hc;
}

/* Free the table. */
void
hostctx_free(struct hostctx *hc)
{
	if (hc == NULL)
		return;
	free(hc->h);
	free(hc->last);
	free(hc->hv);
	free(hc->ix);
	free(hc);
}

/*
 * The hash of an address, never 0 (0 marks a free record): its top bit is
 * set, which leaves the low bits (the home) and 31 bits of tag as drawn.
 */
static uint64_t
hash_of(const struct hostctx *hc, const uint8_t *addr)
{
	uint64_t v;

	/* An IPv4 host by its 4 bytes: one SipHash block rather than three. */
	if (addr_is_v4(addr))
		v = cap_siphash(hc->key, addr + 12, 4);
	else
		v = cap_siphash(hc->key, addr, CAP_ADDR_LEN);
	return v | 1ull << 63;
}

/* Find a host by its address and hash, or HC_NONE. */
static uint32_t
find(const struct hostctx *hc, const uint8_t *addr, uint64_t hv)
{
	uint32_t p = (uint32_t)hv & hc->mask, tag = (uint32_t)(hv >> 32), i;
	uint64_t e;

	while ((e = hc->ix[p]) != 0) {
		i = (uint32_t)e - 1;
		if ((uint32_t)(e >> 32) == tag && addr_eq(hc->h[i].addr, addr))
			return i;
		p = (p + 1) & hc->mask;
	}
	return HC_NONE;
}

/* Enter record i, whose hash is hv, in the index. */
static void
ix_add(struct hostctx *hc, uint32_t i, uint64_t hv)
{
	uint32_t p = (uint32_t)hv & hc->mask;

	while (hc->ix[p] != 0)
		p = (p + 1) & hc->mask;
	hc->ix[p] = (hv >> 32) << 32 | (uint64_t)(i + 1);
}

/*
 * Take record i out of the index: find its entry from its hash's home,
 * then close the gap by moving back every later entry of the run that may
 * move (linear probing's deletion, with no tombstones).
 */
static void
ix_del(struct hostctx *hc, uint32_t i)
{
	uint32_t p = (uint32_t)hc->hv[i] & hc->mask, q, home;
	uint64_t e;

	while ((uint32_t)hc->ix[p] != i + 1)
		p = (p + 1) & hc->mask;
	for (q = p;;) {
		q = (q + 1) & hc->mask;
		if ((e = hc->ix[q]) == 0)
			break;
		home = (uint32_t)hc->hv[(uint32_t)e - 1] & hc->mask;
		/* e may fill the gap at p unless its home lies in (p, q] */
		if (((q - home) & hc->mask) >= ((q - p) & hc->mask)) {
			hc->ix[p] = e;
			p = q;
		}
	}
	hc->ix[p] = 0;
}

/* Take record i out of the index and put it on the freelist. */
static void
drop(struct hostctx *hc, uint32_t i)
{
	ix_del(hc, i);
	hc->hv[i] = 0;
	hc->h[i].born = hc->freelist; /* the freelist's link, while free */
	hc->freelist = i;
	hc->used--;
}

/*
 * Evict the least recently updated of HC_EVICT_PICK records from the hand
 * on, never keep (the initiator a flow start just looked up).
 */
static void
evict_one(struct hostctx *hc, uint32_t keep)
{
	uint32_t best = HC_NONE, i, n;

	for (n = 0; n < HC_EVICT_PICK || best == HC_NONE; n++) {
		i = hc->evict_hand;
		hc->evict_hand = i + 1 < hc->cap ? i + 1 : 0;
		if (i == keep || hc->hv[i] == 0)
			continue;
		if (best == HC_NONE || hc->last[i] < hc->last[best])
			best = i;
	}
	drop(hc, best);
	hc->evicted++;
}

/* A free record: the freelist, a fresh one, or an evicted host's. */
static uint32_t
alloc_slot(struct hostctx *hc, uint32_t keep)
{
	uint32_t i;

	if (hc->freelist == HC_NONE && hc->fresh == hc->cap)
		evict_one(hc, keep);
	if (hc->freelist != HC_NONE) {
		i = hc->freelist;
		hc->freelist = hc->h[i].born;
	} else
		i = hc->fresh++;
	hc->used++;
	return i;
}

static uint32_t tick_of(uint64_t us);

/*
 * Record i starts again at now_us.  Its slot marks are all older than the
 * tick it is born in, unless its last update (by its previous host, or
 * its own) was in that very tick: then they are cleared.
 */
static void
reset(struct hostctx *hc, uint32_t i, uint64_t now_us)
{
	struct host *h = &hc->h[i];
	uint32_t t = tick_of(now_us);

	memset(h->out, 0, sizeof(h->out));
	memset(h->in, 0, sizeof(h->in));
	h->ended = h->failed = 0.0f;
	if (hc->last[i] != 0 && tick_of(hc->last[i]) >= t) {
		memset(h->ports, 0, sizeof(h->ports));
		memset(h->hosts, 0, sizeof(h->hosts));
		memset(h->peers, 0, sizeof(h->peers));
	}
	h->born = t;
	hc->last[i] = now_us;
}

/* Bring found record i up to now_us; a host idle past HC_IDLE_US starts again.
 */
static void
touch(struct hostctx *hc, uint32_t i, uint64_t now_us)
{
	struct host *h = &hc->h[i];
	uint64_t last = hc->last[i];
	float dt, decay = 1.0f;
	int w;

	if (now_us > last + HC_IDLE_US)
		reset(hc, i, now_us);
	else if (now_us > last) {
		dt = (float)(now_us - last) / 1e6f;
		for (w = 0; w < 3; w++) {
			decay = expf(-dt / hc_tau_s[w]);
			h->out[w] *= decay;
			h->in[w] *= decay;
		}
		h->ended *= decay; /* the 60 s constant */
		h->failed *= decay;
		hc->last[i] = now_us;
	}
}

/*
 * Find or create the record of addr and bring it up to now_us; *born is
 * set when it was created now.  Eviction spares record keep.  Returns the
 * record's index.
 */
static uint32_t
lookup(struct hostctx *hc, const uint8_t *addr, uint64_t now_us, uint32_t keep,
    int *born)
{
	uint64_t hv = hash_of(hc, addr);
	uint32_t i = find(hc, addr, hv);

	*born = i == HC_NONE;
	if (i != HC_NONE) {
		touch(hc, i, now_us);
		return i;
	}
	i = alloc_slot(hc, keep);
	memcpy(hc->h[i].addr, addr, CAP_ADDR_LEN);
	hc->hv[i] = hv;
	ix_add(hc, i, hv);
	reset(hc, i, now_us);
	return i;
}

/* The tick of a time; 0 marks an empty slot, so ticks start at 1. */
static uint32_t
tick_of(uint64_t us)
{
	return (uint32_t)(us / (1000000u / HC_TICKS_PER_S)) | 1u;
}

/*
 * The slot hash is keyed with a constant, not the random table key: the
 * estimates feed the features, and an offline run must give the same
 * features whatever key the table drew.  Someone who knows the constant can
 * pick ports that share slots, but that only works for items they choose,
 * which a scan of the ports it wants cannot do for long.
 */
static const uint64_t slot_key[2] = {
    0x616e6f6d64736c74ULL, 0x6b65792d32303236ULL};

/* Mark item in a slot array. */
static void
slot_hit(uint32_t *slots, const void *item, size_t len, uint64_t now_us)
{
	uint64_t hv = cap_siphash(slot_key, item, len);

	slots[hv % HC_SLOTS] = tick_of(now_us);
}

/*
 * Distinct items over each window, by linear counting; marks older than
 * born are empty.  The loop is kept branch-free so that it vectorises: it
 * runs three times per flow.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void
slot_count(const uint32_t *slots, uint32_t born, uint64_t now_us, float out[3])
{
	uint32_t now = tick_of(now_us), k0 = 0, k1 = 0, k2 = 0, age;
	int s;

	for (s = 0; s < HC_SLOTS; s++) {
		age = slots[s] >= born ? now - slots[s] : UINT32_MAX;
		k0 += age < hc_win_ticks[0];
		k1 += age < hc_win_ticks[1];
		k2 += age < hc_win_ticks[2];
	}
	out[0] = hc_linear[k0];
	out[1] = hc_linear[k1];
	out[2] = hc_linear[k2];
}

/*
 * Free the records of hosts idle past HC_IDLE_US in the next stretch of
 * the array: a stretch per call that covers the array every 64 calls, so
 * about every minute with a call a second.
 */
void
hostctx_expire(struct hostctx *hc, uint64_t now_us)
{
	uint32_t n = hc->fresh / 64 + 64, i;

	if (hc->fresh == 0)
		return;
	if (n > hc->fresh)
		n = hc->fresh;
	while (n-- > 0) {
		i = hc->sweep_hand;
		hc->sweep_hand = i + 1 < hc->fresh ? i + 1 : 0;
		if (hc->hv[i] != 0 && hc->last[i] + HC_IDLE_US < now_us)
			drop(hc, i);
	}
}

/* The correction of a decayed count for a context T seconds old. */
float
hostctx_warm_factor(float tau_s, float t_s)
{
	if (t_s < HOSTCTX_WARM_MIN_S)
		t_s = HOSTCTX_WARM_MIN_S;
	if (t_s >= 20.0f * tau_s)
		return 1.0f;
	return 1.0f / -expm1f(-t_s / tau_s);
}

/*
 * Fill the views of initiator record hi and responder record hr.  A record
 * born with this flow (hi_new, hr_new) holds only its marks, one in each
 * array, whatever the window: its distinct counts are those of one item.
 */
static void
read_views(const struct hostctx *hc, const struct host *hi, int hi_new,
    const struct host *hr, int hr_new, uint64_t now_us, struct host_view *iv,
    struct host_view *rv)
{
	float t_s =
	    now_us > hc->t0_us ? (float)(now_us - hc->t0_us) / 1e6f : 0.0f;
	float k;
	int w;

	for (w = 0; w < 3; w++) {
		k = hostctx_warm_factor(hc_tau_s[w], t_s);
		iv->flows[w] = hi->out[w] * k;
		rv->flows[w] = hr->in[w] * k;
	}
	if (hi_new)
		for (w = 0; w < 3; w++)
			iv->distinct_a[w] = iv->distinct_b[w] = hc_linear[1];
	else {
		slot_count(hi->ports, hi->born, now_us, iv->distinct_a);
		slot_count(hi->hosts, hi->born, now_us, iv->distinct_b);
	}
	iv->fail_share = hi->ended > 0.0f ? hi->failed / hi->ended : 0.0f;
	if (hr_new)
		for (w = 0; w < 3; w++)
			rv->distinct_a[w] = hc_linear[1];
	else
		slot_count(hr->peers, hr->born, now_us, rv->distinct_a);
	memset(rv->distinct_b, 0, sizeof(rv->distinct_b));
	rv->fail_share = 0.0f;
}

/* A flow from init to resp:resp_port starts at now_us. */
uint32_t
hostctx_flow_start(struct hostctx *hc, uint64_t now_us, const uint8_t *init,
    const uint8_t *resp, uint16_t resp_port, struct host_view *iv,
    struct host_view *rv)
{
	struct host *hi, *hr;
	uint32_t ii, ir;
	int w, ni, nr;

	if (!hc->started || now_us < hc->t0_us) {
		hc->t0_us = now_us;
		hc->started = 1;
	}
	ii = lookup(hc, init, now_us, HC_NONE, &ni);
	/* Looking up the responder must not evict the initiator. */
	ir = lookup(hc, resp, now_us, ii, &nr);
	hi = &hc->h[ii];
	hr = &hc->h[ir];
	for (w = 0; w < 3; w++)
		hi->out[w] += 1.0f;
	slot_hit(hi->ports, &resp_port, sizeof(resp_port), now_us);
	slot_hit(hi->hosts, resp, CAP_ADDR_LEN, now_us);
	for (w = 0; w < 3; w++)
		hr->in[w] += 1.0f;
	slot_hit(hr->peers, init, CAP_ADDR_LEN, now_us);
	/* A flow to itself: the responder's peers are the new record's. */
	read_views(hc, hi, ni, hr, nr || (ir == ii && ni), now_us, iv, rv);
	return ii;
}

/*
 * A flow started by init ends; failed says whether it failed.  A host
 * forgotten since (evicted, or idle past the windows) is not brought back
 * for it: what it would hold is one ended flow and nothing else.
 */
void
hostctx_flow_end(struct hostctx *hc, uint64_t now_us, const uint8_t *init,
    uint32_t hint, int failed)
{
	uint64_t hv = hash_of(hc, init);
	uint32_t i = hint;
	struct host *h;

	if (i >= hc->fresh || hc->hv[i] != hv || !addr_eq(hc->h[i].addr, init))
		i = find(hc, init, hv);
	if (i == HC_NONE || now_us > hc->last[i] + HC_IDLE_US)
		return;
	touch(hc, i, now_us);
	h = &hc->h[i];
	h->ended += 1.0f;
	h->failed += failed ? 1.0f : 0.0f;
}

/* Fill the views of init (as initiator) and resp (as responder). */
void
hostctx_read(struct hostctx *hc, uint64_t now_us, const uint8_t *init,
    const uint8_t *resp, struct host_view *iv, struct host_view *rv)
{
	uint32_t ii, ir;
	int ni, nr;

	if (!hc->started) {
		hc->t0_us = now_us;
		hc->started = 1;
	}
	ii = lookup(hc, init, now_us, HC_NONE, &ni);
	ir = lookup(hc, resp, now_us, ii, &nr);
	/* Born now, their arrays are empty, not one item's: read them. */
	read_views(hc, &hc->h[ii], 0, &hc->h[ir], 0, now_us, iv, rv);
}

/*
 * A 16-bit float for a non-negative value: 6 exponent bits (0 means zero),
 * 10 mantissa bits, rounded to nearest.  It spans 2^-31 to 2^32, so a
 * flood's counts fit, and its relative error (below 2^-11) is far under
 * what the model can tell apart after log1p and standardising.  Packing
 * is a few integer operations: it runs twice per flow.
 */
#define H16_EBIAS 95 /* float exponent of code exponent 0 */

static uint16_t
h16_pack(float x)
{
	uint32_t b, e;

	if (!(x > 0.0f))
		return 0; /* zero, negative and NaN */
	memcpy(&b, &x, sizeof(b));
	b += 1u << 12; /* round the 13 dropped bits; may carry into e */
	e = b >> 23;
	if (e <= H16_EBIAS)
		return 0;
	if (e - H16_EBIAS > 63)
		return UINT16_MAX;
	return (uint16_t)((e - H16_EBIAS) << 10 | ((b >> 13) & 0x3ffu));
}

static float
h16_unpack(uint16_t h)
{
	uint32_t b;
	float x;

	if (h == 0)
		return 0.0f;
	b = ((uint32_t)(h >> 10) + H16_EBIAS) << 23 |
	    (uint32_t)(h & 0x3ffu) << 13;
	memcpy(&x, &b, sizeof(x));
	return x;
}

/* Pack an initiator's and a responder's view. */
void
host_view_pack(const struct host_view *iv, const struct host_view *rv,
    struct host_view_pair *p)
{
	int w;

	for (w = 0; w < 3; w++) {
		p->v[w] = h16_pack(iv->flows[w]);
		p->v[3 + w] = h16_pack(iv->distinct_a[w]);
		p->v[6 + w] = h16_pack(iv->distinct_b[w]);
		p->v[10 + w] = h16_pack(rv->flows[w]);
		p->v[13 + w] = h16_pack(rv->distinct_a[w]);
	}
	p->v[9] = h16_pack(iv->fail_share);
}

/* Unpack what host_view_pack() stored. */
void
host_view_unpack(
    const struct host_view_pair *p, struct host_view *iv, struct host_view *rv)
{
	int w;

	for (w = 0; w < 3; w++) {
		iv->flows[w] = h16_unpack(p->v[w]);
		iv->distinct_a[w] = h16_unpack(p->v[3 + w]);
		iv->distinct_b[w] = h16_unpack(p->v[6 + w]);
		rv->flows[w] = h16_unpack(p->v[10 + w]);
		rv->distinct_a[w] = h16_unpack(p->v[13 + w]);
		rv->distinct_b[w] = 0.0f;
	}
	iv->fail_share = h16_unpack(p->v[9]);
	rv->fail_share = 0.0f;
}

/* Hosts evicted at the memcap so far. */
uint64_t
hostctx_evicted(const struct hostctx *hc)
{
	return hc->evicted;
}

/* Hosts tracked now. */
uint64_t
hostctx_active(const struct hostctx *hc)
{
	return hc->used;
}

/* Hosts the memcap allows. */
uint64_t
hostctx_capacity(const struct hostctx *hc)
{
	return hc->cap;
}
