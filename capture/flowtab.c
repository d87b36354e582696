/*
 * The flow table.
 *
 * Flows live in one flat array sized from the memcap and are found through
 * an open-addressing index at most half full, whose 64-bit entries hold
 * the flow's number and the low 32 bits of its hash: the home position is
 * those bits under the mask, so a probe compares tags in the index and
 * reads a flow only when its tag matches, and a deletion closes its gap
 * (linear probing's backward shift) without reading any flow.  A flood of
 * new 5-tuples then costs a cache line of the index per packet rather than
 * a walk through cold flows.  The hash is SipHash over the two endpoints
 * in a canonical order, keyed at random at start-up, so both directions
 * meet in one place and nobody can aim at a position.
 *
 * Timeouts: every flow sits on exactly one of FC_COUNT lists, one per
 * timeout class (established TCP, half-open TCP, closed TCP, UDP, ICMP,
 * other).  A packet moves its flow to the tail of its class's list, so each
 * list is ordered by last packet and expiry only ever looks at list heads.
 * The least recently seen flow of the whole table, which is what the memcap
 * evicts, is the oldest of the FC_COUNT heads.
 *
 * Active timeout: when a packet arrives for a flow whose record began more
 * than `active` seconds ago, the record so far is emitted as an interim
 * record and the counters start again, so a long flow is seen while it
 * lasts and every record covers a bounded stretch of time.
 *
 * Answered exchanges: a UDP request/response flow whose every request has
 * been answered moves to FC_UDP_ANSWERED, whose short linger
 * (`udp_answered`) ends it as FLOW_END_ANSWERED instead of waiting out the
 * UDP idle timeout; a later request puts it back on FC_UDP until it is
 * answered again (a later answer only restarts the linger).  Requests and
 * answers are datagrams each way: on the request/response ports of
 * answered_port() a flow is answered once the responder has sent at least as
 * many datagrams as the initiator (a DNS client asking A and AAAA from one port
 * gets two answers), and on any other port once a single request got a reply.
 * A stream sends its second datagram long before the linger runs out, so it is
 * not cut.
 *
 * Host context from the flow's own time: a record's init_* and resp_*
 * features describe its hosts as they were when the record began, just
 * after the flow was counted, never when the record is emitted.  Emission
 * comes a timeout after the last packet, and by then a flood may have
 * started: reading the hosts then would blame a DNS query answered before
 * the flood for the flood.  The start is the one moment the hosts are
 * looked up anyway (to count the flow), so this costs no lookup per packet
 * and none at the end; reading at the last packet would need one per
 * packet.  The two views travel in a side array indexed by the flow's slot
 * (ctx[], 32 bytes a flow as 16-bit floats), which only the delivery side
 * touches: a slot's EV_END is always handled before the EV_START of the
 * next flow in that slot, because the ring keeps order.  An interim record
 * keeps the views of its own start, and the views are read again for the
 * record that follows it, so no record's context is older than
 * `timeout_active`.
 *
 * Time is the packets' own clock (never running backwards), so an offline
 * run gives the same records every time.
 *
 * Threaded delivery (opts.threaded): the table itself (lookup, per-packet
 * accounting, timeouts) stays on the caller's thread, while everything
 * done per flow rather than per packet (host context, features and the
 * record callback) moves to a second thread behind a ring.  Every host
 * context operation travels through the ring as an event (a flow started,
 * a flow ended, hosts expired) in the order the unthreaded table would do
 * it, so the records are the same bit for bit.
 */
#include <sys/random.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture-int.h"

#define FLOWTAB_MIN_MEMCAP (64 * 1024)
#define US 1000000ull
#define FLOW_CACHE_BITS 13
#define FLOW_CACHE_SLOTS (1u << FLOW_CACHE_BITS) /* 32 KiB of flow indices */

struct flowtab {
	struct flow *f;
	uint64_t *ix; /* (hash low 32 bits) << 32 | flow + 1; 0 = empty */
	uint32_t mask, cap, used, freelist;
	struct ilist cls[FC_COUNT];
	uint64_t to_us[FC_COUNT];
	uint64_t active_us;
	uint64_t key[2];
	uint64_t now_us, next_expire_us, next_id;
	struct hostctx *hc;
	flow_emit_cb cb;
	void *arg;
	struct ring *ring; /* threaded delivery, or NULL */
	uint32_t last; /* the flow of the last packet, or ILIST_NONE */
	/*
	 * A direct-mapped cache of flows by a cheap symmetric hash of the
	 * endpoints (fc_slot): a packet of a recent flow skips the keyed hash
	 * and the probe.  Every hit is checked with match(), so a wrong or
	 * aimed slot costs only the usual path; end_flow() clears its entry.
	 */
	uint32_t fcache[FLOW_CACHE_SLOTS];
	struct host_view_pair *ctx; /* per slot; the delivery side's */
	struct cap_stats st;
};

/* An event for the delivery thread. */
enum {
	EV_START,
	EV_END,
	EV_EXPIRE
};

struct flow_event {
	uint8_t kind;
	uint8_t why; /* EV_END: enum flow_end */
	uint32_t slot; /* EV_START, EV_END: the flow's index */
	uint64_t t; /* the table's clock */
	union {
		struct flow f; /* EV_END: the flow as it ended */
		struct {
			uint8_t src[CAP_ADDR_LEN], dst[CAP_ADDR_LEN];
			uint16_t dport;
		} s; /* EV_START */
	} u;
};

#define FLOW_RING_SLOTS 2048

static void deliver_event(void *slot, void *arg);

#define FLOW_LINK offsetof(struct flow, lru)

static const char *const end_names[FLOW_END_COUNT] = {"idle", "fin", "rst",
    "halfopen", "active", "evict", "flush", "shutdown", "answered"};

/* Name of an end reason. */
const char *
flow_end_name(enum flow_end e)
{
	return (unsigned)e < FLOW_END_COUNT ? end_names[e] : "unknown";
}

/* Default timeouts and memcaps. */
void
flowtab_opts_default(struct flowtab_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->memcap = 64u << 20;
	o->host_memcap = 32u << 20;
	o->to.tcp_idle = 300;
	o->to.tcp_halfopen = 10;
	o->to.tcp_closed = 2;
	o->to.udp_idle = 60;
	o->to.udp_answered = 2;
	o->to.icmp_idle = 30;
	o->to.other_idle = 60;
	o->to.active = 300;
}

/*
 * State bytes one tracked flow costs: the record, the host views kept from
 * its start and two index entries (the index is at most half full; where
 * rounding to a power of two makes it larger, fewer flows fit the memcap).
 */
size_t
flowtab_bytes_per_flow(void)
{
	return sizeof(struct flow) + 2 * sizeof(uint64_t) +
	    sizeof(struct host_view_pair);
}

/* splitmix64: spread a seed into hash key words. */
static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Key the hashes from the seed, or from the kernel when it is 0. */
static void
make_key(uint64_t seed, uint64_t key[2])
{
	if (seed == 0 &&
	    getrandom(key, 2 * sizeof(*key), 0) == (ssize_t)(2 * sizeof(*key)))
		return;
	if (seed == 0)
		seed = (uint64_t)(uintptr_t)key ^ 0x5deece66dULL;
	key[0] = splitmix64(&seed);
	key[1] = splitmix64(&seed);
}

/* Set the timeouts in microseconds by class. */
static void
set_timeouts(struct flowtab *ft, const struct flow_timeouts *to)
{
	ft->to_us[FC_TCP_EST] = to->tcp_idle * US;
	ft->to_us[FC_TCP_HALF] = to->tcp_halfopen * US;
	ft->to_us[FC_TCP_CLOSED] = to->tcp_closed * US;
	ft->to_us[FC_UDP] = to->udp_idle * US;
	ft->to_us[FC_UDP_ANSWERED] = to->udp_answered * US;
	ft->to_us[FC_ICMP] = to->icmp_idle * US;
	ft->to_us[FC_OTHER] = to->other_idle * US;
	ft->active_us = to->active ? to->active * US : UINT64_MAX;
	if (ft->active_us > FLOW_RECORD_MAX_US)
		ft->active_us = FLOW_RECORD_MAX_US;
}

/* Create a table. */
struct flowtab *
flowtab_create(const struct flowtab_opts *o, flow_emit_cb cb, void *arg)
{
	struct flowtab *ft;
	size_t per = sizeof(struct flow) + sizeof(struct host_view_pair);
	size_t cap = o->memcap / flowtab_bytes_per_flow(), nb = 1;
	int c;

	if (o->memcap < FLOWTAB_MIN_MEMCAP || cap > UINT32_MAX / 4 ||
	    o->host_memcap < FLOWTAB_MIN_MEMCAP) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < 2 * cap)
		nb <<= 1;
	if (cap * per + nb * sizeof(uint64_t) > o->memcap)
		cap = (o->memcap - nb * sizeof(uint64_t)) / per;
	if ((ft = calloc(1, sizeof(*ft))) == NULL)
		return NULL;
	make_key(o->seed, ft->key);
	ft->f = calloc(cap, sizeof(*ft->f));
	ft->ctx = calloc(cap, sizeof(*ft->ctx));
	ft->ix = calloc(nb, sizeof(*ft->ix));
	ft->hc = hostctx_create(o->host_memcap, ft->key);
	if (ft->f == NULL || ft->ctx == NULL || ft->ix == NULL ||
	    ft->hc == NULL) {
		flowtab_free(ft);
		errno = ENOMEM;
		return NULL;
	}
	ft->mask = (uint32_t)nb - 1;
	ft->cap = (uint32_t)cap;
	ft->freelist = ILIST_NONE;
	ft->last = ILIST_NONE;
	for (c = 0; c < (int)FLOW_CACHE_SLOTS; c++)
		ft->fcache[c] = ILIST_NONE;
	for (c = 0; c < FC_COUNT; c++)
		ft->cls[c].head = ft->cls[c].tail = ILIST_NONE;
	set_timeouts(ft, &o->to);
	ft->cb = cb;
	ft->arg = arg;
	ft->next_id = 1;
	ft->st.flows_max = cap;
	ft->st.hosts_max = hostctx_capacity(ft->hc);
	if (o->threaded &&
	    (ft->ring = ring_create(sizeof(struct flow_event), FLOW_RING_SLOTS,
		 deliver_event, ft)) == NULL) {
		flowtab_free(ft);
		return NULL;
	}
	return ft;
}

/* Free a table without emitting. */
void
flowtab_free(struct flowtab *ft)
{
	if (ft == NULL)
		return;
	ring_free(ft->ring);
	hostctx_free(ft->hc);
	free(ft->ctx);
	free(ft->f);
	free(ft->ix);
	free(ft);
}

/*
 * ICMP "ports" (identifier, type) are the same both ways rather than
 * swapped like TCP and UDP ports, so an echo reply must meet its request.
 */
static inline int
ports_fixed(uint8_t proto)
{
	return proto == 1 || proto == 58;
}

/*
 * Hash of an endpoint pair, the same for both directions.  Two IPv4
 * endpoints are hashed by their 4-byte addresses: 13 bytes rather than
 * 37 make SipHash two blocks rather than five, on every packet.  Its low
 * 32 bits are what the index keeps.
 */
static uint32_t
hash_of(const struct flowtab *ft, uint8_t proto, const uint8_t *a, uint16_t ap,
    const uint8_t *b, uint16_t bp)
{
	uint8_t k[2 * CAP_ADDR_LEN + 5];
	int c = addr_cmp(a, b), al;

	if (ports_fixed(proto) && c > 0) {
		const uint8_t *t = a;

		a = b, b = t;
	} else if (!ports_fixed(proto) && (c > 0 || (c == 0 && ap > bp))) {
		const uint8_t *t = a;
		uint16_t tp = ap;

		a = b, ap = bp, b = t, bp = tp;
	}
	if (addr_is_v4(a) && addr_is_v4(b)) {
		a += 12, b += 12;
		al = 4;
	} else
		al = CAP_ADDR_LEN;
	memcpy(k, a, (size_t)al);
	memcpy(k + al, b, (size_t)al);
	memcpy(k + 2 * al, &ap, 2);
	memcpy(k + 2 * al + 2, &bp, 2);
	k[2 * al + 4] = proto;
	return (uint32_t)cap_siphash(ft->key, k, (size_t)(2 * al + 5));
}

/*
 * The flow cache's slot for a packet between (a, ap) and (b, bp): the same
 * both ways (it XORs the endpoints), cheap, and not keyed, since a hit is
 * always checked.
 */
static inline uint32_t
fc_slot(
    uint8_t proto, const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp)
{
	uint64_t x0, x1, y0, y1, h;

	memcpy(&x0, a, 8);
	memcpy(&x1, a + 8, 8);
	memcpy(&y0, b, 8);
	memcpy(&y1, b + 8, 8);
	h = ((x1 ^ y1) + (x0 ^ y0) * 0x9e3779b97f4a7c15ULL) *
	    0xbf58476d1ce4e5b9ULL;
	h ^= (uint64_t)((uint32_t)(ap ^ bp) << 8 | proto) *
	    0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (
	    uint32_t)((h * 0x9e3779b97f4a7c15ULL) >> (64 - FLOW_CACHE_BITS));
}

/* Whether flow f goes from (s, sp) to (d, dp). */
static int
same_way(const struct flow *f, const uint8_t *s, uint16_t sp, const uint8_t *d,
    uint16_t dp)
{
	return f->sport == sp && f->dport == dp && addr_eq(f->src, s) &&
	    addr_eq(f->dst, d);
}

/* Whether flow f is the packet's, and *dir its way (as find() says). */
static inline int
match(const struct flow *f, uint8_t proto, const uint8_t *s, uint16_t sp,
    const uint8_t *d, uint16_t dp, int *dir)
{
	if (f->proto != proto)
		return 0;
	if (same_way(f, s, sp, d, dp)) {
		*dir = 0;
		return 1;
	}
	if (ports_fixed(proto) ? same_way(f, d, sp, s, dp)
			       : same_way(f, d, dp, s, sp)) {
		*dir = 1;
		return 1;
	}
	return 0;
}

/*
 * Find a flow whose endpoints hash to h; *dir is 0 when the packet goes
 * the way the initiator sent, 1 when it goes back.
 */
static uint32_t
find(const struct flowtab *ft, uint32_t h, uint8_t proto, const uint8_t *s,
    uint16_t sp, const uint8_t *d, uint16_t dp, int *dir)
{
	uint32_t p = h & ft->mask, i;
	uint64_t e;

	for (; (e = ft->ix[p]) != 0; p = (p + 1) & ft->mask) {
		if ((uint32_t)(e >> 32) != h)
			continue;
		i = (uint32_t)e - 1;
		if (match(&ft->f[i], proto, s, sp, d, dp, dir))
			return i;
	}
	return ILIST_NONE;
}

/* Time of the flow's last packet. */
static uint64_t
last_seen(const struct flow *f)
{
	uint32_t a = f->d[0].last_off, b = f->d[1].last_off;

	return f->first_us + (a > b ? a : b);
}

/* Whether the flow failed, for the initiator's fail share. */
static int
flow_failed(const struct flow *f)
{
	if (f->proto == 6)
		return !(f->tcp & TCPF_HANDSHAKE) ||
		    ((f->tcp & TCPF_RST) && (f->tcp & TCPF_CLOSE_R) &&
			f->d[1].pl_sum == 0);
	return f->icmp_err > 0;
}

/*
 * Features and the callback for flow f in slot i, which ended (or, for
 * FLOW_END_ACTIVE, reached its active timeout) at table time t, with the
 * host views kept from the record's start.
 */
static void
deliver_end(struct flowtab *ft, const struct flow *f, uint32_t i, uint64_t t,
    enum flow_end why)
{
	struct host_view iv, rv;
	struct flow_record rec;

	host_view_unpack(&ft->ctx[i], &iv, &rv);
	if (why != FLOW_END_ACTIVE)
		hostctx_flow_end(
		    ft->hc, t, f->src, ft->ctx[i].init_hint, flow_failed(f));
	memset(&rec, 0, sizeof(rec));
	rec.id = f->id;
	rec.ipver = f->ipver;
	rec.proto = f->proto;
	memcpy(rec.src, f->src, CAP_ADDR_LEN);
	memcpy(rec.dst, f->dst, CAP_ADDR_LEN);
	rec.sport = f->sport;
	rec.dport = f->dport;
	rec.end = why;
	feat_compute(f, &iv, &rv, &rec);
	if (ft->cb != NULL)
		ft->cb(&rec, ft->arg);
	if (why == FLOW_END_ACTIVE) {
		/* The record that goes on begins now. */
		hostctx_read(ft->hc, t, f->src, f->dst, &iv, &rv);
		host_view_pack(&iv, &rv, &ft->ctx[i]);
	}
}

/* The delivery thread's handler. */
static void
deliver_event(void *slot, void *arg)
{
	struct flow_event *ev = slot;
	struct flowtab *ft = arg;
	struct host_view iv, rv;
	uint32_t hint;

	switch (ev->kind) {
	case EV_START:
		hint = hostctx_flow_start(ft->hc, ev->t, ev->u.s.src,
		    ev->u.s.dst, ev->u.s.dport, &iv, &rv);
		host_view_pack(&iv, &rv, &ft->ctx[ev->slot]);
		ft->ctx[ev->slot].init_hint = hint;
		break;
	case EV_END:
		deliver_end(
		    ft, &ev->u.f, ev->slot, ev->t, (enum flow_end)ev->why);
		break;
	case EV_EXPIRE:
		hostctx_expire(ft->hc, ev->t);
		break;
	}
}

/*
 * An event goes to the delivery thread through the ring, or, without
 * one, is handled at once from a copy on the caller's stack: one path,
 * the same handler.
 */
static struct flow_event *
event_begin(struct flowtab *ft, struct flow_event *local)
{
	return ft->ring != NULL ? ring_slot(ft->ring) : local;
}

static void
event_end(struct flowtab *ft, struct flow_event *ev)
{
	if (ft->ring != NULL)
		ring_commit(ft->ring);
	else
		deliver_event(ev, ft);
}

/* Build the record of flow i and hand it to the callback. */
static void
emit(struct flowtab *ft, uint32_t i, enum flow_end why)
{
	struct flow *f = &ft->f[i];
	struct flow_event local, *ev;
	uint64_t t = last_seen(f);

	/*
	 * t is when the flow ends for the initiator's failed share: the
	 * table's clock.  The features' host context comes from the record's
	 * start (see the design comment).
	 */
	if (ft->now_us > t)
		t = ft->now_us;
	ft->st.flows_ended[why]++;
	ev = event_begin(ft, &local);
	ev->kind = EV_END;
	ev->why = (uint8_t)why;
	ev->slot = i;
	ev->t = t;
	memcpy(&ev->u.f, f, sizeof(*f));
	event_end(ft, ev);
}

/* Host context: the flow in slot i started at t. */
static void
host_start(struct flowtab *ft, uint64_t t, uint32_t i)
{
	struct flow_event local, *ev = event_begin(ft, &local);
	const struct flow *f = &ft->f[i];

	ev->kind = EV_START;
	ev->slot = i;
	ev->t = t;
	memcpy(ev->u.s.src, f->src, CAP_ADDR_LEN);
	memcpy(ev->u.s.dst, f->dst, CAP_ADDR_LEN);
	ev->u.s.dport = f->dport;
	event_end(ft, ev);
}

/* Host context: expire hosts idle at t. */
static void
host_expire(struct flowtab *ft, uint64_t t)
{
	struct flow_event local, *ev = event_begin(ft, &local);

	ev->kind = EV_EXPIRE;
	ev->t = t;
	event_end(ft, ev);
}

/* Enter flow i, whose endpoints hash to h, in the index. */
static void
ix_add(struct flowtab *ft, uint32_t i, uint32_t h)
{
	uint32_t p = h & ft->mask;

	while (ft->ix[p] != 0)
		p = (p + 1) & ft->mask;
	ft->ix[p] = (uint64_t)h << 32 | (uint64_t)(i + 1);
}

/*
 * Take flow i, whose endpoints hash to h, out of the index, moving back
 * every later entry of the run whose home allows it (linear probing's
 * deletion, no tombstones); homes come from the entries' own hash bits.
 */
static void
ix_del(struct flowtab *ft, uint32_t i, uint32_t h)
{
	uint32_t p = h & ft->mask, q, home;
	uint64_t e;

	while ((uint32_t)ft->ix[p] != i + 1)
		p = (p + 1) & ft->mask;
	for (q = p;;) {
		q = (q + 1) & ft->mask;
		if ((e = ft->ix[q]) == 0)
			break;
		home = (uint32_t)(e >> 32) & ft->mask;
		/* e may fill the gap at p unless its home lies in (p, q] */
		if (((q - home) & ft->mask) >= ((q - p) & ft->mask)) {
			ft->ix[p] = e;
			p = q;
		}
	}
	ft->ix[p] = 0;
}

/* Emit flow i, then unlink and free it. */
static void
end_flow(struct flowtab *ft, uint32_t i, enum flow_end why)
{
	struct flow *f = &ft->f[i];

	uint32_t c = fc_slot(f->proto, f->src, f->sport, f->dst, f->dport);

	emit(ft, i, why);
	ix_del(
	    ft, i, hash_of(ft, f->proto, f->src, f->sport, f->dst, f->dport));
	if (ft->last == i)
		ft->last = ILIST_NONE;
	if (ft->fcache[c] == i)
		ft->fcache[c] = ILIST_NONE;
	ilist_remove(&ft->cls[f->fclass], ft->f, sizeof(*f), FLOW_LINK, i);
	f->lru.next = ft->freelist; /* a free flow is on no list */
	ft->freelist = i;
	ft->used--;
	ft->st.flows_active = ft->used;
}

/* Why a flow on the list of class c ends when it times out. */
static enum flow_end
timeout_reason(const struct flow *f)
{
	switch (f->fclass) {
	case FC_TCP_CLOSED:
		return (f->tcp & TCPF_RST) ? FLOW_END_RST : FLOW_END_FIN;
	case FC_TCP_HALF:
		return FLOW_END_HALFOPEN;
	case FC_UDP_ANSWERED:
		return FLOW_END_ANSWERED;
	default:
		return FLOW_END_IDLE;
	}
}

/* Expire idle flows and hosts at now_us. */
void
flowtab_expire(struct flowtab *ft, uint64_t now_us)
{
	uint32_t i;
	int c;

	if (now_us > ft->now_us)
		ft->now_us = now_us;
	for (c = 0; c < FC_COUNT; c++) {
		while ((i = ft->cls[c].head) != ILIST_NONE &&
		    last_seen(&ft->f[i]) + ft->to_us[c] <= now_us)
			end_flow(ft, i, timeout_reason(&ft->f[i]));
	}
	host_expire(ft, now_us);
}

/* Evict the least recently seen flow of the whole table. */
static void
evict_oldest(struct flowtab *ft)
{
	uint32_t best = ILIST_NONE, i;
	int c;

	for (c = 0; c < FC_COUNT; c++) {
		i = ft->cls[c].head;
		if (i != ILIST_NONE &&
		    (best == ILIST_NONE ||
			last_seen(&ft->f[i]) < last_seen(&ft->f[best])))
			best = i;
	}
	ft->st.flows_evicted++;
	end_flow(ft, best, FLOW_END_EVICT);
}

/* Emit every open flow with reason why and empty the table. */
void
flowtab_flush(struct flowtab *ft, enum flow_end why)
{
	uint32_t i;
	int c;

	for (c = 0; c < FC_COUNT; c++)
		while ((i = ft->cls[c].head) != ILIST_NONE)
			end_flow(ft, i, why);
	flowtab_sync(ft);
}

/* Wait until every record so far has been delivered. */
void
flowtab_sync(struct flowtab *ft)
{
	if (ft->ring != NULL)
		ring_sync(ft->ring);
}

/*
 * UDP services where every request datagram gets one answer: DNS, Kerberos,
 * NTP, NetBIOS names, SNMP, CLDAP, RADIUS, STUN.
 */
static int
answered_port(uint16_t port)
{
	switch (port) {
	case 53:
	case 88:
	case 123:
	case 137:
	case 161:
	case 389:
	case 1812:
	case 1813:
	case 3478:
		return 1;
	default:
		return 0;
	}
}

/* Whether every request of a UDP flow has been answered. */
static int
udp_answered(const struct flow *f)
{
	uint32_t req = f->d[0].pkts, resp = f->d[1].pkts;

	if (req == 0 || resp == 0)
		return 0;
	return answered_port(f->dport) ? resp >= req : req == 1;
}

/* The class, and so the timeout, a flow belongs to now. */
static enum flow_class
classify(const struct flow *f)
{
	switch (f->proto) {
	case 6:
		if ((f->tcp & TCPF_RST) ||
		    (f->tcp & (TCPF_FIN_I | TCPF_FIN_R)) ==
			(TCPF_FIN_I | TCPF_FIN_R))
			return FC_TCP_CLOSED;
		if ((f->tcp & TCPF_HANDSHAKE) ||
		    (!(f->tcp & TCPF_SYN) && f->d[0].pkts && f->d[1].pkts))
			return FC_TCP_EST;
		return FC_TCP_HALF;
	case 17:
		return udp_answered(f) ? FC_UDP_ANSWERED : FC_UDP;
	case 1:
	case 58:
		return FC_ICMP;
	default:
		return FC_OTHER;
	}
}

/*
 * Create a flow for packet p, whose endpoints hash to h; swap=1 makes p's
 * receiver the initiator.
 */
static uint32_t
new_flow(struct flowtab *ft, uint32_t h, const struct cap_pkt *p, uint16_t sp,
    uint16_t dp, int swap)
{
	struct flow *f;
	uint32_t i;

	if (ft->used == ft->cap)
		evict_oldest(ft);
	if (ft->freelist != ILIST_NONE) {
		i = ft->freelist;
		ft->freelist = ft->f[i].lru.next;
	} else
		i = ft->used;
	f = &ft->f[i];
	memset(f, 0, sizeof(*f));
	memcpy(f->src, swap ? p->dst : p->src, CAP_ADDR_LEN);
	memcpy(f->dst, swap ? p->src : p->dst, CAP_ADDR_LEN);
	f->sport = swap ? dp : sp;
	f->dport = swap ? sp : dp;
	f->proto = p->proto;
	f->ipver = p->ipver;
	f->id = ft->next_id++;
	f->first_us = p->ts_us;
	f->fclass = FC_OTHER;
	ix_add(ft, i, h);
	ilist_append(&ft->cls[FC_OTHER], ft->f, sizeof(*f), FLOW_LINK, i);
	ft->used++;
	ft->st.flows_created++;
	ft->st.flows_active = ft->used;
	host_start(ft, p->ts_us, i);
	return i;
}

/* Start a new record for a flow that goes on after an interim record. */
static void
restart_record(struct flow *f, uint64_t now_us)
{
	size_t from = offsetof(struct flow, d);

	memset((char *)f + from, 0, offsetof(struct flow, interim) - from);
	f->first_us = now_us;
	f->interim = 1;
}

/* Add 1 to a saturating 16-bit counter. */
static inline void
inc16(uint16_t *c)
{
	if (*c != UINT16_MAX)
		(*c)++;
}

/* Account the TCP flags of a packet sent in direction dir. */
static void
tcp_update(struct flow *f, int dir, uint8_t fl)
{
	uint8_t closed = f->tcp & (TCPF_CLOSE_I | TCPF_CLOSE_R);

	if ((fl & 0x12) == 0x02) {
		inc16(&f->n_syn);
		f->tcp |= dir ? 0 : TCPF_SYN;
	} else if ((fl & 0x12) == 0x12) {
		inc16(&f->n_synack);
		f->tcp |= dir ? TCPF_SYNACK : 0;
	} else if ((fl & 0x10) && dir == 0 && (f->tcp & TCPF_SYNACK))
		f->tcp |= TCPF_HANDSHAKE;
	if (fl & 0x01) {
		inc16(&f->n_fin);
		f->tcp |= dir ? TCPF_FIN_R : TCPF_FIN_I;
	}
	if (fl & 0x04) {
		inc16(&f->n_rst);
		f->tcp |= TCPF_RST;
	}
	if ((fl & 0x05) && !closed)
		f->tcp |= dir ? TCPF_CLOSE_R : TCPF_CLOSE_I;
	if (fl & 0x08)
		inc16(&f->n_psh);
	if (fl & 0x20)
		inc16(&f->n_urg);
}

/* Account the DNS question of a packet from the initiator. */
static void
dns_update(struct flow *f, const struct cap_pkt *p)
{
	struct cap_dns q;
	float e;

	if (cap_dns_parse(p->payload, p->payload_cap, p->proto == 6, &q) != 0 ||
	    q.is_response)
		return;
	if (f->dns_queries == 0)
		f->dns_qtype = q.qtype;
	inc16(&f->dns_queries);
	if (q.name_len > f->dns_len || f->dns_queries == 1) {
		f->dns_len = q.name_len > 255 ? 255 : (uint8_t)q.name_len;
		f->dns_labels = q.labels;
	}
	e = q.entropy * 32.0f;
	if (e > f->dns_entropy8)
		f->dns_entropy8 = e >= 255.0f ? 255 : (uint8_t)e;
}

/* Account packet p to direction dir of flow f. */
static void
dir_update(struct flow *f, int dir, const struct cap_pkt *p)
{
	struct flow_dir *d = &f->d[dir];
	uint32_t pl =
	    p->payload_wire > UINT16_MAX ? UINT16_MAX : p->payload_wire;
	/* below FLOW_RECORD_MAX_US: the record restarts before */
	uint32_t off =
	    p->ts_us > f->first_us ? (uint32_t)(p->ts_us - f->first_us) : 0;
	uint32_t gap;

	if (d->pkts == 0 || pl < d->pl_min)
		d->pl_min = (uint16_t)pl;
	if (pl > d->pl_max)
		d->pl_max = (uint16_t)pl;
	d->pl_sum += pl;
	d->pl_sumsq += (uint64_t)pl * pl;
	d->bytes += p->wirelen;
	if (d->pkts++ > 0) {
		gap = off > d->last_off ? off - d->last_off : 0;
		d->iat_sum += gap;
		d->iat_sumsq += (double)gap * (double)gap;
		if (gap > d->iat_max)
			d->iat_max = gap;
	}
	if (off > d->last_off)
		d->last_off = off;
	if (!d->seen) {
		d->win0 = p->proto == 6 ? p->tcp_win : 0;
		d->ttl0 = p->ttl;
		d->seen = 1;
	}
}

/* Charge an ICMP error to the flow it quotes; 0 when there is none. */
static int
icmp_error(struct flowtab *ft, const struct cap_pkt *p)
{
	uint32_t b, i;
	int dir;

	b = hash_of(ft, p->inner_proto, p->inner_src, p->inner_sport,
	    p->inner_dst, p->inner_dport);
	i = find(ft, b, p->inner_proto, p->inner_src, p->inner_sport,
	    p->inner_dst, p->inner_dport, &dir);
	if (i == ILIST_NONE)
		return 0;
	inc16(&ft->f[i].icmp_err);
	ft->st.icmp_errors_matched++;
	return 1;
}

/* Account one decoded IP packet. */
void
flowtab_packet(struct flowtab *ft, const struct cap_pkt *p)
{
	uint16_t sp = p->has_l4 ? p->sport : 0, dp = p->has_l4 ? p->dport : 0;
	uint32_t b, i, c = 0;
	struct flow *f;
	int dir = 0, cls, hashed, cached = 0;

	if (p->ts_us > ft->now_us)
		ft->now_us = p->ts_us;
	if (ft->now_us >= ft->next_expire_us) {
		flowtab_expire(ft, ft->now_us);
		ft->next_expire_us = ft->now_us + US;
	}
	if (p->frag == 2) {
		ft->st.fragments_later++;
		return;
	}
	if (p->has_inner && icmp_error(ft, p))
		return;
	/*
	 * A packet of the same flow as the last (a burst, a reply) needs no
	 * hash and no probe.
	 */
	b = 0;
	hashed = 0;
	i = ft->last;
	if (i == ILIST_NONE ||
	    !match(&ft->f[i], p->proto, p->src, sp, p->dst, dp, &dir)) {
		c = fc_slot(p->proto, p->src, sp, p->dst, dp);
		cached = 1;
		i = ft->fcache[c];
		if (i == ILIST_NONE ||
		    !match(&ft->f[i], p->proto, p->src, sp, p->dst, dp, &dir)) {
			b = hash_of(ft, p->proto, p->src, sp, p->dst, dp);
			hashed = 1;
			i = find(ft, b, p->proto, p->src, sp, p->dst, dp, &dir);
			if (i != ILIST_NONE)
				ft->fcache[c] = i;
		}
	}
	if (i != ILIST_NONE && ft->f[i].fclass == FC_TCP_CLOSED &&
	    p->proto == 6 && (p->tcp_flags & 0x12) == 0x02) {
		end_flow(ft, i, timeout_reason(&ft->f[i]));
		i = ILIST_NONE;
	}
	if (i == ILIST_NONE) {
		dir = p->proto == 6 && (p->tcp_flags & 0x12) == 0x12;
		if (!hashed)
			b = hash_of(ft, p->proto, p->src, sp, p->dst, dp);
		if (!cached)
			c = fc_slot(p->proto, p->src, sp, p->dst, dp);
		i = new_flow(ft, b, p, sp, dp, dir);
		ft->fcache[c] = i;
	} else if (p->ts_us >= ft->f[i].first_us + ft->active_us) {
		emit(ft, i, FLOW_END_ACTIVE);
		restart_record(&ft->f[i], p->ts_us);
	}
	ft->last = i;
	f = &ft->f[i];
	dir_update(f, dir, p);
	if (p->frag == 1)
		inc16(&f->frags);
	if (p->proto == 6 && p->has_l4)
		tcp_update(f, dir, p->tcp_flags);
	if (dir == 0 && p->has_l4 && f->dport == 53 && p->payload_cap > 0 &&
	    (p->proto == 17 || p->proto == 6))
		dns_update(f, p);
	cls = classify(f);
	/* Already last of its class (a run of packets of one flow): stays. */
	if (cls == f->fclass && ft->cls[cls].tail == i)
		return;
	ilist_remove(&ft->cls[f->fclass], ft->f, sizeof(*f), FLOW_LINK, i);
	f->fclass = (uint8_t)cls;
	ilist_append(&ft->cls[cls], ft->f, sizeof(*f), FLOW_LINK, i);
}

/* Decode one frame and account it. */
void
flowtab_frame(struct flowtab *ft, int dlt, const struct cap_frame *fr)
{
	struct cap_pkt p;

	ft->st.frames++;
	ft->st.bytes += fr->wirelen;
	switch (cap_decode(dlt, fr, &p)) {
	case PKT_IP:
		ft->st.ip++;
		flowtab_packet(ft, &p);
		break;
	case PKT_ARP:
		ft->st.arp++;
		break;
	case PKT_OTHER:
		ft->st.other_link++;
		break;
	case PKT_MALFORMED:
		if ((unsigned)p.malformed < MAL_COUNT)
			ft->st.malformed[p.malformed]++;
		break;
	}
}

/* The table's counters, brought up to date. */
const struct cap_stats *
flowtab_stats(struct flowtab *ft)
{
	flowtab_sync(ft);
	ft->st.hosts_active = hostctx_active(ft->hc);
	ft->st.hosts_evicted = hostctx_evicted(ft->hc);
	return &ft->st;
}
