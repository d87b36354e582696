/*
 * The capture thread: it reads packets and tracks flows, and does nothing
 * else, so that a slow store commit or a burst of scoring on the loop
 * thread never stops pcap reading.
 *
 * It owns the cap_source and the flow table from capthread_start() to its
 * end: it reads batches of packets (at most `capture_batch`), hands them
 * to flowtab_frame(), and once a second expires flows by the clock, reads
 * the kernel counters and publishes a snapshot (the flow table's counters,
 * whether the capture is up and why not) under a mutex for the loop
 * thread's status, stats and /metrics, which never call flowtab_*
 * themselves.  The flow table delivers records on its own thread (host
 * context, features), whose callback only copies them into the record
 * queue (recq.c); the loop thread scores them.
 *
 * Between batches it sleeps in poll(2) on the capture descriptor and an
 * eventfd that capthread_stop() writes, with a timeout that ends at the
 * next second.  The capture runs with a packet buffer timeout
 * (`capture_timeout_ms`) rather than immediate mode: the kernel hands
 * over whole TPACKET_V3 blocks, which costs far fewer wake-ups.
 *
 * A read error (the interface went away) closes the capture, and the
 * thread reopens it after 1 s, doubling the wait to 60 s, keeping the flow
 * table.  The thread is started after privileges are dropped, so it opens
 * with the same credentials the loop thread would.
 *
 * At stop it closes the capture, flushes the table (every open flow ends
 * with FLOW_END_SHUTDOWN; this may wait for the loop to drain the record
 * queue, which it does) and closes the record queue.
 */
#include <sys/eventfd.h>

#include <net/if.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"

#define CAP_REOPEN_MIN_S 1 /* first retry of a failed capture, */
#define CAP_REOPEN_MAX_S 60 /* doubling up to this */
#define CAP_TICK_US 1000000ull /* expiry and snapshot interval */
#define CAP_SYNC_US 100000ull /* when idle, deliver records this often */

struct capthread {
	struct capthread_opts o;
	struct flowtab *ft; /* threaded; ours while the thread runs */
	struct recq *q; /* closed when the table is flushed */
	char conf_iface[CONF_STR_MAX], filter[CONF_STR_MAX];
	struct cap_source *src;
	int dlt;
	int efd; /* written to stop */
	_Atomic int stop;
	pthread_t thr;
	int started;
	unsigned reopen_s;
	uint64_t last_reopen_us, last_sync_us;
	uint64_t kbase_recv, kbase_drop, kbase_ifdrop; /* of closed captures */
	struct capthread_snap cur; /* the thread's own copy */
	pthread_mutex_t mu;
	struct capthread_snap pub; /* under mu */
};

/* Wall-clock microseconds. */
static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Create the state. */
struct capthread *
capthread_create(const struct capthread_opts *o)
{
	struct capthread *ct;

	if ((ct = calloc(1, sizeof(*ct))) == NULL)
		fatal("capture: thread state");
	ct->o = *o;
	snprintf(ct->conf_iface, sizeof(ct->conf_iface), "%s",
	    o->iface ? o->iface : "");
	snprintf(
	    ct->filter, sizeof(ct->filter), "%s", o->filter ? o->filter : "");
	if ((ct->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("capture: eventfd");
	pthread_mutex_init(&ct->mu, NULL);
	ct->reopen_s = CAP_REOPEN_MIN_S;
	return ct;
}

/* Free the state. */
void
capthread_free(struct capthread *ct)
{
	if (ct == NULL)
		return;
	cap_source_close(ct->src);
	close(ct->efd);
	pthread_mutex_destroy(&ct->mu);
	free(ct);
}

/*
 * The interface to open: the configured one, else the default route's (or
 * the first one up), chosen again at each try and logged when it changes;
 * 0, or -ENODEV with *cause.
 */
static int
choose_iface(struct capthread *ct, char **cause)
{
	char name[IFNAMSIZ];
	const char *how;

	if (ct->conf_iface[0] != '\0') {
		snprintf(
		    ct->cur.iface, sizeof(ct->cur.iface), "%s", ct->conf_iface);
		return 0;
	}
	if (iface_default(
		IFACE_ROUTE4, IFACE_ROUTE6, name, sizeof(name), &how) != 0) {
		*cause = strdup("capture: interface not set, and there is no "
				"default route and no interface up");
		return -ENODEV;
	}
	if (strcmp(name, ct->cur.iface) != 0)
		log_info("capture: interface not set; using %s, %s", name, how);
	snprintf(ct->cur.iface, sizeof(ct->cur.iface), "%s", name);
	return 0;
}

/* Copy the thread's counters where the loop reads them. */
static void
publish(struct capthread *ct)
{
	pthread_mutex_lock(&ct->mu);
	ct->pub = ct->cur;
	pthread_mutex_unlock(&ct->mu);
}

/* Open the capture; 0, or -errno with *cause. */
int
capthread_open(struct capthread *ct, char **cause)
{
	struct cap_source_opts so;
	int rc;

	if ((rc = choose_iface(ct, cause)) != 0)
		goto out;
	memset(&so, 0, sizeof(so));
	so.iface = ct->cur.iface;
	so.snaplen = ct->o.snaplen;
	so.promisc = ct->o.promisc;
	so.buffer_bytes = ct->o.buffer_bytes;
	so.immediate = ct->o.timeout_ms == 0;
	so.timeout_ms = ct->o.timeout_ms;
	so.filter = ct->filter;
	if ((rc = cap_source_open(&ct->src, &so, cause)) != 0)
		goto out;
	ct->dlt = cap_source_linktype(ct->src);
	ct->cur.up = 1;
	ct->cur.error[0] = '\0';
	ct->reopen_s = CAP_REOPEN_MIN_S;
	log_info("capture: listening on %s, link type %d", so.iface, ct->dlt);
out:
	if (rc != 0) {
		snprintf(ct->cur.error, sizeof(ct->cur.error), "%s",
		    cause && *cause ? *cause : "capture: open failed");
		ct->last_reopen_us = now_us();
	}
	publish(ct);
	return rc;
}

/*
 * Kernel counters.  libpcap counts from zero in each open capture, so the
 * totals add what every closed one counted.
 */
static void
update_kstats(struct capthread *ct)
{
	uint64_t r, d, i;

	if (ct->src == NULL || cap_source_kstats(ct->src, &r, &d, &i) != 0)
		return;
	ct->cur.kern_recv = ct->kbase_recv + r;
	ct->cur.kern_drop = ct->kbase_drop + d;
	ct->cur.kern_ifdrop = ct->kbase_ifdrop + i;
}

/* Close the capture, keeping its last kernel counts. */
static void
close_source(struct capthread *ct)
{
	update_kstats(ct);
	ct->kbase_recv = ct->cur.kern_recv;
	ct->kbase_drop = ct->cur.kern_drop;
	ct->kbase_ifdrop = ct->cur.kern_ifdrop;
	cap_source_close(ct->src);
	ct->src = NULL;
	ct->cur.up = 0;
}

/* A frame arrived. */
static void
frame_cb(const struct cap_frame *f, void *arg)
{
	struct capthread *ct = arg;

	flowtab_frame(ct->ft, ct->dlt, f);
}

/*
 * Read one batch; the number of packets, or -1 when a read error closed
 * the capture.
 */
static int
read_batch(struct capthread *ct)
{
	char *cause = NULL;
	int eof, n;

	n = cap_source_dispatch(
	    ct->src, ct->o.batch, frame_cb, ct, &eof, &cause);
	if (n >= 0)
		return n;
	snprintf(ct->cur.error, sizeof(ct->cur.error), "%s",
	    cause ? cause : "capture: read failed");
	log_warnx("%s; capture closed, reopening after %d s, then doubling "
		  "to %d s",
	    ct->cur.error, CAP_REOPEN_MIN_S, CAP_REOPEN_MAX_S);
	free(cause);
	ct->cur.errors++;
	close_source(ct);
	ct->reopen_s = CAP_REOPEN_MIN_S;
	ct->last_reopen_us = now_us();
	publish(ct);
	return -1;
}

/*
 * Try to reopen a capture that failed or never opened, after reopen_s
 * seconds, doubling the wait from CAP_REOPEN_MIN_S to CAP_REOPEN_MAX_S.
 */
static void
reopen(struct capthread *ct, uint64_t now)
{
	char *cause = NULL;

	if (now - ct->last_reopen_us < ct->reopen_s * 1000000ull)
		return;
	if (capthread_open(ct, &cause) == 0)
		return;
	ct->cur.reopen_fails++;
	if (ct->reopen_s < CAP_REOPEN_MAX_S) {
		ct->reopen_s = ct->reopen_s * 2 > CAP_REOPEN_MAX_S
		    ? CAP_REOPEN_MAX_S
		    : ct->reopen_s * 2;
		log_warnx("%s; retrying in %u s", ct->cur.error, ct->reopen_s);
	} else if (ct->cur.reopen_fails % 60 == 0)
		log_warnx("%s (still retrying every %d s)", ct->cur.error,
		    CAP_REOPEN_MAX_S);
	free(cause);
	publish(ct);
}

/*
 * Once a second: expire by the clock, then bring the counters up to date
 * (flowtab_stats() also waits until the delivery thread has handed every
 * record so far to the queue, so no record waits longer than this).
 */
static void
tick(struct capthread *ct, uint64_t now)
{
	flowtab_expire(ct->ft, now);
	ct->cur.cs = *flowtab_stats(ct->ft);
	update_kstats(ct);
	publish(ct);
}

/* Sleep until the capture is readable, a stop, or until the deadline. */
static void
sleep_until(struct capthread *ct, uint64_t deadline)
{
	struct pollfd pfd[2];
	uint64_t now = now_us(), v;
	int nfd = 1, ms;

	ms = deadline > now ? (int)((deadline - now + 999) / 1000) : 0;
	pfd[0].fd = ct->efd;
	pfd[0].events = POLLIN;
	if (ct->src != NULL && (pfd[1].fd = cap_source_fd(ct->src)) >= 0) {
		pfd[1].events = POLLIN;
		nfd = 2;
	}
	if (poll(pfd, (nfds_t)nfd, ms) > 0 && (pfd[0].revents & POLLIN))
		while (read(ct->efd, &v, sizeof(v)) == -1 && errno == EINTR)
			;
}

static void *
capthread_main(void *arg)
{
	struct capthread *ct = arg;
	uint64_t now, next_tick = 0, deadline;
	int n;

	while (!atomic_load(&ct->stop)) {
		now = now_us();
		if (now >= next_tick) {
			tick(ct, now);
			next_tick = now + CAP_TICK_US;
		}
		if (ct->src == NULL) {
			reopen(ct, now);
			deadline =
			    ct->last_reopen_us + ct->reopen_s * 1000000ull;
			if (ct->src == NULL)
				sleep_until(ct,
				    deadline < next_tick ? deadline
							 : next_tick);
			continue;
		}
		if ((n = read_batch(ct)) != 0)
			continue;
		/*
		 * Nothing to read: hand what the delivery ring holds to the
		 * queue before sleeping (it wakes its thread only for a
		 * full batch), at most every CAP_SYNC_US.
		 */
		if (now - ct->last_sync_us >= CAP_SYNC_US) {
			flowtab_sync(ct->ft);
			ct->last_sync_us = now;
		}
		sleep_until(ct, next_tick);
	}
	if (ct->src != NULL)
		close_source(ct);
	flowtab_flush(ct->ft, FLOW_END_SHUTDOWN);
	ct->cur.cs = *flowtab_stats(ct->ft);
	publish(ct);
	recq_close(ct->q);
	return NULL;
}

/* Start the thread on table ft, feeding queue q. */
int
capthread_start(struct capthread *ct, struct flowtab *ft, struct recq *q)
{
	int rc;

	ct->ft = ft;
	ct->q = q;
	if ((rc = pthread_create(&ct->thr, NULL, capthread_main, ct)) != 0)
		return -rc;
	ct->started = 1;
	return 0;
}

/* Ask the thread to stop. */
void
capthread_stop(struct capthread *ct)
{
	uint64_t one = 1;
	ssize_t n;

	atomic_store(&ct->stop, 1);
	do
		n = write(ct->efd, &one, sizeof(one));
	while (n == -1 && errno == EINTR);
}

/* Wait for the thread to end. */
void
capthread_join(struct capthread *ct)
{
	if (!ct->started)
		return;
	pthread_join(ct->thr, NULL);
	ct->started = 0;
}

/* The last snapshot. */
void
capthread_snapshot(struct capthread *ct, struct capthread_snap *s)
{
	pthread_mutex_lock(&ct->mu);
	*s = ct->pub;
	pthread_mutex_unlock(&ct->mu);
}
