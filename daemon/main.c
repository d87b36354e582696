/*
 * anomd: network anomaly-detection daemon.  This file parses the command
 * line, loads the configuration and hands over to the job it names.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <net/if.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"

#define MAX_FILES 64
/* /etc/anomd/anomd.conf when configured with --sysconfdir=/etc. */
#define DEFAULT_CONF SYSCONFDIR "/anomd/anomd.conf"
#define OFFLINE_DB "anomd.db"

enum {
	OPT_FLOWS = 256,
	OPT_LIST_FEATURES,
	OPT_DUMP_CONFIG,
	OPT_SEED,
	OPT_TOP,
	OPT_DB,
	OPT_SCORES,
	OPT_EVE,
	OPT_TRAIN_ONLY,
	OPT_BASELINE,
	OPT_STATS,
	OPT_REPORT,
};

static const struct option longopts[] = {
    {"read", required_argument, NULL, 'r'},
    {"config", required_argument, NULL, 'c'},
    {"interface", required_argument, NULL, 'i'},
    {"socket", required_argument, NULL, 'S'},
    {"test-config", no_argument, NULL, 't'},
    {"model", required_argument, NULL, 'm'},
    {"db", required_argument, NULL, OPT_DB},
    {"flows", required_argument, NULL, OPT_FLOWS},
    {"scores", required_argument, NULL, OPT_SCORES},
    {"eve", required_argument, NULL, OPT_EVE},
    {"report", required_argument, NULL, OPT_REPORT},
    {"train-only", no_argument, NULL, OPT_TRAIN_ONLY},
    {"baseline", required_argument, NULL, OPT_BASELINE},
    {"list-features", optional_argument, NULL, OPT_LIST_FEATURES},
    {"dump-config", optional_argument, NULL, OPT_DUMP_CONFIG},
    {"seed", required_argument, NULL, OPT_SEED},
    {"top", required_argument, NULL, OPT_TOP},
    {"stats", no_argument, NULL, OPT_STATS},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

struct args {
	const char *files[MAX_FILES];
	struct offline_opts oo;
	const char *conf_path, *iface, *socket;
	int test_conf, verbose;
	long baseline;
};

/* Print the usage summary on fp. */
static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: anomd [-c CONF] [-i IFACE] [-m MODEL] [--db PATH] [-S "
	    "SOCKET] "
	    "[-v]\n"
	    "       anomd -r FILE [-r FILE ...] [-c CONF] [--db PATH] [-m "
	    "MODEL]\n"
	    "             [--baseline SECONDS] [--scores OUT.csv] [--eve "
	    "OUT.json]\n"
	    "             [--flows OUT.csv] [--report OUT.html] [--seed N] "
	    "[--top N] [--stats] [-v]\n"
	    "       anomd -r FILE [-r FILE ...] --train-only -m MODEL\n"
	    "       anomd [-c CONF] -t\n"
	    "       anomd --list-features | --dump-config | -h | -V\n"
	    "\n"
	    "  -r, --read FILE      read a pcap or pcapng file (repeatable)\n"
	    "  -c, --config FILE    configuration file (default " DEFAULT_CONF
	    ")\n"
	    "  -t, --test-config    check the configuration and exit\n"
	    "  -i, --interface IF   capture on this interface (live daemon)\n"
	    "  -S, --socket PATH    control socket (live daemon)\n"
	    "  -m, --model MODEL    score with this model (with --train-only: "
	    "write it)\n"
	    "      --db PATH        alert database (default ./" OFFLINE_DB
	    " for -r)\n"
	    "      --train-only     train on all flows of the files, save to "
	    "-m\n"
	    "      --baseline SECS  length of the baseline window\n"
	    "      --scores OUT.csv write one row per scored flow (- = "
	    "stdout)\n"
	    "      --eve OUT.json   write alerts as EVE JSON lines (- = "
	    "stdout)\n"
	    "      --report OUT.html write the analyst's report, one HTML "
	    "page\n"
	    "      --flows OUT.csv  write one row per flow record; alone, only "
	    "flows\n"
	    "      --top N          largest flows shown by a flows-only run\n"
	    "      --seed N         seed the flow hash (default: random)\n"
	    "      --list-features  print the feature table (=man: as roff)\n"
	    "      --dump-config    print the default configuration (=man: "
	    "roff)\n"
	    "      --stats          print the flow counters on stderr\n"
	    "  -v, --verbose        log more (and --stats)\n"
	    "  -h, --help           show this help\n"
	    "  -V, --version        show the version\n");
}

/* Print the feature table, plain or as roff for anomd(8). */
static void
list_features(const char *how)
{
	const struct feat_desc *fd = feat_table();
	int man = how != NULL && strcmp(how, "man") == 0, i;

	if (man)
		printf(".Bl -tag -width Ds\n");
	for (i = 0; i < FEAT_COUNT; i++) {
		if (man)
			printf(".It Cm %s\n%s (%s%s).\n", fd[i].name, fd[i].doc,
			    fd[i].unit,
			    fd[i].xform == FX_LOG1P
				? "; the model takes its log1p"
				: "");
		else
			printf("%2d  %-22s %-9s %-6s %s\n", i, fd[i].name,
			    fd[i].unit,
			    fd[i].xform == FX_LOG1P ? "log1p" : "linear",
			    fd[i].doc);
	}
	if (man)
		printf(".El\n");
}

/* Parse a numeric option or exit with status 2. */
static uint64_t
num_arg(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (parse_u64(s, min, max, &v) != 0) {
		fprintf(stderr, "anomd: %s %s: not a number in [%llu, %llu]\n",
		    opt, s, (unsigned long long)min, (unsigned long long)max);
		exit(2);
	}
	return v;
}

/* Handle one option; exits for the ones that finish the run. */
static void
parse_opt(struct args *a, int ch)
{
	struct offline_opts *o = &a->oo;

	switch (ch) {
	case 'r':
		if (o->nfiles == MAX_FILES) {
			fprintf(stderr, "anomd: at most %d files\n", MAX_FILES);
			exit(2);
		}
		a->files[o->nfiles++] = optarg;
		break;
	case 'c':
		a->conf_path = optarg;
		break;
	case 't':
		a->test_conf = 1;
		break;
	case 'i':
		a->iface = optarg;
		break;
	case 'S':
		a->socket = optarg;
		break;
	case 'm':
		o->model_path = optarg;
		break;
	case OPT_DB:
		o->db_path = optarg;
		break;
	case OPT_FLOWS:
		o->flows_path = optarg;
		break;
	case OPT_SCORES:
		o->scores_path = optarg;
		break;
	case OPT_EVE:
		o->eve_path = optarg;
		break;
	case OPT_REPORT:
		o->report_path = optarg;
		break;
	case OPT_TRAIN_ONLY:
		o->train_only = 1;
		break;
	case OPT_BASELINE:
		a->baseline =
		    (long)num_arg("--baseline", optarg, 10, 30 * 86400);
		break;
	case OPT_LIST_FEATURES:
		list_features(optarg);
		exit(0);
	case OPT_DUMP_CONFIG:
		conf_write_defaults(stdout, optarg && !strcmp(optarg, "man"));
		exit(0);
	case OPT_SEED:
		o->seed = num_arg("--seed", optarg, 1, UINT64_MAX);
		break;
	case OPT_TOP:
		o->top = (int)num_arg("--top", optarg, 0, 50);
		break;
	case 'v':
		a->verbose++;
		a->oo.stats = 1;
		break;
	case OPT_STATS:
		a->oo.stats = 1;
		break;
	case 'h':
		usage(stdout);
		exit(0);
	case 'V':
		printf("anomd %s\n", PACKAGE_VERSION);
		exit(0);
	default:
		usage(stderr);
		exit(2);
	}
}

/* Print one configuration error. */
static void
conf_err_cb(const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "anomd: %s\n", msg);
}

/* Load the configuration; a missing default file means defaults (said
 * unless quiet, as for an offline run). */
static void
load_conf(struct anomd_conf *c, const char *path, int test, int quiet)
{
	const char *p = path ? path : DEFAULT_CONF;
	char *cause = NULL;
	int n;

	conf_defaults(c);
	n = conf_load(c, p, conf_err_cb, NULL, &cause);
	if (n == -ENOENT && path == NULL) {
		if (test)
			printf("%s not found; built-in defaults apply\n", p);
		else if (!quiet)
			log_info("%s not found; built-in defaults apply", p);
		free(cause);
		return;
	}
	if (n < 0) {
		fprintf(stderr, "anomd: %s\n", cause);
		exit(1);
	}
	if (n > 0) {
		fprintf(
		    stderr, "anomd: %s: %d error%s\n", p, n, n == 1 ? "" : "s");
		exit(1);
	}
}

/* Check the eve_* keys together, as the live daemon would at start. */
static void
check_eve(const struct anomd_conf *c)
{
	char *cause = NULL;

	if (evout_check_conf(c, &cause) != 0) {
		fprintf(stderr, "anomd: %s\n", cause ? cause : "eve: invalid");
		free(cause);
		exit(1);
	}
}

/* Check the combination of options; exits 2 on a bad one. */
static void
check_args(struct args *a)
{
	struct offline_opts *o = &a->oo;

	if (o->train_only && o->model_path == NULL) {
		fprintf(
		    stderr, "anomd: --train-only needs -m MODEL to write\n");
		exit(2);
	}
	if (o->train_only && o->report_path != NULL) {
		fprintf(stderr,
		    "anomd: --report needs flows to score, not "
		    "--train-only\n");
		exit(2);
	}
	o->detect = o->train_only || o->model_path || o->db_path ||
	    o->scores_path || o->eve_path || o->report_path ||
	    o->flows_path == NULL;
	if (o->detect && !o->train_only && o->db_path == NULL)
		o->db_path = OFFLINE_DB;
}

/* Refuse an option of max bytes or more. */
static void
check_len(const char *opt, const char *val, size_t max)
{
	if (val != NULL && (*val == '\0' || strlen(val) >= max)) {
		fprintf(stderr, "anomd: %s %s: want 1 to %zu bytes\n", opt, val,
		    max - 1);
		exit(2);
	}
}

/* Print one finding of conf_check. */
static void
check_cb(int error, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "anomd: %s%s\n", error ? "error: " : "warning: ", msg);
}

/* anomd -t: what the key table cannot check alone; the exit status. */
static int
test_conf(struct args *a, struct anomd_conf *c)
{
	if (a->iface != NULL)
		snprintf(c->interface, sizeof(c->interface), "%s", a->iface);
	if (a->socket != NULL)
		snprintf(
		    c->socket_path, sizeof(c->socket_path), "%s", a->socket);
	if (conf_check(c, check_cb, NULL) > 0)
		return 1;
	check_eve(c);
	printf("configuration OK\n");
	return 0;
}

/* Start the live daemon with the command line's overrides. */
static int
run_live(struct args *a, struct anomd_conf *conf)
{
	struct live_opts lo;

	if (a->oo.train_only || a->oo.flows_path || a->oo.scores_path ||
	    a->oo.eve_path || a->oo.report_path) {
		fprintf(stderr,
		    "anomd: --train-only, --flows, --scores, --eve and "
		    "--report need -r FILE\n");
		return 2;
	}
	check_len("--db", a->oo.db_path, CONF_STR_MAX);
	memset(&lo, 0, sizeof(lo));
	lo.conf = conf;
	lo.conf_path = a->conf_path	      ? a->conf_path
	    : access(DEFAULT_CONF, F_OK) == 0 ? DEFAULT_CONF
					      : NULL;
	lo.model_path = a->oo.model_path;
	lo.iface = a->iface;
	lo.socket = a->socket;
	lo.db = a->oo.db_path;
	lo.baseline_s = a->baseline > 0 ? (uint32_t)a->baseline : 0;
	return live_run(&lo);
}

int
main(int argc, char **argv)
{
	static struct anomd_conf conf;
	static struct args a;
	int ch;

	a.oo.files = a.files;
	a.oo.top = 10;
	a.baseline = -1;
	while ((ch = getopt_long(
		    argc, argv, "r:c:ti:S:m:vhV", longopts, NULL)) != -1)
		parse_opt(&a, ch);
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	check_len("-i", a.iface, IFNAMSIZ);
	check_len("-S", a.socket, sizeof(((struct sockaddr_un *)0)->sun_path));
	log_init("anomd", 1, a.verbose);
	load_conf(&conf, a.conf_path, a.test_conf, a.oo.nfiles > 0);
	if (a.baseline > 0)
		conf.baseline_seconds = (uint32_t)a.baseline;
	a.oo.baseline_given = a.baseline > 0;
	if (a.test_conf)
		return test_conf(&a, &conf);
	if (a.oo.nfiles == 0)
		return run_live(&a, &conf);
	check_args(&a);
	a.oo.conf = &conf;
	return offline_run(&a.oo);
}
