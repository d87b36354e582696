/*
 * Live EVE outputs, configured like Suricata's eve-log: a regular file,
 * syslog, a UNIX datagram socket or Redis (a stream or a list).
 *
 * Every output shares one bounded queue of lines (eve_queue_max).  A write
 * appends to the queue and makes a "kick" event active, so everything one
 * loop iteration produced (one capture batch) leaves in one go once the
 * callback returns: a single writev() for a file, a pipeline of commands
 * for Redis.  A line leaves the queue only when its output took it (the
 * file write returned, the datagram was sent, Redis answered), so a line
 * is always in exactly one of three places: written, dropped (counted) or
 * queued.  When the queue is full the newest line is dropped and counted;
 * a warning says so at most once a minute, with counts.
 *
 * Why these choices:
 *  - The file is written with plain write() from the loop.  On a regular
 *    file O_NONBLOCK means nothing; the write lands in the page cache and
 *    the kernel writes back on its own, so only a disk that has been slower
 *    than the alert rate for long (dirty-page throttling) can stall the
 *    loop.  Batching per iteration keeps that to one system call per
 *    capture batch.  SIGUSR1 reopens the file by name for logrotate.
 *  - syslog() is called with facility | level in the priority and without
 *    openlog(), so the daemon's own log keeps its facility.  Delivery after
 *    /dev/log is syslogd's (rsyslog can forward to Kafka or Elasticsearch).
 *  - The datagram socket is non-blocking: a full receiver (EAGAIN) waits
 *    for EV_WRITE with the lines kept; a receiver that went away is
 *    reconnected with backoff.
 *  - Redis goes through hiredis's async API on the daemon's own libevent
 *    loop: a well-kept client with a libevent adapter beats a hand-written
 *    RESP encoder and parser.  At most EVOUT_REDIS_INFLIGHT commands wait
 *    for their replies; replies come in order, so each one retires the
 *    queue's head.  When the connection drops, the unanswered lines stay
 *    queued and are sent again after the reconnect (at-least-once: a line
 *    Redis stored just before the drop can arrive twice).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_HIREDIS
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#endif

#include "daemon/daemon.h"

#define EVOUT_LINE_MAX (1024 * 1024) /* longest line, newline included */
#define EVOUT_IOV 64 /* lines per writev() */
#define EVOUT_DROP_LOG_S 60 /* at most one drop warning this often */
#ifndef EVOUT_REDIS_INFLIGHT
#define EVOUT_REDIS_INFLIGHT 256 /* commands waiting for a reply */
#endif
#ifndef EVOUT_BACKOFF_MIN_MS
#define EVOUT_BACKOFF_MIN_MS 100
#endif
#ifndef EVOUT_BACKOFF_MAX_MS
#define EVOUT_BACKOFF_MAX_MS 10000
#endif
#define EVOUT_CONNECT_TIMEOUT_MS 5000 /* a Redis connect that hangs */
#define EVOUT_CLOSE_WAIT_MS 2000 /* the last Redis flush at close */
#define EVOUT_AUTH_MAX 512 /* bytes of a Redis user name or password */

enum evout_kind {
	EVOUT_REGULAR,
	EVOUT_SYSLOG,
	EVOUT_DGRAM,
	EVOUT_REDIS
};

/* One queued line: the JSON object and a newline. */
struct evline {
	size_t len; /* bytes in buf, newline included */
	char buf[];
};

struct evout {
	enum evout_kind kind;
	struct event_base *base;
	struct evline **ring; /* cap slots; n lines from head */
	size_t cap, head, n;
	size_t nsent; /* redis: lines from head waiting for a reply */
	size_t off; /* regular: bytes of the head line already written */
	struct event *kick_ev, *retry_ev, *io_ev;
	int fd;
	int pri; /* syslog: facility | level */
	unsigned backoff_ms; /* the next reconnect's delay */
	int connected, closing; /* redis, unix_dgram */
	int ever_up; /* connected once: the next is a reconnect */
	int down; /* the output is down and that was logged */
	char path[PATH_MAX]; /* file, datagram socket or Redis socket */
	char host[CONF_STR_MAX];
	int port;
	char key[CONF_STR_MAX];
	int stream; /* redis: XADD, else RPUSH */
	char maxlen[24];
	/* redis AUTH: nauth 0 (none), 1 (password) or 2 (user, password) */
	int nauth;
	char auth_user[EVOUT_AUTH_MAX], auth_pass[EVOUT_AUTH_MAX];
	struct evout_stats st;
	uint64_t drop_log_us, drop_logged;
#ifdef HAVE_HIREDIS
	redisAsyncContext *ac;
#endif
};

static const struct {
	const char *name;
	int val;
} facilities[] = {
    {"kern", LOG_KERN},
    {"user", LOG_USER},
    {"mail", LOG_MAIL},
    {"daemon", LOG_DAEMON},
    {"auth", LOG_AUTH},
    {"syslog", LOG_SYSLOG},
    {"lpr", LOG_LPR},
    {"news", LOG_NEWS},
    {"uucp", LOG_UUCP},
    {"cron", LOG_CRON},
    {"authpriv", LOG_AUTHPRIV},
    {"ftp", LOG_FTP},
    {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
    {"emerg", LOG_EMERG},
    {"alert", LOG_ALERT},
    {"crit", LOG_CRIT},
    {"err", LOG_ERR},
    {"warning", LOG_WARNING},
    {"notice", LOG_NOTICE},
    {"info", LOG_INFO},
    {"debug", LOG_DEBUG},
};

static void drain(struct evout *o);
static void drain_cb(evutil_socket_t fd, short what, void *arg);

/* Monotonic microseconds. */
static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The value of a facility or level name, or -1. */
static int
syslog_value(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].val;
	return -1;
}

/* Set *cause (when asked for) and return -EINVAL. */
static int __attribute__((format(printf, 2, 3)))
check_err(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause != NULL) {
		va_start(ap, fmt);
		if (vasprintf(cause, fmt, ap) < 0)
			*cause = NULL;
		va_end(ap);
	}
	return -EINVAL;
}

/* Resolve eve_filename against state_dir into buf. */
static int
file_path(const struct anomd_conf *c, char *buf, size_t len)
{
	int n;

	if (c->eve_filename[0] == '/')
		n = snprintf(buf, len, "%s", c->eve_filename);
	else
		n = snprintf(buf, len, "%s/%s", c->state_dir, c->eve_filename);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Check what the key table cannot: values that go together and paths. */
int
evout_check_conf(const struct anomd_conf *c, char **cause)
{
	struct sockaddr_un sun;
	char path[PATH_MAX];
	const char *o = c->eve_output;

	if (strcmp(o, "none") == 0)
		return 0;
	if (strcmp(o, "regular") == 0) {
		if (c->eve_filename[0] == '\0')
			return check_err(cause, "eve_filename: empty");
		if (file_path(c, path, sizeof(path)) != 0)
			return check_err(cause, "eve_filename: path too long");
	} else if (strcmp(o, "syslog") == 0) {
		if (syslog_value(c->eve_syslog_facility) < 0 ||
		    syslog_value(c->eve_syslog_level) < 0)
			return check_err(cause,
			    "eve_syslog_facility or "
			    "eve_syslog_level: unknown");
	} else if (strcmp(o, "unix_dgram") == 0) {
		if (c->eve_socket[0] == '\0')
			return check_err(
			    cause, "eve_output unix_dgram needs eve_socket");
		if (strlen(c->eve_socket) >= sizeof(sun.sun_path))
			return check_err(cause,
			    "eve_socket: longer than %zu bytes",
			    sizeof(sun.sun_path) - 1);
	} else if (strcmp(o, "redis") == 0) {
#ifndef HAVE_HIREDIS
		return check_err(cause,
		    "eve_output redis: anomd was built "
		    "without hiredis (libhiredis-dev)");
#endif
		if (strlen(c->eve_redis_socket) >= sizeof(sun.sun_path))
			return check_err(cause,
			    "eve_redis_socket: longer than %zu bytes",
			    sizeof(sun.sun_path) - 1);
		if (c->eve_redis_socket[0] == '\0' &&
		    c->eve_redis_server[0] == '\0')
			return check_err(cause,
			    "eve_output redis needs "
			    "eve_redis_server or "
			    "eve_redis_socket");
		if (c->eve_redis_key[0] == '\0')
			return check_err(cause, "eve_redis_key: empty");
		/* its existence is the daemon's to see: a credential appears
		 * only in the running unit */
		if (c->eve_redis_auth_file[0] != '\0' &&
		    c->eve_redis_auth_file[0] != '/')
			return check_err(cause,
			    "eve_redis_auth_file: \"%s\" is not an absolute "
			    "path",
			    c->eve_redis_auth_file);
	} else
		return check_err(cause, "eve_output \"%s\": unknown", o);
	return 0;
}

/* Count n lines as dropped; warn at most once a minute, with counts. */
static void
drop(struct evout *o, uint64_t n, const char *why)
{
	uint64_t now = mono_us();

	o->st.dropped += n;
	if (o->drop_log_us != 0 &&
	    now - o->drop_log_us < EVOUT_DROP_LOG_S * 1000000ull)
		return;
	log_warnx("eve: %" PRIu64 " line%s dropped (%s); %" PRIu64
		  " dropped since start",
	    o->st.dropped - o->drop_logged,
	    o->st.dropped - o->drop_logged == 1 ? "" : "s", why, o->st.dropped);
	o->drop_log_us = now;
	o->drop_logged = o->st.dropped;
}

/* Say once that the output went down. */
static void
went_down(struct evout *o, const char *what, const char *why)
{
	o->st.errors++;
	if (!o->down && !o->closing)
		log_warnx("eve: %s: %s; lines are queued (at most %zu) and "
			  "retried",
		    what, why, o->cap);
	o->down = 1;
}

/* Say once that the output is back. */
static void
came_up(struct evout *o, const char *what)
{
	if (o->down)
		log_info("eve: %s: back; %zu queued", what, o->n);
	o->down = 0;
}

/* Free the head line. */
static void
pop(struct evout *o)
{
	free(o->ring[o->head]);
	o->ring[o->head] = NULL;
	o->head = (o->head + 1) % o->cap;
	o->n--;
	o->off = 0;
}

/* The i-th queued line. */
static struct evline *
at(const struct evout *o, size_t i)
{
	return o->ring[(o->head + i) % o->cap];
}

/* Run drain once the current callback returns. */
static void
kick(struct evout *o)
{
	if (!o->closing)
		event_active(o->kick_ev, EV_TIMEOUT, 1);
}

/* Retry after the current backoff, then double it. */
static void
retry_later(struct evout *o)
{
	struct timeval tv;

	if (o->closing || evtimer_pending(o->retry_ev, NULL))
		return;
	tv.tv_sec = o->backoff_ms / 1000;
	tv.tv_usec = (o->backoff_ms % 1000) * 1000;
	evtimer_add(o->retry_ev, &tv);
	o->backoff_ms *= 2;
	if (o->backoff_ms > EVOUT_BACKOFF_MAX_MS)
		o->backoff_ms = EVOUT_BACKOFF_MAX_MS;
}

/* ---- regular file ------------------------------------------------------- */

/* Open the file for appending. */
static int
file_open(struct evout *o)
{
	int err;

	o->fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (o->fd == -1) {
		err = errno;
		went_down(o, o->path, strerror(err));
		return -err;
	}
	came_up(o, o->path);
	o->backoff_ms = EVOUT_BACKOFF_MIN_MS;
	return 0;
}

/* Write queued lines, EVOUT_IOV at a time, until done or an error. */
static void
file_drain(struct evout *o)
{
	struct iovec iov[EVOUT_IOV];
	struct evline *l;
	size_t i, k;
	ssize_t w;

	if (o->fd == -1 && evtimer_pending(o->retry_ev, NULL))
		return; /* reopened after the backoff */
	if (o->fd == -1 && file_open(o) != 0) {
		retry_later(o);
		return;
	}
	while (o->n > 0) {
		k = o->n < EVOUT_IOV ? o->n : EVOUT_IOV;
		for (i = 0; i < k; i++) {
			l = at(o, i);
			iov[i].iov_base = l->buf + (i == 0 ? o->off : 0);
			iov[i].iov_len = l->len - (i == 0 ? o->off : 0);
		}
		if ((w = writev(o->fd, iov, (int)k)) == -1) {
			if (errno == EINTR)
				continue;
			went_down(o, o->path, strerror(errno));
			retry_later(o);
			return;
		}
		came_up(o, o->path);
		while (w > 0) {
			l = at(o, 0);
			if ((size_t)w < l->len - o->off) {
				o->off += (size_t)w;
				break;
			}
			w -= (ssize_t)(l->len - o->off);
			pop(o);
			o->st.written++;
		}
	}
}

/* ---- syslog ------------------------------------------------------------- */

/* Hand every queued line to syslog. */
static void
syslog_drain(struct evout *o)
{
	struct evline *l;

	while (o->n > 0) {
		l = at(o, 0);
		syslog(o->pri, "%.*s", (int)(l->len - 1), l->buf);
		pop(o);
		o->st.written++;
	}
}

/* ---- unix_dgram --------------------------------------------------------- */

/* Close the datagram socket and its write event. */
static void
dgram_close(struct evout *o)
{
	if (o->io_ev != NULL)
		event_free(o->io_ev);
	o->io_ev = NULL;
	if (o->fd != -1)
		close(o->fd);
	o->fd = -1;
	o->connected = 0;
}

/* Connect the datagram socket; 0 or -1 (retry scheduled). */
static int
dgram_connect(struct evout *o)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, o->path, /* length checked in evout_check_conf */
	    strnlen(o->path, sizeof(sun.sun_path) - 1));
	if (o->fd == -1 &&
	    (o->fd = socket(
		 AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	if (connect(o->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		goto fail;
	if ((o->io_ev = event_new(o->base, o->fd, EV_WRITE, drain_cb, o)) ==
	    NULL) {
		errno = ENOMEM;
		goto fail;
	}
	if (o->ever_up)
		o->st.reconnects++;
	o->ever_up = o->connected = 1;
	o->backoff_ms = EVOUT_BACKOFF_MIN_MS;
	came_up(o, o->path);
	return 0;
fail:
	went_down(o, o->path, strerror(errno));
	dgram_close(o);
	retry_later(o);
	return -1;
}

/* Send queued lines as datagrams until done or the receiver is full. */
static void
dgram_drain(struct evout *o)
{
	struct evline *l;

	if (o->fd == -1 &&
	    (evtimer_pending(o->retry_ev, NULL) || dgram_connect(o) != 0))
		return; /* reconnected after the backoff */
	while (o->n > 0) {
		l = at(o, 0);
		if (send(o->fd, l->buf, l->len - 1, MSG_NOSIGNAL) != -1) {
			pop(o);
			o->st.written++;
			continue;
		}
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
			event_add(o->io_ev, NULL);
			return;
		case ENOBUFS:
			o->st.errors++;
			retry_later(o);
			return;
		case EMSGSIZE:
			o->st.errors++;
			pop(o);
			drop(o, 1, "line too long for a datagram");
			continue;
		default: /* ECONNREFUSED, ENOENT: the receiver went away */
			went_down(o, o->path, strerror(errno));
			dgram_close(o);
			retry_later(o);
			return;
		}
	}
}

/* ---- redis -------------------------------------------------------------- */

#ifdef HAVE_HIREDIS
static void redis_connect(struct evout *o);

/* A reply retires the head line; a NULL reply (connection gone) leaves it
 * queued for the next connection. */
static void
redis_reply_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct evout *o = arg;
	redisReply *r = reply;

	(void)ac;
	if (o->nsent > 0)
		o->nsent--;
	if (r == NULL || o->n == 0)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		o->st.errors++;
		if (o->drop_log_us == 0 ||
		    mono_us() - o->drop_log_us >= EVOUT_DROP_LOG_S * 1000000ull)
			log_warnx("eve: redis refused a line: %.*s",
			    (int)r->len, r->str);
		pop(o);
		drop(o, 1, "refused by redis");
	} else {
		pop(o);
		o->st.written++;
	}
	if (!o->closing)
		drain(o);
}

/* The AUTH command's arguments; returns their number (0: no AUTH). */
static int
redis_auth_argv(const struct evout *o, const char *argv[3], size_t argl[3])
{
	int n = 0;

	if (o->nauth == 0)
		return 0;
	argv[n++] = "AUTH";
	if (o->nauth == 2)
		argv[n++] = o->auth_user;
	argv[n++] = o->auth_pass;
	for (int i = 0; i < n; i++)
		argl[i] = strlen(argv[i]);
	return n;
}

/* The connection is usable: send what is queued. */
static void
redis_up(struct evout *o)
{
	if (o->ever_up)
		o->st.reconnects++;
	o->ever_up = o->connected = 1;
	o->backoff_ms = EVOUT_BACKOFF_MIN_MS;
	came_up(o, "redis");
	kick(o);
}

/*
 * AUTH's reply: the connection is usable, or it is closed and retried
 * after the backoff (a wrong password is logged once, like any outage,
 * and the lines stay queued).
 */
static void
redis_auth_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct evout *o = arg;
	redisReply *r = reply;
	char why[128];

	if (r == NULL || ac != o->ac)
		return; /* the connection is gone: its callback said so */
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "AUTH refused: %.*s",
		    (int)(r->len < 100 ? r->len : 100), r->str);
		went_down(o, "redis", why);
		redisAsyncDisconnect(ac); /* its callback retries later */
		return;
	}
	redis_up(o);
}

/* The connection is up, or it failed (hiredis frees ac afterwards). */
static void
redis_connect_cb(const redisAsyncContext *ac, int status)
{
	struct timeval tv = {EVOUT_CONNECT_TIMEOUT_MS / 1000, 0};
	struct evout *o = ac->data;
	const char *argv[3];
	size_t argl[3];
	int argc;

	if (o == NULL || ac != o->ac)
		return;
	evtimer_del(o->retry_ev); /* the connect timeout */
	if (status != REDIS_OK) {
		o->ac = NULL;
		went_down(o, "redis", ac->errstr);
		retry_later(o);
		return;
	}
	if ((argc = redis_auth_argv(o, argv, argl)) == 0) {
		redis_up(o);
		return;
	}
	if (redisAsyncCommandArgv(o->ac, redis_auth_cb, o, argc, argv, argl) !=
	    REDIS_OK) {
		went_down(o, "redis", "cannot send AUTH");
		redisAsyncDisconnect(o->ac);
		return;
	}
	/* the connect timeout again, for the reply */
	evtimer_add(o->retry_ev, &tv);
}

/* The connection went away (hiredis frees ac afterwards). */
static void
redis_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct evout *o = ac->data;

	(void)status;
	if (o == NULL || ac != o->ac)
		return;
	o->ac = NULL;
	o->connected = 0;
	o->nsent = 0;
	went_down(o, "redis", ac->err ? ac->errstr : "connection closed");
	retry_later(o);
}

/* Start an asynchronous connection; a timer bounds it. */
static void
redis_connect(struct evout *o)
{
	struct timeval tv = {EVOUT_CONNECT_TIMEOUT_MS / 1000, 0};
	redisAsyncContext *ac;

	if (o->path[0])
		ac = redisAsyncConnectUnix(o->path);
	else
		ac = redisAsyncConnect(o->host, o->port);
	if (ac == NULL || ac->err) {
		went_down(o, "redis", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		retry_later(o);
		return;
	}
	ac->data = o;
	o->ac = ac;
	if (redisLibeventAttach(ac, o->base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, redis_connect_cb) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, redis_disconnect_cb) !=
		REDIS_OK) {
		o->ac = NULL;
		redisAsyncFree(ac);
		went_down(o, "redis", "cannot attach to the loop");
		retry_later(o);
		return;
	}
	evtimer_del(o->retry_ev);
	evtimer_add(o->retry_ev, &tv); /* the connect timeout */
}

/* The arguments of the command that stores line l. */
static int
redis_argv(struct evout *o, const struct evline *l, const char *argv[8],
    size_t argl[8])
{
	int n = 0;

	argv[n++] = o->stream ? "XADD" : "RPUSH";
	argv[n++] = o->key;
	if (o->stream) {
		if (o->maxlen[0]) {
			argv[n++] = "MAXLEN";
			argv[n++] = "~";
			argv[n++] = o->maxlen;
		}
		argv[n++] = "*";
		argv[n++] = "event";
	}
	for (int i = 0; i < n; i++)
		argl[i] = strlen(argv[i]);
	argv[n] = l->buf; /* not NUL-terminated: its newline is left out */
	argl[n++] = l->len - 1;
	return n;
}

/* Send queued lines not yet sent, up to EVOUT_REDIS_INFLIGHT. */
static void
redis_drain(struct evout *o)
{
	const char *argv[8];
	size_t argl[8];
	int argc;

	if (o->ac == NULL) {
		if (!evtimer_pending(o->retry_ev, NULL))
			redis_connect(o);
		return;
	}
	if (!o->connected)
		return;
	while (o->nsent < o->n && o->nsent < EVOUT_REDIS_INFLIGHT) {
		argc = redis_argv(o, at(o, o->nsent), argv, argl);
		if (redisAsyncCommandArgv(o->ac, redis_reply_cb, o, argc, argv,
			argl) != REDIS_OK) {
			o->st.errors++;
			return;
		}
		o->nsent++;
	}
}

/* At close: give what is queued one bounded, blocking try. */
static void
redis_close_flush(struct evout *o)
{
	struct timeval tv = {
	    EVOUT_CLOSE_WAIT_MS / 1000, (EVOUT_CLOSE_WAIT_MS % 1000) * 1000};
	const char *argv[8];
	size_t argl[8], i, n;
	redisContext *c;
	redisReply *r;

	if (o->ac != NULL) {
		redisAsyncContext *ac = o->ac;

		o->ac = NULL; /* its NULL replies keep the lines queued */
		redisAsyncFree(ac);
	}
	o->nsent = 0;
	if (o->n == 0)
		return;
	c = o->path[0] ? redisConnectUnixWithTimeout(o->path, tv)
		       : redisConnectWithTimeout(o->host, o->port, tv);
	if (c == NULL || c->err || redisSetTimeout(c, tv) != REDIS_OK)
		goto out;
	if ((n = (size_t)redis_auth_argv(o, argv, argl)) > 0) {
		r = redisCommandArgv(c, (int)n, argv, argl);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			if (r != NULL)
				freeReplyObject(r);
			goto out;
		}
		freeReplyObject(r);
	}
	n = o->n;
	for (i = 0; i < n; i++) {
		int argc = redis_argv(o, at(o, i), argv, argl);

		if (redisAppendCommandArgv(c, argc, argv, argl) != REDIS_OK)
			goto out;
	}
	for (i = 0; i < n; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL)
			goto out;
		if (r->type == REDIS_REPLY_ERROR)
			drop(o, 1, "refused by redis");
		else
			o->st.written++;
		freeReplyObject(r);
		pop(o);
	}
out:
	if (c != NULL)
		redisFree(c);
}
#endif /* HAVE_HIREDIS */

/* ---- common ------------------------------------------------------------- */

/* Move queued lines to the output as far as it takes them now. */
static void
drain(struct evout *o)
{
	switch (o->kind) {
	case EVOUT_REGULAR:
		file_drain(o);
		break;
	case EVOUT_SYSLOG:
		syslog_drain(o);
		break;
	case EVOUT_DGRAM:
		dgram_drain(o);
		break;
	case EVOUT_REDIS:
#ifdef HAVE_HIREDIS
		redis_drain(o);
#endif
		break;
	}
}

/* The kick and the datagram socket's EV_WRITE. */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	drain(arg);
}

/* A backoff ended, or a Redis connect took too long. */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evout *o = arg;

	(void)fd, (void)what;
#ifdef HAVE_HIREDIS
	if (o->kind == EVOUT_REDIS && o->ac != NULL && !o->connected) {
		redisAsyncContext *ac = o->ac;

		o->ac = NULL;
		redisAsyncFree(ac);
		went_down(o, "redis", "connect timed out");
		retry_later(o);
		return;
	}
#endif
	drain(o);
}

/* Copy the output's settings from c. */
static int
setup(struct evout *o, const struct anomd_conf *c)
{
	const char *k = c->eve_output;

	if (strcmp(k, "regular") == 0) {
		o->kind = EVOUT_REGULAR;
		return file_path(c, o->path, sizeof(o->path));
	}
	if (strcmp(k, "syslog") == 0) {
		o->kind = EVOUT_SYSLOG;
		o->pri = syslog_value(c->eve_syslog_facility) |
		    syslog_value(c->eve_syslog_level);
		return 0;
	}
	if (strcmp(k, "unix_dgram") == 0) {
		o->kind = EVOUT_DGRAM;
		snprintf(o->path, sizeof(o->path), "%s", c->eve_socket);
		return 0;
	}
	o->kind = EVOUT_REDIS;
	snprintf(o->path, sizeof(o->path), "%s", c->eve_redis_socket);
	snprintf(o->host, sizeof(o->host), "%s", c->eve_redis_server);
	o->port = (int)c->eve_redis_port;
	snprintf(o->key, sizeof(o->key), "%s", c->eve_redis_key);
	o->stream = strcmp(c->eve_redis_mode, "stream") == 0;
	if (c->eve_redis_stream_maxlen > 0)
		snprintf(o->maxlen, sizeof(o->maxlen), "%" PRIu64,
		    c->eve_redis_stream_maxlen);
	return 0;
}

/* Free the output and its queue; what is queued is lost uncounted. */
static void
destroy(struct evout *o)
{
	while (o->n > 0)
		pop(o);
	if (o->kick_ev)
		event_free(o->kick_ev);
	if (o->retry_ev)
		event_free(o->retry_ev);
	if (o->io_ev)
		event_free(o->io_ev);
	if (o->fd != -1)
		close(o->fd);
	free(o->ring);
	explicit_bzero(o->auth_pass, sizeof(o->auth_pass));
	free(o);
}

/*
 * Read the Redis AUTH file: its first line is the password, or a user
 * name, one space and the password.  0, or -errno with *cause.
 */
static int
read_auth(struct evout *o, const char *path, char **cause)
{
	char line[2 * EVOUT_AUTH_MAX + 2], *sp;
	struct stat sb;
	size_t n;
	FILE *fp;
	int err;

	if ((fp = fopen(path, "re")) == NULL) {
		err = -errno;
		check_err(
		    cause, "eve_redis_auth_file: %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fileno(fp), &sb) == 0 && (sb.st_mode & S_IROTH))
		log_warnx(
		    "eve_redis_auth_file: %s can be read by every user", path);
	line[0] = '\0';
	if (fgets(line, sizeof(line), fp) == NULL && ferror(fp)) {
		err = -errno;
		fclose(fp);
		check_err(cause, "eve_redis_auth_file: %s: read: %s", path,
		    strerror(-err));
		return err ? err : -EIO;
	}
	fclose(fp);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if ((sp = strchr(line, ' ')) != NULL) {
		*sp++ = '\0';
		if (strlen(line) >= EVOUT_AUTH_MAX ||
		    strlen(sp) >= EVOUT_AUTH_MAX || line[0] == '\0' ||
		    sp[0] == '\0')
			goto bad;
		memcpy(o->auth_user, line, strlen(line) + 1);
		memcpy(o->auth_pass, sp, strlen(sp) + 1);
		o->nauth = 2;
	} else {
		if (n == 0 || n >= EVOUT_AUTH_MAX)
			goto bad;
		memcpy(o->auth_pass, line, n + 1);
		o->nauth = 1;
	}
	explicit_bzero(line, sizeof(line));
	return 0;
bad:
	explicit_bzero(line, sizeof(line));
	check_err(cause,
	    "eve_redis_auth_file: %s: the first line must be a password, or a "
	    "user, one space and a password, each 1 to %d bytes",
	    path, EVOUT_AUTH_MAX - 1);
	return -EINVAL;
}

/* Open the configured output. */
int
evout_open(struct evout **op, const struct anomd_conf *c,
    struct event_base *base, char **cause)
{
	struct evout *o;
	int err;

	*op = NULL;
	if ((err = evout_check_conf(c, cause)) != 0)
		return err;
	if (strcmp(c->eve_output, "none") == 0)
		return 0;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		goto nomem;
	o->base = base;
	o->cap = c->eve_queue_max;
	o->fd = -1;
	o->backoff_ms = EVOUT_BACKOFF_MIN_MS;
	setup(o, c);
	o->ring = calloc(o->cap, sizeof(*o->ring));
	o->kick_ev = event_new(base, -1, 0, drain_cb, o);
	o->retry_ev = evtimer_new(base, retry_cb, o);
	if (o->ring == NULL || o->kick_ev == NULL || o->retry_ev == NULL)
		goto nomem;
	if (o->kind == EVOUT_REGULAR &&
	    (o->fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		 0640)) == -1) {
		err = -errno;
		check_err(cause, "eve: open %s: %s", o->path, strerror(-err));
		destroy(o);
		return err;
	}
	if (o->kind == EVOUT_REDIS && c->eve_redis_auth_file[0] != '\0' &&
	    (err = read_auth(o, c->eve_redis_auth_file, cause)) != 0) {
		destroy(o);
		return err;
	}
	if (o->kind == EVOUT_DGRAM)
		dgram_connect(o); /* a missing receiver is retried */
#ifdef HAVE_HIREDIS
	if (o->kind == EVOUT_REDIS)
		redis_connect(o);
#endif
	*op = o;
	return 0;
nomem:
	if (o != NULL)
		destroy(o);
	check_err(cause, "eve: out of memory");
	return -ENOMEM;
}

/* Queue one line; when the queue is full it is dropped and counted. */
void
evout_write(struct evout *o, const char *line, size_t len)
{
	struct evline *l;

	if (o == NULL)
		return;
	if (len >= EVOUT_LINE_MAX) {
		drop(o, 1, "line too long");
		return;
	}
	if (o->n == o->cap) {
		drop(o, 1, "queue full");
		return;
	}
	if ((l = malloc(sizeof(*l) + len + 1)) == NULL) {
		drop(o, 1, "out of memory");
		return;
	}
	memcpy(l->buf, line, len);
	l->buf[len] = '\n';
	l->len = len + 1;
	o->ring[(o->head + o->n) % o->cap] = l;
	o->n++;
	kick(o);
}

/* Write what is queued to the old file, then open the file by name. */
void
evout_reopen(struct evout *o)
{
	if (o == NULL || o->kind != EVOUT_REGULAR)
		return;
	if (o->fd != -1) {
		file_drain(o);
		close(o->fd);
		o->fd = -1;
	}
	o->off = 0;
	if (file_open(o) == 0)
		kick(o);
	else
		retry_later(o);
}

/* Copy the counters. */
void
evout_get_stats(const struct evout *o, struct evout_stats *st)
{
	if (o == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = o->st;
	st->queued = o->n;
}

/* Flush what can be flushed without blocking long, count the rest as
 * dropped, close. */
void
evout_close(struct evout *o)
{
	if (o == NULL)
		return;
	o->closing = 1;
	if (o->kind == EVOUT_REDIS) {
#ifdef HAVE_HIREDIS
		redis_close_flush(o);
#endif
	} else
		drain(o);
	if (o->n > 0) {
		o->drop_log_us = 0; /* always say it at exit */
		drop(o, o->n, "not written at exit");
	}
	destroy(o);
}
