/*
 * bench_store: how fast alerts go in and come out.
 *
 * usage: bench_store [-s ALERTS] [dir] [normal]
 * Writes DIR/bench.db (default /tmp), prints put and flush rates for a few
 * batch sizes, then query and retention times.  "normal" switches the
 * connection to synchronous=NORMAL to show what the FULL fsync costs.
 *
 * With -s it prints only the sustained rate: ALERTS unique alerts put and
 * flushed in batches of max_pending with no rate cap and no folding, as
 * an alert storm meets the store, then the same with every alert also
 * growing one of a few hundred incidents.  The rate counts committed
 * alerts over the whole time, puts and flushes both.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

#define BENCH_ROUNDS 20
#define BENCH_INCIDENT_HOSTS 256
#define T0_US 1700000000000000ULL

/* Monotonic seconds. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A typical alert; n makes the key unique so nothing folds. */
static void
bench_alert(struct store_alert *a, unsigned long n)
{
	memset(a, 0, sizeof(*a));
	a->ts_us = T0_US + n * 1000;
	a->ts_first_us = a->ts_us - 5000000;
	a->ts_last_us = a->ts_us - 1000;
	a->proto = 6;
	snprintf(a->src_ip, sizeof(a->src_ip), "10.%lu.%lu.%lu",
	    (n >> 16) & 255, (n >> 8) & 255, n & 255);
	a->src_port = (uint16_t)(1024 + n % 60000);
	snprintf(a->dst_ip, sizeof(a->dst_ip), "192.168.%lu.%lu",
	    (n >> 8) & 255, n & 255);
	a->dst_port = 443;
	a->packets = 42;
	a->bytes = 31337;
	a->score = 3.5;
	a->threshold = 1.25;
	snprintf(a->model_id, sizeof(a->model_id), "0123456789abcdef");
	snprintf(a->explanation, sizeof(a->explanation),
	    "[{\"feature\":\"bytes_out\",\"error\":1.5},"
	    "{\"feature\":\"dst_port_entropy\",\"error\":0.7},"
	    "{\"feature\":\"duration\",\"error\":0.2}]");
}

/* Put and flush rounds of batch alerts; print the rates. */
static int
bench_batch(struct store *st, size_t batch, unsigned long *n)
{
	struct store_alert a;
	double t, put_s = 0, flush_s = 0, worst = 0, d;
	char *cause = NULL;
	size_t i;
	int r;

	for (r = 0; r < BENCH_ROUNDS; r++) {
		t = now_s();
		for (i = 0; i < batch; i++) {
			bench_alert(&a, (*n)++);
			if (store_alert_put(st, &a, NULL) != STORE_PUT_NEW)
				return -EIO;
		}
		put_s += now_s() - t;
		t = now_s();
		if (store_flush(st, &cause) != 0) {
			fprintf(stderr, "%s\n", cause);
			free(cause);
			return -EIO;
		}
		d = now_s() - t;
		flush_s += d;
		if (d > worst)
			worst = d;
	}
	printf("batch %5zu: put %9.0f alerts/s, flush %8.0f alerts/s, "
	       "flush mean %6.2f ms max %6.2f ms\n",
	    batch, batch * BENCH_ROUNDS / put_s, batch * BENCH_ROUNDS / flush_s,
	    flush_s * 1e3 / BENCH_ROUNDS, worst * 1e3);
	return 0;
}

/*
 * Put and commit n alerts in batches of batch, with incidents when asked;
 * print the alerts committed per second.
 */
static int
bench_sustained(struct store *st, unsigned long n, size_t batch, int incidents,
    unsigned long *seq)
{
	static int64_t ids[BENCH_INCIDENT_HOSTS];
	static struct store_incident inc[BENCH_INCIDENT_HOSTS];
	struct store_stats before, after;
	struct store_alert a;
	struct store_incident *in;
	char *cause = NULL;
	double t;
	unsigned long done = 0, h;
	int64_t id;

	memset(ids, 0, sizeof(ids));
	memset(inc, 0, sizeof(inc));
	store_stats(st, &before);
	t = now_s();
	while (done < n) {
		for (size_t i = 0; i < batch && done < n; i++, done++) {
			bench_alert(&a, (*seq)++);
			if (incidents) {
				h = *seq % BENCH_INCIDENT_HOSTS;
				in = &inc[h];
				if (in->alerts == 0) {
					in->first_us = a.ts_first_us;
					snprintf(in->host, sizeof(in->host),
					    "%s", a.src_ip);
					snprintf(in->summary,
					    sizeof(in->summary),
					    "%s contacted many hosts",
					    a.src_ip);
					memcpy(in->model_id, a.model_id,
					    sizeof(in->model_id));
				}
				in->id = ids[h];
				in->last_us = a.ts_last_us;
				in->alerts++;
				in->flows++;
				in->peers_n = in->ports_n = in->alerts;
				in->score_max = a.score;
				if (store_incident_put(st, in, &id) != 0)
					return -EIO;
				ids[h] = id;
				a.incident_id = id;
			}
			if (store_alert_put(st, &a, NULL) != STORE_PUT_NEW)
				return -EIO;
		}
		if (store_flush(st, &cause) != 0) {
			fprintf(stderr, "%s\n", cause);
			free(cause);
			return -EIO;
		}
	}
	t = now_s() - t;
	store_stats(st, &after);
	printf("sustained, no rate cap, batch %zu%s: %lu alerts committed in "
	       "%.2f s: %.0f alerts/s\n",
	    batch, incidents ? ", with incidents" : "",
	    (unsigned long)(after.written - before.written), t,
	    (double)(after.written - before.written) / t);
	return 0;
}

/* Count rows; the query cost is what is measured. */
static int
count_cb(const struct store_alert *a, void *arg)
{
	(void)a;
	(*(int *)arg)++;
	return 0;
}

/* Time the control socket's typical queries and one retention chunk. */
static void
bench_read(struct store *st, unsigned long n)
{
	struct store_query q;
	double t;
	int rows = 0, del;

	memset(&q, 0, sizeof(q));
	t = now_s();
	store_alerts_query(st, &q, count_cb, &rows, NULL);
	printf("query newest 100 of %lu: %.2f ms\n", n, (now_s() - t) * 1e3);
	q.src_ip = "10.0.1.7";
	t = now_s();
	store_alerts_query(st, &q, count_cb, &rows, NULL);
	printf("query by src_ip: %.2f ms\n", (now_s() - t) * 1e3);
	q.src_ip = NULL;
	q.since_us = T0_US + (n / 2) * 1000;
	q.limit = 1000;
	t = now_s();
	store_alerts_query(st, &q, count_cb, &rows, NULL);
	printf("query since (1000 rows): %.2f ms\n", (now_s() - t) * 1e3);
	t = now_s();
	del = store_retain(st, T0_US + n * 1000, (uint32_t)(n / 2000), 0, NULL);
	printf(
	    "retain one chunk (%d rows): %.2f ms\n", del, (now_s() - t) * 1e3);
}

/* Write, read and purge a scratch database and print the timings. */
int
main(int argc, char **argv)
{
	static const size_t batches[] = {1, 100, 1000, 4096};
	struct store_opts o;
	struct store *st;
	char path[4096], *cause = NULL, *end;
	unsigned long n = 0, sustained = 0;
	size_t i;
	int c;

	while ((c = getopt(argc, argv, "s:")) != -1) {
		switch (c) {
		case 's':
			errno = 0;
			sustained = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || sustained == 0 ||
			    sustained > 100000000) {
				fprintf(stderr,
				    "bench_store: -s %s out of "
				    "range (1..100000000)\n",
				    optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr,
			    "usage: bench_store [-s ALERTS] [dir] "
			    "[normal]\n");
			return 2;
		}
	}
	argc -= optind - 1;
	argv += optind - 1;
	snprintf(
	    path, sizeof(path), "%s/bench.db", argc > 1 ? argv[1] : "/tmp");
	unlink(path);
	store_opts_default(&o);
	o.path = path;
	o.rate_max_per_s = 0;
	o.fold_window_s = 0;
	if (store_open(&st, &o, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	if (argc > 2 && strcmp(argv[2], "normal") == 0)
		sqlite3_exec(store_db(st), "PRAGMA synchronous = NORMAL", NULL,
		    NULL, NULL);
	if (sustained > 0) {
		if (bench_sustained(st, sustained, o.max_pending, 0, &n) != 0 ||
		    bench_sustained(st, sustained,
			o.max_pending - BENCH_INCIDENT_HOSTS, 1, &n) != 0)
			return 1;
		store_close(st, NULL);
		unlink(path);
		return 0;
	}
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++)
		if (bench_batch(st, batches[i], &n) != 0)
			return 1;
	bench_read(st, n);
	store_close(st, NULL);
	return 0;
}
