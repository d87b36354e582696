/*
 * The detector: turns flow records into a baseline, a model, scores and
 * explained alerts.
 *
 * While no model is loaded it is LEARNING: records are kept as baseline
 * rows until the window (by the records' own packet times) has lasted
 * baseline_seconds and holds baseline_min_flows rows.  Past
 * baseline_max_flows rows a seeded reservoir sample keeps the baseline
 * bounded and representative of the whole window.  Then the model is
 * trained and every later record is scored; a score above the threshold is
 * an alert, explained by the features carrying most of its error, and goes
 * to the store, the EVE file and the summary.
 */
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

#define DETECT_HOSTS_MAX 128 /* hosts tracked per side for the summary */
#define DETECT_HOSTS_SHOWN 8
#define DETECT_TOP_MAX 10 /* alerts shown in the summary */

/*
 * Hosts that raise the most alerts, by the space-saving algorithm: at most
 * DETECT_HOSTS_MAX entries, and a newcomer replaces the smallest count and
 * inherits it, so the heavy hitters are kept whatever the number of hosts
 * (a spoofed flood has one alert per source).
 */
struct detect_host {
	uint8_t addr[CAP_ADDR_LEN];
	uint64_t alerts, over; /* over: alerts inherited, an error bound */
	uint64_t peers_seen; /* alerts whose peer differed from the last */
	uint8_t last_peer[CAP_ADDR_LEN];
	float max_score;
	uint64_t first_us, last_us;
};

struct detect_hosts {
	struct detect_host h[DETECT_HOSTS_MAX];
	size_t n;
};

struct detector {
	struct detect_opts o;
	struct model *model;
	uint8_t xform[FEAT_COUNT];
	/* baseline */
	int learning, training;
	float *rows;
	FILE *spill; /* every baseline record, to score once trained */
	size_t nrows, caprows;
	uint64_t seen, first_us, last_us, rng;
	/* summary */
	struct detect_stats st;
	struct detect_hosts by_src, by_dst;
	struct {
		struct flow_record rec;
		float score;
		struct model_expl ex[DETECT_EXPLAIN_MAX];
		size_t nex;
	} top[DETECT_TOP_MAX];
	size_t ntop;
};

static void score(struct detector *d, const struct flow_record *r);

/* splitmix64 step, for the reservoir sample. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Turn the configuration into model parameters; 0 or -EINVAL. */
int
detect_model_params(
    const struct anomd_conf *c, struct model_params *p, char **cause)
{
	char buf[CONF_STR_MAX], *tok, *save = NULL, *end;
	unsigned long w;

	model_params_default(p);
	snprintf(buf, sizeof(buf), "%s", c->model_layers);
	p->nlayers = 0;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		errno = 0;
		w = strtoul(tok, &end, 10);
		if (*end || errno || w < 1 || w > MODEL_MAX_WIDTH ||
		    p->nlayers == MODEL_MAX_HIDDEN)
			goto bad;
		p->layers[p->nlayers++] = (uint32_t)w;
	}
	if (p->nlayers == 0)
		goto bad;
	model_act_parse(c->model_activation, &p->activation);
	model_rule_parse(c->threshold_rule, &p->rule);
	p->max_epochs = c->model_epochs;
	p->batch = c->model_batch;
	p->threads = c->model_threads;
	p->seed = c->model_seed;
	p->target_rate = c->threshold_target;
	p->confidence = c->threshold_confidence;
	p->robust_drop = c->robust_drop;
	return 0;
bad:
	if (cause != NULL &&
	    asprintf(cause,
		"model_layers \"%s\": want 1 to "
		"%d comma-separated widths of 1 to %d",
		c->model_layers, MODEL_MAX_HIDDEN, MODEL_MAX_WIDTH) < 0)
		*cause = NULL;
	return -EINVAL;
}

/* Create a detector; takes ownership of o->model. */
struct detector *
detect_create(const struct detect_opts *o)
{
	const struct feat_desc *fd = feat_table();
	struct detector *d;
	int i;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("detect: create");
	d->o = *o;
	d->model = o->model;
	d->rng = o->conf->model_seed ^ 0x62617365ULL;
	for (i = 0; i < FEAT_COUNT; i++)
		d->xform[i] = fd[i].xform == FX_LOG1P ? MODEL_XFORM_LOG1P
						      : MODEL_XFORM_LINEAR;
	d->caprows = o->conf->baseline_max_flows;
	if ((d->model == NULL || o->train_only) && detect_retrain(d) != 0)
		fatalx("detect: nothing to detect with and no baseline");
	return d;
}

/* Free a detector and its model. */
void
detect_free(struct detector *d)
{
	if (d == NULL)
		return;
	model_free(d->model);
	free(d->rows);
	if (d->spill != NULL)
		fclose(d->spill);
	free(d);
}

/* Add a record to the baseline, sampling once it is full. */
static void
baseline_add(struct detector *d, const struct flow_record *r)
{
	uint64_t j;

	if (d->seen == 0 || r->ts_first_us < d->first_us)
		d->first_us = r->ts_first_us;
	if (r->ts_last_us > d->last_us)
		d->last_us = r->ts_last_us;
	d->seen++;
	if (d->spill != NULL && fwrite(r, sizeof(*r), 1, d->spill) != 1) {
		log_warn("detect: temporary file of baseline records; the "
			 "baseline's flows will not be scored");
		fclose(d->spill);
		d->spill = NULL;
	}
	if (d->nrows < d->caprows)
		j = d->nrows++;
	else if ((j = rng_next(&d->rng) % d->seen) >= d->caprows)
		return;
	memcpy(d->rows + j * FEAT_COUNT, r->feat, sizeof(r->feat));
}

/* Record a new model in the store. */
static void
store_model(struct detector *d)
{
	const struct model_info *mi = model_info(d->model);
	struct store_model sm;
	char *cause = NULL;

	if (d->o.store == NULL)
		return;
	memset(&sm, 0, sizeof(sm));
	snprintf(sm.id, sizeof(sm.id), "%s", mi->id);
	sm.created_us = mi->created_us;
	sm.train_first_us = mi->first_us;
	sm.train_last_us = mi->last_us;
	sm.flows = mi->baseline_rows;
	sm.threshold = mi->threshold;
	snprintf(sm.rule, sizeof(sm.rule), "%s", mi->rule_name);
	snprintf(sm.params, sizeof(sm.params),
	    "{\"layers\":\"%s\",\"activation\":\"%s\",\"seed\":%" PRIu64
	    ",\"target_rate\":%g,\"epochs\":[%u,%u],\"dropped\":%" PRIu64 "}",
	    d->o.conf->model_layers, model_act_name(mi->activation), mi->seed,
	    mi->target_rate, mi->epochs_first, mi->epochs_refit,
	    mi->dropped_rows);
	if (store_model_put(d->o.store, &sm, &cause) != 0) {
		log_warnx("%s", cause ? cause : "store: model put failed");
		free(cause);
	}
}

/*
 * Training is split in three so that the daemon can run the middle part in
 * a worker thread: detect_job_take() moves the baseline out of the detector
 * (which starts a fresh, empty one), detect_job_run() trains without
 * touching the detector, and detect_job_finish() swaps the new model in on
 * the thread that owns the detector.
 */
struct detect_job {
	float *rows;
	FILE *spill;
	size_t n;
	struct model_params p;
	struct model_meta meta;
	uint8_t xform[FEAT_COUNT];
	struct model *model;
	char *cause;
	int rc;
};

/* Move the baseline into a training job; the detector stops learning. */
struct detect_job *
detect_job_take(struct detector *d)
{
	struct detect_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("detect: job");
	j->rc = detect_model_params(d->o.conf, &j->p, &j->cause);
	j->meta.created_us = d->o.created_us ? d->o.created_us : d->last_us;
	j->meta.first_us = d->first_us;
	j->meta.last_us = d->last_us;
	memcpy(j->xform, d->xform, sizeof(j->xform));
	j->rows = d->rows;
	j->spill = d->spill;
	j->n = d->nrows;
	d->rows = NULL;
	d->spill = NULL;
	d->nrows = 0;
	d->learning = 0;
	d->training = 1;
	return j;
}

/* Train the job's model; safe in any thread. */
void
detect_job_run(struct detect_job *j)
{
	if (j->rc == 0)
		j->rc = model_train(&j->model, j->rows, j->n, FEAT_COUNT,
		    j->xform, feat_table_hash(), &j->p, &j->meta, &j->cause);
	free(j->rows);
	j->rows = NULL;
}

/*
 * Score the baseline's records, kept in a temporary file: all of them, not
 * only the sample the model was trained on, at about 340 bytes each.
 */
static void
score_spill(struct detector *d, FILE *spill)
{
	struct flow_record r;

	if (spill == NULL || fflush(spill) != 0 || fseek(spill, 0, SEEK_SET))
		return;
	while (fread(&r, sizeof(r), 1, spill) == 1)
		score(d, &r);
}

/* Install the job's model (saving and recording it) and free the job. */
int
detect_job_finish(struct detector *d, struct detect_job *j)
{
	char *cause = NULL;
	int rc = j->rc;

	d->training = 0;
	if (rc != 0) {
		log_warnx("model: training failed: %s",
		    j->cause ? j->cause : strerror(-rc));
		goto out;
	}
	model_free(d->model);
	d->model = j->model;
	j->model = NULL;
	d->st.trained++;
	if (d->o.model_out != NULL &&
	    (rc = model_save(d->model, d->o.model_out, &cause)) != 0) {
		log_warnx("%s", cause ? cause : "model: save failed");
		free(cause);
	}
	store_model(d);
	score_spill(d, j->spill);
out:
	model_free(j->model);
	free(j->cause);
	if (j->spill != NULL)
		fclose(j->spill);
	free(j);
	return rc;
}

/* Train on the baseline now, in this thread. */
int
detect_train(struct detector *d)
{
	struct detect_job *j = detect_job_take(d);

	detect_job_run(j);
	return detect_job_finish(d, j);
}

/*
 * Start a new baseline window; the current model goes on scoring.  The
 * buffer (up to baseline_max_flows rows of FEAT_COUNT floats, 2.5 GB at the
 * maximum) is allocated here, at a SIGHUP or a retrain request as well as
 * at start-up: when it cannot be had, the retrain is refused, not the
 * daemon ended.
 */
int
detect_retrain(struct detector *d)
{
	int err;

	if (d->training)
		return 0;
	if (d->rows == NULL &&
	    (d->rows = calloc(d->caprows, FEAT_COUNT * sizeof(float))) ==
		NULL) {
		log_warnx("detect: cannot allocate a baseline of %zu flows "
			  "(%zu MB): retrain refused, %s",
		    d->caprows, d->caprows * FEAT_COUNT * sizeof(float) >> 20,
		    d->model != NULL ? "the current model keeps detecting"
				     : "no model to detect with");
		return -ENOMEM;
	}
	if (d->o.score_baseline && d->spill == NULL &&
	    (d->spill = tmpfile()) == NULL) {
		err = errno;
		log_warn("detect: temporary file for the baseline's records: "
			 "retrain refused");
		free(d->rows);
		d->rows = NULL;
		return -err;
	}
	d->nrows = 0;
	d->seen = d->first_us = d->last_us = 0;
	d->learning = 1;
	return 0;
}

/* Whether the baseline window is complete and waits to be trained. */
int
detect_window_done(const struct detector *d)
{
	return d->learning && !d->o.train_only &&
	    d->seen >= d->o.conf->baseline_min_flows &&
	    d->last_us - d->first_us >=
	    (uint64_t)d->o.conf->baseline_seconds * 1000000u;
}

/* Learning, training or detecting. */
const char *
detect_state(const struct detector *d)
{
	if (d->training)
		return "training";
	return d->model == NULL ? "learning" : "detecting";
}

/* Whether a new baseline is being collected. */
int
detect_learning(const struct detector *d)
{
	return d->learning;
}

/* Write the scores CSV header. */
void
detect_scores_header(FILE *fp)
{
	fputs("ts_first,ts_last,proto,src_ip,src_port,dst_ip,dst_port,packets,"
	      "bytes,score,threshold,alert,flow_id,end\n",
	    fp);
}

/* Write one scores row. */
static void
scores_row(
    FILE *fp, const struct flow_record *r, float score, float thr, int alert)
{
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], t0[32], t1[32];

	fprintf(fp,
	    "%s,%s,%u,%s,%u,%s,%u,%" PRIu64 ",%" PRIu64 ",%.6g,%.6g,%d,"
	    "%" PRIu64 ",%s\n",
	    ts_str(r->ts_first_us, t0), ts_str(r->ts_last_us, t1), r->proto,
	    addr_str(r->src, a), r->sport, addr_str(r->dst, b), r->dport,
	    r->packets, r->bytes, (double)score, (double)thr, alert, r->id,
	    flow_end_name(r->end));
}

/* The explanation as a JSON array. */
static cJSON *
expl_json(const struct model_expl *ex, size_t n)
{
	const struct feat_desc *fd = feat_table();
	cJSON *arr = cJSON_CreateArray(), *o;
	size_t i;

	for (i = 0; arr != NULL && i < n; i++) {
		if ((o = cJSON_CreateObject()) == NULL)
			break;
		cJSON_AddStringToObject(o, "feature", fd[ex[i].feature].name);
		cJSON_AddNumberToObject(o, "value", ex[i].value);
		cJSON_AddNumberToObject(o, "baseline_p50", ex[i].p50);
		cJSON_AddNumberToObject(o, "baseline_p99", ex[i].p99);
		cJSON_AddNumberToObject(o, "share", ex[i].share);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* Count an alert for host addr (talking to peer) in a space-saving table. */
static void
hosts_add(struct detect_hosts *t, const uint8_t *addr, const uint8_t *peer,
    const struct flow_record *r, float score)
{
	struct detect_host *h = NULL;
	size_t i, min = 0;

	for (i = 0; i < t->n && h == NULL; i++)
		if (memcmp(t->h[i].addr, addr, CAP_ADDR_LEN) == 0)
			h = &t->h[i];
	if (h == NULL && t->n < DETECT_HOSTS_MAX) {
		h = &t->h[t->n++];
		memset(h, 0, sizeof(*h));
	} else if (h == NULL) {
		for (i = 1; i < t->n; i++)
			if (t->h[i].alerts < t->h[min].alerts)
				min = i;
		h = &t->h[min];
		h->over = h->alerts;
		h->peers_seen = 0;
		h->max_score = 0;
	}
	if (h->alerts == h->over) {
		memcpy(h->addr, addr, CAP_ADDR_LEN);
		h->first_us = r->ts_first_us;
		h->last_us = r->ts_last_us;
	}
	if (h->alerts == h->over || memcmp(h->last_peer, peer, CAP_ADDR_LEN)) {
		h->peers_seen++;
		memcpy(h->last_peer, peer, CAP_ADDR_LEN);
	}
	h->alerts++;
	h->max_score = score > h->max_score ? score : h->max_score;
	/* Records come in the order flows end, not start: keep the span. */
	if (r->ts_first_us < h->first_us)
		h->first_us = r->ts_first_us;
	if (r->ts_last_us > h->last_us)
		h->last_us = r->ts_last_us;
}

/* Remember an alert for the summary: by host, and the top scores. */
static void
summary_add(struct detector *d, const struct flow_record *r, float score,
    const struct model_expl *ex, size_t nex)
{
	size_t i;

	hosts_add(&d->by_src, r->src, r->dst, r, score);
	hosts_add(&d->by_dst, r->dst, r->src, r, score);
	if (d->ntop == DETECT_TOP_MAX && score <= d->top[d->ntop - 1].score)
		return;
	if (d->ntop < DETECT_TOP_MAX)
		d->ntop++;
	for (i = d->ntop - 1; i > 0 && d->top[i - 1].score < score; i--)
		d->top[i] = d->top[i - 1];
	d->top[i].rec = *r;
	d->top[i].score = score;
	d->top[i].nex = nex;
	memcpy(d->top[i].ex, ex, nex * sizeof(*ex));
}

/* The protocol as EVE names it. */
static const char *
proto_name(uint8_t proto, char buf[8])
{
	switch (proto) {
	case 1:
		return "ICMP";
	case 6:
		return "TCP";
	case 17:
		return "UDP";
	case 58:
		return "IPv6-ICMP";
	case 132:
		return "SCTP";
	default:
		snprintf(buf, 8, "%03u", proto);
		return buf;
	}
}

/* Write one EVE line for an alert. */
static void
eve_write(struct detector *d, const struct flow_record *r, float score,
    int64_t id, cJSON *expl)
{
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], t[64], pb[8], *s;
	cJSON *o = cJSON_CreateObject(), *an, *fl;

	cJSON_AddStringToObject(o, "timestamp", iso_time(r->ts_last_us, t));
	cJSON_AddNumberToObject(o, "flow_id", (double)r->id);
	cJSON_AddStringToObject(o, "event_type", "anomd");
	cJSON_AddStringToObject(o, "src_ip", addr_str(r->src, a));
	cJSON_AddNumberToObject(o, "src_port", r->sport);
	cJSON_AddStringToObject(o, "dest_ip", addr_str(r->dst, b));
	cJSON_AddNumberToObject(o, "dest_port", r->dport);
	cJSON_AddStringToObject(o, "proto", proto_name(r->proto, pb));
	an = cJSON_AddObjectToObject(o, "anomaly");
	cJSON_AddNumberToObject(an, "score", score);
	cJSON_AddNumberToObject(an, "threshold", model_threshold(d->model));
	cJSON_AddStringToObject(an, "model_id", model_info(d->model)->id);
	if (id > 0)
		cJSON_AddNumberToObject(an, "alert_id", (double)id);
	cJSON_AddItemReferenceToObject(an, "explanation", expl);
	fl = cJSON_AddObjectToObject(o, "flow");
	cJSON_AddNumberToObject(fl, "pkts", (double)r->packets);
	cJSON_AddNumberToObject(fl, "bytes", (double)r->bytes);
	cJSON_AddStringToObject(fl, "start", iso_time(r->ts_first_us, t));
	cJSON_AddStringToObject(fl, "end", iso_time(r->ts_last_us, t));
	cJSON_AddStringToObject(fl, "reason", flow_end_name(r->end));
	if ((s = cJSON_PrintUnformatted(o)) != NULL) {
		fprintf(d->o.eve, "%s\n", s);
		cJSON_free(s);
	}
	cJSON_Delete(o);
}

/* Queue an alert in the store; returns its id or 0. */
static int64_t
store_put(struct detector *d, const struct flow_record *r, float score,
    const char *expl)
{
	struct store_alert a;
	int64_t id = 0;
	int rc;

	memset(&a, 0, sizeof(a));
	a.ts_us = r->ts_last_us;
	a.ts_first_us = r->ts_first_us;
	a.ts_last_us = r->ts_last_us;
	a.proto = r->proto;
	addr_str(r->src, a.src_ip);
	addr_str(r->dst, a.dst_ip);
	a.src_port = r->sport;
	a.dst_port = r->dport;
	a.packets = r->packets;
	a.bytes = r->bytes;
	a.score = score;
	a.threshold = model_threshold(d->model);
	snprintf(
	    a.model_id, sizeof(a.model_id), "%s", model_info(d->model)->id);
	if (strlen(expl) < sizeof(a.explanation))
		memcpy(a.explanation, expl, strlen(expl) + 1);
	a.count = 1;
	rc = store_alert_put(d->o.store, &a, &id);
	if (rc == STORE_PUT_NEW && d->o.alert_cb != NULL) {
		a.id = id;
		d->o.alert_cb(&a, d->o.alert_arg);
	}
	return rc >= 0 ? id : 0;
}

/* Handle a record whose score passed the threshold. */
static void
alert(struct detector *d, const struct flow_record *r, float score)
{
	struct model_expl ex[DETECT_EXPLAIN_MAX];
	size_t k = d->o.conf->explain_features, nex;
	cJSON *arr;
	char *text;
	int64_t id = 0;

	if (k > DETECT_EXPLAIN_MAX)
		k = DETECT_EXPLAIN_MAX;
	nex = model_explain(d->model, r->feat, k, ex);
	d->st.alerts++;
	summary_add(d, r, score, ex, nex);
	if (d->o.store == NULL && d->o.eve == NULL)
		return;
	arr = expl_json(ex, nex);
	text = cJSON_PrintUnformatted(arr);
	if (d->o.store != NULL && text != NULL)
		id = store_put(d, r, score, text);
	if (d->o.eve != NULL)
		eve_write(d, r, score, id, arr);
	cJSON_free(text);
	cJSON_Delete(arr);
}

/* Score one record; alert when it passes the threshold. */
static void
score(struct detector *d, const struct flow_record *r)
{
	float sc = model_score(d->model, r->feat),
	      thr = model_threshold(d->model);
	int is_alert = sc > thr;

	d->st.scored++;
	if (d->o.scores != NULL)
		scores_row(d->o.scores, r, sc, thr, is_alert);
	if (is_alert)
		alert(d, r, sc);
}

/* Take one flow record. */
void
detect_record(struct detector *d, const struct flow_record *r)
{
	if (d->learning) {
		baseline_add(d, r);
		d->st.baseline++;
		if (!d->o.async && detect_window_done(d) &&
		    detect_train(d) != 0)
			detect_retrain(d); /* no model yet: learn again */
		if (d->o.score_baseline)
			return; /* scored once the model is trained */
	}
	if (d->model == NULL || d->o.train_only)
		return;
	score(d, r);
}

/* The detector's counters. */
const struct detect_stats *
detect_stats(const struct detector *d)
{
	return &d->st;
}

/* The current model, or NULL. */
const struct model *
detect_model(const struct detector *d)
{
	return d->model;
}

/* Baseline rows kept and seen, and the window's time span. */
void
detect_baseline(const struct detector *d, uint64_t *kept, uint64_t *seen,
    uint64_t *first_us, uint64_t *last_us)
{
	*kept = d->nrows;
	*seen = d->seen;
	*first_us = d->first_us;
	*last_us = d->last_us;
}

/* Print one explanation line per feature. */
static void
print_expl(FILE *fp, const struct model_expl *ex, size_t n)
{
	const struct feat_desc *fd = feat_table();
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(fp,
		    "      %s = %g %s (baseline p50 %g, p99 %g; %.0f%% of "
		    "the error)\n",
		    fd[ex[i].feature].name, (double)ex[i].value,
		    fd[ex[i].feature].unit, (double)ex[i].p50,
		    (double)ex[i].p99, 100.0 * ex[i].share);
}

/* Order hosts by alert count, most first. */
static int
host_cmp(const void *a, const void *b)
{
	const struct detect_host *x = a, *y = b;

	return x->alerts < y->alerts ? 1 : x->alerts > y->alerts ? -1 : 0;
}

/* Print the hosts with the most alerts; one-off hosts are only counted. */
static void
print_hosts(
    FILE *fp, const struct detect_hosts *t, const char *what, const char *peers)
{
	struct detect_hosts s = *t;
	char a[ADDR_STR_LEN], t0[64], t1[64];
	size_t i, shown = 0;

	if (s.n == 0)
		return;
	qsort(s.h, s.n, sizeof(s.h[0]), host_cmp);
	fprintf(fp, "%s with the most alerts:\n", what);
	for (i = 0; i < s.n && shown < DETECT_HOSTS_SHOWN; i++) {
		if (s.h[i].alerts - s.h[i].over < 2 && s.n > 1)
			continue;
		shown++;
		fprintf(fp,
		    "  %-16s %7" PRIu64 " alert%s%s, %s%" PRIu64
		    " %s%s, max score %.4g, %s to %s\n",
		    addr_str(s.h[i].addr, a), s.h[i].alerts,
		    s.h[i].alerts == 1 ? "" : "s",
		    s.h[i].over ? " (approx.)" : "",
		    s.h[i].peers_seen > 1 ? "about " : "", s.h[i].peers_seen,
		    peers, s.h[i].peers_seen == 1 ? "" : "s",
		    (double)s.h[i].max_score, iso_time(s.h[i].first_us, t0),
		    iso_time(s.h[i].last_us, t1));
	}
	if (shown == 0)
		fprintf(fp, "  (none with more than one alert)\n");
}

/* Print the human summary of the run. */
void
detect_print_summary(const struct detector *d, FILE *fp)
{
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], t[64], pb[8];
	const struct flow_record *r;
	size_t i;

	fprintf(fp, "scored %" PRIu64 " flow records: %" PRIu64 " alert%s\n",
	    d->st.scored, d->st.alerts, d->st.alerts == 1 ? "" : "s");
	print_hosts(fp, &d->by_src, "initiators", "responder");
	print_hosts(fp, &d->by_dst, "responders", "initiator");
	if (d->ntop > 0)
		fprintf(fp, "top alerts:\n");
	for (i = 0; i < d->ntop; i++) {
		r = &d->top[i].rec;
		fprintf(fp,
		    "  %s %s %s:%u -> %s:%u score %.4g (threshold "
		    "%.4g)\n",
		    iso_time(r->ts_first_us, t), proto_name(r->proto, pb),
		    addr_str(r->src, a), r->sport, addr_str(r->dst, b),
		    r->dport, (double)d->top[i].score,
		    (double)model_threshold(d->model));
		print_expl(fp, d->top[i].ex, d->top[i].nex);
	}
}
