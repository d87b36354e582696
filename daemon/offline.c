/*
 * The offline job: read capture files in order, assemble flows by packet
 * time, write the flows CSV and print what was found.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

#define OFFLINE_BATCH 4096 /* frames per dispatch */
#define OFFLINE_TOP_MAX 50

struct offline {
	const struct offline_opts *o;
	FILE *flows;
	int flows_err;
	struct flowtab *ft;
	int dlt;
	struct flow_record top[OFFLINE_TOP_MAX];
	int ntop;
};

/* Keep the records with the most bytes, largest first. */
static void
top_add(struct offline *off, const struct flow_record *r)
{
	int n = off->ntop, i;

	if (off->o->top <= 0)
		return;
	if (n == off->o->top && r->bytes <= off->top[n - 1].bytes)
		return;
	if (n < off->o->top)
		off->ntop = ++n;
	for (i = n - 1; i > 0 && off->top[i - 1].bytes < r->bytes; i--)
		off->top[i] = off->top[i - 1];
	off->top[i] = *r;
}

/* A flow ended: write it and rank it. */
static void
record_cb(const struct flow_record *r, void *arg)
{
	struct offline *off = arg;

	if (off->flows != NULL && !off->flows_err &&
	    flowcsv_row(off->flows, r) != 0)
		off->flows_err = errno ? errno : EIO;
	top_add(off, r);
}

/* A frame was read. */
static void
frame_cb(const struct cap_frame *f, void *arg)
{
	struct offline *off = arg;

	flowtab_frame(off->ft, off->dlt, f);
}

/* Read one file to its end; returns 0, or -1 when it could not be read. */
static int
read_file(struct offline *off, const char *path)
{
	struct cap_source_opts so = {.file = path};
	struct cap_source *src;
	char *cause = NULL;
	int eof = 0, n;

	if (cap_source_open(&src, &so, &cause) != 0) {
		log_warnx("%s", cause ? cause : "capture: open failed");
		free(cause);
		return -1;
	}
	off->dlt = cap_source_linktype(src);
	while (!eof) {
		n = cap_source_dispatch(src, OFFLINE_BATCH, frame_cb, off, &eof,
		    &cause);
		if (n < 0) {
			log_warnx("%s: %s; keeping what was read before it",
			    path, cause ? cause : "read error");
			free(cause);
			break;
		}
	}
	cap_source_close(src);
	return 0;
}

/* Print the counters, one "name value" line each, on stderr. */
static void
print_stats(struct flowtab *ft)
{
	const struct cap_stats *st = flowtab_stats(ft);
	int i;

	fprintf(stderr, "frames %" PRIu64 "\nbytes %" PRIu64 "\n", st->frames,
	    st->bytes);
	fprintf(stderr, "ip %" PRIu64 "\narp %" PRIu64 "\nother_link %" PRIu64
			"\n", st->ip, st->arp, st->other_link);
	fprintf(stderr, "fragments_later %" PRIu64 "\nicmp_errors_matched %"
			PRIu64 "\n", st->fragments_later, st->icmp_errors_matched);
	fprintf(stderr, "flows %" PRIu64 "\n", st->flows_created);
	for (i = 0; i < FLOW_END_COUNT; i++)
		fprintf(stderr, "records_%s %" PRIu64 "\n",
		    flow_end_name((enum flow_end)i), st->flows_ended[i]);
	fprintf(stderr, "flows_evicted %" PRIu64 "\nhosts_evicted %" PRIu64
			"\n", st->flows_evicted, st->hosts_evicted);
	fprintf(stderr, "flows_max %" PRIu64 "\nhosts_max %" PRIu64 "\n",
	    st->flows_max, st->hosts_max);
	fprintf(stderr, "flow_state_bytes_per_flow %zu\n",
	    flowtab_bytes_per_flow());
	for (i = 0; i < MAL_COUNT; i++)
		fprintf(stderr, "malformed_%s %" PRIu64 "\n",
		    cap_malformed_name((enum cap_malformed)i), st->malformed[i]);
}

/* Format "address:port" (IPv6 in brackets). */
static const char *
endpoint_str(const uint8_t *addr, uint16_t port, char *buf, size_t len)
{
	char a[ADDR_STR_LEN];

	addr_str(addr, a);
	snprintf(buf, len, strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

/* Print the largest flows on stdout. */
static void
print_top(const struct offline *off)
{
	char a[ADDR_STR_LEN + 8], b[ADDR_STR_LEN + 8];
	const struct flow_record *r;
	int i;

	if (off->ntop == 0)
		return;
	printf("top %d flows by bytes:\n", off->ntop);
	printf("  %5s  %-28s %-28s %8s %11s %9s  %s\n", "proto", "initiator",
	    "responder", "packets", "bytes", "seconds", "end");
	for (i = 0; i < off->ntop; i++) {
		r = &off->top[i];
		printf("  %5u  %-28s %-28s %8" PRIu64 " %11" PRIu64
		       " %9.3f  %s\n",
		    r->proto, endpoint_str(r->src, r->sport, a, sizeof(a)),
		    endpoint_str(r->dst, r->dport, b, sizeof(b)), r->packets,
		    r->bytes, (double)(r->ts_last_us - r->ts_first_us) / 1e6,
		    flow_end_name(r->end));
	}
}

/* Open the flows CSV named by path ("-" is stdout). */
static FILE *
open_flows(const char *path)
{
	FILE *fp;

	if (path == NULL)
		return NULL;
	fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (fp == NULL)
		fatal("flows: open %s", path);
	flowcsv_header(fp);
	return fp;
}

/* Run the offline job. */
int
offline_run(const struct offline_opts *o)
{
	struct offline off;
	size_t i;
	int failed = 0;

	memset(&off, 0, sizeof(off));
	off.o = o;
	if ((off.ft = flowtab_create(&o->ft, record_cb, &off)) == NULL)
		fatal("flowtab: create");
	off.flows = open_flows(o->flows_path);
	for (i = 0; i < o->nfiles; i++)
		failed |= read_file(&off, o->files[i]) != 0;
	flowtab_flush(off.ft, FLOW_END_FLUSH);
	if (off.flows != NULL && (fflush(off.flows) != 0 || off.flows_err)) {
		errno = off.flows_err ? off.flows_err : errno;
		log_warn("flows: write %s", o->flows_path);
		failed = 1;
	}
	if (off.flows != NULL && off.flows != stdout && fclose(off.flows) != 0)
		failed = 1;
	print_stats(off.ft);
	if (off.flows != stdout)
		print_top(&off);
	flowtab_free(off.ft);
	return failed ? 1 : 0;
}
