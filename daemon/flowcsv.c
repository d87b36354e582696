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

/* Decimal digits of v. */
static inline size_t
digits_u64(uint64_t v)
{
	size_t n = 1;

	for (; v >= 10000; v /= 10000)
		n += 4;
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/*
 * Write an unsigned decimal at p; returns its length.  The digits go
 * straight to their places, two at a time, from the last.
 */
static size_t
fmt_u64(char *p, uint64_t v)
{
	size_t n, i;

	if (v < 10) {
		*p = (char)('0' + v);
		return 1;
	}
	if (v < 100) {
		memcpy(p, digit_pairs + 2 * v, 2);
		return 2;
	}
	n = i = digits_u64(v);
	while (v >= 100) {
		i -= 2;
		memcpy(p + i, digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(p + i - 2, digit_pairs + 2 * v, 2);
	else
		p[i - 1] = (char)('0' + v);
	return n;
}

/*
 * Write v with at most six decimals, trailing zeros dropped; values too
 * large for that, or not finite, fall back to %g.  Zero, the commonest
 * value, and whole numbers take the short paths; the six decimals are
 * written as three digit pairs.
 */
static size_t
fmt_feat(char *p, float v)
{
	double d = v, a;
	uint64_t scaled, ip;
	uint32_t fp;
	size_t n = 0, digits;
	char dec[6];

	if (v == 0.0f) {
		*p = '0';
		return 1;
	}
	a = fabs(d);
	if (!isfinite(d) || a >= 1e12)
		return (size_t)snprintf(p, 24, "%g", d);
	/* counts, most features: whole and below 2^24, exact as a float */
	if (v > 0.0f && v < 16777216.0f && (float)(uint32_t)v == v)
		return fmt_u64(p, (uint32_t)v);
	if (d > 0 && d == (double)(uint64_t)d)
		return fmt_u64(p, (uint64_t)d);
	if (d < 0)
		p[n++] = '-';
	scaled = (uint64_t)(a * 1e6 + 0.5);
	ip = scaled / 1000000u;
	fp = (uint32_t)(scaled % 1000000u);
	n += fmt_u64(p + n, ip);
	if (fp == 0)
		return n == 2 && ip == 0 ? (p[0] = '0', 1) : n;
	p[n++] = '.';
	memcpy(dec, digit_pairs + 2 * (fp / 10000u), 2);
	memcpy(dec + 2, digit_pairs + 2 * (fp / 100u % 100u), 2);
	memcpy(dec + 4, digit_pairs + 2 * (fp % 100u), 2);
	for (digits = 6; dec[digits - 1] == '0'; digits--)
		;
	memcpy(p + n, dec, 6);
	return n + digits;
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
