/* Check tests of the daemon module: configuration parsing, the retrain. */
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "daemon/daemon.h"
#include "model/model.h"

#define SUN_PATH_108                                                           \
	"/run/"                                                                \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"   \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

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
    /* issue 9: what used to pass `anomd -t` and fail an hour later */
    {"model_layers = abc", 0, "model_layers \"abc\": want 1 to 8"},
    {"model_layers = -1", 0, "comma-separated widths of 1 to 1024"},
    {"model_layers = 0", 0, "comma-separated widths"},
    {"model_layers = \"\"", 0, "comma-separated widths"},
    {"model_layers = 48,,12", 0, "comma-separated widths"},
    {"model_layers = 48,12,", 0, "comma-separated widths"},
    {"model_layers = 99999999", 0, "comma-separated widths"},
    {"model_layers = 1,2,3,4,5,6,7,8,9", 0, "comma-separated widths"},
    {"model_layers = 48x", 0, "comma-separated widths"},
    {"model_layers = 1024", 1, NULL},
    {"model_layers = 64, 16, 64", 1, NULL},
    {"filter = \"tcp portt 80\"", 0, "not a BPF filter"},
    {"filter = \"host 10.0.0.1 and (udp or\"", 0, "not a BPF filter"},
    {"filter = \"not port 22 and ip6\"", 1, NULL},
    {"socket_path = " SUN_PATH_108, 0, "want a path of 1 to 107 bytes"},
    {"socket_path = \"\"", 0, "want a path of 1 to 107 bytes"},
    {"socket_path = /run/x/anomd.sock", 1, NULL},
    {"interface = abcdefghijklmnop", 0, "want a name of 1 to 15 bytes"},
    {"interface = \"\"", 0, "want a name of 1 to 15 bytes"},
    {"interface = a/b", 0, "no '/' or space"},
    {"interface = abcdefghijklmno", 1, NULL},
    {"user = \"no body\"", 0, "not a user or group name"},
    {"user = -rf", 0, "not a user or group name"},
    {"socket_group = \"adm;\"", 0, "not a user or group name"},
    {"state_dir = \"\"", 0, "want a path"},
    {"db_path = \"\"", 0, "want a path"},
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

/* Count the errors and warnings of conf_check. */
static void
check_count_cb(int error, const char *msg, void *arg)
{
	int *n = arg;

	(void)msg;
	n[error ? 0 : 1]++;
}

START_TEST(test_check_env)
{
	struct anomd_conf c;
	int n[2] = {0, 0}, errs;

	conf_defaults(&c);
	snprintf(c.user, sizeof(c.user), "nosuchuser-anomd");
	snprintf(c.socket_group, sizeof(c.socket_group), "nosuchgroup-anomd");
	snprintf(c.interface, sizeof(c.interface), "nosuchif9");
	errs = conf_check(&c, check_count_cb, n);
	/* A missing user only matters to a start as root. */
	ck_assert_msg(errs == (geteuid() == 0 ? 2 : 1) && errs == n[0],
	    "a missing user (as root) and group should be errors, got %d",
	    errs);
	ck_assert_msg(
	    n[1] == 1, "a missing interface should be a warning, got %d", n[1]);
	conf_defaults(&c);
	snprintf(c.user, sizeof(c.user), "root");
	snprintf(c.interface, sizeof(c.interface), "lo");
	n[0] = n[1] = 0;
	ck_assert_int_eq(conf_check(&c, check_count_cb, n), 0);
	ck_assert_msg(n[0] == 0 && n[1] == 0,
	    "an existing user, group and interface should pass quietly");
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
	tcase_add_test(tc, test_check_env);
	suite_add_tcase(s, tc);
	return s;
}

/* Address space in use now, bytes (0 if unknown). */
static size_t
vm_size(void)
{
	unsigned long pages = 0;
	FILE *fp = fopen("/proc/self/statm", "r");

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%lu", &pages) != 1)
		pages = 0;
	fclose(fp);
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* A small model trained on noise, for a detector to hold. */
static struct model *
tiny_model(const struct anomd_conf *c)
{
	enum {
		N = 256
	};
	static float x[N * FEAT_COUNT];
	uint8_t xform[FEAT_COUNT];
	struct model_params p;
	struct model_meta meta;
	struct model *m = NULL;
	char *cause = NULL;
	size_t i;

	for (i = 0; i < N * FEAT_COUNT; i++)
		x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
	memset(xform, MODEL_XFORM_LINEAR, sizeof(xform));
	memset(&meta, 0, sizeof(meta));
	ck_assert_int_eq(detect_model_params(c, &p, &cause), 0);
	ck_assert_msg(model_train(&m, x, N, FEAT_COUNT, xform,
			  feat_table_hash(), &p, &meta, &cause) == 0,
	    "the tiny model should train: %s", cause ? cause : "");
	return m;
}

/*
 * In a child with a small RLIMIT_AS: a retrain whose baseline buffer
 * (10 M flows, 2.5 GB) cannot be allocated is refused, and the detector
 * keeps its model and goes on detecting.  Exit 0 when it does.
 */
static int
retrain_oom_child(void)
{
	struct anomd_conf c;
	struct detect_opts o;
	struct detector *d;
	struct model *m;
	struct rlimit rl;
	int rc;

	conf_defaults(&c);
	c.baseline_max_flows = 10000000;
	c.model_epochs = 1;
	snprintf(c.model_layers, sizeof(c.model_layers), "4");
	m = tiny_model(&c);
	memset(&o, 0, sizeof(o));
	o.conf = &c;
	o.model = m;
	o.async = 1;
	d = detect_create(&o);
	rl.rlim_cur = rl.rlim_max = vm_size() + (256u << 20);
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		return 2;
	rc = detect_retrain(d);
	if (rc != -ENOMEM)
		return 3;
	if (detect_learning(d) || detect_model(d) != m ||
	    strcmp(detect_state(d), "detecting") != 0)
		return 4;
	detect_free(d);
	return 0;
}

START_TEST(test_retrain_oom)
{
	int status;
	pid_t pid;

#if defined(__SANITIZE_ADDRESS__)
	fprintf(stderr, "skip: RLIMIT_AS test under AddressSanitizer\n");
	return;
#endif
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(retrain_oom_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status),
	    "a retrain without memory should not end the process (signal %d)",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(WEXITSTATUS(status) == 0,
	    "a retrain without memory should be refused and the model kept "
	    "(child step %d failed)",
	    WEXITSTATUS(status));
}
END_TEST

static Suite *
detect_suite(void)
{
	Suite *s = suite_create("detect");
	TCase *tc = tcase_create("retrain");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_retrain_oom);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_add_suite(sr, detect_suite());

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
