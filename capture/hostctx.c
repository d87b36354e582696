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
 * Records live in one flat array sized from the memcap; at the cap the
 * least recently updated host is evicted, and hosts idle for longer than
 * the longest window are forgotten, since everything they hold has decayed.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture-int.h"

#define HC_SLOTS 64
#define HC_TICKS_PER_S 64u
#define HC_IDLE_US (120 * 1000000ull) /* forget after this, > 60 s */

static const float hc_tau_s[3] = {1.0f, 10.0f, 60.0f};
static const uint32_t hc_win_ticks[3] = {
    1 * HC_TICKS_PER_S, 10 * HC_TICKS_PER_S, 60 * HC_TICKS_PER_S};

struct host {
	uint8_t addr[CAP_ADDR_LEN];
	uint32_t hnext; /* hash chain */
	struct ilink lru;
	uint64_t last_us;
	float out[3], in[3]; /* decayed flows started / received */
	float ended, failed; /* decayed with the 60 s constant */
	uint32_t ports[HC_SLOTS], hosts[HC_SLOTS], peers[HC_SLOTS];
};

struct hostctx {
	uint64_t key[2];
	struct host *h;
	uint32_t *bucket;
	uint32_t mask, cap, used, freelist;
	struct ilist lru;
	uint64_t evicted;
};

#define HOST_LINK offsetof(struct host, lru)

/* Create a table holding as many hosts as memcap allows. */
struct hostctx *
hostctx_create(size_t memcap, const uint64_t key[2])
{
	struct hostctx *hc;
	size_t per = sizeof(struct host) + 2 * sizeof(uint32_t);
	size_t cap = memcap / per, nb = 1;

	if (cap < 64 || cap > UINT32_MAX / 4) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < cap)
		nb <<= 1;
	if ((hc = calloc(1, sizeof(*hc))) == NULL)
		return NULL;
	hc->h = calloc(cap, sizeof(*hc->h));
	hc->bucket = malloc(nb * sizeof(*hc->bucket));
	if (hc->h == NULL || hc->bucket == NULL) {
		hostctx_free(hc);
		errno = ENOMEM;
		return NULL;
	}
	memset(hc->bucket, 0xff, nb * sizeof(*hc->bucket));
	memcpy(hc->key, key, sizeof(hc->key));
	hc->mask = (uint32_t)nb - 1;
	hc->cap = (uint32_t)cap;
	hc->freelist = ILIST_NONE;
	hc->lru.head = hc->lru.tail = ILIST_NONE;
	return hc;
}

/* Free the table. */
void
hostctx_free(struct hostctx *hc)
{
	if (hc == NULL)
		return;
	free(hc->h);
	free(hc->bucket);
	free(hc);
}

/* Bucket of an address. */
static uint32_t
bucket_of(const struct hostctx *hc, const uint8_t *addr)
{
	/* An IPv4 host by its 4 bytes: one SipHash block rather than three. */
	if (addr_is_v4(addr))
		return (uint32_t)cap_siphash(hc->key, addr + 12, 4) & hc->mask;
	return (uint32_t)cap_siphash(hc->key, addr, CAP_ADDR_LEN) & hc->mask;
}

/* Find a host, or ILIST_NONE. */
static uint32_t
find(const struct hostctx *hc, const uint8_t *addr)
{
	uint32_t i = hc->bucket[bucket_of(hc, addr)];

	while (i != ILIST_NONE && !addr_eq(hc->h[i].addr, addr))
		i = hc->h[i].hnext;
	return i;
}

/* Unlink host i from its chain and the LRU list and put it on the freelist. */
static void
drop(struct hostctx *hc, uint32_t i)
{
	uint32_t *pp = &hc->bucket[bucket_of(hc, hc->h[i].addr)];

	while (*pp != i)
		pp = &hc->h[*pp].hnext;
	*pp = hc->h[i].hnext;
	ilist_remove(&hc->lru, hc->h, sizeof(*hc->h), HOST_LINK, i);
	hc->h[i].hnext = hc->freelist;
	hc->freelist = i;
}

/* A free record: the freelist, a fresh one, or the least recent host. */
static uint32_t
alloc_slot(struct hostctx *hc)
{
	uint32_t i;

	if (hc->freelist == ILIST_NONE && hc->used == hc->cap) {
		drop(hc, hc->lru.head);
		hc->used--;
		hc->evicted++;
	}
	if (hc->freelist != ILIST_NONE) {
		i = hc->freelist;
		hc->freelist = hc->h[i].hnext;
	} else
		i = hc->used;
	hc->used++;
	return i;
}

/* Find or create the record of addr and bring it up to now_us. */
static struct host *
lookup(struct hostctx *hc, const uint8_t *addr, uint64_t now_us)
{
	uint32_t i = find(hc, addr), b;
	struct host *h;
	float dt, decay = 1.0f;
	int w;

	if (i == ILIST_NONE) {
		i = alloc_slot(hc);
		h = &hc->h[i];
		memset(h, 0, sizeof(*h));
		memcpy(h->addr, addr, CAP_ADDR_LEN);
		b = bucket_of(hc, addr);
		h->hnext = hc->bucket[b];
		hc->bucket[b] = i;
		h->last_us = now_us;
	} else {
		h = &hc->h[i];
		ilist_remove(&hc->lru, hc->h, sizeof(*h), HOST_LINK, i);
	}
	ilist_append(&hc->lru, hc->h, sizeof(*h), HOST_LINK, i);
	if (now_us > h->last_us) {
		dt = (float)(now_us - h->last_us) / 1e6f;
		for (w = 0; w < 3; w++) {
			decay = expf(-dt / hc_tau_s[w]);
			h->out[w] *= decay;
			h->in[w] *= decay;
		}
		h->ended *= decay; /* the 60 s constant */
		h->failed *= decay;
		h->last_us = now_us;
	}
	return h;
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
 * Distinct items over each window, by linear counting.  The loop is kept
 * branch-free so that it vectorises: it runs three times per ended flow.
 */
static void
slot_count(const uint32_t *slots, uint64_t now_us, float out[3])
{
	uint32_t now = tick_of(now_us), k0 = 0, k1 = 0, k2 = 0, age;
	float m = HC_SLOTS, hit;
	uint32_t k[3];
	int s, w;

	for (s = 0; s < HC_SLOTS; s++) {
		age = slots[s] ? now - slots[s] : UINT32_MAX;
		k0 += age < hc_win_ticks[0];
		k1 += age < hc_win_ticks[1];
		k2 += age < hc_win_ticks[2];
	}
	k[0] = k0, k[1] = k1, k[2] = k2;
	for (w = 0; w < 3; w++) {
		hit = k[w] < HC_SLOTS ? (float)k[w] : m - 0.5f;
		out[w] = -m * logf(1.0f - hit / m);
	}
}

/* Forget hosts idle past the longest window. */
void
hostctx_expire(struct hostctx *hc, uint64_t now_us)
{
	uint32_t i;

	while ((i = hc->lru.head) != ILIST_NONE &&
	    hc->h[i].last_us + HC_IDLE_US < now_us) {
		drop(hc, i);
		hc->used--;
	}
}

/* A flow from init to resp:resp_port starts at now_us. */
void
hostctx_flow_start(struct hostctx *hc, uint64_t now_us, const uint8_t *init,
    const uint8_t *resp, uint16_t resp_port)
{
	struct host *h;
	int w;

	h = lookup(hc, init, now_us);
	for (w = 0; w < 3; w++)
		h->out[w] += 1.0f;
	slot_hit(h->ports, &resp_port, sizeof(resp_port), now_us);
	slot_hit(h->hosts, resp, CAP_ADDR_LEN, now_us);
	h = lookup(hc, resp, now_us);
	for (w = 0; w < 3; w++)
		h->in[w] += 1.0f;
	slot_hit(h->peers, init, CAP_ADDR_LEN, now_us);
}

/* A flow started by init ends; failed says whether it failed. */
void
hostctx_flow_end(
    struct hostctx *hc, uint64_t now_us, const uint8_t *init, int failed)
{
	struct host *h = lookup(hc, init, now_us);

	h->ended += 1.0f;
	h->failed += failed ? 1.0f : 0.0f;
}

/* Fill the views of init (as initiator) and resp (as responder). */
void
hostctx_read(struct hostctx *hc, uint64_t now_us, const uint8_t *init,
    const uint8_t *resp, struct host_view *iv, struct host_view *rv)
{
	struct host *h;

	h = lookup(hc, init, now_us);
	memcpy(iv->flows, h->out, sizeof(iv->flows));
	slot_count(h->ports, now_us, iv->distinct_a);
	slot_count(h->hosts, now_us, iv->distinct_b);
	iv->fail_share = h->ended > 0.0f ? h->failed / h->ended : 0.0f;
	h = lookup(hc, resp, now_us);
	memcpy(rv->flows, h->in, sizeof(rv->flows));
	slot_count(h->peers, now_us, rv->distinct_a);
	memset(rv->distinct_b, 0, sizeof(rv->distinct_b));
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
