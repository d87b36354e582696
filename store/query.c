/*
 * Reading alerts back: by id, and filtered pages for the control socket.
 *
 * The filtered query is built from only the filters given, so SQLite can
 * pick the matching index (ts, src_ip, dst_ip or incident_id); a catch-all
 * statement with "? IS NULL OR ..." terms would defeat the planner.  Queries
 * are rare (a person or a script asking), so they are prepared per call.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

#define ALERT_COLS                                                             \
	"id, ts, ts_first, ts_last, proto, src_ip, src_port, dst_ip,"          \
	" dst_port, packets, bytes, score, threshold, model_id,"               \
	" explanation, count, last_ts, finding, incident_id"

/*
 * Copy text column col into dst, cut to fit.  Returns 0, or -E2BIG when it
 * was cut (only a file edited by hand can hold such a value).
 */
int
query_copy_text(char *dst, size_t size, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t len = (size_t)sqlite3_column_bytes(s, col);
	int rc = 0;

	if (t == NULL)
		len = 0;
	if (len >= size) {
		len = size - 1;
		rc = -E2BIG;
	}
	if (len > 0)
		memcpy(dst, t, len);
	dst[len] = '\0';
	return rc;
}

/* Fill a from the current row of s (selected with ALERT_COLS). */
static void
alert_from_row(struct store_alert *a, sqlite3_stmt *s)
{
	a->id = sqlite3_column_int64(s, 0);
	a->ts_us = (uint64_t)sqlite3_column_int64(s, 1);
	a->ts_first_us = (uint64_t)sqlite3_column_int64(s, 2);
	a->ts_last_us = (uint64_t)sqlite3_column_int64(s, 3);
	a->proto = (uint8_t)sqlite3_column_int(s, 4);
	query_copy_text(a->src_ip, sizeof(a->src_ip), s, 5);
	a->src_port = (uint16_t)sqlite3_column_int(s, 6);
	query_copy_text(a->dst_ip, sizeof(a->dst_ip), s, 7);
	a->dst_port = (uint16_t)sqlite3_column_int(s, 8);
	a->packets = (uint64_t)sqlite3_column_int64(s, 9);
	a->bytes = (uint64_t)sqlite3_column_int64(s, 10);
	a->score = sqlite3_column_double(s, 11);
	a->threshold = sqlite3_column_double(s, 12);
	query_copy_text(a->model_id, sizeof(a->model_id), s, 13);
	/* Half a JSON array is worse than an empty one. */
	if (query_copy_text(a->explanation, sizeof(a->explanation), s, 14) != 0)
		strcpy(a->explanation, "[]");
	a->count = (uint64_t)sqlite3_column_int64(s, 15);
	a->last_us = (uint64_t)sqlite3_column_int64(s, 16);
	a->finding = (uint8_t)sqlite3_column_int(s, 17);
	a->incident_id = sqlite3_column_int64(s, 18); /* NULL reads as 0 */
}

/* Copy one committed alert by id. */
int
store_alert_get(
    struct store *st, int64_t id, struct store_alert *out, char **cause)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db,
	    "SELECT " ALERT_COLS " FROM alerts WHERE id = ?", -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		alert_from_row(out, s);
		sqlite3_finalize(s);
		return 0;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(s);
		return -ENOENT;
	}
fail:
	rc = store_db_error(st, rc, "get alert from", cause);
	sqlite3_finalize(s);
	return rc;
}

/* The LIMIT a query really uses. */
unsigned int
query_clamp_limit(unsigned int limit)
{
	if (limit == 0)
		return STORE_QUERY_LIMIT_DEFAULT;
	if (limit > STORE_QUERY_LIMIT_MAX)
		return STORE_QUERY_LIMIT_MAX;
	return limit;
}

/* Whether filter string s is set. */
static int
given(const char *s)
{
	return s != NULL && *s != '\0';
}

/* The SELECT for the filters q sets; parameters are named after them. */
static void
query_sql(char *buf, size_t size, const struct store_query *q)
{
	snprintf(buf, size,
	    "SELECT " ALERT_COLS " FROM alerts WHERE 1%s%s%s%s%s%s%s"
	    " ORDER BY id DESC LIMIT :limit",
	    q->since_us != 0 ? " AND ts >= :since" : "",
	    q->until_us != 0 ? " AND ts < :until" : "",
	    q->min_score > 0 ? " AND score >= :min_score" : "",
	    given(q->src_ip) ? " AND src_ip = :src_ip" : "",
	    given(q->dst_ip) ? " AND dst_ip = :dst_ip" : "",
	    q->before_id != 0 ? " AND id < :before_id" : "",
	    q->incident_id > 0 ? " AND incident_id = :incident_id" : "");
}

/*
 * Bind whichever of q's named parameters the statement has: the alerts'
 * query_sql() and the incidents' SQL both use these names.
 */
void
store_query_bind(sqlite3_stmt *s, const struct store_query *q)
{
	int i;

	if ((i = sqlite3_bind_parameter_index(s, ":since")) > 0)
		sqlite3_bind_int64(s, i, (int64_t)q->since_us);
	if ((i = sqlite3_bind_parameter_index(s, ":until")) > 0)
		sqlite3_bind_int64(s, i, (int64_t)q->until_us);
	if ((i = sqlite3_bind_parameter_index(s, ":min_score")) > 0)
		sqlite3_bind_double(s, i, q->min_score);
	if ((i = sqlite3_bind_parameter_index(s, ":src_ip")) > 0)
		sqlite3_bind_text(s, i, q->src_ip, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(s, ":dst_ip")) > 0)
		sqlite3_bind_text(s, i, q->dst_ip, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(s, ":before_id")) > 0)
		sqlite3_bind_int64(s, i, q->before_id);
	if ((i = sqlite3_bind_parameter_index(s, ":incident_id")) > 0)
		sqlite3_bind_int64(s, i, q->incident_id);
	i = sqlite3_bind_parameter_index(s, ":limit");
	sqlite3_bind_int(s, i, (int)query_clamp_limit(q->limit));
}

/* Pass matching committed alerts to cb, newest first. */
int
store_alerts_query(struct store *st, const struct store_query *q,
    store_alert_cb cb, void *arg, char **cause)
{
	struct store_alert a;
	sqlite3_stmt *s = NULL;
	char sql[512];
	int rc, n = 0;

	query_sql(sql, sizeof(sql), q);
	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK)
		goto fail;
	store_query_bind(s, q);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		alert_from_row(&a, s);
		n++;
		if (cb(&a, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	return n;

fail:
	rc = store_db_error(st, rc, "query alerts in", cause);
	sqlite3_finalize(s);
	return rc;
}
