/*
 * evout_feed: drive the live EVE output (daemon/evout.c) on a libevent loop
 * as the daemon would, for tests/evout.sh.  It writes N numbered lines
 * ({"seq":I,...}), RATE a millisecond, waits until the queue is empty (or
 * a deadline), closes the output and prints its counters:
 *
 *   evout_feed N RATE key=value...
 *   -> written=W dropped=D errors=E reconnects=R queued=Q
 *
 * Each key=value is one anomd.conf line (eve_output, eve_redis_socket...).
 * EVOUT_FEED_DRAIN_S in the environment shortens the wait (default 30 s).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/daemon.h"

#define FEED_DRAIN_S 30 /* wait this long at most for the queue to empty */

struct feed {
	struct evout *o;
	struct event_base *base;
	struct event *ev;
	unsigned long n, rate, sent;
	time_t drain_s, deadline; /* for the queue to empty */
};

/* Every millisecond: write RATE more lines, then wait for the queue. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct feed *f = arg;
	struct evout_stats st;
	char line[256];
	unsigned long i;
	int len;

	(void)fd, (void)what;
	for (i = 0; i < f->rate && f->sent < f->n; i++, f->sent++) {
		len = snprintf(line, sizeof(line),
		    "{\"event_type\":\"alert\",\"seq\":%lu,\"host\":\"feed\"}",
		    f->sent);
		evout_write(f->o, line, (size_t)len);
	}
	if (f->sent < f->n)
		return;
	evout_get_stats(f->o, &st);
	if (f->deadline == 0)
		f->deadline = time(NULL) + f->drain_s;
	if (st.queued == 0 || time(NULL) >= f->deadline)
		event_base_loopbreak(f->base);
}

int
main(int argc, char **argv)
{
	static struct anomd_conf c;
	struct timeval ms = {0, 1000};
	struct evout_stats st;
	struct feed f;
	char *cause = NULL;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: evout_feed N RATE key=value...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_init("evout_feed", 1, 0);
	memset(&f, 0, sizeof(f));
	f.n = strtoul(argv[1], NULL, 10);
	f.rate = strtoul(argv[2], NULL, 10);
	f.drain_s = getenv("EVOUT_FEED_DRAIN_S") != NULL
	    ? (time_t)strtoul(getenv("EVOUT_FEED_DRAIN_S"), NULL, 10)
	    : FEED_DRAIN_S;
	conf_defaults(&c);
	for (i = 3; i < argc; i++)
		if (conf_parse_line(&c, "argv", i, argv[i], &cause) != 0)
			fatalx("%s", cause);
	if ((f.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (evout_open(&f.o, &c, f.base, &cause) != 0)
		fatalx("%s", cause);
	f.ev = event_new(f.base, -1, EV_PERSIST, tick_cb, &f);
	event_add(f.ev, &ms);
	event_base_dispatch(f.base);
	event_free(f.ev);
	evout_get_stats(f.o, &st);
	printf("queued=%lu ", (unsigned long)st.queued);
	evout_close(f.o); /* the last flush may still write or drop some */
	/* evout_close freed the output: report what it counted before. */
	printf("written=%lu dropped=%lu errors=%lu reconnects=%lu\n",
	    (unsigned long)st.written, (unsigned long)st.dropped,
	    (unsigned long)st.errors, (unsigned long)st.reconnects);
	event_base_free(f.base);
	return 0;
}
