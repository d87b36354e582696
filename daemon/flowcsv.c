/*
 * The flows CSV: one row per ended or interim flow, every feature named.
 * Rows are built in a buffer with hand-written number formatting: printf
 * with %g cost more than decoding and flow tracking together.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"

#define ROW_MAX (FEAT_COUNT * 24 + 256)

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

static const char digit_pairs[201] = "00010203040506070809"
				     "10111213141516171819"
				     "20212223242526272829"
				     "30313233343536373839"
				     "40414243444546474849"
				     "50515253545556575859"
				     "60616263646566676869"
				     "70717273747576777879"
				     "80818283848586878889"
				     "90919293949596979899";

/* Write an unsigned decimal at p; returns its length. */
static size_t
fmt_u64(char *p, uint64_t v)
{
	char tmp[24], *t = tmp + sizeof(tmp);
	size_t n;

	if (v < 10) {
		*p = (char)('0' + v);
		return 1;
	}
	while (v >= 100) {
		t -= 2;
		memcpy(t, digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		t -= 2;
		memcpy(t, digit_pairs + 2 * v, 2);
	} else
		*--t = (char)('0' + v);
	n = (size_t)(tmp + sizeof(tmp) - t);
	memcpy(p, t, n);
	return n;
}

/*
 * Write v with at most six decimals, trailing zeros dropped; values too
 * large for that, or not finite, fall back to %g.
 */
static size_t
fmt_feat(char *p, float v)
{
	double d = v, a = fabs(d);
	uint64_t scaled, ip, fp;
	size_t n = 0;
	int digits;

	if (!isfinite(d) || a >= 1e12)
		return (size_t)snprintf(p, 24, "%g", d);
	if (d >= 0 && d == (double)(uint64_t)d) /* counts: most features */
		return fmt_u64(p, (uint64_t)d);
	if (d < 0)
		p[n++] = '-';
	scaled = (uint64_t)(a * 1e6 + 0.5);
	ip = scaled / 1000000u;
	fp = scaled % 1000000u;
	n += fmt_u64(p + n, ip);
	if (fp == 0)
		return n == 2 && ip == 0 ? (p[0] = '0', 1) : n;
	p[n++] = '.';
	for (digits = 6; fp % 10 == 0; digits--)
		fp /= 10;
	for (int i = digits - 1; i >= 0; i--, fp /= 10)
		p[n + (size_t)i] = (char)('0' + fp % 10);
	return n + (size_t)digits;
}

/* Append a string at p; returns its length. */
static size_t
put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return n;
}

/* Append microseconds as seconds with six decimals. */
static size_t
put_ts(char *p, uint64_t us)
{
	size_t n = fmt_u64(p, us / 1000000u);
	uint64_t frac = us % 1000000u;
	int i;

	p[n++] = '.';
	for (i = 5; i >= 0; i--, frac /= 10)
		p[n + (size_t)i] = (char)('0' + frac % 10);
	return n + 6;
}

/* Write one record. */
int
flowcsv_row(FILE *fp, const struct flow_record *r)
{
	char row[ROW_MAX], a[ADDR_STR_LEN];
	const uint64_t num[2] = {r->packets, r->bytes};
	size_t n;
	int i;

	n = fmt_u64(row, r->id);
	row[n++] = ',';
	n += put_ts(row + n, r->ts_first_us);
	row[n++] = ',';
	n += put_ts(row + n, r->ts_last_us);
	row[n++] = ',';
	n += fmt_u64(row + n, r->proto);
	row[n++] = ',';
	n += put_str(row + n, addr_str(r->src, a));
	row[n++] = ',';
	n += fmt_u64(row + n, r->sport);
	row[n++] = ',';
	n += put_str(row + n, addr_str(r->dst, a));
	row[n++] = ',';
	n += fmt_u64(row + n, r->dport);
	for (i = 0; i < 2; i++) {
		row[n++] = ',';
		n += fmt_u64(row + n, num[i]);
	}
	row[n++] = ',';
	n += put_str(row + n, flow_end_name(r->end));
	for (i = 0; i < FEAT_COUNT; i++) {
		row[n++] = ',';
		n += fmt_feat(row + n, r->feat[i]);
	}
	row[n++] = '\n';
	return fwrite(row, 1, n, fp) == n ? 0 : -1;
}
