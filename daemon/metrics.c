/*
 * Metrics: the daemon's numbers as Prometheus text (exposition format
 * 0.0.4) on GET /metrics, served by libevent's own HTTP server (evhttp)
 * on the daemon's loop, and as the grouped JSON of the "stats" command.
 *
 * Both come from one list: the daemon's fill callback calls metrics_put()
 * and friends for every number, and the sink decides the form.  A name is
 * written without the "anomd_" prefix and without "_total"; counters get
 * "_total" in both forms, so `anomctl stats` and /metrics say the same
 * names.  Limits (flows_max) are gauges to Prometheus and a group of their
 * own in JSON.
 *
 * Bounds: every response is built in one buffer owned here and capped at
 * METRICS_RESPONSE_MAX bytes (past it the scrape gets a 500); each
 * connection is closed after its one response, headers are capped, a
 * request body is refused, a silent or slow connection times out, at most
 * METRICS_CLIENTS_MAX responses are in flight (more get a 503), and when
 * accept() runs out of descriptors the listener pauses for a second.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "daemon/daemon.h"

#define METRICS_TIMEOUT_S 10 /* a connection's whole life, at most */
#define METRICS_HEADERS_MAX 8192 /* bytes of a request's headers */
#define METRICS_PAUSE_S 1 /* accept pause after EMFILE */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	metrics_fill_cb fill;
	void *arg;
	struct evbuffer *out; /* the one response buffer */
	unsigned inflight; /* responses not yet written and closed */
	int closing;
	struct metrics_stats st;
};

/* ---- the sink ---------------------------------------------------------- */

static const char *const kind_group[] = {"counters", "gauges", "limits"};

/* Write v as Prometheus writes a float. */
static void
prom_value(struct evbuffer *b, double v)
{
	if (isnan(v))
		evbuffer_add_printf(b, "NaN\n");
	else if (isinf(v))
		evbuffer_add_printf(b, "%sInf\n", v > 0 ? "+" : "-");
	else if (v == floor(v) && fabs(v) < 1e15)
		evbuffer_add_printf(b, "%.0f\n", v);
	else
		evbuffer_add_printf(b, "%.9g\n", v);
}

/* Write a label value with \, " and newline escaped. */
static void
prom_label_value(struct evbuffer *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

/* Write the HELP and TYPE lines unless this family was the last one. */
static void
prom_family(struct metrics_out *mo, enum metrics_kind k, const char *name,
    const char *type, const char *help)
{
	const char *suffix = k == METRICS_COUNTER ? "_total" : "";
	const char *p;

	if (strcmp(mo->family, name) == 0)
		return;
	snprintf(mo->family, sizeof(mo->family), "%s", name);
	evbuffer_add_printf(mo->buf, "# HELP anomd_%s%s ", name, suffix);
	for (p = help; *p; p++) /* HELP escapes \ and newline */
		if (*p == '\\')
			evbuffer_add(mo->buf, "\\\\", 2);
		else if (*p == '\n')
			evbuffer_add(mo->buf, "\\n", 2);
		else
			evbuffer_add(mo->buf, p, 1);
	evbuffer_add_printf(
	    mo->buf, "\n# TYPE anomd_%s%s %s\n", name, suffix, type);
}

/* The JSON object of kind k, created on first use. */
static cJSON *
json_group(struct metrics_out *mo, enum metrics_kind k)
{
	cJSON *g = cJSON_GetObjectItemCaseSensitive(mo->json, kind_group[k]);

	if (g == NULL)
		g = cJSON_AddObjectToObject(mo->json, kind_group[k]);
	return g;
}

/* The JSON key of a name: counters end in "_total". */
static const char *
json_key(enum metrics_kind k, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", name, k == METRICS_COUNTER ? "_total" : "");
	return buf;
}

/* Add one number; see daemon.h. */
void
metrics_put(struct metrics_out *mo, enum metrics_kind k, const char *name,
    const char *help, double v)
{
	char key[METRICS_NAME_MAX + 8];

	if (mo->buf != NULL) {
		prom_family(mo, k, name,
		    k == METRICS_COUNTER ? "counter" : "gauge", help);
		evbuffer_add_printf(mo->buf, "anomd_%s%s ", name,
		    k == METRICS_COUNTER ? "_total" : "");
		prom_value(mo->buf, v);
	}
	if (mo->json != NULL)
		cJSON_AddNumberToObject(
		    json_group(mo, k), json_key(k, name, key, sizeof(key)), v);
}

/* Add one number of a labelled family; see daemon.h. */
void
metrics_put_label(struct metrics_out *mo, enum metrics_kind k, const char *name,
    const char *help, const char *label, const char *value, double v)
{
	char key[METRICS_NAME_MAX + 8];
	cJSON *g, *o;

	if (mo->buf != NULL) {
		prom_family(mo, k, name,
		    k == METRICS_COUNTER ? "counter" : "gauge", help);
		evbuffer_add_printf(mo->buf, "anomd_%s%s{%s=\"", name,
		    k == METRICS_COUNTER ? "_total" : "", label);
		prom_label_value(mo->buf, value);
		evbuffer_add(mo->buf, "\"} ", 3);
		prom_value(mo->buf, v);
	}
	if (mo->json != NULL) {
		g = json_group(mo, k);
		json_key(k, name, key, sizeof(key));
		if ((o = cJSON_GetObjectItemCaseSensitive(g, key)) == NULL)
			o = cJSON_AddObjectToObject(g, key);
		cJSON_AddNumberToObject(o, value, v);
	}
}

/* Count one observation of v into h. */
void
metrics_hist_observe(struct metrics_hist *h, double v)
{
	size_t i;

	for (i = 0; i < METRICS_HIST_BUCKETS; i++)
		if (v <= metrics_hist_bounds[i])
			h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/* The upper bounds of struct metrics_hist's buckets, in seconds. */
const double metrics_hist_bounds[METRICS_HIST_BUCKETS] = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

/* Add a histogram; see daemon.h. */
void
metrics_put_hist(struct metrics_out *mo, const char *name, const char *help,
    const struct metrics_hist *h)
{
	char key[METRICS_NAME_MAX + 8];
	size_t i;
	cJSON *o;

	if (mo->buf != NULL) {
		snprintf(mo->family, sizeof(mo->family), "%s", name);
		evbuffer_add_printf(mo->buf,
		    "# HELP anomd_%s %s\n# TYPE anomd_%s histogram\n", name,
		    help, name);
		for (i = 0; i < METRICS_HIST_BUCKETS; i++)
			evbuffer_add_printf(mo->buf,
			    "anomd_%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
			    metrics_hist_bounds[i], h->bucket[i]);
		evbuffer_add_printf(mo->buf,
		    "anomd_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name,
		    h->count);
		evbuffer_add_printf(mo->buf, "anomd_%s_sum ", name);
		prom_value(mo->buf, h->sum);
		evbuffer_add_printf(
		    mo->buf, "anomd_%s_count %" PRIu64 "\n", name, h->count);
	}
	if (mo->json != NULL) {
		o = json_group(mo, METRICS_COUNTER);
		snprintf(key, sizeof(key), "%s_count", name);
		cJSON_AddNumberToObject(o, key, (double)h->count);
		snprintf(key, sizeof(key), "%s_sum", name);
		cJSON_AddNumberToObject(o, key, h->sum);
	}
}

/* ---- the address ------------------------------------------------------- */

/* Parse "host:port" or "[v6]:port"; see daemon.h. */
int
metrics_addr_parse(const char *addr, char *host, size_t hostlen, uint16_t *port,
    char *why, size_t whylen)
{
	struct in6_addr a6;
	const char *colon, *h = addr, *p;
	size_t n;
	uint64_t v;

	if (*addr == '[') {
		if ((colon = strstr(addr, "]:")) == NULL)
			goto bad;
		h = addr + 1;
		n = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			goto bad;
		n = (size_t)(colon - addr);
	}
	if (n == 0 || n >= hostlen || n >= INET6_ADDRSTRLEN)
		goto bad;
	memcpy(host, h, n);
	host[n] = '\0';
	if (parse_u64(colon + 1, 1, 65535, &v) != 0)
		goto bad;
	*port = (uint16_t)v;
	if (*addr == '[') {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			goto bad;
		return 0;
	}
	for (p = host; *p; p++) /* an IPv4 address or a host name */
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			goto bad;
	return 0;
bad:
	snprintf(why, whylen,
	    "want host:port (127.0.0.1:9469, [::1]:9469, localhost:9469), "
	    "port 1 to 65535; empty turns metrics off");
	return -1;
}

/* ---- the server -------------------------------------------------------- */

/* A connection that carried a response went away. */
static void
conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct metrics *m = arg;

	(void)evcon;
	if (m->inflight > 0)
		m->inflight--;
}

/* Build and send the exposition text. */
static void
send_metrics(struct metrics *m, struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct metrics_out mo;

	memset(&mo, 0, sizeof(mo));
	mo.buf = m->out;
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
	m->fill(&mo, m->arg);
	if (evbuffer_get_length(m->out) > METRICS_RESPONSE_MAX) {
		evbuffer_drain(m->out, evbuffer_get_length(m->out));
		m->st.errors++;
		evhttp_send_error(req, HTTP_INTERNAL, "Response Too Large");
		return;
	}
	evhttp_add_header(h, "Content-Type", METRICS_CONTENT_TYPE);
	evhttp_add_header(h, "Connection", "close");
	evhttp_send_reply(req, HTTP_OK, "OK", m->out); /* drains m->out */
	m->st.scrapes++;
}

/* One request (evhttp refuses methods but GET): /metrics, else 404. */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const char *path;

	if (m->closing)
		return;
	m->st.requests++;
	if (evcon != NULL) {
		evhttp_connection_set_closecb(evcon, conn_close_cb, m);
		m->inflight++;
	}
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (m->inflight > METRICS_CLIENTS_MAX) {
		m->st.busy++;
		evhttp_send_error(req, 503, "Busy");
	} else if (path == NULL || strcmp(path, "/metrics") != 0) {
		m->st.not_found++;
		evhttp_send_error(req, HTTP_NOTFOUND, "Not Found");
	} else
		send_metrics(m, req);
}

/* Resume accepting after a pause. */
static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

/*
 * accept() failed: on EMFILE or ENFILE pause a second rather than spin
 * (the listener is level-triggered).  The listener's argument is evhttp's,
 * so the pause is a one-shot event on the loop; at exit event_base_free()
 * drops it unrun.
 */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct timeval tv = {METRICS_PAUSE_S, 0};
	int e = EVUTIL_SOCKET_ERROR();

	(void)arg;
	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return;
	evconnlistener_disable(lev);
	if (event_base_once(evconnlistener_get_base(lev), -1, EV_TIMEOUT,
		resume_cb, lev, &tv) != 0)
		evconnlistener_enable(lev);
}

/*
 * A listening TCP socket on host:port, or -errno with why set.  Bound here
 * rather than by evhttp_bind_socket(), whose lookup uses AI_ADDRCONFIG: on
 * a host with IPv6 but no IPv4 address beyond the loopback, that refuses
 * 127.0.0.1 itself.
 */
static int
listen_on(const char *host, uint16_t port, const char **why)
{
	struct addrinfo hints, *ai = NULL;
	char serv[8];
	int fd = -1, one = 1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%u", port);
	if ((e = getaddrinfo(host, serv, &hints, &ai)) != 0) {
		*why = gai_strerror(e);
		return -EADDRNOTAVAIL;
	}
	if ((fd = socket(ai->ai_family,
		 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (ai->ai_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ==
		    -1) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, 16) == -1) {
		e = errno;
		if (fd != -1)
			close(fd);
		freeaddrinfo(ai);
		*why = strerror(e);
		return -e;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Serve /metrics on addr; see daemon.h. */
int
metrics_open(struct metrics **mp, struct event_base *base, const char *addr,
    metrics_fill_cb fill, void *arg, char **cause)
{
	struct metrics *m;
	char host[INET6_ADDRSTRLEN], why[160];
	const char *err = NULL;
	uint16_t port;
	int fd;

	*mp = NULL;
	if (*addr == '\0')
		return 0;
	if (metrics_addr_parse(
		addr, host, sizeof(host), &port, why, sizeof(why)) != 0) {
		if (cause != NULL &&
		    asprintf(cause, "metrics: %s: %s", addr, why) < 0)
			*cause = NULL;
		return -EINVAL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->http = evhttp_new(base)) == NULL ||
	    (m->out = evbuffer_new()) == NULL) {
		metrics_close(m);
		return -ENOMEM;
	}
	m->base = base;
	m->fill = fill;
	m->arg = arg;
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
	evhttp_set_max_headers_size(m->http, METRICS_HEADERS_MAX);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_gencb(m->http, request_cb, m);
	if ((fd = listen_on(host, port, &err)) < 0 ||
	    (m->bound = evhttp_accept_socket_with_handle(m->http, fd)) ==
		NULL) {
		if (fd >= 0) {
			close(fd);
			fd = -ENOMEM;
			err = strerror(ENOMEM);
		}
		if (cause != NULL &&
		    asprintf(cause, "metrics: listen %s: %s", addr, err) < 0)
			*cause = NULL;
		metrics_close(m);
		return fd;
	}
	evconnlistener_set_error_cb(
	    evhttp_bound_socket_get_listener(m->bound), accept_error_cb);
	*mp = m;
	return 0;
}

/* Copy the server's counters; zeros for NULL. */
void
metrics_get_stats(const struct metrics *m, struct metrics_stats *st)
{
	if (m == NULL)
		memset(st, 0, sizeof(*st));
	else
		*st = m->st;
}

/* Close every connection and the listener, and free; NULL does nothing. */
void
metrics_close(struct metrics *m)
{
	if (m == NULL)
		return;
	m->closing = 1;
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->out != NULL)
		evbuffer_free(m->out);
	free(m);
}
