/* The flows CSV: one row per ended or interim flow, every feature named. */
#include <inttypes.h>
#include <stdio.h>

#include "daemon/daemon.h"

/* Write the header line. */
int
flowcsv_header(FILE *fp)
{
	const struct feat_desc *fd = feat_table();
	int i;

	fputs("flow_id,ts_first,ts_last,proto,src_ip,src_port,dst_ip,dst_port,"
	      "packets,bytes,end",
	    fp);
	for (i = 0; i < FEAT_COUNT; i++)
		fprintf(fp, ",%s", fd[i].name);
	return fputc('\n', fp) == EOF ? -1 : 0;
}

/* Write one record. */
int
flowcsv_row(FILE *fp, const struct flow_record *r)
{
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], t0[32], t1[32];
	int i;

	fprintf(fp, "%" PRIu64 ",%s,%s,%u,%s,%u,%s,%u,%" PRIu64 ",%" PRIu64
		    ",%s",
	    r->id, ts_str(r->ts_first_us, t0), ts_str(r->ts_last_us, t1),
	    r->proto, addr_str(r->src, a), r->sport, addr_str(r->dst, b),
	    r->dport, r->packets, r->bytes, flow_end_name(r->end));
	for (i = 0; i < FEAT_COUNT; i++)
		fprintf(fp, ",%.6g", (double)r->feat[i]);
	return fputc('\n', fp) == EOF ? -1 : 0;
}
