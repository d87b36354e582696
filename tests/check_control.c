/*
 * Check tests of the control socket: real UNIX sockets in a temp folder.
 * The test is both server and client in one thread: clients are
 * non-blocking sockets, and every wait runs the event loop without
 * blocking (EVLOOP_NONBLOCK) and then polls the client for at most 1 ms,
 * always against a deadline, so nothing can hang.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

#define DEADLINE_MS 5000 /* longest wait for anything */
#define LINE_MAX_TEST 1024
#define REQ_PREFIX "{\"command\":\"echo\",\"arguments\":{\"s\":\""
#define REQ_SUFFIX "\"}}"

struct fix {
	char dir[64];
	char path[96];
	struct event_base *base;
	struct control *ctl;
	unsigned calls; /* handler calls */
};

static struct fix F;

/* Milliseconds of a monotonic clock. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run whatever the loop has ready, without waiting. */
static void
pump(void)
{
	event_base_loop(F.base, EVLOOP_NONBLOCK);
}

/* Run the loop for about ms milliseconds. */
static void
pump_for(int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		pump();
		poll(NULL, 0, 1);
	}
}

/* The server's counters. */
static struct control_stats
stats(void)
{
	struct control_stats st;

	control_get_stats(F.ctl, &st);
	return st;
}

/* The test handler: echo, fail, subscribe, whoami, big, else unknown. */
static cJSON *
handler(struct control_client *cl, const char *command, const cJSON *args,
    const struct control_peer *peer, const char **code, char **message,
    void *arg)
{
	struct fix *f = arg;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(args, "n");
	cJSON *r;
	char *s;

	f->calls++;
	if (strcmp(command, "echo") == 0)
		return args != NULL ? cJSON_Duplicate(args, 1)
				    : cJSON_CreateNull();
	if (strcmp(command, "subscribe") == 0) {
		control_subscribe(cl);
		r = cJSON_CreateObject();
		cJSON_AddTrueToObject(r, "subscribed");
		return r;
	}
	if (strcmp(command, "whoami") == 0) {
		r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "uid", peer->uid);
		cJSON_AddNumberToObject(r, "gid", peer->gid);
		cJSON_AddNumberToObject(r, "pid", peer->pid);
		return r;
	}
	if (strcmp(command, "raw") == 0)
		return cJSON_CreateString("caf\xc3 bytes from elsewhere");
	if (strcmp(command, "big") == 0 && cJSON_IsNumber(n)) {
		s = calloc(1, (size_t)n->valuedouble + 1);
		memset(s, 'x', (size_t)n->valuedouble);
		r = cJSON_CreateString(s);
		free(s);
		return r;
	}
	*code =
	    strcmp(command, "fail") == 0 ? "bad_argument" : "unknown_command";
	if (asprintf(message, "%s \"%s\"",
		strcmp(command, "fail") == 0 ? "asked to fail"
					     : "unknown command",
		command) < 0)
		*message = NULL;
	return NULL;
}

/* Options every test starts from. */
static struct control_opts
opts(void)
{
	struct control_opts o;

	memset(&o, 0, sizeof(o));
	o.path = F.path;
	o.mode = 0660;
	o.gid = (gid_t)-1;
	o.max_clients = 16;
	o.idle_s = 30;
	o.output_max = 64 * 1024;
	o.line_max = LINE_MAX_TEST;
	return o;
}

/* Open the server with o. */
static void
start(const struct control_opts *o)
{
	char *cause = NULL;
	int rc;

	rc = control_open(&F.ctl, F.base, o, handler, &F, &cause);
	ck_assert_msg(
	    rc == 0, "control_open should succeed: %s", cause ? cause : "");
	ck_assert_ptr_nonnull(F.ctl);
}

/* A fresh folder and loop for each test. */
static void
setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	memset(&F, 0, sizeof(F));
	snprintf(F.dir, sizeof(F.dir), "/tmp/check_control.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(F.dir));
	snprintf(F.path, sizeof(F.path), "%s/ctl.sock", F.dir);
	F.base = event_base_new();
	ck_assert_ptr_nonnull(F.base);
}

/* Close the server and remove the folder. */
static void
teardown(void)
{
	control_close(F.ctl);
	event_base_free(F.base);
	unlink(F.path);
	rmdir(F.dir);
}

/* A non-blocking client connected to the server. */
static int
cli_connect(void)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", F.path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	    "connect %s should work: %s", F.path, strerror(errno));
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* Send all of s (running the loop while the socket is full). */
static void
cli_send_n(int fd, const char *s, size_t len)
{
	long long end = now_ms() + DEADLINE_MS;
	ssize_t n;

	while (len > 0) {
		n = send(fd, s, len, MSG_NOSIGNAL);
		if (n > 0) {
			s += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return; /* the server closed: the reply says why */
		ck_assert_msg(errno == EAGAIN, "send: %s", strerror(errno));
		ck_assert_msg(now_ms() < end, "send should not stall");
		pump();
	}
}

/* Send a string. */
static void
cli_send(int fd, const char *s)
{
	cli_send_n(fd, s, strlen(s));
}

/*
 * Read one line into buf (without its newline): its length, -1 at EOF,
 * -errno on an error, -ETIMEDOUT after the deadline.
 */
static int
cli_line(int fd, char *buf, size_t size)
{
	long long end = now_ms() + DEADLINE_MS;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t len = 0;
	ssize_t n;
	char c;

	for (;;) {
		n = recv(fd, &c, 1, 0);
		if (n == 1 && c == '\n') {
			buf[len] = '\0';
			return (int)len;
		}
		if (n == 1) {
			if (len + 1 < size)
				buf[len++] = c;
			continue;
		}
		if (n == 0)
			return -1;
		if (errno != EAGAIN)
			return -errno;
		if (now_ms() > end)
			return -ETIMEDOUT;
		pump();
		poll(&pfd, 1, 1);
	}
}

/* Read one line and check it is want. */
static void
cli_expect(int fd, const char *want)
{
	char buf[4096];
	int n = cli_line(fd, buf, sizeof(buf));

	ck_assert_msg(n >= 0, "a response should come (got %d)", n);
	ck_assert_str_eq(buf, want);
}

static int last_ascii; /* whether cli_expect_code's line was all ASCII */

/* Read one line and check it is an error with code. */
static void
cli_expect_code(int fd, const char *code)
{
	char buf[4096];
	const cJSON *e, *c;
	const char *p;
	cJSON *r;
	int n = cli_line(fd, buf, sizeof(buf));

	ck_assert_msg(n >= 0, "an error response should come (got %d)", n);
	for (last_ascii = 1, p = buf; *p != '\0'; p++)
		last_ascii &= (unsigned char)*p < 0x80;
	r = cJSON_Parse(buf);
	ck_assert_msg(r != NULL, "the response should be JSON: %s", buf);
	ck_assert_msg(cJSON_IsFalse(cJSON_GetObjectItem(r, "ok")),
	    "ok should be false: %s", buf);
	e = cJSON_GetObjectItem(r, "error");
	c = cJSON_GetObjectItem(e, "code");
	ck_assert_msg(cJSON_IsString(c) && strcmp(c->valuestring, code) == 0,
	    "the error code should be %s: %s", code, buf);
	ck_assert_msg(cJSON_IsString(cJSON_GetObjectItem(e, "message")),
	    "the error should have a message: %s", buf);
	cJSON_Delete(r);
}

/* Whether the server closes fd before the deadline (data is skipped). */
static int
cli_closed(int fd)
{
	long long end = now_ms() + DEADLINE_MS;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[4096];
	ssize_t n;

	while (now_ms() < end) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n > 0)
			continue;
		ck_assert_msg(errno == EAGAIN, "recv: %s", strerror(errno));
		pump();
		poll(&pfd, 1, 1);
	}
	return 0;
}

/* Whether fd is still open, with nothing to read, after the loop ran. */
static int
cli_open(int fd)
{
	char c;

	pump();
	return recv(fd, &c, 1, 0) == -1 && errno == EAGAIN;
}

/* One echo request and its answer. */
static void
cli_roundtrip(int fd, int n)
{
	char req[128], want[128];

	snprintf(req, sizeof(req),
	    "{\"command\":\"echo\",\"arguments\":{\"n\":%d}}\n", n);
	snprintf(want, sizeof(want), "{\"ok\":true,\"result\":{\"n\":%d}}", n);
	cli_send(fd, req);
	cli_expect(fd, want);
}

/* Run the loop until the server counts at most n clients. */
static void
wait_clients(uint64_t n)
{
	long long end = now_ms() + DEADLINE_MS;

	while (stats().clients > n && now_ms() < end)
		pump_for(1);
	ck_assert_uint_le(stats().clients, n);
}

START_TEST(test_request)
{
	struct control_opts o = opts();
	int fd;

	start(&o);
	fd = cli_connect();
	cli_send(
	    fd, "{\"command\":\"echo\",\"arguments\":{\"a\":[1,\"b\"]}}\n");
	cli_expect(fd, "{\"ok\":true,\"result\":{\"a\":[1,\"b\"]}}");
	cli_send(fd, "{\"command\":\"fail\"}\n");
	cli_expect(fd,
	    "{\"ok\":false,\"error\":{\"code\":\"bad_argument\","
	    "\"message\":\"asked to fail \\\"fail\\\"\"}}");
	cli_send(fd, "{\"command\":\"nope\",\"arguments\":{}}\n");
	cli_expect(fd,
	    "{\"ok\":false,\"error\":{\"code\":\"unknown_command\","
	    "\"message\":\"unknown command \\\"nope\\\"\"}}");
	/* No arguments and null arguments both reach the handler as NULL. */
	cli_send(fd, "{\"command\":\"echo\"}\n");
	cli_expect(fd, "{\"ok\":true,\"result\":null}");
	cli_send(fd, "{\"command\":\"echo\",\"arguments\":null}\n");
	cli_expect(fd, "{\"ok\":true,\"result\":null}");
	ck_assert_uint_eq(F.calls, 5);
	ck_assert_uint_eq(stats().requests, 5);
	ck_assert_uint_eq(stats().bad_requests, 0);
	ck_assert_uint_eq(stats().accepted, 1);
	ck_assert_uint_eq(stats().clients, 1);
	close(fd);
}
END_TEST

START_TEST(test_pipelined)
{
	struct control_opts o = opts();
	char want[128];
	int fd, i;

	start(&o);
	fd = cli_connect();
	/* Empty lines get an error each, CR LF works, order is kept. */
	cli_send(fd,
	    "\n\r\n{\"command\":\"echo\",\"arguments\":{\"n\":1}}\r\n"
	    "{\"command\":\"echo\",\"arguments\":{\"n\":2}}\n"
	    "{\"command\":\"nope\"}\n"
	    "{\"command\":\"echo\",\"arguments\":{\"n\":4}}\n");
	cli_expect_code(fd, "bad_json");
	cli_expect_code(fd, "bad_json");
	for (i = 1; i <= 4; i++) {
		if (i == 3) {
			cli_expect_code(fd, "unknown_command");
			continue;
		}
		snprintf(want, sizeof(want),
		    "{\"ok\":true,\"result\":{\"n\":%d}}", i);
		cli_expect(fd, want);
	}
	pump_for(20);
	ck_assert_msg(cli_open(fd), "no response should follow the fourth");
	ck_assert_uint_eq(stats().requests, 6);
	ck_assert_uint_eq(stats().bad_requests, 2);
	close(fd);
}
END_TEST

/* Malformed requests: the line (len bytes, 0 = strlen) and its error. */
static const struct {
	const char *line;
	size_t len;
	const char *code;
} bad[] = {
    {"{", 0, "bad_json"}, {"nonsense", 0, "bad_json"},
    {"{\"command\":\"echo\"} trailing", 0, "bad_json"},
    {"{\"command\":\"echo\",}", 0, "bad_json"},
    {"{\"command\":\"echo\"}\0{}", 21, "bad_json"}, /* a NUL inside */
    {"[]", 0, "bad_request"}, {"\"echo\"", 0, "bad_request"},
    {"42", 0, "bad_request"}, {"{}", 0, "bad_request"},
    {"{\"command\":5}", 0, "bad_request"},
    {"{\"command\":null}", 0, "bad_request"},
    {"{\"command\":[\"echo\"]}", 0, "bad_request"},
    {"{\"command\":\"echo\",\"arguments\":5}", 0, "bad_request"},
    {"{\"command\":\"echo\",\"arguments\":[]}", 0, "bad_request"},
    {"{\"command\":\"echo\",\"arguments\":\"x\"}", 0, "bad_request"},
    /* issue 9: what cJSON alone lets through or echoes raw */
    {"", 0, "bad_json"}, /* an empty line */
    {"\r", 0, "bad_json"}, /* empty after CR LF */
    {"{\"command\":\"ech\xff\"}", 0, "bad_json"}, /* not UTF-8 */
    {"{\"command\":\"\xc0\xaf\"}", 0, "bad_json"}, /* overlong */
    {"{\"command\":\"\xed\xa0\x80\"}", 0, "bad_json"}, /* surrogate */
    {"{\"command\":\"echo\",\"arguments\":{\"s\":\"\xe2\x82\"}}", 0,
	"bad_json"}, /* a cut sequence */
    {"{\"command\":\"echo\\u0000x\"}", 0, "bad_request"},
    {"{\"command\":\"echo\",\"arguments\":{\"s\":\"a\\u0000\"}}", 0,
	"bad_request"},
    {"{\"command\":\"echo\",\"command\":\"fail\"}", 0, "bad_request"},
    {"{\"command\":\"echo\",\"arguments\":{\"n\":1,\"n\":2}}", 0,
	"bad_request"},
    {"{\"command\":\"echo\",\"arguments\":{\"a\":[{\"x\":1,\"\\u0078\":2}]}}",
	0, "bad_request"}, /* a repeat spelled with an escape, deep down */
};

START_TEST(test_bad)
{
	struct control_opts o = opts();
	const char *line = bad[_i].line;
	size_t len = bad[_i].len ? bad[_i].len : strlen(line);
	int fd;

	start(&o);
	fd = cli_connect();
	cli_send_n(fd, line, len);
	cli_send(fd, "\n");
	cli_expect_code(fd, bad[_i].code);
	ck_assert_msg(last_ascii, "an error reply should not echo raw bytes");
	ck_assert_uint_eq(F.calls, 0);
	ck_assert_uint_eq(stats().bad_requests, 1);
	/* The connection stays usable. */
	cli_roundtrip(fd, 7);
	ck_assert_uint_eq(F.calls, 1);
	ck_assert_uint_eq(stats().bad_requests, 1);
	close(fd);
}
END_TEST

/* Request lines for control_request_parse and the error each should get. */
static const struct {
	const char *line;
	int rc;
} parse_cases[] = {
    {"{\"command\":\"status\"}", 0},
    {"{\"command\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e\"}", 0},
    {"{\"command\":\"\xf4\x8f\xbf\xbf\"}", 0}, /* U+10FFFF */
    {"{\"command\":\"\\ud834\\udd1e\"}", 0}, /* a pair */
    {"{\"command\":\"a\\\\u0000\"}", 0}, /* "\\" "u0000" */
    {"{\"a\":1,\"A\":1,\"b\":{\"a\":1},\"c\":[{\"a\":1},{\"a\":2}]}", 0},
    {"", -EILSEQ}, {" ", -EILSEQ}, {"{\"command\":\"status\"", -EILSEQ},
    {"{\"command\":\"\xff\"}", -EILSEQ},
    {"{\"command\":\"\x80\"}", -EILSEQ}, /* lone continuation */
    {"{\"command\":\"\xc1\xbf\"}", -EILSEQ}, /* overlong */
    {"{\"command\":\"\xe0\x9f\xbf\"}", -EILSEQ}, /* overlong */
    {"{\"command\":\"\xf0\x8f\xbf\xbf\"}", -EILSEQ}, /* overlong */
    {"{\"command\":\"\xed\xbf\xbf\"}", -EILSEQ}, /* surrogate */
    {"{\"command\":\"\xf4\x90\x80\x80\"}", -EILSEQ}, /* > U+10FFFF */
    {"{\"command\":\"\xf8\x88\x80\x80\x80\"}", -EILSEQ},
    {"{\"command\":\"\xe2\x82\"}", -EILSEQ}, /* cut */
    {"{\"command\":\"\xe2\x82", -EILSEQ}, /* cut at the end */
    {"{\"command\":\"\\ud800\"}", -EILSEQ}, /* lone surrogate */
    {"{\"command\":\"\\udc00x\"}", -EILSEQ},
    {"{\"command\":\"status\\u0000x\"}", -EPROTO},
    {"{\"command\":\"\\u0000\"}", -EPROTO},
    {"{\"a\\u0000b\":1,\"command\":\"x\"}", -EPROTO}, /* in a key */
    {"{\"command\":\"\\\\\\u0000\"}", -EPROTO}, /* "\\" then \u0000 */
    {"{\"command\":\"x\",\"command\":\"y\"}", -EPROTO},
    {"{\"command\":\"x\",\"command\":\"x\"}", -EPROTO},
    {"{\"a\":{\"b\":1,\"c\":2,\"b\":3}}", -EPROTO},
    {"[{\"a\":1},{\"b\":1,\"b\":1}]", -EPROTO},
    {"{\"k\":\"v\",\"\\u006b\":\"w\"}", -EPROTO}, /* an escaped repeat */
};

START_TEST(test_parse)
{
	const char *line = parse_cases[_i].line, *why = "sentinel";
	cJSON *j = (cJSON *)&why;
	int rc;

	rc = control_request_parse(line, strlen(line), &j, &why);
	ck_assert_msg(rc == parse_cases[_i].rc,
	    "case %d should give %d, gave %d (%s)", _i, parse_cases[_i].rc, rc,
	    rc ? why : "");
	if (rc == 0) {
		ck_assert_ptr_nonnull(j);
		cJSON_Delete(j);
	} else {
		ck_assert_ptr_null(j);
		ck_assert_msg(why != NULL && strcmp(why, "sentinel") != 0 &&
			control_utf8_valid(why, strlen(why)),
		    "a refusal should say why");
	}
}
END_TEST

/* A NUL byte inside the line, and objects too big to compare pairwise. */
START_TEST(test_parse_edges)
{
	const char *why;
	char *s, *p;
	cJSON *j;
	int i, k = 5000;

	ck_assert_int_eq(control_request_parse("{}\0{}", 5, &j, &why), -EILSEQ);
	ck_assert_ptr_null(j);
	s = malloc((size_t)k * 16 + 16);
	ck_assert_ptr_nonnull(s);
	for (p = s + sprintf(s, "{"), i = 0; i < k; i++)
		p += sprintf(p, "\"k%d\":%d,", i, i);
	strcpy(p - 1, "}");
	ck_assert_int_eq(control_request_parse(s, strlen(s), &j, &why), 0);
	cJSON_Delete(j);
	sprintf(p - 1, ",\"k%d\":0}", k / 2);
	ck_assert_int_eq(
	    control_request_parse(s, strlen(s), &j, &why), -EPROTO);
	ck_assert_ptr_null(j);
	free(s);
	ck_assert(control_utf8_valid("", 0));
	ck_assert(control_utf8_valid("a\0b", 3));
	ck_assert(!control_utf8_valid("\xc3", 1));
	ck_assert(control_utf8_valid("\xc3\xa9", 2));
}
END_TEST

/* Integer arguments: the value and what control_arg_int should return. */
static const struct {
	const char *args;
	int rc;
	int64_t want;
} int_cases[] = {
    {"{\"id\":1}", 1, 1},
    {"{\"id\":9000000000000000}", 1, 9000000000000000},
    {"{\"id\":1e3}", 1, 1000},
    {"{\"id\":4.0}", 1, 4},
    {"{}", 0, -7},
    {"{\"id\":null}", 0, -7},
    {"{\"id\":1.5}", -1, -7},
    {"{\"id\":0.999999}", -1, -7},
    {"{\"id\":0}", -1, -7},
    {"{\"id\":-3}", -1, -7},
    {"{\"id\":9000000000000001}", -1, -7},
    {"{\"id\":1e999}", -1, -7},
    {"{\"id\":\"5\"}", -1, -7},
    {"{\"id\":true}", -1, -7},
    {"{\"id\":[5]}", -1, -7},
    {"{\"ID\":5}", 0, -7},
};

START_TEST(test_arg_int)
{
	cJSON *a = cJSON_Parse(int_cases[_i].args);
	int64_t v = -7;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(
	    control_arg_int(a, "id", 1, INT64_C(9000000000000000), &v),
	    int_cases[_i].rc);
	ck_assert_msg(v == int_cases[_i].want, "%s should give %lld, gave %lld",
	    int_cases[_i].args, (long long)int_cases[_i].want, (long long)v);
	cJSON_Delete(a);
}
END_TEST

/* Address arguments and the text the store is asked for (NULL: refused). */
static const struct {
	const char *args, *want;
	int rc;
} addr_cases[] = {
    {"{\"src\":\"192.0.2.7\"}", "192.0.2.7", 1},
    {"{\"src\":\"::ffff:192.0.2.7\"}", "192.0.2.7", 1},
    {"{\"src\":\"2001:DB8:0:0::1\"}", "2001:db8::1", 1},
    {"{\"src\":\"::1\"}", "::1", 1},
    {"{}", NULL, 0},
    {"{\"src\":null}", NULL, 0},
    {"{\"src\":\"notanip\"}", NULL, -1},
    {"{\"src\":\"192.0.2.0/24\"}", NULL, -1},
    {"{\"src\":\"2001:db8::/32\"}", NULL, -1},
    {"{\"src\":\"\"}", NULL, -1},
    {"{\"src\":\" 192.0.2.7\"}", NULL, -1},
    {"{\"src\":\"192.0.2\"}", NULL, -1},
    {"{\"src\":\"192.0.2.256\"}", NULL, -1},
    {"{\"src\":\"fe80::1%eth0\"}", NULL, -1},
    {"{\"src\":3221225991}", NULL, -1},
    {"{\"src\":[\"192.0.2.7\"]}", NULL, -1},
};

START_TEST(test_arg_addr)
{
	cJSON *a = cJSON_Parse(addr_cases[_i].args);
	char buf[ADDR_STR_LEN] = "sentinel";

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(control_arg_addr(a, "src", buf), addr_cases[_i].rc);
	ck_assert_str_eq(
	    buf, addr_cases[_i].want ? addr_cases[_i].want : "sentinel");
	cJSON_Delete(a);
}
END_TEST

/* A handler's reply or a broadcast that is not UTF-8 never goes out raw. */
START_TEST(test_reply_not_utf8)
{
	struct control_opts o = opts();
	int fd, sub;

	start(&o);
	fd = cli_connect();
	sub = cli_connect();
	cli_send(fd, "{\"command\":\"raw\"}\n");
	cli_expect_code(fd, "internal");
	ck_assert_msg(last_ascii, "the bad bytes should not be sent");
	cli_roundtrip(fd, 1);
	cli_send(sub, "{\"command\":\"subscribe\"}\n");
	cli_expect(sub, "{\"ok\":true,\"result\":{\"subscribed\":true}}");
	control_broadcast(F.ctl, "{\"event\":\"caf\xc3\"}");
	control_broadcast(F.ctl, "{\"event\":\"ok\"}");
	cli_expect(sub, "{\"event\":\"ok\"}");
	close(fd);
	close(sub);
}
END_TEST

/* Line lengths around line_max: bytes before the LF, LF or not. */
static const struct {
	size_t len;
	int newline;
	int ok;
} lines[] = {
    {LINE_MAX_TEST - 1, 1, 1},
    {LINE_MAX_TEST, 1, 1},
    {LINE_MAX_TEST + 1, 1, 0},
    {LINE_MAX_TEST + 1, 0, 0},
    {4 * LINE_MAX_TEST, 1, 0},
    {100 * LINE_MAX_TEST, 0, 0},
};

/* A malloc'd echo request of exactly len bytes, plus an LF if asked. */
static char *
padded_request(size_t len, int newline)
{
	size_t fixed = strlen(REQ_PREFIX) + strlen(REQ_SUFFIX);
	char *s = malloc(len + 2);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_gt(len, fixed);
	memcpy(s, REQ_PREFIX, strlen(REQ_PREFIX));
	memset(s + strlen(REQ_PREFIX), 'x', len - fixed);
	memcpy(s + len - strlen(REQ_SUFFIX), REQ_SUFFIX, strlen(REQ_SUFFIX));
	s[len] = newline ? '\n' : '\0';
	s[len + 1] = '\0';
	return s;
}

START_TEST(test_line_max)
{
	struct control_opts o = opts();
	char *req = padded_request(lines[_i].len, lines[_i].newline);
	char buf[4096];
	int fd;

	start(&o);
	fd = cli_connect();
	cli_send(fd, req);
	if (lines[_i].ok) {
		ck_assert_int_gt(cli_line(fd, buf, sizeof(buf)), 0);
		ck_assert_msg(strncmp(buf, "{\"ok\":true,", 11) == 0,
		    "a line of %zu bytes should be answered", lines[_i].len);
		cli_roundtrip(fd, 1);
		ck_assert_uint_eq(stats().oversized, 0);
	} else {
		cli_expect_code(fd, "too_long");
		ck_assert_msg(cli_closed(fd),
		    "a client sending %zu bytes should be closed",
		    lines[_i].len);
		ck_assert_uint_eq(stats().oversized, 1);
		ck_assert_uint_eq(F.calls, 0);
		wait_clients(0);
	}
	free(req);
	close(fd);
}
END_TEST

START_TEST(test_half_close)
{
	struct control_opts o = opts();
	int fd;

	start(&o);
	fd = cli_connect();
	/* The last request has no newline: EOF ends it. */
	cli_send(fd,
	    "{\"command\":\"echo\",\"arguments\":{\"n\":1}}\n"
	    "{\"command\":\"echo\",\"arguments\":{\"n\":2}}\n"
	    "{\"command\":\"echo\",\"arguments\":{\"n\":3}}");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	cli_expect(fd, "{\"ok\":true,\"result\":{\"n\":1}}");
	cli_expect(fd, "{\"ok\":true,\"result\":{\"n\":2}}");
	cli_expect(fd, "{\"ok\":true,\"result\":{\"n\":3}}");
	ck_assert_msg(
	    cli_closed(fd), "the server should close after answering");
	wait_clients(0);
	close(fd);
}
END_TEST

START_TEST(test_too_large)
{
	struct control_opts o = opts();
	char buf[8192];
	int fd;

	o.output_max = 4096;
	start(&o);
	fd = cli_connect();
	cli_send(fd, "{\"command\":\"big\",\"arguments\":{\"n\":5000}}\n");
	cli_expect_code(fd, "too_large");
	cli_send(fd, "{\"command\":\"big\",\"arguments\":{\"n\":3000}}\n");
	ck_assert_int_gt(cli_line(fd, buf, sizeof(buf)), 3000);
	cli_roundtrip(fd, 2);
	ck_assert_uint_eq(stats().dropped_slow, 0);
	close(fd);
}
END_TEST

START_TEST(test_busy)
{
	struct control_opts o = opts();
	int fd[5], i;

	o.max_clients = 3;
	start(&o);
	for (i = 0; i < 3; i++) {
		fd[i] = cli_connect();
		cli_roundtrip(fd[i], i);
	}
	fd[3] = cli_connect();
	cli_expect(fd[3],
	    "{\"ok\":false,\"error\":{\"code\":\"busy\","
	    "\"message\":\"too many clients (max 3)\"}}");
	ck_assert_msg(cli_closed(fd[3]), "a refused client should be closed");
	ck_assert_uint_eq(stats().refused_busy, 1);
	ck_assert_uint_eq(stats().clients, 3);
	/* The first three are still served; a freed place is taken again. */
	for (i = 0; i < 3; i++)
		cli_roundtrip(fd[i], 10 + i);
	close(fd[0]);
	wait_clients(2);
	fd[4] = cli_connect();
	cli_roundtrip(fd[4], 4);
	for (i = 1; i < 5; i++)
		close(fd[i]);
}
END_TEST

START_TEST(test_busy_per_uid)
{
	struct control_opts o = opts();
	char want[160];
	int fd[3], i;

	o.max_clients = 10;
	o.max_per_uid = 2;
	start(&o);
	for (i = 0; i < 2; i++) {
		fd[i] = cli_connect();
		cli_roundtrip(fd[i], i);
	}
	fd[2] = cli_connect();
	snprintf(want, sizeof(want),
	    "{\"ok\":false,\"error\":{\"code\":\"busy\","
	    "\"message\":\"too many clients of uid %u (max 2)\"}}",
	    (unsigned)getuid());
	cli_expect(fd[2], want);
	ck_assert_msg(
	    cli_closed(fd[2]), "a client over its uid's cap should be closed");
	ck_assert_uint_eq(stats().refused_busy, 1);
	for (i = 0; i < 3; i++)
		close(fd[i]);
}
END_TEST

#define MANY 200

START_TEST(test_many)
{
	struct control_opts o = opts();
	int fd[MANY], i;
	char req[128], want[128];

	o.max_clients = 256;
	start(&o);
	for (i = 0; i < MANY; i++)
		fd[i] = cli_connect();
	for (i = 0; i < MANY; i++) {
		snprintf(req, sizeof(req),
		    "{\"command\":\"echo\",\"arguments\":{\"n\":%d}}\n", i);
		cli_send(fd[i], req);
	}
	for (i = MANY - 1; i >= 0; i--) {
		snprintf(want, sizeof(want),
		    "{\"ok\":true,\"result\":{\"n\":%d}}", i);
		cli_expect(fd[i], want);
	}
	ck_assert_uint_eq(stats().clients, MANY);
	ck_assert_uint_eq(stats().refused_busy, 0);
	for (i = 0; i < MANY; i++)
		close(fd[i]);
	wait_clients(0);
}
END_TEST

START_TEST(test_slow_subscriber)
{
	struct control_opts o = opts();
	char line[1001];
	int sub, other, i;

	o.output_max = 8192;
	start(&o);
	sub = cli_connect();
	other = cli_connect();
	cli_send(sub, "{\"command\":\"subscribe\"}\n");
	cli_expect(sub, "{\"ok\":true,\"result\":{\"subscribed\":true}}");
	ck_assert_uint_eq(stats().subscribers, 1);
	memset(line, 'a', sizeof(line) - 1);
	line[0] = '"';
	line[sizeof(line) - 2] = '"';
	line[sizeof(line) - 1] = '\0';
	/* sub never reads; other keeps asking and must keep getting. */
	for (i = 0; i < 100000 && stats().dropped_slow == 0; i++) {
		control_broadcast(F.ctl, line);
		pump();
		if (i % 50 == 0)
			cli_roundtrip(other, i);
	}
	ck_assert_msg(stats().dropped_slow == 1,
	    "a subscriber that never reads should be dropped");
	ck_assert_uint_eq(stats().subscribers, 0);
	ck_assert_uint_eq(stats().clients, 1);
	ck_assert_msg(cli_closed(sub), "the dropped subscriber sees the end");
	cli_roundtrip(other, -1);
	/* Broadcasting with no subscriber left is harmless. */
	control_broadcast(F.ctl, "{}");
	cli_roundtrip(other, -2);
	close(sub);
	close(other);
}
END_TEST

START_TEST(test_broadcast)
{
	struct control_opts o = opts();
	int sub[2], other, i;

	start(&o);
	other = cli_connect();
	for (i = 0; i < 2; i++) {
		sub[i] = cli_connect();
		cli_send(sub[i], "{\"command\":\"subscribe\"}\n");
		cli_expect(
		    sub[i], "{\"ok\":true,\"result\":{\"subscribed\":true}}");
	}
	control_broadcast(F.ctl, "{\"event\":\"alert\",\"n\":1}");
	control_broadcast(F.ctl, "{\"event\":\"alert\",\"n\":2}");
	for (i = 0; i < 2; i++) {
		cli_expect(sub[i], "{\"event\":\"alert\",\"n\":1}");
		cli_expect(sub[i], "{\"event\":\"alert\",\"n\":2}");
		/* A subscriber can still make requests. */
		cli_roundtrip(sub[i], i);
	}
	pump_for(10);
	ck_assert_msg(cli_open(other), "non-subscribers get no broadcasts");
	ck_assert_uint_eq(stats().subscribers, 2);
	close(sub[0]);
	wait_clients(2);
	ck_assert_uint_eq(stats().subscribers, 1);
	close(sub[1]);
	close(other);
}
END_TEST

START_TEST(test_idle)
{
	struct control_opts o = opts();
	long long t0, closed_after = -1;
	int idle, sub, busy, n = 0;

	o.idle_s = 1;
	start(&o);
	t0 = now_ms();
	idle = cli_connect();
	busy = cli_connect();
	sub = cli_connect();
	cli_send(sub, "{\"command\":\"subscribe\"}\n");
	cli_expect(sub, "{\"ok\":true,\"result\":{\"subscribed\":true}}");
	/* busy asks every 300 ms; idle never does. */
	while (now_ms() - t0 < 2200) {
		if ((now_ms() - t0) / 300 >= n)
			cli_roundtrip(busy, n++);
		pump_for(5);
		if (closed_after < 0 && !cli_open(idle))
			closed_after = now_ms() - t0;
	}
	ck_assert_msg(closed_after >= 0, "an idle client should be dropped");
	ck_assert_msg(closed_after >= 900,
	    "an idle client should get its full second, got %lld ms",
	    closed_after);
	ck_assert_msg(cli_closed(idle), "the idle client should see the end");
	ck_assert_msg(cli_open(sub), "a subscriber should not time out");
	cli_roundtrip(busy, 99);
	ck_assert_uint_eq(stats().dropped_idle, 1);
	ck_assert_uint_eq(stats().clients, 2);
	close(idle);
	close(busy);
	close(sub);
}
END_TEST

START_TEST(test_peer)
{
	struct control_opts o = opts();
	char want[160];
	int fd;

	start(&o);
	fd = cli_connect();
	cli_send(fd, "{\"command\":\"whoami\"}\n");
	snprintf(want, sizeof(want),
	    "{\"ok\":true,\"result\":{\"uid\":%u,\"gid\":%u,\"pid\":%ld}}",
	    (unsigned)getuid(), (unsigned)getgid(), (long)getpid());
	cli_expect(fd, want);
	close(fd);
}
END_TEST

START_TEST(test_in_use)
{
	struct control_opts o = opts();
	struct control *second = NULL;
	char *cause = NULL, want[256];
	int rc, fd;

	start(&o);
	rc = control_open(&second, F.base, &o, handler, &F, &cause);
	ck_assert_int_eq(rc, -EADDRINUSE);
	ck_assert_ptr_null(second);
	snprintf(want, sizeof(want), "control: %s: another anomd is running",
	    F.path);
	ck_assert_str_eq(cause, want);
	free(cause);
	/* The first one keeps its socket. */
	fd = cli_connect();
	cli_roundtrip(fd, 1);
	close(fd);
}
END_TEST

START_TEST(test_stale)
{
	struct control_opts o = opts();
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", F.path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(stat(F.path, &st), 0);
	start(&o);
	fd = cli_connect();
	cli_roundtrip(fd, 1);
	close(fd);
	control_close(F.ctl);
	F.ctl = NULL;
	ck_assert_msg(access(F.path, F_OK) == -1 && errno == ENOENT,
	    "control_close should remove the socket file");
}
END_TEST

START_TEST(test_not_socket)
{
	struct control_opts o = opts();
	char *cause = NULL;
	struct stat st;
	FILE *fp;

	fp = fopen(F.path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("keep me\n", fp);
	fclose(fp);
	ck_assert_int_eq(
	    control_open(&F.ctl, F.base, &o, handler, &F, &cause), -EEXIST);
	ck_assert_ptr_nonnull(strstr(cause, "not a socket"));
	free(cause);
	ck_assert_msg(stat(F.path, &st) == 0 && S_ISREG(st.st_mode),
	    "a file that is not a socket should be left alone");
}
END_TEST

/* Bad options: each must be refused with its error and a cause. */
START_TEST(test_bad_opts)
{
	struct control_opts o = opts();
	char *cause = NULL, longpath[200];
	int rc;

	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	o.path = longpath;
	rc = control_open(&F.ctl, F.base, &o, handler, &F, &cause);
	ck_assert_int_eq(rc, -ENAMETOOLONG);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	o = opts();
	o.max_clients = 0;
	rc = control_open(&F.ctl, F.base, &o, handler, &F, &cause);
	ck_assert_int_eq(rc, -EINVAL);
	free(cause);
	o = opts();
	o.output_max = 0;
	rc = control_open(&F.ctl, F.base, &o, handler, &F, &cause);
	ck_assert_int_eq(rc, -EINVAL);
	free(cause);
	snprintf(longpath, sizeof(longpath), "%s/no/such/dir/s", F.dir);
	o = opts();
	o.path = longpath;
	rc = control_open(&F.ctl, F.base, &o, handler, &F, &cause);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_ptr_nonnull(strstr(cause, "control: bind "));
	free(cause);
	ck_assert_ptr_null(F.ctl);
	ck_assert_int_eq(access(F.path, F_OK), -1);
}
END_TEST

static const mode_t modes[] = {0600, 0660, 0666, 0640};

START_TEST(test_mode)
{
	struct control_opts o = opts();
	struct stat st;
	gid_t gid = getuid() == 0 ? 1 : getgid();

	o.mode = modes[_i];
	o.gid = gid;
	start(&o);
	ck_assert_int_eq(stat(F.path, &st), 0);
	ck_assert_msg(S_ISSOCK(st.st_mode), "the path should be a socket");
	ck_assert_msg((st.st_mode & 07777) == modes[_i],
	    "mode should be %04o, is %04o", (unsigned)modes[_i],
	    (unsigned)(st.st_mode & 07777));
	ck_assert_uint_eq(st.st_gid, gid);
}
END_TEST

START_TEST(test_close_with_clients)
{
	struct control_opts o = opts();
	int a, sub;

	start(&o);
	a = cli_connect();
	sub = cli_connect();
	cli_roundtrip(a, 1);
	cli_send(sub, "{\"command\":\"subscribe\"}\n");
	cli_expect(sub, "{\"ok\":true,\"result\":{\"subscribed\":true}}");
	control_broadcast(F.ctl, "{\"unread\":true}");
	control_close(F.ctl);
	F.ctl = NULL;
	ck_assert_msg(cli_closed(a) && cli_closed(sub),
	    "control_close should close every client");
	ck_assert_int_eq(access(F.path, F_OK), -1);
	close(a);
	close(sub);
}
END_TEST

/* Connect as uid (when root; euid only, which SO_PEERCRED reports). */
static int
cli_connect_as(uid_t uid)
{
	int fd;

	ck_assert_int_eq(seteuid(uid), 0);
	fd = cli_connect();
	ck_assert_int_eq(seteuid(0), 0);
	return fd;
}

/*
 * The lockout of issue 9: two other users hold every place.  Root and the
 * daemon's own user still get CONTROL_RESERVED_CLIENTS more; nobody else
 * does.  Without root, only the daemon's user (this process) can be tested.
 */
START_TEST(test_reserve)
{
	struct control_opts o = opts();
	const uid_t users[2] = {65534, 65533};
	int held[80], adm[CONTROL_RESERVED_CLIENTS + 1], extra, n = 0, i, u;

	o.max_clients = getuid() == 0 ? 64 : 2;
	o.max_per_uid = 32;
	o.reserved = CONTROL_RESERVED_CLIENTS;
	o.mode = 0666;
	ck_assert_int_eq(chmod(F.dir, 0711), 0);
	start(&o);
	if (getuid() != 0) {
		printf("test_reserve: not root, so no other users: only the "
		       "daemon's own user is tested\n");
		for (i = 0; i < 2; i++)
			held[n++] = cli_connect();
	} else
		for (u = 0; u < 2; u++)
			for (i = 0; i < 40; i++) {
				held[n++] = cli_connect_as(users[u]);
				pump();
			}
	/* Wait until every connection is either in or refused. */
	for (i = 0;
	     i < 1000 && stats().accepted + stats().refused_busy < (uint64_t)n;
	     i++)
		pump_for(1);
	ck_assert_uint_eq(stats().accepted + stats().refused_busy, n);
	if (getuid() == 0) {
		ck_assert_uint_eq(stats().clients, 64);
		ck_assert_uint_eq(stats().refused_busy, 16);
		/* The others may not take a reserved place. */
		extra = cli_connect_as(users[1] + 1);
		cli_expect_code(extra, "busy");
		close(extra);
	}
	for (i = 0; i < CONTROL_RESERVED_CLIENTS; i++) {
		adm[i] = cli_connect();
		cli_roundtrip(adm[i], i);
	}
	adm[i] = cli_connect();
	cli_expect_code(adm[i], "busy");
	ck_assert_msg(cli_closed(adm[i]), "past the reserve, root is refused");
	for (i = 0; i <= CONTROL_RESERVED_CLIENTS; i++)
		close(adm[i]);
	for (i = 0; i < n; i++)
		close(held[i]);
}
END_TEST

/*
 * A client gets first_s to send its first line; dribbling bytes does not
 * extend it, and after a request the (longer) idle timeout applies.
 */
START_TEST(test_first_request)
{
	struct control_opts o = opts();
	long long t0, silent_at = -1, dribble_at = -1;
	int silent, dribble, asker;

	o.first_s = 1;
	o.idle_s = 3;
	start(&o);
	t0 = now_ms();
	silent = cli_connect();
	dribble = cli_connect();
	asker = cli_connect();
	cli_roundtrip(asker, 1);
	while (now_ms() - t0 < 1800) {
		if ((now_ms() - t0) % 200 < 5)
			send(dribble, " ", 1, MSG_NOSIGNAL);
		pump_for(5);
		if (silent_at < 0 && !cli_open(silent))
			silent_at = now_ms() - t0;
		if (dribble_at < 0 && !cli_open(dribble))
			dribble_at = now_ms() - t0;
	}
	ck_assert_msg(silent_at >= 900 && dribble_at >= 900,
	    "a new client should get its full second (%lld, %lld ms)",
	    silent_at, dribble_at);
	ck_assert_msg(cli_closed(silent) && cli_closed(dribble),
	    "clients without a request should be dropped after first_s");
	ck_assert_msg(cli_open(asker), "a client that asked stays for idle_s");
	cli_roundtrip(asker, 2);
	ck_assert_uint_eq(stats().dropped_idle, 2);
	ck_assert_uint_eq(stats().clients, 1);
	close(silent);
	close(dribble);
	close(asker);
}
END_TEST

/* The highest open descriptor. */
static int
max_open_fd(void)
{
	int fd, max = 0;

	for (fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			max = fd;
	return max;
}

/* Open /dev/null until no descriptor is left; returns how many. */
static int
fill_fds(int *fds, int cap)
{
	int n = 0;

	while (n < cap && (fds[n] = open("/dev/null", O_RDONLY)) != -1)
		n++;
	ck_assert_msg(n < cap && errno == EMFILE, "should run out of fds");
	return n;
}

START_TEST(test_fd_reserve)
{
	struct control_opts o = opts();
	const char *out_of_fds = "{\"ok\":false,\"error\":{\"code\":\"busy\","
				 "\"message\":\"out of file descriptors\"}}";
	struct rlimit old, rl;
	int fds[512], n, a, b, c, d, e;
	long long t0;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = (rlim_t)max_open_fd() + 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	start(&o);
	a = cli_connect();
	cli_roundtrip(a, 1);
	/* Leave four descriptors: the client takes one, the server one. */
	n = fill_fds(fds, 512);
	close(fds[--n]), close(fds[--n]), close(fds[--n]), close(fds[--n]);
	b = cli_connect();
	cli_expect(b, out_of_fds);
	ck_assert_uint_eq(stats().refused_busy, 1);
	/* Accepting pauses for a second, even once fds are free again. */
	while (n > 0)
		close(fds[--n]);
	t0 = now_ms();
	c = cli_connect();
	cli_roundtrip(c, 3);
	ck_assert_msg(now_ms() - t0 >= 800,
	    "accepting should pause for about a second, resumed after %lld ms",
	    now_ms() - t0);
	/* A client leaving ends a pause at once. */
	n = fill_fds(fds, 512);
	close(fds[--n]), close(fds[--n]), close(fds[--n]), close(fds[--n]);
	d = cli_connect();
	cli_expect(d, out_of_fds);
	while (n > 0)
		close(fds[--n]);
	close(a);
	wait_clients(1);
	t0 = now_ms();
	e = cli_connect();
	cli_roundtrip(e, 5);
	ck_assert_msg(now_ms() - t0 < 800,
	    "a client leaving should end the pause at once");
	close(b), close(c), close(d), close(e);
	control_close(F.ctl);
	F.ctl = NULL;
	setrlimit(RLIMIT_NOFILE, &old);
}
END_TEST

/* The suite of control.c. */
static Suite *
control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc;

	tc = tcase_create("requests");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_request);
	tcase_add_test(tc, test_pipelined);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_peer);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_reply_not_utf8);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(
	    tc, test_parse, 0, sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(tc, test_parse_edges);
	tcase_add_loop_test(
	    tc, test_arg_int, 0, sizeof(int_cases) / sizeof(int_cases[0]));
	tcase_add_loop_test(
	    tc, test_arg_addr, 0, sizeof(addr_cases) / sizeof(addr_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(
	    tc, test_line_max, 0, sizeof(lines) / sizeof(lines[0]));
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_busy);
	tcase_add_test(tc, test_busy_per_uid);
	tcase_add_test(tc, test_many);
	tcase_add_test(tc, test_slow_subscriber);
	tcase_add_test(tc, test_broadcast);
	tcase_add_test(tc, test_idle);
	tcase_add_test(tc, test_first_request);
	tcase_add_test(tc, test_reserve);
	tcase_add_test(tc, test_fd_reserve);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_in_use);
	tcase_add_test(tc, test_stale);
	tcase_add_test(tc, test_not_socket);
	tcase_add_test(tc, test_bad_opts);
	tcase_add_loop_test(tc, test_mode, 0, sizeof(modes) / sizeof(modes[0]));
	tcase_add_test(tc, test_close_with_clients);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- The store commands: incidents, incident --------------------------- */

#define T0_S 1700000000 /* 2023-11-14T22:13:20Z */

static struct store *ST; /* the store the store commands read */
static struct report *RL; /* the "report" command's live collector */
static struct model *RM; /* and its model */
static size_t ROUT = 1024 * 1024; /* and its output cap */

/* The handler of the store tests: live.c's incident commands. */
static cJSON *
store_handler(struct control_client *cl, const char *command, const cJSON *args,
    const struct control_peer *peer, const char **code, char **message,
    void *arg)
{
	(void)cl, (void)peer, (void)arg;
	if (strcmp(command, "incidents") == 0)
		return live_cmd_incidents(ST, args, code, message);
	if (strcmp(command, "incident") == 0)
		return live_cmd_incident(ST, args, code, message);
	if (strcmp(command, "report") == 0) {
		struct live_report_opts ro = {
		    .model_since_us = (uint64_t)T0_S * 1000000,
		    .now_us = (uint64_t)(T0_S + 3600) * 1000000,
		    .output_max = ROUT,
		    .source = "live capture on test0",
		};

		return live_cmd_report(RL, RM, ST, &ro, args, code, message);
	}
	*code = "unknown_command";
	*message = strdup("unknown command");
	return NULL;
}

/*
 * A store in the test folder with incidents 1..5 (incident i: host
 * 10.3.0.(i % 3), alerts from T0 + 100 i s for 10 s, or 2001:db8::1 for
 * i = 5) and 120 alerts in incident 2 plus 3 outside; then the server.
 */
static void
store_start(void)
{
	struct control_opts o = opts();
	struct store_incident inc;
	struct store_opts so;
	struct store_alert a;
	char db[128], *cause = NULL;
	int64_t id;
	int i;

	snprintf(db, sizeof(db), "%s/alerts.db", F.dir);
	store_opts_default(&so);
	so.path = db;
	so.rate_max_per_s = 0;
	so.fold_window_s = 0;
	ck_assert_int_eq(store_open(&ST, &so, NULL), 0);
	for (i = 1; i <= 5; i++) {
		memset(&inc, 0, sizeof(inc));
		inc.first_us = (uint64_t)(T0_S + 100 * i) * 1000000;
		inc.last_us = inc.first_us + 10 * 1000000;
		inc.about = (uint8_t)(i % 2);
		snprintf(inc.host, sizeof(inc.host), "10.3.0.%d", i % 3);
		if (i == 5)
			snprintf(inc.host, sizeof(inc.host), "2001:db8::1");
		inc.alerts = inc.flows = (uint64_t)i;
		snprintf(inc.summary, sizeof(inc.summary), "summary %d", i);
		ck_assert_int_eq(store_incident_put(ST, &inc, &id), 0);
		ck_assert_int_eq(id, i);
	}
	for (i = 0; i < 123; i++) {
		memset(&a, 0, sizeof(a));
		a.ts_us = (uint64_t)(T0_S + 200) * 1000000 + (uint64_t)i;
		a.proto = 6;
		snprintf(a.src_ip, sizeof(a.src_ip), "10.3.0.2");
		snprintf(a.dst_ip, sizeof(a.dst_ip), "10.5.0.%d", i % 200);
		a.dst_port = (uint16_t)(i + 1);
		a.incident_id = i < 120 ? 2 : 0;
		ck_assert_int_eq(store_alert_put(ST, &a, NULL), STORE_PUT_NEW);
	}
	ck_assert_int_eq(store_flush(ST, NULL), 0);
	o.output_max = 1024 * 1024;
	ck_assert_msg(
	    control_open(&F.ctl, F.base, &o, store_handler, &F, &cause) == 0,
	    "control_open should succeed: %s", cause ? cause : "");
}

/* Close the store (the fixture's teardown does the rest). */
static void
store_stop(void)
{
	char db[128];

	store_close(ST, NULL);
	ST = NULL;
	snprintf(db, sizeof(db), "%s/alerts.db", F.dir);
	unlink(db);
	strcat(db, "-wal");
	unlink(db);
	db[strlen(db) - 4] = '\0';
	strcat(db, "-shm");
	unlink(db);
}

/* Send request and return the parsed result of a successful response. */
static cJSON *
store_ask(int fd, const char *request, const cJSON **result)
{
	static char buf[1024 * 1024];
	cJSON *r;
	int n;

	cli_send(fd, request);
	n = cli_line(fd, buf, sizeof(buf));
	ck_assert_msg(n >= 0, "a response should come (got %d)", n);
	r = cJSON_Parse(buf);
	ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")),
	    "%s should work: %.300s", request, buf);
	*result = cJSON_GetObjectItem(r, "result");
	return r;
}

/* The ids of array name in result, as "5,4,3". */
static void
store_ids(const cJSON *result, const char *name, char *buf, size_t size)
{
	const cJSON *e;
	size_t len = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(result, name))
	{
		len += (size_t)snprintf(buf + len, size - len, "%s%d",
		    len ? "," : "", cJSON_GetObjectItem(e, "id")->valueint);
		ck_assert_uint_lt(len, size);
	}
}

static const struct {
	const char *args, *ids;
} incidents_ok[] = {
    {"{}", "5,4,3,2,1"},
    {"null", "5,4,3,2,1"},
    {"{\"limit\":2}", "5,4"},
    {"{\"host\":\"10.3.0.1\"}", "4,1"},
    {"{\"host\":\"2001:0db8:0:0::1\"}", "5"},
    {"{\"host\":\"10.9.9.9\"}", ""},
    {"{\"since\":1700000305}", "5,4,3"},
    {"{\"until\":1700000300}", "2,1"},
    {"{\"since\":1700000205,\"until\":1700000400,\"host\":\"10.3.0.0\"}", "3"},
};

START_TEST(test_incidents_ok)
{
	const cJSON *res;
	char req[256], ids[64];
	cJSON *r;
	int fd;

	store_start();
	fd = cli_connect();
	snprintf(req, sizeof(req),
	    "{\"command\":\"incidents\",\"arguments\":%s}\n",
	    incidents_ok[_i].args);
	r = store_ask(fd, req, &res);
	store_ids(res, "incidents", ids, sizeof(ids));
	ck_assert_msg(strcmp(ids, incidents_ok[_i].ids) == 0,
	    "incidents %s should give [%s], not [%s]", incidents_ok[_i].args,
	    incidents_ok[_i].ids, ids);
	if (_i == 0)
		ck_assert_str_eq(
		    cJSON_GetObjectItem(
			cJSON_GetArrayItem(
			    cJSON_GetObjectItem(res, "incidents"), 4),
			"summary")
			->valuestring,
		    "summary 1");
	cJSON_Delete(r);
	close(fd);
	store_stop();
}
END_TEST

static const char *const store_bad[] = {
    "{\"command\":\"incidents\",\"arguments\":{\"limit\":0}}",
    "{\"command\":\"incidents\",\"arguments\":{\"limit\":1001}}",
    "{\"command\":\"incidents\",\"arguments\":{\"limit\":\"5\"}}",
    "{\"command\":\"incidents\",\"arguments\":{\"since\":-1}}",
    "{\"command\":\"incidents\",\"arguments\":{\"until\":1e12}}",
    "{\"command\":\"incidents\",\"arguments\":{\"host\":\"not-an-ip\"}}",
    "{\"command\":\"incidents\",\"arguments\":{\"host\":5}}",
    "{\"command\":\"incidents\",\"arguments\":{\"host\":\"10.0.0.1 \"}}",
    "{\"command\":\"incidents\",\"arguments\":{\"host\":"
    "\"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa\"}}",
    "{\"command\":\"incident\"}",
    "{\"command\":\"incident\",\"arguments\":{\"id\":0}}",
    "{\"command\":\"incident\",\"arguments\":{\"id\":-2}}",
    "{\"command\":\"incident\",\"arguments\":{\"id\":1.5}}",
    "{\"command\":\"incident\",\"arguments\":{\"id\":\"2\"}}",
    "{\"command\":\"incident\",\"arguments\":{\"id\":1e300}}",
};

START_TEST(test_store_bad_args)
{
	char req[256];
	int fd;

	store_start();
	fd = cli_connect();
	snprintf(req, sizeof(req), "%s\n", store_bad[_i]);
	cli_send(fd, req);
	cli_expect_code(fd, "bad_argument");
	ck_assert_msg(cli_open(fd), "a bad argument should keep the client");
	close(fd);
	store_stop();
}
END_TEST

START_TEST(test_incident_one)
{
	const cJSON *res, *inc;
	char ids[1024], want[1024];
	size_t len = 0;
	cJSON *r;
	int fd, i;

	store_start();
	fd = cli_connect();
	r = store_ask(
	    fd, "{\"command\":\"incident\",\"arguments\":{\"id\":2}}\n", &res);
	inc = cJSON_GetObjectItem(res, "incident");
	ck_assert_int_eq(cJSON_GetObjectItem(inc, "id")->valueint, 2);
	ck_assert_str_eq(
	    cJSON_GetObjectItem(inc, "host")->valuestring, "10.3.0.2");
	ck_assert_str_eq(
	    cJSON_GetObjectItem(inc, "about")->valuestring, "initiator");
	store_ids(res, "alerts", ids, sizeof(ids));
	for (i = 120; i > 20; i--)
		len += (size_t)snprintf(
		    want + len, sizeof(want) - len, "%s%d", len ? "," : "", i);
	ck_assert_msg(strcmp(ids, want) == 0,
	    "the incident's newest 100 alerts should come newest first: %s",
	    ids);
	ck_assert_int_eq(
	    cJSON_GetObjectItem(
		cJSON_GetArrayItem(cJSON_GetObjectItem(res, "alerts"), 0),
		"incident_id")
		->valueint,
	    2);
	cJSON_Delete(r);
	r = store_ask(
	    fd, "{\"command\":\"incident\",\"arguments\":{\"id\":4}}\n", &res);
	ck_assert_msg(
	    cJSON_GetArraySize(cJSON_GetObjectItem(res, "alerts")) == 0,
	    "an incident without alert rows should have an empty list");
	cJSON_Delete(r);
	cli_send(fd, "{\"command\":\"incident\",\"arguments\":{\"id\":6}}\n");
	cli_expect_code(fd, "not_found");
	close(fd);
	store_stop();
}
END_TEST

/* ---- The report command ------------------------------------------------ */

/* A small model trained on noise, and its live collector. */
static void
report_start(void)
{
	enum {
		N = 256
	};
	static float x[N * FEAT_COUNT];
	uint8_t xform[FEAT_COUNT];
	struct anomd_conf c;
	struct model_params p;
	struct model_meta meta;
	char *cause = NULL;
	size_t i;

	conf_defaults(&c);
	c.model_epochs = 1;
	snprintf(c.model_layers, sizeof(c.model_layers), "4");
	for (i = 0; i < N * FEAT_COUNT; i++)
		x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
	memset(xform, MODEL_XFORM_LINEAR, sizeof(xform));
	memset(&meta, 0, sizeof(meta));
	ck_assert_int_eq(detect_model_params(&c, &p, NULL, &cause), 0);
	ck_assert_msg(model_train(&RM, x, N, FEAT_COUNT, xform,
			  feat_table_hash(), &p, &meta, &cause) == 0,
	    "the tiny model should train: %s", cause ? cause : "");
	RL = report_create_live();
}

static void
report_stop(void)
{
	report_free(RL);
	model_free(RM);
	RL = NULL;
	RM = NULL;
	ROUT = 1024 * 1024;
}

/*
 * Feed the collector: n normal flows, and the raised first flow of stored
 * alert i (10.3.0.2 -> 10.5.0.i, TCP port i + 1; incident 2 below 120).
 */
static void
report_feed(int n, int raised)
{
	struct detect_result res;
	struct flow_record r;
	int i, k;

	for (i = 0; i < n + raised; i++) {
		memset(&r, 0, sizeof(r));
		memset(&res, 0, sizeof(res));
		r.ts_first_us = r.ts_last_us =
		    (uint64_t)(T0_S + 200) * 1000000 + (uint64_t)i * 1000;
		r.proto = 6;
		r.src[10] = r.src[11] = r.dst[10] = r.dst[11] = 0xff;
		r.src[12] = r.dst[12] = 10;
		r.src[13] = 3;
		r.src[15] = 2;
		r.dst[13] = 5;
		r.sport = (uint16_t)(40000 + i);
		for (k = 0; k < FEAT_COUNT; k++)
			r.feat[k] = (float)((i * 31 + k * 7) % 100) / 100.0f;
		res.r = &r;
		res.split.total = 0.01f * (float)(i % 50 + 1);
		if (i >= n) { /* raised: the stored alert's fold key */
			k = i - n;
			r.dst[15] = (uint8_t)(k % 200);
			r.dport = (uint16_t)(k + 1);
			res.decision = DETECT_FLOW_ALERT;
			res.finding = STORE_FINDING_FLOW;
			res.incident_id = k < 120 ? 2 : 0;
			for (k = 0; k < FEAT_COUNT; k++)
				r.feat[k] *= 20.0f;
		}
		report_record(RL, RM, &res);
	}
}

/* The page in a "report" result; fails the test without one. */
static const char *
report_html(const cJSON *res)
{
	const cJSON *h = cJSON_GetObjectItem(res, "html");

	ck_assert_msg(cJSON_IsString(h), "the result should carry the page");
	return h->valuestring;
}

/* Whether html refers to nothing outside itself. */
static void
report_self_contained(const char *html)
{
	static const char *const refs[] = {
	    "http:", "https:", "src=", "href=", "url(", "@import", "//"};
	size_t i;

	for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
		ck_assert_msg(strstr(html, refs[i]) == NULL,
		    "the page should refer to nothing outside it (found %s)",
		    refs[i]);
}

START_TEST(test_report_page)
{
	const cJSON *res;
	const char *html;
	cJSON *r;
	int fd;

	store_start();
	report_start();
	report_feed(300, 123);
	fd = cli_connect();
	r = store_ask(fd, "{\"command\":\"report\"}\n", &res);
	html = report_html(res);
	ck_assert_msg(strncmp(html, "<!DOCTYPE html>", 15) == 0,
	    "the result should be an HTML page");
	ck_assert_msg(
	    strstr(html, "</html>") != NULL, "the page should be whole");
	ck_assert_msg(strstr(html, "summary 2") != NULL &&
		strstr(html, "summary 5") != NULL,
	    "the page should name the stored incidents' summaries");
	ck_assert_msg(strstr(html, "live capture on test0") != NULL,
	    "the header should name the source");
	ck_assert_msg(strstr(html, "123 alert rows") != NULL,
	    "the page should count the stored alert rows");
	ck_assert_msg(strstr(html, "class=\"pt\"") != NULL,
	    "the maps should draw the stored alerts' codes");
	ck_assert_msg(strstr(html, "class=\"cell\"") != NULL,
	    "the maps should draw the normal flows' density");
	ck_assert_msg(strstr(html, "incident #2, flow alert") != NULL,
	    "a point should belong to its alert's incident");
	report_self_contained(html);
	ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItem(res, "map_points_max")),
	    "a small page should not be capped");
	cJSON_Delete(r);
	/* since after every alert: no incident, no point */
	r = store_ask(fd,
	    "{\"command\":\"report\",\"arguments\":{\"since\":"
	    "1700003000}}\n",
	    &res);
	html = report_html(res);
	ck_assert_msg(strstr(html, "No incidents.") != NULL,
	    "since after the incidents should show none");
	ck_assert_msg(strstr(html, "class=\"pt\"") == NULL,
	    "since after the alerts should draw no raised point");
	cJSON_Delete(r);
	cli_send(fd, "{\"command\":\"report\",\"arguments\":{\"since\":-1}}\n");
	cli_expect_code(fd, "bad_argument");
	cli_send(
	    fd, "{\"command\":\"report\",\"arguments\":{\"since\":\"1h\"}}\n");
	cli_expect_code(fd, "bad_argument");
	close(fd);
	report_stop();
	store_stop();
}
END_TEST

/* Without a model there is no page, and the reply says why. */
START_TEST(test_report_no_model)
{
	int fd;

	store_start();
	RL = report_create_live();
	fd = cli_connect();
	cli_send(fd, "{\"command\":\"report\"}\n");
	cli_expect_code(fd, "no_model");
	close(fd);
	report_stop();
	store_stop();
}
END_TEST

/*
 * A small output cap: the page is drawn with fewer map points until its
 * reply fits, and says so; a cap too small for even that is an error.
 */
START_TEST(test_report_capped)
{
	struct live_report_opts ro = {
	    .model_since_us = (uint64_t)T0_S * 1000000,
	    .now_us = (uint64_t)(T0_S + 3600) * 1000000,
	    .source = "test",
	};
	const char *code = NULL;
	char *msg = NULL, *line;
	const cJSON *cap;
	cJSON *r;
	size_t full;

	store_start();
	report_start();
	report_feed(300, 123);
	ro.output_max = 1024 * 1024;
	r = live_cmd_report(RL, RM, ST, &ro, NULL, &code, &msg);
	ck_assert_ptr_nonnull(r);
	full = strlen(report_html(r));
	cJSON_Delete(r);
	ro.output_max = full - 2000; /* the points take more than that */
	r = live_cmd_report(RL, RM, ST, &ro, NULL, &code, &msg);
	ck_assert_msg(
	    r != NULL, "a capped page should come: %s", msg ? msg : "");
	cap = cJSON_GetObjectItem(r, "map_points_max");
	ck_assert_msg(cJSON_IsNumber(cap) && cap->valuedouble < 123,
	    "the result should say the map points were capped");
	line = cJSON_PrintUnformatted(r);
	ck_assert_msg(strlen(line) + 64 < ro.output_max,
	    "the capped reply (%zu bytes) should fit the cap (%zu)",
	    strlen(line), ro.output_max);
	report_self_contained(report_html(r));
	cJSON_free(line);
	cJSON_Delete(r);
	ro.output_max = 2048;
	r = live_cmd_report(RL, RM, ST, &ro, NULL, &code, &msg);
	ck_assert_msg(r == NULL && strcmp(code, "too_large") == 0,
	    "a page over the cap without points should be refused");
	free(msg);
	report_stop();
	store_stop();
}
END_TEST

/* The suite of live.c's store commands. */
static Suite *
store_cmd_suite(void)
{
	Suite *s = suite_create("store commands");
	TCase *tc = tcase_create("incidents");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_incidents_ok, 0,
	    sizeof(incidents_ok) / sizeof(incidents_ok[0]));
	tcase_add_loop_test(tc, test_store_bad_args, 0,
	    sizeof(store_bad) / sizeof(store_bad[0]));
	tcase_add_test(tc, test_incident_one);
	suite_add_tcase(s, tc);
	tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_report_page);
	tcase_add_test(tc, test_report_no_model);
	tcase_add_test(tc, test_report_capped);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- The suppression commands: allow, allows, unallow ------------------- */

static struct suppress *SP; /* the list the suppression commands change */

/* The handler of the suppression tests (live.c checks the peer first). */
static cJSON *
supp_handler(struct control_client *cl, const char *command, const cJSON *args,
    const struct control_peer *peer, const char **code, char **message,
    void *arg)
{
	(void)cl, (void)arg;
	if (strcmp(command, "allow") == 0)
		return suppress_cmd_allow(SP, ST, args, peer,
		    (uint64_t)T0_S * 1000000, code, message);
	if (strcmp(command, "allows") == 0)
		return suppress_cmd_allows(
		    SP, ST, (uint64_t)(T0_S + 3600) * 1000000, code, message);
	if (strcmp(command, "unallow") == 0)
		return suppress_cmd_unallow(SP, ST, args, code, message);
	*code = "unknown_command";
	*message = strdup("unknown command");
	return NULL;
}

/*
 * store_start()'s store, plus incident 6: initiator 10.3.0.7 with one peer
 * (10.9.0.1) and one port (22); then the server with supp_handler.
 */
static void
supp_start(void)
{
	struct control_opts o = opts();
	struct store_incident inc;
	char *cause = NULL;
	int64_t id;

	store_start();
	control_close(F.ctl);
	F.ctl = NULL;
	memset(&inc, 0, sizeof(inc));
	inc.first_us = (uint64_t)T0_S * 1000000;
	inc.last_us = inc.first_us + 1000000;
	inc.about = STORE_ABOUT_INITIATOR;
	snprintf(inc.host, sizeof(inc.host), "10.3.0.7");
	inc.alerts = inc.flows = 40;
	inc.peers_n = inc.ports_n = 1;
	snprintf(inc.peers, sizeof(inc.peers), "[\"10.9.0.1\"]");
	snprintf(inc.ports, sizeof(inc.ports), "[22]");
	ck_assert_int_eq(store_incident_put(ST, &inc, &id), 0);
	ck_assert_int_eq(id, 6);
	ck_assert_int_eq(store_flush(ST, NULL), 0);
	SP = suppress_create();
	ck_assert_int_eq(suppress_load(SP, ST, NULL), 0);
	o.output_max = 1024 * 1024;
	ck_assert_msg(
	    control_open(&F.ctl, F.base, &o, supp_handler, &F, &cause) == 0,
	    "control_open should succeed: %s", cause ? cause : "");
}

/* Free the list and close the store. */
static void
supp_stop(void)
{
	suppress_free(SP);
	SP = NULL;
	store_stop();
}

/* The string field name of o. */
static const char *
sfield(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);

	ck_assert_msg(cJSON_IsString(v), "%s should be a string", name);
	return v->valuestring;
}

START_TEST(test_allow_list_unallow)
{
	const cJSON *res, *a;
	struct flow_record r;
	cJSON *resp;
	int fd;

	supp_start();
	fd = cli_connect();
	resp = store_ask(fd,
	    "{\"command\":\"allow\",\"arguments\":{\"src\":\"10.1.0.0/16\","
	    "\"dst\":\"192.168.1.5\",\"dst_port\":873,\"proto\":\"tcp\","
	    "\"for\":604800,\"note\":\"nightly rsync\"}}\n",
	    &res);
	ck_assert_int_eq(cJSON_GetObjectItem(res, "id")->valueint, 1);
	ck_assert_str_eq(sfield(res, "src"), "10.1.0.0/16");
	ck_assert_str_eq(sfield(res, "dst"), "192.168.1.5/32");
	ck_assert_int_eq(cJSON_GetObjectItem(res, "dst_port")->valueint, 873);
	ck_assert_int_eq(cJSON_GetObjectItem(res, "proto")->valueint, 6);
	ck_assert_str_eq(
	    sfield(res, "expires"), "2023-11-21T22:13:20.000000+0000");
	ck_assert_str_eq(sfield(res, "note"), "nightly rsync");
	ck_assert_int_eq(
	    cJSON_GetObjectItem(res, "created_by")->valueint, (int)getuid());
	cJSON_Delete(resp);
	ck_assert_msg(suppress_count(SP) == 1,
	    "the daemon's list should be reloaded after an allow");
	/* One alert suppressed: allows shows the hit before it is synced. */
	memset(&r, 0, sizeof(r));
	r.src[10] = r.src[11] = r.dst[10] = r.dst[11] = 0xff;
	r.src[12] = 10, r.src[13] = 1, r.src[15] = 9;
	r.dst[12] = 192, r.dst[13] = 168, r.dst[14] = 1, r.dst[15] = 5;
	r.proto = 6;
	r.dport = 873;
	ck_assert_int_eq(
	    suppress_match(SP, &r, (uint64_t)T0_S * 1000000, 1), 1);
	resp = store_ask(fd, "{\"command\":\"allows\"}\n", &res);
	a = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "suppressions"), 0);
	ck_assert_int_eq(cJSON_GetObjectItem(a, "hits")->valueint, 1);
	ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItem(a, "active")),
	    "a suppression within its week should be active");
	ck_assert_int_eq(cJSON_GetObjectItem(res, "suppressed")->valueint, 1);
	ck_assert_int_eq(
	    cJSON_GetObjectItem(res, "max")->valueint, SUPPRESS_MAX);
	cJSON_Delete(resp);
	resp = store_ask(
	    fd, "{\"command\":\"unallow\",\"arguments\":{\"id\":1}}\n", &res);
	ck_assert_int_eq(cJSON_GetObjectItem(res, "removed")->valueint, 1);
	cJSON_Delete(resp);
	ck_assert_int_eq(suppress_count(SP), 0);
	cli_send(fd, "{\"command\":\"unallow\",\"arguments\":{\"id\":1}}\n");
	cli_expect_code(fd, "not_found");
	resp = store_ask(fd, "{\"command\":\"allows\"}\n", &res);
	ck_assert_int_eq(
	    cJSON_GetArraySize(cJSON_GetObjectItem(res, "suppressions")), 0);
	cJSON_Delete(resp);
	close(fd);
	supp_stop();
}
END_TEST

/* Incidents and the suppression derived from each. */
static const struct {
	int id;
	const char *src, *dst;
	int port;
} allow_inc[] = {
    {6, "10.3.0.7/32", "10.9.0.1/32", 22}, /* one peer, one port */
    {4, "10.3.0.1/32", "any", 0}, /* initiator, no single peer or port */
    {1, "any", "10.3.0.1/32", 0}, /* about a responder */
    {5, "any", "2001:db8::1/128", 0}, /* IPv6, about a responder */
};

START_TEST(test_allow_incident)
{
	const cJSON *res;
	char req[160];
	cJSON *resp;
	int fd;

	supp_start();
	fd = cli_connect();
	snprintf(req, sizeof(req),
	    "{\"command\":\"allow\",\"arguments\":{\"incident\":%d,"
	    "\"note\":\"lab\"}}\n",
	    allow_inc[_i].id);
	resp = store_ask(fd, req, &res);
	ck_assert_str_eq(sfield(res, "src"), allow_inc[_i].src);
	ck_assert_str_eq(sfield(res, "dst"), allow_inc[_i].dst);
	ck_assert_int_eq(
	    cJSON_GetObjectItem(res, "dst_port")->valueint, allow_inc[_i].port);
	ck_assert_int_eq(cJSON_GetObjectItem(res, "proto")->valueint, 0);
	ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItem(res, "expires")),
	    "without for, a suppression should never expire");
	cJSON_Delete(resp);
	cli_send(
	    fd, "{\"command\":\"allow\",\"arguments\":{\"incident\":99}}\n");
	cli_expect_code(fd, "not_found");
	close(fd);
	supp_stop();
}
END_TEST

static const char *const allow_bad[] = {
    "{}",
    "{\"dst_port\":22}",
    "{\"src\":\"any\",\"dst\":\"any\"}",
    "{\"src\":\"10.0.0.1/24\"}",
    "{\"src\":\"10.0.0.0/33\"}",
    "{\"dst\":\"garbage\"}",
    "{\"dst\":\"::1/129\"}",
    "{\"src\":10}",
    "{\"src\":\"10.0.0.1\",\"dst_port\":65536}",
    "{\"src\":\"10.0.0.1\",\"dst_port\":-1}",
    "{\"src\":\"10.0.0.1\",\"dst_port\":1.5}",
    "{\"src\":\"10.0.0.1\",\"proto\":\"xyz\"}",
    "{\"src\":\"10.0.0.1\",\"proto\":\"256\"}",
    "{\"src\":\"10.0.0.1\",\"proto\":6}",
    "{\"src\":\"10.0.0.1\",\"for\":0}",
    "{\"src\":\"10.0.0.1\",\"for\":1e12}",
    "{\"src\":\"10.0.0.1\",\"note\":\"a\\u0001b\"}",
    "{\"src\":\"10.0.0.1\",\"note\":\"a\\nb\"}",
    "{\"src\":\"10.0.0.1\",\"note\":5}",
    "{\"incident\":0}",
    "{\"incident\":\"6\"}",
    "{\"incident\":6,\"src\":\"10.0.0.1\"}",
    "{\"incident\":6,\"dst_port\":22}",
};

START_TEST(test_allow_bad_args)
{
	const cJSON *res;
	char req[512];
	cJSON *resp;
	int fd;

	supp_start();
	fd = cli_connect();
	snprintf(req, sizeof(req), "{\"command\":\"allow\",\"arguments\":%s}\n",
	    allow_bad[_i]);
	cli_send(fd, req);
	cli_expect_code(fd, "bad_argument");
	ck_assert_msg(
	    suppress_count(SP) == 0, "a refused allow should change nothing");
	resp = store_ask(fd, "{\"command\":\"allows\"}\n", &res);
	ck_assert_int_eq(
	    cJSON_GetArraySize(cJSON_GetObjectItem(res, "suppressions")), 0);
	cJSON_Delete(resp);
	close(fd);
	supp_stop();
}
END_TEST

START_TEST(test_allow_note_and_cap)
{
	char req[1024], note[300];
	int fd, i;

	supp_start();
	fd = cli_connect();
	memset(note, 'n', 256);
	note[256] = '\0';
	snprintf(req, sizeof(req),
	    "{\"command\":\"allow\",\"arguments\":{\"src\":\"10.0.0.1\","
	    "\"note\":\"%s\"}}\n",
	    note);
	cli_send(fd, req);
	cli_expect_code(fd, "bad_argument");
	note[255] = '\0';
	snprintf(req, sizeof(req),
	    "{\"command\":\"allow\",\"arguments\":{\"src\":\"10.0.0.1\","
	    "\"note\":\"%s\"}}\n",
	    note);
	for (i = 0; i < SUPPRESS_MAX; i++)
		cJSON_Delete(store_ask(fd, req, &(const cJSON *){NULL}));
	ck_assert_int_eq(suppress_count(SP), SUPPRESS_MAX);
	cli_send(fd, req);
	cli_expect_code(fd, "full");
	ck_assert_int_eq(suppress_count(SP), SUPPRESS_MAX);
	close(fd);
	supp_stop();
}
END_TEST

/* The suite of the suppression commands. */
static Suite *
supp_cmd_suite(void)
{
	Suite *s = suite_create("suppression commands");
	TCase *tc = tcase_create("allow");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_allow_list_unallow);
	tcase_add_loop_test(tc, test_allow_incident, 0,
	    sizeof(allow_inc) / sizeof(allow_inc[0]));
	tcase_add_loop_test(tc, test_allow_bad_args, 0,
	    sizeof(allow_bad) / sizeof(allow_bad[0]));
	tcase_add_test(tc, test_allow_note_and_cap);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the control suite. */
int
main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_add_suite(sr, store_cmd_suite());
	srunner_add_suite(sr, supp_cmd_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
