/* Check tests of the daemon module: configuration parsing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "daemon/daemon.h"

/* One configuration line and what it must do. */
static const struct {
	const char *line;
	int ok;
	const char *err; /* part of the message when refused */
} lines[] = {
    {"", 1, NULL},
    {"   # a comment", 1, NULL},
    {"snaplen = 1500", 1, NULL},
    {"snaplen=1500", 1, NULL},
    {"  snaplen   =   1500   ", 1, NULL},
    {"snaplen = 95", 0, "out of range (min 96, max 262144)"},
    {"snaplen = 262145", 0, "out of range"},
    {"snaplen = -1", 0, "not a whole number"},
    {"snaplen = 12x", 0, "not a whole number"},
    {"snaplen = 99999999999999999999999", 0, "not a whole number"},
    {"snaplen =", 0, "not a whole number"},
    {"snaplen", 0, "want key = value"},
    {"no_such_key = 1", 0, "unknown key \"no_such_key\""},
    {"flow_memcap = 1G", 1, NULL},
    {"flow_memcap = 1T", 0, "not a whole number"},
    {"flow_memcap = 1K", 0, "out of range"},
    {"promiscuous = no", 1, NULL},
    {"promiscuous = maybe", 0, "want yes or no"},
    {"threshold_rule = pot", 1, NULL},
    {"threshold_rule = po", 0, "want one of quantile|pot"},
    {"threshold_target = 0.01", 1, NULL},
    {"threshold_target = 0.5", 0, "out of range"},
    {"threshold_target = nan", 0, "not a number"},
    {"socket_mode = 0640", 1, NULL},
    {"socket_mode = 0999", 0, "not a octal mode"},
    {"filter = \"tcp port 80\"", 1, NULL},
    {"user = \"\"", 1, NULL},
};

START_TEST(test_parse_line)
{
	struct anomd_conf c, before;
	char *cause = NULL;
	int rc;

	conf_defaults(&c);
	before = c;
	rc = conf_parse_line(&c, "t.conf", 7, lines[_i].line, &cause);
	if (lines[_i].ok) {
		ck_assert_msg(rc == 0, "\"%s\" should be accepted: %s",
		    lines[_i].line, cause ? cause : "");
		return;
	}
	ck_assert_msg(
	    rc == -EINVAL, "\"%s\" should be refused", lines[_i].line);
	ck_assert_msg(cause != NULL && strncmp(cause, "t.conf:7: ", 10) == 0,
	    "the message should start with file:line, got %s", cause);
	ck_assert_msg(strstr(cause, lines[_i].err) != NULL,
	    "message for \"%s\" should say \"%s\", got \"%s\"", lines[_i].line,
	    lines[_i].err, cause);
	ck_assert_msg(memcmp(&c, &before, sizeof(c)) == 0,
	    "a refused line should leave the configuration unchanged");
	free(cause);
}
END_TEST

START_TEST(test_values)
{
	struct anomd_conf c;
	char *cause = NULL;

	conf_defaults(&c);
	ck_assert_int_eq(c.snaplen, 65535);
	ck_assert_uint_eq(c.flow_memcap, 64u << 20);
	ck_assert_str_eq(c.threshold_rule, "quantile");
	ck_assert_int_eq(
	    conf_parse_line(&c, "f", 1, "flow_memcap = 2M", &cause), 0);
	ck_assert_uint_eq(c.flow_memcap, 2u << 20);
	ck_assert_int_eq(
	    conf_parse_line(&c, "f", 1, "socket_mode = 0640", &cause), 0);
	ck_assert_uint_eq(c.socket_mode, 0640);
	ck_assert_int_eq(
	    conf_parse_line(&c, "f", 1, "filter = \"udp\"", &cause), 0);
	ck_assert_str_eq(c.filter, "udp");
	ck_assert_int_eq(
	    conf_parse_line(&c, "f", 1, "threshold_target = 0.02", &cause), 0);
	ck_assert_double_eq(c.threshold_target, 0.02);
	ck_assert_int_eq(
	    conf_parse_line(&c, "f", 1, "timeout_udp_idle = 7", &cause), 0);
	ck_assert_uint_eq(c.to.udp_idle, 7);
}
END_TEST

/* Count errors reported by conf_load. */
static void
count_cb(const char *msg, void *arg)
{
	(void)msg;
	(*(int *)arg)++;
}

START_TEST(test_load_reports_all)
{
	char path[] = "/tmp/anomd-conf-XXXXXX";
	struct anomd_conf c;
	char *cause = NULL;
	int fd, seen = 0, n;
	FILE *fp;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	fputs("snaplen = 1\nfoo = 2\n# fine\nsnaplen = 2000\nbar\n", fp);
	fclose(fp);
	conf_defaults(&c);
	n = conf_load(&c, path, count_cb, &seen, &cause);
	unlink(path);
	ck_assert_msg(n == 3 && seen == 3,
	    "every bad line should be reported, got %d (%d)", n, seen);
	ck_assert_int_eq(c.snaplen, 2000);
	n = conf_load(&c, "/nonexistent/anomd.conf", count_cb, &seen, &cause);
	ck_assert_int_eq(n, -ENOENT);
	ck_assert_ptr_nonnull(cause);
	free(cause);
}
END_TEST

START_TEST(test_defaults_round_trip)
{
	struct anomd_conf a, b;
	char line[512], val[CONF_STR_MAX + 8], *cause = NULL;
	const struct conf_key *k;
	size_t i, n;

	conf_defaults(&a);
	memset(&b, 0x5a, sizeof(b)); /* sentinel: every field must be set */
	k = conf_keys_table(&n);
	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%s = %s", k[i].name,
		    conf_value_str(&a, &k[i], val, sizeof(val)));
		ck_assert_msg(conf_parse_line(&b, "f", 1, line, &cause) == 0,
		    "the default line \"%s\" should parse: %s", line, cause);
	}
	for (i = 0; i < n; i++) {
		const char *x = (char *)&a + k[i].off,
			   *y = (char *)&b + k[i].off;
		int same = k[i].type == CONF_STR || k[i].type == CONF_CHOICE
		    ? strcmp(x, y) == 0
		    : memcmp(x, y, k[i].size) == 0;

		ck_assert_msg(same,
		    "key %s should survive printing and parsing", k[i].name);
	}
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(
	    tc, test_parse_line, 0, (int)(sizeof(lines) / sizeof(lines[0])));
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_load_reports_all);
	tcase_add_test(tc, test_defaults_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
