/*
 * The control socket: a UNIX stream socket speaking newline-delimited JSON
 * on the daemon's event_base.  This file owns the socket, the clients,
 * their buffers and limits, and the framing; the handler owns the commands.
 *
 * Creation follows OpenSMTPD's control_create_socket: connect() first (a
 * non-blocking connect, so a live but stuck anomd cannot hang start-up),
 * and refuse when something answers; unlink the file only when it is a
 * socket nobody listens on; bind with a umask that leaves only the owner's
 * bits, chown to the group, then chmod to the final mode, so the group
 * never gets in before the group is right.  The umask is per process, so
 * control_open() belongs to start-up, before any worker thread exists.
 *
 * Accepting: EAGAIN, EINTR and ECONNABORTED are ignored.  Descriptors are
 * kept in reserve for the rest of the daemon (SQLite, the model file):
 * accept() returns the lowest free descriptor, so one within
 * CONTROL_FD_RESERVE of RLIMIT_NOFILE means fewer than that are left; such
 * a client is refused ("busy") and accepting pauses.  EMFILE, ENFILE and
 * any other accept error pause too.  A pause ends after CONTROL_PAUSE_S or
 * when a client leaves.  Clients beyond max_clients get one "busy" line,
 * except root and the daemon's own user (SO_PEERCRED at accept against 0
 * and geteuid()), who may take `reserved' more places: other users holding
 * every place cannot lock the admin out.  max_per_uid applies to all.
 *
 * Requests: one line each, read with evbuffer_readln (LF, and a CR before
 * it is dropped).  Every line gets one reply, an empty one an error.  A
 * line must be UTF-8 and JSON without NUL (raw or \u0000) and without a
 * repeated key, which cJSON alone would let through (control_request_parse);
 * a reply that would not be UTF-8 is replaced by an error.  A line with more
 * than line_max bytes before its LF, or more than that with no LF yet, gets
 * "too_long" and the client is closed once that is sent.  The read
 * high-watermark keeps the input near line_max.  A client's next request is
 * handled only when the previous response has been handed to the kernel: a
 * client that does not read stops being read (the kernel pushes back on it)
 * instead of growing its output, and a client that pipelines and reads is never
 * dropped.  A single response larger than output_max is replaced by a
 * "too_large" error.
 *
 * Slow and idle clients: the output buffer is checked against output_max
 * after every write; over it, the client is dropped (dropped_slow).  Only
 * broadcasts can pass it, so a subscriber that does not read is dropped,
 * and nothing ever waits on a client.  A client that sends nothing for
 * idle_s is closed (dropped_idle), except subscribers, and one that has not
 * sent a whole line within first_s of connecting too (a timer from accept,
 * so dribbling bytes does not extend it); any client whose pending output
 * makes no progress for idle_s is dropped as slow.
 *
 * A client that shuts down its side still gets every answer (an
 * unterminated last line counts as a request) and is closed once they are
 * sent.  Stats: clients and subscribers are gauges, the rest count up.
 * The daemon must ignore SIGPIPE: libevent writes with writev().
 */
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "daemon/daemon.h"

#ifndef CONTROL_FD_RESERVE
#define CONTROL_FD_RESERVE 16 /* descriptors left for the rest of anomd */
#endif
#define CONTROL_PAUSE_S 1 /* accept pause after running out of fds */
#define CONTROL_ACCEPT_BURST 64 /* connections taken per accept event */
#define CONTROL_OUTPUT_MIN 512 /* smallest output_max, bytes */
#define CONTROL_REFUSE_LINE_MAX 256 /* a refusal line, bytes */

struct control_client {
	TAILQ_ENTRY(control_client) entry;
	struct control *ctl;
	struct bufferevent *bev;
	struct event *first_ev; /* first_s deadline; NULL once a line came */
	struct control_peer peer;
	int subscribed;
	int eof; /* the client shut its side down */
	int closing; /* close once the output is flushed */
	int linger; /* closing after too_long: drain input until EOF */
	size_t drained;
	int rd_off; /* reading stopped until the output drains */
	int busy; /* inside the handler: a drop must wait */
	int dead; /* dropped while busy */
};

TAILQ_HEAD(control_clients, control_client);

struct control {
	struct event_base *base;
	struct control_opts o;
	char *path;
	int fd;
	struct event *accept_ev, *pause_ev;
	int paused;
	rlim_t nofile; /* RLIMIT_NOFILE at open; 0 = no reserve check */
	time_t last_warn;
	control_handler_cb cb;
	void *arg;
	struct control_clients clients;
	struct control_stats st;
};

static void client_process(struct control_client *);

/* Set *cause (when cause is not NULL) to a formatted message. */
static void PRINTFLIKE(2, 3) set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
}

/* Whether a warning may be logged now: at most one a second. */
static int
warn_ok(struct control *ctl)
{
	time_t now = time(NULL);

	if (now == ctl->last_warn)
		return 0;
	ctl->last_warn = now;
	return 1;
}

/* Fill a UNIX socket address; -ENAMETOOLONG when path does not fit. */
static int
addr_fill(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Refuse when another daemon answers at path; remove a stale socket. */
static int
stale_remove(const char *path, char **cause)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, rc, saved;

	addr_fill(&sa, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		saved = errno;
		set_cause(cause, "control: socket: %s", strerror(saved));
		return -saved;
	}
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	saved = errno;
	close(fd);
	if (rc == 0 || saved == EAGAIN || saved == EINPROGRESS) {
		set_cause(cause, "control: %s: another anomd is running", path);
		return -EADDRINUSE;
	}
	if (saved == ENOENT)
		return 0;
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		set_cause(
		    cause, "control: %s: exists and is not a socket", path);
		return -EEXIST;
	}
	if (saved != ECONNREFUSED) {
		set_cause(
		    cause, "control: connect %s: %s", path, strerror(saved));
		return -saved;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		saved = errno;
		set_cause(
		    cause, "control: unlink %s: %s", path, strerror(saved));
		return -saved;
	}
	return 0;
}

/* Bind, chown, chmod and listen; the listening fd, or -errno. */
static int
listen_socket(const struct control_opts *o, char **cause)
{
	struct sockaddr_un sa;
	const char *what = "socket";
	mode_t old;
	int fd, rc, saved;

	addr_fill(&sa, o->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	/* The mode comes from the umask alone, and the owner is changed
	 * without following a link: the folder may be the service user's,
	 * and no one can connect before listen(). */
	old = umask(~o->mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	saved = errno;
	umask(old);
	errno = saved;
	what = "bind";
	if (rc == -1)
		goto fail;
	what = "chown";
	if ((o->gid != (gid_t)-1 || (o->uid != 0 && o->uid != (uid_t)-1)) &&
	    fchownat(AT_FDCWD, o->path, o->uid == 0 ? (uid_t)-1 : o->uid,
		o->gid, AT_SYMLINK_NOFOLLOW) == -1)
		goto fail_unlink;
	what = "listen";
	if (listen(fd, SOMAXCONN) == -1)
		goto fail_unlink;
	return fd;

fail_unlink:
	saved = errno;
	unlink(o->path);
	errno = saved;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	set_cause(cause, "control: %s %s: %s", what, o->path, strerror(saved));
	return -saved;
}

/* The compact response line for an error; NULL when out of memory. */
static char *
reply_error(const char *code, const char *message)
{
	cJSON *r, *e;
	char *s = NULL;

	if ((r = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddFalseToObject(r, "ok") != NULL &&
	    (e = cJSON_AddObjectToObject(r, "error")) != NULL &&
	    cJSON_AddStringToObject(e, "code", code) != NULL &&
	    cJSON_AddStringToObject(e, "message", message) != NULL)
		s = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return s;
}

/* The compact response line for result, which it takes over. */
static char *
reply_ok(cJSON *result)
{
	cJSON *r;
	char *s = NULL;

	if ((r = cJSON_CreateObject()) == NULL ||
	    cJSON_AddTrueToObject(r, "ok") == NULL ||
	    !cJSON_AddItemToObject(r, "result", result)) {
		cJSON_Delete(result);
		cJSON_Delete(r);
		return NULL;
	}
	s = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return s;
}

/* Length of the UTF-8 sequence at s (n > 0 bytes left), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0; /* a continuation byte, an overlong lead, or too big
			   */
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* a surrogate */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* beyond U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Whether s[0..n) is UTF-8. */
int
control_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	while (n > 0) {
		if ((k = utf8_seq(p, n)) == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/* Whether a string in the JSON text s (NUL-ended) has a \u0000 escape. */
static int
has_nul_escape(const char *s)
{
	int in = 0;

	for (; *s != '\0'; s++) {
		if (*s == '"')
			in = !in;
		else if (in && *s == '\\') {
			if (s[1] == 'u' && strncmp(s + 2, "0000", 4) == 0)
				return 1;
			if (s[1] != '\0')
				s++; /* the escaped character */
		}
	}
	return 0;
}

/* Order two keys for qsort. */
static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 if an object in j repeats a key, 0 if none does, -1 out of memory. */
static int
dup_keys(const cJSON *j)
{
	const cJSON *c;
	const char **keys;
	size_t n = 0, i;
	int rc = 0;

	for (c = j->child; c != NULL; c = c->next)
		n++;
	if (cJSON_IsObject(j) && n > 1) {
		if ((keys = calloc(n, sizeof(*keys))) == NULL)
			return -1;
		for (i = 0, c = j->child; c != NULL; c = c->next)
			keys[i++] = c->string != NULL ? c->string : "";
		qsort(keys, n, sizeof(*keys), key_cmp);
		for (i = 1; i < n && rc == 0; i++)
			rc = strcmp(keys[i - 1], keys[i]) == 0;
		free(keys);
	}
	for (c = j->child; c != NULL && rc == 0; c = c->next)
		rc = dup_keys(c); /* cJSON caps nesting at 1000 */
	return rc;
}

/* Parse and vet one request line (see daemon.h). */
int
control_request_parse(const char *line, size_t n, cJSON **out, const char **why)
{
	cJSON *j;
	int rc;

	*out = NULL;
	*why = "the request is not JSON";
	if (n == 0) {
		*why = "an empty line: a request is one JSON object";
		return -EILSEQ;
	}
	if (memchr(line, '\0', n) != NULL)
		return -EILSEQ;
	if (!control_utf8_valid(line, n)) {
		*why = "the request is not UTF-8";
		return -EILSEQ;
	}
	if ((j = cJSON_ParseWithOpts(line, NULL, 1)) == NULL)
		return -EILSEQ;
	if (has_nul_escape(line)) {
		*why = "a string in the request has a \\u0000 escape";
		rc = -EPROTO;
	} else if ((rc = dup_keys(j)) != 0) {
		*why = rc < 0 ? "out of memory"
			      : "an object in the request repeats a key";
		rc = rc < 0 ? -ENOMEM : -EPROTO;
	}
	if (rc != 0)
		cJSON_Delete(j);
	else
		*out = j;
	return rc;
}

/* Restart accepting after a pause. */
static void
accept_resume(struct control *ctl)
{
	if (!ctl->paused)
		return;
	ctl->paused = 0;
	evtimer_del(ctl->pause_ev);
	event_add(ctl->accept_ev, NULL);
}

/* Stop accepting for CONTROL_PAUSE_S, or until a client leaves. */
static void
accept_pause(struct control *ctl)
{
	struct timeval tv = {CONTROL_PAUSE_S, 0};

	if (ctl->paused)
		return;
	ctl->paused = 1;
	event_del(ctl->accept_ev);
	evtimer_add(ctl->pause_ev, &tv);
}

/* The pause is over. */
static void
pause_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	accept_resume(arg);
}

/* Close a client and free it. */
static void
client_free(struct control_client *cl)
{
	struct control *ctl = cl->ctl;

	TAILQ_REMOVE(&ctl->clients, cl, entry);
	ctl->st.clients--;
	if (cl->subscribed)
		ctl->st.subscribers--;
	if (cl->first_ev != NULL)
		event_free(cl->first_ev);
	bufferevent_free(cl->bev);
	free(cl);
	accept_resume(ctl);
}

/* Drop a client now, or after the handler it is in returns. */
static void
client_drop(struct control_client *cl)
{
	if (cl->busy)
		cl->dead = 1;
	else
		client_free(cl);
}

/* The client sent a whole line (or too long a one): no first_s deadline. */
static void
client_first_done(struct control_client *cl)
{
	if (cl->first_ev == NULL)
		return;
	event_free(cl->first_ev);
	cl->first_ev = NULL;
}

/* A client made no request within first_s of connecting. */
static void
client_first_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *cl = arg;

	(void)fd;
	(void)what;
	cl->ctl->st.dropped_idle++;
	log_debug("control: client pid %ld uid %lu sent no request in %u s",
	    (long)cl->peer.pid, (unsigned long)cl->peer.uid,
	    cl->ctl->o.first_s);
	client_drop(cl);
}

/* Drop a client whose output is over the cap; 0, or -1 if dropped. */
static int
client_check_output(struct control_client *cl)
{
	struct control *ctl = cl->ctl;
	size_t n = evbuffer_get_length(bufferevent_get_output(cl->bev));

	if (n <= ctl->o.output_max)
		return 0;
	ctl->st.dropped_slow++;
	if (warn_ok(ctl))
		log_warnx("control: dropped client pid %ld uid %lu: %zu bytes "
			  "of unread output (max %zu)",
		    (long)cl->peer.pid, (unsigned long)cl->peer.uid, n,
		    ctl->o.output_max);
	client_drop(cl);
	return -1;
}

/* Queue one response line (taken over); 0, or -1 if the client is gone. */
static int
client_reply(struct control_client *cl, char *line)
{
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	size_t max = cl->ctl->o.output_max;
	char msg[128];
	int rc;

	if (line != NULL && !control_utf8_valid(line, strlen(line))) {
		/* A handler put bytes from elsewhere into the reply. */
		if (warn_ok(cl->ctl))
			log_warnx("control: a response was not UTF-8");
		cJSON_free(line);
		line = reply_error("internal", "the response is not UTF-8");
	}
	if (line != NULL && strlen(line) >= max) {
		snprintf(msg, sizeof(msg),
		    "the response (%zu bytes) is over the output cap (%zu)",
		    strlen(line) + 1, max);
		cJSON_free(line);
		line = reply_error("too_large", msg);
	}
	if (line == NULL) {
		log_warnx("control: out of memory for a response");
		client_drop(cl);
		return -1;
	}
	rc = evbuffer_add(out, line, strlen(line));
	cJSON_free(line);
	if (rc != 0 || evbuffer_add(out, "\n", 1) != 0) {
		client_drop(cl);
		return -1;
	}
	return client_check_output(cl);
}

/* Why a parsed request is malformed, or NULL; sets *cmd and *args. */
static const char *
request_check(const cJSON *req, const cJSON **cmd, const cJSON **args)
{
	if (!cJSON_IsObject(req))
		return "a request is a JSON object";
	*cmd = cJSON_GetObjectItemCaseSensitive(req, "command");
	if (!cJSON_IsString(*cmd) || (*cmd)->valuestring == NULL)
		return "\"command\" must be a string";
	*args = cJSON_GetObjectItemCaseSensitive(req, "arguments");
	if (cJSON_IsNull(*args))
		*args = NULL;
	if (*args != NULL && !cJSON_IsObject(*args))
		return "\"arguments\" must be an object";
	return NULL;
}

/* Run the handler for a well-formed request; the response line. */
static char *
client_dispatch(struct control_client *cl, const cJSON *cmd, const cJSON *args)
{
	struct control *ctl = cl->ctl;
	const char *code = NULL;
	char *message = NULL, *line;
	cJSON *result;

	cl->busy = 1;
	result = ctl->cb(
	    cl, cmd->valuestring, args, &cl->peer, &code, &message, ctl->arg);
	cl->busy = 0;
	if (result != NULL) {
		free(message);
		return reply_ok(result);
	}
	if (code == NULL)
		code = "internal";
	line = reply_error(code, message != NULL ? message : code);
	free(message);
	return line;
}

/* Answer one request line of n bytes; 0, or -1 if the client is gone. */
static int
client_request(struct control_client *cl, const char *line, size_t n)
{
	struct control *ctl = cl->ctl;
	const cJSON *cmd = NULL, *args = NULL;
	const char *why;
	cJSON *req = NULL;
	char *reply;
	int rc;

	ctl->st.requests++;
	if ((rc = control_request_parse(line, n, &req, &why)) != 0) {
		ctl->st.bad_requests++;
		reply = reply_error(rc == -EILSEQ ? "bad_json"
			: rc == -EPROTO		  ? "bad_request"
						  : "internal",
		    why);
	} else if ((why = request_check(req, &cmd, &args)) != NULL) {
		ctl->st.bad_requests++;
		reply = reply_error("bad_request", why);
	} else
		reply = client_dispatch(cl, cmd, args);
	cJSON_Delete(req);
	if (cl->dead) {
		cJSON_free(reply);
		client_free(cl);
		return -1;
	}
	return client_reply(cl, reply);
}

#define CONTROL_LINGER_S 2
#define CONTROL_LINGER_MAX_BYTES (1024 * 1024)

/* Discard input of a lingering client; drop it past the byte cap. */
static void
client_linger_drain(struct control_client *cl)
{
	struct evbuffer *in = bufferevent_get_input(cl->bev);
	struct timeval tv = {CONTROL_LINGER_S, 0};

	cl->drained += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_set_timeouts(cl->bev, &tv, &tv);
	if (cl->drained > CONTROL_LINGER_MAX_BYTES)
		client_free(cl);
}

/* Answer "too_long" and close once that is sent. */
static void
client_too_long(struct control_client *cl)
{
	struct control *ctl = cl->ctl;
	char msg[96];

	ctl->st.oversized++;
	client_first_done(cl);
	snprintf(
	    msg, sizeof(msg), "request line over %zu bytes", ctl->o.line_max);
	if (client_reply(cl, reply_error("too_long", msg)) != 0)
		return;
	/*
	 * Closing a UNIX socket with unread input resets it, and the peer may
	 * then lose the reply.  So keep reading (and discarding) after the
	 * reply, half-close, and close at EOF or after a short linger.
	 */
	cl->closing = 1;
	cl->linger = 1;
	client_linger_drain(cl);
}

/* Take the next request line into *linep; 1, 0 when none, -1 if gone. */
static int
client_next_line(struct control_client *cl, char **linep, size_t *np)
{
	struct evbuffer *in = bufferevent_get_input(cl->bev);
	size_t avail = evbuffer_get_length(in), max = cl->ctl->o.line_max;
	struct evbuffer_ptr eol;

	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if ((eol.pos == -1 && avail > max) ||
	    (eol.pos != -1 && (size_t)eol.pos > max)) {
		client_too_long(cl);
		return -1;
	}
	if (eol.pos == -1 && (!cl->eof || avail == 0))
		return 0;
	if (eol.pos == -1) {
		/* After EOF an unterminated last line is a request too. */
		if ((*linep = malloc(avail + 1)) != NULL) {
			evbuffer_remove(in, *linep, avail);
			(*linep)[avail] = '\0';
			*np = avail;
		}
	} else
		*linep = evbuffer_readln(in, np, EVBUFFER_EOL_LF);
	if (*linep == NULL) {
		client_drop(cl);
		return -1;
	}
	if (*np > 0 && (*linep)[*np - 1] == '\r')
		(*linep)[--*np] = '\0';
	return 1;
}

/* Answer the buffered requests, one at a time (see the design above). */
static void
client_process(struct control_client *cl)
{
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	char *line;
	size_t n;
	int rc;

	while (!cl->closing) {
		if (evbuffer_get_length(out) > 0) {
			/* Wait for the write callback. */
			cl->rd_off = 1;
			bufferevent_disable(cl->bev, EV_READ);
			return;
		}
		if ((rc = client_next_line(cl, &line, &n)) < 0)
			return;
		if (rc == 0)
			break;
		client_first_done(cl);
		rc = client_request(cl, line, n);
		free(line);
		if (rc != 0)
			return;
	}
	if (cl->eof && !cl->closing) {
		cl->closing = 1;
		if (evbuffer_get_length(out) == 0)
			client_free(cl);
	} else if (cl->rd_off && !cl->eof && !cl->closing) {
		cl->rd_off = 0;
		bufferevent_enable(cl->bev, EV_READ);
	}
}

/* Bytes arrived. */
static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;

	(void)bev;
	if (cl->linger)
		client_linger_drain(cl);
	else
		client_process(cl);
}

/* The output drained: close, or go on with the next request. */
static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		client_check_output(cl);
		return;
	}
	if (cl->linger)
		shutdown(bufferevent_getfd(bev), SHUT_WR);
	else if (cl->closing)
		client_free(cl);
	else
		client_process(cl);
}

/* EOF, an error or a timeout on a client. */
static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_client *cl = arg;
	struct control *ctl = cl->ctl;

	(void)bev;
	if (cl->linger) {
		client_free(cl); /* EOF, error or the linger ran out */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (what & BEV_EVENT_READING)
			ctl->st.dropped_idle++;
		else
			ctl->st.dropped_slow++;
		log_debug("control: client pid %ld %s", (long)cl->peer.pid,
		    what & BEV_EVENT_READING ? "idle" : "stalled");
		client_free(cl);
	} else if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/* Answer what came before the EOF; closing waits anyway. */
		cl->eof = 1;
		if (!cl->closing)
			client_process(cl);
	} else
		client_free(cl);
}

/* Apply the idle timeout (reading) and the stall timeout (writing). */
static void
client_set_timeouts(struct control_client *cl)
{
	struct timeval tv = {(time_t)cl->ctl->o.idle_s, 0};

	if (cl->ctl->o.idle_s == 0)
		bufferevent_set_timeouts(cl->bev, NULL, NULL);
	else
		bufferevent_set_timeouts(
		    cl->bev, cl->subscribed ? NULL : &tv, &tv);
}

/* Send one refusal line on a fresh connection and close it. */
static void
client_refuse(struct control *ctl, int fd, const char *message)
{
	char buf[CONTROL_REFUSE_LINE_MAX];
	char *line = reply_error("busy", message);
	int n;

	ctl->st.refused_busy++;
	if (line != NULL) {
		n = snprintf(buf, sizeof(buf), "%s\n", line);
		if (n > 0 && (size_t)n < sizeof(buf) &&
		    send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("control: refusal: %s", strerror(errno));
		cJSON_free(line);
	}
	close(fd);
	if (warn_ok(ctl))
		log_warnx("control: refused a client: %s", message);
}

/* Clients connected now with this uid. */
static unsigned
uid_clients(const struct control *ctl, uid_t uid)
{
	const struct control_client *cl;
	unsigned n = 0;

	TAILQ_FOREACH(cl, &ctl->clients, entry)
	n += cl->peer.uid == uid;
	return n;
}

/* Why a peer may not connect now (into msg), or NULL. */
static const char *
client_full(const struct control *ctl, const struct ucred *cr, int admin,
    char *msg, size_t size)
{
	unsigned max = ctl->o.max_clients;

	if (ctl->st.clients >= max + (admin ? ctl->o.reserved : 0)) {
		snprintf(msg, size, "too many clients (max %u)", max);
		return msg;
	}
	if (ctl->o.max_per_uid &&
	    uid_clients(ctl, cr->uid) >= ctl->o.max_per_uid) {
		snprintf(msg, size, "too many clients of uid %u (max %u)",
		    (unsigned)cr->uid, ctl->o.max_per_uid);
		return msg;
	}
	return NULL;
}

/* Set up a client on fd for the peer cr; NULL on failure (fd closed). */
static struct control_client *
client_new(struct control *ctl, int fd, const struct ucred *cr)
{
	struct timeval first = {(time_t)ctl->o.first_s, 0};
	struct control_client *cl;

	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		fatal("control: client");
	cl->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cl->bev == NULL) {
		close(fd);
		goto fail;
	}
	if (ctl->o.first_s != 0) {
		cl->first_ev = evtimer_new(ctl->base, client_first_cb, cl);
		if (cl->first_ev == NULL || evtimer_add(cl->first_ev, &first))
			goto fail;
	}
	cl->ctl = ctl;
	cl->peer.uid = cr->uid;
	cl->peer.gid = cr->gid;
	cl->peer.pid = cr->pid;
	return cl;

fail:
	if (cl->first_ev != NULL)
		event_free(cl->first_ev);
	if (cl->bev != NULL)
		bufferevent_free(cl->bev); /* closes fd */
	free(cl);
	log_warnx("control: cannot set up a client");
	return NULL;
}

/* Take a connection into service, or refuse it when full. */
static void
client_accept(struct control *ctl, int fd)
{
	struct control_client *cl;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	const char *why;
	char msg[96];
	int admin;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 ||
	    len != sizeof(cr)) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	/* geteuid() now: the daemon opens the socket before it drops root. */
	admin = cr.uid == 0 || cr.uid == geteuid();
	if ((why = client_full(ctl, &cr, admin, msg, sizeof(msg))) != NULL) {
		client_refuse(ctl, fd, why);
		return;
	}
	if ((cl = client_new(ctl, fd, &cr)) == NULL)
		return;
	bufferevent_setcb(
	    cl->bev, client_read_cb, client_write_cb, client_event_cb, cl);
	/* A full line and its CR LF, so an oversized one is always seen. */
	bufferevent_setwatermark(cl->bev, EV_READ, 0, ctl->o.line_max + 2);
	client_set_timeouts(cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&ctl->clients, cl, entry);
	ctl->st.accepted++;
	ctl->st.clients++;
}

/* Whether fd leaves fewer than CONTROL_FD_RESERVE descriptors free. */
static int
fd_scarce(const struct control *ctl, int fd)
{
	return ctl->nofile != 0 &&
	    (rlim_t)fd + CONTROL_FD_RESERVE >= ctl->nofile;
}

/* Accept what is waiting (see the design above). */
static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct control *ctl = arg;
	int fd, i;

	(void)what;
	for (i = 0; i < CONTROL_ACCEPT_BURST; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				return;
			if (warn_ok(ctl))
				log_warn("control: accept");
			accept_pause(ctl);
			return;
		}
		if (fd_scarce(ctl, fd)) {
			client_refuse(ctl, fd, "out of file descriptors");
			accept_pause(ctl);
			return;
		}
		client_accept(ctl, fd);
	}
}

/* Check the options; 0, or -EINVAL with *cause. */
static int
opts_check(const struct control_opts *o, char **cause)
{
	struct sockaddr_un sa;

	if (o->path == NULL || o->path[0] == '\0') {
		set_cause(cause, "control: no socket path");
		return -EINVAL;
	}
	if (addr_fill(&sa, o->path) != 0) {
		set_cause(cause, "control: %s: path too long (max %zu bytes)",
		    o->path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (o->max_clients == 0 || o->output_max < CONTROL_OUTPUT_MIN) {
		set_cause(cause,
		    "control: want max_clients >= 1 and "
		    "output_max >= %d",
		    CONTROL_OUTPUT_MIN);
		return -EINVAL;
	}
	return 0;
}

/* Create the handle around a listening fd. */
static struct control *
control_create(struct event_base *base, const struct control_opts *o, int fd,
    control_handler_cb cb, void *arg)
{
	struct control *ctl;
	struct rlimit rl;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->path = strdup(o->path)) == NULL)
		fatal("control: create");
	ctl->base = base;
	ctl->o = *o;
	ctl->o.path = ctl->path;
	if (ctl->o.line_max == 0)
		ctl->o.line_max = CONTROL_LINE_MAX;
	ctl->fd = fd;
	ctl->cb = cb;
	ctl->arg = arg;
	TAILQ_INIT(&ctl->clients);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		ctl->nofile = rl.rlim_cur;
	ctl->accept_ev =
	    event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, ctl);
	ctl->pause_ev = evtimer_new(base, pause_cb, ctl);
	if (ctl->accept_ev == NULL || ctl->pause_ev == NULL ||
	    event_add(ctl->accept_ev, NULL) != 0)
		fatalx("control: cannot register the socket's events");
	return ctl;
}

/* Create the socket and start accepting on base. */
int
control_open(struct control **ctlp, struct event_base *base,
    const struct control_opts *o, control_handler_cb cb, void *arg,
    char **cause)
{
	int fd, rc;

	*ctlp = NULL;
	if (cause != NULL)
		*cause = NULL;
	if ((rc = opts_check(o, cause)) != 0)
		return rc;
	if ((rc = stale_remove(o->path, cause)) != 0)
		return rc;
	if ((fd = listen_socket(o, cause)) < 0)
		return fd;
	*ctlp = control_create(base, o, fd, cb, arg);
	return 0;
}

/* Close every client and the socket, remove the file, free. */
void
control_close(struct control *ctl)
{
	if (ctl == NULL)
		return;
	while (!TAILQ_EMPTY(&ctl->clients))
		client_free(TAILQ_FIRST(&ctl->clients));
	event_free(ctl->accept_ev);
	event_free(ctl->pause_ev);
	close(ctl->fd);
	if (unlink(ctl->path) == -1 && errno != ENOENT)
		log_warn("control: unlink %s", ctl->path);
	free(ctl->path);
	free(ctl);
}

/* Mark a client as a subscriber: no idle timeout, every broadcast. */
void
control_subscribe(struct control_client *cl)
{
	if (cl->subscribed)
		return;
	cl->subscribed = 1;
	cl->ctl->st.subscribers++;
	client_set_timeouts(cl);
}

/* Queue line and a newline to every subscriber; drop those over the cap. */
void
control_broadcast(struct control *ctl, const char *line)
{
	struct control_client *cl, *next;
	struct evbuffer *out;
	size_t len = strlen(line);

	if (!control_utf8_valid(line, len)) {
		if (warn_ok(ctl))
			log_warnx("control: not broadcasting a line that is "
				  "not UTF-8");
		return;
	}
	for (cl = TAILQ_FIRST(&ctl->clients); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		if (!cl->subscribed || cl->closing || cl->dead)
			continue;
		out = bufferevent_get_output(cl->bev);
		if (evbuffer_add(out, line, len) != 0 ||
		    evbuffer_add(out, "\n", 1) != 0)
			client_drop(cl);
		else
			client_check_output(cl);
	}
}

/* Copy the counters. */
void
control_get_stats(const struct control *ctl, struct control_stats *st)
{
	*st = ctl->st;
}

/* Read an optional whole-number argument (see daemon.h). */
int
control_arg_int(
    const cJSON *args, const char *name, int64_t min, int64_t max, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	double d;

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max)
		return -1;
	*out = (int64_t)d;
	return 1;
}

/* Read an optional address argument as the store writes it (daemon.h). */
int
control_arg_addr(const cJSON *args, const char *name, char buf[ADDR_STR_LEN])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	uint8_t a[16];

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return -1;
	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, v->valuestring, a + 12) == 1)
		a[10] = a[11] = 0xff; /* IPv4-mapped, as capture keeps it */
	else if (inet_pton(AF_INET6, v->valuestring, a) != 1)
		return -1;
	addr_str(a, buf);
	return 1;
}

/* Fail a request: set *code and a formatted *message; returns NULL. */
struct cJSON *
control_fail(
    const char **code, char **message, const char *c, const char *fmt, ...)
{
	va_list ap;

	*code = c;
	va_start(ap, fmt);
	if (vasprintf(message, fmt, ap) < 0)
		*message = NULL;
	va_end(ap);
	return NULL;
}
