/*
 * The detector: turns flow records into a baseline, a model, scores and
 * explained alerts.
 *
 * While no model is loaded it is LEARNING: records are kept as baseline
 * rows until the window (by the records' own packet times) has lasted
 * baseline_seconds and holds baseline_min_flows rows.  Past
 * baseline_max_flows rows a seeded reservoir sample keeps the baseline
 * bounded and representative of the whole window.  Then the model is
 * trained and every later record is scored.
 *
 * The decision splits each score by whom the error is about
 * (model_score_split): own, the flow and its initiator, with the
 * responder's context held at its baseline; ctx, the responder's context.
 * own past threshold_own is a flow alert, about the flow and its initiator.
 * Else ctx past threshold_ctx means the flow is normal but its responder is
 * not (a flooded server): the client's flow is not alerted; the first such
 * flow raises one responder finding for that responder, and later ones
 * within incident_gap_seconds of the last join its episode silently
 * (counted as suppressed).  A finding row keeps the tuple of the flow that
 * showed it; its dst_ip is the host it is about.  Every alert and finding
 * is explained by the features of its own group carrying most of the
 * error, joins an incident (incident.c), and goes to the alert writer
 * (alert.c: store row, EVE line, stream line) and the summary.
 *
 * Beacons are judged across flows (beacon.c): the hosts of the baseline
 * are collected with it and saved with the model, and a scored record that
 * is normal itself but makes its pair's contacts with a new host periodic
 * raises one beacon alert (finding "beacon") through the same path.
 *
 * detect_record() is the state machine's one input: it takes a record and
 * returns what it decided (struct detect_result), so it can be tested
 * without a capture.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

#define DETECT_TOP_MAX 10 /* groups of alike alerts shown in the summary */
#define DETECT_TOP_KEY 1 /* strongest features that make alerts alike */
#define DETECT_INCIDENTS_KEPT 32 /* closed incidents kept for the summary */
#define DETECT_EXPIRE_EVERY_US 1000000u /* look for quiet incidents */
#define DETECT_STORM_BITS 4096 /* bits of each distinct-host bitmap */
#define DETECT_STORM_US 60000000u /* the storm watch's minute */
#define DETECT_STORM_LOG_US 600000000u /* a warning at most every 10 min */
/*
 * Host context corrects its decayed flow counts for their zero start once
 * it is 5 s old (hostctx.c); only before that can they read low.
 */
#define WARM_FLOWS_S 5u
/*
 * Records scored as one block: the network's matrix products run on 64
 * rows at once rather than on one, three times the rows a second.
 */
#define DETECT_BATCH 64

/* A closed incident, as the summary shows it. */
struct detect_incident {
	int64_t id;
	uint8_t about;
	uint8_t host[CAP_ADDR_LEN];
	uint64_t first_us, last_us, alerts, flows, peers_n, ports_n;
	float score_max;
	char summary[INCIDENT_SUMMARY_MAX];
};

struct detector {
	struct detect_opts o;
	struct model *model;
	uint8_t xform[FEAT_COUNT];
	/* baseline */
	int learning, training;
	float *rows;
	uint8_t *keep; /* per row: an operator suppression matched it */
	FILE *spill; /* every baseline record, to score once trained */
	/*
	 * Records that come while the first model trains (a live daemon's
	 * start-up): kept in a temporary file, at most caprows of them, and
	 * scored as soon as the model is in, so the start leaves no blind
	 * spot.
	 */
	FILE *waiting;
	uint64_t nwaiting, waiting_lost;
	size_t nrows, caprows;
	uint64_t seen, first_us, last_us, rng;
	uint8_t groups[FEAT_COUNT]; /* MODEL_GROUP_* of each feature */
	uint64_t warm_from_us; /* first record's start: host context's age */
	int warm_done; /* every context window has been observed */
	uint32_t warm_win_s[FEAT_COUNT]; /* see warm_windows() */
	struct flow_record warm; /* the record being scored, counts raised */
	/*
	 * Records held to be scored as one block (detect_record() without a
	 * result): the records as given, the features scored (warm_up()
	 * applied), and whether warm_up() raised any, in which case the
	 * raised record is in held_w.
	 */
	struct flow_record held[DETECT_BATCH], held_w[DETECT_BATCH];
	float held_x[DETECT_BATCH * FEAT_COUNT];
	struct model_split held_split[DETECT_BATCH];
	uint8_t held_raised[DETECT_BATCH];
	size_t nheld;
	struct beacon *beacon; /* periodic contact with new hosts */
	/* incidents */
	struct incidents *inc;
	uint64_t now_us, expired_us; /* latest record time, last expiry */
	struct detect_incident closed[DETECT_INCIDENTS_KEPT];
	size_t nclosed;
	/* the explanation of the record being scored, made when needed */
	struct {
		const struct flow_record *r;
		int group, done;
		struct model_expl ex[FEAT_COUNT];
		size_t n;
	} cur;
	const struct model *p99_model; /* the model p99 was read from */
	float p99[2][FEAT_COUNT]; /* per MODEL_GROUP_*: p99, -1 elsewhere */
	/* the alert storm watch: this minute of record time so far */
	struct {
		uint64_t start_us, scored, alerts, logged_us;
		uint8_t src[DETECT_STORM_BITS / 8], dst[DETECT_STORM_BITS / 8];
		uint32_t nsrc, ndst;
	} storm;
	/* summary */
	struct detect_stats st;
	struct {
		struct flow_record rec;
		float score;
		struct model_expl ex[DETECT_EXPLAIN_MAX];
		size_t nex;
		uint64_t n; /* alike alerts: this one and its near-copies */
		float score_min;
	} top[DETECT_TOP_MAX];
	size_t ntop;
};

static void warm_windows(uint32_t win[FEAT_COUNT]);
static void score(
    struct detector *d, const struct flow_record *r, struct detect_result *res);
static void incident_cb(
    struct incident *inc, enum incident_event ev, void *arg);

/* splitmix64 step, for the reservoir sample. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Whom each feature is about: the responder's host context is context. */
static void
feature_groups(uint8_t groups[FEAT_COUNT])
{
	int i;

	for (i = 0; i < FEAT_COUNT; i++)
		groups[i] = feat_group_of(i) == FG_RESP ? MODEL_GROUP_CTX
							: MODEL_GROUP_OWN;
}

/*
 * How a flow's features move when its responder sends k times more of the
 * same kind (model_params.transfer): counts, bytes and time grow with k,
 * the initiator's acknowledgements with it, its request does not (so its
 * mean payload falls as 1/k and its bytes and byte share lie between).
 */
static const struct {
	const char *name;
	float exp;
} grow_exp[] = {
    {"duration", 1.0f},
    {"fwd_packets", 1.0f},
    {"bwd_packets", 1.0f},
    {"fwd_bytes", 0.6f},
    {"bwd_bytes", 1.0f},
    {"fwd_payload_mean", -1.0f},
    {"fwd_payload_std", -0.5f},
    {"psh_count", 0.6f},
    {"fwd_byte_share", -0.4f},
};
static float transfer_exp[FEAT_COUNT];
static int32_t transfer_gate = -1;
static pthread_once_t transfer_once = PTHREAD_ONCE_INIT;

/* Fill transfer_exp and transfer_gate from the feature names. */
static void
transfer_init(void)
{
	const struct feat_desc *fd = feat_table();
	size_t i, k;

	for (i = 0; i < FEAT_COUNT; i++) {
		for (k = 0; k < sizeof(grow_exp) / sizeof(grow_exp[0]); k++)
			if (strcmp(fd[i].name, grow_exp[k].name) == 0)
				transfer_exp[i] = grow_exp[k].exp;
		if (strcmp(fd[i].name, "bwd_payload_mean") == 0)
			transfer_gate = (int32_t)i;
	}
}

/* Turn the configuration into model parameters; 0 or -EINVAL. */
int
detect_model_params(const struct anomd_conf *c, struct model_params *p,
    uint8_t *groups, char **cause)
{
	char buf[CONF_STR_MAX], *tok, *save = NULL, *end;
	unsigned long w;

	model_params_default(p);
	if (groups != NULL)
		feature_groups(groups);
	p->groups = groups;
	pthread_once(&transfer_once, transfer_init);
	p->transfer = transfer_exp;
	p->transfer_gate = transfer_gate;
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

/*
 * The beacon detector, with the loaded model's baseline hosts when it has
 * them (a model made before they were saved has none: beacons are then
 * not judged until the next model).
 */
static void
beacon_setup(struct detector *d)
{
	struct beacon_opts bo;
	const void *p;
	char *cause = NULL;
	size_t len;

	memset(&bo, 0, sizeof(bo));
	bo.min_contacts = d->o.conf->beacon_min_contacts;
	bo.max_pairs = d->o.conf->beacon_pairs;
	bo.max_known = BEACON_KNOWN_MAX;
	d->beacon = beacon_create(&bo);
	if (d->model == NULL || bo.min_contacts == 0)
		return;
	p = model_extra(d->model, BEACON_EXTRA_TAG, &len);
	if (beacon_load(d->beacon, p, len, &cause) != 0) {
		log_warnx("model %s: %s: beacons are not judged",
		    model_info(d->model)->id, cause ? cause : "refused");
		free(cause);
	} else if (p == NULL && !d->o.train_only)
		log_info("model %s has no baseline hosts (made by an older "
			 "anomd): beacons are not judged until the next model",
		    model_info(d->model)->id);
}

/* The new model's baseline hosts become the known set, saved with it. */
static void
beacon_commit_model(struct detector *d)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = beacon_commit(d->beacon, &buf, &len)) == 0) {
		rc = model_extra_set(d->model, BEACON_EXTRA_TAG, buf, len);
		free(buf);
	}
	if (rc != 0)
		log_warnx("model: baseline hosts not saved: %s", strerror(-rc));
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
	feature_groups(d->groups);
	warm_windows(d->warm_win_s);
	d->inc = incidents_create(
	    (uint64_t)o->conf->incident_gap_seconds * 1000000u, incident_cb, d);
	beacon_setup(d);
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
	/* The store and outputs may be closed by now: close quietly. */
	d->o.store = NULL;
	d->o.out = NULL;
	incidents_free(d->inc);
	beacon_free(d->beacon);
	model_free(d->model);
	free(d->rows);
	free(d->keep);
	if (d->spill != NULL)
		fclose(d->spill);
	if (d->waiting != NULL)
		fclose(d->waiting);
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
	beacon_learn(d->beacon, r);
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
	d->keep[j] = suppress_match(d->o.supp, r, r->ts_last_us, 0) != 0;
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
	uint8_t *keep;
	FILE *spill;
	size_t n;
	struct model_params p;
	struct model_meta meta;
	uint8_t xform[FEAT_COUNT];
	uint8_t groups[FEAT_COUNT];
	struct model *model;
	char *cause;
	int rc;
};

/* Move the baseline into a training job; the detector stops learning. */
struct detect_job *
detect_job_take(struct detector *d)
{
	struct detect_job *j;

	detect_drain(d); /* the held records belong to the old baseline */
	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("detect: job");
	j->rc = detect_model_params(d->o.conf, &j->p, j->groups, &j->cause);
	j->meta.created_us = d->o.created_us ? d->o.created_us : d->last_us;
	j->meta.first_us = d->first_us;
	j->meta.last_us = d->last_us;
	memcpy(j->xform, d->xform, sizeof(j->xform));
	j->rows = d->rows;
	j->keep = d->keep;
	j->p.keep = j->keep;
	j->spill = d->spill;
	j->n = d->nrows;
	d->rows = NULL;
	d->keep = NULL;
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
	free(j->keep);
	j->rows = NULL;
	j->keep = NULL;
	j->p.keep = NULL;
}

/*
 * Score the baseline's records, kept in a temporary file: all of them, not
 * only the sample the model was trained on, at about 340 bytes each.
 */
static void
score_spill(struct detector *d, FILE *spill)
{
	struct detect_result res;
	struct flow_record r;

	if (spill == NULL || fflush(spill) != 0 || fseek(spill, 0, SEEK_SET))
		return;
	while (fread(&r, sizeof(r), 1, spill) == 1)
		score(d, &r, &res);
}

/* Install the job's model (saving and recording it) and free the job. */
int
detect_job_finish(struct detector *d, struct detect_job *j)
{
	char *cause = NULL;
	int rc = j->rc;

	detect_drain(d); /* scored by the model they came under */
	d->training = 0;
	if (rc != 0) {
		log_warnx("model: training failed: %s",
		    j->cause ? j->cause : strerror(-rc));
		goto out;
	}
	model_free(d->model);
	d->model = j->model;
	d->p99_model = NULL;
	j->model = NULL;
	d->st.trained++;
	beacon_commit_model(d);
	if (d->o.model_out != NULL &&
	    (rc = model_save(d->model, d->o.model_out, &cause)) != 0) {
		log_warnx("%s", cause ? cause : "model: save failed");
		free(cause);
	}
	store_model(d);
	/*
	 * A daemon's report collector holds the old model's codes: start it
	 * again before the records that waited for this model are scored.
	 */
	if (d->o.async && d->o.report != NULL)
		report_reset(d->o.report);
	score_spill(d, j->spill);
	score_spill(d, d->waiting);
	if (d->nwaiting > 0)
		log_info("detect: scored %" PRIu64 " flow records that came "
			 "while the first model trained%s",
		    d->nwaiting,
		    d->waiting_lost > 0 ? " (more were lost)" : "");
out:
	if (d->waiting != NULL)
		fclose(d->waiting);
	d->waiting = NULL;
	d->nwaiting = 0;
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

	detect_drain(d);
	if (d->training)
		return 0;
	/* rows and keep are allocated, moved and freed together. */
	if ((d->rows == NULL &&
		(d->rows = calloc(d->caprows, FEAT_COUNT * sizeof(float))) ==
		    NULL) ||
	    (d->keep == NULL && (d->keep = calloc(d->caprows, 1)) == NULL)) {
		free(d->rows);
		d->rows = NULL;
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
		free(d->keep);
		d->rows = NULL;
		d->keep = NULL;
		return -err;
	}
	d->nrows = 0;
	d->seen = d->first_us = d->last_us = 0;
	d->learning = 1;
	beacon_learn_reset(d->beacon);
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
	      "bytes,score,threshold,alert,flow_id,end,own,own_threshold,ctx,"
	      "ctx_threshold,finding,incident_id,level\n",
	    fp);
}

/*
 * A record's level: how far it is from normal in thresholds.  Its own
 * evidence over threshold_own (the whole error over the threshold for a
 * model without the split), or, for a beacon's alert or later contact,
 * the beacon's contacts over beacon_min_contacts when that is more.  The
 * responder's context is left out: it is about the responder.
 */
static double
level(const struct model_info *mi, const struct detect_result *res)
{
	double lv, b;

	if (mi->threshold_own > 0)
		lv = (double)res->split.own / (double)mi->threshold_own;
	else
		lv = mi->threshold > 0
		    ? (double)res->split.total / (double)mi->threshold
		    : 0;
	if ((res->decision == DETECT_BEACON ||
		res->decision == DETECT_BEACON_CONTACT) &&
	    res->threshold > 0 &&
	    (b = (double)res->score / (double)res->threshold) > lv)
		lv = b;
	return lv;
}

/* Write one scores row. */
static void
scores_row(struct detector *d, const struct detect_result *res)
{
	static const char *const kind[] = {"none", "none", "flow", "responder",
	    "responder", "suppressed", "beacon", "beacon"};
	const struct flow_record *r = res->r;
	const struct model_split *sp = &res->split;
	const struct model_info *mi = model_info(d->model);
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], t0[32], t1[32];

	fprintf(d->o.scores,
	    "%s,%s,%u,%s,%u,%s,%u,%" PRIu64 ",%" PRIu64 ",%.6g,%.6g,%d,"
	    "%" PRIu64 ",%s,%.6g,%.6g,%.6g,%.6g,%s,%" PRId64 ",%.6g\n",
	    ts_str(r->ts_first_us, t0), ts_str(r->ts_last_us, t1), r->proto,
	    addr_str(r->src, a), r->sport, addr_str(r->dst, b), r->dport,
	    r->packets, r->bytes, (double)sp->total, (double)mi->threshold,
	    res->decision == DETECT_FLOW_ALERT ||
		res->decision == DETECT_BEACON,
	    r->id, flow_end_name(r->end), (double)sp->own,
	    (double)mi->threshold_own, (double)sp->ctx,
	    (double)mi->threshold_ctx, kind[res->decision], res->incident_id,
	    level(mi, res));
}

/*
 * Whether an alert looks like top entry i: the same initiator, responder
 * and protocol, and the same DETECT_TOP_KEY strongest features in any
 * order (the ports and the values may differ, as in a scan's flows).
 */
static int
summary_alike(const struct detector *d, size_t i, const struct flow_record *r,
    const struct model_expl *ex, size_t nex)
{
	size_t j, k, n = nex < DETECT_TOP_KEY ? nex : DETECT_TOP_KEY;

	if (d->top[i].rec.proto != r->proto ||
	    memcmp(d->top[i].rec.src, r->src, sizeof(r->src)) != 0 ||
	    memcmp(d->top[i].rec.dst, r->dst, sizeof(r->dst)) != 0 ||
	    (d->top[i].nex < DETECT_TOP_KEY ? d->top[i].nex : DETECT_TOP_KEY) !=
		n)
		return 0;
	for (k = 0; k < n; k++) {
		for (j = 0; j < n; j++)
			if (d->top[i].ex[j].feature == ex[k].feature)
				break;
		if (j == n)
			return 0;
	}
	return 1;
}

/* Whether top entry i has r's initiator, responder and protocol. */
static int
summary_same_hosts(
    const struct detector *d, size_t i, const struct flow_record *r)
{
	return d->top[i].rec.proto == r->proto &&
	    memcmp(d->top[i].rec.src, r->src, sizeof(r->src)) == 0 &&
	    memcmp(d->top[i].rec.dst, r->dst, sizeof(r->dst)) == 0;
}

/*
 * Whether the summary wants an alert (and so its explanation): it would be
 * the strongest of its hosts' entry, or among the strongest so far.  A
 * weaker repeat of a kept pair of hosts is only counted.
 */
static int
summary_wants(
    const struct detector *d, const struct flow_record *r, float score)
{
	size_t i;

	for (i = 0; i < d->ntop; i++)
		if (summary_same_hosts(d, i, r))
			return score > d->top[i].score;
	return d->ntop < DETECT_TOP_MAX || score > d->top[d->ntop - 1].score;
}

/*
 * Count an alert too weak to be kept (and so never explained) with a kept
 * entry of the same initiator, responder and protocol, if there is one:
 * the groups' counts stay close without an explanation per alert.
 */
static void
summary_count(struct detector *d, const struct flow_record *r, float score)
{
	size_t i;

	for (i = 0; i < d->ntop; i++)
		if (summary_same_hosts(d, i, r)) {
			d->top[i].n++;
			if (score < d->top[i].score_min)
				d->top[i].score_min = score;
			return;
		}
}

/*
 * Remember an alert among the strongest for the summary; a near-copy of
 * one kept is counted with it (the stronger one stays), so the summary
 * shows different evidence rather than ten flows of one scan.
 */
static void
summary_add(struct detector *d, const struct flow_record *r, float score,
    const struct model_expl *ex, size_t nex)
{
	uint64_t n = 1;
	float smin = score;
	size_t i;

	for (i = 0; i < d->ntop; i++)
		if (summary_alike(d, i, r, ex, nex))
			break;
	if (i < d->ntop) {
		d->top[i].n++;
		if (score < d->top[i].score_min)
			d->top[i].score_min = score;
		if (score <= d->top[i].score)
			return;
		/* the stronger one represents the group: take its place */
		n = d->top[i].n;
		smin = d->top[i].score_min;
		memmove(&d->top[i], &d->top[i + 1],
		    (d->ntop - i - 1) * sizeof(d->top[0]));
		d->ntop--;
	}
	if (d->ntop == DETECT_TOP_MAX && score <= d->top[d->ntop - 1].score)
		return;
	if (d->ntop < DETECT_TOP_MAX)
		d->ntop++;
	for (i = d->ntop - 1; i > 0 && d->top[i - 1].score < score; i--)
		d->top[i] = d->top[i - 1];
	d->top[i].rec = *r;
	d->top[i].score = score;
	d->top[i].n = n;
	d->top[i].score_min = smin;
	d->top[i].nex = nex;
	memcpy(d->top[i].ex, ex, nex * sizeof(*ex));
}

/* Keep a closed incident for the summary: the ones with most alerts. */
static void
keep_closed(struct detector *d, const struct incident *inc, const char *sum)
{
	struct detect_incident *k;
	size_t i, least = 0;

	if (d->nclosed < DETECT_INCIDENTS_KEPT)
		k = &d->closed[d->nclosed++];
	else {
		for (i = 1; i < d->nclosed; i++)
			if (d->closed[i].alerts < d->closed[least].alerts)
				least = i;
		if (d->closed[least].alerts >= inc->alerts)
			return;
		k = &d->closed[least];
	}
	k->id = inc->id;
	k->about = inc->about;
	memcpy(k->host, inc->host, CAP_ADDR_LEN);
	k->first_us = inc->first_us;
	k->last_us = inc->last_us;
	k->alerts = inc->alerts;
	k->flows = inc->flows;
	k->peers_n = incident_peers_n(inc);
	k->ports_n = incident_ports_n(inc);
	k->score_max = inc->score_max;
	snprintf(k->summary, sizeof(k->summary), "%s", sum);
}

/*
 * Link the alert rows written while inc was provisional (its first alert,
 * or those of provisional incidents it absorbed) to it, now that it has
 * an id: every alert of an incident is then found under it.
 */
static void
link_rows(struct detector *d, struct incident *inc)
{
	size_t i;

	if (inc->id == 0 || inc->nrows == 0)
		return;
	for (i = 0; i < inc->nrows && d->o.store != NULL; i++)
		if (store_alert_link(d->o.store, inc->rows[i], inc->id) != 0)
			d->st.unlinked++;
	inc->nrows = 0;
}

/* The incident engine writes or closes an incident. */
static void
incident_cb(struct incident *inc, enum incident_event ev, void *arg)
{
	struct detector *d = arg;
	char sum[INCIDENT_SUMMARY_MAX];

	incident_summary(inc, sum, sizeof(sum));
	if (d->o.out != NULL && d->model != NULL)
		alert_out_incident(d->o.out, inc, ev, sum,
		    model_info(d->model)->id,
		    model_info(d->model)->threshold_own);
	link_rows(d, inc);
	if (ev == INCIDENT_CLOSE)
		keep_closed(d, inc, sum);
	if (ev == INCIDENT_CLOSE && d->o.report != NULL)
		report_incident(d->o.report, inc, sum);
}

/*
 * The features of one group (MODEL_GROUP_*) carrying most of the error of
 * r, largest first, into ex[FEAT_COUNT]; returns how many.
 */
static size_t
explain_group(struct detector *d, const struct flow_record *r, int group,
    struct model_expl *ex)
{
	size_t n = model_explain(d->model, r->feat, FEAT_COUNT, ex), i, k = 0;

	for (i = 0; i < n; i++)
		if (ex[i].feature < FEAT_COUNT &&
		    d->groups[ex[i].feature] == group)
			ex[k++] = ex[i];
	return k;
}

/* The record being scored's explanation, made once. */
static void
cur_explain(struct detector *d)
{
	if (!d->cur.done) {
		d->cur.n = explain_group(d, d->cur.r, d->cur.group, d->cur.ex);
		d->cur.done = 1;
	}
}

/* The incident engine asks for a record's evidence (explain callback). */
static size_t
incident_explain_cb(void *arg, struct model_expl *out, size_t max)
{
	struct detector *d = arg;
	size_t n;

	cur_explain(d);
	n = d->cur.n < max ? d->cur.n : max;
	memcpy(out, d->cur.ex, n * sizeof(*out));
	return n;
}

/*
 * The baseline p99 of each feature of group, -1 for the other group's:
 * read once per model, so the incident engine needs no explanation for it.
 */
static const float *
group_p99(struct detector *d, int group)
{
	struct model_expl ex[FEAT_COUNT];
	float zero[FEAT_COUNT];
	size_t n, i, g;

	if (d->p99_model != d->model) {
		for (g = 0; g < 2; g++)
			for (i = 0; i < FEAT_COUNT; i++)
				d->p99[g][i] = -1;
		memset(zero, 0, sizeof(zero));
		n = model_explain(d->model, zero, FEAT_COUNT, ex);
		for (i = 0; i < n; i++)
			if (ex[i].feature < FEAT_COUNT)
				d->p99[d->groups[ex[i].feature] ==
				    MODEL_GROUP_CTX][ex[i].feature] = ex[i].p99;
		d->p99_model = d->model;
	}
	return d->p99[group == MODEL_GROUP_CTX];
}

/* Make a raised result's explanation; see daemon.h. */
void
detect_explain(struct detect_result *res)
{
	struct detector *d = res->det;
	size_t k;

	if (res->explained || d == NULL || d->cur.r != res->r ||
	    (res->decision != DETECT_FLOW_ALERT &&
		res->decision != DETECT_RESPONDER_FINDING &&
		res->decision != DETECT_RESPONDER_EPISODE))
		return;
	cur_explain(d);
	k = d->o.conf->explain_features;
	if (k > DETECT_EXPLAIN_MAX)
		k = DETECT_EXPLAIN_MAX;
	if (k > d->cur.n)
		k = d->cur.n;
	memcpy(res->ex, d->cur.ex, k * sizeof(res->ex[0]));
	res->nex = k;
	res->explained = 1;
}

/*
 * Hand a raised record to the incident engine; returns the incident it
 * joined (valid until the engine's next call), whose id is 0 while it is
 * provisional.
 */
static struct incident *
join_incident(struct detector *d, const struct detect_result *res, int counted)
{
	const struct flow_record *r = res->r;
	struct incident_alert ia;

	memset(&ia, 0, sizeof(ia));
	ia.first_us = r->ts_first_us;
	ia.last_us = r->ts_last_us;
	ia.finding = res->finding;
	ia.counted = counted;
	ia.proto = r->proto;
	memcpy(ia.src, r->src, CAP_ADDR_LEN);
	memcpy(ia.dst, r->dst, CAP_ADDR_LEN);
	ia.sport = r->sport;
	ia.dport = r->dport;
	ia.packets = r->packets;
	ia.bytes = r->bytes;
	ia.score = res->score;
	ia.thr = res->threshold;
	ia.feat = r->feat;
	ia.explain = incident_explain_cb;
	ia.explain_arg = d;
	ia.p99 = group_p99(d, d->cur.group);
	if (res->finding == STORE_FINDING_BEACON) {
		ia.beacon = &res->beacon;
		ia.thr = 0; /* a lone beacon is an incident */
	}
	return incidents_add(d->inc, &ia);
}

/*
 * Raise a flow alert or a responder finding: incident, summary, writer.
 * Each asks for the explanation only when it keeps or writes it.
 */
static void
raise_alert(struct detector *d, struct detect_result *res)
{
	struct incident *inc = join_incident(d, res, 1);

	res->incident_id = inc->id;
	res->fold_any_src = inc->id != 0 && inc->about == STORE_ABOUT_RESPONDER;
	if (summary_wants(d, res->r, res->score)) {
		detect_explain(res);
		summary_add(d, res->r, res->score, res->ex, res->nex);
	} else
		summary_count(d, res->r, res->score);
	if (d->o.out != NULL)
		alert_out_alert(d->o.out, res);
	/* the incident is still provisional: link the row once it counts */
	if (res->incident_id == 0 && res->row_id != 0)
		incidents_note_row(inc, res->row_id);
}

/* Close incidents quiet for the gap, once per second of record time. */
static void
expire(struct detector *d, uint64_t ts_us)
{
	if (ts_us > d->now_us)
		d->now_us = ts_us;
	if (d->now_us < d->expired_us + DETECT_EXPIRE_EVERY_US)
		return;
	incidents_expire(d->inc, d->now_us);
	d->expired_us = d->now_us;
}

/*
 * The alert storm watch.  A detector whose model no longer fits the
 * traffic (the network changed, or it learnt the wrong baseline) alerts on
 * most flows, from and to everywhere; the alerts are each true to the
 * model, but what the operator needs to hear is that the model does not
 * fit.  Each minute of record time, the scored flows and flow alerts are
 * counted, with the distinct initiators and responders of the alerts (a
 * bitmap each: the bits set are a lower bound of the hosts).  A minute in
 * which at least DETECT_STORM_ALERTS flows, and DETECT_STORM_SHARE of
 * those scored, alerted, from at least DETECT_STORM_HOSTS initiators to
 * as many responders, is a storm minute: counted, and warned about at
 * most every ten minutes.  A flood at one victim (one responder) or a
 * scan (one initiator) is an attack the incidents tell, not a storm.
 */

/* End the watch's minute: count (and maybe say) a storm, start anew. */
static void
storm_close(struct detector *d)
{
	struct detect_stats *st = &d->st;
	double share = d->storm.scored
	    ? (double)d->storm.alerts / (double)d->storm.scored
	    : 0;
	uint64_t end = d->storm.start_us + DETECT_STORM_US, logged;
	char t[64];

	if (d->storm.alerts >= DETECT_STORM_ALERTS &&
	    share >= DETECT_STORM_SHARE &&
	    d->storm.nsrc >= DETECT_STORM_HOSTS &&
	    d->storm.ndst >= DETECT_STORM_HOSTS && d->model != NULL) {
		st->storm_minutes++;
		if (st->storm_first_us == 0)
			st->storm_first_us = d->storm.start_us;
		st->storm_last_us = end;
		st->storm_share = share;
		st->storm_srcs = d->storm.nsrc;
		st->storm_dsts = d->storm.ndst;
		if (d->storm.logged_us == 0 ||
		    end >= d->storm.logged_us + DETECT_STORM_LOG_US) {
			log_warnx(
			    "alert storm: %.0f %% of the %" PRIu64
			    " flows scored in the minute from %s alerted "
			    "(the threshold leaves about %g %% of normal "
			    "flows above it), from %" PRIu32
			    " or more hosts to %" PRIu32
			    " or more: the traffic does not look like the "
			    "baseline model %s learnt.  A changed network "
			    "or a wide attack looks like this; if the "
			    "network changed, learn a new baseline of it "
			    "(anomctl retrain; offline, --train-only on "
			    "its normal traffic, then -m)",
			    100 * share, d->storm.scored,
			    iso_time(d->storm.start_us, t),
			    100 * model_info(d->model)->target_rate,
			    d->storm.nsrc, d->storm.ndst,
			    model_info(d->model)->id);
			d->storm.logged_us = end;
		}
	}
	logged = d->storm.logged_us;
	memset(&d->storm, 0, sizeof(d->storm));
	d->storm.logged_us = logged;
}

/* Count a scored record in the storm watch. */
static void
storm_count(struct detector *d, const struct flow_record *r, int alert)
{
	if (d->storm.start_us != 0 &&
	    r->ts_last_us >= d->storm.start_us + DETECT_STORM_US)
		storm_close(d);
	if (d->storm.start_us == 0)
		d->storm.start_us = r->ts_last_us;
	d->storm.scored++;
	if (!alert)
		return;
	d->storm.alerts++;
	bitmap_mark(d->storm.src, DETECT_STORM_BITS, &d->storm.nsrc,
	    key_hash(r->src, CAP_ADDR_LEN));
	bitmap_mark(d->storm.dst, DETECT_STORM_BITS, &d->storm.ndst,
	    key_hash(r->dst, CAP_ADDR_LEN));
}

/*
 * Warm-up: host context starts empty with the detector (an offline run, a
 * daemon start), so while it has watched for less than a count's window
 * (the _1s, _10s or _60s at the end of an init_* or resp_* feature's name,
 * against the time from the first record's start to this record's last
 * packet) that count can only read low.  Such a count is raised to its
 * baseline median before scoring and explaining: a quiet start is no
 * evidence, while a count already above the median (a scan in the first
 * minute) still is.  Returns r, or *w holding r with the raised counts.
 */
static const struct flow_record *
warm_up(struct detector *d, const struct flow_record *r, struct flow_record *w)
{
	uint64_t age_us;
	int i, raised = 0, young = 0;
	float med;

	if (d->warm_done)
		return r;
	age_us = r->ts_last_us > d->warm_from_us
	    ? r->ts_last_us - d->warm_from_us
	    : 0;
	for (i = 0; i < FEAT_COUNT; i++) {
		if (d->warm_win_s[i] == 0 ||
		    age_us >= d->warm_win_s[i] * 1000000u)
			continue;
		young = 1;
		med = model_median(d->model, (size_t)i);
		if (r->feat[i] < med) {
			if (!raised)
				*w = *r;
			w->feat[i] = med;
			raised = 1;
		}
	}
	d->warm_done = !young;
	return raised ? w : r;
}

/*
 * The window warm_up() waits out for each feature, in seconds: the _1s,
 * _10s or _60s at the end of an init_* or resp_* feature's name (flow
 * counts only WARM_FLOWS_S), 0 for the others.
 */
static void
warm_windows(uint32_t win[FEAT_COUNT])
{
	const struct feat_desc *fd = feat_table();
	unsigned long long w;
	const char *u;
	int i;

	for (i = 0; i < FEAT_COUNT; i++) {
		win[i] = 0;
		if (feat_group_of(i) == FG_FLOW ||
		    (u = strrchr(fd[i].name, '_')) == NULL ||
		    (w = strtoull(u + 1, NULL, 10)) == 0)
			continue;
		if (strcmp(fd[i].unit, "flows") == 0 && w > WARM_FLOWS_S)
			w = WARM_FLOWS_S;
		win[i] = (uint32_t)w;
	}
}

/*
 * Time a scored record's contact (beacon.c); when it makes its pair
 * periodic and is not raised already, raise one beacon alert: its score
 * is the contacts judged, its threshold beacon_min_contacts.  A record
 * raised already leaves the beacon to its pair's next contact.
 */
static void
beacon_check(struct detector *d, struct detect_result *res)
{
	struct beacon_hit hit;
	int rc;

	if (res->decision != DETECT_NONE ||
	    (rc = beacon_record(d->beacon, res->r, &hit)) == 0)
		return;
	res->beacon = hit;
	if (rc == 2) {
		/* a later contact: it grows the incident, not alerted */
		res->decision = DETECT_BEACON_CONTACT;
		res->finding = STORE_FINDING_BEACON;
		res->score = (float)hit.contacts;
		res->threshold = (float)d->o.conf->beacon_min_contacts;
		d->cur.group = MODEL_GROUP_OWN;
		res->incident_id = join_incident(d, res, 0)->id;
		return;
	}
	if (suppress_match(d->o.supp, res->r, res->r->ts_last_us, 1) != 0) {
		res->decision = DETECT_SUPPRESSED;
		return;
	}
	res->decision = DETECT_BEACON;
	res->finding = STORE_FINDING_BEACON;
	res->score = (float)hit.contacts;
	res->threshold = (float)d->o.conf->beacon_min_contacts;
	d->cur.group = MODEL_GROUP_OWN;
	d->st.alerts++;
	d->st.beacons++;
	raise_alert(d, res);
}

/*
 * Decide on record r (as given) whose scored form is x (warm_up() applied)
 * with the split scores sp: flow alert, responder finding or nothing.
 */
static void
decide(struct detector *d, const struct flow_record *r,
    const struct flow_record *x, const struct model_split *sp,
    struct detect_result *res)
{
	const struct model_info *mi = model_info(d->model);

	res->decision = DETECT_NONE;
	res->r = r;
	res->det = d;
	res->explained = 0;
	r = x;
	d->cur.r = r; /* what an explanation asked for later reads */
	d->cur.done = 0;
	res->finding = STORE_FINDING_FLOW;
	res->incident_id = 0;
	res->fold_any_src = 0;
	res->score = res->threshold = 0;
	res->model_id = mi->id;
	res->nex = 0;
	res->split = *sp;
	d->st.scored++;
	expire(d, r->ts_last_us);
	if ((res->split.own > mi->threshold_own ||
		res->split.ctx > mi->threshold_ctx) &&
	    suppress_match(d->o.supp, r, r->ts_last_us, 1) != 0)
		res->decision = DETECT_SUPPRESSED;
	else if (res->split.own > mi->threshold_own) {
		res->decision = DETECT_FLOW_ALERT;
		res->score = res->split.own;
		res->threshold = mi->threshold_own;
		d->cur.group = MODEL_GROUP_OWN;
		d->st.alerts++;
		raise_alert(d, res);
	} else if (res->split.ctx > mi->threshold_ctx) {
		res->finding = STORE_FINDING_RESPONDER;
		res->score = res->split.ctx;
		res->threshold = mi->threshold_ctx;
		d->cur.group = MODEL_GROUP_CTX;
		d->st.suppressed++;
		if (incidents_episode(d->inc, r->dst, r->ts_last_us)) {
			res->decision = DETECT_RESPONDER_EPISODE;
			res->incident_id = join_incident(d, res, 0)->id;
		} else {
			res->decision = DETECT_RESPONDER_FINDING;
			d->st.findings++;
			raise_alert(d, res);
		}
	}
	beacon_check(d, res);
	storm_count(d, r, res->decision == DETECT_FLOW_ALERT);
	d->st.incidents = incidents_count(d->inc);
	if (d->o.scores != NULL)
		scores_row(d, res);
	if (d->o.report != NULL)
		report_record(d->o.report, d->model, res);
}

/* Score one record now and decide. */
static void
score(
    struct detector *d, const struct flow_record *r, struct detect_result *res)
{
	const struct flow_record *x = warm_up(d, r, &d->warm);
	struct model_split sp;

	model_score_split(d->model, x->feat, &sp);
	decide(d, r, x, &sp, res);
}

/*
 * Score the held records as one block and decide on each in order: the
 * same decisions, bit for bit, as scoring them one by one.
 */
void
detect_drain(struct detector *d)
{
	struct detect_result res;
	size_t i, n = d->nheld;

	if (n == 0)
		return;
	d->nheld = 0;
	model_score_split_batch(d->model, d->held_x, n, d->held_split);
	for (i = 0; i < n; i++)
		decide(d, &d->held[i],
		    d->held_raised[i] ? &d->held_w[i] : &d->held[i],
		    &d->held_split[i], &res);
}

/* Hold record r for detect_drain(), draining when the block is full. */
static void
hold(struct detector *d, const struct flow_record *r)
{
	size_t i = d->nheld;
	const struct flow_record *x;

	d->held[i] = *r;
	x = warm_up(d, &d->held[i], &d->held_w[i]);
	d->held_raised[i] = x != &d->held[i];
	memcpy(d->held_x + i * FEAT_COUNT, x->feat, sizeof(x->feat));
	if (++d->nheld == DETECT_BATCH)
		detect_drain(d);
}

/* Keep record r, which came while the first model trains, to score it then. */
static void
wait_for_model(struct detector *d, const struct flow_record *r)
{
	if (d->nwaiting >= d->caprows ||
	    (d->waiting == NULL && (d->waiting = tmpfile()) == NULL) ||
	    fwrite(r, sizeof(*r), 1, d->waiting) != 1) {
		if (d->waiting_lost++ == 0)
			log_warnx("detect: a flow record that came while the "
				  "first model trained will not be scored%s",
			    d->nwaiting >= d->caprows
				? " (baseline_max_flows of them wait already)"
				: ": no temporary file");
		return;
	}
	d->nwaiting++;
}

/* Take one flow record. */
enum detect_decision
detect_record(
    struct detector *d, const struct flow_record *r, struct detect_result *res)
{
	struct detect_result local;

	if (res == NULL)
		res = &local;
	res->decision = DETECT_LEARNING;
	res->r = r;
	res->nex = 0;
	res->det = NULL;
	res->explained = 0;
	res->incident_id = 0;
	res->model_id = d->model != NULL ? model_info(d->model)->id : "";
	if (d->warm_from_us == 0)
		d->warm_from_us = r->ts_first_us;
	if (d->learning) {
		baseline_add(d, r);
		d->st.baseline++;
		if (!d->o.async && detect_window_done(d) &&
		    detect_train(d) != 0)
			detect_retrain(d); /* no model yet: learn again */
		if (d->o.score_baseline)
			return res->decision; /* scored once trained */
	}
	if (d->model == NULL && d->training && !d->o.train_only) {
		wait_for_model(d, r);
		return res->decision;
	}
	if (d->model == NULL || d->o.train_only)
		return res->decision;
	if (res == &local) {
		hold(d, r); /* nobody waits for the result */
		return DETECT_NONE;
	}
	detect_drain(d);
	score(d, r, res);
	return res->decision;
}

/* Close every open incident now. */
void
detect_flush(struct detector *d)
{
	detect_drain(d);
	incidents_flush(d->inc);
	d->st.incidents = incidents_count(d->inc);
	if (d->storm.scored > 0)
		storm_close(d); /* the input ended: so did its minute */
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

/* Order incidents by alerts, most first, then by time, newest first. */
static int
incident_cmp(const void *a, const void *b)
{
	const struct detect_incident *x = a, *y = b;

	if (x->alerts != y->alerts)
		return x->alerts < y->alerts ? 1 : -1;
	return x->last_us < y->last_us ? 1 : x->last_us > y->last_us ? -1 : 0;
}

/* Print the kept incidents, most alerts first. */
static void
print_incidents(const struct detector *d, FILE *fp)
{
	struct detect_incident s[DETECT_INCIDENTS_KEPT];
	char a[ADDR_STR_LEN], t[64], n1[32], n2[32];
	size_t i;

	fprintf(fp, "incidents: %" PRIu64 "%s\n", d->st.incidents,
	    d->st.incidents > d->nclosed ? " (those with most alerts shown)"
					 : "");
	memcpy(s, d->closed, d->nclosed * sizeof(s[0]));
	qsort(s, d->nclosed, sizeof(s[0]), incident_cmp);
	for (i = 0; i < d->nclosed; i++) {
		fprintf(fp, "  #%" PRId64 " %s: %s\n", s[i].id,
		    addr_str(s[i].host, a), s[i].summary);
		fprintf(fp,
		    "      as %s from %s for %.0f s: %s alert%s, %s flow%s, "
		    "%" PRIu64 " peer%s, %" PRIu64 " port%s, max score %.4g\n",
		    s[i].about == STORE_ABOUT_RESPONDER ? "responder"
							: "initiator",
		    iso_time(s[i].first_us, t),
		    (double)(s[i].last_us - s[i].first_us) / 1e6,
		    incident_count_str(s[i].alerts, n1),
		    s[i].alerts == 1 ? "" : "s",
		    incident_count_str(s[i].flows, n2),
		    s[i].flows == 1 ? "" : "s", s[i].peers_n,
		    s[i].peers_n == 1 ? "" : "s", s[i].ports_n,
		    s[i].ports_n == 1 ? "" : "s", (double)s[i].score_max);
	}
}

/* Print the human summary: incidents, then the top evidence. */
void
detect_print_summary(const struct detector *d, FILE *fp)
{
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], t[64], pb[8];
	const struct flow_record *r;
	size_t i;

	print_incidents(d, fp);
	if (d->ntop > 0)
		fprintf(fp, "top evidence:\n");
	for (i = 0; i < d->ntop; i++) {
		r = &d->top[i].rec;
		fprintf(fp, "  %s %s %s:%u -> %s:%u score %.4g",
		    iso_time(r->ts_first_us, t), proto_name(r->proto, pb),
		    addr_str(r->src, a), r->sport, addr_str(r->dst, b),
		    r->dport, (double)d->top[i].score);
		if (d->top[i].n > 1)
			fprintf(fp,
			    " \u00d7%" PRIu64 " alike (same hosts, protocol "
			    "and strongest feature), scores %.4g to %.4g",
			    d->top[i].n, (double)d->top[i].score_min,
			    (double)d->top[i].score);
		fputc('\n', fp);
		print_expl(fp, d->top[i].ex, d->top[i].nex);
	}
}

/* Print the totals of scoring, one line. */
void
detect_print_totals(const struct detector *d, FILE *fp)
{
	fprintf(fp,
	    "scored %" PRIu64 " flow records: %" PRIu64 " flow alert%s, "
	    "%" PRIu64 " responder finding%s (%" PRIu64 " client flow%s "
	    "blamed on their responder, not alerted), %" PRIu64 " incident%s\n",
	    d->st.scored, d->st.alerts, d->st.alerts == 1 ? "" : "s",
	    d->st.findings, d->st.findings == 1 ? "" : "s", d->st.suppressed,
	    d->st.suppressed == 1 ? "" : "s", d->st.incidents,
	    d->st.incidents == 1 ? "" : "s");
	if (d->st.beacons > 0)
		fprintf(fp,
		    "beacons: %" PRIu64 " periodic contact%s with hosts "
		    "never seen in the baseline\n",
		    d->st.beacons, d->st.beacons == 1 ? "" : "s");
	if (d->st.storm_minutes > 0) {
		char text[DETECT_STORM_TEXT_MAX];

		fprintf(fp, "alert storm: %s\n",
		    detect_storm_text(&d->st, text, sizeof(text)));
	}
}

/* The storm minutes of ds in one sentence; see daemon.h. */
const char *
detect_storm_text(const struct detect_stats *ds, char *buf, size_t len)
{
	char t0[64], t1[64];

	snprintf(buf, len,
	    "%" PRIu64 " minute%s from %s to %s in which %.0f %% or more of "
	    "the flows alerted, from and to many hosts (the latest: %.0f %%, "
	    "%" PRIu32 "+ hosts to %" PRIu32 "+): the traffic does not look "
	    "like the model's baseline.  A changed network or a wide attack "
	    "looks like this; if the network changed, learn a new baseline "
	    "of it",
	    ds->storm_minutes, ds->storm_minutes == 1 ? "" : "s",
	    iso_time(ds->storm_first_us, t0), iso_time(ds->storm_last_us, t1),
	    100 * DETECT_STORM_SHARE, 100 * ds->storm_share, ds->storm_srcs,
	    ds->storm_dsts);
	return buf;
}
