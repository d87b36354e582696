/*
 * Unit tests of the live EVE output (daemon/evout.c) on a real libevent
 * loop: the regular file and its reopen, the bounded queue, the UNIX
 * datagram socket with a full and a missing receiver, syslog, and the
 * configuration checks.  Redis is tested end to end by tests/evout.sh.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "daemon/daemon.h"

static char dir[64];
static struct event_base *base;
static struct anomd_conf conf;

/* A fresh temp dir, loop and default configuration per test. */
static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_evout.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	conf_defaults(&conf);
	snprintf(conf.state_dir, sizeof(conf.state_dir), "%s", dir);
}

/* Remove the temp dir. */
static void
teardown(void)
{
	char cmd[128];

	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Set one configuration line. */
static void
set(const char *line)
{
	char *cause = NULL;

	ck_assert_msg(conf_parse_line(&conf, "test", 1, line, &cause) == 0,
	    "%s should parse: %s", line, cause ? cause : "");
}

/* Run the loop until nothing is active (a few iterations). */
static void
spin(int ms)
{
	struct timespec ts = {0, 1000000};
	int i;

	for (i = 0; i < ms; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		nanosleep(&ts, NULL);
	}
}

/* Write line i as {"seq":i}. */
static void
put(struct evout *o, int i)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "{\"seq\":%d}", i);

	evout_write(o, line, (size_t)n);
}

/* The number of lines of a file, and that line k is {"seq":first+k}. */
static int
file_lines(const char *path, int first)
{
	char buf[128], want[64];
	FILE *fp = fopen(path, "r");
	int n = 0;

	ck_assert_msg(fp != NULL, "%s should exist", path);
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		snprintf(want, sizeof(want), "{\"seq\":%d}\n", first + n);
		ck_assert_str_eq(buf, want);
		n++;
	}
	fclose(fp);
	return n;
}

START_TEST(test_none)
{
	struct evout *o = (struct evout *)1;
	struct evout_stats st;

	ck_assert_int_eq(evout_open(&o, &conf, base, NULL), 0);
	ck_assert_msg(o == NULL, "eve_output none should open nothing");
	evout_write(o, "{}", 2);
	evout_reopen(o);
	memset(&st, 0xff, sizeof(st));
	evout_get_stats(o, &st);
	ck_assert_uint_eq(st.written + st.dropped + st.queued, 0);
	evout_close(o);
}
END_TEST

START_TEST(test_regular_reopen)
{
	struct evout *o;
	struct evout_stats st;
	char path[128], moved[128];
	int i;

	set("eve_output = regular");
	set("eve_filename = eve.json"); /* relative to state_dir */
	ck_assert_int_eq(evout_open(&o, &conf, base, NULL), 0);
	ck_assert_ptr_nonnull(o);
	for (i = 0; i < 100; i++)
		put(o, i);
	evout_get_stats(o, &st);
	ck_assert_uint_eq(st.queued, 100);
	spin(2);
	snprintf(path, sizeof(path), "%s/eve.json", dir);
	snprintf(moved, sizeof(moved), "%s/eve.json.1", dir);
	ck_assert_int_eq(rename(path, moved), 0);
	for (i = 100; i < 120; i++) /* queued before the signal: old file */
		put(o, i);
	evout_reopen(o);
	for (i = 120; i < 150; i++)
		put(o, i);
	spin(2);
	evout_get_stats(o, &st);
	ck_assert_uint_eq(st.written, 150);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_uint_eq(st.queued, 0);
	evout_close(o);
	ck_assert_msg(file_lines(moved, 0) == 120,
	    "lines before the reopen should be in the rotated file");
	ck_assert_msg(file_lines(path, 120) == 30,
	    "lines after the reopen should be in the new file");
}
END_TEST

START_TEST(test_queue_full)
{
	struct evout *o;
	struct evout_stats st;
	char path[128];
	int i;

	set("eve_output = regular");
	snprintf(path, sizeof(path), "eve_filename = %s/q.json", dir);
	set(path);
	set("eve_queue_max = 10");
	ck_assert_int_eq(evout_open(&o, &conf, base, NULL), 0);
	for (i = 0; i < 15; i++)
		put(o, i);
	evout_get_stats(o, &st);
	ck_assert_msg(st.queued == 10 && st.dropped == 5,
	    "a full queue should drop and count the newest lines");
	spin(2);
	evout_get_stats(o, &st);
	ck_assert_uint_eq(st.written, 10);
	evout_close(o);
	snprintf(path, sizeof(path), "%s/q.json", dir);
	ck_assert_int_eq(file_lines(path, 0), 10);
}
END_TEST

START_TEST(test_regular_close_flushes)
{
	struct evout *o;
	struct evout_stats st;
	char path[128];
	int i;

	set("eve_output = regular");
	ck_assert_int_eq(evout_open(&o, &conf, base, NULL), 0);
	for (i = 0; i < 7; i++)
		put(o, i);
	evout_get_stats(o, &st);
	ck_assert_uint_eq(st.written, 0);
	evout_close(o); /* never ran the loop */
	snprintf(path, sizeof(path), "%s/eve.json", dir);
	ck_assert_msg(
	    file_lines(path, 0) == 7, "close should write what is queued");
}
END_TEST

START_TEST(test_regular_bad_dir)
{
	struct evout *o = (struct evout *)1;
	char *cause = NULL;

	set("eve_output = regular");
	set("eve_filename = /nonexistent/dir/eve.json");
	ck_assert_int_eq(evout_open(&o, &conf, base, &cause), -ENOENT);
	ck_assert_ptr_null(o);
	ck_assert_ptr_nonnull(strstr(cause, "/nonexistent/dir/eve.json"));
	free(cause);
}
END_TEST

/* Bind a datagram receiver at path with a small buffer. */
static int
receiver(const char *path)
{
	struct sockaddr_un sun;
	int fd, sz = 4096;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Read every waiting datagram; each must be the next seq. */
static int
receive_all(int fd, int *next)
{
	char buf[128], want[64];
	ssize_t n;
	int got = 0;

	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		snprintf(want, sizeof(want), "{\"seq\":%d}", (*next)++);
		ck_assert_str_eq(buf, want);
		got++;
	}
	return got;
}

START_TEST(test_dgram)
{
	struct evout *o;
	struct evout_stats st;
	char path[128], line[160];
	int fd, i, next = 0, got = 0;

	snprintf(path, sizeof(path), "%s/eve.sock", dir);
	snprintf(line, sizeof(line), "eve_socket = %s", path);
	set("eve_output = unix_dgram");
	set(line);
	/* No receiver yet: the lines wait and the socket is retried. */
	ck_assert_int_eq(evout_open(&o, &conf, base, NULL), 0);
	for (i = 0; i < 50; i++)
		put(o, i);
	spin(5);
	evout_get_stats(o, &st);
	ck_assert_msg(st.queued == 50 && st.errors >= 1 && st.dropped == 0,
	    "a missing receiver should keep the lines queued");
	fd = receiver(path);
	/* More than the receiver's small buffer holds: EAGAIN, then more
	 * once it is read. */
	for (i = 50; i < 2000; i++)
		put(o, i);
	for (i = 0; i < 3000 && got < 2000; i++) {
		spin(1);
		got += receive_all(fd, &next);
	}
	evout_get_stats(o, &st);
	ck_assert_int_eq(got, 2000);
	ck_assert_uint_eq(st.written, 2000);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_uint_eq(st.queued, 0);
	/* The receiver goes away and comes back: a reconnect. */
	close(fd);
	unlink(path);
	put(o, 2000);
	spin(2);
	evout_get_stats(o, &st);
	ck_assert_msg(st.queued == 1, "a gone receiver should keep the line");
	fd = receiver(path);
	for (i = 0; i < 3000 && got < 2001; i++) {
		spin(1);
		got += receive_all(fd, &next);
	}
	evout_get_stats(o, &st);
	ck_assert_int_eq(got, 2001);
	ck_assert_uint_ge(st.reconnects, 1);
	evout_close(o);
	close(fd);
}
END_TEST

START_TEST(test_syslog)
{
	struct evout *o;
	struct evout_stats st;

	set("eve_output = syslog");
	set("eve_syslog_facility = local3");
	set("eve_syslog_level = notice");
	ck_assert_int_eq(evout_open(&o, &conf, base, NULL), 0);
	put(o, 0);
	spin(1);
	evout_get_stats(o, &st);
	ck_assert_uint_eq(st.written, 1);
	evout_close(o);
}
END_TEST

/* Configurations evout_check_conf refuses: the key table alone cannot. */
static const char *const bad_conf[][2] = {
    {"eve_output = unix_dgram", "eve_socket = "},
    {"eve_output = unix_dgram",
	"eve_socket = "
	"/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"eve_output = regular", "eve_filename = "},
    {"eve_output = redis", "eve_redis_key = "},
    {"eve_output = redis", "eve_redis_server = "},
};

START_TEST(test_check_conf)
{
	struct evout *o = (struct evout *)1;
	char *cause = NULL;

	set(bad_conf[_i][0]);
	set(bad_conf[_i][1]);
	ck_assert_int_eq(evout_check_conf(&conf, &cause), -EINVAL);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(evout_open(&o, &conf, base, &cause), -EINVAL);
	ck_assert_msg(o == NULL, "a refused configuration opens nothing");
	free(cause);
}
END_TEST

START_TEST(test_conf_keys)
{
	char *cause = NULL;

	ck_assert_str_eq(conf.eve_output, "none");
	ck_assert_uint_eq(conf.eve_queue_max, 10000);
	ck_assert_int_eq(
	    conf_parse_line(&conf, "t", 1, "eve_output = kafka", &cause),
	    -EINVAL);
	free(cause);
	ck_assert_str_eq(conf.eve_output, "none");
	ck_assert_int_eq(
	    conf_parse_line(&conf, "t", 1, "eve_queue_max = 0", &cause),
	    -EINVAL);
	free(cause);
	ck_assert_int_eq(
	    conf_parse_line(&conf, "t", 1, "eve_redis_port = 65536", &cause),
	    -EINVAL);
	free(cause);
	ck_assert_int_eq(conf_parse_line(&conf, "t", 1,
			     "eve_syslog_facility = local9", &cause),
	    -EINVAL);
	free(cause);
	ck_assert_uint_eq(conf.eve_queue_max, 10000);
	ck_assert_uint_eq(conf.eve_redis_port, 6379);
	ck_assert_int_eq(evout_check_conf(&conf, NULL), 0);
}
END_TEST

static Suite *
evout_suite(void)
{
	Suite *s = suite_create("evout");
	TCase *tc;

	tc = tcase_create("regular");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_none);
	tcase_add_test(tc, test_regular_reopen);
	tcase_add_test(tc, test_queue_full);
	tcase_add_test(tc, test_regular_close_flushes);
	tcase_add_test(tc, test_regular_bad_dir);
	suite_add_tcase(s, tc);
	tc = tcase_create("unix_dgram");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dgram);
	suite_add_tcase(s, tc);
	tc = tcase_create("syslog");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_syslog);
	suite_add_tcase(s, tc);
	tc = tcase_create("conf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(
	    tc, test_check_conf, 0, sizeof(bad_conf) / sizeof(bad_conf[0]));
	tcase_add_test(tc, test_conf_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(evout_suite());
	int nf;

	log_init("check_evout", 1, 0);
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
