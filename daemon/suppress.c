/*
 * Suppressions: an operator's word that some traffic is benign.
 *
 * A suppression is (src network, dst network, dst_port, proto, expires):
 * src is the flow's initiator, dst its responder, and any part may be
 * "any" (0 for the numbers).  A flow alert or a responder finding whose
 * flow matches an active one is counted (per suppression, and in total)
 * and goes no further: no row, no EVE line, no stream line, no incident.
 * A baseline flow that matches one is marked to keep, so the robust drop
 * never removes it and the next model learns it as normal.
 *
 * Expiry is judged by the alert's own time (the flow's last packet), live
 * as offline: live that is the wall clock near enough, and an offline run
 * over the same capture and database says the same thing whenever it runs.
 * A suppression is not "not yet active" before it was created: an offline
 * run over an older capture applies it.
 *
 * Matching is a linear pass over at most SUPPRESS_MAX parsed rules, in id
 * order, the first match winning: a few hundred prefix compares per raised
 * alert (not per flow), which is cheap next to scoring.  The list is
 * loaded from the store at start and after every change; hits are counted
 * in memory and added to the store's rows by suppress_sync().
 *
 * CIDRs are parsed strictly: an IPv4 or IPv6 address as inet_pton(3)
 * reads it, optionally "/" and a prefix length of plain decimal digits
 * (no sign, no leading zero) up to 32 or 128; a bare address is a host
 * (/32, /128); host bits past the prefix must be zero; "" and "any" mean
 * any address of either family.  An IPv4 network matches IPv4 flows only,
 * an IPv6 one IPv6 flows only (an IPv4-mapped IPv6 network is read as the
 * IPv4 one it maps).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "daemon/daemon.h"
#include "store/store.h"

_Static_assert(SUPPRESS_MAX == STORE_SUPPRESS_MAX,
    "the daemon's list holds the whole table");
_Static_assert(SUPPRESS_CIDR_LEN == STORE_CIDR_MAX, "one CIDR text size");

#define US_PER_S 1000000ULL
#define SUPPRESS_FOR_MAX_S (10ULL * 366 * 86400) /* "for" at most 10 y */

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct rule {
	int64_t id;
	struct suppress_net src, dst;
	uint16_t dport;
	uint8_t proto;
	uint64_t expires_us;
	uint64_t hits, last_us; /* not yet added to the store */
};

struct suppress {
	struct rule r[SUPPRESS_MAX];
	size_t n;
	uint64_t suppressed; /* alerts and findings suppressed */
	uint64_t skipped; /* store rows that did not parse */
};

/* Parse a prefix length of plain digits, at most max; -1 if bad. */
static int
parse_prefix(const char *s, int max)
{
	int v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Whether addr has a bit set past the first len bits. */
static int
host_bits(const uint8_t addr[16], unsigned len)
{
	unsigned i;

	for (i = len; i < 128; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return 1;
	return 0;
}

/* Write the canonical text of n into text[len] ("" for any). */
static void
net_text(const struct suppress_net *n, char *text, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (n->fam == 0) {
		snprintf(text, len, "%s", "");
		return;
	}
	if (n->fam == 4) {
		inet_ntop(AF_INET, n->addr + 12, a, sizeof(a));
		snprintf(text, len, "%s/%u", a, n->len - 96u);
	} else {
		inet_ntop(AF_INET6, n->addr, a, sizeof(a));
		snprintf(text, len, "%s/%u", a, (unsigned)n->len);
	}
}

/* Parse a CIDR; see the top of the file. */
int
suppress_cidr_parse(const char *s, struct suppress_net *n, char *text,
    size_t len, const char **why)
{
	char buf[SUPPRESS_CIDR_LEN], *slash;
	struct suppress_net v;
	int plen, v6;

	memset(&v, 0, sizeof(v));
	if (s == NULL || s[0] == '\0' || strcmp(s, "any") == 0)
		goto ok;
	if (strlen(s) >= sizeof(buf)) {
		*why = "too long for a network";
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	v6 = strchr(buf, ':') != NULL;
	if (v6 ? inet_pton(AF_INET6, buf, v.addr) != 1
	       : inet_pton(AF_INET, buf, v.addr + 12) != 1) {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	plen = v6 ? 128 : 32;
	if (slash != NULL && (plen = parse_prefix(slash, plen)) < 0) {
		*why = v6 ? "prefix length not a whole number 0 to 128"
			  : "prefix length not a whole number 0 to 32";
		return -EINVAL;
	}
	if (!v6)
		memcpy(v.addr, v4mapped, sizeof(v4mapped));
	v.len = (uint8_t)(v6 ? plen : 96 + plen);
	v.fam = 6;
	if (!v6 || (memcmp(v.addr, v4mapped, 12) == 0 && v.len >= 96))
		v.fam = 4;
	if (host_bits(v.addr, v.len)) {
		*why = "host bits set past the prefix length";
		return -EINVAL;
	}
ok:
	if (n != NULL)
		*n = v;
	if (text != NULL)
		net_text(&v, text, len);
	return 0;
}

/* Whether a 16-byte address (IPv4-mapped for IPv4) is in network n. */
int
suppress_net_match(const struct suppress_net *n, const uint8_t *addr)
{
	unsigned full = n->len / 8, rest = n->len % 8;
	int is4 = memcmp(addr, v4mapped, sizeof(v4mapped)) == 0;
	uint8_t mask;

	if (n->fam == 0)
		return 1;
	if (is4 != (n->fam == 4))
		return 0;
	if (memcmp(addr, n->addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff00 >> rest);
	return (addr[full] & mask) == n->addr[full];
}

/* Create an empty list; exits on OOM. */
struct suppress *
suppress_create(void)
{
	struct suppress *sp;

	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		fatal("suppress: create");
	return sp;
}

/* Free a list; NULL does nothing. */
void
suppress_free(struct suppress *sp)
{
	free(sp);
}

/* Add one store row to the list; 0, -EINVAL or -ENOSPC. */
int
suppress_add(struct suppress *sp, const struct store_suppress *row)
{
	struct rule *r;
	const char *why;

	if (sp->n == SUPPRESS_MAX)
		return -ENOSPC;
	r = &sp->r[sp->n];
	memset(r, 0, sizeof(*r));
	if (suppress_cidr_parse(row->src, &r->src, NULL, 0, &why) != 0 ||
	    suppress_cidr_parse(row->dst, &r->dst, NULL, 0, &why) != 0)
		return -EINVAL;
	r->id = row->id;
	r->dport = row->dst_port;
	r->proto = row->proto;
	r->expires_us = row->expires_us;
	sp->n++;
	return 0;
}

/* The matching rule of r at ts_us, or NULL. */
static struct rule *
find(struct suppress *sp, const struct flow_record *fr, uint64_t ts_us)
{
	struct rule *r;
	size_t i;

	for (i = 0; i < sp->n; i++) {
		r = &sp->r[i];
		if ((r->expires_us != 0 && ts_us >= r->expires_us) ||
		    (r->proto != 0 && r->proto != fr->proto) ||
		    (r->dport != 0 && r->dport != fr->dport) ||
		    !suppress_net_match(&r->src, fr->src) ||
		    !suppress_net_match(&r->dst, fr->dst))
			continue;
		return r;
	}
	return NULL;
}

/* The id of the suppression matching r at ts_us, or 0; counts a hit. */
int64_t
suppress_match(struct suppress *sp, const struct flow_record *fr,
    uint64_t ts_us, int count)
{
	struct rule *r;

	if (sp == NULL || sp->n == 0 || (r = find(sp, fr, ts_us)) == NULL)
		return 0;
	if (count) {
		r->hits++;
		if (ts_us > r->last_us)
			r->last_us = ts_us;
		sp->suppressed++;
	}
	return r->id;
}

/* Suppressions in the list. */
size_t
suppress_count(const struct suppress *sp)
{
	return sp != NULL ? sp->n : 0;
}

/* Alerts and findings suppressed so far. */
uint64_t
suppress_suppressed(const struct suppress *sp)
{
	return sp != NULL ? sp->suppressed : 0;
}

/* Add the hits counted in memory to the store's rows, in one go. */
int
suppress_sync(struct suppress *sp, struct store *st, char **cause)
{
	struct store_suppress_hits h[SUPPRESS_MAX];
	size_t i, n = 0;
	int rc;

	if (sp == NULL || st == NULL)
		return 0;
	for (i = 0; i < sp->n; i++)
		if (sp->r[i].hits != 0) {
			h[n].id = sp->r[i].id;
			h[n].hits = sp->r[i].hits;
			h[n++].last_hit_us = sp->r[i].last_us;
		}
	if ((rc = store_suppress_hit(st, h, n, cause)) != 0)
		return rc;
	for (i = 0; i < sp->n; i++)
		sp->r[i].hits = 0;
	return 0;
}

/* store_suppress_query() callback of suppress_load(). */
static int
load_cb(const struct store_suppress *row, void *arg)
{
	struct suppress *sp = arg;

	if (suppress_add(sp, row) == -EINVAL)
		sp->skipped++;
	return 0;
}

/* Write pending hits, then reload the list from the store. */
int
suppress_load(struct suppress *sp, struct store *st, char **cause)
{
	int rc;

	if ((rc = suppress_sync(sp, st, cause)) != 0)
		return rc;
	sp->n = 0;
	sp->skipped = 0;
	if ((rc = store_suppress_query(st, load_cb, sp, cause)) < 0)
		return rc;
	return (int)sp->n;
}

/* ---- control commands --------------------------------------------------- */

/* Read the optional string argument name; 0 absent, 1 read, -1 invalid. */
static int
arg_str(const cJSON *args, const char *name, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return -1;
	*out = v->valuestring;
	return 1;
}

/* A protocol by name or number, 0 = any; -1 if unknown. */
int
suppress_proto_parse(const char *s)
{
	static const struct {
		const char *name;
		int proto;
	} names[] = {{"any", 0}, {"tcp", 6}, {"udp", 17}, {"icmp", 1},
	    {"icmp6", 58}, {"ipv6-icmp", 58}};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].proto;
	if (parse_u64(s, 0, 255, &v) != 0)
		return -1;
	return (int)v;
}

/* Parse one network argument of an allow into text; -1 with *message. */
static int
allow_net(const char *name, const char *v, struct suppress_net *n, char *text,
    size_t len, const char **code, char **message)
{
	const char *why = "";

	if (suppress_cidr_parse(v, n, text, len, &why) == 0)
		return 0;
	control_fail(code, message, "bad_argument", "allow: %s \"%s\": %s",
	    name, v, why);
	return -1;
}

/* Read the allow's network, port and protocol arguments into row. */
static int
allow_tuple(const cJSON *args, struct store_suppress *row, const char **code,
    char **message)
{
	const char *src = NULL, *dst = NULL, *proto = NULL;
	struct suppress_net s, d;
	int64_t port = 0;
	int p = 0;

	if (arg_str(args, "src", &src) < 0 || arg_str(args, "dst", &dst) < 0 ||
	    control_arg_int(args, "dst_port", 0, 65535, &port) < 0 ||
	    arg_str(args, "proto", &proto) < 0) {
		control_fail(code, message, "bad_argument",
		    "allow takes src and dst (networks, as text), dst_port (0 "
		    "to 65535), proto (tcp, udp, icmp, icmp6 or a number)");
		return -1;
	}
	if (allow_net("src", src, &s, row->src, sizeof(row->src), code,
		message) != 0 ||
	    allow_net(
		"dst", dst, &d, row->dst, sizeof(row->dst), code, message) != 0)
		return -1;
	if (s.fam == 0 && d.fam == 0) {
		control_fail(code, message, "bad_argument",
		    "allow needs src or dst: a suppression of every host is "
		    "not feedback, it is turning detection off");
		return -1;
	}
	if (proto != NULL && (p = suppress_proto_parse(proto)) < 0) {
		control_fail(code, message, "bad_argument",
		    "allow: proto \"%s\": want tcp, udp, icmp, icmp6 or a "
		    "number 0 to 255",
		    proto);
		return -1;
	}
	row->proto = (uint8_t)p;
	row->dst_port = (uint16_t)port;
	return 0;
}

/* The only item of a stored JSON list, as text, into buf; 0 if not one. */
static int
only_item(const char *list, uint64_t n, char *buf, size_t len)
{
	cJSON *a, *v;
	int ok = 0;

	if (n != 1 || (a = cJSON_Parse(list)) == NULL)
		return 0;
	if (cJSON_GetArraySize(a) == 1) {
		v = cJSON_GetArrayItem(a, 0);
		if (cJSON_IsString(v))
			ok =
			    snprintf(buf, len, "%s", v->valuestring) < (int)len;
		else if (cJSON_IsNumber(v) && v->valuedouble >= 1 &&
		    v->valuedouble <= 65535)
			ok = snprintf(buf, len, "%d", v->valueint) < (int)len;
	}
	cJSON_Delete(a);
	return ok;
}

/*
 * Derive the suppression of incident inc: its host as initiator (src) or
 * responder (dst); narrowed to its one peer when it had exactly one, and
 * to its one port when it had exactly one; any protocol.
 */
static int
allow_incident(const struct store_incident *inc, struct store_suppress *row)
{
	char host[SUPPRESS_CIDR_LEN], peer[SUPPRESS_CIDR_LEN], port[8];
	int initiator = inc->about == STORE_ABOUT_INITIATOR;
	const char *why;

	if (suppress_cidr_parse(inc->host, NULL, host, sizeof(host), &why) ||
	    host[0] == '\0')
		return -EINVAL;
	if (!only_item(inc->peers, inc->peers_n, peer, sizeof(peer)) ||
	    suppress_cidr_parse(peer, NULL, peer, sizeof(peer), &why))
		peer[0] = '\0';
	snprintf(row->src, sizeof(row->src), "%s", initiator ? host : peer);
	snprintf(row->dst, sizeof(row->dst), "%s", initiator ? peer : host);
	if (only_item(inc->ports, inc->ports_n, port, sizeof(port)))
		row->dst_port = (uint16_t)atoi(port);
	return 0;
}

/* A suppression row as the socket shows it. */
static cJSON *
row_json(const struct store_suppress *row, uint64_t pending, uint64_t now_us)
{
	cJSON *o = cJSON_CreateObject();
	char t[64];

	cJSON_AddNumberToObject(o, "id", (double)row->id);
	cJSON_AddStringToObject(o, "created", iso_time(row->created_us, t));
	if (row->expires_us != 0)
		cJSON_AddStringToObject(
		    o, "expires", iso_time(row->expires_us, t));
	else
		cJSON_AddNullToObject(o, "expires");
	cJSON_AddBoolToObject(
	    o, "active", row->expires_us == 0 || now_us < row->expires_us);
	cJSON_AddStringToObject(o, "src", row->src[0] ? row->src : "any");
	cJSON_AddStringToObject(o, "dst", row->dst[0] ? row->dst : "any");
	cJSON_AddNumberToObject(o, "dst_port", row->dst_port);
	cJSON_AddNumberToObject(o, "proto", row->proto);
	cJSON_AddStringToObject(o, "note", row->note);
	cJSON_AddNumberToObject(o, "created_by", (double)row->created_by);
	cJSON_AddNumberToObject(o, "hits", (double)(row->hits + pending));
	if (row->last_hit_us != 0)
		cJSON_AddStringToObject(
		    o, "last_hit", iso_time(row->last_hit_us, t));
	else
		cJSON_AddNullToObject(o, "last_hit");
	return o;
}

/* Read the "for" and "note" arguments of an allow into row; 0 or -1. */
static int
allow_common(const cJSON *args, struct store_suppress *row, uint64_t now_us,
    const char **code, char **message)
{
	const char *note = NULL;
	int64_t secs = 0;
	size_t i;

	if (control_arg_int(
		args, "for", 1, (int64_t)SUPPRESS_FOR_MAX_S, &secs) < 0 ||
	    arg_str(args, "note", &note) < 0) {
		control_fail(code, message, "bad_argument",
		    "allow: for is a whole number of seconds, 1 to %llu; note "
		    "is text",
		    (unsigned long long)SUPPRESS_FOR_MAX_S);
		return -1;
	}
	if (note != NULL && strlen(note) >= sizeof(row->note)) {
		control_fail(code, message, "bad_argument",
		    "allow: note longer than %zu bytes", sizeof(row->note) - 1);
		return -1;
	}
	for (i = 0; note != NULL && note[i] != '\0'; i++)
		if ((unsigned char)note[i] < 0x20 || note[i] == 0x7f) {
			control_fail(code, message, "bad_argument",
			    "allow: note has a control character");
			return -1;
		}
	snprintf(row->note, sizeof(row->note), "%s", note ? note : "");
	row->created_us = now_us;
	row->expires_us = secs ? now_us + (uint64_t)secs * US_PER_S : 0;
	return 0;
}

/* Reload after a change; a failure is reported, the change stays. */
static void
reload(struct suppress *sp, struct store *st)
{
	char *cause = NULL;

	if (suppress_load(sp, st, &cause) < 0)
		log_warnx("%s", cause ? cause : "suppress: reload failed");
	free(cause);
}

/* The "allow" command (the caller checked that the peer is an admin). */
cJSON *
suppress_cmd_allow(struct suppress *sp, struct store *st, const cJSON *args,
    const struct control_peer *peer, uint64_t now_us, const char **code,
    char **message)
{
	struct store_suppress row;
	struct store_incident inc;
	int64_t incident = 0;
	char *cause = NULL;
	int rc;

	memset(&row, 0, sizeof(row));
	row.created_by = peer != NULL ? (int64_t)peer->uid : -1;
	if (control_arg_int(
		args, "incident", 1, INT64_C(9000000000000000), &incident) < 0)
		return control_fail(code, message, "bad_argument",
		    "allow: incident is a positive whole number");
	if (incident != 0 &&
	    (cJSON_GetObjectItemCaseSensitive(args, "src") != NULL ||
		cJSON_GetObjectItemCaseSensitive(args, "dst") != NULL ||
		cJSON_GetObjectItemCaseSensitive(args, "dst_port") != NULL ||
		cJSON_GetObjectItemCaseSensitive(args, "proto") != NULL))
		return control_fail(code, message, "bad_argument",
		    "allow takes an incident or src, dst, dst_port and proto, "
		    "not both");
	if (allow_common(args, &row, now_us, code, message) != 0)
		return NULL;
	if (incident != 0) {
		rc = store_incident_get(st, incident, &inc, &cause);
		free(cause);
		cause = NULL;
		if (rc == -ENOENT)
			return control_fail(code, message, "not_found",
			    "no incident %" PRId64, incident);
		if (rc != 0 || allow_incident(&inc, &row) != 0)
			return control_fail(code, message, "internal",
			    "cannot read incident %" PRId64, incident);
	} else if (allow_tuple(args, &row, code, message) != 0)
		return NULL;
	if ((rc = store_suppress_add(st, &row, &row.id, &cause)) != 0) {
		control_fail(code, message, rc == -ENOSPC ? "full" : "internal",
		    "%s", cause ? cause : "suppress: add failed");
		free(cause);
		return NULL;
	}
	reload(sp, st);
	log_info("suppress: uid %lld allowed #%" PRId64 ": src %s dst %s "
		 "port %u proto %u%s",
	    (long long)row.created_by, row.id, row.src[0] ? row.src : "any",
	    row.dst[0] ? row.dst : "any", row.dst_port, row.proto,
	    row.expires_us ? "" : ", no expiry");
	return row_json(&row, 0, now_us);
}

struct list_arg {
	const struct suppress *sp;
	cJSON *arr;
	uint64_t now_us;
};

/* Add one suppression, with the hits not yet synced, to the list. */
static int
list_cb(const struct store_suppress *row, void *arg)
{
	struct list_arg *la = arg;
	uint64_t pending = 0;
	size_t i;

	for (i = 0; i < la->sp->n; i++)
		if (la->sp->r[i].id == row->id)
			pending = la->sp->r[i].hits;
	cJSON_AddItemToArray(la->arr, row_json(row, pending, la->now_us));
	return 0;
}

/* The "allows" command: every suppression, oldest first. */
cJSON *
suppress_cmd_allows(struct suppress *sp, struct store *st, uint64_t now_us,
    const char **code, char **message)
{
	struct list_arg la = {sp, cJSON_CreateArray(), now_us};
	char *cause = NULL;
	cJSON *r;

	if (store_suppress_query(st, list_cb, &la, &cause) < 0) {
		cJSON_Delete(la.arr);
		control_fail(code, message, "internal", "%s",
		    cause ? cause : "suppress: query failed");
		free(cause);
		return NULL;
	}
	r = cJSON_CreateObject();
	cJSON_AddItemToObject(r, "suppressions", la.arr);
	cJSON_AddNumberToObject(r, "max", SUPPRESS_MAX);
	cJSON_AddNumberToObject(r, "suppressed", (double)sp->suppressed);
	return r;
}

/* The "unallow" command (the caller checked that the peer is an admin). */
cJSON *
suppress_cmd_unallow(struct suppress *sp, struct store *st, const cJSON *args,
    const char **code, char **message)
{
	int64_t id = 0;
	char *cause = NULL;
	cJSON *r;
	int rc;

	if (control_arg_int(args, "id", 1, INT64_C(9000000000000000), &id) != 1)
		return control_fail(code, message, "bad_argument",
		    "unallow takes an id, a positive whole number");
	/* Hits of the rule go to its row before the row goes. */
	suppress_sync(sp, st, NULL);
	rc = store_suppress_del(st, id, &cause);
	if (rc == -ENOENT)
		return control_fail(
		    code, message, "not_found", "no suppression %" PRId64, id);
	if (rc != 0) {
		control_fail(code, message, "internal", "%s",
		    cause ? cause : "suppress: remove failed");
		free(cause);
		return NULL;
	}
	reload(sp, st);
	log_info("suppress: removed #%" PRId64, id);
	r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "removed", (double)id);
	return r;
}
