/*
 * Unit tests of daemon/metrics.c: the metrics_listen address, the
 * Prometheus text and the grouped JSON one fill writes, and a real evhttp
 * server on loopback answering /metrics and 404.  tests/live.sh scrapes the
 * real daemon and lints it with promtool.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "daemon/daemon.h"

/* The evbuffer's text as a NUL-terminated string (static storage). */
static const char *
text(struct evbuffer *b)
{
	static char s[8192];
	size_t n = evbuffer_get_length(b);

	ck_assert_uint_lt(n, sizeof(s));
	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	return s;
}

START_TEST(addr_table)
{
	static const struct {
		const char *addr, *host;
		unsigned port;
	} good[] = {{"127.0.0.1:9469", "127.0.0.1", 9469},
	    {"[::1]:9469", "::1", 9469}, {"localhost:1", "localhost", 1},
	    {"[fe80::1]:65535", "fe80::1", 65535}};
	static const char *const bad[] = {"", ":9469", "127.0.0.1",
	    "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
	    "127.0.0.1:94x", "::1:9469", "[::1]", "[::1]9469", "[zz]:1",
	    "[127.0.0.1]:1", "a b:1", "a/b:1", "[]:1"};
	char host[64], why[160];
	uint16_t port;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		port = 0;
		ck_assert_msg(metrics_addr_parse(good[i].addr, host,
				  sizeof(host), &port, why, sizeof(why)) == 0,
		    "%s should parse", good[i].addr);
		ck_assert_str_eq(host, good[i].host);
		ck_assert_uint_eq(port, good[i].port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(metrics_addr_parse(bad[i], host, sizeof(host),
				  &port, why, sizeof(why)) == -1,
		    "\"%s\" should be refused", bad[i]);
		ck_assert_msg(strstr(why, "host:port") != NULL,
		    "the refusal should say what is wanted");
	}
}
END_TEST

START_TEST(conf_key)
{
	struct anomd_conf c;
	char *cause = NULL;

	conf_defaults(&c);
	ck_assert_str_eq(c.metrics_listen, "127.0.0.1:9469");
	ck_assert_int_eq(conf_parse_line(&c, "t", 1,
			     "metrics_listen = \"[::1]:9100\"", &cause),
	    0);
	ck_assert_str_eq(c.metrics_listen, "[::1]:9100");
	ck_assert_int_eq(
	    conf_parse_line(&c, "t", 2, "metrics_listen = \"\"", &cause), 0);
	ck_assert_str_eq(c.metrics_listen, "");
	ck_assert_int_eq(
	    conf_parse_line(&c, "t", 3, "metrics_listen = 9469", &cause),
	    -EINVAL);
	ck_assert_msg(cause != NULL && strstr(cause, "t:3") != NULL,
	    "the error should name file and line: %s", cause);
	ck_assert_str_eq(c.metrics_listen, ""); /* unchanged */
	free(cause);
}
END_TEST

/* A small fill: a counter, a labelled gauge with a hostile value, a
 * limit and a histogram. */
static void
fill(struct metrics_out *mo, void *arg)
{
	struct metrics_hist h;

	(void)arg;
	memset(&h, 0, sizeof(h));
	metrics_hist_observe(&h, 0.002);
	metrics_hist_observe(&h, 7);
	metrics_put(mo, METRICS_COUNTER, "packets", "packets seen", 42);
	metrics_put_label(mo, METRICS_GAUGE, "state", "the state\\now", "state",
	    "a\"b\\c\nd", 1);
	metrics_put_label(mo, METRICS_GAUGE, "state", "", "state", "x", 0.5);
	metrics_put(mo, METRICS_LIMIT, "flows_max", "flows held", 1e6);
	metrics_put_hist(mo, "flush_seconds", "flush time", &h);
}

START_TEST(text_format)
{
	struct metrics_out mo;
	const char *s;

	memset(&mo, 0, sizeof(mo));
	mo.buf = evbuffer_new();
	fill(&mo, NULL);
	s = text(mo.buf);
	ck_assert_msg(strstr(s,
			  "# HELP anomd_packets_total packets seen\n"
			  "# TYPE anomd_packets_total counter\n"
			  "anomd_packets_total 42\n") == s,
	    "a counter gets _total, HELP and TYPE: %s", s);
	ck_assert_msg(strstr(s,
			  "# HELP anomd_state the state\\\\now\n"
			  "# TYPE anomd_state gauge\n"
			  "anomd_state{state=\"a\\\"b\\\\c\\nd\"} 1\n"
			  "anomd_state{state=\"x\"} 0.5\n") != NULL,
	    "one family, escaped label value and HELP: %s", s);
	ck_assert_msg(strstr(s,
			  "# TYPE anomd_flows_max gauge\n"
			  "anomd_flows_max 1000000\n") != NULL,
	    "a limit is a gauge: %s", s);
	ck_assert_msg(
	    strstr(s,
		"anomd_flush_seconds_bucket{le=\"0.001\"} 0\n"
		"anomd_flush_seconds_bucket{le=\"0.005\"} 1\n") != NULL &&
		strstr(s,
		    "anomd_flush_seconds_bucket{le=\"5\"} 1\n"
		    "anomd_flush_seconds_bucket{le=\"+Inf\"} 2\n"
		    "anomd_flush_seconds_sum 7.002\n"
		    "anomd_flush_seconds_count 2\n") != NULL,
	    "cumulative buckets, sum and count: %s", s);
	evbuffer_free(mo.buf);
}
END_TEST

START_TEST(json_groups)
{
	struct metrics_out mo;
	cJSON *c, *g, *l;

	memset(&mo, 0, sizeof(mo));
	mo.json = cJSON_CreateObject();
	fill(&mo, NULL);
	c = cJSON_GetObjectItem(mo.json, "counters");
	g = cJSON_GetObjectItem(mo.json, "gauges");
	l = cJSON_GetObjectItem(mo.json, "limits");
	ck_assert_msg(c && g && l, "three groups");
	ck_assert_double_eq(
	    cJSON_GetObjectItem(c, "packets_total")->valuedouble, 42);
	ck_assert_double_eq(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(g, "state"), "x")
		->valuedouble,
	    0.5);
	ck_assert_double_eq(
	    cJSON_GetObjectItem(l, "flows_max")->valuedouble, 1e6);
	ck_assert_double_eq(
	    cJSON_GetObjectItem(c, "flush_seconds_count")->valuedouble, 2);
	ck_assert_ptr_null(cJSON_GetObjectItem(g, "flows_max"));
	cJSON_Delete(mo.json);
}
END_TEST

/* Send req to port on loopback, run base until the server closes, return
 * the response (static storage). */
static const char *
ask(struct event_base *base, uint16_t port, const char *req)
{
	static char buf[16384];
	struct sockaddr_in sa;
	size_t len = 0;
	ssize_t n;
	int fd, i;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (i = 0; i < 2000; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == 0)
			break;
		if (n > 0)
			len += (size_t)n;
		else
			usleep(1000);
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

START_TEST(server)
{
	struct event_base *base = event_base_new();
	struct metrics_stats st;
	struct metrics *m = NULL;
	char addr[32], *cause = NULL;
	uint16_t port = 0;
	const char *r;
	int i, rc = -1;

	ck_assert_int_eq(metrics_open(&m, base, "", fill, NULL, &cause), 0);
	ck_assert_ptr_null(m); /* empty: off */
	for (i = 0; i < 20 && rc != 0; i++) { /* a free port */
		port = (uint16_t)(20000 + (getpid() * 7 + i * 131) % 40000);
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		free(cause);
		cause = NULL;
		rc = metrics_open(&m, base, addr, fill, NULL, &cause);
	}
	ck_assert_msg(rc == 0, "metrics_open: %s", cause ? cause : "");
	r = ask(base, port, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_msg(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
		strstr(r, "Content-Type: text/plain; version=0.0.4") != NULL &&
		strstr(r, "\r\n\r\n# HELP anomd_packets_total") != NULL,
	    "GET /metrics should get the text: %s", r);
	r = ask(base, port, "GET /other HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_msg(strncmp(r, "HTTP/1.1 404", 12) == 0, "404: %s", r);
	r = ask(base, port, "POST /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_msg(strncmp(r, "HTTP/1.1 200", 12) != 0,
	    "POST should be refused: %s", r);
	for (i = 0; i < 40; i++) /* more than METRICS_CLIENTS_MAX in turn */
		r = ask(base, port, "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(r, "HTTP/1.0 200", 12) == 0 ||
		strncmp(r, "HTTP/1.1 200", 12) == 0,
	    "closed connections should free their place: %s", r);
	metrics_get_stats(m, &st);
	ck_assert_uint_eq(st.scrapes, 41);
	ck_assert_uint_eq(st.not_found, 1);
	ck_assert_uint_eq(st.busy, 0);
	metrics_close(m);
	metrics_close(NULL);
	free(cause);
	event_base_free(base);
}
END_TEST

/* The suite. */
static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, addr_table);
	tcase_add_test(tc, conf_key);
	tcase_add_test(tc, text_format);
	tcase_add_test(tc, json_groups);
	suite_add_tcase(s, tc);
	tc = tcase_create("server");
	tcase_add_test(tc, server);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
