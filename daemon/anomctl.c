/*
 * anomctl: the command-line client of anomd's control socket.
 *
 * It sends one request line ({"command": ..., "arguments": {...}}) and
 * reads one response line, both compact JSON, over a plain blocking UNIX
 * socket; "follow" subscribes and then prints every pushed line.  A
 * response is read with a deadline (ANOMCTL_TIMEOUT_MS) and a size cap
 * (ANOMCTL_LINE_MAX); "follow" waits without a deadline.  Results print as
 * aligned text, or as the raw JSON with --json.
 *
 * Exit status: 0 success, 1 the daemon answered with an error (or with
 * something that is not a response), 2 usage, 3 no connection (or it was
 * lost, or timed out).
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define ANOMCTL_SOCKET "/run/anomd/anomd.sock"
#ifndef ANOMCTL_LINE_MAX
#define ANOMCTL_LINE_MAX (16 * 1024 * 1024) /* response line cap, bytes */
#endif
#define ANOMCTL_TIMEOUT_MS 30000 /* wait for a response */
#define ANOMCTL_LIMIT_DEFAULT 20 /* alerts shown without --limit */
#define ANOMCTL_INCIDENT_ALERTS 100 /* alerts "incident" returns at most */
#define ANOMCTL_ID_MAX 9007199254740992.0 /* 2^53: exact in JSON */
#define ANOMCTL_EPOCH_MAX 1e11 /* seconds; the daemon's bound too */
#define ANOMCTL_FOR_MAX_S (10.0 * 366 * 86400) /* allow --for, the daemon's */

enum {
	EXIT_OK = 0,
	EXIT_DAEMON = 1,
	EXIT_USAGE = 2,
	EXIT_CONNECT = 3,
};

/* What main parsed; passed to every command. */
struct ctx {
	const char *path; /* socket */
	int json; /* print raw JSON */
	int fd;
	char *buf; /* response bytes read and not yet consumed */
	size_t len; /* bytes in buf */
	size_t cap; /* bytes allocated */
	size_t used; /* bytes of the line handed out last */
};

struct command {
	const char *name;
	int (*build)(int argc, char **argv, cJSON *args);
	void (*print)(const cJSON *result);
	const char *request; /* command sent, if not name */
};

/* Text and key of one printed line. */
struct kv {
	char **key, **val;
	size_t n, cap;
};

static volatile sig_atomic_t stop_signal;
static const char *report_path; /* "report -o FILE"; NULL or "-": stdout */

static void usage(FILE *fp);

/* Print "anomctl: message" to stderr. */
static void __attribute__((format(printf, 1, 2))) warnx(const char *fmt, ...)
{
	va_list ap;

	fputs("anomctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Abort on allocation failure: anomctl is a short-lived client. */
static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		warnx("out of memory");
		exit(EXIT_DAEMON);
	}
	return p;
}

/* A malloc'd copy of s. */
static char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

/* ---- connection ------------------------------------------------------ */

/* Say why the socket at path cannot be reached, by errno. */
static void
connect_error(const char *path, int err)
{
	switch (err) {
	case ENOENT:
		warnx("cannot connect to %s: is anomd running? (no socket at "
		      "%s)",
		    path, path);
		break;
	case EACCES:
	case EPERM:
		warnx("cannot connect to %s: permission denied: are you in "
		      "the socket's group or root?",
		    path);
		break;
	case ECONNREFUSED:
		warnx("cannot connect to %s: anomd is not answering (stale "
		      "socket?)",
		    path);
		break;
	case EAGAIN:
		warnx("cannot connect to %s: anomd is not accepting "
		      "connections (timed out)",
		    path);
		break;
	default:
		warnx("cannot connect to %s: %s", path, strerror(err));
	}
}

/* Connect to the daemon; 0, or -errno. */
static int
ctl_connect(struct ctx *c)
{
	struct timeval tv = {ANOMCTL_TIMEOUT_MS / 1000, 0};
	struct sockaddr_un sa;
	int saved;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(c->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	/* Bounds a connect() to a daemon whose backlog is full. */
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		saved = errno;
		close(c->fd);
		c->fd = -1;
		return -saved;
	}
	return 0;
}

/* Send request as one line; 0, or -errno. */
static int
ctl_send(struct ctx *c, const cJSON *request)
{
	char *s = cJSON_PrintUnformatted(request);
	size_t len, off = 0;
	ssize_t n;
	int rc = 0;

	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	s[len++] = '\n'; /* over the NUL: the buffer is not a string now */
	while (off < len) {
		n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	cJSON_free(s);
	return rc;
}

/* Milliseconds of a monotonic clock. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is readable; 0, -ETIMEDOUT, or -EINTR on a signal. */
static int
wait_readable(int fd, long long deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	long long left;
	int n;

	for (;;) {
		if (stop_signal)
			return -EINTR;
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -errno;
	}
}

/* Drop the line handed out last time, and grow the buffer for a read. */
static int
buf_make_room(struct ctx *c)
{
	if (c->used > 0) {
		memmove(c->buf, c->buf + c->used, c->len - c->used);
		c->len -= c->used;
		c->used = 0;
	}
	if (c->len >= ANOMCTL_LINE_MAX)
		return -EMSGSIZE;
	if (c->cap - c->len < 4096) {
		c->cap = c->cap == 0 ? 65536 : c->cap * 2;
		if (c->cap > ANOMCTL_LINE_MAX + 1)
			c->cap = ANOMCTL_LINE_MAX + 1;
		c->buf = xrealloc(c->buf, c->cap);
	}
	return 0;
}

/*
 * Read the next line into *line (NUL-terminated, without its newline,
 * valid until the next call).  timeout_ms < 0 waits for ever.  Returns 0,
 * -ECONNRESET when the daemon closed, -ETIMEDOUT, -EMSGSIZE, -EINTR.
 */
static int
ctl_line(struct ctx *c, int timeout_ms, char **line)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	char *nl;
	ssize_t n;
	int rc;

	for (;;) {
		if ((rc = buf_make_room(c)) != 0)
			return rc;
		if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			*nl = '\0';
			*line = c->buf;
			c->used = (size_t)(nl - c->buf) + 1;
			return 0;
		}
		if ((rc = wait_readable(c->fd, deadline)) != 0)
			return rc;
		n = read(c->fd, c->buf + c->len, c->cap - 1 - c->len);
		if (n == 0)
			return -ECONNRESET;
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			c->len += (size_t)n;
	}
}

/* Report a failed read of a response; returns the exit status. */
static int
read_error(int rc)
{
	switch (rc) {
	case -ETIMEDOUT:
		warnx("no response from anomd within %d s",
		    ANOMCTL_TIMEOUT_MS / 1000);
		return EXIT_CONNECT;
	case -EMSGSIZE:
		warnx("response over %d bytes", ANOMCTL_LINE_MAX);
		return EXIT_DAEMON;
	case -ECONNRESET:
		warnx("anomd closed the connection");
		return EXIT_CONNECT;
	case -EINTR:
		return EXIT_OK;
	default:
		warnx("reading from anomd: %s", strerror(-rc));
		return EXIT_CONNECT;
	}
}

/*
 * Parse a response line: 0 and *resp (the caller frees) with *result
 * pointing into it, or the exit status after printing the daemon's error.
 */
static int
parse_response(const char *line, cJSON **resp, const cJSON **result)
{
	const cJSON *e, *code, *msg;

	if ((*resp = cJSON_Parse(line)) == NULL || !cJSON_IsObject(*resp)) {
		warnx("anomd sent something that is not a response");
		cJSON_Delete(*resp);
		return EXIT_DAEMON;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(*resp, "ok"))) {
		*result = cJSON_GetObjectItemCaseSensitive(*resp, "result");
		return 0;
	}
	e = cJSON_GetObjectItemCaseSensitive(*resp, "error");
	code = cJSON_GetObjectItemCaseSensitive(e, "code");
	msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	warnx("%s: %s", cJSON_IsString(code) ? code->valuestring : "error",
	    cJSON_IsString(msg) ? msg->valuestring : "(no message)");
	cJSON_Delete(*resp);
	return EXIT_DAEMON;
}

/* Connect, send request, read and check its response. */
static int
transact(
    struct ctx *c, const cJSON *request, cJSON **resp, const cJSON **result)
{
	char *line;
	int rc;

	if ((rc = ctl_connect(c)) != 0) {
		connect_error(c->path, -rc);
		return EXIT_CONNECT;
	}
	if ((rc = ctl_send(c, request)) != 0) {
		warnx("sending to anomd: %s", strerror(-rc));
		return EXIT_CONNECT;
	}
	if ((rc = ctl_line(c, ANOMCTL_TIMEOUT_MS, &line)) != 0)
		return read_error(rc);
	return parse_response(line, resp, result);
}

/* ---- formatting ------------------------------------------------------ */

/* A number as an integer when it is one, else with 6 digits. */
static const char *
fmt_num(double v, char *buf, size_t size)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < ANOMCTL_ID_MAX)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%.6g", v);
	return buf;
}

/* Seconds as "3d 04:05:06" or "04:05:06". */
static const char *
fmt_dur(double s, char *buf, size_t size)
{
	unsigned long long t = s > 0 && s < 1e15 ? (unsigned long long)s : 0;

	if (t >= 86400)
		snprintf(buf, size, "%llud %02llu:%02llu:%02llu", t / 86400,
		    t / 3600 % 24, t / 60 % 60, t % 60);
	else
		snprintf(buf, size, "%02llu:%02llu:%02llu", t / 3600,
		    t / 60 % 60, t % 60);
	return buf;
}

/* A scalar as text: numbers, strings, booleans, null. */
static const char *
fmt_scalar(const cJSON *v, char *buf, size_t size)
{
	if (cJSON_IsNumber(v))
		return fmt_num(v->valuedouble, buf, size);
	if (cJSON_IsString(v))
		snprintf(buf, size, "%s", v->valuestring);
	else if (cJSON_IsBool(v))
		snprintf(buf, size, "%s", cJSON_IsTrue(v) ? "yes" : "no");
	else if (v == NULL || cJSON_IsNull(v))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "?");
	return buf;
}

/* Field name of o as text, "-" when missing. */
static const char *
field(const cJSON *o, const char *name, char *buf, size_t size)
{
	return fmt_scalar(cJSON_GetObjectItemCaseSensitive(o, name), buf, size);
}

/* Field name of o as a number, or def. */
static double
field_num(const cJSON *o, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* Add one key and value (both copied). */
static void
kv_add(struct kv *kv, const char *key, const char *val)
{
	if (kv->n == kv->cap) {
		kv->cap = kv->cap ? kv->cap * 2 : 32;
		kv->key = xrealloc(kv->key, kv->cap * sizeof(*kv->key));
		kv->val = xrealloc(kv->val, kv->cap * sizeof(*kv->val));
	}
	kv->key[kv->n] = xstrdup(key);
	kv->val[kv->n++] = xstrdup(val);
}

/* An array of scalars joined with ", " (malloc'd), or NULL. */
static char *
join_scalars(const cJSON *a)
{
	const cJSON *v;
	char part[128], *s = xstrdup("");
	size_t len = 0;

	cJSON_ArrayForEach(v, a)
	{
		if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
			free(s);
			return NULL;
		}
		fmt_scalar(v, part, sizeof(part));
		s = xrealloc(s, len + strlen(part) + 3);
		len += (size_t)sprintf(s + len, "%s%s", len ? ", " : "", part);
	}
	return s;
}

/* Flatten v under key: objects as a.b, arrays as a[i] unless scalars. */
static void
kv_flatten(struct kv *kv, const char *key, const cJSON *v)
{
	char sub[256], buf[256], *joined;
	const cJSON *e;
	int i = 0;

	if (cJSON_IsObject(v)) {
		cJSON_ArrayForEach(e, v)
		{
			snprintf(sub, sizeof(sub), "%s%s%s", key,
			    key[0] ? "." : "", e->string);
			kv_flatten(kv, sub, e);
		}
	} else if (cJSON_IsArray(v) && (joined = join_scalars(v)) != NULL) {
		kv_add(kv, key, joined);
		free(joined);
	} else if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(e, v)
		{
			snprintf(sub, sizeof(sub), "%s[%d]", key, i++);
			kv_flatten(kv, sub, e);
		}
	} else
		kv_add(kv, key, fmt_scalar(v, buf, sizeof(buf)));
}

/* Print and free: "key: value" (colon) or "key  value" right-aligned. */
static void
kv_print(struct kv *kv, int colon)
{
	size_t i, kw = 0, vw = 0;

	for (i = 0; i < kv->n; i++) {
		if (strlen(kv->key[i]) > kw)
			kw = strlen(kv->key[i]);
		if (strlen(kv->val[i]) > vw)
			vw = strlen(kv->val[i]);
	}
	for (i = 0; i < kv->n; i++) {
		if (colon)
			printf("%s:%*s %s\n", kv->key[i],
			    (int)(kw - strlen(kv->key[i])), "", kv->val[i]);
		else
			printf("%-*s  %*s\n", (int)kw, kv->key[i], (int)vw,
			    kv->val[i]);
		free(kv->key[i]);
		free(kv->val[i]);
	}
	free(kv->key);
	free(kv->val);
	memset(kv, 0, sizeof(*kv));
}

/* ---- alerts ---------------------------------------------------------- */

/* One alert as the columns of a table row. */
struct row {
	char id[24], time[32], proto[16], flow[136], score[32], count[24];
	char top[160];
};

/* "addr:port", with IPv6 addresses in brackets. */
static void
fmt_endpoint(
    const cJSON *a, const char *ip, const char *port, char *buf, size_t size)
{
	char addr[64], p[24];

	field(a, ip, addr, sizeof(addr));
	field(a, port, p, sizeof(p));
	snprintf(buf, size, strchr(addr, ':') ? "[%s]:%s" : "%s:%s", addr, p);
}

/* The first explanation entry as "name=value (p99 X)". */
static void
fmt_top(const cJSON *a, char *buf, size_t size)
{
	const cJSON *e = cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(a, "explanation"), 0);
	char name[64], v[32], p99[32];

	if (e == NULL) {
		snprintf(buf, size, "-");
		return;
	}
	snprintf(buf, size, "%s=%s (p99 %s)",
	    field(e, "feature", name, sizeof(name)),
	    field(e, "value", v, sizeof(v)),
	    field(e, "baseline_p99", p99, sizeof(p99)));
}

/* Fill the columns of one alert. */
static void
row_fill(const cJSON *a, struct row *r)
{
	char src[64], dst[64];
	char *t;

	field(a, "id", r->id, sizeof(r->id));
	/* 2021-01-02T03:04:05.123456+0000 -> 2021-01-02 03:04:05 */
	field(a, "timestamp", r->time, sizeof(r->time));
	if ((t = strchr(r->time, 'T')) != NULL)
		*t = ' ';
	r->time[19] = '\0';
	field(a, "proto", r->proto, sizeof(r->proto));
	fmt_endpoint(a, "src_ip", "src_port", src, sizeof(src));
	fmt_endpoint(a, "dest_ip", "dest_port", dst, sizeof(dst));
	snprintf(r->flow, sizeof(r->flow), "%s -> %s", src, dst);
	snprintf(
	    r->score, sizeof(r->score), "%.4g", field_num(a, "score", NAN));
	field(a, "count", r->count, sizeof(r->count));
	fmt_top(a, r->top, sizeof(r->top));
}

/* Column widths of a table. */
struct widths {
	int id, time, proto, flow, score, count;
};

/* Print one row (or the header when r is NULL) with widths w. */
static void
row_print(const struct row *r, const struct widths *w)
{
	if (r == NULL)
		printf("%*s  %-*s  %-*s  %-*s  %*s  %*s  %s\n", w->id, "ID",
		    w->time, "TIME (UTC)", w->proto, "PROTO", w->flow, "FLOW",
		    w->score, "SCORE", w->count, "COUNT", "TOP FEATURE");
	else
		printf("%*s  %-*s  %-*s  %-*s  %*s  %*s  %s\n", w->id, r->id,
		    w->time, r->time, w->proto, r->proto, w->flow, r->flow,
		    w->score, r->score, w->count, r->count, r->top);
}

/* Widen one column to fit s. */
static void
fit(int *w, const char *s)
{
	if ((int)strlen(s) > *w)
		*w = (int)strlen(s);
}

/* Widen w to fit r. */
static void
widths_fit(struct widths *w, const struct row *r)
{
	fit(&w->id, r->id);
	fit(&w->time, r->time);
	fit(&w->proto, r->proto);
	fit(&w->flow, r->flow);
	fit(&w->score, r->score);
	fit(&w->count, r->count);
}

/* Print the "alerts" result as a table. */
static void
print_alerts(const cJSON *result)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(result, "alerts");
	const cJSON *next =
	    cJSON_GetObjectItemCaseSensitive(result, "next_before_id");
	struct widths w = {2, 10, 5, 4, 5, 5};
	struct row *rows;
	int i, n = cJSON_GetArraySize(list);
	char buf[32];

	if (n == 0) {
		printf("no alerts\n");
		return;
	}
	rows = xrealloc(NULL, (size_t)n * sizeof(*rows));
	for (i = 0; i < n; i++) {
		row_fill(cJSON_GetArrayItem(list, i), &rows[i]);
		widths_fit(&w, &rows[i]);
	}
	row_print(NULL, &w);
	for (i = 0; i < n; i++)
		row_print(&rows[i], &w);
	free(rows);
	if (cJSON_IsNumber(next))
		warnx("more alerts: add --before-id %s",
		    fmt_num(next->valuedouble, buf, sizeof(buf)));
}

/* Print an explanation-style array under title, if it has entries. */
static void
print_explanation(const char *title, const cJSON *ex)
{
	const cJSON *e;
	char name[64], val[32], p50[32], p99[32];

	if (cJSON_GetArraySize(ex) == 0)
		return;
	printf("%s:\n", title);
	cJSON_ArrayForEach(e, ex)
	{
		printf("  %-24s value %-10s p50 %-10s p99 %-10s share %.1f%%\n",
		    field(e, "feature", name, sizeof(name)),
		    field(e, "value", val, sizeof(val)),
		    field(e, "baseline_p50", p50, sizeof(p50)),
		    field(e, "baseline_p99", p99, sizeof(p99)),
		    100 * field_num(e, "share", 0));
	}
}

/* Print one alert: every field, then each explanation line. */
static void
print_alert(const cJSON *a)
{
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(a, "explanation");
	const cJSON *v;
	struct kv kv = {0};

	cJSON_ArrayForEach(v, a)
	{
		if (v != ex)
			kv_flatten(&kv, v->string, v);
	}
	kv_print(&kv, 1);
	print_explanation("explanation", ex);
}

/* Print one pushed line of "follow". */
static void
print_event(const char *line)
{
	const cJSON *ev, *a;
	struct widths w = {6, 19, 5, 45, 8, 5};
	struct row r;
	cJSON *o = cJSON_Parse(line);

	ev = cJSON_GetObjectItemCaseSensitive(o, "event");
	a = cJSON_GetObjectItemCaseSensitive(o, "alert");
	if (cJSON_IsString(ev) && strcmp(ev->valuestring, "alert") == 0 &&
	    cJSON_IsObject(a)) {
		row_fill(a, &r);
		row_print(&r, &w);
	} else
		printf("%s\n", line);
	cJSON_Delete(o);
}

/* ---- incidents ------------------------------------------------------- */

/* One incident as the columns of a table row. */
struct irow {
	char id[24], when[48], host[48], about[16], alerts[24], flows[24];
	char summary[512];
};

/* "2021-01-02 03:04:05" from an ISO time field; "-" when missing. */
static void
fmt_iso(const cJSON *o, const char *name, char *buf, size_t size)
{
	char *t;

	field(o, name, buf, size);
	if ((t = strchr(buf, 'T')) != NULL)
		*t = ' ';
	if (strlen(buf) > 19)
		buf[19] = '\0';
}

/* Fill the columns of one incident. */
static void
irow_fill(const cJSON *inc, struct irow *r)
{
	char first[32], last[32];

	field(inc, "id", r->id, sizeof(r->id));
	fmt_iso(inc, "first_timestamp", first, sizeof(first));
	fmt_iso(inc, "last_timestamp", last, sizeof(last));
	/* The same day: "2021-01-02 03:04:05-03:09:10". */
	if (strlen(first) == 19 && strlen(last) == 19 &&
	    strncmp(first, last, 11) == 0)
		snprintf(r->when, sizeof(r->when), "%s-%s", first, last + 11);
	else
		snprintf(r->when, sizeof(r->when), "%s-%s", first, last);
	field(inc, "host", r->host, sizeof(r->host));
	field(inc, "about", r->about, sizeof(r->about));
	field(inc, "alerts", r->alerts, sizeof(r->alerts));
	field(inc, "flows", r->flows, sizeof(r->flows));
	field(inc, "summary", r->summary, sizeof(r->summary));
}

/* Column widths of the incidents table. */
struct iwidths {
	int id, when, host, about, alerts, flows;
};

/* Print one incident row (or the header when r is NULL) with widths w. */
static void
irow_print(const struct irow *r, const struct iwidths *w)
{
	if (r == NULL)
		printf("%*s  %-*s  %-*s  %-*s  %*s  %*s  %s\n", w->id, "ID",
		    w->when, "FIRST-LAST (UTC)", w->host, "HOST", w->about,
		    "ABOUT", w->alerts, "ALERTS", w->flows, "FLOWS", "SUMMARY");
	else
		printf("%*s  %-*s  %-*s  %-*s  %*s  %*s  %s\n", w->id, r->id,
		    w->when, r->when, w->host, r->host, w->about, r->about,
		    w->alerts, r->alerts, w->flows, r->flows, r->summary);
}

/* Print the "incidents" result as a table. */
static void
print_incidents(const cJSON *result)
{
	const cJSON *list =
	    cJSON_GetObjectItemCaseSensitive(result, "incidents");
	struct iwidths w = {2, 16, 4, 5, 6, 5};
	struct irow *rows;
	int i, n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no incidents\n");
		return;
	}
	rows = xrealloc(NULL, (size_t)n * sizeof(*rows));
	for (i = 0; i < n; i++) {
		irow_fill(cJSON_GetArrayItem(list, i), &rows[i]);
		fit(&w.id, rows[i].id);
		fit(&w.when, rows[i].when);
		fit(&w.host, rows[i].host);
		fit(&w.about, rows[i].about);
		fit(&w.alerts, rows[i].alerts);
		fit(&w.flows, rows[i].flows);
	}
	irow_print(NULL, &w);
	for (i = 0; i < n; i++)
		irow_print(&rows[i], &w);
	free(rows);
}

/* Print the "incident" result: its fields, evidence, then its alerts. */
static void
print_incident(const cJSON *result)
{
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(result, "incident");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(inc, "evidence");
	const cJSON *v;
	struct kv kv = {0};

	cJSON_ArrayForEach(v, inc)
	{
		if (v != ev)
			kv_flatten(&kv, v->string, v);
	}
	kv_print(&kv, 1);
	print_explanation("evidence", ev);
	printf("\n");
	print_alerts(result);
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
		result, "alerts")) == ANOMCTL_INCIDENT_ALERTS)
		warnx("only the newest %d alerts are shown; use anomctl "
		      "--json incident or query the database for the rest",
		    ANOMCTL_INCIDENT_ALERTS);
}

/* ---- other results --------------------------------------------------- */

/* Print the "version" result. */
static void
print_version(const cJSON *result)
{
	char buf[64];

	printf("anomd %s\n", field(result, "version", buf, sizeof(buf)));
}

/* Print what became of the raised alerts and the EVE output's counters. */
static void
print_status_outputs(const cJSON *r)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "alert_counts");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "eve");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "storm");
	char s1[64], s2[64], s3[64], s4[64], s5[64], s6[64];

#define F(o, name, buf) field(o, name, buf, sizeof(buf))
	if (cJSON_IsObject(a))
		printf("           of %s raised: %s folded into earlier rows, "
		       "%s capped (alert_rate_max), %s dropped (store queue "
		       "full), %s rejected; %s stream lines dropped\n",
		    F(a, "raised", s1), F(a, "folded", s2), F(a, "capped", s3),
		    F(a, "dropped", s4), F(a, "rejected", s5),
		    F(a, "stream_dropped", s6));
	if (cJSON_IsObject(st) && field_num(st, "minutes", 0) > 0)
		printf(
		    "STORM:     %s minutes in which most flows alerted, "
		    "the latest to %s (%.0f %%, %s+ hosts to %s+): the model "
		    "does not fit this traffic; if the network changed, "
		    "anomctl retrain\n",
		    F(st, "minutes", s1), F(st, "last", s2),
		    100 * field_num(st, "share", 0), F(st, "initiators", s3),
		    F(st, "responders", s4));
	if (cJSON_IsObject(e))
		printf(
		    "eve:       %s: %s lines written, %s dropped, %s errors, "
		    "%s reconnects, %s queued\n",
		    F(e, "output", s1), F(e, "written", s2),
		    F(e, "dropped", s3), F(e, "errors", s4),
		    F(e, "reconnects", s5), F(e, "queued", s6));
#undef F
}

/* Print the "status" result. */
static void
print_status(const cJSON *r)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "model");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "baseline");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "capture");
	const cJSON *up, *err;
	char s1[64], s2[64], s3[64], s4[64];

#define F(o, name, buf) field(o, name, buf, sizeof(buf))
	printf("state:     %s\n", F(r, "state", s1));
	printf("uptime:    %s\n",
	    fmt_dur(field_num(r, "uptime_s", 0), s1, sizeof(s1)));
	if (cJSON_IsObject(m))
		printf("model:     %s (age %s)\n", F(m, "id", s1),
		    fmt_dur(field_num(m, "age_s", 0), s2, sizeof(s2)));
	else
		printf("model:     none yet\n");
	printf("baseline:  %s flows (min %s), %s s of %s s\n",
	    F(b, "flows", s1), F(b, "min_flows", s2),
	    fmt_num(floor(field_num(b, "elapsed_s", 0)), s3, sizeof(s3)),
	    F(b, "window_s", s4));
	up = cJSON_GetObjectItemCaseSensitive(c, "up");
	err = cJSON_GetObjectItemCaseSensitive(c, "error");
	printf("capture:   %s %s%s%s: %s packets, %s bytes, %s active flows\n",
	    F(c, "interface", s1), cJSON_IsFalse(up) ? "DOWN" : "up",
	    cJSON_IsString(err) ? ", " : "",
	    cJSON_IsString(err) ? err->valuestring : "", F(c, "packets", s2),
	    F(c, "bytes", s3), F(c, "flows_active", s4));
	printf("drops:     %s by the kernel, %s by the interface\n",
	    F(c, "kernel_drops", s1), F(c, "if_drops", s2));
	printf("alerts:    %s stored (%s suppressed by the operator)\n",
	    F(r, "alerts", s1),
	    F(cJSON_GetObjectItemCaseSensitive(r, "alert_counts"), "suppressed",
		s2));
	print_status_outputs(r);
#undef F
}

/*
 * Print the "stats" result: its groups (counters, gauges, limits) as
 * "name  value" lines under a heading.  A labelled family (an object)
 * prints its parts that are not zero as name.label, after their sum when
 * they are counters; --json shows every part.
 */
static void
print_stats(const cJSON *result)
{
	struct kv kv = {0};
	const cJSON *g, *e, *part;
	char key[256], buf[64];
	double sum;

	cJSON_ArrayForEach(g, result)
	{
		if (!cJSON_IsObject(g))
			continue;
		cJSON_ArrayForEach(e, g)
		{
			snprintf(key, sizeof(key), "  %s", e->string);
			if (!cJSON_IsObject(e)) {
				kv_flatten(&kv, key, e);
				continue;
			}
			sum = 0;
			cJSON_ArrayForEach(part, e) sum += part->valuedouble;
			if (strcmp(g->string, "counters") == 0)
				kv_add(
				    &kv, key, fmt_num(sum, buf, sizeof(buf)));
			cJSON_ArrayForEach(part, e)
			{
				if (part->valuedouble == 0)
					continue;
				snprintf(key, sizeof(key), "  %s.%s", e->string,
				    part->string);
				kv_flatten(&kv, key, part);
			}
		}
		printf("%s%s:\n", g == result->child ? "" : "\n", g->string);
		kv_print(&kv, 0);
	}
}

/* Print any result as "key: value" lines. */
static void
print_generic(const cJSON *result)
{
	struct kv kv = {0};

	kv_flatten(&kv, "", result);
	kv_print(&kv, 1);
}

/* ---- arguments ------------------------------------------------------- */

/* Parse a whole number in [min, max]; 0 or -1. */
static int
parse_whole(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno != 0 || v != floor(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse a time: 30s/10m/1h/2d/1w ago, epoch seconds, or a UTC date. */
static int
parse_when(const char *s, double *out)
{
	static const char *const fmts[] = {"%Y-%m-%dT%H:%M:%S",
	    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
	const char *units = "smhdw", *u;
	static const double mult[] = {1, 60, 3600, 86400, 604800};
	char num[32];
	struct tm tm;
	size_t i, len = strlen(s);
	const char *end;

	if (len > 1 && len < sizeof(num) &&
	    (u = strchr(units, s[len - 1])) != NULL) {
		memcpy(num, s, len - 1);
		num[len - 1] = '\0';
		if (parse_whole(num, 0, ANOMCTL_EPOCH_MAX, out) != 0)
			return -1;
		*out = floor((double)time(NULL) - *out * mult[u - units]);
		return *out >= 0 ? 0 : -1;
	}
	if (parse_whole(s, 0, ANOMCTL_EPOCH_MAX, out) == 0)
		return 0;
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(s, fmts[i], &tm)) != NULL && *end == '\0') {
			*out = (double)timegm(&tm);
			return 0;
		}
	}
	return -1;
}

/* Parse an address into its canonical text (the store matches text). */
static int
parse_addr(const char *s, char *buf, size_t size)
{
	unsigned char a[16];
	static const unsigned char v4mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (inet_pton(AF_INET, s, a) == 1)
		return inet_ntop(AF_INET, a, buf, (socklen_t)size) ? 0 : -1;
	if (inet_pton(AF_INET6, s, a) != 1)
		return -1;
	if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
		return inet_ntop(AF_INET, a + 12, buf, (socklen_t)size) ? 0
									: -1;
	return inet_ntop(AF_INET6, a, buf, (socklen_t)size) ? 0 : -1;
}

/* Add one query option and its value to args; 0, or -1 if invalid. */
static int
alerts_opt(const char *opt, const char *val, cJSON *args)
{
	char addr[64], *end;
	double v;

	if (strcmp(opt, "since") == 0 || strcmp(opt, "until") == 0) {
		if (parse_when(val, &v) != 0)
			return -1;
	} else if (strcmp(opt, "limit") == 0) {
		if (parse_whole(val, 1, 1e6, &v) != 0)
			return -1;
	} else if (strcmp(opt, "before-id") == 0) {
		if (parse_whole(val, 1, ANOMCTL_ID_MAX, &v) != 0)
			return -1;
		opt = "before_id";
	} else if (strcmp(opt, "min-score") == 0) {
		v = strtod(val, &end);
		if (val[0] == '\0' || *end != '\0' || !isfinite(v) || v < 0)
			return -1;
		opt = "min_score";
	} else if (strcmp(opt, "src") == 0 || strcmp(opt, "dst") == 0 ||
	    strcmp(opt, "host") == 0) {
		if (parse_addr(val, addr, sizeof(addr)) != 0)
			return -1;
		cJSON_DeleteItemFromObjectCaseSensitive(args, opt);
		return cJSON_AddStringToObject(args, opt, addr) ? 0 : -1;
	} else
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(args, opt);
	return cJSON_AddNumberToObject(args, opt, v) ? 0 : -1;
}

/* "--name value" or "--name=value" options of command argv[0]. */
static int
build_opts(int argc, char **argv, cJSON *args, const char *const *opts)
{
	const char *opt, *val, *eq;
	char name[16];
	int i, k;

	if (cJSON_AddNumberToObject(args, "limit", ANOMCTL_LIMIT_DEFAULT) ==
	    NULL)
		return -1;
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0)
			goto bad;
		opt = argv[i] + 2;
		eq = strchr(opt, '=');
		snprintf(name, sizeof(name), "%.*s",
		    (int)(eq ? (size_t)(eq - opt) : strlen(opt)), opt);
		for (k = 0; opts[k] != NULL && strcmp(opts[k], name); k++)
			;
		if (opts[k] == NULL || (!eq && i + 1 == argc))
			goto bad;
		val = eq ? eq + 1 : argv[++i];
		if (alerts_opt(name, val, args) != 0) {
			warnx("%s: --%s: invalid value \"%s\"", argv[0], name,
			    val);
			return -1;
		}
	}
	return 0;
bad:
	warnx("%s: unknown option or missing value: %s", argv[0], argv[i]);
	return -1;
}

/* "alerts [--since WHEN] [--until WHEN] [--limit N] ..." */
static int
build_alerts(int argc, char **argv, cJSON *args)
{
	static const char *const opts[] = {"since", "until", "limit",
	    "min-score", "src", "dst", "before-id", NULL};

	return build_opts(argc, argv, args, opts);
}

/* "incidents [--since WHEN] [--until WHEN] [--host IP] [--limit N]" */
static int
build_incidents(int argc, char **argv, cJSON *args)
{
	static const char *const opts[] = {
	    "since", "until", "host", "limit", NULL};

	return build_opts(argc, argv, args, opts);
}

/* "alert ID" and "incident ID" */
static int
build_alert(int argc, char **argv, cJSON *args)
{
	double id;

	if (argc != 2 || parse_whole(argv[1], 1, ANOMCTL_ID_MAX, &id) != 0) {
		warnx("%s: want one id, a positive whole number", argv[0]);
		return -1;
	}
	cJSON_AddNumberToObject(args, "id", id);
	return 0;
}

/* Commands without arguments. */
static int
build_none(int argc, char **argv, cJSON *args)
{
	(void)args;
	if (argc == 1)
		return 0;
	warnx("%s: takes no arguments", argv[0]);
	return -1;
}

/* "report [--since WHEN] [-o FILE]" */
static int
build_report(int argc, char **argv, cJSON *args)
{
	const char *val;
	double v;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 ||
		    strcmp(argv[i], "--output") == 0) {
			if (i + 1 == argc)
				goto bad;
			report_path = argv[++i];
		} else if (strncmp(argv[i], "--output=", 9) == 0)
			report_path = argv[i] + 9;
		else if (strcmp(argv[i], "--since") == 0 ||
		    strncmp(argv[i], "--since=", 8) == 0) {
			if (argv[i][7] == '=')
				val = argv[i] + 8;
			else if (i + 1 == argc)
				goto bad;
			else
				val = argv[++i];
			if (parse_when(val, &v) != 0) {
				warnx("%s: --since: invalid value \"%s\"",
				    argv[0], val);
				return -1;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(args, "since");
			cJSON_AddNumberToObject(args, "since", v);
		} else
			goto bad;
	}
	if (report_path != NULL && report_path[0] == '\0') {
		warnx("%s: -o: empty file name", argv[0]);
		return -1;
	}
	return 0;
bad:
	warnx("%s: unknown option or missing value: %s", argv[0], argv[i]);
	return -1;
}

/*
 * Write the "report" result's page to -o FILE (through a temporary file
 * renamed over it, so a reader never sees half a page) or stdout.
 */
static void
print_report(const cJSON *result)
{
	const cJSON *html = cJSON_GetObjectItemCaseSensitive(result, "html");
	const cJSON *cap =
	    cJSON_GetObjectItemCaseSensitive(result, "map_points_max");
	char tmp[4096];
	FILE *fp = stdout;
	size_t len;

	if (!cJSON_IsString(html)) {
		warnx("report: the response has no page");
		exit(EXIT_DAEMON);
	}
	len = strlen(html->valuestring);
	if (report_path != NULL && strcmp(report_path, "-") != 0) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", report_path) >=
		    sizeof(tmp)) {
			warnx("report: %s: name too long", report_path);
			exit(EXIT_USAGE);
		}
		if ((fp = fopen(tmp, "w")) == NULL) {
			warnx("report: %s: %s", tmp, strerror(errno));
			exit(EXIT_DAEMON);
		}
	}
	if (fwrite(html->valuestring, 1, len, fp) != len || fflush(fp) != 0 ||
	    (fp != stdout && fclose(fp) != 0)) {
		warnx("report: write %s: %s", fp == stdout ? "stdout" : tmp,
		    strerror(errno));
		if (fp != stdout)
			unlink(tmp);
		exit(EXIT_DAEMON);
	}
	if (fp != stdout && rename(tmp, report_path) != 0) {
		warnx("report: rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		exit(EXIT_DAEMON);
	}
	if (fp != stdout)
		fprintf(stderr, "anomctl: report written to %s (%zu bytes%s)\n",
		    report_path, len,
		    cJSON_IsNumber(cap) ? ", fewer map points to fit the "
					  "socket's output cap"
					: "");
}

/* Parse a duration (N, Ns, Nm, Nh, Nd, Nw) into seconds; 0 or -1. */
static int
parse_for(const char *s, double *out)
{
	static const double mult[] = {1, 60, 3600, 86400, 604800};
	const char *units = "smhdw", *u;
	size_t len = strlen(s);
	char num[32];

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	if ((u = strchr(units, s[len - 1])) != NULL && len > 1)
		num[len - 1] = '\0';
	else
		u = units;
	if (parse_whole(num, 1, ANOMCTL_FOR_MAX_S, out) != 0)
		return -1;
	*out *= mult[u - units];
	return *out <= ANOMCTL_FOR_MAX_S ? 0 : -1;
}

/* Add one allow option and its value to args; 0, or -1 if invalid. */
static int
allow_opt(const char *opt, const char *val, cJSON *args)
{
	double v;

	if (cJSON_GetObjectItemCaseSensitive(args, opt) != NULL)
		return -1; /* given twice */
	if (strcmp(opt, "src") == 0 || strcmp(opt, "dst") == 0 ||
	    strcmp(opt, "proto") == 0 || strcmp(opt, "note") == 0)
		return cJSON_AddStringToObject(args, opt, val) ? 0 : -1;
	if (strcmp(opt, "dst-port") == 0) {
		if (parse_whole(val, 1, 65535, &v) != 0)
			return -1;
		return cJSON_AddNumberToObject(args, "dst_port", v) ? 0 : -1;
	}
	if (strcmp(opt, "for") == 0) {
		if (parse_for(val, &v) != 0)
			return -1;
		return cJSON_AddNumberToObject(args, "for", v) ? 0 : -1;
	}
	return -1;
}

/*
 * "allow INCIDENT [--for D] [--note T]" or "allow --src CIDR --dst CIDR
 * --dst-port N [--proto P] [--for D] [--note T]".
 */
static int
build_allow(int argc, char **argv, cJSON *args)
{
	static const char *const opts[] = {
	    "src", "dst", "dst-port", "proto", "for", "note", NULL};
	const char *opt, *val, *eq;
	char name[16];
	double id;
	int i = 1, k;

	if (argc > 1 && strncmp(argv[1], "--", 2) != 0) {
		if (parse_whole(argv[1], 1, ANOMCTL_ID_MAX, &id) != 0) {
			warnx("%s: incident id \"%s\" is not a positive whole "
			      "number",
			    argv[0], argv[1]);
			return -1;
		}
		cJSON_AddNumberToObject(args, "incident", id);
		i = 2;
	}
	for (; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0)
			goto bad;
		opt = argv[i] + 2;
		eq = strchr(opt, '=');
		snprintf(name, sizeof(name), "%.*s",
		    (int)(eq ? (size_t)(eq - opt) : strlen(opt)), opt);
		for (k = 0; opts[k] != NULL && strcmp(opts[k], name); k++)
			;
		if (opts[k] == NULL || (!eq && i + 1 == argc))
			goto bad;
		val = eq ? eq + 1 : argv[++i];
		if (allow_opt(name, val, args) != 0) {
			warnx("%s: --%s: invalid or repeated value \"%s\"",
			    argv[0], name, val);
			return -1;
		}
	}
	if (cJSON_GetArraySize(args) == 0) {
		warnx("%s: want an incident id or --src/--dst", argv[0]);
		return -1;
	}
	return 0;
bad:
	warnx("%s: unknown option or missing value: %s", argv[0], argv[i]);
	return -1;
}

/* Print one suppression on one line. */
static void
print_suppression(const cJSON *o)
{
	char id[32], src[64], dst[64], port[32], proto[32], exp[64], hits[32],
	    last[64], note[300];

	field(o, "id", id, sizeof(id));
	field(o, "src", src, sizeof(src));
	field(o, "dst", dst, sizeof(dst));
	field(o, "dst_port", port, sizeof(port));
	field(o, "proto", proto, sizeof(proto));
	field(o, "expires", exp, sizeof(exp));
	field(o, "hits", hits, sizeof(hits));
	field(o, "last_hit", last, sizeof(last));
	field(o, "note", note, sizeof(note));
	printf("%6s  %-20s %-20s %5s %5s  %-25s %8s  %-25s %s%s\n", id, src,
	    dst, strcmp(port, "0") ? port : "any",
	    strcmp(proto, "0") ? proto : "any",
	    strcmp(exp, "-") ? exp : "never", hits, last,
	    cJSON_IsTrue(cJSON_GetObjectItem(o, "active")) ? "" : "(expired) ",
	    note);
}

/* Print the header of the suppressions table. */
static void
print_suppression_header(void)
{
	printf("%6s  %-20s %-20s %5s %5s  %-25s %8s  %-25s %s\n", "ID", "SRC",
	    "DST", "PORT", "PROTO", "EXPIRES", "HITS", "LAST HIT", "NOTE");
}

/* Print the suppression "allow" made. */
static void
print_allow(const cJSON *result)
{
	print_suppression_header();
	print_suppression(result);
}

/* Print the "allows" list. */
static void
print_allows(const cJSON *result)
{
	const cJSON *a = cJSON_GetObjectItem(result, "suppressions"), *o;

	if (cJSON_GetArraySize(a) == 0) {
		printf("no suppressions\n");
		return;
	}
	print_suppression_header();
	cJSON_ArrayForEach(o, a) print_suppression(o);
}

static const struct command commands[] = {
    {"version", build_none, print_version, NULL},
    {"status", build_none, print_status, NULL},
    {"stats", build_none, print_stats, NULL},
    {"alerts", build_alerts, print_alerts, NULL},
    {"alert", build_alert, print_alert, NULL},
    {"incidents", build_incidents, print_incidents, NULL},
    {"incident", build_alert, print_incident, NULL},
    {"follow", build_none, NULL, "subscribe"},
    {"retrain", build_none, print_generic, NULL},
    {"model", build_none, print_generic, NULL},
    {"report", build_report, print_report, NULL},
    {"allow", build_allow, print_allow, NULL},
    {"allows", build_none, print_allows, NULL},
    {"unallow", build_alert, print_generic, NULL},
};

/* The request for cmd with its arguments, or NULL (usage error). */
static cJSON *
build_request(const struct command *cmd, int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *args = cJSON_CreateObject();

	if (req == NULL || args == NULL) {
		warnx("out of memory");
		exit(EXIT_DAEMON);
	}
	cJSON_AddStringToObject(
	    req, "command", cmd->request ? cmd->request : cmd->name);
	if (cmd->build(argc, argv, args) != 0) {
		cJSON_Delete(args);
		cJSON_Delete(req);
		return NULL;
	}
	if (cJSON_GetArraySize(args) > 0)
		cJSON_AddItemToObject(req, "arguments", args);
	else
		cJSON_Delete(args);
	return req;
}

/* ---- running --------------------------------------------------------- */

/* Remember SIGINT or SIGTERM; "follow" then ends. */
static void
stop_cb(int sig)
{
	stop_signal = sig;
}

/* Let SIGINT and SIGTERM interrupt a wait instead of killing us. */
static void
catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop_cb;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Subscribe, then print each pushed line until EOF or a signal. */
static int
run_follow(struct ctx *c, const cJSON *req)
{
	const cJSON *result;
	cJSON *resp = NULL;
	char *line;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	catch_stop_signals();
	if ((rc = transact(c, req, &resp, &result)) != 0)
		return rc;
	cJSON_Delete(resp);
	for (;;) {
		if ((rc = ctl_line(c, -1, &line)) != 0)
			return read_error(rc);
		if (c->json)
			printf("%s\n", line);
		else
			print_event(line);
	}
}

/* Send one request and print its result. */
static int
run_once(struct ctx *c, const struct command *cmd, const cJSON *req)
{
	const cJSON *result;
	cJSON *resp = NULL;
	char *s;
	int rc;

	if ((rc = transact(c, req, &resp, &result)) != 0)
		return rc;
	if (c->json) {
		if ((s = cJSON_PrintUnformatted(result)) != NULL)
			printf("%s\n", s);
		cJSON_free(s);
	} else
		cmd->print(result);
	cJSON_Delete(resp);
	if (fflush(stdout) == EOF) {
		warnx("stdout: %s", strerror(errno));
		return EXIT_DAEMON;
	}
	return EXIT_OK;
}

/* Print the usage summary. */
static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: anomctl [-s socket] [--json] command [arguments]\n"
	    "commands:\n"
	    "  version       the daemon's version\n"
	    "  status        state, model, baseline and capture\n"
	    "  stats         counters, gauges and limits\n"
	    "  alerts [--since when] [--until when] [--limit n]\n"
	    "         [--min-score x] [--src ip] [--dst ip] [--before-id n]\n"
	    "                recent alerts, newest first (when: 30s, 10m, "
	    "1h, 2d,\n"
	    "                1w ago; epoch seconds; or YYYY-MM-DD[THH:MM:SS] "
	    "UTC;\n"
	    "                ip: one address, matched exactly, no CIDR)\n"
	    "  alert id      one alert with its explanation\n"
	    "  incidents [--since when] [--until when] [--host ip] "
	    "[--limit n]\n"
	    "                recent incidents (grouped alerts), newest first\n"
	    "  incident id   one incident with its evidence and alerts\n"
	    "  follow        print alerts as they come, until interrupted\n"
	    "  retrain       learn a new baseline and model\n"
	    "  model         the current model\n"
	    "  report [--since when] [-o file]\n"
	    "                the analyst's HTML page of the alerts and "
	    "incidents\n"
	    "                in the store (default: since the model was "
	    "installed;\n"
	    "                file: else stdout)\n"
	    "  allow incident [--for dur] [--note text]\n"
	    "  allow --src cidr --dst cidr --dst-port n [--proto p] [--for "
	    "dur]\n"
	    "        [--note text]\n"
	    "                suppress alerts judged benign (dur: 30m, 12h, "
	    "7d, 2w)\n"
	    "  allows        the suppressions, with their hits\n"
	    "  unallow id    remove a suppression\n"
	    "  help [command]\n"
	    "                this summary, or one command's part of it\n"
	    "socket: -s, else $ANOMD_SOCKET, else " ANOMCTL_SOCKET "\n");
}

/*
 * Print the usage summary's lines about the command name, from its line to
 * the next command's; 0, or -1 if the summary has no such command.  The
 * summary is the one source, so every command has help.
 */
static int
usage_command(FILE *fp, const char *name)
{
	char *buf = NULL, *line, *next;
	size_t len = 0, n = strlen(name);
	FILE *mem;
	int in = 0, found = 0;

	if ((mem = open_memstream(&buf, &len)) == NULL)
		return -1;
	usage(mem);
	fclose(mem);
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (line[0] != ' ' || (line[1] == ' ' && line[2] != ' '))
			in = strncmp(line, "  ", 2) == 0 &&
			    strncmp(line + 2, name, n) == 0 &&
			    (line[2 + n] == ' ' || line[2 + n] == '\0');
		if (in) {
			fprintf(fp, "%s\n", line);
			found = 1;
		}
	}
	free(buf);
	if (found)
		fprintf(fp, "options anywhere: --json; see anomctl(8)\n");
	return found ? 0 : -1;
}

/* Whether the command's arguments ask for its help (-h or --help). */
static int
wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

/* "help [command]"; the exit status. */
static int
run_help(int argc, char **argv)
{
	if (argc == 1) {
		usage(stdout);
		return EXIT_OK;
	}
	if (wants_help(argc, argv))
		return usage_command(stdout, "help") == 0 ? EXIT_OK
							  : EXIT_USAGE;
	if (argc == 2 && usage_command(stdout, argv[1]) == 0)
		return EXIT_OK;
	if (argc == 2)
		warnx("help: unknown command \"%s\"", argv[1]);
	else
		warnx("help: takes at most one command");
	usage(stderr);
	return EXIT_USAGE;
}

/* Remove --json and -j anywhere after the command; they set c->json. */
static int
strip_json_flag(int argc, char **argv, struct ctx *c)
{
	int i, n = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0)
			c->json = 1;
		else
			argv[n++] = argv[i];
	}
	return n;
}

/* Parse the global options; the index of the command, or -1. */
static int
parse_global(int argc, char **argv, struct ctx *c)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+s:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->path = optarg;
			break;
		case 'j':
			c->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("anomctl %s\n", PACKAGE_VERSION);
			exit(EXIT_OK);
		default:
			return -1;
		}
	}
	return optind < argc ? optind : -1;
}

/* Parse the command line, send the request, print the answer. */
int
main(int argc, char **argv)
{
	struct ctx c = {.fd = -1};
	const struct command *cmd = NULL;
	cJSON *req;
	size_t i;
	int first, rc;

	c.path = getenv("ANOMD_SOCKET");
	if (c.path == NULL || c.path[0] == '\0')
		c.path = ANOMCTL_SOCKET;
	if ((first = parse_global(argc, argv, &c)) < 0)
		goto usage;
	argc = strip_json_flag(argc - first, argv + first, &c);
	argv += first;
	if (argc == 0)
		goto usage;
	if (strcmp(argv[0], "help") == 0)
		return run_help(argc, argv);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		warnx("unknown command \"%s\"", argv[0]);
		goto usage;
	}
	if (wants_help(argc, argv))
		return usage_command(stdout, cmd->name) == 0 ? EXIT_OK
							     : EXIT_USAGE;
	if ((req = build_request(cmd, argc, argv)) == NULL)
		goto usage;
	rc = cmd->print == NULL ? run_follow(&c, req) : run_once(&c, cmd, req);
	cJSON_Delete(req);
	if (c.fd != -1)
		close(c.fd);
	free(c.buf);
	return rc;
usage:
	usage(stderr);
	return EXIT_USAGE;
}
