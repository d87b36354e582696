/*
 * anomd: network anomaly-detection daemon.  This file parses the command
 * line and hands over to the job it names.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

#define MAX_FILES 64

enum {
	OPT_FLOWS = 256,
	OPT_LIST_FEATURES,
	OPT_SEED,
	OPT_TOP,
};

static const struct option longopts[] = {
    {"read", required_argument, NULL, 'r'},
    {"flows", required_argument, NULL, OPT_FLOWS},
    {"list-features", no_argument, NULL, OPT_LIST_FEATURES},
    {"seed", required_argument, NULL, OPT_SEED},
    {"top", required_argument, NULL, OPT_TOP},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Print the usage summary on fp. */
static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: anomd -r FILE [-r FILE ...] [--flows OUT.csv] [--top N]\n"
	    "             [--seed N] [-v]\n"
	    "       anomd --list-features | -h | -V\n"
	    "\n"
	    "  -r, --read FILE      read a pcap or pcapng file (repeatable)\n"
	    "      --flows OUT.csv  write one row per flow record (- = stdout)\n"
	    "      --top N          show the N largest flows (default 10)\n"
	    "      --seed N         seed the flow hash (default: random)\n"
	    "      --list-features  print the feature table and exit\n"
	    "  -v, --verbose        log more\n"
	    "  -h, --help           show this help\n"
	    "  -V, --version        show the version\n");
}

/* Print the feature table. */
static void
list_features(void)
{
	const struct feat_desc *fd = feat_table();
	int i;

	for (i = 0; i < FEAT_COUNT; i++)
		printf("%2d  %-22s %-9s %-6s %s\n", i, fd[i].name, fd[i].unit,
		    fd[i].xform == FX_LOG1P ? "log1p" : "linear", fd[i].doc);
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

int
main(int argc, char **argv)
{
	static const char *files[MAX_FILES];
	struct offline_opts oo;
	int ch, verbose = 0;

	memset(&oo, 0, sizeof(oo));
	oo.files = files;
	oo.top = 10;
	flowtab_opts_default(&oo.ft);
	while ((ch = getopt_long(argc, argv, "r:vhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (oo.nfiles == MAX_FILES) {
				fprintf(stderr, "anomd: at most %d files\n",
				    MAX_FILES);
				return 2;
			}
			files[oo.nfiles++] = optarg;
			break;
		case OPT_FLOWS:
			oo.flows_path = optarg;
			break;
		case OPT_LIST_FEATURES:
			list_features();
			return 0;
		case OPT_SEED:
			oo.ft.seed = num_arg("--seed", optarg, 1, UINT64_MAX);
			break;
		case OPT_TOP:
			oo.top = (int)num_arg("--top", optarg, 0, 50);
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("anomd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || oo.nfiles == 0) {
		usage(stderr);
		return 2;
	}
	log_init("anomd", 1, verbose);
	return offline_run(&oo);
}
