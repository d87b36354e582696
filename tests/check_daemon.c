/*
 * Check tests of the daemon module: configuration parsing, incidents, the
 * retrain, the alert path (JSON writer, shapes, Community ID) and the
 * detector.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

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
    {"interface = abcdefghijklmnop", 0, "want a name of at most 15 bytes"},
    {"interface = \"\"", 1, NULL}, /* the default route's */
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

/* Write text to a fresh temporary file; its path is in path. */
static void
write_tmp(char path[64], const char *text)
{
	FILE *fp;
	int fd;

	snprintf(path, 64, "/tmp/check_daemon.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

#define ROUTE4_HEAD                                                            \
	"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t"     \
	"\tMTU\tWindow\tIRTT\n"

/* Route tables and the interface they choose ("" for none). */
static const struct {
	const char *v4, *v6, *want;
} routes[] = {
    /* a Debian 12 host: the default route leaves through enp1s0 */
    {ROUTE4_HEAD "enp1s0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000"
		 "\t0\t0\t0\n"
		 "enp1s0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF"
		 "\t0\t0\t0\n",
	NULL, "enp1s0"},
    /* two defaults: the lower metric wins, whatever the order */
    {ROUTE4_HEAD "wlan0\t00000000\t0102A8C0\t0003\t0\t0\t600\t00000000"
		 "\t0\t0\t0\n"
		 "eno1\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000"
		 "\t0\t0\t0\n",
	NULL, "eno1"},
    /* a default route that is not up does not count; IPv6 decides */
    {ROUTE4_HEAD "eth9\t00000000\t0102A8C0\t0002\t0\t0\t0\t00000000"
		 "\t0\t0\t0\n",
	"fe800000000000000000000000000000 40 00000000000000000000000000000000 "
	"00 00000000000000000000000000000000 00000100 00000001 00000000 "
	"00000001     ens3\n"
	"00000000000000000000000000000000 00 00000000000000000000000000000000 "
	"00 00000000000000000000000000000000 ffffffff 00000001 00000000 "
	"00200200       lo\n"
	"00000000000000000000000000000000 00 00000000000000000000000000000000 "
	"00 fe800000000000000000000000000001 00000400 00000001 00000000 "
	"00000003     ens3\n",
	"ens3"},
    /* garbage, a name too long, only loopback: nothing from the tables */
    {ROUTE4_HEAD "garbage\n"
		 "abcdefghijklmnopq\t00000000\t0\t0003\t0\t0\t0\t00000000"
		 "\t0\t0\t0\n"
		 "lo\t00000000\t0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
	"", ""},
};

START_TEST(test_iface_default)
{
	char p4[64], p6[64], buf[IFNAMSIZ];
	const char *how = NULL;
	int rc;

	write_tmp(p4, routes[_i].v4);
	write_tmp(p6, routes[_i].v6 ? routes[_i].v6 : "");
	memset(buf, 'x', sizeof(buf));
	if (routes[_i].want[0] != '\0') {
		rc = iface_default(p4, p6, buf, sizeof(buf), &how);
		ck_assert_msg(rc == 0, "table %d should give an interface", _i);
		ck_assert_str_eq(buf, routes[_i].want);
		ck_assert_msg(strstr(how, "default route") != NULL,
		    "the default route should have chosen %s, not %s", buf,
		    how);
	} else {
		/* falls back to getifaddrs: whatever it gives is not lo */
		rc = iface_default(p4, p6, buf, sizeof(buf), &how);
		if (rc == 0) {
			ck_assert_str_ne(buf, "lo");
			ck_assert_str_eq(how, "the first interface up");
		} else
			ck_assert_int_eq(rc, -ENODEV);
	}
	unlink(p4);
	unlink(p6);
}
END_TEST

START_TEST(test_iface_missing_tables)
{
	char buf[IFNAMSIZ];
	const char *how = NULL;
	int rc;

	rc = iface_default("/nonexistent/route", NULL, buf, sizeof(buf), &how);
	ck_assert_msg(rc == 0 || rc == -ENODEV,
	    "missing tables should fall back, not fail oddly");
	ck_assert_ptr_nonnull(how);
}
END_TEST

START_TEST(test_journal_stream)
{
	char path[64], env[96];
	struct stat st;
	int fd;

	write_tmp(path, "x");
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(env, sizeof(env), "%ju:%ju", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino);
	ck_assert_msg(log_journal_stream_match(env, fd) == 1,
	    "JOURNAL_STREAM naming the fd's device and inode should match");
	snprintf(env, sizeof(env), "%ju:%ju", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino + 1);
	ck_assert_msg(log_journal_stream_match(env, fd) == 0,
	    "another inode (stderr redirected) should not match");
	ck_assert_int_eq(log_journal_stream_match(NULL, fd), 0);
	ck_assert_int_eq(log_journal_stream_match("", fd), 0);
	ck_assert_int_eq(log_journal_stream_match("12", fd), 0);
	ck_assert_int_eq(log_journal_stream_match("12:", fd), 0);
	ck_assert_int_eq(log_journal_stream_match(":12", fd), 0);
	ck_assert_int_eq(log_journal_stream_match("-1:-1", fd), 0);
	snprintf(env, sizeof(env), "%ju:%jux", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino);
	ck_assert_int_eq(log_journal_stream_match(env, fd), 0);
	close(fd);
	unlink(path);
}
END_TEST

static Suite *
iface_suite(void)
{
	Suite *s = suite_create("iface");
	TCase *tc = tcase_create("default");

	tcase_add_loop_test(tc, test_iface_default, 0,
	    (int)(sizeof(routes) / sizeof(routes[0])));
	tcase_add_test(tc, test_iface_missing_tables);
	tcase_add_test(tc, test_journal_stream);
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
	ck_assert_int_eq(detect_model_params(c, &p, NULL, &cause), 0);
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

/* ---- incidents ---------------------------------------------------------- */

#define T_MAX 64

/* What the incident callback saw. */
struct seen {
	size_t nclosed, nwrites;
	struct {
		int64_t id;
		uint8_t about;
		char host[ADDR_STR_LEN];
		uint64_t alerts, flows, peers_n, ports_n;
		char summary[INCIDENT_SUMMARY_MAX];
	} c[T_MAX];
};

/* Record closed incidents and count writes. */
static void
seen_cb(struct incident *inc, enum incident_event ev, void *arg)
{
	struct seen *s = arg;

	if (ev == INCIDENT_WRITE) {
		s->nwrites++;
		return;
	}
	ck_assert_msg(inc->id > 0, "a closed incident should have an id");
	if (s->nclosed == T_MAX)
		return;
	s->c[s->nclosed].id = inc->id;
	s->c[s->nclosed].about = inc->about;
	addr_str(inc->host, s->c[s->nclosed].host);
	s->c[s->nclosed].alerts = inc->alerts;
	s->c[s->nclosed].flows = inc->flows;
	s->c[s->nclosed].peers_n = incident_peers_n(inc);
	s->c[s->nclosed].ports_n = incident_ports_n(inc);
	incident_summary(
	    inc, s->c[s->nclosed].summary, sizeof(s->c[0].summary));
	s->nclosed++;
}

/* An IPv4-mapped address a.b.c.d. */
static void
v4(uint8_t out[CAP_ADDR_LEN], uint32_t ip)
{
	memset(out, 0, CAP_ADDR_LEN);
	out[10] = out[11] = 0xff;
	out[12] = (uint8_t)(ip >> 24);
	out[13] = (uint8_t)(ip >> 16);
	out[14] = (uint8_t)(ip >> 8);
	out[15] = (uint8_t)ip;
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* A test alert: a flow src -> dst:dport at t seconds with features f. */
struct talert {
	struct incident_alert a;
	float f[FEAT_COUNT];
	struct model_expl ex[1];
};

static void
talert(struct talert *t, uint32_t src, uint32_t dst, uint16_t dport,
    uint8_t proto, double t_s)
{
	memset(t, 0, sizeof(*t));
	t->a.first_us = (uint64_t)(t_s * 1e6);
	t->a.last_us = t->a.first_us + 1000;
	t->a.finding = STORE_FINDING_FLOW;
	t->a.counted = 1;
	t->a.proto = proto;
	v4(t->a.src, src);
	v4(t->a.dst, dst);
	t->a.sport = 40000;
	t->a.dport = dport;
	t->a.packets = 2;
	t->a.bytes = 120;
	t->a.score = 2;
	t->a.feat = t->f;
	t->ex[0].feature = (uint32_t)feat_index("fwd_hops");
	t->ex[0].value = 14;
	t->ex[0].p99 = 1;
	t->ex[0].share = 0.5f;
	t->a.ex = t->ex;
	t->a.nex = 1;
}

/* Set feature name of a test alert. */
static void
tset(struct talert *t, const char *name, float v)
{
	int i = feat_index(name);

	ck_assert_msg(i >= 0, "feature %s should exist", name);
	t->f[i] = v;
}

/* A half-open TCP SYN. */
static void
tsyn(struct talert *t, uint32_t src, uint32_t dst, uint16_t port, double s)
{
	talert(t, src, dst, port, 6, s);
	tset(t, "syn_count", 1);
	tset(t, "handshake", 0);
}

START_TEST(test_incident_scan)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(300000000u, seen_cb, &s);
	struct talert t;
	int i;

	/* A benign false alert to the server a little before the scan. */
	talert(&t, IP(10, 0, 0, 5), IP(10, 0, 0, 10), 80, 6, 1);
	t.a.thr = 1; /* twice its threshold: weak */
	incidents_add(e, &t.a);
	for (i = 0; i < 1000; i++) {
		tsyn(&t, IP(10, 0, 0, 66), IP(10, 0, 0, 10), (uint16_t)(i + 1),
		    10 + i * 0.012);
		incidents_add(e, &t.a);
	}
	incidents_free(e);
	ck_assert_msg(s.nclosed == 1,
	    "a weak lone alert should make no incident, only the scan");
	ck_assert_str_eq(s.c[0].host, "10.0.0.66");
	ck_assert_int_eq(s.c[0].about, STORE_ABOUT_INITIATOR);
	ck_assert_uint_eq(s.c[0].alerts, 1000);
	ck_assert_msg(s.c[0].ports_n >= 980 && s.c[0].ports_n <= 1020,
	    "distinct ports should be estimated near 1000, not %llu",
	    (unsigned long long)s.c[0].ports_n);
	ck_assert_msg(strncmp(s.c[0].summary, "port scan: ", 11) == 0 &&
		strstr(s.c[0].summary, "TCP ports of 10.0.0.10 in 12 s") !=
		    NULL,
	    "a scan should be summarised as one, not \"%s\"", s.c[0].summary);
}
END_TEST

START_TEST(test_incident_spoofed_flood)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(300000000u, seen_cb, &s);
	struct talert t;
	uint32_t i;

	for (i = 0; i < 20000; i++) {
		tsyn(&t, IP(100, 64, 0, 0) + i * 7919u, IP(10, 0, 0, 10), 80,
		    100 + i * 0.001);
		incidents_add(e, &t.a);
	}
	incidents_free(e);
	ck_assert_uint_eq(s.nclosed, 1);
	ck_assert_int_eq(s.c[0].about, STORE_ABOUT_RESPONDER);
	ck_assert_str_eq(s.c[0].host, "10.0.0.10");
	ck_assert_uint_eq(s.c[0].alerts, 20000);
	ck_assert_msg(strncmp(s.c[0].summary,
			  "SYN flood: 20 000 half-open flows to 10.0.0.10:80 "
			  "from ",
			  55) == 0,
	    "a spoofed flood is one incident about its victim, not \"%s\"",
	    s.c[0].summary);
	ck_assert_msg(s.c[0].peers_n > 18000 && s.c[0].peers_n < 22000,
	    "about 20 000 sources should be estimated, not %llu",
	    (unsigned long long)s.c[0].peers_n);
	ck_assert_msg(s.nwrites <= 25,
	    "writes should be limited to one per second, not %zu", s.nwrites);
}
END_TEST

START_TEST(test_incident_lone_margin)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(60000000u, seen_cb, &s);
	struct talert t;

	talert(&t, IP(10, 0, 0, 5), IP(10, 0, 0, 10), 80, 6, 1);
	t.a.score = 3.9f;
	t.a.thr = 1;
	ck_assert_int_eq(incidents_add(e, &t.a)->id, 0);
	talert(&t, IP(10, 0, 0, 6), IP(10, 0, 0, 20), 80, 6, 2);
	t.a.score = 4.0f;
	t.a.thr = 1;
	incidents_add(e, &t.a);
	incidents_expire(e, 200 * 1000000u);
	ck_assert_msg(s.nclosed == 1 && strcmp(s.c[0].host, "10.0.0.6") == 0,
	    "only the lone alert at %g times its threshold should make an "
	    "incident (%zu closed)",
	    (double)INCIDENT_LONE_MARGIN, s.nclosed);
	ck_assert_uint_eq(incidents_count(e), 1);
	ck_assert_msg(strcmp(s.c[0].summary,
			  "unusual flows: 1 flow from 10.0.0.6 to "
			  "10.0.0.20:80; strongest evidence fwd_hops = 14 "
			  "(baseline p99 1)") == 0,
	    "a lone alert falls back to its evidence, not \"%s\"",
	    s.c[0].summary);
	/* Two weak alerts of one host are an incident. */
	talert(&t, IP(10, 0, 0, 5), IP(10, 0, 0, 10), 80, 6, 300);
	t.a.thr = 1;
	incidents_add(e, &t.a);
	talert(&t, IP(10, 0, 0, 5), IP(10, 0, 0, 10), 80, 6, 310);
	t.a.thr = 1;
	ck_assert_int_gt(incidents_add(e, &t.a)->id, 0);
	incidents_free(e);
	ck_assert_uint_eq(s.nclosed, 2);
	ck_assert_uint_eq(s.c[1].alerts, 2);
}
END_TEST

START_TEST(test_incident_flood_after_finding)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(60000000u, seen_cb, &s);
	struct talert t;
	uint32_t i;

	/* A client's weak alert to the server long before the flood. */
	talert(&t, IP(10, 0, 0, 5), IP(10, 0, 0, 10), 80, 6, 50);
	t.a.thr = 1;
	incidents_add(e, &t.a);
	/* The server's responder incident is open when the flood starts. */
	talert(&t, IP(10, 0, 0, 6), IP(10, 0, 0, 10), 80, 6, 99);
	t.a.finding = STORE_FINDING_RESPONDER;
	incidents_add(e, &t.a);
	for (i = 0; i < 200; i++) {
		tsyn(&t, IP(100, 64, 0, 0) + i * 7919u, IP(10, 0, 0, 10), 80,
		    100 + i * 0.01);
		t.a.score = 10;
		t.a.thr = 1;
		incidents_add(e, &t.a);
	}
	incidents_free(e);
	ck_assert_msg(s.nclosed == 1,
	    "the first forged sources should join the victim's incident, "
	    "and the client's old weak alert make none (%zu closed)",
	    s.nclosed);
	ck_assert_str_eq(s.c[0].host, "10.0.0.10");
	ck_assert_uint_eq(s.c[0].alerts, 201);
	ck_assert_msg(
	    strncmp(s.c[0].summary, "SYN flood: 200 half-open", 24) == 0,
	    "the flood should be named, not \"%s\"", s.c[0].summary);
}
END_TEST

START_TEST(test_incident_strongest_upload)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(60000000u, seen_cb, &s);
	struct talert t;

	talert(&t, IP(10, 0, 0, 7), IP(10, 0, 0, 66), 8080, 6, 5);
	tset(&t, "fwd_bytes", 12.0f * 1024 * 1024);
	tset(&t, "bwd_bytes", 40000);
	t.a.score = 20;
	t.a.thr = 1;
	incidents_add(e, &t.a);
	/* A weaker download of the same host soon after. */
	talert(&t, IP(10, 0, 0, 7), IP(10, 0, 0, 10), 80, 6, 40);
	tset(&t, "fwd_bytes", 60000);
	tset(&t, "bwd_bytes", 60.0f * 1024 * 1024);
	t.a.score = 3;
	t.a.thr = 1;
	incidents_add(e, &t.a);
	incidents_free(e);
	ck_assert_uint_eq(s.nclosed, 1);
	ck_assert_uint_eq(s.c[0].alerts, 2);
	ck_assert_msg(strcmp(s.c[0].summary,
			  "large upload: 12 MiB to 10.0.0.66:8080") == 0,
	    "the summary should follow the strongest alert, not \"%s\"",
	    s.c[0].summary);
}
END_TEST

START_TEST(test_incident_two_attacks_and_gap)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(300000000u, seen_cb, &s);
	struct talert t;
	int i;

	for (i = 0; i < 50; i++) { /* two scanners at once */
		tsyn(&t, IP(10, 0, 0, 66), IP(10, 0, 0, 10), (uint16_t)(i + 1),
		    10 + i * 0.1);
		incidents_add(e, &t.a);
		tsyn(&t, IP(10, 0, 0, 77), IP(10, 0, 0, 10),
		    (uint16_t)(i + 1000), 10 + i * 0.1);
		incidents_add(e, &t.a);
	}
	ck_assert_uint_eq(incidents_count(e), 2);
	incidents_expire(e, 20 * 1000000u);
	ck_assert_uint_eq(s.nclosed, 0);
	/* The same scanner again after more than the gap: a new incident. */
	incidents_expire(e, 400 * 1000000u);
	ck_assert_uint_eq(s.nclosed, 2);
	for (i = 0; i < 5; i++) {
		tsyn(&t, IP(10, 0, 0, 66), IP(10, 0, 0, 10), (uint16_t)(i + 1),
		    401 + i);
		incidents_add(e, &t.a);
	}
	incidents_free(e);
	ck_assert_uint_eq(s.nclosed, 3);
	ck_assert_msg((strcmp(s.c[0].host, "10.0.0.66") == 0 &&
			  strcmp(s.c[1].host, "10.0.0.77") == 0) ||
		(strcmp(s.c[0].host, "10.0.0.77") == 0 &&
		    strcmp(s.c[1].host, "10.0.0.66") == 0),
	    "two scanners should make one incident each");
	ck_assert_uint_eq(s.c[0].alerts, 50);
	ck_assert_str_eq(s.c[2].host, "10.0.0.66");
	ck_assert_uint_eq(s.c[2].alerts, 5);
	ck_assert_msg(s.c[0].id != s.c[2].id && s.c[1].id != s.c[2].id,
	    "a gap should split incidents");
}
END_TEST

/*
 * A responder episode whose joined client flows are short TCP connections
 * to one port still reads as what the responder receives, not as the
 * client flows' pattern ("repeated short logins").
 */
START_TEST(test_incident_episode_summary)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(300000000u, seen_cb, &s);
	struct talert t;
	struct model_expl ex[1];
	int i;

	memset(ex, 0, sizeof(ex));
	ex[0].feature = (uint32_t)feat_index("resp_flows_1s");
	ex[0].p99 = 15;
	for (i = 0; i < 30; i++) {
		talert(&t, IP(10, 0, 0, 5 + (uint32_t)(i % 6)),
		    IP(10, 0, 0, 10), 80, 6, 1 + i * 0.1);
		t.a.finding = STORE_FINDING_RESPONDER;
		t.a.counted = i == 0; /* later flows join the episode */
		tset(&t, "handshake", 1);
		tset(&t, "resp_flows_1s", 40);
		tset(&t, "resp_src_hosts_60s", 6);
		t.a.ex = ex;
		t.a.nex = 1;
		incidents_add(e, &t.a);
	}
	incidents_free(e);
	ck_assert_uint_eq(s.nclosed, 1);
	ck_assert_msg(
	    strncmp(s.c[0].summary, "10.0.0.10 receives 40 flows/s", 29) == 0,
	    "a responder-only incident should say what the responder "
	    "receives, not \"%s\"",
	    s.c[0].summary);
}
END_TEST

START_TEST(test_incident_episode)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(300000000u, seen_cb, &s);
	struct talert t;
	uint8_t srv[CAP_ADDR_LEN];
	struct model_expl ex[2];

	v4(srv, IP(10, 0, 0, 10));
	ck_assert_msg(!incidents_episode(e, srv, 1000000u),
	    "no episode before any finding");
	talert(&t, IP(10, 0, 0, 5), IP(10, 0, 0, 10), 53, 17, 1);
	t.a.finding = STORE_FINDING_RESPONDER;
	tset(&t, "resp_flows_1s", 3000);
	tset(&t, "resp_src_hosts_60s", 19000);
	memset(ex, 0, sizeof(ex));
	ex[0].feature = (uint32_t)feat_index("resp_src_hosts_60s");
	ex[0].p99 = 4;
	ex[1].feature = (uint32_t)feat_index("resp_flows_1s");
	ex[1].p99 = 10;
	t.a.ex = ex;
	t.a.nex = 2;
	ck_assert_int_gt(incidents_add(e, &t.a)->id, 0);
	ck_assert_msg(incidents_episode(e, srv, 100 * 1000000u),
	    "the episode should be open within the gap");
	t.a.counted = 0; /* a later client flow joins silently */
	t.a.first_us = 200 * 1000000u;
	t.a.last_us = t.a.first_us + 1;
	incidents_add(e, &t.a);
	ck_assert_msg(incidents_episode(e, srv, 450 * 1000000u),
	    "a joined flow should extend the episode");
	ck_assert_msg(!incidents_episode(e, srv, 600 * 1000000u),
	    "the episode should end a gap after its last flow");
	incidents_free(e);
	ck_assert_uint_eq(s.nclosed, 1);
	ck_assert_uint_eq(s.c[0].alerts, 1);
	ck_assert_uint_eq(s.c[0].flows, 2);
	ck_assert_str_eq(s.c[0].summary,
	    "10.0.0.10 receives 3 000 flows/s from 19 000 sources; baseline "
	    "p99 10/s");
}
END_TEST

/* One summary case: build the alerts, then compare the summary. */
static void
one_summary(void (*build)(struct incidents *e), const char *want)
{
	struct seen s = {0};
	struct incidents *e = incidents_create(300000000u, seen_cb, &s);

	build(e);
	incidents_free(e);
	ck_assert_uint_eq(s.nclosed, 1);
	ck_assert_str_eq(s.c[0].summary, want);
}

static void
build_sweep(struct incidents *e)
{
	struct talert t;
	int i;

	for (i = 1; i <= 254; i++) {
		tsyn(&t, IP(10, 0, 0, 66), IP(10, 0, 1, i), 22, 5 + i * 0.012);
		incidents_add(e, &t.a);
	}
}

static void
build_upload(struct incidents *e)
{
	struct talert t;

	talert(&t, IP(10, 0, 0, 7), IP(10, 0, 0, 66), 8080, 6, 5);
	tset(&t, "fwd_bytes", 12.0f * 1024 * 1024);
	tset(&t, "bwd_bytes", 40000);
	tset(&t, "handshake", 1);
	tset(&t, "duration", 20000);
	incidents_add(e, &t.a);
}

static void
build_dns(struct incidents *e)
{
	struct talert t;
	int i;

	for (i = 0; i < 400; i++) {
		talert(&t, IP(10, 0, 0, 7), IP(10, 0, 0, 53), 53, 17, 5 + i);
		tset(&t, "dns_queries", 1);
		tset(&t, "dns_qname_len", 60);
		tset(&t, "dns_qname_entropy", 4.6f);
		incidents_add(e, &t.a);
	}
}

static void
build_slow(struct incidents *e)
{
	struct talert t;
	int i;

	for (i = 0; i < 150; i++) {
		talert(
		    &t, IP(10, 0, 0, 8), IP(10, 0, 0, 10), 80, 6, 5 + i * 0.1);
		tset(&t, "handshake", 1);
		tset(&t, "duration", 120000);
		tset(&t, "fwd_iat_mean", 10000);
		incidents_add(e, &t.a);
	}
}

static void
build_logins(struct incidents *e)
{
	struct talert t;
	int i;

	for (i = 0; i < 500; i++) {
		talert(
		    &t, IP(10, 0, 0, 9), IP(10, 0, 0, 10), 21, 6, 5 + i * 0.5);
		tset(&t, "handshake", 1);
		tset(&t, "duration", 800);
		incidents_add(e, &t.a);
	}
}

static void
build_beacon(struct incidents *e)
{
	struct talert t;
	int i;

	for (i = 0; i < 30; i++) {
		talert(&t, IP(10, 0, 0, 9), IP(203, 0, 113, 5), 443, 6,
		    5 + i * 30 + (i % 2) * 0.5);
		tset(&t, "handshake", 1);
		tset(&t, "duration", 300);
		t.a.bytes = 50000; /* not a login: it carries data */
		incidents_add(e, &t.a);
	}
}

START_TEST(test_incident_summaries)
{
	char buf[32];

	one_summary(build_sweep, "host sweep: 254 hosts in 3 s on TCP port 22");
	one_summary(build_upload, "large upload: 12 MiB to 10.0.0.66:8080");
	one_summary(build_dns,
	    "DNS tunnel-like queries: 400 long high-entropy names to "
	    "10.0.0.53");
	one_summary(build_slow,
	    "slow connections: 150 long-lived half-idle flows to "
	    "10.0.0.10:80");
	one_summary(build_logins,
	    "repeated short logins: 500 connections to 10.0.0.10:21");
	one_summary(build_beacon,
	    "periodic contact: 30 flows to 203.0.113.5:443 every 30 s");
	ck_assert_str_eq(incident_count_str(0, buf), "0");
	ck_assert_str_eq(incident_count_str(999, buf), "999");
	ck_assert_str_eq(incident_count_str(19876, buf), "19 876");
	ck_assert_str_eq(incident_count_str(1234567, buf), "1 234 567");
}
END_TEST

static Suite *
incident_suite(void)
{
	Suite *s = suite_create("incident");
	TCase *tc = tcase_create("grouping");

	tcase_add_test(tc, test_incident_scan);
	tcase_add_test(tc, test_incident_spoofed_flood);
	tcase_add_test(tc, test_incident_two_attacks_and_gap);
	tcase_add_test(tc, test_incident_lone_margin);
	tcase_add_test(tc, test_incident_flood_after_finding);
	tcase_add_test(tc, test_incident_strongest_upload);
	tcase_add_test(tc, test_incident_episode);
	tcase_add_test(tc, test_incident_episode_summary);
	suite_add_tcase(s, tc);
	tc = tcase_create("summaries");
	tcase_add_test(tc, test_incident_summaries);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite alert -------------------------------------------------------- */

#define T0_US 1700000000000000ULL
#define SEC(s) ((uint64_t)(s)*1000000u)

/* A number as jw_num() writes it. */
static const char *
num(double v, int dec)
{
	static char buf[48];

	return jw_num_text(v, dec, buf);
}

START_TEST(test_jw_numbers)
{
	ck_assert_str_eq(num(0, 6), "0");
	ck_assert_str_eq(num(-0.0, 6), "0");
	ck_assert_str_eq(num(-1e-9, 6), "0");
	ck_assert_str_eq(num(4.9e-22, 3), "0");
	ck_assert_str_eq(num(1795783580039340.0, 0), "1795783580039340");
	ck_assert_str_eq(num(12, 3), "12");
	ck_assert_str_eq(num(0.5, 3), "0.5");
	ck_assert_str_eq(num(-2.25, 3), "-2.25");
	ck_assert_str_eq(num(3.14159265, 4), "3.1416");
	ck_assert_str_eq(num(0.00012345, 6), "0.000123");
	ck_assert_str_eq(num(1.9999999, 3), "2");
	ck_assert_str_eq(num(1e30, 3), "1000000000000000019884624838656");
	ck_assert_str_eq(num(NAN, 3), "null");
	ck_assert_str_eq(num(INFINITY, 3), "null");
}
END_TEST

START_TEST(test_jw_strings_and_ints)
{
	static struct jw w;
	cJSON *o;

	jw_init(&w);
	jw_open(&w, NULL, '{');
	jw_str(&w, "s", "a\"b\\c\n\x01");
	jw_u64(&w, "u", UINT64_MAX);
	jw_i64(&w, "i", INT64_MIN);
	jw_id(&w, "none", 0);
	jw_bool(&w, "t", 1);
	jw_open(&w, "a", '[');
	jw_u64(&w, NULL, 1);
	jw_u64(&w, NULL, 2);
	jw_close(&w, ']');
	jw_close(&w, '}');
	ck_assert_int_eq(w.err, 0);
	ck_assert_str_eq(w.buf,
	    "{\"s\":\"a\\\"b\\\\c\\u000a\\u0001\",\"u\":18446744073709551615,"
	    "\"i\":-9223372036854775808,\"none\":null,\"t\":true,"
	    "\"a\":[1,2]}");
	o = cJSON_Parse(w.buf);
	ck_assert_msg(o != NULL, "the writer's text should parse");
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_jw_overflow)
{
	static struct jw w;
	char big[1024];
	int i;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	jw_init(&w);
	jw_open(&w, NULL, '[');
	for (i = 0; i < 40; i++)
		jw_str(&w, NULL, big);
	ck_assert_msg(w.err, "a line past ALERT_LINE_MAX should be an error");
	ck_assert_uint_lt(w.len, sizeof(w.buf));
}
END_TEST

/* SHA-1 against FIPS 180 examples. */
START_TEST(test_sha1)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
	    {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	    {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		"84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
	};
	uint8_t d[20];
	char hex[41];
	size_t i, k;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		alert_sha1(v[i].in, strlen(v[i].in), d);
		for (k = 0; k < 20; k++)
			snprintf(hex + 2 * k, 3, "%02x", d[k]);
		ck_assert_str_eq(hex, v[i].hex);
	}
}
END_TEST

/* Community ID v1 against the specification's published vectors. */
START_TEST(test_community_id)
{
	uint8_t a[CAP_ADDR_LEN], b[CAP_ADDR_LEN], c6[CAP_ADDR_LEN],
	    d6[CAP_ADDR_LEN];
	char id[ALERT_COMMUNITY_ID_LEN];
	int i;

	v4(a, IP(1, 2, 3, 4));
	v4(b, IP(5, 6, 7, 8));
	ck_assert_str_eq(alert_community_id(0, a, b, 6, 1122, 3344, 0, id),
	    "1:wCb3OG7yAFWelaUydu0D+125CLM=");
	ck_assert_str_eq(alert_community_id(0, b, a, 6, 3344, 1122, 0, id),
	    "1:wCb3OG7yAFWelaUydu0D+125CLM=");
	ck_assert_str_eq(alert_community_id(0, a, b, 17, 1122, 3344, 0, id),
	    "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=");
	ck_assert_str_eq(alert_community_id(0, a, b, 6, 1122, 3344, 1, id),
	    "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
	ck_assert_str_eq(alert_community_id(0, a, b, 1, 8, 0, 0, id),
	    "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
	ck_assert_str_eq(alert_community_id(0, b, a, 1, 0, 0, 0, id),
	    "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");
	ck_assert_str_eq(alert_community_id(0, a, b, 46, 0, 0, 0, id),
	    "1:ikv3kmf89luf73WPz1jOs49S768=");
	c6[0] = 0xfe;
	c6[1] = 0x80;
	d6[0] = 0xfe;
	d6[1] = 0x80;
	for (i = 2; i < 16; i++) {
		c6[i] = (uint8_t)(i - 1);
		d6[i] = (uint8_t)(0x10 + i - 2);
	}
	c6[2] = 0x00;
	c6[3] = 0x01;
	d6[2] = 0x10;
	d6[3] = 0x11;
	for (i = 4; i < 16; i++) {
		c6[i] = (uint8_t)(i - 2);
		d6[i] = (uint8_t)(0x10 + i - 2);
	}
	ck_assert_str_eq(alert_community_id(1, c6, d6, 58, 128, 0, 0, id),
	    "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=");
}
END_TEST

START_TEST(test_flow_id_and_names)
{
	struct flow_record r;
	uint64_t id;
	char b[8];

	memset(&r, 0, sizeof(r));
	v4(r.src, IP(10, 0, 0, 1));
	v4(r.dst, IP(10, 0, 0, 2));
	r.proto = 6;
	r.sport = 40000;
	r.dport = 443;
	r.ts_first_us = T0_US;
	id = alert_flow_id(&r);
	ck_assert_msg(id > 0 && id < (UINT64_C(1) << 51),
	    "flow_id should be a non-zero 51-bit number");
	ck_assert_msg(alert_flow_id(&r) == id, "flow_id should be stable");
	r.ts_first_us++;
	ck_assert_msg(alert_flow_id(&r) != id,
	    "another start should give another flow_id");
	ck_assert_str_eq(proto_name(6, b), "TCP");
	ck_assert_str_eq(proto_name(58, b), "IPv6-ICMP");
	ck_assert_str_eq(proto_name(47, b), "GRE");
	ck_assert_str_eq(proto_name(253, b), "253");
	ck_assert_str_eq(proto_name(7, b), "7");
	ck_assert_int_eq(alert_severity(1.0, 1.0), 3);
	ck_assert_int_eq(alert_severity(2.0, 1.0), 2);
	ck_assert_int_eq(alert_severity(4.0, 1.0), 1);
	ck_assert_int_eq(alert_severity(1.0, 0.0), 1);
}
END_TEST

/* An alert row as the store would give it back. */
static void
mk_alert(struct store_alert *a)
{
	memset(a, 0, sizeof(*a));
	a->id = 77;
	a->ts_us = T0_US + 123456;
	a->ts_first_us = T0_US - SEC(5);
	a->ts_last_us = T0_US + 123456;
	a->proto = 17;
	snprintf(a->src_ip, sizeof(a->src_ip), "10.0.0.1");
	a->src_port = 40000;
	snprintf(a->dst_ip, sizeof(a->dst_ip), "192.168.1.2");
	a->dst_port = 53;
	a->packets = 10;
	a->bytes = 1000;
	a->score = 2.5;
	a->threshold = 1.25;
	snprintf(a->model_id, sizeof(a->model_id), "m1");
	snprintf(a->explanation, sizeof(a->explanation),
	    "[{\"feature\":\"fwd_bytes\",\"value\":3}]");
	a->count = 4;
	a->last_us = T0_US + SEC(9);
}

START_TEST(test_row_json)
{
	struct store_alert a;
	cJSON *o, *e;

	mk_alert(&a);
	ck_assert_ptr_nonnull(o = alert_row_json(&a));
	ck_assert_int_eq(cJSON_GetObjectItem(o, "id")->valueint, 77);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "timestamp")->valuestring,
	    "2023-11-14T22:13:20.123456+0000");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "proto")->valuestring, "UDP");
	ck_assert_str_eq(
	    cJSON_GetObjectItem(o, "dest_ip")->valuestring, "192.168.1.2");
	ck_assert_int_eq(cJSON_GetObjectItem(o, "dest_port")->valueint, 53);
	ck_assert_int_eq(cJSON_GetObjectItem(o, "count")->valueint, 4);
	ck_assert_int_eq(cJSON_GetObjectItem(o, "severity")->valueint, 2);
	ck_assert_msg(cJSON_GetObjectItem(o, "ts_us")->valuedouble ==
		(double)(T0_US + 123456),
	    "ts_us should be exact");
	e = cJSON_GetObjectItem(o, "explanation");
	ck_assert_msg(cJSON_IsArray(e) && cJSON_GetArraySize(e) == 1,
	    "explanation should be the array");
	ck_assert_str_eq(
	    cJSON_GetObjectItem(o, "finding")->valuestring, "flow");
	ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItem(o, "incident_id")),
	    "an alert outside incidents should have incident_id null");
	cJSON_Delete(o);
	strcpy(a.explanation, "[{broken");
	a.proto = 47;
	a.count = 0;
	a.last_us = 0;
	a.finding = STORE_FINDING_RESPONDER;
	a.incident_id = 12;
	ck_assert_ptr_nonnull(o = alert_row_json(&a));
	ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItem(o, "explanation")),
	    "a broken explanation should become null");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "proto")->valuestring, "GRE");
	ck_assert_msg(cJSON_GetObjectItem(o, "count")->valueint == 1,
	    "an unfolded alert should show count 1");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "last_timestamp")->valuestring,
	    "2023-11-14T22:13:20.123456+0000");
	ck_assert_str_eq(
	    cJSON_GetObjectItem(o, "finding")->valuestring, "responder");
	ck_assert_int_eq(cJSON_GetObjectItem(o, "incident_id")->valueint, 12);
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_incident_json)
{
	struct store_incident inc;
	cJSON *o, *e;

	memset(&inc, 0, sizeof(inc));
	inc.id = 5;
	inc.first_us = T0_US + SEC(30);
	inc.last_us = T0_US + SEC(32);
	inc.about = STORE_ABOUT_RESPONDER;
	snprintf(inc.host, sizeof(inc.host), "10.3.0.1");
	inc.alerts = 3;
	inc.flows = 30;
	inc.peers_n = 2;
	inc.ports_n = 3;
	snprintf(inc.peers, sizeof(inc.peers), "[\"10.4.0.1\",\"10.4.0.9\"]");
	snprintf(inc.ports, sizeof(inc.ports), "[1002]");
	inc.score_max = 4;
	snprintf(inc.summary, sizeof(inc.summary), "port scan");
	snprintf(inc.model_id, sizeof(inc.model_id), "m3");
	ck_assert_ptr_nonnull(o = alert_incident_json(&inc));
	ck_assert_int_eq(cJSON_GetObjectItem(o, "id")->valueint, 5);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "first_timestamp")->valuestring,
	    "2023-11-14T22:13:50.000000+0000");
	ck_assert_str_eq(
	    cJSON_GetObjectItem(o, "about")->valuestring, "responder");
	e = cJSON_GetObjectItem(o, "peers");
	ck_assert_msg(cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2,
	    "peers should be the array");
	ck_assert_msg(
	    cJSON_GetArraySize(cJSON_GetObjectItem(o, "evidence")) == 0,
	    "empty evidence should be []");
	cJSON_Delete(o);
	strcpy(inc.peers, "[\"10.4");
	ck_assert_ptr_nonnull(o = alert_incident_json(&inc));
	ck_assert_msg(cJSON_IsNull(cJSON_GetObjectItem(o, "peers")),
	    "a broken list should become null");
	cJSON_Delete(o);
}
END_TEST

/* ---- Suite detect ------------------------------------------------------- */

/* A configuration whose baseline (100 s, 200 flows) trains in a moment. */
static void
quick_conf(struct anomd_conf *c)
{
	conf_defaults(c);
	c->baseline_seconds = 100;
	c->baseline_min_flows = 200;
	c->model_epochs = 5;
	c->model_threads = 1;
}

/*
 * Open a store in a new temporary file, its name written to db (len
 * bytes), with a rate cap of rate rows a second (0 = none).
 */
static struct store *
tmp_store(char *db, size_t len, uint32_t rate)
{
	char path[] = "/tmp/check_daemon_XXXXXX";
	struct store_opts so;
	struct store *st;
	int fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	close(fd);
	unlink(path);
	snprintf(db, len, "%s.db", path);
	store_opts_default(&so);
	so.path = db;
	so.rate_max_per_s = rate;
	ck_assert_int_eq(store_open(&st, &so, NULL), 0);
	return st;
}

/* A record whose features are near base, varied by a seeded generator. */
static void
mk_record(struct flow_record *r, uint64_t i, uint64_t *rng, float scale)
{
	int k;

	memset(r, 0, sizeof(*r));
	r->id = i + 1;
	r->ts_first_us = T0_US + SEC(i);
	r->ts_last_us = r->ts_first_us + 1000;
	r->ipver = 4;
	r->proto = 6;
	v4(r->src,
	    IP(10, 0, (uint32_t)(i / 200 % 250), (uint32_t)(i % 200 + 1)));
	v4(r->dst, IP(10, 1, 0, 1));
	r->sport = (uint16_t)(30000 + i % 1000);
	r->dport = 443;
	r->packets = 10;
	r->bytes = 2000;
	r->end = FLOW_END_FIN;
	for (k = 0; k < FEAT_COUNT; k++) {
		*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
		r->feat[k] = scale *
		    (float)(1.0 + (double)(*rng >> 40) / (double)(1 << 24));
	}
}

/* Counts what reaches the alert writer's stream. */
static int streamed;

static void
count_stream_cb(const char *line, size_t len, void *arg)
{
	(void)line;
	(void)len;
	(void)arg;
	streamed++;
}

/*
 * A detector trained on quick_conf()'s baseline of mk_record() rows (seed
 * rng), with a store in a temporary file and the alert writer when
 * with_store, and scores written to scores (or NULL).  f->i is the next
 * record number after the baseline.
 */
struct dfix {
	char db[64];
	struct anomd_conf c;
	struct store *st;
	struct alert_out *out;
	struct detector *d;
	uint64_t rng, i;
};

static void
dfix_open(struct dfix *f, uint64_t rng, int with_store, FILE *scores)
{
	struct alert_out_opts ao;
	struct detect_opts o;
	struct detect_result res;
	struct flow_record r;

	memset(f, 0, sizeof(*f));
	f->rng = rng;
	quick_conf(&f->c);
	memset(&o, 0, sizeof(o));
	o.conf = &f->c;
	o.scores = scores;
	if (with_store) {
		f->st = tmp_store(f->db, sizeof(f->db), 0);
		memset(&ao, 0, sizeof(ao));
		ao.store = f->st;
		f->out = alert_out_create(&ao);
		o.out = f->out;
		o.store = f->st;
	}
	f->d = detect_create(&o);
	for (f->i = 0; f->i < 300 && detect_model(f->d) == NULL; f->i++) {
		mk_record(&r, f->i, &f->rng, 1.0f);
		detect_record(f->d, &r, &res);
	}
	ck_assert_ptr_nonnull(detect_model(f->d));
}

/* Free what dfix_open() made; the store is closed and its file removed. */
static void
dfix_close(struct dfix *f)
{
	detect_free(f->d);
	alert_out_free(f->out);
	if (f->st != NULL) {
		ck_assert_int_eq(store_close(f->st, NULL), 0);
		unlink(f->db);
	}
}

/*
 * An incident's first alert is written while its incident is provisional
 * (no id yet); once the second confirms it, the first row is linked too,
 * so every alert of the incident is found under it.
 */
START_TEST(test_detect_links_first_alert)
{
	struct dfix f;
	struct store_alert a1, a2;
	struct detect_result res;
	struct flow_record r;
	int64_t row1, row2;

	dfix_open(&f, 42, 1, NULL);
	mk_record(&r, 400, &f.rng, 1000.0f);
	v4(r.src, IP(10, 7, 7, 7));
	ck_assert_int_eq(detect_record(f.d, &r, &res), DETECT_FLOW_ALERT);
	ck_assert_msg(res.incident_id == 0 && res.row_id > 0,
	    "the first alert's incident is provisional, its row written");
	row1 = res.row_id;
	mk_record(&r, 401, &f.rng, 1000.0f);
	v4(r.src, IP(10, 7, 7, 7));
	v4(r.dst, IP(10, 1, 0, 2));
	ck_assert_int_eq(detect_record(f.d, &r, &res), DETECT_FLOW_ALERT);
	ck_assert_msg(res.incident_id > 0, "the second alert confirms it");
	row2 = res.row_id;
	detect_flush(f.d);
	ck_assert_int_eq(store_flush(f.st, NULL), 0);
	ck_assert_int_eq(store_alert_get(f.st, row1, &a1, NULL), 0);
	ck_assert_int_eq(store_alert_get(f.st, row2, &a2, NULL), 0);
	ck_assert_msg(a1.incident_id == a2.incident_id && a1.incident_id > 0,
	    "both alerts should be under one incident (%lld, %lld)",
	    (long long)a1.incident_id, (long long)a2.incident_id);
	ck_assert_uint_eq(detect_stats(f.d)->unlinked, 0);
	dfix_close(&f);
}
END_TEST

/*
 * A flood with forged sources: every flow alerts from a new initiator to
 * one responder.  Once its incident is about the responder, the alerts
 * fold into one row whatever their source, so the storm costs counters
 * and every alert is still in a row's count.
 */
START_TEST(test_detect_flood_folds_by_responder)
{
	struct dfix f;
	struct store_stats ss;
	struct detect_result res;
	struct flow_record r;
	uint64_t k;

	dfix_open(&f, 5, 1, NULL);
	for (k = 0; k < 200; k++) {
		mk_record(&r, f.i, &f.rng, 1000.0f);
		r.ts_first_us = r.ts_last_us = T0_US + SEC(f.i) + k * 1000;
		v4(r.src,
		    IP(198, 51, (uint32_t)(k / 250), (uint32_t)(k % 250)));
		v4(r.dst, IP(10, 1, 0, 9));
		r.dport = 80;
		ck_assert_int_eq(
		    detect_record(f.d, &r, &res), DETECT_FLOW_ALERT);
	}
	ck_assert_msg(res.fold_any_src && res.incident_id > 0,
	    "the flood's incident should be about its responder");
	detect_flush(f.d);
	ck_assert_int_eq(store_flush(f.st, NULL), 0);
	store_stats(f.st, &ss);
	ck_assert_msg(ss.written <= 5 && ss.queued + ss.folded == 200,
	    "200 forged sources should fold into a few rows: %llu rows, "
	    "%llu alerts",
	    (unsigned long long)ss.written,
	    (unsigned long long)(ss.queued + ss.folded));
	dfix_close(&f);
}
END_TEST

/*
 * Feed a trained detector 600 odd flows within a minute, from 600
 * initiators to 600 responders (wide) or to one (a flood), then one a
 * minute later; returns the storm minutes counted.
 */
static uint64_t
storm_minutes_after(int wide)
{
	struct dfix f;
	struct detect_result res;
	struct flow_record r;
	uint64_t k, t0, n;

	dfix_open(&f, 3, 0, NULL);
	t0 = T0_US + SEC(f.i + 10);
	for (k = 0; k <= 600; k++) {
		mk_record(&r, f.i + k, &f.rng, 1000.0f);
		r.ts_first_us = r.ts_last_us =
		    k < 600 ? t0 + k * 50000 : t0 + SEC(120);
		v4(r.src,
		    IP(198, 51, (uint32_t)(k / 250), (uint32_t)(k % 250)));
		v4(r.dst,
		    wide ? IP(203, 0, (uint32_t)(k / 250), (uint32_t)(k % 250))
			 : IP(10, 1, 0, 9));
		r.dport = 80;
		detect_record(f.d, &r, &res);
	}
	ck_assert_uint_ge(detect_stats(f.d)->alerts, 600);
	n = detect_stats(f.d)->storm_minutes;
	dfix_close(&f);
	return n;
}

/*
 * Most flows alerting, from and to many hosts, is a storm minute (the
 * model does not fit); the same number at one victim is a flood, not one.
 */
START_TEST(test_detect_storm)
{
	ck_assert_uint_eq(storm_minutes_after(1), 1);
	ck_assert_uint_eq(storm_minutes_after(0), 0);
}
END_TEST

/*
 * A periodic pair of hosts, one outside the baseline: the contact that
 * makes it periodic raises the beacon alert under a confirmed incident,
 * and every later contact joins that incident, marked as the beacon's
 * (finding "beacon", level = contacts / beacon_min_contacts) but not
 * alerted again; the contacts before it are ordinary flows.
 */
START_TEST(test_detect_beacon_contacts)
{
	struct dfix f;
	struct detect_result res;
	struct flow_record r;
	uint64_t k;
	int64_t inc = 0;
	char line[512], last[512] = "", *lv;
	FILE *scores = tmpfile();

	ck_assert_ptr_nonnull(scores);
	dfix_open(&f, 9, 0, scores);
	for (k = 0; k < 12; k++) {
		mk_record(&r, f.i + 30 * k, &f.rng, 1.0f);
		v4(r.src, IP(10, 0, 0, 5));
		v4(r.dst, IP(203, 0, 113, 80));
		r.dport = 80;
		detect_record(f.d, &r, &res);
		if (k + 1 < f.c.beacon_min_contacts)
			ck_assert_msg(res.decision != DETECT_BEACON &&
				res.decision != DETECT_BEACON_CONTACT,
			    "contact %d is too early to judge", (int)k + 1);
		else if (k + 1 == f.c.beacon_min_contacts) {
			ck_assert_int_eq(res.decision, DETECT_BEACON);
			ck_assert_msg(res.incident_id > 0,
			    "a beacon alert's incident is confirmed at once");
			inc = res.incident_id;
		} else {
			ck_assert_int_eq(res.decision, DETECT_BEACON_CONTACT);
			ck_assert_int_eq(res.finding, STORE_FINDING_BEACON);
			ck_assert_int_eq(res.incident_id, inc);
		}
	}
	ck_assert_uint_eq(detect_stats(f.d)->beacons, 1);
	dfix_close(&f);
	rewind(scores);
	while (fgets(line, sizeof(line), scores) != NULL)
		memcpy(last, line, sizeof(line));
	fclose(scores);
	ck_assert_ptr_nonnull(strstr(last, ",beacon,"));
	ck_assert_ptr_nonnull(lv = strrchr(last, ','));
	ck_assert_msg(strtod(lv + 1, NULL) == 12.0 / f.c.beacon_min_contacts,
	    "the 12th contact's level should be 12 / %u: %s",
	    f.c.beacon_min_contacts, last);
}
END_TEST

/*
 * A daemon's first model trains in another thread: records that come
 * meanwhile wait and are scored once it is in, in order, and the alert
 * among them is raised; nothing waits once a model exists.
 */
START_TEST(test_detect_waits_for_first_model)
{
	struct anomd_conf c;
	struct detect_opts o;
	struct detect_result res;
	struct detect_job *j;
	struct detector *d;
	struct flow_record r;
	uint64_t rng = 7, i;

	quick_conf(&c);
	memset(&o, 0, sizeof(o));
	o.conf = &c;
	o.async = 1;
	d = detect_create(&o);
	for (i = 0; i < 250; i++) {
		mk_record(&r, i, &rng, 1.0f);
		detect_record(d, &r, &res);
	}
	ck_assert(detect_window_done(d));
	j = detect_job_take(d);
	ck_assert_ptr_null(detect_model(d));
	for (i = 250; i < 260; i++) {
		mk_record(&r, i, &rng, i == 255 ? 1000.0f : 1.0f);
		ck_assert_int_eq(detect_record(d, &r, &res), DETECT_LEARNING);
	}
	ck_assert_uint_eq(detect_stats(d)->scored, 0);
	detect_job_run(j);
	ck_assert_int_eq(detect_job_finish(d, j), 0);
	ck_assert_ptr_nonnull(detect_model(d));
	ck_assert_msg(detect_stats(d)->scored == 10,
	    "the 10 records that came while training should be scored (%llu)",
	    (unsigned long long)detect_stats(d)->scored);
	ck_assert_msg(detect_stats(d)->alerts >= 1,
	    "the odd one among them should alert");
	detect_free(d);
}
END_TEST

START_TEST(test_detect_states)
{
	struct anomd_conf c;
	struct alert_out_opts ao;
	struct alert_out *out;
	struct detect_opts o;
	struct detect_result res;
	struct detector *d;
	struct flow_record r;
	uint64_t rng = 42, i;
	FILE *eve;
	char line[ALERT_LINE_MAX];
	cJSON *j, *al;

	quick_conf(&c);
	memset(&ao, 0, sizeof(ao));
	ck_assert_ptr_nonnull(eve = tmpfile());
	ao.eve = eve;
	ao.sensor = "s1";
	ao.explain_features = 3;
	ao.stream_cb = count_stream_cb;
	out = alert_out_create(&ao);
	memset(&o, 0, sizeof(o));
	o.conf = &c;
	o.out = out;
	d = detect_create(&o);
	for (i = 0; i < 300 && detect_model(d) == NULL; i++) {
		ck_assert_str_eq(detect_state(d), "learning");
		mk_record(&r, i, &rng, 1.0f);
		detect_record(d, &r, &res);
		ck_assert_msg(
		    detect_model(d) != NULL || res.decision == DETECT_LEARNING,
		    "records before the model are learnt from");
	}
	ck_assert_msg(i >= 200 && i <= 201,
	    "the window (100 s, 200 flows) should train at once (%d)", (int)i);
	ck_assert_str_eq(detect_state(d), "detecting");
	mk_record(&r, 400, &rng, 1.0f);
	ck_assert_int_eq(detect_record(d, &r, &res), DETECT_NONE);
	ck_assert_msg(res.nex == 0 && res.split.own <= res.split.total + 1e-6f,
	    "a normal record has no explanation");
	mk_record(&r, 401, &rng, 1000.0f);
	ck_assert_int_eq(detect_record(d, &r, &res), DETECT_FLOW_ALERT);
	ck_assert_msg(res.score > res.threshold,
	    "an alert's score should pass its threshold");
	ck_assert_msg(res.nex > 0 && res.nex <= DETECT_EXPLAIN_MAX,
	    "an alert should be explained");
	ck_assert_uint_eq(res.finding, STORE_FINDING_FLOW);
	ck_assert_str_eq(res.model_id, model_info(detect_model(d))->id);
	ck_assert_uint_eq(detect_stats(d)->alerts, 1);
	ck_assert_uint_eq(alert_out_stats(out)->raised, 1);
	ck_assert_uint_eq(alert_out_stats(out)->stored, 1);
	ck_assert_int_eq(streamed, 0); /* no store: nothing to stream */
	detect_flush(d);
	rewind(eve);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), eve));
	ck_assert_ptr_nonnull(j = cJSON_Parse(line));
	ck_assert_str_eq(
	    cJSON_GetObjectItem(j, "event_type")->valuestring, "alert");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "host")->valuestring, "s1");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "proto")->valuestring, "TCP");
	al = cJSON_GetObjectItem(j, "alert");
	ck_assert_int_eq(
	    cJSON_GetObjectItem(al, "signature_id")->valueint, ALERT_SID_FLOW);
	ck_assert_msg(cJSON_IsArray(cJSON_GetObjectItem(
			  cJSON_GetObjectItem(al, "context"), "explanation")),
	    "the explanation should be under alert.context");
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "community_id"));
	cJSON_Delete(j);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), eve));
	ck_assert_ptr_nonnull(j = cJSON_Parse(line));
	al = cJSON_GetObjectItem(j, "alert");
	ck_assert_int_eq(cJSON_GetObjectItem(al, "signature_id")->valueint,
	    ALERT_SID_INCIDENT);
	cJSON_Delete(j);
	detect_free(d);
	alert_out_free(out);
	fclose(eve);
}
END_TEST

/* Offline-style: with no rate cap, every alert is stored or folded. */
START_TEST(test_alert_out_counts)
{
	char db[64];
	struct store *st;
	struct alert_out_opts ao;
	struct alert_out *out;
	struct detect_result res;
	struct flow_record r;
	uint64_t rng = 1;
	int i;

	st = tmp_store(db, sizeof(db), 2);
	memset(&ao, 0, sizeof(ao));
	ao.store = st;
	ao.stream_cb = count_stream_cb;
	streamed = 0;
	out = alert_out_create(&ao);
	memset(&res, 0, sizeof(res));
	res.decision = DETECT_FLOW_ALERT;
	res.r = &r;
	res.score = 3;
	res.threshold = 1;
	res.model_id = "m";
	for (i = 0; i < 10; i++) {
		mk_record(&r, (uint64_t)i, &rng, 1.0f);
		r.ts_first_us = r.ts_last_us = T0_US;
		v4(r.src, IP(10, 8, 0, 1));
		v4(r.dst, IP(10, 9, 0, (i % 5) + 1));
		alert_out_alert(out, &res);
	}
	/* 5 destinations, cap 2/s: 2 rows, their repeats folded, 6 capped */
	ck_assert_uint_eq(alert_out_stats(out)->raised, 10);
	ck_assert_uint_eq(alert_out_stats(out)->stored, 2);
	ck_assert_uint_eq(alert_out_stats(out)->folded, 2);
	ck_assert_uint_eq(alert_out_stats(out)->capped, 6);
	ck_assert_uint_eq(alert_out_stats(out)->stored +
		alert_out_stats(out)->folded + alert_out_stats(out)->capped +
		alert_out_stats(out)->dropped + alert_out_stats(out)->rejected,
	    10);
	ck_assert_int_eq(streamed, 2);
	alert_out_free(out);
	ck_assert_int_eq(store_close(st, NULL), 0);
	unlink(db);
}
END_TEST

/*
 * Only an alert that makes a new row is explained: repeats folded into it
 * cost no explanation (res.nex stays 0) until detect_explain() asks, once
 * the summary's ten strongest are kept and none is its incident's
 * strongest evidence.
 */
#define DETECT_TOP_MAX_FOR_TEST 10
START_TEST(test_detect_explains_new_rows_only)
{
	char db[64];
	struct anomd_conf c;
	struct store *st;
	struct alert_out_opts ao;
	struct alert_out *out;
	struct detect_opts o;
	struct detect_result res;
	struct detector *d;
	struct flow_record r;
	uint64_t rng = 7, i;

	st = tmp_store(db, sizeof(db), 0);
	quick_conf(&c);
	memset(&ao, 0, sizeof(ao));
	ao.store = st;
	ao.explain_features = 3;
	out = alert_out_create(&ao);
	memset(&o, 0, sizeof(o));
	o.conf = &c;
	o.out = out;
	d = detect_create(&o);
	for (i = 0; i < 300 && detect_model(d) == NULL; i++) {
		mk_record(&r, i, &rng, 1.0f);
		detect_record(d, &r, &res);
	}
	ck_assert_ptr_nonnull(detect_model(d));
	for (i = 0; i < 20; i++) {
		rng = 99; /* the same features: no new strongest evidence */
		mk_record(&r, 400, &rng, 1000.0f);
		r.ts_first_us += i * 1000;
		r.ts_last_us += i * 1000;
		ck_assert_int_eq(detect_record(d, &r, &res), DETECT_FLOW_ALERT);
		if (i < 2) { /* the first joins a provisional incident (0) */
			ck_assert_uint_eq(alert_out_stats(out)->stored, i + 1);
			ck_assert_msg(res.explained && res.nex > 0,
			    "a new row should be explained");
			continue;
		}
		ck_assert_uint_eq(alert_out_stats(out)->folded, i - 1);
		if (i < DETECT_TOP_MAX_FOR_TEST) /* the summary's top 10 */
			continue;
		ck_assert_msg(!res.explained && res.nex == 0,
		    "a folded repeat should not be explained");
		detect_explain(&res);
		ck_assert_msg(res.explained && res.nex > 0 && res.nex <= 3,
		    "detect_explain() should explain on demand");
	}
	ck_assert_uint_eq(alert_out_stats(out)->stored, 2);
	detect_free(d);
	alert_out_free(out);
	ck_assert_int_eq(store_close(st, NULL), 0);
	unlink(db);
}
END_TEST

static Suite *
alert_suite(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, test_jw_numbers);
	tcase_add_test(tc, test_jw_strings_and_ints);
	tcase_add_test(tc, test_jw_overflow);
	tcase_add_test(tc, test_row_json);
	tcase_add_test(tc, test_incident_json);
	suite_add_tcase(s, tc);
	tc = tcase_create("ids");
	tcase_add_test(tc, test_sha1);
	tcase_add_test(tc, test_community_id);
	tcase_add_test(tc, test_flow_id_and_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("path");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_detect_states);
	tcase_add_test(tc, test_detect_waits_for_first_model);
	tcase_add_test(tc, test_detect_links_first_alert);
	tcase_add_test(tc, test_detect_beacon_contacts);
	tcase_add_test(tc, test_detect_flood_folds_by_responder);
	tcase_add_test(tc, test_detect_storm);
	tcase_add_test(tc, test_alert_out_counts);
	tcase_add_test(tc, test_detect_explains_new_rows_only);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite suppress ----------------------------------------------------- */

/* CIDR texts and what the parser must make of them. */
static const struct {
	const char *in;
	int ok;
	const char *text; /* canonical text when ok, part of why when not */
	int fam, len; /* fam and prefix bits (of 128) when ok */
} cidrs[] = {
    {"", 1, "", 0, 0},
    {"any", 1, "", 0, 0},
    {"0.0.0.0/0", 1, "0.0.0.0/0", 4, 96},
    {"10.0.0.0/8", 1, "10.0.0.0/8", 4, 104},
    {"10.1.2.3", 1, "10.1.2.3/32", 4, 128},
    {"10.1.2.3/32", 1, "10.1.2.3/32", 4, 128},
    {"255.255.255.255/32", 1, "255.255.255.255/32", 4, 128},
    {"192.168.1.128/25", 1, "192.168.1.128/25", 4, 121},
    {"::/0", 1, "::/0", 6, 0},
    {"2001:DB8::/32", 1, "2001:db8::/32", 6, 32},
    {"2001:db8::1", 1, "2001:db8::1/128", 6, 128},
    {"2001:db8::1/128", 1, "2001:db8::1/128", 6, 128},
    {"::ffff:10.0.0.0/104", 1, "10.0.0.0/8", 4, 104},
    {"::ffff:10.0.0.1", 1, "10.0.0.1/32", 4, 128},
    {"10.0.0.1/24", 0, "host bits", 0, 0},
    {"2001:db8::1/64", 0, "host bits", 0, 0},
    {"10.0.0.0/33", 0, "0 to 32", 0, 0},
    {"::/129", 0, "0 to 128", 0, 0},
    {"10.0.0.0/", 0, "prefix length", 0, 0},
    {"10.0.0.0/-1", 0, "prefix length", 0, 0},
    {"10.0.0.0/+8", 0, "prefix length", 0, 0},
    {"10.0.0.0/08", 0, "prefix length", 0, 0},
    {"10.0.0.0/8/8", 0, "prefix length", 0, 0},
    {"10.0.0.0/ 8", 0, "prefix length", 0, 0},
    {"10.0.0.0/0008", 0, "prefix length", 0, 0},
    {"10.0.0.0/4294967304", 0, "prefix length", 0, 0},
    {"10.0.0", 0, "not an IPv4", 0, 0},
    {"10.0.0.256", 0, "not an IPv4", 0, 0},
    {"010.0.0.1", 0, "not an IPv4", 0, 0},
    {" 10.0.0.1", 0, "not an IPv4", 0, 0},
    {"10.0.0.1 ", 0, "not an IPv4", 0, 0},
    {"/8", 0, "not an IPv4", 0, 0},
    {"fe80::1%eth0", 0, "not an IPv4", 0, 0},
    {"2001:db8:::1", 0, "not an IPv4", 0, 0},
    {"example.com", 0, "not an IPv4", 0, 0},
    {"ANY", 0, "not an IPv4", 0, 0},
    {"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa/128", 0, "too long", 0,
	0},
};

START_TEST(test_cidr_parse)
{
	struct suppress_net n;
	char text[SUPPRESS_CIDR_LEN];
	const char *why = NULL;
	int rc;

	memset(&n, 0xa5, sizeof(n));
	memset(text, '#', sizeof(text));
	rc = suppress_cidr_parse(cidrs[_i].in, &n, text, sizeof(text), &why);
	if (!cidrs[_i].ok) {
		ck_assert_msg(
		    rc == -EINVAL, "\"%s\" should be refused", cidrs[_i].in);
		ck_assert_msg(why != NULL && strstr(why, cidrs[_i].text),
		    "\"%s\": why should say %s: %s", cidrs[_i].in,
		    cidrs[_i].text, why ? why : "(null)");
		ck_assert_msg(n.fam == 0xa5 && text[0] == '#',
		    "a refused CIDR should leave the outputs alone");
		return;
	}
	ck_assert_msg(
	    rc == 0, "\"%s\" should parse: %s", cidrs[_i].in, why ? why : "");
	ck_assert_str_eq(text, cidrs[_i].text);
	ck_assert_int_eq(n.fam, cidrs[_i].fam);
	ck_assert_int_eq(n.len, cidrs[_i].len);
	/* The canonical text parses to the same network. */
	{
		struct suppress_net m;
		char again[SUPPRESS_CIDR_LEN];

		ck_assert_int_eq(
		    suppress_cidr_parse(text, &m, again, sizeof(again), &why),
		    0);
		ck_assert_str_eq(again, text);
		ck_assert_mem_eq(&m, &n, sizeof(m));
	}
}
END_TEST

/* A 16-byte IPv6 address from text. */
static void
v6(uint8_t out[CAP_ADDR_LEN], const char *s)
{
	ck_assert_int_eq(inet_pton(AF_INET6, s, out), 1);
}

START_TEST(test_net_match)
{
	struct suppress_net n;
	uint8_t a[CAP_ADDR_LEN];
	const char *why;

	ck_assert_int_eq(
	    suppress_cidr_parse("192.168.1.128/25", &n, NULL, 0, &why), 0);
	v4(a, IP(192, 168, 1, 128));
	ck_assert_msg(suppress_net_match(&n, a), "first address of /25");
	v4(a, IP(192, 168, 1, 255));
	ck_assert_msg(suppress_net_match(&n, a), "last address of /25");
	v4(a, IP(192, 168, 1, 127));
	ck_assert_msg(!suppress_net_match(&n, a), "one below the /25");
	v4(a, IP(192, 168, 2, 128));
	ck_assert_msg(!suppress_net_match(&n, a), "another /24");
	ck_assert_int_eq(
	    suppress_cidr_parse("0.0.0.0/0", &n, NULL, 0, &why), 0);
	ck_assert_msg(suppress_net_match(&n, a), "0.0.0.0/0 is every IPv4");
	v6(a, "2001:db8::1");
	ck_assert_msg(!suppress_net_match(&n, a),
	    "an IPv4 network should not match IPv6");
	ck_assert_int_eq(suppress_cidr_parse("::/0", &n, NULL, 0, &why), 0);
	ck_assert_msg(suppress_net_match(&n, a), "::/0 is every IPv6");
	v4(a, IP(10, 0, 0, 1));
	ck_assert_msg(
	    !suppress_net_match(&n, a), "::/0 should not match an IPv4 flow");
	ck_assert_int_eq(suppress_cidr_parse("", &n, NULL, 0, &why), 0);
	ck_assert_msg(suppress_net_match(&n, a), "any is IPv4 too");
	ck_assert_int_eq(
	    suppress_cidr_parse("2001:db8::/33", &n, NULL, 0, &why), 0);
	v6(a, "2001:db8:7fff::1");
	ck_assert_msg(suppress_net_match(&n, a), "inside the /33");
	v6(a, "2001:db8:8000::");
	ck_assert_msg(!suppress_net_match(&n, a), "just past the /33");
	ck_assert_int_eq(
	    suppress_cidr_parse("2001:db8::1", &n, NULL, 0, &why), 0);
	v6(a, "2001:db8::1");
	ck_assert_msg(suppress_net_match(&n, a), "a /128 matches itself");
	a[15] ^= 1;
	ck_assert_msg(!suppress_net_match(&n, a), "and only itself");
}
END_TEST

/* A suppression row for tests. */
static void
mk_row(struct store_suppress *row, int64_t id, const char *src, const char *dst,
    uint16_t port, uint8_t proto, uint64_t expires_us)
{
	memset(row, 0, sizeof(*row));
	row->id = id;
	snprintf(row->src, sizeof(row->src), "%s", src);
	snprintf(row->dst, sizeof(row->dst), "%s", dst);
	row->dst_port = port;
	row->proto = proto;
	row->expires_us = expires_us;
}

/* A flow src -> dst:dport over proto at t_us. */
static void
mk_flow(struct flow_record *r, uint32_t src, uint32_t dst, uint16_t dport,
    uint8_t proto, uint64_t t_us)
{
	memset(r, 0, sizeof(*r));
	v4(r->src, src);
	v4(r->dst, dst);
	r->dport = dport;
	r->proto = proto;
	r->ts_first_us = r->ts_last_us = t_us;
}

START_TEST(test_suppress_match)
{
	struct suppress *sp = suppress_create();
	struct store_suppress row;
	struct flow_record r;
	int i;

	ck_assert_int_eq(suppress_match(NULL, &r, 0, 1), 0);
	mk_row(&row, 3, "10.0.0.0/8", "192.168.1.5", 873, 6, T0_US + SEC(10));
	ck_assert_int_eq(suppress_add(sp, &row), 0);
	mk_row(&row, 5, "", "192.168.1.0/24", 0, 0, 0);
	ck_assert_int_eq(suppress_add(sp, &row), 0);
	mk_row(&row, 6, "10.0.0.1/24", "", 0, 0, 0);
	ck_assert_msg(suppress_add(sp, &row) == -EINVAL,
	    "a row that does not parse should be refused");
	ck_assert_int_eq(suppress_count(sp), 2);

	mk_flow(&r, IP(10, 9, 9, 9), IP(192, 168, 1, 5), 873, 6, T0_US);
	ck_assert_msg(suppress_match(sp, &r, T0_US, 1) == 3,
	    "the first matching rule (lowest id) should win");
	ck_assert_msg(suppress_match(sp, &r, T0_US + SEC(10), 1) == 5,
	    "at its expiry time rule 3 is over; rule 5 still matches");
	mk_flow(&r, IP(10, 9, 9, 9), IP(192, 168, 2, 5), 873, 6, T0_US);
	ck_assert_int_eq(suppress_match(sp, &r, T0_US, 1), 0);
	mk_flow(&r, IP(10, 9, 9, 9), IP(192, 168, 1, 6), 873, 17, T0_US);
	ck_assert_msg(
	    suppress_match(sp, &r, T0_US, 0) == 5, "proto and port 0 are any");
	ck_assert_msg(suppress_suppressed(sp) == 2,
	    "count 0 should not be counted as suppressed");
	mk_flow(&r, IP(11, 9, 9, 9), IP(192, 168, 1, 5), 873, 6, T0_US);
	mk_row(&row, 9, "11.0.0.0/8", "", 22, 6, 0);
	ck_assert_int_eq(suppress_add(sp, &row), 0);
	ck_assert_msg(
	    suppress_match(sp, &r, T0_US, 1) == 5, "rule 9 wants port 22");
	for (i = (int)suppress_count(sp); i < SUPPRESS_MAX; i++)
		ck_assert_int_eq(suppress_add(sp, &row), 0);
	ck_assert_msg(suppress_add(sp, &row) == -ENOSPC,
	    "the list should stop at SUPPRESS_MAX");
	suppress_free(sp);
	suppress_free(NULL);
}
END_TEST

/* A detector with a suppression: a matching alert is counted, not raised. */
START_TEST(test_detect_suppressed)
{
	struct anomd_conf c;
	struct alert_out_opts ao;
	struct alert_out *out;
	struct detect_opts o;
	struct detect_result res;
	struct store_suppress row;
	struct suppress *sp = suppress_create();
	struct detector *d;
	struct flow_record r;
	uint64_t rng = 42, i;

	quick_conf(&c);
	memset(&ao, 0, sizeof(ao));
	out = alert_out_create(&ao);
	memset(&o, 0, sizeof(o));
	o.conf = &c;
	o.out = out;
	o.supp = sp;
	d = detect_create(&o);
	for (i = 0; i < 300 && detect_model(d) == NULL; i++) {
		mk_record(&r, i, &rng, 1.0f);
		detect_record(d, &r, NULL);
	}
	ck_assert_ptr_nonnull(detect_model(d));
	/* mk_record's flows go to 10.1.0.1:443. */
	mk_row(&row, 1, "", "10.1.0.1", 443, 6, 0);
	ck_assert_int_eq(suppress_add(sp, &row), 0);
	mk_record(&r, 401, &rng, 1000.0f);
	ck_assert_int_eq(detect_record(d, &r, &res), DETECT_SUPPRESSED);
	ck_assert_uint_eq(detect_stats(d)->alerts, 0);
	ck_assert_uint_eq(detect_stats(d)->incidents, 0);
	ck_assert_msg(alert_out_stats(out)->raised == 0,
	    "a suppressed alert should not reach the alert writer");
	ck_assert_uint_eq(suppress_suppressed(sp), 1);
	v4(r.dst, IP(10, 1, 0, 2));
	ck_assert_msg(detect_record(d, &r, &res) == DETECT_FLOW_ALERT,
	    "another responder is not suppressed");
	ck_assert_uint_eq(alert_out_stats(out)->raised, 1);
	mk_record(&r, 402, &rng, 1.0f);
	ck_assert_msg(detect_record(d, &r, &res) == DETECT_NONE,
	    "a normal flow is not counted as suppressed");
	ck_assert_uint_eq(suppress_suppressed(sp), 1);
	detect_free(d);
	alert_out_free(out);
	suppress_free(sp);
}
END_TEST

static Suite *
suppress_suite(void)
{
	Suite *s = suite_create("suppress");
	TCase *tc = tcase_create("cidr");

	tcase_add_loop_test(
	    tc, test_cidr_parse, 0, sizeof(cidrs) / sizeof(cidrs[0]));
	tcase_add_test(tc, test_net_match);
	suite_add_tcase(s, tc);
	tc = tcase_create("match");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_suppress_match);
	tcase_add_test(tc, test_detect_suppressed);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- recq.c ------------------------------------------------------------ */

/* A record whose id and first feature carry n. */
static struct flow_record
recq_rec(uint64_t n)
{
	struct flow_record r;

	memset(&r, 0, sizeof(r));
	r.id = n;
	r.feat[0] = (float)n;
	r.feat[FEAT_COUNT - 1] = -(float)n;
	return r;
}

/* Whether the eventfd has a wake-up pending (reads it). */
static int
recq_woken(struct recq *q)
{
	struct pollfd p = {recq_fd(q), POLLIN, 0};

	return poll(&p, 1, 0) == 1;
}

START_TEST(test_recq_bounds)
{
	struct recq *q;

	errno = 0;
	ck_assert_ptr_null(recq_create(0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(recq_create((size_t)RECQ_MAX_RECORDS + 1));
	q = recq_create(1);
	ck_assert_msg(q != NULL, "a queue of one record should be made");
	recq_free(q);
	recq_free(NULL);
}
END_TEST

START_TEST(test_recq_fifo_wrap)
{
	struct recq *q = recq_create(8);
	const struct flow_record *r;
	struct flow_record in;
	struct recq_stats st;
	uint64_t next = 1, out = 1;
	size_t n, i;
	int round;

	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(recq_peek(q, &r), 0);
	ck_assert_msg(!recq_woken(q), "an empty queue should not wake");
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 5; i++) {
			in = recq_rec(next++);
			recq_put(q, &in);
		}
		ck_assert_msg(recq_woken(q), "a put should wake the loop");
		/* take them back in runs, as they wrap around the ring */
		while ((n = recq_peek(q, &r)) > 0) {
			for (i = 0; i < n; i++, out++) {
				ck_assert_uint_eq(r[i].id, out);
				ck_assert_float_eq(r[i].feat[0], (float)out);
				ck_assert_float_eq(
				    r[i].feat[FEAT_COUNT - 1], -(float)out);
			}
			recq_release(q, n);
		}
	}
	ck_assert_uint_eq(out, next);
	recq_stats(q, &st);
	ck_assert_uint_eq(st.put, 25);
	ck_assert_uint_eq(st.taken, 25);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.high_water, 5);
	ck_assert_uint_eq(st.full_waits, 0);
	ck_assert_uint_eq(st.capacity, 8);
	recq_free(q);
}
END_TEST

START_TEST(test_recq_one_wake_per_burst)
{
	struct recq *q = recq_create(16);
	const struct flow_record *r;
	struct flow_record in = recq_rec(1);
	uint64_t v;

	recq_put(q, &in);
	recq_put(q, &in);
	recq_put(q, &in);
	ck_assert_int_eq(read(recq_fd(q), &v, sizeof(v)), (ssize_t)sizeof(v));
	ck_assert_msg(v == 1, "three puts before the loop ran: one wake-up");
	ck_assert_int_eq(recq_peek(q, &r), 3);
	recq_release(q, 3);
	ck_assert_int_eq(recq_peek(q, &r), 0); /* seen empty: disarmed */
	recq_put(q, &in);
	ck_assert_msg(recq_woken(q),
	    "a put after the loop saw it empty "
	    "should wake it again");
	recq_free(q);
}
END_TEST

struct recq_prod {
	struct recq *q;
	uint64_t n;
};

static void *
recq_producer(void *arg)
{
	struct recq_prod *p = arg;
	struct flow_record in;
	uint64_t i;

	for (i = 1; i <= p->n; i++) {
		in = recq_rec(i);
		recq_put(p->q, &in);
	}
	recq_close(p->q);
	return NULL;
}

START_TEST(test_recq_backpressure)
{
	struct recq_prod p;
	const struct flow_record *r;
	struct recq_stats st;
	pthread_t t;
	uint64_t out = 1;
	size_t n, i;

	p.q = recq_create(4);
	p.n = 20000;
	ck_assert_int_eq(pthread_create(&t, NULL, recq_producer, &p), 0);
	/* the producer fills the queue and must wait, never drop */
	do {
		recq_stats(p.q, &st);
		if (st.full_waits == 0)
			usleep(1000);
	} while (st.full_waits == 0);
	ck_assert_uint_le(st.queued, 4);
	while (!recq_wait(p.q))
		while ((n = recq_peek(p.q, &r)) > 0) {
			for (i = 0; i < n; i++, out++)
				ck_assert_uint_eq(r[i].id, out);
			recq_release(p.q, n);
		}
	pthread_join(t, NULL);
	ck_assert_msg(out == p.n + 1, "every record should arrive in order");
	recq_stats(p.q, &st);
	ck_assert_uint_eq(st.put, p.n);
	ck_assert_uint_eq(st.high_water, 4);
	ck_assert_uint_ge(st.full_waits, 1);
	recq_free(p.q);
}
END_TEST

static Suite *
recq_suite(void)
{
	Suite *s = suite_create("recq");
	TCase *tc = tcase_create("queue");

	tcase_add_test(tc, test_recq_bounds);
	tcase_add_test(tc, test_recq_fifo_wrap);
	tcase_add_test(tc, test_recq_one_wake_per_burst);
	tcase_add_test(tc, test_recq_backpressure);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_add_suite(sr, iface_suite());
	srunner_add_suite(sr, incident_suite());
	srunner_add_suite(sr, detect_suite());
	srunner_add_suite(sr, alert_suite());
	srunner_add_suite(sr, suppress_suite());
	srunner_add_suite(sr, recq_suite());

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
