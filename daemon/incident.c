/*
 * Incidents: alerts about one host, close in time, grouped, and said in
 * plain words.
 *
 * Grouping.  An alert is about two hosts, its flow's initiator and its
 * responder, and the incident it joins decides which one it is held
 * against.  A responder finding is about its responder, always.  A flow
 * alert joins an open incident of its initiator, else one of its
 * responder.  With neither, it opens a provisional incident about its
 * initiator; when a second initiator's alert reaches the same responder
 * while the first is still provisional, the evidence is that the responder
 * is the common factor (a flood with forged sources: every flow has a new
 * initiator, one victim), so a responder incident opens and absorbs the
 * provisional ones that hit it, which are never written.  Which host is
 * the common factor is weighed by recent alerts: each host has decaying
 * counts (time constant INCIDENT_RECENT_TAU_US) of the alerts it initiated
 * and received, and an alert goes to its responder only when the
 * responder has at least three times the initiator's recent alerts (three
 * one-off initiators in a row), so a scanner's alerts at a busy server
 * stay the scanner's, and so do two scanners' at one host.  A scanner's
 * second alert finds its own provisional incident and confirms it, so a
 * scan is one incident about the scanner.  A provisional incident that is
 * never joined becomes a one-alert incident when it closes, if its alert
 * is strong; a beacon alert (judged across flows already) confirms its
 * incident at once, so its later contacts are counted under its id.
 *
 * An incident closes when no alert has joined it for the gap (by the
 * alerts' own times, so offline runs are deterministic), or when
 * INCIDENT_OPEN_MAX are open and it is the stalest.  The callback writes it
 * when it is confirmed, then at most once per second of alert time while
 * it grows, and at close.
 *
 * Summaries come from tallies of the flows' features (half-open
 * handshakes, long-lived idle flows, long DNS names, bytes each way, start
 * times) and from the distinct peers and ports; the first pattern the
 * evidence fits names it, else the strongest feature is quoted.  An
 * incident mostly of beacon alerts is said from the beacon's own evidence
 * (beacon.c: contacts, period, deviation, a host new to the baseline).  No
 * signature of any tool is used.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "store/store.h"

#define INCIDENT_WRITE_EVERY_US 1000000u
#define INCIDENT_RECENT_TAU_US 10e6 /* decay of the recent-alert counts */
#define INCIDENT_HOSTS 4096 /* hosts with recent-alert counts (slots) */
/* Hash buckets of the open incidents, by host (a power of two). */
#define INCIDENT_BUCKETS 1024

/* A host's recent alerts; a slot is taken over by a colliding host. */
struct recent {
	uint8_t addr[CAP_ADDR_LEN];
	double init, resp; /* decayed alerts as initiator, as responder */
	uint64_t t_us;
};

enum {
	F_DURATION,
	F_SYN,
	F_HANDSHAKE,
	F_FWD_BYTES,
	F_BWD_BYTES,
	F_FWD_IAT_MEAN,
	F_FWD_IAT_MAX,
	F_DNS_QUERIES,
	F_DNS_LEN,
	F_DNS_ENTROPY,
	F_RESP_RATE,
	F_RESP_SRCS,
	F_NUM
};

static const char *const fnames[F_NUM] = {"duration", "syn_count", "handshake",
    "fwd_bytes", "bwd_bytes", "fwd_iat_mean", "fwd_iat_max", "dns_queries",
    "dns_qname_len", "dns_qname_entropy", "resp_flows_1s",
    "resp_src_hosts_60s"};

struct incidents {
	uint64_t gap_us;
	incident_write_cb cb;
	void *arg;
	struct incident *open; /* newest first */
	size_t nopen;
	/*
	 * The open incidents by (about, host), and the provisional initiator
	 * incidents by their first responder, newest first in each bucket,
	 * so that finding one costs O(1), not a walk of the open list.
	 */
	struct incident *byhost[INCIDENT_BUCKETS];
	struct incident *byresp[INCIDENT_BUCKETS];
	/*
	 * The open incidents as a binary min-heap, stalest (least last_us,
	 * then newest opened, as a walk of the open list would pick) first.
	 */
	struct incident *heap[INCIDENT_OPEN_MAX];
	uint64_t seq;
	uint64_t serial, count;
	int fi[F_NUM]; /* feature indices, -1 when absent */
	struct recent *recent; /* INCIDENT_HOSTS slots */
	struct recent scratch; /* for a host whose slot is busy */
};

/* Create an engine. */
struct incidents *
incidents_create(uint64_t gap_us, incident_write_cb cb, void *arg)
{
	struct incidents *e;
	int i;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("incident: create");
	if ((e->recent = calloc(INCIDENT_HOSTS, sizeof(*e->recent))) == NULL)
		fatal("incident: create");
	e->gap_us = gap_us;
	e->cb = cb;
	e->arg = arg;
	for (i = 0; i < F_NUM; i++)
		e->fi[i] = feat_index(fnames[i]);
	return e;
}

/* Close every open incident and free the engine. */
void
incidents_free(struct incidents *e)
{
	if (e == NULL)
		return;
	incidents_flush(e);
	free(e->recent);
	free(e);
}

/*
 * Linear counting: distinct keys from the share of bits still clear (the
 * bitmap's set bits are counted as they are set, so this costs no pass).
 */
static uint64_t
sketch_count(uint32_t ones, size_t listed, int full)
{
	double m = INCIDENT_SKETCH_BITS, est;
	size_t zero = INCIDENT_SKETCH_BITS - ones;

	if (!full)
		return listed;
	est = zero == 0 ? m * log(m) : -m * log((double)zero / m);
	return est < (double)listed ? listed : (uint64_t)(est + 0.5);
}

/* Distinct peers of an incident. */
uint64_t
incident_peers_n(const struct incident *inc)
{
	return sketch_count(
	    inc->peer_ones, inc->npeers, inc->npeers == INCIDENT_LIST_MAX);
}

/* Distinct ports of an incident. */
uint64_t
incident_ports_n(const struct incident *inc)
{
	return sketch_count(
	    inc->port_ones, inc->nports, inc->nports == INCIDENT_LIST_MAX);
}

/* Count n flows with peer addr. */
static void
add_peer(struct incident *inc, const uint8_t *addr, uint64_t n)
{
	size_t i;

	bitmap_mark(inc->peer_bits, INCIDENT_SKETCH_BITS, &inc->peer_ones,
	    key_hash(addr, CAP_ADDR_LEN));
	for (i = 0; i < inc->npeers; i++)
		if (memcmp(inc->peers[i].addr, addr, CAP_ADDR_LEN) == 0) {
			inc->peers[i].n += n;
			return;
		}
	if (inc->npeers == INCIDENT_LIST_MAX)
		return;
	memcpy(inc->peers[inc->npeers].addr, addr, CAP_ADDR_LEN);
	inc->peers[inc->npeers++].n = n;
}

/* Count n flows to a responder port. */
static void
add_port(struct incident *inc, uint16_t port, uint8_t proto, uint64_t n)
{
	uint8_t key[3] = {(uint8_t)(port >> 8), (uint8_t)port, proto};
	size_t i;

	bitmap_mark(inc->port_bits, INCIDENT_SKETCH_BITS, &inc->port_ones,
	    key_hash(key, sizeof(key)));
	for (i = 0; i < inc->nports; i++)
		if (inc->ports[i].port == port &&
		    inc->ports[i].proto == proto) {
			inc->ports[i].n += n;
			return;
		}
	if (inc->nports == INCIDENT_LIST_MAX)
		return;
	inc->ports[inc->nports].port = port;
	inc->ports[inc->nports].proto = proto;
	inc->ports[inc->nports++].n = n;
}

/* Feature f of an alert, or 0 when it has none. */
static float
feat(const struct incidents *e, const struct incident_alert *a, int f)
{
	if (a->feat == NULL || e->fi[f] < 0)
		return 0;
	return a->feat[e->fi[f]];
}

/* The baseline p99 of feature index fi in an alert's evidence, or -1. */
static float
ex_p99(const struct incident_alert *a, int fi)
{
	size_t i;

	if (a->p99 != NULL)
		return a->p99[fi];
	for (i = 0; i < a->nex; i++)
		if ((int)a->ex[i].feature == fi)
			return a->ex[i].p99;
	return -1;
}

/* The alert's evidence, at most max features, into ex: given or made. */
static size_t
evidence(const struct incident_alert *a, struct model_expl *ex, size_t max)
{
	size_t n = a->nex < max ? a->nex : max;

	if (a->ex == NULL)
		return a->explain != NULL ? a->explain(a->explain_arg, ex, max)
					  : 0;
	memcpy(ex, a->ex, n * sizeof(*ex));
	return n;
}

static void heap_touch(struct incidents *e, struct incident *inc);

/* Tally what an alert's flow shows. */
static void
tally(struct incidents *e, struct incident *inc, const struct incident_alert *a)
{
	int tcp = a->proto == 6;
	float dur = feat(e, a, F_DURATION), p99;

	if (inc->flows == 0 || a->first_us < inc->first_us)
		inc->first_us = a->first_us;
	if (a->last_us > inc->last_us) {
		inc->last_us = a->last_us;
		heap_touch(e, inc);
	}
	inc->flows++;
	add_peer(inc, inc->about == STORE_ABOUT_INITIATOR ? a->dst : a->src, 1);
	add_port(inc, a->dport, a->proto, 1);
	inc->tcp += tcp;
	inc->udp += a->proto == 17;
	inc->icmp += a->proto == 1 || a->proto == 58;
	if (tcp && feat(e, a, F_SYN) >= 1 && feat(e, a, F_HANDSHAKE) < 0.5f)
		inc->halfopen++;
	if (tcp && dur >= 10000 &&
	    (feat(e, a, F_FWD_IAT_MEAN) >= 1000 ||
		feat(e, a, F_FWD_IAT_MAX) >= 5000))
		inc->slow++;
	if (tcp && feat(e, a, F_HANDSHAKE) >= 0.5f && dur < 10000 &&
	    a->bytes < 20000)
		inc->short_tcp++;
	if (feat(e, a, F_DNS_QUERIES) >= 1 &&
	    (feat(e, a, F_DNS_LEN) >= 40 || feat(e, a, F_DNS_ENTROPY) >= 4))
		inc->dns_long++;
	if (a->feat != NULL) {
		inc->bytes_fwd += (uint64_t)feat(e, a, F_FWD_BYTES);
		inc->bytes_bwd += (uint64_t)feat(e, a, F_BWD_BYTES);
	} else
		inc->bytes_fwd += a->bytes;
	if (feat(e, a, F_RESP_RATE) > inc->resp_rate)
		inc->resp_rate = feat(e, a, F_RESP_RATE);
	if (feat(e, a, F_RESP_SRCS) > inc->resp_srcs)
		inc->resp_srcs = feat(e, a, F_RESP_SRCS);
	if (e->fi[F_RESP_RATE] >= 0 &&
	    (p99 = ex_p99(a, e->fi[F_RESP_RATE])) >= 0)
		inc->resp_rate_p99 = p99;
	if (inc->nstarts < INCIDENT_STARTS_MAX)
		inc->starts[inc->nstarts++] = a->first_us;
	if (a->counted &&
	    (!(a->thr > 0) || a->score >= INCIDENT_LONE_MARGIN * a->thr))
		inc->strong = 1;
	if (a->counted && (inc->alerts == 0 || a->score > inc->score_max)) {
		inc->score_max = a->score;
		inc->top_fwd = a->feat != NULL
		    ? (uint64_t)feat(e, a, F_FWD_BYTES)
		    : a->bytes;
		inc->top_bwd = (uint64_t)feat(e, a, F_BWD_BYTES);
		memcpy(inc->top_dst, a->dst, CAP_ADDR_LEN);
		inc->top_dport = a->dport;
		inc->nex = evidence(a, inc->ex, INCIDENT_EXPL_MAX);
	}
	if (a->beacon != NULL) {
		/* the first alert, then later contacts that count more */
		if ((a->counted && inc->beacons++ == 0) ||
		    a->beacon->total > inc->beacon.total)
			inc->beacon = *a->beacon;
	}
	inc->alerts += a->counted != 0;
}

/* The hash bucket of host. */
static size_t
bucket(const uint8_t *host)
{
	return (size_t)(key_hash(host, CAP_ADDR_LEN) & (INCIDENT_BUCKETS - 1));
}

/*
 * The open incident about host, seen as about, or NULL.  At most one is
 * open per (about, host): one is opened only when none is found.
 */
static struct incident *
find(const struct incidents *e, const uint8_t *host, uint8_t about)
{
	struct incident *inc;

	for (inc = e->byhost[bucket(host)]; inc != NULL; inc = inc->hnext)
		if (inc->about == about &&
		    memcmp(inc->host, host, CAP_ADDR_LEN) == 0)
			return inc;
	return NULL;
}

/*
 * Index a provisional initiator incident under its first responder, which
 * it keeps while it is provisional; called at its first tally, right after
 * it opened, so each bucket stays newest first like the open list.
 */
static void
resp_index(struct incidents *e, struct incident *inc)
{
	struct incident **head = &e->byresp[bucket(inc->peers[0].addr)];

	inc->pnext = *head;
	if (*head != NULL)
		(*head)->pprev = &inc->pnext;
	*head = inc;
	inc->pprev = head;
}

/* Take an incident out of the responder index, if it is in it. */
static void
resp_unindex(struct incident *inc)
{
	if (inc->pprev == NULL)
		return;
	*inc->pprev = inc->pnext;
	if (inc->pnext != NULL)
		inc->pnext->pprev = inc->pprev;
	inc->pnext = NULL;
	inc->pprev = NULL;
}

/* Whether a is staler than b: it closes first when too many are open. */
static int
staler(const struct incident *a, const struct incident *b)
{
	return a->last_us < b->last_us ||
	    (a->last_us == b->last_us && a->seq > b->seq);
}

/* Put heap slot i's incident in slot i, noting where it is. */
static void
heap_set(struct incidents *e, size_t i, struct incident *inc)
{
	e->heap[i] = inc;
	inc->heap_i = i;
}

/* Move the incident in slot i up while it is staler than its parent. */
static void
heap_up(struct incidents *e, size_t i)
{
	struct incident *inc = e->heap[i];
	size_t p;

	while (i > 0 && staler(inc, e->heap[p = (i - 1) / 2])) {
		heap_set(e, i, e->heap[p]);
		i = p;
	}
	heap_set(e, i, inc);
}

/* Move the incident in slot i down while a child is staler. */
static void
heap_down(struct incidents *e, size_t i)
{
	struct incident *inc = e->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < e->nopen) {
		if (c + 1 < e->nopen && staler(e->heap[c + 1], e->heap[c]))
			c++;
		if (!staler(e->heap[c], inc))
			break;
		heap_set(e, i, e->heap[c]);
		i = c;
	}
	heap_set(e, i, inc);
}

/* An open incident's last_us grew: restore the heap order. */
static void
heap_touch(struct incidents *e, struct incident *inc)
{
	heap_down(e, inc->heap_i);
}

/* Unlink an open incident from the list and the indices. */
static void
unlink_inc(struct incidents *e, struct incident *inc)
{
	struct incident **pp, *last;

	if (inc->prev != NULL)
		inc->prev->next = inc->next;
	else
		e->open = inc->next;
	if (inc->next != NULL)
		inc->next->prev = inc->prev;
	e->nopen--;
	if (inc->heap_i != e->nopen) { /* the last slot's takes its place */
		last = e->heap[e->nopen];
		heap_set(e, inc->heap_i, last);
		heap_up(e, last->heap_i);
		heap_down(e, last->heap_i);
	}
	for (pp = &e->byhost[bucket(inc->host)]; *pp != NULL;
	     pp = &(*pp)->hnext)
		if (*pp == inc) {
			*pp = inc->hnext;
			break;
		}
	resp_unindex(inc);
}

/* Give a provisional (or new) incident its id: it now counts. */
static void
confirm(struct incidents *e, struct incident *inc)
{
	inc->provisional = 0;
	resp_unindex(inc);
	if (inc->id == 0) {
		inc->id = (int64_t)++e->serial;
		e->count++;
	}
}

/*
 * Close an incident: confirm it if need be, tell the callback, free it.  A
 * provisional one (one initiator alert, never joined) is dropped unless
 * that alert was strong: it was never written, and its alert stays without
 * an incident.
 */
static void
close_inc(struct incidents *e, struct incident *inc)
{
	unlink_inc(e, inc);
	if (!inc->provisional || inc->strong) {
		confirm(e, inc);
		e->cb(inc, INCIDENT_CLOSE, e->arg);
	}
	free(inc);
}

/* Open a new incident, closing the stalest when too many are open. */
static struct incident *
open_inc(struct incidents *e, uint8_t about, const uint8_t *host)
{
	struct incident *inc;

	if (e->nopen == INCIDENT_OPEN_MAX)
		close_inc(e, e->heap[0]);
	if ((inc = calloc(1, sizeof(*inc))) == NULL)
		fatal("incident: open");
	inc->about = about;
	inc->resp_rate_p99 = -1; /* unknown */
	memcpy(inc->host, host, CAP_ADDR_LEN);
	inc->next = e->open;
	if (e->open != NULL)
		e->open->prev = inc;
	e->open = inc;
	inc->seq = ++e->seq;
	heap_set(e, e->nopen, inc);
	heap_up(e, e->nopen++);
	inc->hnext = e->byhost[bucket(host)];
	e->byhost[bucket(host)] = inc;
	return inc;
}

/* Note a row written while inc had no id; see daemon.h. */
void
incidents_note_row(struct incident *inc, int64_t row)
{
	if (row > 0 && inc->nrows < INCIDENT_ROWS_MAX)
		inc->rows[inc->nrows++] = row;
}

/* Fold provisional incident p (one initiator's alerts) into inc. */
static void
absorb(struct incidents *e, struct incident *inc, struct incident *p)
{
	size_t i;

	for (i = 0; i < p->nrows; i++)
		incidents_note_row(inc, p->rows[i]);
	if (inc->flows == 0 || p->first_us < inc->first_us)
		inc->first_us = p->first_us;
	if (p->last_us > inc->last_us) {
		inc->last_us = p->last_us;
		heap_touch(e, inc);
	}
	add_peer(inc, p->host, p->flows);
	inc->strong |= p->strong;
	for (i = 0; i < p->nports; i++)
		add_port(
		    inc, p->ports[i].port, p->ports[i].proto, p->ports[i].n);
	inc->alerts += p->alerts;
	inc->flows += p->flows;
	inc->tcp += p->tcp;
	inc->udp += p->udp;
	inc->icmp += p->icmp;
	inc->halfopen += p->halfopen;
	inc->slow += p->slow;
	inc->short_tcp += p->short_tcp;
	inc->dns_long += p->dns_long;
	inc->bytes_fwd += p->bytes_fwd;
	inc->bytes_bwd += p->bytes_bwd;
	for (i = 0; i < p->nstarts && inc->nstarts < INCIDENT_STARTS_MAX; i++)
		inc->starts[inc->nstarts++] = p->starts[i];
	if (p->alerts > 0 &&
	    (inc->alerts == p->alerts || p->score_max > inc->score_max)) {
		inc->score_max = p->score_max;
		inc->top_fwd = p->top_fwd;
		inc->top_bwd = p->top_bwd;
		memcpy(inc->top_dst, p->top_dst, CAP_ADDR_LEN);
		inc->top_dport = p->top_dport;
		inc->nex = p->nex;
		memcpy(inc->ex, p->ex, sizeof(inc->ex));
	}
}

/*
 * Absorb every provisional incident whose alert hit responder host within
 * INCIDENT_RECENT_TAU_US before ts_us; an older one (a client's lone alert
 * minutes before a flood) stays its own.
 */
static void
absorb_provisional(struct incidents *e, struct incident *inc, uint64_t ts_us)
{
	struct incident *p, *next;

	for (p = e->byresp[bucket(inc->host)]; p != NULL; p = next) {
		next = p->pnext;
		if (p == inc || !p->provisional ||
		    p->about != STORE_ABOUT_INITIATOR || p->npeers != 1 ||
		    memcmp(p->peers[0].addr, inc->host, CAP_ADDR_LEN) != 0 ||
		    p->last_us + (uint64_t)INCIDENT_RECENT_TAU_US < ts_us)
			continue;
		absorb(e, inc, p);
		unlink_inc(e, p);
		free(p);
	}
}

/*
 * Whether another initiator's provisional incident hit responder host
 * within INCIDENT_RECENT_TAU_US before ts_us.
 */
static int
provisional_to(const struct incidents *e, const uint8_t *host, uint64_t ts_us)
{
	const struct incident *p;

	for (p = e->byresp[bucket(host)]; p != NULL; p = p->pnext)
		if (p->provisional && p->about == STORE_ABOUT_INITIATOR &&
		    p->npeers == 1 &&
		    memcmp(p->peers[0].addr, host, CAP_ADDR_LEN) == 0 &&
		    p->last_us + (uint64_t)INCIDENT_RECENT_TAU_US >= ts_us)
			return 1;
	return 0;
}

/* A host's recent-alert counts, decayed to ts_us. */
static struct recent *
recent_get(struct incidents *e, const uint8_t *addr, uint64_t ts_us)
{
	struct recent *h =
	    &e->recent[key_hash(addr, CAP_ADDR_LEN) % INCIDENT_HOSTS];
	double k;

	if (memcmp(h->addr, addr, CAP_ADDR_LEN) != 0) {
		/* A busy host keeps its slot (a victim among its forged
		 * sources); the newcomer gets a fresh count that is not kept.
		 */
		if (h->init + h->resp > 1 &&
		    ts_us < h->t_us + (uint64_t)INCIDENT_RECENT_TAU_US)
			h = &e->scratch;
		memset(h, 0, sizeof(*h));
		memcpy(h->addr, addr, CAP_ADDR_LEN);
		h->t_us = ts_us;
	}
	if (ts_us > h->t_us) {
		k = exp(-(double)(ts_us - h->t_us) / INCIDENT_RECENT_TAU_US);
		h->init *= k;
		h->resp *= k;
		h->t_us = ts_us;
	}
	return h;
}

/*
 * Count the alert for both hosts; returns whether its responder, not its
 * initiator, is the common factor of the recent alerts.
 */
static int
recent_blames_responder(struct incidents *e, const struct incident_alert *a)
{
	struct recent *i = recent_get(e, a->src, a->last_us), *r;
	double init;

	i->init += 1;
	init = i->init;
	r = recent_get(e, a->dst, a->last_us); /* may reuse i's memory */
	r->resp += 1;
	return r->resp >= 3 * init;
}

/* The incident a flow alert joins, opened if need be. */
static struct incident *
flow_incident(struct incidents *e, const struct incident_alert *a)
{
	struct incident *inc;

	int to_resp = recent_blames_responder(e, a);

	if ((inc = find(e, a->src, STORE_ABOUT_INITIATOR)) != NULL)
		return inc;
	if (to_resp && (inc = find(e, a->dst, STORE_ABOUT_RESPONDER)) != NULL) {
		/* The forged sources that came before the count said so. */
		absorb_provisional(e, inc, a->last_us);
		return inc;
	}
	if (to_resp && provisional_to(e, a->dst, a->last_us)) {
		inc = open_inc(e, STORE_ABOUT_RESPONDER, a->dst);
		absorb_provisional(e, inc, a->last_us);
		return inc;
	}
	inc = open_inc(e, STORE_ABOUT_INITIATOR, a->src);
	inc->provisional = 1;
	return inc;
}

/* Add an alert; returns the incident it joined. */
struct incident *
incidents_add(struct incidents *e, const struct incident_alert *a)
{
	struct incident *inc;
	uint64_t ts = a->last_us;

	if (a->finding == STORE_FINDING_RESPONDER) {
		if ((inc = find(e, a->dst, STORE_ABOUT_RESPONDER)) == NULL) {
			/*
			 * Like a lone flow alert, a lone responder finding
			 * makes an incident only when it is strong or when
			 * flow alerts join it (a flood).
			 */
			inc = open_inc(e, STORE_ABOUT_RESPONDER, a->dst);
			inc->provisional = 1;
			absorb_provisional(e, inc, ts);
		}
		inc->findings += a->counted != 0;
		if (ts > inc->episode_last_us)
			inc->episode_last_us = ts;
	} else
		inc = flow_incident(e, a);
	tally(e, inc, a);
	if (inc->flows == 1 && inc->provisional &&
	    inc->about == STORE_ABOUT_INITIATOR)
		resp_index(e, inc);
	if (inc->provisional &&
	    (inc->alerts >= 2 ||
		(inc->strong &&
		    (inc->about == STORE_ABOUT_RESPONDER ||
			a->finding == STORE_FINDING_BEACON)))) {
		inc->provisional = 0;
		resp_unindex(inc);
	}
	if (!inc->provisional && inc->id == 0)
		confirm(e, inc);
	inc->dirty = 1;
	if (!inc->provisional &&
	    (inc->written_us == 0 ||
		ts >= inc->written_us + INCIDENT_WRITE_EVERY_US)) {
		e->cb(inc, INCIDENT_WRITE, e->arg);
		inc->written_us = ts ? ts : 1;
		inc->dirty = 0;
	}
	return inc;
}

/* Whether a responder episode about host is open at ts_us. */
int
incidents_episode(
    const struct incidents *e, const uint8_t *host, uint64_t ts_us)
{
	const struct incident *inc = find(e, host, STORE_ABOUT_RESPONDER);

	return inc != NULL && inc->episode_last_us != 0 &&
	    ts_us <= inc->episode_last_us + e->gap_us;
}

/* Close the incidents quiet for longer than the gap. */
void
incidents_expire(struct incidents *e, uint64_t now_us)
{
	struct incident *inc;

	/* the heap's top is the stalest: close while it is past the gap */
	while (e->nopen > 0 && now_us > (inc = e->heap[0])->last_us + e->gap_us)
		close_inc(e, inc);
}

/* Close every open incident, oldest first. */
void
incidents_flush(struct incidents *e)
{
	struct incident *inc, *old;

	while (e->open != NULL) {
		old = e->open;
		for (inc = e->open; inc != NULL; inc = inc->next)
			if (inc->first_us <= old->first_us)
				old = inc;
		close_inc(e, old);
	}
}

/* Incidents opened so far. */
uint64_t
incidents_count(const struct incidents *e)
{
	return e->count;
}

/* Format n with a space every three digits. */
const char *
incident_count_str(uint64_t n, char buf[32])
{
	char tmp[24];
	size_t len, i, j = 0;

	len = (size_t)snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
	for (i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[j++] = ' ';
		buf[j++] = tmp[i];
	}
	buf[j] = '\0';
	return buf;
}

/* A float count, rounded, formatted like incident_count_str(). */
static const char *
fcount(float v, char buf[32])
{
	return incident_count_str(v > 0 ? (uint64_t)(v + 0.5f) : 0, buf);
}

/* The peer or port with the most flows. */
static const struct incident_peer *
top_peer(const struct incident *inc)
{
	size_t i, best = 0;

	for (i = 1; i < inc->npeers; i++)
		if (inc->peers[i].n > inc->peers[best].n)
			best = i;
	return &inc->peers[best];
}

static const struct incident_port *
top_port(const struct incident *inc)
{
	size_t i, best = 0;

	for (i = 1; i < inc->nports; i++)
		if (inc->ports[i].n > inc->ports[best].n)
			best = i;
	return &inc->ports[best];
}

/* Compare start times, for the periodicity test. */
static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The mean gap between flow starts, in seconds, when they are regular
 * (at least 4 flows, gaps of 1 s or more varying by at most 20 %); else 0.
 */
static double
period_s(const struct incident *inc)
{
	uint64_t s[INCIDENT_STARTS_MAX];
	double g, sum = 0, sq = 0, mean, n;
	size_t i;

	if (inc->nstarts < 4)
		return 0;
	memcpy(s, inc->starts, inc->nstarts * sizeof(s[0]));
	qsort(s, inc->nstarts, sizeof(s[0]), u64_cmp);
	for (i = 1; i < inc->nstarts; i++) {
		g = (double)(s[i] - s[i - 1]) / 1e6;
		sum += g;
		sq += g * g;
	}
	n = (double)(inc->nstarts - 1);
	mean = sum / n;
	if (mean < 1)
		return 0;
	return sqrt(fmax(sq / n - mean * mean, 0)) <= 0.2 * mean ? mean : 0;
}

/* The protocol name of the ports: "TCP", "UDP", "TCP and UDP" or "IP". */
static const char *
proto_words(const struct incident *inc)
{
	if (inc->tcp > 0 && inc->udp > 0)
		return "TCP and UDP";
	if (inc->tcp > 0)
		return "TCP";
	return inc->udp > 0 ? "UDP" : "IP";
}

/* "host" when one, else "N hosts"; "src" is the word for several. */
static const char *
hosts_words(const struct incident *inc, const char *word, char *buf, size_t len)
{
	char a[ADDR_STR_LEN], n[32];

	if (incident_peers_n(inc) <= 1)
		snprintf(buf, len, "%s", addr_str(top_peer(inc)->addr, a));
	else
		snprintf(buf, len, "%s %s",
		    incident_count_str(incident_peers_n(inc), n), word);
	return buf;
}

/* The fallback: the flows and the strongest evidence. */
static void
summary_unusual(const struct incident *inc, char *buf, size_t len)
{
	const struct feat_desc *fd = feat_table();
	const struct model_expl *x = &inc->ex[0];
	char h[ADDR_STR_LEN], p[64], to[80], n[32], ev[128] = "";
	const char *from = h;
	int one_port = incident_ports_n(inc) == 1;

	hosts_words(inc, "hosts", p, sizeof(p));
	addr_str(inc->host, h);
	if (inc->nex > 0 && x->feature < FEAT_COUNT)
		snprintf(ev, sizeof(ev),
		    "; strongest evidence %s = %g (baseline p99 %g)",
		    fd[x->feature].name, (double)x->value, (double)x->p99);
	if (inc->about == STORE_ABOUT_RESPONDER) {
		from = p;
		snprintf(to, sizeof(to), "%s", h);
	} else
		snprintf(to, sizeof(to), "%s", p);
	if (one_port)
		snprintf(to + strlen(to), sizeof(to) - strlen(to), ":%u",
		    top_port(inc)->port);
	snprintf(buf, len, "unusual flows: %s flow%s from %s to %s%s",
	    incident_count_str(inc->flows, n), inc->flows == 1 ? "" : "s", from,
	    to, ev);
}

/* Patterns of a flood, a scan or a sweep: many peers or many ports. */
static int
summary_spread(const struct incident *inc, char *buf, size_t len)
{
	char h[ADDR_STR_LEN], p[64], n[32], m[32], t[32];
	uint64_t peers = incident_peers_n(inc), ports = incident_ports_n(inc);
	double span = (double)(inc->last_us - inc->first_us) / 1e6;

	addr_str(inc->host, h);
	snprintf(t, sizeof(t), "%.0f s", span);
	if (inc->about == STORE_ABOUT_RESPONDER && peers >= 10 &&
	    inc->halfopen * 2 >= inc->flows) {
		snprintf(buf, len,
		    "SYN flood: %s half-open flows to %s:%u from %s sources",
		    incident_count_str(inc->halfopen, n), h,
		    top_port(inc)->port, incident_count_str(peers, m));
		return 1;
	}
	if (inc->about != STORE_ABOUT_INITIATOR)
		return 0;
	if (ports >= 10 && ports >= 5 * peers) {
		snprintf(buf, len, "port scan: %s %s ports of %s in %s",
		    incident_count_str(ports, n), proto_words(inc),
		    hosts_words(inc, "hosts", p, sizeof(p)), t);
		return 1;
	}
	if (peers >= 10 && ports <= 3) {
		snprintf(buf, len, "host sweep: %s hosts in %s",
		    incident_count_str(peers, n), t);
		if (ports == 1 && strlen(buf) + 16 < len)
			snprintf(buf + strlen(buf), len - strlen(buf),
			    " on %s port %u", proto_words(inc),
			    top_port(inc)->port);
		return 1;
	}
	if (inc->flows >= 20 && peers == 1 && inc->halfopen * 2 >= inc->flows) {
		snprintf(buf, len,
		    "SYN flood: %s half-open flows to %s:%u from %s",
		    incident_count_str(inc->halfopen, n),
		    addr_str(top_peer(inc)->addr, p), top_port(inc)->port, h);
		return 1;
	}
	return 0;
}

/* Patterns of what the flows carry: names, bytes, time. */
static int
summary_content(const struct incident *inc, char *buf, size_t len)
{
	char dst[ADDR_STR_LEN + 8], a[ADDR_STR_LEN], n[32];
	const uint8_t *to = inc->about == STORE_ABOUT_INITIATOR
	    ? top_peer(inc)->addr
	    : inc->host;
	double mib = (double)inc->bytes_fwd / (1024.0 * 1024.0), per;

	snprintf(
	    dst, sizeof(dst), "%s:%u", addr_str(to, a), top_port(inc)->port);
	if (inc->top_fwd >= 1024 * 1024 && inc->top_fwd >= 4 * inc->top_bwd) {
		/* The strongest alert is an upload: say so, whatever else. */
		mib = (double)inc->top_fwd / (1024.0 * 1024.0);
		snprintf(buf, len, "large upload: %.*f MiB to %s:%u",
		    mib < 10 ? 1 : 0, mib, addr_str(inc->top_dst, a),
		    inc->top_dport);
	} else if (inc->dns_long >= 5 && inc->dns_long * 2 >= inc->flows)
		snprintf(buf, len,
		    "DNS tunnel-like queries: %s long high-entropy names to %s",
		    incident_count_str(inc->dns_long, n), addr_str(to, a));
	else if (inc->bytes_fwd >= 1024 * 1024 &&
	    inc->bytes_fwd >= 4 * inc->bytes_bwd)
		snprintf(buf, len, "large upload: %.*f MiB to %s",
		    mib < 10 ? 1 : 0, mib, dst);
	else if (inc->slow >= 3 && inc->slow * 2 >= inc->flows)
		snprintf(buf, len,
		    "slow connections: %s long-lived half-idle flows to %s",
		    incident_count_str(inc->slow, n), dst);
	else if (inc->flows >= 10 && inc->short_tcp * 2 >= inc->flows &&
	    top_port(inc)->n * 5 >= inc->flows * 4)
		snprintf(buf, len,
		    "repeated short logins: %s connections to %s",
		    incident_count_str(inc->short_tcp, n), dst);
	else if ((per = period_s(inc)) > 0)
		snprintf(buf, len,
		    "periodic contact: %s flows to %s every %.0f s",
		    incident_count_str(inc->flows, n), dst, per);
	else
		return 0;
	return 1;
}

/* A beacon: said from its evidence. */
static void
summary_beacon(const struct incident *inc, char *buf, size_t len)
{
	const struct beacon_hit *h = &inc->beacon;
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], n[32];
	double per = h->period_s, dev = h->dev_s;
	const char *u = "s";

	if (per >= 600) {
		per /= 60;
		dev /= 60;
		u = "min";
	}
	snprintf(buf, len,
	    "beacon: %s contacted %s:%u %s times every %.*f %s (\u00b1%.*f "
	    "%s), a host never seen in the baseline",
	    addr_str(h->src, a), addr_str(h->dst, b), h->dport,
	    incident_count_str(h->total, n), per < 10 ? 1 : 0, per, u,
	    dev < 10 ? 1 : 0, dev, u);
}

/* Write the incident's one-line summary. */
void
incident_summary(const struct incident *inc, char *buf, size_t len)
{
	char h[ADDR_STR_LEN], r[32], s[32], p[32];
	int resp_only;

	if (len == 0)
		return;
	buf[0] = '\0';
	/*
	 * An incident made only of responder findings is about what the
	 * responder receives: its client flows are ordinary, so the patterns
	 * of flow alerts would misname it.
	 */
	resp_only = inc->about == STORE_ABOUT_RESPONDER && inc->findings > 0 &&
	    inc->alerts == inc->findings && inc->resp_rate > 0;
	if (inc->flows == 0)
		snprintf(buf, len, "no flows");
	else if (inc->beacons > 0 && inc->beacons * 2 >= inc->alerts)
		summary_beacon(inc, buf, len);
	else if (!resp_only &&
	    (summary_spread(inc, buf, len) || summary_content(inc, buf, len)))
		return;
	else if (inc->about == STORE_ABOUT_RESPONDER && inc->findings > 0 &&
	    inc->resp_rate > 0) {
		snprintf(buf, len, "%s receives %s flows/s from %s sources",
		    addr_str(inc->host, h), fcount(inc->resp_rate, r),
		    fcount(inc->resp_srcs, s));
		if (inc->resp_rate_p99 >= 0 && strlen(buf) + 32 < len)
			snprintf(buf + strlen(buf), len - strlen(buf),
			    "; baseline p99 %s/s",
			    fcount(inc->resp_rate_p99, p));
	} else
		summary_unusual(inc, buf, len);
}
