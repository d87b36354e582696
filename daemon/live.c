/*
 * The live daemon.  Three kinds of thread:
 *
 *   - the capture thread (capthread.c) reads packets in batches, tracks
 *     flows and expires them by the clock; it does nothing else;
 *   - the flow table's delivery thread computes host context and features
 *     and copies each record into the bounded record queue (recq.c);
 *   - the loop thread, one libevent loop, drains that queue in batches and
 *     does all the rest: scoring, alerts, incidents, the store, EVE
 *     output, the control socket, /metrics, and a one-second timer (store
 *     flushes, retention, drop warnings, watchdog).
 *
 * So a slow commit or a burst of scoring delays records in the queue, not
 * packets in the kernel.  The loop never calls flowtab_* while the capture
 * thread runs: what it shows of the capture comes from a snapshot the
 * capture thread publishes every second.  When the queue is full the
 * delivery thread waits, then the capture thread, and the kernel drops
 * (counted): back-pressure, never a silent loss.
 *
 * Training runs in a worker thread on a baseline the detector hands over
 * (detect_job_take); the current model keeps scoring meanwhile, and the
 * result comes back through a pipe whose read end is an event, so the new
 * model is swapped in on the loop thread with no gap.
 *
 * Alerts are streamed to subscribers once the store has committed them.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

#define LIVE_DRAIN_MAX 4096 /* records scored per queue callback */
#define LIVE_RETAIN_EVERY_S 60 /* retention pass interval */
#define LIVE_STREAM_MAX 65536 /* committed-but-unstreamed alerts kept */
#define LIVE_STOP_WAIT_MS 5000 /* wait for a running training at exit */
#define LIVE_TRAIN_NICE 10 /* nice value of the training thread */
#define LIVE_ID_MAX INT64_C(9000000000000000) /* ids asked for, < 2^53 */
#define LIVE_DROP_WARN_S                                                       \
	60 /* warn of rising capture drops at most this often */
#define MODEL_FILE "anomd.model"

struct live {
	const struct live_opts *o;
	struct anomd_conf *conf;
	struct event_base *base;
	struct capthread *cap; /* the capture thread */
	struct capthread_snap snap; /* its last snapshot */
	struct recq *q; /* records from the delivery thread */
	struct event *recq_ev, *tick_ev, *train_ev, *sig_ev[4];
	struct flowtab *ft; /* the capture thread's while it runs */
	struct detector *det;
	struct store *store;
	struct alert_out *out;
	struct suppress *supp; /* operator suppressions */
	struct evout *evout; /* the live EVE output, or NULL */
	struct control *ctl;
	struct metrics *metrics; /* the /metrics endpoint, or NULL */
	struct report *report; /* what the "report" page needs from scoring */
	struct metrics_hist flush_hist; /* commit latency of store flushes */
	uint64_t drop_warn_us, drop_warned, ifdrop_warned; /* drop warnings */
	char model_path[PATH_MAX]; /* where trained models are saved */
	char model_file[PATH_MAX]; /* where the model in use came from */
	char sock_dir[PATH_MAX]; /* created here, or "" */
	int drop; /* root switches to uid:gid after start-up */
	uid_t uid;
	gid_t gid;
	char iface[CONF_STR_MAX]; /* the interface captured on, or "" */
	uint64_t start_us, model_since_us, last_retain_us, wd_usec, last_wd_us;
	/*
	 * When the first model began training: the records that came since
	 * are scored with it, so its report window starts there; 0 for a
	 * retrain, whose model scores from its install on.
	 */
	uint64_t train_from_us;
	int stopping;
	/* training */
	pthread_t worker;
	int worker_running;
	int train_nice; /* the worker's nice value; the pipe orders these */
	int train_errno; /* why it could not be lowered, or 0 */
	int pipefd[2];
	struct detect_job *job;
	/* alerts waiting for their commit before they are streamed */
	char **stream;
	size_t nstream;
	uint64_t stream_dropped, streamed;
	uint64_t flush_errors;
};

/* Kept in static storage so that a training abandoned at exit stays
 * reachable rather than leaked. */
static struct live live_state;

/* Wall-clock microseconds. */
static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A new alert row was queued: keep its stream line for the next commit. */
static void
stream_cb(const char *line, size_t len, void *arg)
{
	struct live *L = arg;
	char *copy;

	if (L->ctl == NULL)
		return;
	if (L->nstream == LIVE_STREAM_MAX || (copy = malloc(len + 1)) == NULL) {
		L->stream_dropped++;
		return;
	}
	memcpy(copy, line, len + 1);
	L->stream[L->nstream++] = copy;
}

/* Commit queued alerts; stream them once they are on disk. */
static void
flush_store(struct live *L)
{
	struct store_stats ss;
	char *cause = NULL;
	uint64_t t0;
	size_t i;
	int rc;

	store_stats(L->store, &ss);
	t0 = now_us();
	rc = store_flush(L->store, &cause);
	if (ss.pending > 0) /* commit latency: flushes with work only */
		metrics_hist_observe(
		    &L->flush_hist, (double)(now_us() - t0) / 1e6);
	if (rc != 0) {
		if (L->flush_errors++ % 60 == 0)
			log_warnx("%s (alerts stay queued; retrying)",
			    cause ? cause : "store: flush failed");
		free(cause);
		return;
	}
	suppress_sync(L->supp, L->store, NULL); /* retried next tick */
	for (i = 0; i < L->nstream; i++) {
		control_broadcast(L->ctl, L->stream[i]);
		free(L->stream[i]);
	}
	L->streamed += L->nstream;
	L->nstream = 0;
}

/*
 * A flow ended: on the flow table's delivery thread, so only queue it
 * (waiting while the queue is full) for the loop thread to score.
 */
static void
record_cb(const struct flow_record *r, void *arg)
{
	struct live *L = arg;

	recq_put(L->q, r);
}

/* Score up to max queued records on the loop thread; how many. */
static size_t
drain_records(struct live *L, size_t max)
{
	const struct flow_record *r;
	size_t n, i, done = 0;

	while (done < max && (n = recq_peek(L->q, &r)) > 0) {
		if (n > max - done)
			n = max - done;
		for (i = 0; i < n; i++)
			detect_record(L->det, &r[i], NULL);
		/* decided before the queue slots are reused */
		detect_drain(L->det);
		recq_release(L->q, n);
		done += n;
	}
	return done;
}

/*
 * Records wait.  Score a bounded batch so that the socket, timer and
 * signals keep their turn, and come back at once if more wait.
 */
static void
recq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct live *L = arg;

	(void)fd;
	(void)what;
	if (drain_records(L, LIVE_DRAIN_MAX) == LIVE_DRAIN_MAX)
		event_active(L->recq_ev, EV_READ, 0);
}

/*
 * The training thread: train, then hand the job back through the pipe.
 * It trains at a lower CPU priority (Linux keeps a nice value per thread,
 * and the trainer's helper inherits it), so that on a busy or small
 * machine capture keeps its CPU and no packets are lost to training.
 */
static void *
worker_main(void *arg)
{
	struct live *L = arg;
	struct detect_job *j = L->job;
	ssize_t n;

	if (setpriority(PRIO_PROCESS, (id_t)gettid(), LIVE_TRAIN_NICE) == 0)
		L->train_nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	else
		L->train_errno = errno;
	detect_job_run(j);
	do
		n = write(L->pipefd[1], &j, sizeof(j));
	while (n == -1 && errno == EINTR);
	return NULL;
}

/* Start training in the worker when the baseline window is complete. */
static void
maybe_train(struct live *L)
{
	int rc;

	if (L->worker_running || !detect_window_done(L->det))
		return;
	L->train_from_us = detect_model(L->det) == NULL ? now_us() : 0;
	L->job = detect_job_take(L->det);
	L->train_nice = 0;
	L->train_errno = 0;
	if ((rc = pthread_create(&L->worker, NULL, worker_main, L)) != 0) {
		errno = rc;
		log_warn("train: pthread_create; training here instead");
		detect_job_run(L->job);
		detect_job_finish(L->det, L->job);
		L->job = NULL;
		return;
	}
	L->worker_running = 1;
	log_info("train: baseline window complete, training");
	notify_status("training");
}

/* The worker finished: install its model. */
static void
train_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct live *L = arg;
	struct detect_job *j;
	ssize_t n;

	(void)what;
	n = read(fd, &j, sizeof(j));
	if (n != (ssize_t)sizeof(j))
		return;
	pthread_join(L->worker, NULL);
	L->worker_running = 0;
	L->job = NULL;
	if (L->train_errno != 0)
		log_warnx("train: could not lower the training thread's "
			  "priority: %s",
		    strerror(L->train_errno));
	if (detect_job_finish(L->det, j) == 0) {
		L->model_since_us =
		    L->train_from_us != 0 ? L->train_from_us : now_us();
		snprintf(
		    L->model_file, sizeof(L->model_file), "%s", L->model_path);
		log_info("model %s installed: threshold %g, %" PRIu64
			 " baseline flows, trained at nice %d",
		    model_info(detect_model(L->det))->id,
		    (double)model_threshold(detect_model(L->det)),
		    model_info(detect_model(L->det))->baseline_rows,
		    L->train_nice);
	} else if (detect_model(L->det) == NULL)
		detect_retrain(
		    L->det); /* nothing to detect with: learn again */
	notify_status("%s", detect_state(L->det));
}

/*
 * Warn when kernel or interface drops rose since the last warning, at most
 * once every LIVE_DROP_WARN_S seconds, with the counts.
 */
static void
warn_drops(struct live *L, uint64_t now)
{
	const struct capthread_snap *c = &L->snap;

	if (c->kern_drop <= L->drop_warned &&
	    c->kern_ifdrop <= L->ifdrop_warned)
		return;
	if (L->drop_warn_us != 0 &&
	    now - L->drop_warn_us < LIVE_DROP_WARN_S * 1000000ull)
		return;
	log_warnx("capture: %s dropped %" PRIu64 " packets in the kernel and "
		  "%" PRIu64
		  " at the interface since the last warning (%" PRIu64
		  " and %" PRIu64 " in all, %" PRIu64 " received); raise "
		  "buffer_size or narrow filter",
	    L->iface, c->kern_drop - L->drop_warned,
	    c->kern_ifdrop - L->ifdrop_warned, c->kern_drop, c->kern_ifdrop,
	    c->kern_recv);
	L->drop_warn_us = now;
	L->drop_warned = c->kern_drop;
	L->ifdrop_warned = c->kern_ifdrop;
}

/* Take the capture thread's latest snapshot. */
static void
update_snap(struct live *L)
{
	capthread_snapshot(L->cap, &L->snap);
	if (L->snap.iface[0] != '\0')
		snprintf(L->iface, sizeof(L->iface), "%s", L->snap.iface);
}

/* Delete alerts past retention, one bounded chunk per tick. */
static void
retain(struct live *L, uint64_t now)
{
	char *cause = NULL;
	int n;

	if (now - L->last_retain_us < LIVE_RETAIN_EVERY_S * 1000000ull)
		return;
	n = store_retain(L->store, now, L->conf->retention_days * 86400u,
	    L->conf->retention_rows, &cause);
	if (n < 0) {
		log_warnx("%s", cause ? cause : "store: retention failed");
		free(cause);
	}
	if (n <= 0)
		L->last_retain_us = now; /* done until the next interval */
}

/* Once a second: train, flush, retain, warn of drops, ping. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct live *L = arg;
	uint64_t now = now_us();

	(void)fd;
	(void)what;
	update_snap(L);
	maybe_train(L);
	flush_store(L);
	retain(L, now);
	warn_drops(L, now);
	if (L->wd_usec && now - L->last_wd_us >= L->wd_usec / 2) {
		notify_watchdog();
		L->last_wd_us = now;
	}
}

/* Keys a reload applies at once; the others need a restart. */
static const char *const reloadable[] = {"baseline_seconds",
    "baseline_min_flows", "model_layers", "model_activation", "model_epochs",
    "model_batch", "model_threads", "model_seed", "threshold_rule",
    "threshold_target", "threshold_confidence", "robust_drop",
    "explain_features", "retention_days", "retention_rows", NULL};

/* Copy the reloadable keys of nc into c; warn about the others. */
static void
live_apply_conf(struct anomd_conf *c, const struct anomd_conf *nc)
{
	const struct conf_key *k;
	size_t i, j, n;
	int live;

	k = conf_keys_table(&n);
	for (i = 0; i < n; i++) {
		char *to = (char *)c + k[i].off;
		const char *from = (const char *)nc + k[i].off;

		if (memcmp(to, from, k[i].size) == 0)
			continue;
		for (j = 0, live = 0; reloadable[j] != NULL && !live; j++)
			live = strcmp(reloadable[j], k[i].name) == 0;
		if (live)
			memcpy(to, from, k[i].size);
		else
			log_warnx("reload: %s changed; it takes effect at the "
				  "next start",
			    k[i].name);
	}
}

/* Apply the command line's overrides to a freshly read configuration. */
static void
apply_overrides(const struct live_opts *o, struct anomd_conf *c)
{
	if (o->iface != NULL)
		snprintf(c->interface, sizeof(c->interface), "%s", o->iface);
	if (o->socket != NULL)
		snprintf(
		    c->socket_path, sizeof(c->socket_path), "%s", o->socket);
	if (o->db != NULL)
		snprintf(c->db_path, sizeof(c->db_path), "%s", o->db);
	if (o->baseline_s != 0)
		c->baseline_seconds = o->baseline_s;
}

/* Print one configuration error on reload. */
static void
reload_err_cb(const char *msg, void *arg)
{
	(void)arg;
	log_warnx("reload: %s", msg);
}

/* SIGHUP: re-read the configuration and start a new baseline; 0, or
 * -errno when the baseline buffer cannot be had (logged). */
static int
reload(struct live *L)
{
	struct anomd_conf *c;
	char *cause = NULL;
	int n = 0, rc;

	notify_reloading();
	if (L->o->conf_path != NULL) {
		if ((c = malloc(sizeof(*c))) == NULL)
			fatal("reload");
		conf_defaults(c);
		n = conf_load(c, L->o->conf_path, reload_err_cb, NULL, &cause);
		if (n < 0)
			log_warnx("reload: %s", cause);
		else if (n > 0)
			log_warnx("reload: %s has %d error%s; keeping the "
				  "running configuration",
			    L->o->conf_path, n, n == 1 ? "" : "s");
		else {
			apply_overrides(L->o, c);
			live_apply_conf(L->conf, c);
		}
		free(cause);
		free(c);
	}
	if ((rc = detect_retrain(L->det)) == 0)
		log_info("reload: new baseline window of %u s and %u flows; "
			 "the current model keeps detecting",
		    L->conf->baseline_seconds, L->conf->baseline_min_flows);
	notify_ready();
	return rc;
}

/* Signals: one callback for all of them. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct live *L = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		(void)reload(L);
		break;
	case SIGTERM:
	case SIGINT:
		log_info("signal %d: shutting down", (int)sig);
		L->stopping = 1;
		event_base_loopbreak(L->base);
		break;
	case SIGUSR1: /* logrotate moved the EVE file */
		evout_reopen(L->evout);
		break;
	default:
		break;
	}
}

/*
 * The alert storm watch under "storm": minutes in which most flows
 * alerted, from and to many hosts (detect.c), the latest one's end, share
 * and host counts; last is null before the first.
 */
static void
add_storm(struct live *L, cJSON *r)
{
	const struct detect_stats *ds = detect_stats(L->det);
	cJSON *o = cJSON_AddObjectToObject(r, "storm");
	char t[64];

	cJSON_AddNumberToObject(o, "minutes", (double)ds->storm_minutes);
	if (ds->storm_minutes == 0) {
		cJSON_AddNullToObject(o, "last");
		return;
	}
	cJSON_AddStringToObject(o, "last", iso_time(ds->storm_last_us, t));
	cJSON_AddNumberToObject(o, "share",
	    (double)(long)(ds->storm_share * 1000.0 + 0.5) / 1000.0);
	cJSON_AddNumberToObject(o, "initiators", ds->storm_srcs);
	cJSON_AddNumberToObject(o, "responders", ds->storm_dsts);
}

/*
 * What became of the alerts, in status: alerts is what was stored (new
 * rows), and raised = alerts + folded + capped + dropped + rejected.
 */
static void
add_alert_counts(struct live *L, cJSON *r)
{
	const struct alert_out_stats *as = alert_out_stats(L->out);
	cJSON *o;

	cJSON_AddNumberToObject(r, "alerts", (double)as->stored);
	o = cJSON_AddObjectToObject(r, "alert_counts");
	cJSON_AddNumberToObject(o, "raised", (double)as->raised);
	cJSON_AddNumberToObject(o, "stored", (double)as->stored);
	cJSON_AddNumberToObject(o, "folded", (double)as->folded);
	cJSON_AddNumberToObject(o, "capped", (double)as->capped);
	cJSON_AddNumberToObject(o, "dropped", (double)as->dropped);
	cJSON_AddNumberToObject(o, "rejected", (double)as->rejected);
	cJSON_AddNumberToObject(o, "stream_dropped", (double)L->stream_dropped);
	cJSON_AddNumberToObject(
	    o, "suppressed", (double)suppress_suppressed(L->supp));
	add_storm(L, r);
}

/* The EVE output's counters under "eve". */
static void
add_eve(struct live *L, cJSON *r)
{
	struct evout_stats es;
	cJSON *o = cJSON_AddObjectToObject(r, "eve");

	evout_get_stats(L->evout, &es);
	cJSON_AddStringToObject(o, "output", L->conf->eve_output);
	cJSON_AddNumberToObject(o, "written", (double)es.written);
	cJSON_AddNumberToObject(o, "dropped", (double)es.dropped);
	cJSON_AddNumberToObject(o, "errors", (double)es.errors);
	cJSON_AddNumberToObject(o, "reconnects", (double)es.reconnects);
	cJSON_AddNumberToObject(o, "queued", (double)es.queued);
}

/* The record queue's numbers, into the status's capture object. */
static void
add_queue(struct live *L, cJSON *capture)
{
	struct recq_stats qs;
	cJSON *o;

	recq_stats(L->q, &qs);
	o = cJSON_AddObjectToObject(capture, "record_queue");
	cJSON_AddNumberToObject(o, "capacity", (double)qs.capacity);
	cJSON_AddNumberToObject(o, "queued", (double)qs.queued);
	cJSON_AddNumberToObject(o, "high_water", (double)qs.high_water);
	cJSON_AddNumberToObject(o, "full_waits", (double)qs.full_waits);
}

/* The "status" result. */
static cJSON *
cmd_status(struct live *L)
{
	const struct cap_stats *cs = &L->snap.cs;
	const struct model *m = detect_model(L->det);
	uint64_t now = now_us(), kept, seen, t0, t1;
	cJSON *r = cJSON_CreateObject(), *o;

	update_snap(L);
	cJSON_AddStringToObject(r, "state", detect_state(L->det));
	cJSON_AddBoolToObject(r, "learning", detect_learning(L->det));
	cJSON_AddNumberToObject(
	    r, "uptime_s", (double)(now - L->start_us) / 1e6);
	if (m != NULL) {
		o = cJSON_AddObjectToObject(r, "model");
		cJSON_AddStringToObject(o, "id", model_info(m)->id);
		cJSON_AddNumberToObject(
		    o, "age_s", (double)(now - L->model_since_us) / 1e6);
		cJSON_AddNumberToObject(o, "threshold", model_threshold(m));
	} else
		cJSON_AddNullToObject(r, "model");
	detect_baseline(L->det, &kept, &seen, &t0, &t1);
	o = cJSON_AddObjectToObject(r, "baseline");
	cJSON_AddNumberToObject(o, "flows", (double)seen);
	cJSON_AddNumberToObject(o, "min_flows", L->conf->baseline_min_flows);
	cJSON_AddNumberToObject(
	    o, "elapsed_s", seen ? (double)(t1 - t0) / 1e6 : 0);
	cJSON_AddNumberToObject(o, "window_s", L->conf->baseline_seconds);
	o = cJSON_AddObjectToObject(r, "capture");
	cJSON_AddBoolToObject(o, "up", L->snap.up);
	cJSON_AddStringToObject(o, "interface", L->iface);
	if (!L->snap.up && L->snap.error[0] != '\0')
		cJSON_AddStringToObject(o, "error", L->snap.error);
	else
		cJSON_AddNullToObject(o, "error");
	cJSON_AddNumberToObject(o, "packets", (double)cs->frames);
	cJSON_AddNumberToObject(o, "bytes", (double)cs->bytes);
	cJSON_AddNumberToObject(o, "kernel_drops", (double)L->snap.kern_drop);
	cJSON_AddNumberToObject(o, "if_drops", (double)L->snap.kern_ifdrop);
	cJSON_AddNumberToObject(o, "flows_active", (double)cs->flows_active);
	add_queue(L, o);
	add_alert_counts(L, r);
	add_eve(L, r);
	return r;
}

#define C METRICS_COUNTER
#define G METRICS_GAUGE

/* Capture and flow numbers. */
static void
fill_capture(struct live *L, struct metrics_out *mo)
{
	const struct cap_stats *cs = &L->snap.cs;
	struct recq_stats qs;
	int i;

	recq_stats(L->q, &qs);
	metrics_put(
	    mo, G, "capture_up", "1 while the capture is open", L->snap.up);
	metrics_put(mo, C, "capture_packets", "packets captured", cs->frames);
	metrics_put(mo, C, "capture_bytes", "bytes captured", cs->bytes);
	metrics_put(mo, C, "capture_kernel_packets",
	    "packets the kernel passed to the capture (libpcap ps_recv)",
	    L->snap.kern_recv);
	metrics_put(mo, C, "capture_kernel_drops",
	    "packets dropped by the kernel: buffer full (ps_drop)",
	    L->snap.kern_drop);
	metrics_put(mo, C, "capture_interface_drops",
	    "packets dropped by the interface or driver (ps_ifdrop)",
	    L->snap.kern_ifdrop);
	metrics_put(
	    mo, C, "capture_errors", "capture read failures", L->snap.errors);
	metrics_put(mo, G, "record_queue_records",
	    "flow records waiting to be scored", qs.queued);
	metrics_put(mo, METRICS_LIMIT, "record_queue_capacity",
	    "flow records the record queue holds", qs.capacity);
	metrics_put(mo, G, "record_queue_high_water",
	    "most flow records ever waiting to be scored", qs.high_water);
	metrics_put(mo, C, "record_queue_full_waits",
	    "times the record queue was full and capture waited",
	    qs.full_waits);
	metrics_put(mo, C, "capture_fragments_later",
	    "non-first IP fragments (counted, no flow)", cs->fragments_later);
	for (i = 0; i < MAL_COUNT; i++)
		metrics_put_label(mo, C, "capture_malformed",
		    "frames not decoded, by reason", "reason",
		    cap_malformed_name((enum cap_malformed)i),
		    cs->malformed[i]);
	metrics_put(
	    mo, G, "flows_active", "flows in the flow table", cs->flows_active);
	metrics_put(mo, C, "flows_created", "flows created", cs->flows_created);
	metrics_put(mo, C, "flows_evicted",
	    "flows evicted at flow_memcap before they ended",
	    cs->flows_evicted);
	for (i = 0; i < FLOW_END_COUNT; i++)
		metrics_put_label(mo, C, "flow_records",
		    "flow records emitted, by why they ended", "end",
		    flow_end_name((enum flow_end)i), cs->flows_ended[i]);
	metrics_put(
	    mo, G, "hosts_active", "hosts with context kept", cs->hosts_active);
	metrics_put(mo, C, "hosts_evicted", "hosts evicted at host_memcap",
	    cs->hosts_evicted);
	metrics_put(mo, METRICS_LIMIT, "flows_max",
	    "flows the flow_memcap holds", cs->flows_max);
	metrics_put(mo, METRICS_LIMIT, "hosts_max",
	    "hosts the host_memcap holds", cs->hosts_max);
}

/* Detection, alert and incident numbers. */
static void
fill_detect(struct live *L, struct metrics_out *mo)
{
	const struct detect_stats *ds = detect_stats(L->det);
	const struct alert_out_stats *as = alert_out_stats(L->out);

	metrics_put(mo, C, "records_baseline",
	    "flow records taken into a baseline", ds->baseline);
	metrics_put(mo, C, "records_scored", "flow records scored", ds->scored);
	metrics_put_label(mo, C, "detections",
	    "flow alerts, responder findings and beacons raised, by kind",
	    "kind", "flow", ds->alerts);
	metrics_put_label(
	    mo, C, "detections", "", "kind", "responder", ds->findings);
	metrics_put_label(
	    mo, C, "detections", "", "kind", "beacon", ds->beacons);
	metrics_put(mo, C, "alert_storm_seconds",
	    "flow time in alert storm, 60 for each minute in which 20 % or "
	    "more of the scored flows alerted, from and to many hosts: the "
	    "model does not fit the traffic",
	    ds->storm_minutes * 60);
	metrics_put(mo, C, "client_flows_blamed",
	    "client flows blamed on their responder, not alerted",
	    ds->suppressed);
	metrics_put(mo, C, "alerts_raised",
	    "alerts raised (the sum of alerts_total over outcome)", as->raised);
	metrics_put_label(mo, C, "alerts",
	    "raised alerts by outcome: stored as a new row, folded into an "
	    "earlier row, capped by alert_rate_max, dropped (store queue "
	    "full), rejected by the store",
	    "outcome", "stored", as->stored);
	metrics_put_label(mo, C, "alerts", "", "outcome", "folded", as->folded);
	metrics_put_label(mo, C, "alerts", "", "outcome", "capped", as->capped);
	metrics_put_label(
	    mo, C, "alerts", "", "outcome", "dropped", as->dropped);
	metrics_put_label(
	    mo, C, "alerts", "", "outcome", "rejected", as->rejected);
	metrics_put(mo, C, "alerts_suppressed",
	    "alerts matching an operator suppression, counted and not raised",
	    suppress_suppressed(L->supp));
	metrics_put(
	    mo, C, "incidents_opened", "incidents opened", ds->incidents);
	metrics_put(
	    mo, C, "incidents_closed", "incidents closed", as->incidents);
	metrics_put(mo, C, "stream_lines", "alert lines sent to subscribers",
	    L->streamed);
	metrics_put(mo, C, "stream_dropped",
	    "alert lines not streamed (too many waiting for a commit)",
	    L->stream_dropped);
	metrics_put(mo, C, "models_trained", "models trained and installed",
	    ds->trained);
}

/* Model, state and baseline numbers. */
static void
fill_model(struct live *L, struct metrics_out *mo, uint64_t now)
{
	static const char *const states[] = {
	    "learning", "training", "detecting"};
	const struct model *m = detect_model(L->det);
	const char *st = detect_state(L->det);
	uint64_t kept, seen, t0, t1;
	double p, q;
	size_t i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		metrics_put_label(mo, G, "state",
		    "1 for the daemon's state, else 0", "state", states[i],
		    strcmp(st, states[i]) == 0);
	metrics_put(mo, G, "uptime_seconds", "seconds since start",
	    (double)(now - L->start_us) / 1e6);
	metrics_put(
	    mo, G, "model_loaded", "1 while a model detects", m != NULL);
	metrics_put(mo, G, "model_age_seconds",
	    "seconds since the model was loaded or installed (0: none)",
	    m ? (double)(now - L->model_since_us) / 1e6 : 0);
	metrics_put(mo, G, "model_threshold",
	    "the model's alert threshold (0: none)",
	    m ? model_threshold(m) : 0);
	detect_baseline(L->det, &kept, &seen, &t0, &t1);
	metrics_put(mo, G, "baseline_flows",
	    "flows seen in the open baseline window", seen);
	metrics_put(mo, G, "baseline_elapsed_seconds",
	    "span of the open baseline window",
	    seen ? (double)(t1 - t0) / 1e6 : 0);
	p = (double)seen / L->conf->baseline_min_flows;
	q = seen ? (double)(t1 - t0) / 1e6 / L->conf->baseline_seconds : 0;
	p = p < q ? p : q; /* the window needs both */
	metrics_put(mo, G, "baseline_progress_ratio",
	    "progress of the baseline window, 0 to 1 (1 when not learning)",
	    detect_learning(L->det) ? (p < 1 ? p : 1) : 1);
	metrics_put(mo, METRICS_LIMIT, "baseline_min_flows",
	    "baseline_min_flows", L->conf->baseline_min_flows);
	metrics_put(mo, METRICS_LIMIT, "baseline_window_seconds",
	    "baseline_seconds", L->conf->baseline_seconds);
}

/* Store, socket, EVE output and metrics numbers. */
static void
fill_outputs(struct live *L, struct metrics_out *mo)
{
	struct control_stats ct;
	struct metrics_stats ms;
	struct evout_stats es;
	struct store_stats ss;

	store_stats(L->store, &ss);
	metrics_put(mo, G, "store_queue", "writes queued, not yet committed",
	    ss.pending);
	metrics_put(
	    mo, C, "store_rows_written", "alert rows committed", ss.written);
	metrics_put(mo, C, "store_rows_updated",
	    "fold totals committed to earlier rows", ss.updated);
	metrics_put(mo, C, "store_incidents_written", "incident rows committed",
	    ss.incidents_written);
	metrics_put(
	    mo, C, "store_flushes", "transactions committed", ss.flushes);
	metrics_put(mo, C, "store_write_errors",
	    "flushes rolled back (retried)", ss.write_errors);
	metrics_put(
	    mo, C, "store_retained", "rows deleted by retention", ss.retained);
	metrics_put_hist(mo, "store_flush_seconds",
	    "time to commit a flush that had writes", &L->flush_hist);
	control_get_stats(L->ctl, &ct);
	metrics_put(
	    mo, G, "control_clients", "control socket clients", ct.clients);
	metrics_put(mo, G, "control_subscribers", "clients following alerts",
	    ct.subscribers);
	metrics_put(
	    mo, C, "control_accepted", "connections accepted", ct.accepted);
	metrics_put_label(mo, C, "control_clients_dropped",
	    "clients refused or dropped, by reason", "reason", "busy",
	    ct.refused_busy);
	metrics_put_label(mo, C, "control_clients_dropped", "", "reason",
	    "slow", ct.dropped_slow);
	metrics_put_label(mo, C, "control_clients_dropped", "", "reason",
	    "idle", ct.dropped_idle);
	metrics_put(mo, C, "control_requests", "requests", ct.requests);
	metrics_put(
	    mo, C, "control_bad_requests", "requests refused", ct.bad_requests);
	metrics_put(mo, C, "control_oversized", "request lines over the cap",
	    ct.oversized);
	evout_get_stats(L->evout, &es);
	metrics_put(
	    mo, C, "eve_lines_written", "EVE lines written", es.written);
	metrics_put(
	    mo, C, "eve_lines_dropped", "EVE lines lost, counted", es.dropped);
	metrics_put(
	    mo, C, "eve_errors", "EVE write or connection errors", es.errors);
	metrics_put(
	    mo, C, "eve_reconnects", "EVE output reconnections", es.reconnects);
	metrics_put(mo, G, "eve_queue", "EVE lines waiting", es.queued);
	metrics_get_stats(L->metrics, &ms);
	metrics_put(
	    mo, C, "metrics_scrapes", "/metrics responses sent", ms.scrapes);
}

#undef C
#undef G

/* Every number, for /metrics and the "stats" command. */
static void
fill_cb(struct metrics_out *mo, void *arg)
{
	struct live *L = arg;

	metrics_put_label(mo, METRICS_GAUGE, "build_info",
	    "always 1; the version in a label", "version", PACKAGE_VERSION, 1);
	update_snap(L);
	fill_model(L, mo, now_us());
	fill_capture(L, mo);
	fill_detect(L, mo);
	fill_outputs(L, mo);
}

/* The "stats" result: counters, gauges and limits, named as in /metrics. */
static cJSON *
cmd_stats(struct live *L)
{
	struct metrics_out mo;

	memset(&mo, 0, sizeof(mo));
	mo.json = cJSON_CreateObject();
	cJSON_AddObjectToObject(mo.json, "counters");
	cJSON_AddObjectToObject(mo.json, "gauges");
	cJSON_AddObjectToObject(mo.json, "limits");
	fill_cb(&mo, L);
	return mo.json;
}

/* The "model" result. */
static cJSON *
cmd_model(struct live *L, const char **code, char **message)
{
	const struct model *m = detect_model(L->det);
	const struct model_info *mi;
	cJSON *r, *a;
	char t[64];
	uint32_t i;

	if (m == NULL)
		return control_fail(code, message, "not_found",
		    "no model yet: the baseline window is still open");
	mi = model_info(m);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "id", mi->id);
	cJSON_AddStringToObject(r, "created", iso_time(mi->created_us, t));
	cJSON_AddStringToObject(r, "train_first", iso_time(mi->first_us, t));
	cJSON_AddStringToObject(r, "train_last", iso_time(mi->last_us, t));
	cJSON_AddNumberToObject(r, "threshold", mi->threshold);
	cJSON_AddStringToObject(r, "rule", mi->rule_name);
	cJSON_AddNumberToObject(r, "target_rate", mi->target_rate);
	cJSON_AddStringToObject(r, "rule_note", mi->note);
	cJSON_AddNumberToObject(r, "baseline_flows", (double)mi->baseline_rows);
	cJSON_AddNumberToObject(r, "dropped_flows", (double)mi->dropped_rows);
	a = cJSON_AddArrayToObject(r, "layers");
	for (i = 0; i < mi->nhidden; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(mi->hidden[i]));
	cJSON_AddStringToObject(
	    r, "activation", model_act_name(mi->activation));
	a = cJSON_AddArrayToObject(r, "epochs");
	cJSON_AddItemToArray(a, cJSON_CreateNumber(mi->epochs_first));
	cJSON_AddItemToArray(a, cJSON_CreateNumber(mi->epochs_refit));
	cJSON_AddNumberToObject(r, "train_loss", mi->train_loss);
	cJSON_AddNumberToObject(r, "holdout_loss", mi->holdout_loss);
	cJSON_AddNumberToObject(r, "seed", (double)mi->seed);
	if (L->model_file[0] != '\0')
		cJSON_AddStringToObject(r, "file", L->model_file);
	else
		cJSON_AddNullToObject(r, "file"); /* not saved yet */
	return r;
}

/* Read optional number argument name within [min, max]; -1 if invalid. */
static int
arg_num(
    const cJSON *args, const char *name, double min, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max)
		return -1;
	*out = v->valuedouble;
	return 1;
}

/* Add one queried alert to the result array. */
static int
query_cb(const struct store_alert *a, void *arg)
{
	cJSON *arr = arg, *o;

	if ((o = alert_row_json(a)) != NULL)
		cJSON_AddItemToArray(arr, o);
	return 0;
}

/* The "alerts" result: filtered, newest first, paged by id. */
static cJSON *
cmd_alerts(struct live *L, const cJSON *args, const char **code, char **message)
{
	struct store_query q;
	double since = 0, until = 0, min = 0;
	int64_t limit = 100, before = 0;
	char src[ADDR_STR_LEN], dst[ADDR_STR_LEN];
	int has_src = 0, has_dst = 0;
	const cJSON *last;
	cJSON *r, *arr;
	char *cause = NULL;

	memset(&q, 0, sizeof(q));
	if (arg_num(args, "since", 0, 1e11, &since) < 0 ||
	    arg_num(args, "until", 0, 1e11, &until) < 0 ||
	    control_arg_int(args, "limit", 1, STORE_QUERY_LIMIT_MAX, &limit) <
		0 ||
	    control_arg_int(args, "before_id", 0, LIVE_ID_MAX, &before) < 0 ||
	    arg_num(args, "min_score", 0, 1e30, &min) < 0 ||
	    (has_src = control_arg_addr(args, "src", src)) < 0 ||
	    (has_dst = control_arg_addr(args, "dst", dst)) < 0)
		return control_fail(code, message, "bad_argument",
		    "alerts takes since, until (epoch seconds), limit (a whole "
		    "number, 1 to %d), before_id (a whole number), min_score, "
		    "src, dst (one IPv4 or IPv6 address each, not a network)",
		    STORE_QUERY_LIMIT_MAX);
	q.since_us = (uint64_t)(since * 1e6);
	q.until_us = (uint64_t)(until * 1e6);
	q.limit = (unsigned)limit;
	q.before_id = before;
	q.min_score = min;
	q.src_ip = has_src ? src : NULL;
	q.dst_ip = has_dst ? dst : NULL;
	arr = cJSON_CreateArray();
	if (store_alerts_query(L->store, &q, query_cb, arr, &cause) < 0) {
		cJSON_Delete(arr);
		control_fail(
		    code, message, "internal", "%s", cause ? cause : "query");
		free(cause);
		return NULL;
	}
	r = cJSON_CreateObject();
	last = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1);
	cJSON_AddItemToObject(r, "alerts", arr);
	if (last != NULL && cJSON_GetArraySize(arr) == (int)q.limit)
		cJSON_AddNumberToObject(r, "next_before_id",
		    cJSON_GetObjectItem(last, "id")->valuedouble);
	else
		cJSON_AddNullToObject(r, "next_before_id");
	return r;
}

/* The "alert" result: one alert with its explanation. */
static cJSON *
cmd_alert(struct live *L, const cJSON *args, const char **code, char **message)
{
	struct store_alert a;
	int64_t id = 0;
	char *cause = NULL;
	cJSON *r = NULL;
	int rc;

	if (control_arg_int(args, "id", 1, LIVE_ID_MAX, &id) != 1)
		return control_fail(code, message, "bad_argument",
		    "alert takes an id, a whole positive number");
	rc = store_alert_get(L->store, id, &a, &cause);
	free(cause);
	if (rc == -ENOENT)
		return control_fail(
		    code, message, "not_found", "no alert %" PRId64, id);
	if (rc != 0 || (r = alert_row_json(&a)) == NULL)
		return control_fail(
		    code, message, "internal", "cannot read alert");
	return r;
}

/* Add one queried incident to the result array. */
static int
incidents_cb(const struct store_incident *inc, void *arg)
{
	cJSON *arr = arg, *o;

	if ((o = alert_incident_json(inc)) != NULL)
		cJSON_AddItemToArray(arr, o);
	return 0;
}

/* The "incidents" result: filtered, newest first (by last alert). */
cJSON *
live_cmd_incidents(
    struct store *st, const cJSON *args, const char **code, char **message)
{
	struct store_query q;
	double since = 0, until = 0;
	int64_t limit = 100;
	char host[ADDR_STR_LEN], *cause = NULL;
	cJSON *r, *arr;
	int has_host;

	memset(&q, 0, sizeof(q));
	if (arg_num(args, "since", 0, 1e11, &since) < 0 ||
	    arg_num(args, "until", 0, 1e11, &until) < 0 ||
	    control_arg_int(args, "limit", 1, STORE_QUERY_LIMIT_MAX, &limit) <
		0 ||
	    (has_host = control_arg_addr(args, "host", host)) < 0)
		return control_fail(code, message, "bad_argument",
		    "incidents takes since, until (epoch seconds), limit (1 to "
		    "%d) and host (an address)",
		    STORE_QUERY_LIMIT_MAX);
	if (has_host)
		q.src_ip = host; /* src_ip or dst_ip: the incident's host */
	q.since_us = (uint64_t)(since * 1e6);
	q.until_us = (uint64_t)(until * 1e6);
	q.limit = (unsigned)limit;
	arr = cJSON_CreateArray();
	if (store_incidents_query(st, &q, incidents_cb, arr, &cause) < 0) {
		cJSON_Delete(arr);
		control_fail(
		    code, message, "internal", "%s", cause ? cause : "query");
		free(cause);
		return NULL;
	}
	r = cJSON_CreateObject();
	cJSON_AddItemToObject(r, "incidents", arr);
	return r;
}

/* The "incident" result: one incident and its newest 100 alerts. */
cJSON *
live_cmd_incident(
    struct store *st, const cJSON *args, const char **code, char **message)
{
	struct store_incident inc;
	struct store_query q;
	int64_t id = 0;
	char *cause = NULL;
	cJSON *r, *o = NULL, *arr;
	int rc;

	if (control_arg_int(args, "id", 1, LIVE_ID_MAX, &id) != 1)
		return control_fail(code, message, "bad_argument",
		    "incident takes an id, a positive whole number");
	rc = store_incident_get(st, id, &inc, &cause);
	free(cause);
	cause = NULL;
	if (rc == 0 && (o = alert_incident_json(&inc)) == NULL)
		rc = -ENOMEM;
	if (rc == -ENOENT)
		return control_fail(
		    code, message, "not_found", "no incident %" PRId64, id);
	if (rc != 0)
		return control_fail(
		    code, message, "internal", "cannot read incident");
	memset(&q, 0, sizeof(q));
	q.incident_id = id;
	q.limit = 100;
	arr = cJSON_CreateArray();
	if (store_alerts_query(st, &q, query_cb, arr, &cause) < 0) {
		cJSON_Delete(arr);
		cJSON_Delete(o);
		control_fail(
		    code, message, "internal", "%s", cause ? cause : "query");
		free(cause);
		return NULL;
	}
	r = cJSON_CreateObject();
	cJSON_AddItemToObject(r, "incident", o);
	cJSON_AddItemToObject(r, "alerts", arr);
	return r;
}

/* Bytes of s once escaped in a JSON string. */
static size_t
json_escaped_len(const char *s, size_t len)
{
	size_t i, n = len;

	for (i = 0; i < len; i++)
		if (s[i] == '"' || s[i] == '\\' || s[i] == '\n' ||
		    s[i] == '\t' || s[i] == '\r' || s[i] == '\b' ||
		    s[i] == '\f')
			n++;
		else if ((unsigned char)s[i] < 0x20)
			n += 5;
	return n;
}

/*
 * Write rp's page, drawing at most draw raised points per map, into a
 * malloc'd string; NULL on a memory or write error.
 */
static char *
report_page(struct report *rp, const struct model *m, size_t draw, size_t *lenp)
{
	char *buf = NULL;
	FILE *fp;
	int rc;

	if ((fp = open_memstream(&buf, lenp)) == NULL)
		return NULL;
	report_draw_max(rp, draw);
	rc = report_write(rp, m, fp);
	if (fclose(fp) != 0 || rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * The "report" result: the analyst's page built from the store since the
 * since argument (epoch seconds; absent: from the first flow the model in
 * use scored, or its install).
 * One reply carries the whole page, so a page whose reply would pass
 * output_max is drawn again with half the raised points on each map, down
 * to none, and "map_points_max" says the cap that was applied.
 */
cJSON *
live_cmd_report(struct report *live, const struct model *m, struct store *st,
    const struct live_report_opts *o, const cJSON *args, const char **code,
    char **message)
{
	uint64_t first = report_first_us(live);
	double since = (double)(first != 0 && first < o->model_since_us
			       ? first
			       : o->model_since_us) /
	    1e6;
	struct report *rp;
	size_t draw = LIVE_REPORT_POINTS_MAX, len = 0;
	char *cause = NULL, *page = NULL;
	cJSON *r;

	if (arg_num(args, "since", 0, 1e11, &since) < 0)
		return control_fail(code, message, "bad_argument",
		    "report takes since (epoch seconds)");
	if (m == NULL)
		return control_fail(code, message, "no_model",
		    "no model yet: the report needs one (anomd is learning "
		    "its baseline)");
	rp = report_live_build(
	    live, st, (uint64_t)(since * 1e6), o->now_us, o->source, &cause);
	if (rp == NULL) {
		control_fail(
		    code, message, "internal", "%s", cause ? cause : "query");
		free(cause);
		return NULL;
	}
	if (o->storm != NULL)
		report_storm(rp, o->storm);
	for (;;) {
		free(page);
		if ((page = report_page(rp, m, draw, &len)) == NULL ||
		    json_escaped_len(page, len) + LIVE_REPORT_SLACK <=
			o->output_max ||
		    draw == 0)
			break;
		draw /= 2;
	}
	report_free(rp);
	if (page == NULL)
		return control_fail(
		    code, message, "internal", "cannot write the page");
	if (json_escaped_len(page, len) + LIVE_REPORT_SLACK > o->output_max) {
		free(page);
		return control_fail(code, message, "too_large",
		    "the page is over client_output_max (%zu bytes) even "
		    "without points on its maps; raise client_output_max or "
		    "ask for a shorter --since",
		    o->output_max);
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "html", page);
	cJSON_AddNumberToObject(r, "bytes", (double)len);
	if (draw < LIVE_REPORT_POINTS_MAX)
		cJSON_AddNumberToObject(r, "map_points_max", (double)draw);
	else
		cJSON_AddNullToObject(r, "map_points_max");
	free(page);
	return r;
}

/* The "report" command of the running daemon. */
static cJSON *
cmd_report(struct live *L, const cJSON *args, const char **code, char **message)
{
	struct live_report_opts o;
	char src[CONF_STR_MAX + 64];

	snprintf(src, sizeof(src), "live capture on %s",
	    L->iface[0] != '\0' ? L->iface : "no interface yet");
	memset(&o, 0, sizeof(o));
	o.model_since_us = L->model_since_us;
	o.now_us = now_us();
	o.output_max = L->conf->client_output_max;
	o.source = src;
	o.storm = detect_stats(L->det);
	return live_cmd_report(
	    L->report, detect_model(L->det), L->store, &o, args, code, message);
}

/* Whether a peer may change the daemon's state. */
static int
peer_is_admin(const struct control_peer *peer)
{
	return peer->uid == 0 || peer->uid == geteuid();
}

/* Whether peer may run command; else NULL with "forbidden" set. */
static int
admin_only(const struct control_peer *peer, const char *command,
    const char **code, char **message)
{
	if (peer_is_admin(peer))
		return 1;
	control_fail(code, message, "forbidden",
	    "%s is for root and the daemon's user (uid %u)", command,
	    (unsigned)geteuid());
	return 0;
}

/* Run one control command. */
static cJSON *
control_cb(struct control_client *cl, const char *command, const cJSON *args,
    const struct control_peer *peer, const char **code, char **message,
    void *arg)
{
	struct live *L = arg;
	cJSON *r;

	if (strcmp(command, "version") == 0) {
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "version", PACKAGE_VERSION);
		return r;
	}
	if (strcmp(command, "status") == 0)
		return cmd_status(L);
	if (strcmp(command, "stats") == 0)
		return cmd_stats(L);
	if (strcmp(command, "alerts") == 0)
		return cmd_alerts(L, args, code, message);
	if (strcmp(command, "alert") == 0)
		return cmd_alert(L, args, code, message);
	if (strcmp(command, "incidents") == 0)
		return live_cmd_incidents(L->store, args, code, message);
	if (strcmp(command, "incident") == 0)
		return live_cmd_incident(L->store, args, code, message);
	if (strcmp(command, "model") == 0)
		return cmd_model(L, code, message);
	if (strcmp(command, "report") == 0)
		return cmd_report(L, args, code, message);
	if (strcmp(command, "allows") == 0)
		return suppress_cmd_allows(
		    L->supp, L->store, now_us(), code, message);
	if (strcmp(command, "allow") == 0)
		return admin_only(peer, command, code, message)
		    ? suppress_cmd_allow(L->supp, L->store, args, peer,
			  now_us(), code, message)
		    : NULL;
	if (strcmp(command, "unallow") == 0)
		return admin_only(peer, command, code, message)
		    ? suppress_cmd_unallow(
			  L->supp, L->store, args, code, message)
		    : NULL;
	if (strcmp(command, "subscribe") == 0) {
		control_subscribe(cl);
		r = cJSON_CreateObject();
		cJSON_AddBoolToObject(r, "subscribed", 1);
		return r;
	}
	if (strcmp(command, "retrain") == 0) {
		if (!peer_is_admin(peer))
			return control_fail(code, message, "forbidden",
			    "retrain is for root and the daemon's user (uid "
			    "%u)",
			    (unsigned)geteuid());
		if (reload(L) != 0)
			return control_fail(code, message, "internal",
			    "retrain refused: the baseline buffer of %u flows "
			    "cannot be allocated; the current model keeps "
			    "detecting",
			    L->conf->baseline_max_flows);
		r = cJSON_CreateObject();
		cJSON_AddBoolToObject(r, "retraining", 1);
		cJSON_AddNumberToObject(
		    r, "baseline_seconds", L->conf->baseline_seconds);
		cJSON_AddNumberToObject(
		    r, "baseline_min_flows", L->conf->baseline_min_flows);
		return r;
	}
	return control_fail(code, message, "unknown_command",
	    "unknown command \"%s\"; try version, status, stats, alerts, "
	    "alert, incidents, incident, model, report, retrain, subscribe, "
	    "allow, allows, unallow",
	    command);
}

/* Create a folder (one level) when missing; 1 if it was created. */
static int
ensure_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		return 1;
	if (errno != EEXIST)
		fatal("mkdir %s", path);
	return 0;
}

/* Create the capture thread's state from the configuration. */
static void
create_capture(struct live *L)
{
	struct capthread_opts co;

	memset(&co, 0, sizeof(co));
	co.iface = L->conf->interface;
	co.filter = L->conf->filter;
	co.snaplen = (int)L->conf->snaplen;
	co.promisc = (int)L->conf->promisc;
	co.buffer_bytes = (int)L->conf->buffer_size;
	co.timeout_ms = (int)L->conf->capture_timeout_ms;
	co.batch = (int)L->conf->capture_batch;
	L->cap = capthread_create(&co);
}

/* Load the model: -m, else the state directory's, else learn one. */
static struct model *
load_model(struct live *L)
{
	struct model *m = NULL;
	char *cause = NULL;
	const char *path = L->o->model_path ? L->o->model_path : L->model_path;
	int rc;

	rc = model_load(&m, path, feat_table_hash(), FEAT_COUNT, &cause);
	if (rc == 0) {
		log_info("model %s loaded from %s: detecting",
		    model_info(m)->id, path);
		snprintf(L->model_file, sizeof(L->model_file), "%s", path);
		return m;
	}
	if (L->o->model_path != NULL)
		fatalx("%s", cause ? cause : "model: load failed");
	if (rc != -ENOENT)
		log_warnx("%s; learning a new baseline", cause);
	else
		log_info("no saved model in %s: learning a baseline of %u s "
			 "and at least %u flows",
		    L->conf->state_dir, L->conf->baseline_seconds,
		    L->conf->baseline_min_flows);
	free(cause);
	return NULL;
}

/* Open the store. */
static void
open_store(struct live *L)
{
	struct store_opts so;
	char dir[PATH_MAX], *cause = NULL;

	/* Opened after the switch, so the folder must be the user's too:
	 * SQLite creates the -wal and -shm files beside the database. */
	snprintf(dir, sizeof(dir), "%s", L->conf->db_path);
	if (access(dirname(dir), W_OK | X_OK) == -1)
		fatal("store: the folder %s of db_path is not writable by uid "
		      "%u; put db_path in state_dir or give that folder to "
		      "the user",
		    dir, (unsigned)geteuid());
	store_opts_default(&so);
	so.path = L->conf->db_path;
	so.fold_window_s = L->conf->alert_fold_seconds;
	so.rate_max_per_s = L->conf->alert_rate_max;
	if (store_open(&L->store, &so, &cause) != 0)
		fatalx("%s", cause ? cause : "store: open failed");
}

/* Bind the control socket, creating its folder when missing. */
static void
open_control(struct live *L)
{
	struct control_opts co;
	char dir[PATH_MAX], *cause = NULL;
	struct group *gr;

	snprintf(dir, sizeof(dir), "%s", L->conf->socket_path);
	/* A folder made here is handed to the user we drop to, so that the
	 * socket can be removed at exit; an existing one is left alone. */
	if (ensure_dir(dirname(dir), 0755))
		snprintf(L->sock_dir, sizeof(L->sock_dir), "%s", dir);
	memset(&co, 0, sizeof(co));
	co.path = L->conf->socket_path;
	co.mode = (mode_t)L->conf->socket_mode;
	/* Started as root, the socket belongs to the user anomd switches
	 * to, so that it can remove it at exit; the group is socket_group,
	 * else that user's. */
	co.uid = L->drop ? L->uid : (uid_t)-1;
	co.gid = L->drop ? L->gid : (gid_t)-1;
	if (L->conf->socket_group[0] != '\0') {
		if ((gr = getgrnam(L->conf->socket_group)) == NULL)
			fatalx("control: group \"%s\" does not exist",
			    L->conf->socket_group);
		co.gid = gr->gr_gid;
	}
	co.max_clients = L->conf->max_clients;
	co.max_per_uid = L->conf->max_clients_per_uid;
	co.reserved = CONTROL_RESERVED_CLIENTS;
	co.idle_s = L->conf->client_idle_seconds;
	co.first_s = L->conf->client_first_request_seconds;
	co.output_max = L->conf->client_output_max;
	co.line_max = CONTROL_LINE_MAX;
	if (control_open(&L->ctl, L->base, &co, control_cb, L, &cause) != 0)
		fatalx("%s", cause ? cause : "control: open failed");
}

/* Load the operator's suppressions; the daemon runs on without them. */
static void
load_suppressions(struct live *L)
{
	char *cause = NULL;
	int n;

	if ((n = suppress_load(L->supp, L->store, &cause)) < 0)
		log_warnx("%s; no suppressions applied",
		    cause ? cause : "suppress: load failed");
	else if (n > 0)
		log_info("suppress: %d operator suppression%s loaded", n,
		    n == 1 ? "" : "s");
	free(cause);
}

/* Serve /metrics on metrics_listen, unless it is empty. */
static void
open_metrics(struct live *L)
{
	char *cause = NULL;

	if (metrics_open(&L->metrics, L->base, L->conf->metrics_listen, fill_cb,
		L, &cause) != 0)
		fatalx("%s", cause ? cause : "metrics: open failed");
	if (L->metrics != NULL)
		log_info("metrics: serving http://%s/metrics",
		    L->conf->metrics_listen);
}

/* Create the detector and the flow table. */
static void
open_pipeline(struct live *L)
{
	struct alert_out_opts ao;
	struct flowtab_opts fo;
	struct detect_opts dop;

	memset(&ao, 0, sizeof(ao));
	ao.store = L->store;
	ao.evout = L->evout;
	ao.sensor = L->conf->sensor_name;
	ao.iface = L->iface; /* filled in when the capture opens */
	ao.explain_features = L->conf->explain_features;
	ao.stream_cb = stream_cb;
	ao.stream_arg = L;
	L->out = alert_out_create(&ao);
	L->supp = suppress_create();
	load_suppressions(L);
	memset(&dop, 0, sizeof(dop));
	dop.conf = L->conf;
	dop.model = load_model(L);
	dop.model_out = L->model_path;
	dop.store = L->store;
	dop.out = L->out;
	dop.async = 1;
	dop.supp = L->supp;
	L->report = report_create_live();
	dop.report = L->report;
	L->det = detect_create(&dop);
	if (dop.model != NULL)
		L->model_since_us = now_us();
	flowtab_opts_default(&fo);
	fo.memcap = L->conf->flow_memcap;
	fo.host_memcap = L->conf->host_memcap;
	fo.to = L->conf->to;
	fo.threaded = 1; /* features off the capture thread */
	if ((L->ft = flowtab_create(&fo, record_cb, L)) == NULL)
		fatal("flowtab: create");
	if ((L->q = recq_create(L->conf->record_queue)) == NULL)
		fatal("record queue: create");
	if ((L->stream = calloc(LIVE_STREAM_MAX, sizeof(char *))) == NULL)
		fatal("stream");
}

/*
 * Register the record queue, timer, training pipe and signal events, and
 * start the capture thread (after privileges were dropped).
 */
static void
add_events(struct live *L)
{
	static const int sigs[4] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1};
	struct timeval one = {1, 0};
	struct sigaction sa;
	int i, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	L->recq_ev =
	    event_new(L->base, recq_fd(L->q), EV_READ | EV_PERSIST, recq_cb, L);
	event_add(L->recq_ev, NULL);
	L->tick_ev = event_new(L->base, -1, EV_PERSIST, tick_cb, L);
	event_add(L->tick_ev, &one);
	if (pipe2(L->pipefd, O_CLOEXEC) == -1)
		fatal("pipe");
	L->train_ev = event_new(
	    L->base, L->pipefd[0], EV_READ | EV_PERSIST, train_done_cb, L);
	event_add(L->train_ev, NULL);
	for (i = 0; i < 4; i++) {
		L->sig_ev[i] = evsignal_new(L->base, sigs[i], signal_cb, L);
		event_add(L->sig_ev[i], NULL);
	}
	if ((rc = capthread_start(L->cap, L->ft, L->q)) != 0) {
		errno = -rc;
		fatal("capture: start thread");
	}
}

/* A second SIGTERM or SIGINT during shutdown ends the process at once. */
static void
hard_exit(int sig)
{
	(void)sig;
	_exit(1);
}

/* Wait a bounded time for a running training to finish. */
static void
wait_training(struct live *L)
{
	struct detect_job *j;
	int waited;

	for (waited = 0; L->worker_running && waited < LIVE_STOP_WAIT_MS;
	     waited += 50) {
		if (read(L->pipefd[0], &j, sizeof(j)) == (ssize_t)sizeof(j)) {
			pthread_join(L->worker, NULL);
			L->worker_running = 0;
			detect_job_finish(L->det, j);
			L->job = NULL;
			return;
		}
		usleep(50 * 1000);
	}
	if (L->worker_running)
		log_warnx("train: still running at exit; its model is dropped");
}

/* Log what became of the packets, flows and alerts, at exit. */
static void
log_alert_counts(struct live *L)
{
	const struct alert_out_stats *s = alert_out_stats(L->out);
	const struct cap_stats *cs = &L->snap.cs;
	struct recq_stats qs;

	log_info("capture: %" PRIu64 " packets captured, %" PRIu64
		 " received by the kernel, %" PRIu64 " dropped by the "
		 "kernel, %" PRIu64 " by the interface; %" PRIu64
		 " flows, %" PRIu64 " evicted at flow_memcap, %" PRIu64
		 " scored",
	    cs->frames, L->snap.kern_recv, L->snap.kern_drop,
	    L->snap.kern_ifdrop, cs->flows_created, cs->flows_evicted,
	    detect_stats(L->det)->scored);
	recq_stats(L->q, &qs);
	log_info("records: %" PRIu64 " queued for scoring, at most %" PRIu64
		 " waiting at once (record_queue %" PRIu64 "); capture waited "
		 "%" PRIu64 " times for a full queue",
	    qs.put, qs.high_water, qs.capacity, qs.full_waits);

	log_info("alerts: %" PRIu64 " raised: %" PRIu64 " stored, %" PRIu64
		 " folded into earlier rows, %" PRIu64 " capped by "
		 "alert_rate_max, %" PRIu64 " dropped (store queue full), "
		 "%" PRIu64 " rejected; %" PRIu64 " stream lines dropped; "
		 "%" PRIu64 " suppressed by the operator",
	    s->raised, s->stored, s->folded, s->capped, s->dropped, s->rejected,
	    L->stream_dropped, suppress_suppressed(L->supp));
}

/* Stop capture, score the open flows, commit, close: reverse start-up. */
static void
shutdown_all(struct live *L)
{
	struct sigaction sa;
	int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = hard_exit;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	notify_stopping();
	capthread_stop(L->cap); /* it closes, flushes, closes the queue */
	fcntl(L->pipefd[0], F_SETFL, O_NONBLOCK);
	wait_training(L);
	while (!recq_wait(L->q)) /* score every record, the flushed too */
		drain_records(L, SIZE_MAX);
	capthread_join(L->cap);
	update_snap(L); /* the totals logged at exit */
	detect_flush(L->det); /* write the open incidents */
	flush_store(L);
	if (suppress_sync(L->supp, L->store, NULL) != 0)
		log_warnx("suppress: hits could not be counted in the store");
	for (i = 0; i < 4; i++)
		event_free(L->sig_ev[i]);
	event_free(L->recq_ev);
	event_free(L->tick_ev);
	event_free(L->train_ev);
	metrics_close(L->metrics);
	L->metrics = NULL;
	control_close(L->ctl);
	if (store_close(L->store, NULL) != 0)
		log_warnx("store: queued alerts could not be written at exit");
	log_alert_counts(L);
	capthread_free(L->cap);
	flowtab_free(L->ft);
	recq_free(L->q);
	if (!L->worker_running) {
		detect_free(L->det);
		close(L->pipefd[0]);
		close(L->pipefd[1]);
	}
	alert_out_set_evout(L->out, NULL);
	evout_close(L->evout);
	L->evout = NULL;
	if (!L->worker_running) {
		alert_out_free(L->out);
		suppress_free(L->supp);
		report_free(L->report); /* the detector's hook, freed above */
	}
	for (i = 0; i < (int)L->nstream; i++)
		free(L->stream[i]);
	free(L->stream);
	event_base_free(L->base);
}

/*
 * Started as root: hand the state folder, the model, the database and its
 * journal files to the user anomd switches to, following no link
 * (priv_handover).  Done before the socket exists, so that a refusal
 * leaves nothing behind.
 */
static void
hand_over_state(struct live *L)
{
	char dir[PATH_MAX], base[PATH_MAX], dbdir[PATH_MAX], dbbase[PATH_MAX],
	    wal[PATH_MAX + 8], shm[PATH_MAX + 8], *cause = NULL;
	const char *model[] = {MODEL_FILE, NULL},
		   *db[] = {dbbase, wal, shm, NULL};

	if (!L->drop)
		return;
	snprintf(dir, sizeof(dir), "%s", L->conf->db_path);
	snprintf(base, sizeof(base), "%s", L->conf->db_path);
	snprintf(dbdir, sizeof(dbdir), "%s", dirname(dir));
	snprintf(dbbase, sizeof(dbbase), "%s", basename(base));
	snprintf(wal, sizeof(wal), "%s-wal", dbbase);
	snprintf(shm, sizeof(shm), "%s-shm", dbbase);
	if (priv_handover(
		L->conf->state_dir, 1, model, L->uid, L->gid, &cause) != 0 ||
	    priv_handover(dbdir, 0, db, L->uid, L->gid, &cause) != 0)
		fatalx("%s", cause ? cause : "privileges: hand-over failed");
}

/* Hand a socket folder made here to the user too, and switch to it. */
static void
drop_privileges(struct live *L)
{
	char *cause = NULL;

	if (!L->drop) {
		priv_drop(NULL, 0, 0);
		return;
	}
	if (L->sock_dir[0] != '\0' &&
	    priv_handover(L->sock_dir, 1, NULL, L->uid, L->gid, &cause) != 0)
		fatalx("%s", cause ? cause : "privileges: hand-over failed");
	priv_drop(L->conf->user, L->uid, L->gid);
}

/* Warn when the socket could not be removed at exit. */
static void
check_socket_dir(struct live *L)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", L->conf->socket_path);
	if (access(dirname(dir), W_OK | X_OK) == -1)
		log_warn("control: %s is not writable by uid %u, so the socket "
			 "cannot be removed at exit (access)",
		    dir, (unsigned)geteuid());
}

/* Run the daemon. */
/* libevent's own messages, through our log: right priority, journal too. */
static void
libevent_log_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warnx("libevent: %s", msg);
		break;
	default:
		log_errorx("libevent: %s", msg);
		break;
	}
}

int
live_run(const struct live_opts *o)
{
	struct live *L = &live_state;
	char *cause = NULL;
	int rc;

	L->o = o;
	L->conf = o->conf;
	apply_overrides(o, L->conf);
	L->start_us = now_us();
	snprintf(L->model_path, sizeof(L->model_path), "%s/" MODEL_FILE,
	    L->conf->state_dir);
	if ((rc = priv_user(L->conf->user, &L->uid, &L->gid, &cause)) < 0)
		fatalx("%s", cause);
	L->drop = rc > 0;
	event_set_log_callback(libevent_log_cb);
	if ((L->base = event_base_new()) == NULL)
		fatalx("event: cannot create the loop");
	ensure_dir(L->conf->state_dir, 0750);
	create_capture(L);
	if (capthread_open(L->cap, &cause) != 0) {
		/* Not fatal: the thread waits for the interface. */
		log_warnx("%s; retrying after 1 s, then doubling to 60 s",
		    cause ? cause : "capture: open failed");
		free(cause);
		cause = NULL;
	}
	update_snap(L);
	hand_over_state(L);
	open_control(L);
	open_metrics(L);
	drop_privileges(L);
	check_socket_dir(L);
	/* Root never opens the files the service user can replace. */
	open_store(L);
	if (evout_open(&L->evout, L->conf, L->base, &cause) != 0)
		fatalx("%s", cause ? cause : "eve: open failed");
	open_pipeline(L);
	add_events(L);
	L->wd_usec = notify_watchdog_usec();
	notify_ready();
	notify_status("%s", detect_state(L->det));
	log_info("anomd %s started: %s", PACKAGE_VERSION, detect_state(L->det));
	event_base_dispatch(L->base);
	shutdown_all(L);
	log_info("anomd stopped");
	return 0;
}
