/*
 * The analyst's report: one self-contained HTML page (inline CSS and SVG,
 * no script, no external resource) about an offline run.
 *
 * The detector hands every scored record to report_record() and every
 * closing incident to report_incident(), only when a report was asked for.
 * The collector keeps aggregates and samples, never every record, so its
 * memory and the page stay bounded whatever the capture's size:
 *   - flows and alerts per minute (REPORT_MINUTES_MAX minutes, then the
 *     last bin takes the rest);
 *   - the histogram of the scored flows' total errors, in the model's bins;
 *   - up to REPORT_BENIGN_MAX normal flows and REPORT_ALERT_MAX raised ones
 *     with their 2-D map positions, chosen as the smallest values of a
 *     seeded hash of each flow's 5-tuple and start time (a bottom-k
 *     sample): the same flows are kept whatever order they arrive in;
 *   - the REPORT_INCIDENTS_MAX closed incidents with most alerts, and the
 *     per-feature error shares of the alerts of REPORT_HEAT_MAX incidents.
 * The page depends only on these, formatted with fixed precision and no
 * clock, so the same input gives the same bytes: under 2 MB at any size.
 *
 * The maps: model_project() gives each flow's position on the first two
 * principal axes of the baseline's bottleneck codes (the latent map) and
 * of its normalised features (the input map), fitted when the model was
 * trained (model/map.c).  Normal flows are drawn as a density of squares,
 * raised ones as points coloured by incident, and the outline is the
 * convex hull of 99 % of the baseline rows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

#define REPORT_MINUTES_MAX 10080 /* one week of minute bins */
#define REPORT_BENIGN_MAX 4000
#define REPORT_ALERT_MAX 4000
#define REPORT_INCIDENTS_MAX 64
#define REPORT_HEAT_MAX 64
#define REPORT_SHOWN_MAX 12 /* incidents with charts and heatmap rows */
#define REPORT_CAPTURES_MAX 16
#define REPORT_SEED 0x7265706f7274ULL
#define REPORT_CODES_MAX 4000 /* live: alert keys with a kept code */
#define REPORT_CODE_BUCKETS 4096
#define REPORT_ROWS_MAX 10000 /* live: alert rows read for one page */

enum pt_kind {
	PT_BENIGN,
	PT_FLOW,
	PT_RESPONDER
};

struct rpt {
	uint64_t key, ts_us;
	float lat[2], in[2];
	float score;
	int64_t incident;
	uint8_t kind;
};

/* A max-heap on key of at most cap points: the cap smallest keys. */
struct sample {
	struct rpt *p;
	size_t n, cap;
};

struct rinc {
	int64_t id;
	uint8_t about;
	uint8_t host[CAP_ADDR_LEN];
	uint64_t first_us, last_us, alerts, flows, peers_n, ports_n;
	struct incident_peer peers[INCIDENT_LIST_MAX];
	struct incident_port ports[INCIDENT_LIST_MAX];
	size_t npeers, nports;
	float score_max;
	struct model_expl ex[INCIDENT_EXPL_MAX];
	size_t nex;
	char summary[INCIDENT_SUMMARY_MAX];
};

/* Live: the map positions of the first raised flow of an alert key. */
struct rcode {
	uint64_t key;
	float lat[2], in[2];
	int32_t next; /* in its bucket's chain, -1 ends it */
	uint32_t gen; /* the page that drew it last */
};

struct rheat {
	int64_t id;
	uint64_t n;
	float share[FEAT_COUNT];
};

struct report {
	uint64_t t0_us, t1_us; /* flow times seen */
	uint64_t scored, flow_alerts, responder;
	uint64_t base_min; /* minute of bin 0 */
	uint32_t *bins; /* [REPORT_MINUTES_MAX][3]: flows, flow, responder */
	size_t nmin;
	uint64_t hist[MODEL_HIST_BINS];
	struct sample benign, alerts;
	struct rinc inc[REPORT_INCIDENTS_MAX];
	size_t ninc;
	uint64_t inc_seen;
	struct rheat heat[REPORT_HEAT_MAX];
	size_t nheat;
	char captures[REPORT_CAPTURES_MAX][128];
	size_t ncaptures, more_captures;
	uint64_t packets, flows;
	int have_capture;
	/* the live daemon's collector (report_create_live) */
	int live;
	struct rcode *codes; /* REPORT_CODES_MAX, oldest at chead when full */
	int32_t *buckets; /* REPORT_CODE_BUCKETS chain heads, -1 = empty */
	size_t ncodes, chead;
	uint32_t gen;
	size_t draw_max; /* raised points drawn on each map */
	char note[512]; /* a live page's source, shown under the header */
	struct detect_stats storm; /* the detector's storm minutes, if any */
};

/* Say the detector's alert storm minutes (detect.c) in the header. */
void
report_storm(struct report *rp, const struct detect_stats *ds)
{
	rp->storm = *ds;
}

/* Create an empty collector; exits on OOM. */
struct report *
report_create(void)
{
	struct report *rp;

	if ((rp = calloc(1, sizeof(*rp))) == NULL ||
	    (rp->bins = calloc(REPORT_MINUTES_MAX * 3, sizeof(uint32_t))) ==
		NULL ||
	    (rp->benign.p = calloc(REPORT_BENIGN_MAX, sizeof(struct rpt))) ==
		NULL ||
	    (rp->alerts.p = calloc(REPORT_ALERT_MAX, sizeof(struct rpt))) ==
		NULL)
		fatal("report: create");
	rp->benign.cap = REPORT_BENIGN_MAX;
	rp->alerts.cap = REPORT_ALERT_MAX;
	rp->draw_max = REPORT_ALERT_MAX;
	return rp;
}

/* Create the live daemon's collector; exits on OOM. */
struct report *
report_create_live(void)
{
	struct report *rp = report_create();

	if ((rp->codes = calloc(REPORT_CODES_MAX, sizeof(*rp->codes))) ==
		NULL ||
	    (rp->buckets = malloc(REPORT_CODE_BUCKETS * sizeof(int32_t))) ==
		NULL)
		fatal("report: create");
	rp->live = 1;
	report_reset(rp);
	return rp;
}

/* Forget everything collected (a new model was installed). */
void
report_reset(struct report *rp)
{
	struct report keep = *rp;
	size_t i;

	memset(rp->bins, 0, REPORT_MINUTES_MAX * 3 * sizeof(uint32_t));
	memset(rp, 0, sizeof(*rp));
	rp->bins = keep.bins;
	rp->benign = keep.benign;
	rp->alerts = keep.alerts;
	rp->benign.n = rp->alerts.n = 0;
	rp->draw_max = REPORT_ALERT_MAX;
	rp->live = keep.live;
	rp->codes = keep.codes;
	rp->buckets = keep.buckets;
	if (rp->buckets != NULL)
		for (i = 0; i < REPORT_CODE_BUCKETS; i++)
			rp->buckets[i] = -1;
}

/* Free a collector; NULL does nothing. */
void
report_free(struct report *rp)
{
	if (rp == NULL)
		return;
	free(rp->bins);
	free(rp->codes);
	free(rp->buckets);
	free(rp->benign.p);
	free(rp->alerts.p);
	free(rp);
}

/* splitmix64 step over v, from h. */
static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* The sampling key of a record: its tuple and start, seeded. */
static uint64_t
record_key(const struct flow_record *r)
{
	uint64_t h = REPORT_SEED, w;
	size_t i;

	for (i = 0; i < CAP_ADDR_LEN; i += 8) {
		memcpy(&w, r->src + i, 8);
		h = mix(h, w);
		memcpy(&w, r->dst + i, 8);
		h = mix(h, w);
	}
	h = mix(
	    h, (uint64_t)r->sport << 24 | (uint64_t)r->dport << 8 | r->proto);
	return mix(h, r->ts_first_us);
}

/* Keep p when its key is among the cap smallest (a max-heap). */
static void
sample_add(struct sample *s, const struct rpt *p)
{
	size_t i, c, big;
	struct rpt t;

	if (s->n < s->cap) {
		i = s->n++;
		s->p[i] = *p;
		while (i > 0 && s->p[(i - 1) / 2].key < s->p[i].key) {
			t = s->p[i];
			s->p[i] = s->p[(i - 1) / 2];
			s->p[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
		return;
	}
	if (p->key >= s->p[0].key)
		return;
	s->p[0] = *p;
	for (i = 0;; i = big) {
		big = i;
		c = 2 * i + 1;
		if (c < s->n && s->p[c].key > s->p[big].key)
			big = c;
		if (c + 1 < s->n && s->p[c + 1].key > s->p[big].key)
			big = c + 1;
		if (big == i)
			break;
		t = s->p[i];
		s->p[i] = s->p[big];
		s->p[big] = t;
	}
}

/*
 * Live: slide the minute window so that minute min fits, dropping the
 * oldest minutes (the offline collector puts the rest in the last bin).
 */
static void
slide_minutes(struct report *rp, uint64_t min)
{
	uint64_t shift = min - rp->base_min - REPORT_MINUTES_MAX + 1;

	if (shift >= rp->nmin) {
		memset(rp->bins, 0, rp->nmin * 3 * sizeof(*rp->bins));
		rp->nmin = 1;
		rp->base_min = min;
		return;
	}
	memmove(rp->bins, rp->bins + shift * 3,
	    (rp->nmin - shift) * 3 * sizeof(*rp->bins));
	memset(rp->bins + (rp->nmin - shift) * 3, 0,
	    shift * 3 * sizeof(*rp->bins));
	rp->nmin -= shift;
	rp->base_min += shift;
}

/* Count n records in their minute (kind 0 flows, 1 flow alerts, 2 resp). */
static void
count_minute(struct report *rp, uint64_t ts_us, int kind, uint32_t n)
{
	uint64_t min = ts_us / 60000000u, shift;

	if (rp->nmin == 0) {
		rp->base_min = min;
		rp->nmin = 1;
	}
	if (min < rp->base_min) {
		shift = rp->base_min - min;
		if (shift + rp->nmin > REPORT_MINUTES_MAX)
			min = rp->base_min; /* too early: the first bin */
		else {
			memmove(rp->bins + shift * 3, rp->bins,
			    rp->nmin * 3 * sizeof(*rp->bins));
			memset(rp->bins, 0, shift * 3 * sizeof(*rp->bins));
			rp->nmin += shift;
			rp->base_min = min;
		}
	}
	if (min - rp->base_min >= REPORT_MINUTES_MAX && rp->live)
		slide_minutes(rp, min);
	if (min - rp->base_min >= REPORT_MINUTES_MAX)
		min = rp->base_min + REPORT_MINUTES_MAX - 1;
	if (min - rp->base_min >= rp->nmin)
		rp->nmin = min - rp->base_min + 1;
	rp->bins[(min - rp->base_min) * 3 + kind] += n;
}

/* Add the explained shares of an alert to incident id's heat row. */
static void
heat_add_ex(
    struct report *rp, int64_t id, const struct model_expl *ex, size_t nex)
{
	struct rheat *h = NULL;
	size_t i;

	if (id == 0)
		return;
	for (i = 0; i < rp->nheat && h == NULL; i++)
		if (rp->heat[i].id == id)
			h = &rp->heat[i];
	if (h == NULL) {
		if (rp->nheat == REPORT_HEAT_MAX)
			return;
		h = &rp->heat[rp->nheat++];
		h->id = id;
	}
	h->n++;
	for (i = 0; i < nex; i++)
		if (ex[i].feature < FEAT_COUNT)
			h->share[ex[i].feature] += ex[i].share;
}

/* Add the explained shares of a raised record to its incident's row. */
static void
heat_add(struct report *rp, const struct detect_result *res)
{
	heat_add_ex(rp, res->incident_id, res->ex, res->nex);
}

/* The key that folds alerts in the store, from its text fields. */
static uint64_t
fold_key(const char *src, const char *dst, uint16_t dport, uint8_t proto,
    uint8_t finding, int64_t incident)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *p;

	for (p = src; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	h = mix(h, 0x2f);
	for (p = dst; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	h = mix(h, (uint64_t)dport << 16 | (uint64_t)proto << 8 | finding);
	return mix(h, (uint64_t)incident);
}

/* The index of the code kept for key, or -1. */
static int32_t
codes_find(const struct report *rp, uint64_t key)
{
	int32_t i = rp->buckets[key % REPORT_CODE_BUCKETS];

	while (i >= 0 && rp->codes[i].key != key)
		i = rp->codes[i].next;
	return i;
}

/* Keep a code for key, over the oldest one when full. */
static void
codes_add(
    struct report *rp, uint64_t key, const float lat[2], const float in[2])
{
	struct rcode *c;
	int32_t i, *pp;

	if (rp->ncodes < REPORT_CODES_MAX)
		i = (int32_t)rp->ncodes++;
	else {
		i = (int32_t)rp->chead;
		rp->chead = (rp->chead + 1) % REPORT_CODES_MAX;
		pp = &rp->buckets[rp->codes[i].key % REPORT_CODE_BUCKETS];
		while (*pp != i)
			pp = &rp->codes[*pp].next;
		*pp = rp->codes[i].next;
	}
	c = &rp->codes[i];
	c->key = key;
	memcpy(c->lat, lat, sizeof(c->lat));
	memcpy(c->in, in, sizeof(c->in));
	c->gen = 0;
	c->next = rp->buckets[key % REPORT_CODE_BUCKETS];
	rp->buckets[key % REPORT_CODE_BUCKETS] = i;
}

/*
 * Live: keep the map position of a raised flow under the store's fold key
 * (without the source when its row folds from any source), unless that key
 * has one: a stored row and its folded repeats share the first flow's, and
 * a storm of one key costs a lookup, not a projection.
 */
static void
live_code(
    struct report *rp, const struct model *m, const struct detect_result *res)
{
	const struct flow_record *r = res->r;
	char src[ADDR_STR_LEN], dst[ADDR_STR_LEN];
	float lat[2], in[2];
	uint64_t key;

	if (res->fold_any_src)
		src[0] = '\0'; /* its row folds from any source */
	else
		addr_str(r->src, src);
	key = fold_key(src, addr_str(r->dst, dst), r->dport, r->proto,
	    res->finding, res->incident_id);
	if (codes_find(rp, key) >= 0 || model_project(m, r->feat, lat, in) != 0)
		return;
	codes_add(rp, key, lat, in);
}

/* Take one scored record; see daemon.h. */
void
report_record(
    struct report *rp, const struct model *m, const struct detect_result *res)
{
	const struct flow_record *r = res->r;
	struct rpt p;
	int kind = 0;

	if (rp->t0_us == 0 || r->ts_first_us < rp->t0_us)
		rp->t0_us = r->ts_first_us;
	if (r->ts_last_us > rp->t1_us)
		rp->t1_us = r->ts_last_us;
	rp->scored++;
	rp->hist[model_hist_bin(res->split.total)]++;
	count_minute(rp, r->ts_first_us, 0, 1);
	memset(&p, 0, sizeof(p));
	p.key = record_key(r);
	p.ts_us = r->ts_first_us;
	p.score = res->split.total;
	p.incident = res->incident_id;
	if (res->decision == DETECT_FLOW_ALERT ||
	    res->decision == DETECT_BEACON) {
		/* a beacon alert is a flow alert row too, as in the store */
		kind = p.kind = PT_FLOW;
		rp->flow_alerts++;
	} else if (res->decision == DETECT_RESPONDER_FINDING ||
	    res->decision == DETECT_RESPONDER_EPISODE) {
		kind = p.kind = PT_RESPONDER;
		rp->responder++;
	}
	if (kind != 0 && rp->live) {
		live_code(rp, m, res);
		return;
	}
	if (kind != 0) {
		count_minute(rp, r->ts_first_us, kind, 1);
		heat_add(rp, res);
	}
	if (kind == 0 && rp->benign.n == rp->benign.cap &&
	    p.key >= rp->benign.p[0].key)
		return; /* not sampled: spare the projection */
	if (model_project(m, r->feat, p.lat, p.in) != 0)
		return;
	sample_add(kind == 0 ? &rp->benign : &rp->alerts, &p);
}

/* A cleared place for an incident of alerts, or NULL: it has too few. */
static struct rinc *
inc_slot(struct report *rp, uint64_t alerts)
{
	struct rinc *k;
	size_t i, least = 0;

	if (rp->ninc < REPORT_INCIDENTS_MAX)
		k = &rp->inc[rp->ninc++];
	else {
		for (i = 1; i < rp->ninc; i++)
			if (rp->inc[i].alerts < rp->inc[least].alerts)
				least = i;
		if (rp->inc[least].alerts >= alerts)
			return NULL;
		k = &rp->inc[least];
	}
	memset(k, 0, sizeof(*k));
	return k;
}

/* Keep a closing incident: the REPORT_INCIDENTS_MAX with most alerts. */
void
report_incident(
    struct report *rp, const struct incident *inc, const char *summary)
{
	struct rinc *k;

	if (rp->live)
		return; /* the live page reads incidents from the store */
	rp->inc_seen++;
	if ((k = inc_slot(rp, inc->alerts)) == NULL)
		return;
	k->id = inc->id;
	k->about = inc->about;
	memcpy(k->host, inc->host, CAP_ADDR_LEN);
	k->first_us = inc->first_us;
	k->last_us = inc->last_us;
	k->alerts = inc->alerts;
	k->flows = inc->flows;
	k->peers_n = incident_peers_n(inc);
	k->ports_n = incident_ports_n(inc);
	k->npeers = inc->npeers;
	k->nports = inc->nports;
	memcpy(k->peers, inc->peers, sizeof(k->peers));
	memcpy(k->ports, inc->ports, sizeof(k->ports));
	k->score_max = inc->score_max;
	k->nex = inc->nex;
	memcpy(k->ex, inc->ex, sizeof(k->ex));
	snprintf(k->summary, sizeof(k->summary), "%s", summary);
}

/* Record the input's name and totals for the header. */
void
report_capture(
    struct report *rp, const char *name, uint64_t packets, uint64_t flows)
{
	if (name != NULL) {
		if (rp->ncaptures < REPORT_CAPTURES_MAX)
			snprintf(rp->captures[rp->ncaptures++],
			    sizeof(rp->captures[0]), "%s", name);
		else
			rp->more_captures++;
	}
	rp->packets = packets;
	rp->flows = flows;
	rp->have_capture = 1;
}

/* ---- the live page, from the store -------------------------------------- */

static const char *when(uint64_t us, char buf[64]);

/* An address text as the 16 bytes addr_str() prints it from; 0 or -1. */
static int
addr_parse(const char *text, uint8_t out[CAP_ADDR_LEN])
{
	memset(out, 0, CAP_ADDR_LEN);
	if (inet_pton(AF_INET, text, out + 12) == 1) {
		out[10] = out[11] = 0xff;
		return 0;
	}
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

/* A stored explanation (alert_expl_write's JSON) into ex[max]. */
static size_t
expl_parse(const char *text, struct model_expl *ex, size_t max)
{
	cJSON *arr, *e;
	const cJSON *v;
	size_t n = 0;
	int f;

	if (text[0] == '\0' || (arr = cJSON_Parse(text)) == NULL)
		return 0;
	cJSON_ArrayForEach(e, arr)
	{
		v = cJSON_GetObjectItemCaseSensitive(e, "feature");
		if (n == max || !cJSON_IsString(v) ||
		    (f = feat_index(v->valuestring)) < 0)
			continue;
		memset(&ex[n], 0, sizeof(ex[n]));
		ex[n].feature = (uint32_t)f;
		if (cJSON_IsNumber(v = cJSON_GetObjectItem(e, "value")))
			ex[n].value = (float)v->valuedouble;
		if (cJSON_IsNumber(v = cJSON_GetObjectItem(e, "baseline_p50")))
			ex[n].p50 = (float)v->valuedouble;
		if (cJSON_IsNumber(v = cJSON_GetObjectItem(e, "baseline_p99")))
			ex[n].p99 = (float)v->valuedouble;
		if (cJSON_IsNumber(v = cJSON_GetObjectItem(e, "share")))
			ex[n].share = (float)v->valuedouble;
		n++;
	}
	cJSON_Delete(arr);
	return n;
}

/* The peers (address texts) and ports of a stored incident's lists. */
static void
lists_parse(const struct store_incident *si, struct rinc *k)
{
	cJSON *arr, *e;

	if ((arr = cJSON_Parse(si->peers)) != NULL)
		cJSON_ArrayForEach(e, arr)
		{
			if (k->npeers < INCIDENT_LIST_MAX &&
			    cJSON_IsString(e) &&
			    addr_parse(
				e->valuestring, k->peers[k->npeers].addr) == 0)
				k->npeers++;
		}
	cJSON_Delete(arr);
	if ((arr = cJSON_Parse(si->ports)) != NULL)
		cJSON_ArrayForEach(e, arr)
		{
			if (k->nports < INCIDENT_LIST_MAX &&
			    cJSON_IsNumber(e) && e->valuedouble >= 0 &&
			    e->valuedouble <= 65535)
				k->ports[k->nports++].port =
				    (uint16_t)e->valuedouble;
		}
	cJSON_Delete(arr);
}

/* Keep a stored incident, like report_incident() a closing one. */
static int
row_incident_cb(const struct store_incident *si, void *arg)
{
	struct report *rp = arg;
	struct rinc *k;

	rp->inc_seen++;
	if ((k = inc_slot(rp, si->alerts)) == NULL)
		return 0;
	k->id = si->id;
	k->about = si->about;
	addr_parse(si->host, k->host);
	k->first_us = si->first_us;
	k->last_us = si->last_us;
	k->alerts = si->alerts;
	k->flows = si->flows;
	k->peers_n = si->peers_n;
	k->ports_n = si->ports_n;
	lists_parse(si, k);
	k->score_max = (float)si->score_max;
	k->nex = expl_parse(si->evidence, k->ex, INCIDENT_EXPL_MAX);
	snprintf(k->summary, sizeof(k->summary), "%s", si->summary);
	return 0;
}

struct build {
	struct report *rp, *live;
	size_t rows;
	int64_t last_id;
};

/* Count a stored alert row and draw its key's code, once per page. */
static int
row_alert_cb(const struct store_alert *a, void *arg)
{
	struct build *b = arg;
	struct report *rp = b->rp, *live = b->live;
	struct model_expl ex[DETECT_EXPLAIN_MAX];
	uint32_t n = a->count > UINT32_MAX ? UINT32_MAX : (uint32_t)a->count;
	int kind = a->finding == STORE_FINDING_RESPONDER ? 2 : 1;
	struct rpt p;
	uint64_t key;
	int32_t i;

	b->rows++;
	b->last_id = a->id;
	count_minute(
	    rp, a->ts_first_us ? a->ts_first_us : a->ts_us, kind, n ? n : 1);
	if (kind == 1)
		rp->flow_alerts += n;
	else
		rp->responder += n;
	if (a->incident_id != 0)
		heat_add_ex(rp, a->incident_id, ex,
		    expl_parse(a->explanation, ex, DETECT_EXPLAIN_MAX));
	key = fold_key(a->src_ip, a->dst_ip, a->dst_port, a->proto, a->finding,
	    a->incident_id);
	if ((i = codes_find(live, key)) < 0) /* a row of any source's alerts */
		i = codes_find(live,
		    key = fold_key("", a->dst_ip, a->dst_port, a->proto,
			a->finding, a->incident_id));
	if (i < 0 || live->codes[i].gen == live->gen)
		return 0;
	live->codes[i].gen = live->gen;
	memset(&p, 0, sizeof(p));
	p.key = mix(REPORT_SEED, key);
	p.ts_us = a->ts_us;
	memcpy(p.lat, live->codes[i].lat, sizeof(p.lat));
	memcpy(p.in, live->codes[i].in, sizeof(p.in));
	p.score = (float)a->score;
	p.incident = a->incident_id;
	p.kind = kind == 1 ? PT_FLOW : PT_RESPONDER;
	sample_add(&rp->alerts, &p);
	return 0;
}

/* Copy what live collected from since_us on: flows, scores, normal codes. */
static void
copy_live(struct report *rp, const struct report *live, uint64_t since_us)
{
	uint64_t m, since_min = since_us / 60000000u;
	size_t i;

	for (i = 0; i < live->nmin; i++) {
		m = live->base_min + i;
		if (m < since_min || live->bins[i * 3] == 0)
			continue;
		count_minute(rp, m * 60000000u, 0, live->bins[i * 3]);
		rp->scored += live->bins[i * 3];
	}
	memcpy(rp->hist, live->hist, sizeof(rp->hist));
	for (i = 0; i < live->benign.n; i++)
		if (live->benign.p[i].ts_us >= since_us)
			sample_add(&rp->benign, &live->benign.p[i]);
}

/* Build a page from the store and live's codes; see daemon.h. */
struct report *
report_live_build(struct report *live, struct store *st, uint64_t since_us,
    uint64_t now_us, const char *source, char **cause)
{
	struct report *rp = report_create();
	struct store_query q;
	struct build b;
	char t0[64];
	int n;

	copy_live(rp, live, since_us);
	memset(&q, 0, sizeof(q));
	q.since_us = since_us;
	q.limit = STORE_QUERY_LIMIT_MAX;
	if (store_incidents_query(st, &q, row_incident_cb, rp, cause) < 0)
		goto fail;
	memset(&b, 0, sizeof(b));
	b.rp = rp;
	b.live = live;
	live->gen++;
	do {
		q.before_id = b.last_id;
		if ((n = store_alerts_query(st, &q, row_alert_cb, &b, cause)) <
		    0)
			goto fail;
	} while (n == STORE_QUERY_LIMIT_MAX && b.rows < REPORT_ROWS_MAX);
	rp->t0_us = since_us;
	rp->t1_us = now_us > since_us ? now_us : since_us;
	report_capture(rp, source, 0, 0);
	rp->have_capture = 0;
	snprintf(rp->note, sizeof(rp->note),
	    "From the daemon's store since %s: %zu alert rows%s and %" PRIu64
	    " incidents.  The scores histogram counts every flow scored "
	    "since the model was installed; the maps draw the codes the "
	    "daemon still holds (the first flow of each of the newest %d "
	    "alert keys, over a sample of at most %d normal flows).",
	    when(since_us, t0), b.rows,
	    b.rows >= REPORT_ROWS_MAX ? " (the newest, at most)" : "",
	    rp->inc_seen, REPORT_CODES_MAX, REPORT_BENIGN_MAX);
	return rp;
fail:
	report_free(rp);
	return NULL;
}

/* The start of the first flow rp took, or 0 when it took none. */
uint64_t
report_first_us(const struct report *rp)
{
	return rp->t0_us;
}

/* Draw at most max raised points on each map of the next report_write. */
void
report_draw_max(struct report *rp, size_t max)
{
	rp->draw_max = max;
}

/* ---- the page ----------------------------------------------------------- */

static const char *const inc_colours[] = {"#D55E00", "#0072B2", "#E69F00",
    "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
#define NCOLOURS (sizeof(inc_colours) / sizeof(inc_colours[0]))
#define OTHER_COLOUR "#7f7f7f"

static const char page_css[] =
    "body{font-family:sans-serif;margin:1.5em auto;max-width:1120px;"
    "color:#222;background:#fff;line-height:1.4}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;"
    "border-bottom:1px solid #ccc;margin-top:1.6em}"
    "table{border-collapse:collapse;font-size:.9em}"
    "td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;"
    "vertical-align:top}th{background:#f2f2f2}"
    ".num{text-align:right}.note{color:#555;font-size:.9em}"
    ".key{display:inline-block;width:.9em;height:.9em;margin:0 .3em;"
    "vertical-align:middle}"
    "svg{display:block;margin:.4em 0}svg text{font-family:sans-serif}"
    ".lead{font-size:1.1em;background:#f6f6f6;padding:.5em .8em}"
    ".maps{display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap}"
    ".warn th,.warn td{background:#fff0e0;border-color:#e0a060}";

/* Write s HTML-escaped. */
static void
esc(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '&':
			fputs("&amp;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		default:
			fputc(*s, fp);
		}
	}
}

/* "2024-01-31 12:00:05 UTC" of a time. */
static const char *
when(uint64_t us, char buf[64])
{
	char t[64];

	iso_time(us, t);
	snprintf(buf, 64, "%.10s %.8s UTC", t, t + 11);
	return buf;
}

/* A duration in words: "42 s", "12 min", "3.5 h". */
static const char *
span_str(uint64_t us, char buf[32])
{
	double s = (double)us / 1e6;

	if (s < 120)
		snprintf(buf, 32, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, 32, "%.0f min", s / 60);
	else
		snprintf(buf, 32, "%.1f h", s / 3600);
	return buf;
}

/* The colour of the incident ranked i (or of no incident). */
static const char *
colour_of(const struct report *rp, int64_t id)
{
	size_t i;

	for (i = 0; i < rp->ninc && i < NCOLOURS; i++)
		if (rp->inc[i].id == id && id != 0)
			return inc_colours[i];
	return OTHER_COLOUR;
}

/* Incidents with most alerts first, then earliest, then by id. */
static int
inc_cmp(const void *a, const void *b)
{
	const struct rinc *x = a, *y = b;

	if (x->alerts != y->alerts)
		return x->alerts > y->alerts ? -1 : 1;
	if (x->first_us != y->first_us)
		return x->first_us < y->first_us ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

static int
rpt_cmp(const void *a, const void *b)
{
	const struct rpt *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* The header: input, model, what it learnt. */
static void
write_header(const struct report *rp, const struct model *m, FILE *fp)
{
	const struct model_info *mi = model_info(m);
	const struct model_baseline *b = model_baseline(m);
	char t0[64], t1[64], sp[32], n1[32], n2[32];
	size_t i;

	fprintf(fp, "<h1>anomd report</h1>\n<table>\n<tr><th>%s</th><td>",
	    rp->note[0] != '\0' ? "source" : "captures");
	for (i = 0; i < rp->ncaptures; i++) {
		fputs(i > 0 ? ", " : "", fp);
		esc(fp, rp->captures[i]);
	}
	if (rp->more_captures > 0)
		fprintf(fp, " and %" PRIu64 " more", rp->more_captures);
	fprintf(fp,
	    "</td></tr>\n<tr><th>time span</th><td>%s to %s (%s)"
	    "</td></tr>\n",
	    when(rp->t0_us, t0), when(rp->t1_us, t1),
	    span_str(rp->t1_us - rp->t0_us, sp));
	if (rp->have_capture)
		fprintf(fp,
		    "<tr><th>packets, flows</th><td>%s packets, %s "
		    "flows</td></tr>\n",
		    incident_count_str(rp->packets, n1),
		    incident_count_str(rp->flows, n2));
	fprintf(fp,
	    "<tr><th>scored</th><td>%s flows: %s flow alerts, %s "
	    "flows blamed on their responder, %s incidents</td>"
	    "</tr>\n",
	    incident_count_str(rp->scored, n1),
	    incident_count_str(rp->flow_alerts, n2),
	    incident_count_str(rp->responder, sp),
	    incident_count_str(rp->inc_seen, t0));
	if (rp->storm.storm_minutes > 0) {
		char text[DETECT_STORM_TEXT_MAX];

		fputs("<tr class=\"warn\"><th>alert storm</th><td>", fp);
		esc(fp, detect_storm_text(&rp->storm, text, sizeof(text)));
		fputs("</td></tr>\n", fp);
	}
	fprintf(fp, "<tr><th>model</th><td>%s: %s baseline flows from %s ",
	    mi->id, incident_count_str(mi->baseline_rows, n1),
	    when(mi->first_us, t0));
	fprintf(fp, "to %s</td></tr>\n<tr><th>threshold rule</th><td>",
	    when(mi->last_us, t1));
	esc(fp, mi->note);
	fputs("</td></tr>\n</table>\n<p class=\"lead\">", fp);
	fprintf(fp, "%u features &#8594; %zu numbers", mi->dim,
	    model_latent_dim(m));
	if (b->known)
		fprintf(fp,
		    "; benign flows reconstruct to a median error of "
		    "%.3g, the threshold is %.3g",
		    (double)b->err_p50, (double)mi->threshold);
	else
		fprintf(fp,
		    "; the threshold is %.3g (this model file was "
		    "made before anomd kept its baseline's errors and "
		    "maps: retrain to see them)",
		    (double)mi->threshold);
	fputs(".</p>\n", fp);
}

/* x position of v on a feature's axis (log10(1 + v) when heavy-tailed). */
static double
feat_pos(double v, int logscale)
{
	if (!logscale)
		return v;
	return log10(1.0 + (v > 0.0 ? v : 0.0));
}

/* One incident's evidence: each top feature against the baseline band. */
static void
evidence_chart(const struct rinc *k, FILE *fp)
{
	const struct feat_desc *fd = feat_table();
	double lo, hi, x0, x1, xv, w = 420.0;
	size_t i, n = k->nex < 8 ? k->nex : 8;
	int lg;

	if (n == 0)
		return;
	fprintf(fp,
	    "<svg width=\"860\" height=\"%zu\" role=\"img\" "
	    "aria-label=\"evidence\">\n",
	    n * 24 + 26);
	fputs("<text x=\"200\" y=\"13\" font-size=\"11\" fill=\"#555\">"
	      "band: baseline p50 to p99; dot: observed</text>\n",
	    fp);
	for (i = 0; i < n; i++) {
		const struct model_expl *e = &k->ex[i];
		double y = 22.0 + (double)i * 24;

		lg =
		    e->feature < FEAT_COUNT && fd[e->feature].xform == FX_LOG1P;
		lo = feat_pos(fmin(0.0, fmin(e->p50, e->value)), lg);
		hi = feat_pos(fmax(e->p99, e->value), lg);
		if (!(hi > lo))
			hi = lo + 1.0;
		hi += (hi - lo) * 0.05;
		x0 = 200 + w * (feat_pos(e->p50, lg) - lo) / (hi - lo);
		x1 = 200 + w * (feat_pos(e->p99, lg) - lo) / (hi - lo);
		xv = 200 + w * (feat_pos(e->value, lg) - lo) / (hi - lo);
		fprintf(fp,
		    "<text x=\"195\" y=\"%.1f\" font-size=\"12\" "
		    "text-anchor=\"end\">",
		    y + 13);
		esc(fp, e->feature < FEAT_COUNT ? fd[e->feature].name : "?");
		fprintf(fp,
		    "</text><line x1=\"200\" x2=\"%.1f\" y1=\"%.1f\" "
		    "y2=\"%.1f\" stroke=\"#ccc\"/>",
		    200 + w, y + 9, y + 9);
		fprintf(fp,
		    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"12\" fill=\"#56B4E9\" opacity=\"0.6\">"
		    "<title>baseline p50 %.4g, p99 %.4g</title></rect>",
		    x0, y + 3, fmax(x1 - x0, 1.5), (double)e->p50,
		    (double)e->p99);
		fprintf(fp,
		    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" "
		    "fill=\"#D55E00\"><title>observed %.4g</title>"
		    "</circle>",
		    xv, y + 9, (double)e->value);
		fprintf(fp,
		    "<text x=\"630\" y=\"%.1f\" font-size=\"12\">"
		    "%.4g (p99 %.4g)%s</text>\n",
		    y + 13, (double)e->value, (double)e->p99,
		    lg ? ", log" : "");
	}
	fputs("</svg>\n", fp);
}

/* The incidents: a table in plain words, then each one's evidence. */
static void
write_incidents(const struct report *rp, FILE *fp)
{
	char a[ADDR_STR_LEN], t0[64], sp[32], n1[32], n2[32];
	size_t i, j;

	fprintf(fp, "<h2 id=\"incidents\">Incidents</h2>\n");
	if (rp->ninc == 0) {
		fputs("<p>No incidents.</p>\n", fp);
		return;
	}
	fputs("<table id=\"incident-table\">\n<tr><th></th><th>#</th>"
	      "<th>what happened</th><th>host</th><th>peers</th>"
	      "<th>ports</th><th>first seen</th><th>lasted</th>"
	      "<th>alerts</th><th>flows</th></tr>\n",
	    fp);
	for (i = 0; i < rp->ninc; i++) {
		const struct rinc *k = &rp->inc[i];

		fprintf(fp,
		    "<tr><td><span class=\"key\" style=\"background:"
		    "%s\"></span></td><td>%" PRId64 "</td><td>",
		    colour_of(rp, k->id), k->id);
		esc(fp, k->summary);
		fprintf(fp, "</td><td>%s (%s)</td><td>", addr_str(k->host, a),
		    k->about == STORE_ABOUT_RESPONDER ? "responder"
						      : "initiator");
		for (j = 0; j < k->npeers && j < 4; j++)
			fprintf(fp, "%s%s", j ? ", " : "",
			    addr_str(k->peers[j].addr, a));
		if (k->peers_n > j)
			fprintf(fp, " (%s in all)",
			    incident_count_str(k->peers_n, n1));
		fputs("</td><td>", fp);
		for (j = 0; j < k->nports && j < 6; j++)
			fprintf(fp, "%s%u", j ? ", " : "", k->ports[j].port);
		if (k->ports_n > j)
			fprintf(fp, " (%s in all)",
			    incident_count_str(k->ports_n, n1));
		fprintf(fp,
		    "</td><td>%s</td><td>%s</td><td class=\"num\">%s"
		    "</td><td class=\"num\">%s</td></tr>\n",
		    when(k->first_us, t0),
		    span_str(k->last_us - k->first_us, sp),
		    incident_count_str(k->alerts, n1),
		    incident_count_str(k->flows, n2));
	}
	fputs("</table>\n", fp);
	for (i = 0; i < rp->ninc && i < REPORT_SHOWN_MAX; i++) {
		fprintf(fp,
		    "<h3><span class=\"key\" style=\"background:%s\">"
		    "</span>#%" PRId64 ": ",
		    colour_of(rp, rp->inc[i].id), rp->inc[i].id);
		esc(fp, rp->inc[i].summary);
		fputs("</h3>\n", fp);
		evidence_chart(&rp->inc[i], fp);
	}
}

/* y of count c on a log axis of height h topped at max. */
static double
log_y(double c, double max, double top, double h)
{
	if (max <= 0.0)
		return top + h;
	return top + h - h * log10(1.0 + c) / log10(1.0 + max);
}

/* One polyline of series kind over nb bins of k minutes. */
static void
timeline_series(const struct report *rp, FILE *fp, int kind, size_t k,
    size_t nb, double max, const char *colour, const char *name)
{
	double x, bw = 1000.0 / (double)nb, c;
	size_t b, j;

	fprintf(fp,
	    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
	    "points=\"",
	    colour);
	for (b = 0; b < nb; b++) {
		for (c = 0, j = b * k; j < (b + 1) * k && j < rp->nmin; j++)
			c += rp->bins[j * 3 + kind];
		x = 60 + bw * ((double)b + 0.5);
		fprintf(
		    fp, "%s%.1f,%.1f", b ? " " : "", x, log_y(c, max, 20, 180));
	}
	fprintf(fp, "\"><title>%s</title></polyline>\n", name);
}

/* Flows and alerts per minute, with the incidents' spans. */
static void
write_timeline(const struct report *rp, FILE *fp)
{
	size_t k = 1, nb, b, j, i;
	double max = 0, c, bw, x0, x1, span_us;
	char t0[64], t1[64];

	fputs("<h2 id=\"timeline\">Timeline</h2>\n", fp);
	if (rp->nmin == 0) {
		fputs("<p>Nothing was scored.</p>\n", fp);
		return;
	}
	while (rp->nmin / k > 360)
		k *= 2;
	nb = (rp->nmin + k - 1) / k;
	bw = 1000.0 / (double)nb;
	for (b = 0; b < nb; b++) {
		for (c = 0, j = b * k; j < (b + 1) * k && j < rp->nmin; j++)
			c += rp->bins[j * 3];
		max = c > max ? c : max;
	}
	span_us = (double)nb * (double)k * 60e6;
	fprintf(fp,
	    "<p class=\"note\">Per %zu minute%s, log scale; shaded: "
	    "incidents.  <span class=\"key\" style=\"background:"
	    "#bbbbbb\"></span>flows <span class=\"key\" style=\""
	    "background:#D55E00\"></span>flow alerts <span class=\"key\""
	    " style=\"background:#0072B2\"></span>flows blamed on their "
	    "responder <span class=\"key\" style=\"background:#E69F00\">"
	    "</span>incidents opened</p>\n",
	    k, k > 1 ? "s" : "");
	fputs("<svg id=\"timeline-chart\" width=\"1080\" height=\"240\" "
	      "role=\"img\" aria-label=\"timeline\">\n",
	    fp);
	for (i = 0; i < rp->ninc; i++) {
		const struct rinc *in = &rp->inc[i];

		x0 = 60 +
		    1000.0 *
			((double)in->first_us - (double)rp->base_min * 60e6) /
			span_us;
		x1 = 60 +
		    1000.0 *
			((double)in->last_us - (double)rp->base_min * 60e6) /
			span_us;
		x0 = fmax(60, fmin(1060, x0));
		x1 = fmax(x0 + 2, fmin(1060, x1));
		fprintf(fp,
		    "<rect x=\"%.1f\" y=\"20\" width=\"%.1f\" "
		    "height=\"180\" fill=\"%s\" opacity=\"0.18\"/>"
		    "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\">#%" PRId64
		    "</text>\n",
		    x0, x1 - x0, colour_of(rp, in->id), x0 + 1,
		    (double)(30 + (i % 4) * 11), in->id);
	}
	for (b = 0; b < nb; b++) {
		for (c = 0, j = b * k; j < (b + 1) * k && j < rp->nmin; j++)
			c += rp->bins[j * 3];
		fprintf(fp,
		    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#bbbbbb\"/>",
		    60 + bw * (double)b, log_y(c, max, 20, 180),
		    fmax(bw - 0.5, 0.5), 200 - log_y(c, max, 20, 180));
	}
	fputc('\n', fp);
	timeline_series(rp, fp, 1, k, nb, max, "#D55E00", "flow alerts");
	timeline_series(rp, fp, 2, k, nb, max, "#0072B2", "responder");
	for (i = 0; i < rp->ninc; i++) {
		x0 = 60 +
		    1000.0 *
			((double)rp->inc[i].first_us -
			    (double)rp->base_min * 60e6) /
			span_us;
		fprintf(fp,
		    "<path d=\"M%.1f,200 l-4,8 h8 z\" fill=\"#E69F00\"/>",
		    fmax(60, fmin(1060, x0)));
	}
	fprintf(fp,
	    "\n<line x1=\"60\" x2=\"1060\" y1=\"200\" y2=\"200\" "
	    "stroke=\"#333\"/><text x=\"55\" y=\"25\" font-size=\"11\" "
	    "text-anchor=\"end\">%.0f</text><text x=\"55\" y=\"200\" "
	    "font-size=\"11\" text-anchor=\"end\">0</text>\n",
	    max);
	fprintf(fp,
	    "<text x=\"60\" y=\"225\" font-size=\"11\">%s</text>"
	    "<text x=\"1060\" y=\"225\" font-size=\"11\" "
	    "text-anchor=\"end\">%s</text>\n</svg>\n",
	    when(rp->base_min * 60000000u, t0),
	    when((rp->base_min + nb * k) * 60000000u, t1));
}

/* One histogram as a step line over bins [b0, b1]. */
static void
hist_line(FILE *fp, const uint64_t *h, size_t b0, size_t b1, double max,
    const char *colour, const char *name)
{
	double bw = 900.0 / (double)(b1 - b0 + 1), y;
	size_t b;

	fprintf(fp,
	    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
	    "points=\"",
	    colour);
	for (b = b0; b <= b1; b++) {
		y = log_y((double)h[b], max, 20, 180);
		fprintf(fp, "%s%.1f,%.1f %.1f,%.1f", b > b0 ? " " : "",
		    80 + bw * (double)(b - b0), y,
		    80 + bw * (double)(b - b0 + 1), y);
	}
	fprintf(fp, "\"><title>%s</title></polyline>\n", name);
}

/* x of an error on the scores chart. */
static double
err_x(double e, size_t b0, size_t b1)
{
	double lo = log10(model_hist_edge(b0)),
	       hi = log10(model_hist_edge(b1 + 1));

	e = e > 1e-30 ? log10(e) : lo;
	return 80 + 900.0 * fmax(0, fmin(1, (e - lo) / (hi - lo)));
}

/* Histograms of the baseline's and the scored flows' errors. */
static void
write_scores(const struct report *rp, const struct model *m, FILE *fp)
{
	const struct model_baseline *bl = model_baseline(m);
	double thr = model_threshold(m), max = 0, x;
	size_t b0 = MODEL_HIST_BINS, b1 = 0, b;
	int dec;

	fputs("<h2 id=\"scores\">Scores</h2>\n<p class=\"note\">Reconstruction "
	      "error of every scored flow (<span class=\"key\" style=\""
	      "background:#D55E00\"></span>) and of the baseline's flows, each "
	      "scored by a network that never saw it (<span class=\"key\" "
	      "style=\"background:#0072B2\"></span>); counts on a log scale; "
	      "the dashed line is the threshold.</p>\n",
	    fp);
	for (b = 0; b < MODEL_HIST_BINS; b++) {
		if (rp->hist[b] || (bl->known && bl->hist[b])) {
			b0 = b < b0 ? b : b0;
			b1 = b;
		}
		max = fmax(max, (double)rp->hist[b]);
		if (bl->known)
			max = fmax(max, (double)bl->hist[b]);
	}
	b = model_hist_bin(thr);
	b0 = b < b0 ? b : b0;
	b1 = b > b1 ? b : b1;
	fputs("<svg id=\"scores-chart\" width=\"1000\" height=\"240\" "
	      "role=\"img\" aria-label=\"scores\">\n",
	    fp);
	if (bl->known)
		hist_line(fp, bl->hist, b0, b1, max, "#0072B2", "baseline");
	hist_line(fp, rp->hist, b0, b1, max, "#D55E00", "scored flows");
	x = err_x(thr, b0, b1);
	fprintf(fp,
	    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"15\" y2=\"200\" "
	    "stroke=\"#000\" stroke-dasharray=\"5,3\"/><text x=\"%.1f\" "
	    "y=\"13\" font-size=\"11\">threshold %.3g</text>\n",
	    x, x, x + 3, thr);
	for (dec = -4; dec <= 3; dec++) {
		if (pow(10, dec) < model_hist_edge(b0) ||
		    pow(10, dec) > model_hist_edge(b1 + 1))
			continue;
		x = err_x(pow(10, dec), b0, b1);
		fprintf(fp,
		    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"200\" "
		    "y2=\"205\" stroke=\"#333\"/><text x=\"%.1f\" "
		    "y=\"218\" font-size=\"11\" text-anchor=\"middle\">"
		    "%g</text>",
		    x, x, x, pow(10, dec));
	}
	fprintf(fp,
	    "\n<line x1=\"80\" x2=\"980\" y1=\"200\" y2=\"200\" "
	    "stroke=\"#333\"/><text x=\"75\" y=\"25\" font-size=\"11\" "
	    "text-anchor=\"end\">%.0f</text><text x=\"75\" y=\"200\" "
	    "font-size=\"11\" text-anchor=\"end\">0</text><text x=\"530\""
	    " y=\"236\" font-size=\"11\" text-anchor=\"middle\">"
	    "reconstruction error</text>\n</svg>\n",
	    max);
}

#define GRID 40

/* The 2-D position of p on map which (0 latent, 1 input). */
static const float *
pos_of(const struct rpt *p, int which)
{
	return which == 0 ? p->lat : p->in;
}

/* Grow the box b[4] (xmin, xmax, ymin, ymax) by point v. */
static void
box_add(double b[4], const float *v)
{
	b[0] = fmin(b[0], v[0]);
	b[1] = fmax(b[1], v[0]);
	b[2] = fmin(b[2], v[1]);
	b[3] = fmax(b[3], v[1]);
}

/*
 * One map: the density of the normal flows, the baseline's outline and
 * the raised flows as points.  Points far outside the normal region are
 * drawn on the border as open circles.
 */
static void
write_map(const struct report *rp, const struct model *m, FILE *fp, int which,
    double size, const char *id)
{
	const struct model_baseline *bl = model_baseline(m);
	const float(*hull)[2] = which == 0 ? bl->hull_latent : bl->hull_input;
	size_t nh = which == 0 ? bl->nhull_latent : bl->nhull_input, i;
	double b[4] = {1e30, -1e30, 1e30, -1e30}, cx, cy, w, sx, sy, x, y;
	uint32_t grid[GRID][GRID], gmax = 0;
	const float *v;
	int gx, gy, out;

	memset(grid, 0, sizeof(grid));
	for (i = 0; i < nh; i++)
		box_add(b, hull[i]);
	for (i = 0; i < rp->benign.n; i++)
		box_add(b, pos_of(&rp->benign.p[i], which));
	if (b[0] > b[1]) /* nothing normal: frame the raised ones */
		for (i = 0; i < rp->alerts.n; i++)
			box_add(b, pos_of(&rp->alerts.p[i], which));
	if (b[0] > b[1])
		b[0] = b[2] = -1, b[1] = b[3] = 1;
	/* Room for the raised flows: up to 3 times the normal region. */
	cx = (b[0] + b[1]) / 2;
	cy = (b[2] + b[3]) / 2;
	w = fmax(b[1] - b[0], b[3] - b[2]) / 2 + 1e-6;
	for (i = 0; i < rp->alerts.n; i++) {
		v = pos_of(&rp->alerts.p[i], which);
		w = fmax(
		    w, fmin(3 * w, fmax(fabs(v[0] - cx), fabs(v[1] - cy))));
	}
	w *= 1.08;
	sx = size / (2 * w);
	sy = size / (2 * w);
#define PX(vx) (10 + ((vx) - (cx - w)) * sx)
#define PY(vy) (10 + size - ((vy) - (cy - w)) * sy)
	for (i = 0; i < rp->benign.n; i++) {
		v = pos_of(&rp->benign.p[i], which);
		gx = (int)((v[0] - (cx - w)) / (2 * w) * GRID);
		gy = (int)((v[1] - (cy - w)) / (2 * w) * GRID);
		if (gx >= 0 && gx < GRID && gy >= 0 && gy < GRID &&
		    ++grid[gx][gy] > gmax)
			gmax = grid[gx][gy];
	}
	fprintf(fp,
	    "<svg id=\"%s\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
	    "aria-label=\"%s\">\n<rect x=\"10\" y=\"10\" width=\"%.0f\" "
	    "height=\"%.0f\" fill=\"none\" stroke=\"#ccc\"/>\n",
	    id, size + 20, size + 20, id, size, size);
	for (gx = 0; gx < GRID; gx++)
		for (gy = 0; gy < GRID; gy++) {
			if (grid[gx][gy] == 0)
				continue;
			fprintf(fp,
			    "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" "
			    "width=\"%.1f\" height=\"%.1f\" "
			    "fill=\"#555555\" opacity=\"%.2f\"/>",
			    10 + size * gx / GRID,
			    10 + size - size * (gy + 1) / GRID, size / GRID,
			    size / GRID,
			    0.1 + 0.7 * log1p(grid[gx][gy]) / log1p(gmax));
		}
	fputc('\n', fp);
	if (nh >= 3) {
		fputs("<polygon class=\"baseline\" fill=\"none\" "
		      "stroke=\"#000\" stroke-width=\"1.5\" "
		      "stroke-dasharray=\"6,4\" points=\"",
		    fp);
		for (i = 0; i < nh; i++)
			fprintf(fp, "%s%.1f,%.1f", i ? " " : "", PX(hull[i][0]),
			    PY(hull[i][1]));
		fputs("\"><title>the baseline's region (99 % of its flows)"
		      "</title></polygon>\n",
		    fp);
	}
	for (i = 0; i < rp->alerts.n; i++) {
		const struct rpt *p = &rp->alerts.p[i];

		v = pos_of(p, which);
		x = fmax(cx - w, fmin(cx + w, v[0]));
		y = fmax(cy - w, fmin(cy + w, v[1]));
		out = x != v[0] || y != v[1];
		fprintf(fp,
		    "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" "
		    "r=\"3.5\" fill=\"%s\" stroke=\"%s\" "
		    "stroke-width=\"%s\"><title>incident #%" PRId64
		    ", %s, error %.3g%s</title></circle>\n",
		    PX(x), PY(y), out ? "none" : colour_of(rp, p->incident),
		    out ? colour_of(rp, p->incident) : "#fff",
		    out ? "1.5" : "0.6", p->incident,
		    p->kind == PT_FLOW ? "flow alert" : "responder",
		    (double)p->score, out ? ", beyond the frame" : "");
	}
#undef PX
#undef PY
	fputs("</svg>\n", fp);
}

/* Both maps, with what they mean. */
static void
write_maps(const struct report *rp, const struct model *m, FILE *fp)
{
	const struct model_baseline *bl = model_baseline(m);
	char n1[32];

	fputs("<h2 id=\"latent\">The latent map</h2>\n", fp);
	if (!bl->known) {
		fputs("<p>This model file was made before anomd kept its "
		      "baseline's maps: retrain to see them.</p>\n",
		    fp);
		return;
	}
	fprintf(fp,
	    "<p class=\"note\">Each flow's %zu-number bottleneck code, "
	    "projected on the first two principal axes of the "
	    "baseline's codes (they keep %.0f %% of its variance).  "
	    "Grey squares: the density of %s sampled normal flows; "
	    "dashed: the region of 99 %% of the baseline's flows; "
	    "points: raised flows, coloured by incident (open circles "
	    "lie beyond the frame).  The second map projects the same "
	    "flows' normalised features (%.0f %% of the variance): "
	    "what the network's reduction adds is the difference.</p>\n",
	    model_latent_dim(m), 100.0 * bl->var_latent,
	    incident_count_str(rp->benign.n, n1), 100.0 * bl->var_input);
	fputs("<div class=\"maps\"><div>", fp);
	write_map(rp, m, fp, 0, 560, "latent-map");
	fputs("<p class=\"note\">latent space (autoencoder code)</p></div>"
	      "<div>",
	    fp);
	write_map(rp, m, fp, 1, 340, "input-map");
	fputs("<p class=\"note\">input space (normalised features)</p></div>"
	      "</div>\n",
	    fp);
}

/* The heat row of incident id, or NULL. */
static const struct rheat *
heat_of(const struct report *rp, int64_t id)
{
	size_t i;

	for (i = 0; i < rp->nheat; i++)
		if (rp->heat[i].id == id)
			return &rp->heat[i];
	return NULL;
}

/* Which features carry the error of the top incidents' alerts. */
static void
write_heatmap(const struct report *rp, FILE *fp)
{
	const struct feat_desc *fd = feat_table();
	double tot[FEAT_COUNT] = {0}, s;
	size_t cols[16], nc = 0, i, j, nr = 0, rows[REPORT_SHOWN_MAX];
	const struct rheat *h;

	fputs("<h2 id=\"heatmap\">Which features carry the error</h2>\n", fp);
	for (i = 0; i < rp->ninc && nr < REPORT_SHOWN_MAX; i++)
		if ((h = heat_of(rp, rp->inc[i].id)) != NULL && h->n > 0) {
			rows[nr++] = i;
			for (j = 0; j < FEAT_COUNT; j++)
				tot[j] += h->share[j] / (double)h->n;
		}
	for (nc = 0; nc < 16; nc++) {
		size_t best = FEAT_COUNT;

		for (j = 0; j < FEAT_COUNT; j++)
			if (tot[j] > 0.01 &&
			    (best == FEAT_COUNT || tot[j] > tot[best]))
				best = j;
		if (best == FEAT_COUNT)
			break;
		cols[nc] = best;
		tot[best] = -1;
	}
	if (nr == 0 || nc == 0) {
		fputs("<p>No explained alerts.</p>\n", fp);
		return;
	}
	fputs("<p class=\"note\">Mean share of each alert's squared "
	      "reconstruction error, per incident (rows) and feature.</p>\n",
	    fp);
	fprintf(fp,
	    "<svg id=\"heatmap-chart\" width=\"%zu\" height=\"%zu\" "
	    "role=\"img\" aria-label=\"heatmap\">\n",
	    90 + nc * 52, 170 + nr * 26);
	for (j = 0; j < nc; j++)
		fprintf(fp,
		    "<text font-size=\"11\" transform=\"translate(%zu,"
		    "160) rotate(-50)\">%s</text>",
		    90 + j * 52 + 26, fd[cols[j]].name);
	fputc('\n', fp);
	for (i = 0; i < nr; i++) {
		const struct rinc *k = &rp->inc[rows[i]];

		h = heat_of(rp, k->id);
		fprintf(fp,
		    "<text x=\"80\" y=\"%zu\" font-size=\"12\" "
		    "text-anchor=\"end\" fill=\"%s\">#%" PRId64 "</text>",
		    184 + i * 26, colour_of(rp, k->id), k->id);
		for (j = 0; j < nc; j++) {
			s = h->share[cols[j]] / (double)h->n;
			fprintf(fp,
			    "<rect x=\"%zu\" y=\"%zu\" width=\"50\" "
			    "height=\"24\" fill=\"#0072B2\" "
			    "opacity=\"%.2f\"><title>%s: %.2f</title>"
			    "</rect><text x=\"%zu\" y=\"%zu\" "
			    "font-size=\"10\" text-anchor=\"middle\" "
			    "fill=\"%s\">%.2f</text>",
			    90 + j * 52, 168 + i * 26, 0.05 + 0.95 * s,
			    fd[cols[j]].name, s, 90 + j * 52 + 25, 184 + i * 26,
			    s > 0.5 ? "#fff" : "#000", s);
		}
		fputc('\n', fp);
	}
	fputs("</svg>\n", fp);
}

/* Write the page; see daemon.h. */
int
report_write(struct report *rp, const struct model *m, FILE *fp)
{
	qsort(rp->inc, rp->ninc, sizeof(rp->inc[0]), inc_cmp);
	qsort(rp->benign.p, rp->benign.n, sizeof(struct rpt), rpt_cmp);
	qsort(rp->alerts.p, rp->alerts.n, sizeof(struct rpt), rpt_cmp);
	if (rp->alerts.n > rp->draw_max)
		rp->alerts.n = rp->draw_max; /* the smallest keys stay */
	fprintf(fp,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
	    "charset=\"utf-8\">\n<title>anomd report</title>\n"
	    "<style>%s</style>\n</head>\n<body>\n",
	    page_css);
	write_header(rp, m, fp);
	if (rp->note[0] != '\0') {
		fputs("<p class=\"note\">", fp);
		esc(fp, rp->note);
		fputs("</p>\n", fp);
	}
	write_incidents(rp, fp);
	write_timeline(rp, fp);
	write_scores(rp, m, fp);
	write_maps(rp, m, fp);
	write_heatmap(rp, fp);
	fputs("<p class=\"note\">Made by anomd " PACKAGE_VERSION
	      ".  Colours: Okabe and Ito's palette for colour-blind readers.  "
	      "Hover over a mark for its values.</p>\n</body>\n</html>\n",
	    fp);
	return ferror(fp) ? -EIO : 0;
}
