/*
 * Incidents: grouped alerts, queued with the alerts and written in the
 * same flush, read back newest first.
 *
 * A put of a new incident takes the next id of the incidents sequence; a
 * put of an id already in the queue (not yet flushed) replaces that queue
 * record in place, so the queue holds at most one record per incident
 * and an incident that grows with every alert needs no extra slots.  The
 * write is an upsert of every field, which makes a retried flush
 * idempotent and an update a change of the row in place.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

#define INCIDENT_COLS                                                          \
	"id, first, last, about, host, alerts, flows, peers_n, ports_n,"       \
	" peers, ports, score_max, summary, evidence, model_id"

/* Refuse what the table cannot hold or what would fail at flush time. */
static int
incident_check(const struct store *st, const struct store_incident *inc)
{
	if (!store_terminated(inc->host, sizeof(inc->host)) ||
	    !store_terminated(inc->peers, sizeof(inc->peers)) ||
	    !store_terminated(inc->ports, sizeof(inc->ports)) ||
	    !store_terminated(inc->summary, sizeof(inc->summary)) ||
	    !store_terminated(inc->evidence, sizeof(inc->evidence)) ||
	    !store_terminated(inc->model_id, sizeof(inc->model_id)))
		return -EINVAL;
	if (!isfinite(inc->score_max) || inc->about > STORE_ABOUT_RESPONDER)
		return -EINVAL;
	/* An update must name an id this store handed out. */
	if (inc->id < 0 || inc->id >= st->next_inc_id)
		return -EINVAL;
	return 0;
}

/* Copy inc into one allocation of its real size; "" lists become []. */
static struct qinc *
qinc_new(const struct store_incident *inc)
{
	const char *peers = inc->peers[0] != '\0' ? inc->peers : "[]";
	const char *ports = inc->ports[0] != '\0' ? inc->ports : "[]";
	const char *ev = inc->evidence[0] != '\0' ? inc->evidence : "[]";
	size_t lp = strlen(peers) + 1, lo = strlen(ports) + 1;
	size_t ls = strlen(inc->summary) + 1, le = strlen(ev) + 1;
	struct qinc *q;
	char *t;

	if ((q = malloc(sizeof(*q) + lp + lo + ls + le)) == NULL)
		return NULL;
	q->first_us = inc->first_us;
	q->last_us = inc->last_us;
	q->alerts = inc->alerts;
	q->flows = inc->flows;
	q->peers_n = inc->peers_n;
	q->ports_n = inc->ports_n;
	q->score_max = inc->score_max;
	q->about = inc->about;
	memcpy(q->host, inc->host, strlen(inc->host) + 1);
	memcpy(q->model_id, inc->model_id, strlen(inc->model_id) + 1);
	t = q->text;
	q->peers = memcpy(t, peers, lp);
	q->ports = memcpy(t += lp, ports, lo);
	q->summary = memcpy(t += lo, inc->summary, ls);
	q->evidence = memcpy(t + ls, ev, le);
	return q;
}

/* The first index slot of incident id. */
static size_t
incq_home(const struct store *st, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & st->incq_mask;
}

/* The queue record of incident id, or NULL when it is not queued. */
static struct qrec *
queued(struct store *st, int64_t id)
{
	size_t p = incq_home(st, id);
	uint32_t e;

	while ((e = st->incq[p]) != 0) {
		if (st->q[e - 1].id == id)
			return &st->q[e - 1];
		p = (p + 1) & st->incq_mask;
	}
	return NULL;
}

/* Index queue record r, a newly queued incident. */
static void
incq_add(struct store *st, const struct qrec *r)
{
	size_t p = incq_home(st, r->id);

	while (st->incq[p] != 0)
		p = (p + 1) & st->incq_mask;
	st->incq[p] = (uint32_t)(r - st->q) + 1;
	st->incq_n++;
}

/* Queue a new or updated incident; see store.h. */
int
store_incident_put(
    struct store *st, const struct store_incident *inc, int64_t *idp)
{
	struct qrec *r = NULL;
	struct qinc *q;

	if (idp != NULL)
		*idp = 0;
	if (incident_check(st, inc) != 0) {
		st->stats.incidents_rejected++;
		return -EINVAL;
	}
	if (inc->id != 0)
		r = queued(st, inc->id);
	if (r == NULL && st->nq == st->o.max_pending) {
		st->stats.incidents_dropped++;
		return -ENOSPC;
	}
	if ((q = qinc_new(inc)) == NULL)
		return -ENOMEM;
	if (r == NULL) {
		r = &st->q[st->nq++];
		memset(r, 0, sizeof(*r));
		r->kind = QREC_INCIDENT;
		r->id = inc->id != 0 ? inc->id : st->next_inc_id++;
		incq_add(st, r);
	}
	free(r->inc);
	r->inc = q;
	st->stats.incidents_queued++;
	if (idp != NULL)
		*idp = r->id;
	return 0;
}

/* Bind and run the write of a queued incident (statement INCIDENT_SQL). */
int
incident_write(sqlite3_stmt *s, const struct qinc *q, int64_t id)
{
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)q->first_us);
	sqlite3_bind_int64(s, 3, (int64_t)q->last_us);
	sqlite3_bind_int(s, 4, q->about);
	sqlite3_bind_text(s, 5, q->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (int64_t)q->alerts);
	sqlite3_bind_int64(s, 7, (int64_t)q->flows);
	sqlite3_bind_int64(s, 8, (int64_t)q->peers_n);
	sqlite3_bind_int64(s, 9, (int64_t)q->ports_n);
	sqlite3_bind_text(s, 10, q->peers, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 11, q->ports, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 12, q->score_max);
	sqlite3_bind_text(s, 13, q->summary, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 14, q->evidence, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 15, q->model_id, -1, SQLITE_STATIC);
	return store_step_reset(s);
}

/* Copy a JSON text column; a cut one becomes an empty array. */
static void
copy_json(char *dst, size_t size, sqlite3_stmt *s, int col)
{
	if (query_copy_text(dst, size, s, col) != 0)
		snprintf(dst, size, "[]");
}

/* Fill inc from the current row of s (selected with INCIDENT_COLS). */
static void
incident_from_row(struct store_incident *inc, sqlite3_stmt *s)
{
	memset(inc, 0, sizeof(*inc));
	inc->id = sqlite3_column_int64(s, 0);
	inc->first_us = (uint64_t)sqlite3_column_int64(s, 1);
	inc->last_us = (uint64_t)sqlite3_column_int64(s, 2);
	inc->about = (uint8_t)sqlite3_column_int(s, 3);
	query_copy_text(inc->host, sizeof(inc->host), s, 4);
	inc->alerts = (uint64_t)sqlite3_column_int64(s, 5);
	inc->flows = (uint64_t)sqlite3_column_int64(s, 6);
	inc->peers_n = (uint64_t)sqlite3_column_int64(s, 7);
	inc->ports_n = (uint64_t)sqlite3_column_int64(s, 8);
	copy_json(inc->peers, sizeof(inc->peers), s, 9);
	copy_json(inc->ports, sizeof(inc->ports), s, 10);
	inc->score_max = sqlite3_column_double(s, 11);
	query_copy_text(inc->summary, sizeof(inc->summary), s, 12);
	copy_json(inc->evidence, sizeof(inc->evidence), s, 13);
	query_copy_text(inc->model_id, sizeof(inc->model_id), s, 14);
}

/* Whether filter string s is set. */
static int
given(const char *s)
{
	return s != NULL && *s != '\0';
}

/* The SELECT for the filters q sets; see store.h for their meaning. */
static void
incidents_sql(char *buf, size_t size, const struct store_query *q)
{
	const char *host = "";

	if (given(q->src_ip) && given(q->dst_ip))
		host = " AND host IN (:src_ip, :dst_ip)";
	else if (given(q->src_ip))
		host = " AND host = :src_ip";
	else if (given(q->dst_ip))
		host = " AND host = :dst_ip";
	snprintf(buf, size,
	    "SELECT " INCIDENT_COLS " FROM incidents WHERE 1%s%s%s%s"
	    " ORDER BY last DESC, id DESC LIMIT :limit",
	    q->since_us != 0 ? " AND last >= :since" : "",
	    q->until_us != 0 ? " AND first < :until" : "", host,
	    q->min_score > 0 ? " AND score_max >= :min_score" : "");
}

/* Pass matching committed incidents to cb, newest first. */
int
store_incidents_query(struct store *st, const struct store_query *q,
    store_incident_cb cb, void *arg, char **cause)
{
	struct store_incident *inc;
	sqlite3_stmt *s = NULL;
	char sql[512];
	int rc, n = 0;

	/* About 4 KiB: kept off the daemon's stack. */
	if ((inc = malloc(sizeof(*inc))) == NULL) {
		store_set_cause(cause, "store: query incidents: out of memory");
		return -ENOMEM;
	}
	incidents_sql(sql, sizeof(sql), q);
	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK)
		goto fail;
	store_query_bind(s, q);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		incident_from_row(inc, s);
		n++;
		if (cb(inc, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	free(inc);
	return n;

fail:
	rc = store_db_error(st, rc, "query incidents in", cause);
	sqlite3_finalize(s);
	free(inc);
	return rc;
}

/* Copy one committed incident by id. */
int
store_incident_get(
    struct store *st, int64_t id, struct store_incident *out, char **cause)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db,
	    "SELECT " INCIDENT_COLS " FROM incidents WHERE id = ?", -1, &s,
	    NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		incident_from_row(out, s);
		sqlite3_finalize(s);
		return 0;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(s);
		return -ENOENT;
	}
fail:
	rc = store_db_error(st, rc, "get incident from", cause);
	sqlite3_finalize(s);
	return rc;
}
