/*
 * The alert path: one owner for an alert from the detector's result to its
 * store row, its EVE line and its stream line.
 *
 * The explanation stays a struct model_expl[] until it is written here,
 * once, by a small JSON writer (integers as integers, floats with a fixed
 * number of decimals, no -0, no exponent).  The store keeps that text as
 * it is given; the socket's rows and the EVE lines are written by the same
 * functions, so that they share field names.
 *
 * Every alert gets a counter: stored (a new row), folded into an earlier
 * row, capped (alert_rate_max), dropped (store queue full) or rejected.
 * The store is asked first what it would do (store_alert_fate()); only an
 * alert that makes a new row (or, with no store, every alert written to
 * EVE) costs its explanation, a second pass through the model, and JSON:
 * its explanation, EVE line and stream line.  A cap or drop logs a warning at
 * most once a minute, with counts.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "daemon/daemon.h"
#include "model/model.h"
#include "store/store.h"

#define ALERT_WARN_EVERY_S 60 /* a drop warning at most this often */

/* ---- JSON writer -------------------------------------------------------- */

/* Start an empty document. */
void
jw_init(struct jw *w)
{
	w->len = 0;
	w->err = 0;
	w->comma = 0;
	w->buf[0] = '\0';
}

/* Append n raw bytes. */
void
jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->err || n >= sizeof(w->buf) - w->len) {
		w->err = 1;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Append one character. */
static void
jw_ch(struct jw *w, char c)
{
	jw_raw(w, &c, 1);
}

/* A comma when a value came before, then "key": when key is not NULL. */
static void
jw_sep(struct jw *w, const char *key)
{
	if (w->comma)
		jw_ch(w, ',');
	w->comma = 1;
	if (key != NULL) {
		jw_ch(w, '"');
		jw_raw(w, key, strlen(key));
		jw_raw(w, "\":", 2);
	}
}

/* Append s as a JSON string, escaped. */
static void
jw_quote(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char e[6] = {'\\', 'u', '0', '0', 0, 0};
	size_t run;

	jw_ch(w, '"');
	while (*p != '\0') {
		for (run = 0; p[run] >= 0x20 && p[run] != '"' && p[run] != '\\';
		     run++)
			continue;
		jw_raw(w, (const char *)p, run);
		p += run;
		if (*p == '\0')
			break;
		if (*p == '"' || *p == '\\') {
			e[1] = (char)*p;
			jw_raw(w, e, 2);
		} else {
			e[1] = 'u';
			e[4] = hex[*p >> 4];
			e[5] = hex[*p & 15];
			jw_raw(w, e, 6);
		}
		p++;
	}
	jw_ch(w, '"');
}

/* Open an object ('{') or array ('['), under key when not NULL. */
void
jw_open(struct jw *w, const char *key, char c)
{
	jw_sep(w, key);
	jw_ch(w, c);
	w->comma = 0;
}

/* Close an object or array. */
void
jw_close(struct jw *w, char c)
{
	jw_ch(w, c);
	w->comma = 1;
}

/* Add a string. */
void
jw_str(struct jw *w, const char *key, const char *s)
{
	jw_sep(w, key);
	jw_quote(w, s);
}

/* Format v in decimal at the end of buf[24]; returns the start. */
static char *
u64_text(uint64_t v, char buf[24])
{
	char *p = buf + 23;

	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return p;
}

/* Add an unsigned integer. */
void
jw_u64(struct jw *w, const char *key, uint64_t v)
{
	char buf[24], *p = u64_text(v, buf);

	jw_sep(w, key);
	jw_raw(w, p, strlen(p));
}

/* Add a signed integer. */
void
jw_i64(struct jw *w, const char *key, int64_t v)
{
	char buf[24],
	    *p = u64_text(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, buf);

	jw_sep(w, key);
	if (v < 0)
		jw_ch(w, '-');
	jw_raw(w, p, strlen(p));
}

/* Add an id, or null when it is 0 (none). */
void
jw_id(struct jw *w, const char *key, int64_t v)
{
	if (v == 0)
		jw_null(w, key);
	else
		jw_i64(w, key, v);
}

/* Add null. */
void
jw_null(struct jw *w, const char *key)
{
	jw_sep(w, key);
	jw_raw(w, "null", 4);
}

/* Add a boolean. */
void
jw_bool(struct jw *w, const char *key, int v)
{
	jw_sep(w, key);
	jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

/*
 * Format v with at most dec (0..9) decimals, trailing zeros dropped, into
 * buf[48]: never an exponent, never -0; NaN and infinities give "null".
 */
const char *
jw_num_text(double v, int dec, char buf[48])
{
	static const double p10[] = {
	    1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
	uint64_t ip, fp, scale;
	char ib[24], *q = buf, *p;
	double r;
	int neg, i;

	if (!isfinite(v))
		return strcpy(buf, "null");
	if (dec < 0)
		dec = 0;
	if (dec > 9)
		dec = 9;
	neg = v < 0;
	r = round(fabs(v) * p10[dec]);
	if (r >= 9e15) { /* beyond exact: a whole number is exact enough */
		snprintf(buf, 48, "%.0f", neg ? -round(fabs(v)) : round(v));
		return buf;
	}
	if (r == 0)
		return strcpy(buf, "0");
	scale = (uint64_t)p10[dec];
	ip = (uint64_t)r / scale;
	fp = (uint64_t)r % scale;
	if (neg)
		*q++ = '-';
	p = u64_text(ip, ib);
	memcpy(q, p, strlen(p));
	q += strlen(p);
	if (fp != 0) {
		*q++ = '.';
		for (i = dec - 1; i >= 0; i--) {
			q[i] = (char)('0' + fp % 10);
			fp /= 10;
		}
		q += dec;
		while (q[-1] == '0')
			q--;
	}
	*q = '\0';
	return buf;
}

/* Add a number with at most dec decimals. */
void
jw_num(struct jw *w, const char *key, double v, int dec)
{
	char buf[48];

	jw_sep(w, key);
	jw_num_text(v, dec, buf);
	jw_raw(w, buf, strlen(buf));
}

/* Add JSON text as it is (the caller vouches for it). */
void
jw_json(struct jw *w, const char *key, const char *text)
{
	jw_sep(w, key);
	jw_raw(w, text, strlen(text));
}

/* ---- names and keys ----------------------------------------------------- */

/* The name of a finding kind. */
const char *
alert_finding_name(unsigned int f)
{
	switch (f) {
	case STORE_FINDING_FLOW:
		return "flow";
	case STORE_FINDING_RESPONDER:
		return "responder";
	case STORE_FINDING_BEACON:
		return "beacon";
	default:
		return "unknown";
	}
}

/* The name of what an incident is about. */
const char *
alert_about_name(unsigned int a)
{
	switch (a) {
	case STORE_ABOUT_INITIATOR:
		return "initiator";
	case STORE_ABOUT_RESPONDER:
		return "responder";
	default:
		return "unknown";
	}
}

/* Severity 1 (high) to 3 from score / threshold. */
int
alert_severity(double score, double threshold)
{
	double m;

	if (!(threshold > 0) || !isfinite(score))
		return 1;
	m = score / threshold;
	return m >= ALERT_SEVERITY_HIGH	 ? 1
	    : m >= ALERT_SEVERITY_MEDIUM ? 2
					 : 3;
}

/* Mix 8 bytes into a 64-bit hash state (splitmix64 finaliser). */
static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* A stable 51-bit flow id from the flow's key and its first packet. */
uint64_t
alert_flow_id(const struct flow_record *r)
{
	uint64_t h = 0x616e6f6d64ULL, v;
	int i;

	for (i = 0; i < CAP_ADDR_LEN; i += 8) {
		memcpy(&v, r->src + i, 8);
		h = mix(h, v);
		memcpy(&v, r->dst + i, 8);
		h = mix(h, v);
	}
	h = mix(
	    h, (uint64_t)r->proto << 32 | (uint64_t)r->sport << 16 | r->dport);
	h = mix(h, r->ts_first_us);
	h &= (UINT64_C(1) << 51) - 1;
	return h != 0 ? h : 1;
}

/* Rotate left. */
static uint32_t
rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

/* One 64-byte block of SHA-1 (FIPS 180-4). */
static void
sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

/* SHA-1 of p[0..n) into out[20]. */
void
alert_sha1(const void *p, size_t n, uint8_t out[20])
{
	uint32_t h[5] = {
	    0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
	const uint8_t *s = p;
	uint8_t last[128];
	uint64_t bits = (uint64_t)n * 8;
	size_t i, tail, len;

	for (i = 0; i + 64 <= n; i += 64)
		sha1_block(h, s + i);
	tail = n - i;
	memset(last, 0, sizeof(last));
	memcpy(last, s + i, tail);
	last[tail] = 0x80;
	len = tail + 9 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		last[len - 1 - i] = (uint8_t)(bits >> (8 * i));
	sha1_block(h, last);
	if (len == 128)
		sha1_block(h, last + 64);
	for (i = 0; i < 20; i++)
		out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* The ICMP type that answers type t (Community ID's table), or -1. */
static int
icmp_counterpart(uint8_t proto, uint8_t t)
{
	static const uint8_t v4[][2] = {{8, 0}, {0, 8}, {13, 14}, {14, 13},
	    {15, 16}, {16, 15}, {10, 9}, {9, 10}, {17, 18}, {18, 17}};
	static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {133, 134},
	    {134, 133}, {135, 136}, {136, 135}, {130, 131}, {131, 130},
	    {144, 145}, {145, 144}, {146, 147}, {147, 146}, {139, 140},
	    {140, 139}};
	size_t i;

	if (proto == 1) {
		for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
			if (v4[i][0] == t)
				return v4[i][1];
	} else
		for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
			if (v6[i][0] == t)
				return v6[i][1];
	return -1;
}

/*
 * Community ID v1 of a flow: "1:" + base64(SHA-1(seed, saddr, daddr,
 * proto, 0, sport, dport)), the endpoints in canonical order.  For ICMP
 * sport is the type and dport the code, or the answering type.
 */
const char *
alert_community_id(int v6, const uint8_t *src, const uint8_t *dst,
    uint8_t proto, uint16_t sport, uint16_t dport, uint16_t seed,
    char buf[ALERT_COMMUNITY_ID_LEN])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t m[2 + 16 + 16 + 2 + 4], dig[20];
	const uint8_t *a = src, *b = dst;
	size_t alen = v6 ? 16 : 4, n = 0, i;
	int ports = proto == 1 || proto == 6 || proto == 17 || proto == 58 ||
	    proto == 132,
	    one_way = 0, c, cmp;
	uint16_t pa = sport, pb = dport, t;
	char *q = buf;
	uint32_t x;

	if (!v6) {
		a += 12;
		b += 12;
	}
	if (proto == 1 || proto == 58) {
		if ((c = icmp_counterpart(proto, (uint8_t)sport)) >= 0)
			pb = (uint16_t)c;
		else
			one_way = 1;
	}
	cmp = memcmp(a, b, alen);
	if (!one_way && (cmp > 0 || (cmp == 0 && pa > pb))) {
		const uint8_t *s = a;

		a = b;
		b = s;
		t = pa;
		pa = pb;
		pb = t;
	}
	m[n++] = (uint8_t)(seed >> 8);
	m[n++] = (uint8_t)seed;
	memcpy(m + n, a, alen);
	n += alen;
	memcpy(m + n, b, alen);
	n += alen;
	m[n++] = proto;
	m[n++] = 0;
	if (ports) {
		m[n++] = (uint8_t)(pa >> 8);
		m[n++] = (uint8_t)pa;
		m[n++] = (uint8_t)(pb >> 8);
		m[n++] = (uint8_t)pb;
	}
	alert_sha1(m, n, dig);
	*q++ = '1';
	*q++ = ':';
	for (i = 0; i < 20; i += 3) {
		x = (uint32_t)dig[i] << 16;
		if (i + 1 < 20)
			x |= (uint32_t)dig[i + 1] << 8;
		if (i + 2 < 20)
			x |= dig[i + 2];
		*q++ = b64[x >> 18 & 63];
		*q++ = b64[x >> 12 & 63];
		*q++ = i + 1 < 20 ? b64[x >> 6 & 63] : '=';
		*q++ = i + 2 < 20 ? b64[x & 63] : '=';
	}
	*q = '\0';
	return buf;
}

/* ---- shapes ------------------------------------------------------------- */

/* Write an explanation: an array of {feature, value, baseline_p50, ...}. */
void
alert_expl_write(
    struct jw *w, const char *key, const struct model_expl *ex, size_t n)
{
	const struct feat_desc *fd = feat_table();
	size_t i;

	jw_open(w, key, '[');
	for (i = 0; i < n; i++) {
		jw_open(w, NULL, '{');
		jw_str(w, "feature",
		    ex[i].feature < FEAT_COUNT ? fd[ex[i].feature].name : "?");
		jw_num(w, "value", ex[i].value, ALERT_VALUE_DECIMALS);
		jw_num(w, "baseline_p50", ex[i].p50, ALERT_VALUE_DECIMALS);
		jw_num(w, "baseline_p99", ex[i].p99, ALERT_VALUE_DECIMALS);
		jw_num(w, "share", ex[i].share, ALERT_SHARE_DECIMALS);
		jw_close(w, '}');
	}
	jw_close(w, ']');
}

/* Whether text parses as JSON (for text read back from the database). */
static int
is_json(const char *text)
{
	cJSON *o = cJSON_Parse(text);

	cJSON_Delete(o);
	return o != NULL;
}

/* Add stored JSON text under key: "" is [], text that is not JSON null. */
static void
stored_json(struct jw *w, const char *key, const char *text, int trusted)
{
	if (text[0] == '\0')
		jw_json(w, key, "[]");
	else if (trusted || is_json(text))
		jw_json(w, key, text);
	else
		jw_null(w, key);
}

/* Add an ISO 8601 time. */
static void
jw_time(struct jw *w, const char *key, uint64_t us)
{
	char t[64];

	jw_str(w, key, iso_time(us, t));
}

/* Write the fields of an alert row (the socket's shape), no braces. */
static void
row_fields(struct jw *w, const struct store_alert *a, int trusted)
{
	uint64_t count = a->count != 0 ? a->count : 1;
	uint64_t last = a->last_us != 0 ? a->last_us : a->ts_us;
	char pb[8];

	jw_i64(w, "id", a->id);
	jw_time(w, "timestamp", a->ts_us);
	jw_u64(w, "ts_us", a->ts_us);
	jw_time(w, "flow_start", a->ts_first_us);
	jw_time(w, "flow_end", a->ts_last_us);
	jw_time(w, "last_timestamp", last);
	jw_str(w, "proto", proto_name(a->proto, pb));
	jw_str(w, "src_ip", a->src_ip);
	jw_u64(w, "src_port", a->src_port);
	jw_str(w, "dest_ip", a->dst_ip);
	jw_u64(w, "dest_port", a->dst_port);
	jw_u64(w, "packets", a->packets);
	jw_u64(w, "bytes", a->bytes);
	jw_num(w, "score", a->score, ALERT_SCORE_DECIMALS);
	jw_num(w, "threshold", a->threshold, ALERT_SCORE_DECIMALS);
	jw_u64(w, "severity", (uint64_t)alert_severity(a->score, a->threshold));
	jw_str(w, "model_id", a->model_id);
	jw_u64(w, "count", count);
	stored_json(w, "explanation", a->explanation, trusted);
	jw_str(w, "finding", alert_finding_name(a->finding));
	jw_id(w, "incident_id", a->incident_id);
}

/* Write an alert row as one JSON object (the socket's alert shape). */
void
alert_row_write(struct jw *w, const struct store_alert *a, int trusted)
{
	jw_open(w, NULL, '{');
	row_fields(w, a, trusted);
	jw_close(w, '}');
}

/* Write the fields of an incident row, no braces. */
static void
incident_fields(struct jw *w, const struct store_incident *inc, int trusted)
{
	jw_i64(w, "id", inc->id);
	jw_time(w, "first_timestamp", inc->first_us);
	jw_time(w, "last_timestamp", inc->last_us);
	jw_u64(w, "first_us", inc->first_us);
	jw_u64(w, "last_us", inc->last_us);
	jw_str(w, "about", alert_about_name(inc->about));
	jw_str(w, "host", inc->host);
	jw_u64(w, "alerts", inc->alerts);
	jw_u64(w, "flows", inc->flows);
	jw_u64(w, "peers_n", inc->peers_n);
	jw_u64(w, "ports_n", inc->ports_n);
	stored_json(w, "peers", inc->peers, trusted);
	stored_json(w, "ports", inc->ports, trusted);
	jw_num(w, "score_max", inc->score_max, ALERT_SCORE_DECIMALS);
	jw_str(w, "summary", inc->summary);
	stored_json(w, "evidence", inc->evidence, trusted);
	jw_str(w, "model_id", inc->model_id);
}

/* Write an incident row as one JSON object (the socket's shape). */
void
alert_incident_write(
    struct jw *w, const struct store_incident *inc, int trusted)
{
	jw_open(w, NULL, '{');
	incident_fields(w, inc, trusted);
	jw_close(w, '}');
}

/* Parse what a writer made into cJSON; NULL when it overflowed. */
static cJSON *
jw_cjson(const struct jw *w)
{
	return w->err ? NULL : cJSON_Parse(w->buf);
}

/* The socket's JSON object of an alert row (caller frees), or NULL. */
cJSON *
alert_row_json(const struct store_alert *a)
{
	static __thread struct jw w;

	jw_init(&w);
	alert_row_write(&w, a, 0);
	return jw_cjson(&w);
}

/* The socket's JSON object of an incident row (caller frees), or NULL. */
cJSON *
alert_incident_json(const struct store_incident *inc)
{
	static __thread struct jw w;

	jw_init(&w);
	alert_incident_write(&w, inc, 0);
	return jw_cjson(&w);
}

/* ---- the writer --------------------------------------------------------- */

struct alert_out {
	struct alert_out_opts o;
	char sensor[CONF_STR_MAX];
	struct alert_out_stats st;
	struct jw expl, line;
	uint64_t warned_at_s; /* monotonic seconds of the last drop warning */
	uint64_t warned_capped, warned_dropped, warned_rejected;
	int inc_warned;
};

/* Monotonic seconds. */
static uint64_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Create the alert writer (exits on OOM). */
struct alert_out *
alert_out_create(const struct alert_out_opts *o)
{
	struct alert_out *ao;

	if ((ao = calloc(1, sizeof(*ao))) == NULL)
		fatal("alert: create");
	ao->o = *o;
	if (o->sensor != NULL && o->sensor[0] != '\0')
		snprintf(ao->sensor, sizeof(ao->sensor), "%s", o->sensor);
	else if (gethostname(ao->sensor, sizeof(ao->sensor) - 1) != 0)
		snprintf(ao->sensor, sizeof(ao->sensor), "anomd");
	ao->o.sensor = ao->sensor;
	return ao;
}

/* Free the writer; NULL does nothing. */
void
alert_out_free(struct alert_out *ao)
{
	free(ao);
}

/* The writer's counters. */
const struct alert_out_stats *
alert_out_stats(const struct alert_out *ao)
{
	return &ao->st;
}

/* Set where live EVE lines go (NULL: none); the live daemon reopens it. */
void
alert_out_set_evout(struct alert_out *ao, struct evout *ev)
{
	ao->o.evout = ev;
}

/* Warn about caps and drops, at most once a minute, with counts. */
static void
warn_drops(struct alert_out *ao)
{
	uint64_t now = mono_s();
	const struct alert_out_stats *s = &ao->st;

	if (ao->warned_at_s != 0 && now < ao->warned_at_s + ALERT_WARN_EVERY_S)
		return;
	ao->warned_at_s = now != 0 ? now : 1;
	log_warnx("alerts: %" PRIu64 " capped by alert_rate_max, %" PRIu64
		  " dropped (store queue full), %" PRIu64
		  " rejected since the last warning; %" PRIu64 " capped, "
		  "%" PRIu64 " dropped, %" PRIu64 " rejected in all",
	    s->capped - ao->warned_capped, s->dropped - ao->warned_dropped,
	    s->rejected - ao->warned_rejected, s->capped, s->dropped,
	    s->rejected);
	ao->warned_capped = s->capped;
	ao->warned_dropped = s->dropped;
	ao->warned_rejected = s->rejected;
}

/* Hand one finished EVE line to the file or the live output. */
static void
eve_emit(struct alert_out *ao, struct jw *w)
{
	if (w->err) {
		ao->st.eve_errors++;
		return;
	}
	if (ao->o.eve != NULL) {
		jw_ch(w, '\n');
		if (fwrite(w->buf, 1, w->len, ao->o.eve) != w->len)
			ao->st.eve_errors++;
		w->len--;
		w->buf[w->len] = '\0';
	}
	if (ao->o.evout != NULL)
		evout_write(ao->o.evout, w->buf, w->len);
	ao->st.eve_lines++;
}

/* The Suricata flow state of a record. */
static const char *
flow_state(const struct flow_record *r, uint64_t bwd_pkts)
{
	switch (r->end) {
	case FLOW_END_FIN:
	case FLOW_END_RST:
		return "closed";
	case FLOW_END_HALFOPEN:
		return "new";
	default:
		return bwd_pkts > 0 ? "established" : "new";
	}
}

/* Why Suricata would have logged the flow: timeout, forced or shutdown. */
static const char *
flow_reason(enum flow_end e)
{
	switch (e) {
	case FLOW_END_EVICT:
		return "forced";
	case FLOW_END_FLUSH:
	case FLOW_END_SHUTDOWN:
		return "shutdown";
	default:
		return "timeout";
	}
}

/* A float feature as a count, within [0, max]. */
static uint64_t
feat_count(float v, uint64_t max)
{
	double r = round((double)v);

	if (!(r > 0))
		return 0;
	return r >= (double)max ? max : (uint64_t)r;
}

/* The plain-words signature of a flow alert or responder finding. */
static void
signature(const struct detect_result *res, char *buf, size_t len)
{
	const struct feat_desc *fd = feat_table();
	const struct flow_record *r = res->r;
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], pb[8], v[48], p[48], what[96];
	int icmp = r->proto == 1 || r->proto == 58;

	what[0] = '\0';
	if (res->nex > 0 && res->ex[0].feature < FEAT_COUNT)
		snprintf(what, sizeof(what), ": %s %s (baseline p99 %s)",
		    fd[res->ex[0].feature].name,
		    jw_num_text(res->ex[0].value, 2, v),
		    jw_num_text(res->ex[0].p99, 2, p));
	if (res->finding == STORE_FINDING_BEACON)
		snprintf(buf, len,
		    "anomd beacon: %s contacted %s %" PRIu64 " times every "
		    "%.0f s, a host never seen in the baseline",
		    addr_str(r->src, a), addr_str(r->dst, b), res->beacon.total,
		    res->beacon.period_s);
	else if (res->finding == STORE_FINDING_RESPONDER)
		snprintf(buf, len,
		    "anomd responder finding: %s answers unlike its "
		    "baseline%s",
		    addr_str(r->dst, b), what);
	else if (icmp)
		snprintf(buf, len,
		    "anomd anomalous %s flow %s -> %s type %u code %u%s",
		    proto_name(r->proto, pb), addr_str(r->src, a),
		    addr_str(r->dst, b), r->dport >> 8, r->dport & 0xff, what);
	else
		snprintf(buf, len, "anomd anomalous %s flow %s -> %s port %u%s",
		    proto_name(r->proto, pb), addr_str(r->src, a),
		    addr_str(r->dst, b), r->dport, what);
}

/* Write the EVE alert line of a flow alert or responder finding. */
static void
eve_alert(struct alert_out *ao, const struct detect_result *res, int64_t id)
{
	const struct flow_record *r = res->r;
	struct jw *w = &ao->line;
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], pb[8], sig[256];
	char cid[ALERT_COMMUNITY_ID_LEN];
	int icmp = r->proto == 1 || r->proto == 58;
	int responder = res->finding == STORE_FINDING_RESPONDER;
	uint64_t fp = feat_count(r->feat[1], r->packets);
	uint64_t fb = feat_count(r->feat[3], r->bytes);

	jw_init(w);
	jw_open(w, NULL, '{');
	jw_time(w, "timestamp", r->ts_last_us);
	jw_u64(w, "flow_id", alert_flow_id(r));
	if (ao->o.iface != NULL && ao->o.iface[0] != '\0')
		jw_str(w, "in_iface", ao->o.iface);
	jw_str(w, "event_type", "alert");
	jw_str(w, "src_ip", addr_str(r->src, a));
	if (!icmp)
		jw_u64(w, "src_port", r->sport);
	jw_str(w, "dest_ip", addr_str(r->dst, b));
	if (!icmp)
		jw_u64(w, "dest_port", r->dport);
	jw_str(w, "proto", proto_name(r->proto, pb));
	if (icmp) {
		jw_u64(w, "icmp_type", r->dport >> 8);
		jw_u64(w, "icmp_code", r->dport & 0xff);
	}
	jw_str(w, "community_id",
	    alert_community_id(r->ipver == 6, r->src, r->dst, r->proto,
		icmp ? (uint16_t)(r->dport >> 8) : r->sport,
		icmp ? (uint16_t)(r->dport & 0xff) : r->dport, 0, cid));
	jw_str(w, "host", ao->sensor);
	jw_open(w, "alert", '{');
	jw_str(w, "action", "allowed");
	jw_u64(w, "gid", ALERT_GID);
	jw_u64(w, "signature_id",
	    responder				       ? ALERT_SID_RESPONDER
		: res->finding == STORE_FINDING_BEACON ? ALERT_SID_BEACON
						       : ALERT_SID_FLOW);
	jw_u64(w, "rev", ALERT_REV);
	signature(res, sig, sizeof(sig));
	jw_str(w, "signature", sig);
	jw_str(w, "category",
	    responder ? "Anomalous responder context"
		: res->finding == STORE_FINDING_BEACON ? "Periodic contact"
						       : "Anomalous flow");
	jw_u64(w, "severity",
	    (uint64_t)alert_severity(res->score, res->threshold));
	jw_open(w, "context", '{');
	jw_str(w, "finding", alert_finding_name(res->finding));
	jw_num(w, "score", res->score, ALERT_SCORE_DECIMALS);
	jw_num(w, "threshold", res->threshold, ALERT_SCORE_DECIMALS);
	jw_str(w, "model_id", res->model_id);
	jw_id(w, "alert_id", id);
	jw_id(w, "incident_id", res->incident_id);
	jw_str(w, "flow_end", flow_end_name(r->end));
	jw_json(w, "explanation", ao->expl.buf);
	jw_close(w, '}');
	jw_close(w, '}');
	jw_open(w, "flow", '{');
	jw_u64(w, "pkts_toserver", fp);
	jw_u64(w, "pkts_toclient", r->packets - fp);
	jw_u64(w, "bytes_toserver", fb);
	jw_u64(w, "bytes_toclient", r->bytes - fb);
	jw_time(w, "start", r->ts_first_us);
	jw_time(w, "end", r->ts_last_us);
	jw_str(w, "state", flow_state(r, r->packets - fp));
	jw_str(w, "reason", flow_reason(r->end));
	jw_bool(w, "alerted", 1);
	jw_close(w, '}');
	jw_close(w, '}');
	eve_emit(ao, w);
}

/* Stream a new row to subscribers: {"event":"alert","alert":{row}}. */
static void
stream_row(struct alert_out *ao, const struct store_alert *a)
{
	struct jw *w = &ao->line;

	jw_init(w);
	jw_open(w, NULL, '{');
	jw_str(w, "event", "alert");
	jw_open(w, "alert", '{');
	row_fields(w, a, 1);
	jw_close(w, '}');
	jw_close(w, '}');
	if (w->err)
		ao->st.stream_errors++;
	else
		ao->o.stream_cb(w->buf, w->len, ao->o.stream_arg);
}

/* The store's row of a raised alert, without its explanation. */
static void
alert_row(const struct detect_result *res, struct store_alert *a)
{
	const struct flow_record *r = res->r;
	size_t n;

	memset(a, 0, offsetof(struct store_alert, explanation));
	a->ts_us = r->ts_last_us;
	a->ts_first_us = r->ts_first_us;
	a->ts_last_us = r->ts_last_us;
	a->proto = r->proto;
	addr_str(r->src, a->src_ip);
	addr_str(r->dst, a->dst_ip);
	a->src_port = r->sport;
	a->dst_port = r->dport;
	a->packets = r->packets;
	a->bytes = r->bytes;
	a->score = res->score;
	a->threshold = res->threshold;
	a->finding = res->finding;
	a->incident_id = res->incident_id;
	a->fold_any_src = res->fold_any_src;
	n = strnlen(res->model_id, sizeof(a->model_id) - 1);
	memcpy(a->model_id, res->model_id, n);
	a->model_id[n] = '\0';
	a->explanation[0] = '\0';
	a->count = 1;
	a->last_us = 0;
	a->id = 0;
}

/* Count what the store did with an alert; 1 when it made a new row. */
static int
count_put(struct alert_out *ao, int rc)
{
	switch (rc) {
	case STORE_PUT_NEW:
		ao->st.stored++;
		return 1;
	case STORE_PUT_FOLDED:
		ao->st.folded++;
		return 0;
	case STORE_PUT_RATE_DROPPED:
		ao->st.capped++;
		break;
	case STORE_PUT_QUEUE_DROPPED:
		ao->st.dropped++;
		break;
	default:
		ao->st.rejected++;
		break;
	}
	warn_drops(ao);
	return 0;
}

/*
 * Take a raised flow alert or responder finding: store, EVE, stream.  The
 * store decides first; only an alert that makes a new row (or, with no
 * store, one that is written) is explained and turned into JSON, so a
 * folded, capped or dropped alert costs a counter.
 */
void
alert_out_alert(struct alert_out *ao, struct detect_result *res)
{
	struct store_alert a;
	int64_t id = 0;
	int rc;

	ao->st.raised++;
	res->row_id = 0;
	if (ao->o.store != NULL) {
		alert_row(res, &a);
		rc = store_alert_fate(ao->o.store, &a);
		if (rc != STORE_PUT_NEW) {
			count_put(ao, store_alert_put(ao->o.store, &a, &id));
			return;
		}
	} else if (ao->o.eve == NULL && ao->o.evout == NULL) {
		ao->st.stored++;
		return;
	}
	detect_explain(res);
	jw_init(&ao->expl);
	alert_expl_write(&ao->expl, NULL, res->ex, res->nex);
	if (ao->o.store != NULL) {
		if (!ao->expl.err && ao->expl.len < sizeof(a.explanation))
			memcpy(a.explanation, ao->expl.buf, ao->expl.len + 1);
		if (!count_put(ao, store_alert_put(ao->o.store, &a, &id)))
			return;
		res->row_id = id;
	} else
		ao->st.stored++;
	if (ao->o.eve != NULL || ao->o.evout != NULL)
		eve_alert(ao, res, id);
	if (ao->o.store != NULL && ao->o.stream_cb != NULL) {
		a.id = id;
		stream_row(ao, &a);
	}
}

/* An incident's listed peers or ports as a JSON array, within cap bytes. */
static void
list_write(const struct incident *inc, int ports, char *out, size_t cap)
{
	struct jw *w;
	char a[ADDR_STR_LEN];
	size_t i, n = ports ? inc->nports : inc->npeers, ok = 0;

	if ((w = malloc(sizeof(*w))) == NULL)
		fatal("alert: list");
	jw_init(w);
	jw_open(w, NULL, '[');
	for (i = 0; i < n; i++) {
		if (ports)
			jw_u64(w, NULL, inc->ports[i].port);
		else
			jw_str(w, NULL, addr_str(inc->peers[i].addr, a));
		if (w->err || w->len + 2 > cap)
			break;
		ok = w->len;
	}
	if (i < n) { /* cut at the last item that fits */
		w->len = ok;
		w->err = 0;
		w->comma = ok > 1;
	}
	jw_close(w, ']');
	if (w->err || w->len >= cap)
		memcpy(out, "[]", 3);
	else
		memcpy(out, w->buf, w->len + 1);
	free(w);
}

/* Build the store's row of an incident. */
static void
incident_row(struct alert_out *ao, const struct incident *inc,
    const char *summary, const char *model_id, struct store_incident *si)
{
	size_t k = ao->o.explain_features, n = inc->nex < k ? inc->nex : k;

	memset(si, 0, sizeof(*si));
	si->id = inc->store_id != 0 ? inc->store_id : inc->id;
	si->first_us = inc->first_us;
	si->last_us = inc->last_us;
	si->about = inc->about;
	addr_str(inc->host, si->host);
	si->alerts = inc->alerts;
	si->flows = inc->flows;
	si->peers_n = incident_peers_n(inc);
	si->ports_n = incident_ports_n(inc);
	list_write(inc, 0, si->peers, sizeof(si->peers));
	list_write(inc, 1, si->ports, sizeof(si->ports));
	si->score_max = inc->score_max;
	snprintf(si->summary, sizeof(si->summary), "%s", summary);
	jw_init(&ao->expl);
	alert_expl_write(&ao->expl, NULL, inc->ex, n);
	if (!ao->expl.err && ao->expl.len < sizeof(si->evidence))
		memcpy(si->evidence, ao->expl.buf, ao->expl.len + 1);
	snprintf(si->model_id, sizeof(si->model_id), "%s", model_id);
}

/* Write the EVE alert line of a closed incident. */
static void
eve_incident(struct alert_out *ao, const struct incident *inc,
    const struct store_incident *si, double threshold)
{
	struct jw *w = &ao->line;

	jw_init(w);
	jw_open(w, NULL, '{');
	jw_time(w, "timestamp", inc->last_us);
	jw_str(w, "event_type", "alert");
	if (ao->o.iface != NULL && ao->o.iface[0] != '\0')
		jw_str(w, "in_iface", ao->o.iface);
	jw_str(w, inc->about == STORE_ABOUT_RESPONDER ? "dest_ip" : "src_ip",
	    si->host);
	jw_str(w, "host", ao->sensor);
	jw_open(w, "alert", '{');
	jw_str(w, "action", "allowed");
	jw_u64(w, "gid", ALERT_GID);
	jw_u64(w, "signature_id", ALERT_SID_INCIDENT);
	jw_u64(w, "rev", ALERT_REV);
	jw_str(w, "signature", si->summary);
	jw_str(w, "category", "Anomaly incident");
	jw_u64(
	    w, "severity", (uint64_t)alert_severity(inc->score_max, threshold));
	jw_open(w, "context", '{');
	jw_str(w, "finding", "incident");
	jw_id(w, "incident_id", si->id);
	jw_u64(w, "findings", inc->findings);
	incident_fields(w, si, 1);
	jw_close(w, '}');
	jw_close(w, '}');
	jw_close(w, '}');
	eve_emit(ao, w);
}

/* Write an incident (store row; EVE line when it closes). */
void
alert_out_incident(struct alert_out *ao, struct incident *inc,
    enum incident_event ev, const char *summary, const char *model_id,
    double threshold)
{
	struct store_incident si;
	int64_t id = 0;
	int rc;

	incident_row(ao, inc, summary, model_id, &si);
	if (ao->o.store != NULL) {
		si.id = inc->store_id;
		rc = store_incident_put(ao->o.store, &si, &id);
		if (rc == 0 && id > 0 && inc->store_id == 0)
			inc->store_id = inc->id = id;
		else if (rc != 0) {
			ao->st.incident_errors++;
			if (!ao->inc_warned) {
				ao->inc_warned = 1;
				log_warnx("store: incident not stored: %s; "
					  "incidents are reported in the "
					  "summary and EVE only",
				    strerror(-rc));
			}
		}
		si.id = inc->id;
	}
	if (ev != INCIDENT_CLOSE)
		return;
	ao->st.incidents++;
	if (ao->o.eve != NULL || ao->o.evout != NULL)
		eve_incident(ao, inc, &si, threshold);
}

/* Print what happened to the alerts, one line. */
void
alert_out_print(const struct alert_out *ao, FILE *fp)
{
	const struct alert_out_stats *s = &ao->st;

	if (ao->o.store == NULL) {
		fprintf(fp,
		    "alerts: %" PRIu64 " raised, none stored (no database)"
		    "%s\n",
		    s->raised, ao->o.eve != NULL ? "; all written to EVE" : "");
		return;
	}
	fprintf(fp,
	    "alerts: %" PRIu64 " raised: %" PRIu64 " stored as new rows, "
	    "%" PRIu64 " folded into earlier rows (alert_fold_seconds), "
	    "%" PRIu64 " capped (alert_rate_max), %" PRIu64 " dropped (store "
	    "queue full), %" PRIu64 " rejected\n",
	    s->raised, s->stored, s->folded, s->capped, s->dropped,
	    s->rejected);
}
