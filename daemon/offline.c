/*
 * The offline job, an analyst's run over capture files: read them in
 * order, assemble flows by packet time, and either write the flows (flows
 * only), or learn a baseline from the first part and score the rest, or
 * train a model on everything, or score everything with a saved model.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

#define OFFLINE_BATCH 4096 /* frames per dispatch */
#define OFFLINE_TOP_MAX 50
#define OFFLINE_FLUSH_RECORDS                                                  \
	8192 /* flush the store every this many records                        \
	      */
#define OFFLINE_MAX_PENDING 65536 /* queued writes: ample for 8192 records */
#define OFFLINE_CACHE_KIB (64 * 1024) /* SQLite's page cache, KiB */
#define OFFLINE_CHECKPOINT_PAGES 16384 /* 64 MiB of WAL per checkpoint */

struct offline {
	const struct offline_opts *o;
	struct anomd_conf conf; /* o->conf, with the baseline fitted */
	FILE *flows, *scores, *eve;
	struct flowtab *ft;
	struct detector *det;
	struct store *store;
	struct alert_out *out;
	struct suppress *supp; /* the database's suppressions, or NULL */
	struct report *report; /* --report's collector, or NULL */
	int dlt, write_err;
	uint64_t flush_errors;
	uint64_t since_flush;
	struct flow_record top[OFFLINE_TOP_MAX];
	int ntop;
};

/* Keep the records with the most bytes, largest first. */
static void
top_add(struct offline *off, const struct flow_record *r)
{
	int n = off->ntop, i;

	if (off->o->top <= 0)
		return;
	if (n == off->o->top && r->bytes <= off->top[n - 1].bytes)
		return;
	if (n < off->o->top)
		off->ntop = ++n;
	for (i = n - 1; i > 0 && off->top[i - 1].bytes < r->bytes; i--)
		off->top[i] = off->top[i - 1];
	off->top[i] = *r;
}

/* Flush queued alerts, warning once per failure. */
static void
flush_store(struct offline *off)
{
	char *cause = NULL;

	off->since_flush = 0;
	if (off->store != NULL && store_flush(off->store, &cause) != 0) {
		if (off->flush_errors++ == 0)
			log_warnx("%s (alerts stay queued; retrying)",
			    cause ? cause : "store: flush failed");
		free(cause);
	}
}

/* A flow ended: write it, rank it, detect. */
static void
record_cb(const struct flow_record *r, void *arg)
{
	struct offline *off = arg;

	if (off->flows != NULL && flowcsv_row(off->flows, r) != 0)
		off->write_err = 1;
	top_add(off, r);
	if (off->det == NULL)
		return;
	detect_record(off->det, r, NULL);
	if (off->store != NULL && ++off->since_flush >= OFFLINE_FLUSH_RECORDS)
		flush_store(off);
}

/* A frame was read. */
static void
frame_cb(const struct cap_frame *f, void *arg)
{
	struct offline *off = arg;

	flowtab_frame(off->ft, off->dlt, f);
}

/* Read one file to its end; returns 0, or -1 when it could not be read. */
static int
read_file(struct offline *off, const char *path)
{
	struct cap_source_opts so = {.file = path};
	struct cap_source *src;
	char *cause = NULL;
	int eof = 0, n;

	if (cap_source_open(&src, &so, &cause) != 0) {
		log_errorx("%s", cause ? cause : "capture: open failed");
		free(cause);
		return -1;
	}
	off->dlt = cap_source_linktype(src);
	while (!eof) {
		n = cap_source_dispatch(
		    src, OFFLINE_BATCH, frame_cb, off, &eof, &cause);
		if (n < 0) {
			log_warnx("%s: %s; keeping what was read before it",
			    path, cause ? cause : "read error");
			free(cause);
			break;
		}
	}
	cap_source_close(src);
	return 0;
}

/* Print the counters, one "name value" line each, on stderr. */
static void
print_stats(struct flowtab *ft)
{
	const struct cap_stats *st = flowtab_stats(ft);
	int i;

	fprintf(stderr, "frames %" PRIu64 "\nbytes %" PRIu64 "\n", st->frames,
	    st->bytes);
	fprintf(stderr,
	    "ip %" PRIu64 "\narp %" PRIu64 "\nother_link %" PRIu64 "\n", st->ip,
	    st->arp, st->other_link);
	fprintf(stderr,
	    "fragments_later %" PRIu64 "\nicmp_errors_matched %" PRIu64 "\n",
	    st->fragments_later, st->icmp_errors_matched);
	fprintf(stderr, "flows %" PRIu64 "\n", st->flows_created);
	for (i = 0; i < FLOW_END_COUNT; i++)
		fprintf(stderr, "records_%s %" PRIu64 "\n",
		    flow_end_name((enum flow_end)i), st->flows_ended[i]);
	fprintf(stderr,
	    "flows_evicted %" PRIu64 "\nhosts_evicted %" PRIu64 "\n",
	    st->flows_evicted, st->hosts_evicted);
	fprintf(stderr, "flows_max %" PRIu64 "\nhosts_max %" PRIu64 "\n",
	    st->flows_max, st->hosts_max);
	fprintf(stderr, "flow_state_bytes_per_flow %zu\n",
	    flowtab_bytes_per_flow());
	for (i = 0; i < MAL_COUNT; i++)
		fprintf(stderr, "malformed_%s %" PRIu64 "\n",
		    cap_malformed_name((enum cap_malformed)i),
		    st->malformed[i]);
}

/* Format "address:port" (IPv6 in brackets). */
static const char *
endpoint_str(const uint8_t *addr, uint16_t port, char *buf, size_t len)
{
	char a[ADDR_STR_LEN];

	addr_str(addr, a);
	snprintf(buf, len, strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

/* Print the largest flows on stdout. */
static void
print_top(const struct offline *off)
{
	char a[ADDR_STR_LEN + 8], b[ADDR_STR_LEN + 8];
	const struct flow_record *r;
	int i;

	if (off->ntop == 0)
		return;
	printf("top %d flows by bytes:\n", off->ntop);
	printf("  %5s  %-28s %-28s %8s %11s %9s  %s\n", "proto", "initiator",
	    "responder", "packets", "bytes", "seconds", "end");
	for (i = 0; i < off->ntop; i++) {
		r = &off->top[i];
		printf("  %5u  %-28s %-28s %8" PRIu64 " %11" PRIu64
		       " %9.3f  %s\n",
		    r->proto, endpoint_str(r->src, r->sport, a, sizeof(a)),
		    endpoint_str(r->dst, r->dport, b, sizeof(b)), r->packets,
		    r->bytes, (double)(r->ts_last_us - r->ts_first_us) / 1e6,
		    flow_end_name(r->end));
	}
}

/* Open an output file ("-" is stdout); exits when it cannot. */
static FILE *
open_out(const char *what, const char *path)
{
	FILE *fp;

	if (path == NULL)
		return NULL;
	fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (fp == NULL)
		fatal("%s: open %s", what, path);
	return fp;
}

/* Close an output file; returns -1 when anything written was lost. */
static int
close_out(const char *what, const char *path, FILE *fp)
{
	int bad;

	if (fp == NULL)
		return 0;
	bad = ferror(fp) | (fflush(fp) != 0);
	if (fp != stdout)
		bad |= fclose(fp) != 0;
	if (bad)
		log_warn("%s: write %s", what, path);
	return bad ? -1 : 0;
}

/*
 * Open the alert store for the run.  An offline run stores every alert:
 * folding still groups repeats, but the rate cap is for live runs only.
 */
static struct store *
open_store(const struct offline_opts *o)
{
	const struct anomd_conf *c = o->conf;
	struct store_opts so;

	struct store *st;
	char *cause = NULL;

	store_opts_default(&so);
	so.path = o->db_path;
	so.fold_window_s = c->alert_fold_seconds;
	so.rate_max_per_s = 0;
	so.max_pending = OFFLINE_MAX_PENDING;
	so.durable = 0; /* an offline run can be run again */
	so.cache_kib = OFFLINE_CACHE_KIB;
	so.checkpoint_pages = OFFLINE_CHECKPOINT_PAGES;
	if (store_open(&st, &so, &cause) != 0)
		fatalx("%s", cause ? cause : "store: open failed");
	return st;
}

/*
 * The operator's suppressions in the database, applied by alert time so
 * that a run says the same thing whenever it runs; NULL when there are
 * none.
 */
static struct suppress *
open_suppressions(struct store *st)
{
	struct suppress *sp = suppress_create();
	char *cause = NULL;
	int n;

	if ((n = suppress_load(sp, st, &cause)) < 0)
		fatalx("%s", cause ? cause : "suppress: load failed");
	if (n == 0) {
		suppress_free(sp);
		return NULL;
	}
	printf("applying %d operator suppression%s from the database\n", n,
	    n == 1 ? "" : "s");
	return sp;
}

/* Count the suppressions' hits in the store and say how many there were. */
static void
close_suppressions(struct offline *off)
{
	char *cause = NULL;

	if (off->supp == NULL)
		return;
	printf("suppressed by the operator: %" PRIu64 " alerts and findings\n",
	    suppress_suppressed(off->supp));
	if (suppress_sync(off->supp, off->store, &cause) != 0)
		log_warnx("%s", cause ? cause : "suppress: hits not counted");
	free(cause);
}

/* Set up the detector: load a model, or prepare to learn one. */
static struct detector *
open_detector(struct offline *off)
{
	const struct offline_opts *o = off->o;
	struct detect_opts dop;
	char *cause = NULL;

	memset(&dop, 0, sizeof(dop));
	dop.conf = &off->conf;
	dop.train_only = o->train_only;
	dop.score_baseline = !o->train_only;
	dop.scores = off->scores;
	dop.store = off->store;
	dop.out = off->out;
	dop.supp = off->supp;
	dop.report = off->report;
	if (o->train_only)
		dop.model_out = o->model_path;
	else if (o->model_path != NULL &&
	    model_load(&dop.model, o->model_path, feat_table_hash(), FEAT_COUNT,
		&cause) != 0)
		fatalx("%s", cause ? cause : "model: load failed");
	return detect_create(&dop);
}

/* Print what the model is and how it flags flows, as two sentences. */
static void
print_model(const struct model *m, const char *how)
{
	const struct model_info *mi = model_info(m);
	char t0[64], t1[64];

	printf("The model %s %s: it learnt %" PRIu64 " baseline flows from %s "
	       "to %s (%" PRIu64 " outlier%s left out) in %u + %u epochs, to "
	       "a loss of %.4g on them and %.4g on held-out flows.\n",
	    mi->id, how, mi->baseline_rows, iso_time(mi->first_us, t0),
	    iso_time(mi->last_us, t1), mi->dropped_rows,
	    mi->dropped_rows == 1 ? "" : "s", mi->epochs_first,
	    mi->epochs_refit, (double)mi->train_loss, (double)mi->holdout_loss);
	printf("A flow alerts when its reconstruction error is above %.4g, "
	       "set by the %s rule for a target rate of %g normal flows%s%s%s"
	       "\n",
	    (double)mi->threshold, mi->rule_name, mi->target_rate,
	    mi->note[0] ? ": " : "", mi->note,
	    mi->note[0] && mi->note[strlen(mi->note) - 1] == '.' ? "" : ".");
}

/* At the end: train when asked to, or say why nothing was scored. */
static int
finish_detection(struct offline *off)
{
	const struct offline_opts *o = off->o;
	uint64_t kept, seen, t0, t1;

	detect_baseline(off->det, &kept, &seen, &t0, &t1);
	if (o->train_only) {
		if (detect_train(off->det) != 0)
			return -1;
		print_model(detect_model(off->det), "was trained");
		printf("saved to %s\n", o->model_path);
		return 0;
	}
	if (detect_model(off->det) == NULL && kept >= MODEL_MIN_ROWS) {
		/* Too short for a window: learn from all of it, score all. */
		log_warnx("the input ended inside the baseline window (%" PRIu64
			  " flows over %.0f s; the window wants %u flows and "
			  "%u s): learning from all of it; what makes up much "
			  "of it will look normal",
		    seen, (double)(t1 - t0) / 1e6, off->conf.baseline_min_flows,
		    off->conf.baseline_seconds);
		detect_train(off->det);
	}
	if (detect_model(off->det) == NULL) {
		log_warnx("no model: %" PRIu64 " flows are too few to learn "
			  "from (at least %d); train on other traffic with "
			  "--train-only and score with -m",
		    seen, MODEL_MIN_ROWS);
		return -1;
	}
	detect_flush(off->det); /* the input ended: so did its incidents */
	detect_print_summary(off->det, stdout);
	print_model(detect_model(off->det),
	    o->model_path ? "was loaded from the model file"
			  : "was trained on the baseline window");
	detect_print_totals(off->det, stdout);
	return 0;
}

/* Track the first and last packet time. */
static void
span_cb(const struct cap_frame *f, void *arg)
{
	uint64_t *t = arg;

	if (t[0] == 0 || f->ts_us < t[0])
		t[0] = f->ts_us;
	if (f->ts_us > t[1])
		t[1] = f->ts_us;
}

/* Whether one of the inputs is standard input ("-"). */
static int
reads_stdin(const struct offline_opts *o)
{
	size_t i;

	for (i = 0; i < o->nfiles; i++)
		if (strcmp(o->files[i], "-") == 0)
			return 1;
	return 0;
}

/*
 * When the input is shorter than twice the baseline window and no window
 * was asked for, learn from its first half: an analyst's capture is often
 * minutes long, and a window longer than the capture would score nothing.
 * Reading the headers once more costs about as much as a bare libpcap loop.
 */
static void
fit_baseline(struct offline *off)
{
	const struct offline_opts *o = off->o;
	struct cap_source_opts so;
	struct cap_source *src;
	uint64_t t[2] = {0, 0}, span;
	int eof = 0;
	size_t i;

	if (o->baseline_given || o->model_path != NULL || o->train_only ||
	    reads_stdin(o)) /* a pipe cannot be read twice */
		return;
	for (i = 0; i < o->nfiles; i++) {
		memset(&so, 0, sizeof(so));
		so.file = o->files[i];
		if (cap_source_open(&src, &so, NULL) != 0)
			continue;
		while (!eof &&
		    cap_source_dispatch(src, 65536, span_cb, t, &eof, NULL) >=
			0)
			continue;
		cap_source_close(src);
	}
	span = (t[1] - t[0]) / 1000000u;
	if (span >= 2ull * off->conf.baseline_seconds)
		return;
	off->conf.baseline_seconds = span / 2 < 10 ? 10 : (uint32_t)(span / 2);
	log_info("the input lasts %llu s, less than twice baseline_seconds: "
		 "learning from its first %u s (--baseline to choose)",
	    (unsigned long long)span, off->conf.baseline_seconds);
}

/* Whether every input opens (standard input is tried once, when read); a
 * capture that cannot be opened is fatal before anything is created. */
static void
check_inputs(const struct offline_opts *o)
{
	struct cap_source_opts so;
	struct cap_source *src;
	char *cause = NULL;
	size_t i;

	for (i = 0; i < o->nfiles; i++) {
		memset(&so, 0, sizeof(so));
		so.file = o->files[i];
		if (strcmp(so.file, "-") == 0)
			continue; /* standard input cannot be opened twice */
		if (cap_source_open(&src, &so, &cause) != 0)
			fatalx("%s", cause ? cause : "capture: open failed");
		cap_source_close(src);
	}
}

/*
 * Commit what is queued and close the store, then say what was stored:
 * the last line says whether every alert made it.  Returns -1 on a loss.
 */
static int
close_store(struct offline *off)
{
	const char *db = off->o->db_path;
	struct store_stats ss;
	char *cause = NULL;
	int rc;

	if (off->out != NULL)
		alert_out_print(off->out, stdout);
	if (off->store == NULL)
		return 0;
	close_suppressions(off);
	flush_store(off);
	store_stats(off->store, &ss);
	rc = store_close(off->store, &cause);
	off->store = NULL;
	if (rc == 0 && ss.pending == 0 && ss.rejected == 0 &&
	    ss.queue_dropped == 0) {
		printf("stored in %s: %" PRIu64 " alert rows (%" PRIu64
		       " alerts with their folded repeats)\n",
		    db, ss.written, ss.queued + ss.folded);
		return 0;
	}
	log_warnx("store: %s: %s", db,
	    cause	  ? cause
		: rc != 0 ? strerror(-rc)
			  : "alerts lost");
	printf("FAILED: store %s: %" PRIu64 " alert rows committed; %" PRIu64
	       " queued writes lost (%s), %" PRIu64 " alerts dropped, "
	       "%" PRIu64 " rejected\n",
	    db, ss.written, ss.pending,
	    cause	  ? cause
		: rc != 0 ? strerror(-rc)
			  : "no error",
	    ss.queue_dropped, ss.rejected);
	free(cause);
	return -1;
}

/* Write the analyst's report (--report); returns -1 when it failed. */
static int
write_report(struct offline *off)
{
	const struct offline_opts *o = off->o;
	const struct cap_stats *st = flowtab_stats(off->ft);
	const struct model *m;
	FILE *fp;
	size_t i;

	if (off->report == NULL)
		return 0;
	if ((m = detect_model(off->det)) == NULL) {
		log_warnx("report: no model, no report");
		return -1;
	}
	for (i = 0; i < o->nfiles; i++)
		report_capture(
		    off->report, o->files[i], st->frames, st->flows_created);
	fp = open_out("report", o->report_path);
	report_storm(off->report, detect_stats(off->det));
	if (report_write(off->report, m, fp) != 0)
		log_warnx("report: write %s failed", o->report_path);
	if (close_out("report", o->report_path, fp) != 0)
		return -1;
	printf("report written to %s\n", o->report_path);
	return 0;
}

/* Run the offline job. */
int
offline_run(const struct offline_opts *o)
{
	struct alert_out_opts ao;
	struct flowtab_opts fo;
	struct offline off;
	size_t i;
	int failed = 0;

	check_inputs(o);
	memset(&off, 0, sizeof(off));
	off.o = o;
	off.conf = *o->conf;
	flowtab_opts_default(&fo);
	fo.memcap = o->conf->flow_memcap;
	fo.host_memcap = o->conf->host_memcap;
	fo.to = o->conf->to;
	fo.seed = o->seed;
	/*
	 * record_cb runs on a delivery thread, except when reading standard
	 * input: a pipe may be a live stream, and a record would wait there
	 * for a batch of later ones.
	 */
	fo.threaded = !reads_stdin(o);
	if ((off.ft = flowtab_create(&fo, record_cb, &off)) == NULL)
		fatal("flowtab: create");
	if ((off.flows = open_out("flows", o->flows_path)) != NULL)
		flowcsv_header(off.flows);
	if (o->detect) {
		if ((off.scores = open_out("scores", o->scores_path)) != NULL)
			detect_scores_header(off.scores);
		off.eve = open_out("eve", o->eve_path);
		if (o->db_path != NULL && !o->train_only) {
			off.store = open_store(o);
			off.supp = open_suppressions(off.store);
		}
		if (!o->train_only) {
			memset(&ao, 0, sizeof(ao));
			ao.store = off.store;
			ao.eve = off.eve;
			ao.sensor = o->conf->sensor_name;
			ao.explain_features = o->conf->explain_features;
			off.out = alert_out_create(&ao);
		}
		if (o->report_path != NULL && !o->train_only)
			off.report = report_create();
		fit_baseline(&off);
		off.det = open_detector(&off);
	}
	for (i = 0; i < o->nfiles; i++)
		failed |= read_file(&off, o->files[i]) != 0;
	flowtab_flush(off.ft, FLOW_END_FLUSH);
	failed |= off.write_err;
	failed |= close_out("flows", o->flows_path, off.flows) != 0;
	if (o->stats || off.det == NULL)
		print_stats(
		    off.ft); /* the counters are a flows-only run's result */
	if (off.det != NULL)
		failed |= finish_detection(&off) != 0;
	if (off.det != NULL && off.report != NULL)
		failed |= write_report(&off) != 0;
	else if (off.flows != stdout)
		print_top(&off);
	failed |= close_out("scores", o->scores_path, off.scores) != 0;
	failed |= close_out("eve", o->eve_path, off.eve) != 0;
	if (off.det != NULL && detect_model(off.det) != NULL)
		failed |= close_store(&off) != 0;
	else if (off.store != NULL && store_close(off.store, NULL) != 0)
		failed = 1;
	detect_free(off.det);
	suppress_free(off.supp);
	alert_out_free(off.out);
	report_free(off.report);
	flowtab_free(off.ft);
	return failed ? 1 : 0;
}
