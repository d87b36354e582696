/*
 * Fuzz target for the control socket's request handling: the real control
 * module on a real UNIX socket, with a handler like the daemon's (echo,
 * fail, subscribe).  Each input is what one client sends: the first byte
 * picks up to two split points, so a request arrives whole or in pieces,
 * then the client half-closes and reads until the server closes.  Besides
 * not crashing (run it in the sanitizer build), the server must answer
 * every line (an empty one too) with exactly one UTF-8 line holding a JSON
 * object with a boolean "ok" (and, when not ok, an error code), must close
 * the connection, and must keep serving: a well-formed request after each
 * input is answered.  The handler must only ever see UTF-8 commands.
 *
 * With -DANOMD_LIBFUZZER this is a libFuzzer target.  Otherwise main()
 * runs a list of seed inputs and a seeded loop of mutations of them
 * (ANOMD_FUZZ_ITERS, ANOMD_FUZZ_SEED).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "daemon/daemon.h"
#include "tests/fuzz/fuzz-util.h"

#define LINE_MAX_FUZZ 512
#define OUT_MAX (256 * 1024)
#define DEADLINE_MS 3000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	unsigned long replies, errors; /* reply lines seen, error replies */
	char dir[64], path[96];
	struct event_base *base;
	struct control *ctl;
} S;

static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_control: broken promise: %s\n", what);
		abort();
	}
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Check src, dst and id as live.c's alerts and alert do; echo them. */
static cJSON *
args_like_live(const cJSON *args, const char **code, char **message)
{
	char src[ADDR_STR_LEN], dst[ADDR_STR_LEN];
	int64_t id = 0;
	int s, d;
	cJSON *r;

	if ((s = control_arg_addr(args, "src", src)) < 0 ||
	    (d = control_arg_addr(args, "dst", dst)) < 0 ||
	    control_arg_int(args, "id", 1, INT64_C(9000000000000000), &id) <
		0) {
		*code = "bad_argument";
		*message = strdup("src, dst: one address; id: a whole number");
		return NULL;
	}
	r = cJSON_CreateObject();
	if (s)
		cJSON_AddStringToObject(r, "src", src);
	if (d)
		cJSON_AddStringToObject(r, "dst", dst);
	cJSON_AddNumberToObject(r, "id", (double)id);
	return r;
}

/* echo, fail and subscribe, as the daemon's handler shapes its answers. */
static cJSON *
handler(struct control_client *cl, const char *command, const cJSON *args,
    const struct control_peer *peer, const char **code, char **message,
    void *arg)
{
	cJSON *r;

	(void)peer;
	(void)arg;
	require(control_utf8_valid(command, strlen(command)),
	    "the handler only sees UTF-8");
	if (strcmp(command, "echo") == 0)
		return args != NULL ? cJSON_Duplicate(args, 1)
				    : cJSON_CreateNull();
	if (strcmp(command, "alerts") == 0 || strcmp(command, "alert") == 0)
		return args_like_live(args, code, message);
	if (strcmp(command, "subscribe") == 0) {
		control_subscribe(cl);
		r = cJSON_CreateObject();
		cJSON_AddTrueToObject(r, "subscribed");
		return r;
	}
	*code =
	    strcmp(command, "fail") == 0 ? "bad_argument" : "unknown_command";
	if (asprintf(message, "no \"%s\"", command) < 0)
		*message = NULL;
	return NULL;
}

/* Start the server once. */
static void
server(void)
{
	struct control_opts o;
	struct sigaction sa;
	char *cause = NULL;

	if (S.ctl != NULL)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	snprintf(S.dir, sizeof(S.dir), "/tmp/fuzz_control.XXXXXX");
	require(mkdtemp(S.dir) != NULL, "a temp folder");
	snprintf(S.path, sizeof(S.path), "%s/ctl.sock", S.dir);
	require((S.base = event_base_new()) != NULL, "an event base");
	memset(&o, 0, sizeof(o));
	o.path = S.path;
	o.mode = 0600;
	o.gid = (gid_t)-1;
	o.max_clients = 8;
	o.idle_s = 5;
	o.first_s = 5;
	o.output_max = OUT_MAX;
	o.line_max = LINE_MAX_FUZZ;
	if (control_open(&S.ctl, S.base, &o, handler, NULL, &cause) != 0) {
		fprintf(stderr, "fuzz_control: %s\n", cause ? cause : "open");
		abort();
	}
}

static int
client(void)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", S.path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	require(fd >= 0, "a client socket");
	require(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	    "the client connects");
	require(fcntl(fd, F_SETFL, O_NONBLOCK) == 0, "a non-blocking client");
	return fd;
}

/*
 * Send data[0..n) (running the loop while the socket is full), then read
 * until the server closes; returns the bytes read into out (NUL-ended).
 */
static size_t
exchange(int fd, const uint8_t *data, size_t n, size_t cut1, size_t cut2,
    char *out, size_t outsz)
{
	long long end = now_ms() + DEADLINE_MS;
	size_t sent = 0, got = 0, stop;
	int shut = 0;
	ssize_t r;

	for (;;) {
		require(now_ms() < end, "the server answers in time");
		stop = sent < cut1 ? cut1 : sent < cut2 ? cut2 : n;
		if (sent < n) {
			r = send(fd, data + sent, stop - sent, MSG_NOSIGNAL);
			if (r > 0)
				sent += (size_t)r;
			else if (errno == EPIPE || errno == ECONNRESET)
				sent = n; /* closed on us: read why */
		} else if (!shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		event_base_loop(S.base, EVLOOP_NONBLOCK);
		r = recv(fd, out + got, outsz - 1 - got, 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			break;
		if (r > 0)
			got += (size_t)r;
		require(got < outsz - 1, "replies stay under the output cap");
		if (r < 0)
			poll(NULL, 0, 0);
	}
	out[got] = '\0';
	return got;
}

/* The request lines in data[0..n): LF-ended ones and a non-empty rest. */
static size_t
count_lines(const uint8_t *data, size_t n)
{
	size_t i, lines = 0, last = 0;

	for (i = 0; i < n; i++)
		if (data[i] == '\n') {
			lines++;
			last = i + 1;
		}
	return lines + (last < n);
}

/*
 * Every reply line is one UTF-8 object with a boolean "ok"; returns how
 * many there were, and sets *too_long when the server cut the input off.
 */
static size_t
check_replies(char *out, int *too_long)
{
	char *line, *save = NULL;
	const cJSON *ok, *err, *code;
	size_t lines = 0;
	cJSON *j;

	*too_long = 0;
	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		require(control_utf8_valid(line, strlen(line)),
		    "each reply line is UTF-8");
		j = cJSON_Parse(line);
		require(cJSON_IsObject(j), "each reply line is a JSON object");
		ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
		require(cJSON_IsBool(ok), "each reply has a boolean ok");
		S.replies++;
		if (cJSON_IsFalse(ok)) {
			S.errors++;
			err = cJSON_GetObjectItemCaseSensitive(j, "error");
			code = cJSON_GetObjectItemCaseSensitive(err, "code");
			require(
			    cJSON_IsString(code), "an error reply has a code");
			*too_long |= strcmp(code->valuestring, "too_long") == 0;
		}
		cJSON_Delete(j);
		lines++;
	}
	return lines;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char probe[] = "{\"command\":\"echo\",\"arguments\":"
				    "{\"alive\":true}}\n";
	static char out[OUT_MAX + 1024];
	size_t cut1, cut2, replies;
	int fd, too_long;

	server();
	if (size < 1)
		return 0;
	cut1 = size > 1 ? 1 + data[0] % (size - 1) : size;
	cut2 = cut1 + (size - cut1) / 2;
	fd = client();
	exchange(fd, data + 1, size - 1, cut1 - 1, cut2 - 1, out, sizeof(out));
	close(fd);
	replies = check_replies(out, &too_long);
	require(too_long || replies == count_lines(data + 1, size - 1),
	    "every request line gets exactly one reply");
	/* The server still serves. */
	fd = client();
	exchange(fd, (const uint8_t *)probe, sizeof(probe) - 1, 0, 0, out,
	    sizeof(out));
	close(fd);
	require(strstr(out, "\"alive\":true") != NULL,
	    "a good request after the input is answered");
	return 0;
}

#ifndef ANOMD_LIBFUZZER
static const char *const seeds[] = {
    "\x05{\"command\":\"echo\",\"arguments\":{\"s\":\"x\"}}\n",
    "\x00{\"command\":\"fail\"}\n{\"command\":\"nope\"}\r\n",
    "\x09{\"command\":\"subscribe\"}\n{\"command\":\"echo\"}\n",
    "\x02{\"command\":\"echo\",\"arguments\":[1,2]}\n",
    "\x07{\"command\":7}\n[]\n\"str\"\nnull\n{\n",
    "\x03{\"command\":\"echo\",\"arguments\":{\"n\":1e999,\"u\":\"\\ud800\"}}",
    "\x01\n\n\n{\"command\":\"echo\"}",
    "\x04[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
    "\x06{\"command\":\"echo\",\"arguments\":{\"a\":{\"b\":{\"c\":{}}}}}\n",
    "\x08{\"command\":\"echo\",\"command\":\"fail\"}\n",
    /* issue 9: each of these must get an error line, not be cut or echoed */
    "\x03{\"command\":\"status\\u0000x\"}\n",
    "\x05{\"command\":\"echo\",\"arguments\":{\"s\":\"\xff\xfe\"}}\n",
    "\x04{\"command\":\"\xc3\xa9\xe2\x82\xac\"}\n{\"command\":\"\xed\xa0\x80\"}"
    "\n",
    "\x02{\"command\":\"alerts\",\"arguments\":{\"src\":\"notanip\"}}\n",
    "\x02{\"command\":\"alerts\",\"arguments\":{\"src\":\"10.0.0.0/8\"}}\n",
    "\x02{\"command\":\"alert\",\"arguments\":{\"id\":1.5}}\n",
    "\x06{\"command\":\"echo\",\"arguments\":{\"a\":{\"k\":1,\"\\u006b\":2}}}"
    "\n",
    "\x01\n\r\n \n", NULL};

/* Mutate seed (first byte included) into buf; returns the length. */
static size_t
mutate(const char *seed, size_t n, uint8_t *buf, size_t cap, uint64_t *rng)
{
	size_t k, j;
	int m = (int)(fuzz_rand(rng) % 6) + 1;

	static const char *const tokens[] = {"\\u0000", "\xc3\xa9",
	    "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82",
	    ",\"command\":\"echo\"", ",\"src\":\"192.0.2.1/24\"", "\\ud800",
	    ",\"id\":2.5"};
	const char *t;

	memcpy(buf, seed, n);
	while (m-- > 0 && n > 1) {
		k = 1 + fuzz_rand(rng) % (n - 1);
		switch (fuzz_rand(rng) % 7) {
		case 6: /* issue 9: a token cJSON alone mishandles, at k */
			t = tokens[fuzz_rand(rng) % 9];
			j = strlen(t);
			if (n + j <= cap) {
				memmove(buf + k + j, buf + k, n - k);
				memcpy(buf + k, t, j);
				n += j;
			}
			break;
		case 0:
			buf[k] ^= (uint8_t)(1u << (fuzz_rand(rng) % 8));
			break;
		case 1:
			n = k;
			break;
		case 2:
			buf[k] = (uint8_t)fuzz_rand(rng);
			break;
		case 3: /* a long run: lines over line_max */
			for (j = 0; j < 700 && n < cap; j++)
				buf[n++] = 'a';
			break;
		case 4:
			if (n < cap)
				buf[n++] =
				    "{}[]\",:\n\r\\0e-"[fuzz_rand(rng) % 14];
			break;
		default: /* duplicate a stretch: many requests */
			for (j = 1; j < k && n < cap; j++)
				buf[n++] = buf[j];
		}
	}
	return n;
}

int
main(void)
{
	static uint8_t buf[8192];
	uint64_t rng = 0x63746c, seed0, iters = 20000, i;
	const char *s;
	size_t k, nseeds = 0, len;

	if ((s = getenv("ANOMD_FUZZ_SEED")) != NULL)
		rng = strtoull(s, NULL, 0);
	if ((s = getenv("ANOMD_FUZZ_ITERS")) != NULL)
		iters = strtoull(s, NULL, 0);
	seed0 = rng;
	for (k = 0; seeds[k] != NULL; k++, nseeds++) {
		/* A seed may start with \x00: count it, then the rest. */
		len = 1 + strlen(seeds[k] + 1);
		LLVMFuzzerTestOneInput((const uint8_t *)seeds[k], len);
	}
	for (i = 0; i < iters; i++) {
		k = fuzz_rand(&rng) % nseeds;
		len = mutate(
		    seeds[k], 1 + strlen(seeds[k] + 1), buf, sizeof(buf), &rng);
		LLVMFuzzerTestOneInput(buf, len);
	}
	control_close(S.ctl);
	event_base_free(S.base);
	unlink(S.path);
	rmdir(S.dir);
	printf("fuzz_control: %zu seeds, %llu mutations, seed %#llx "
	       "(ANOMD_FUZZ_SEED, ANOMD_FUZZ_ITERS): %lu replies, %lu "
	       "errors\n",
	    nseeds, (unsigned long long)iters, (unsigned long long)seed0,
	    S.replies, S.errors);
	require(S.replies > iters && S.errors > 0,
	    "the inputs should draw replies, some of them errors");
	return 0;
}
#endif
