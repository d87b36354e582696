/*
 * Retention: delete old alerts a bounded chunk at a time, so one call
 * holds the write lock only briefly and the daemon spreads a large purge
 * over many calls.  Incidents go by age only, once their last alert is
 * older than max_age_s; they share the chunk with the alerts.
 *
 * Age uses ts (via its index).  A folded row's last_ts is at most one fold
 * window after its ts, so ts is a fair age for the whole row.  The row cap
 * keeps the newest max_rows ids; finding the cut walks max_rows entries of
 * the rowid tree, which is cheap next to a delete.
 */
#include <errno.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

/* Run a DELETE with parameters ?1 (bound) and ?2 (the chunk left). */
static int
delete_chunk(struct store *st, const char *sql, int64_t bound, int64_t left,
    int *deleted)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(s, 1, bound);
	sqlite3_bind_int64(s, 2, left);
	if ((rc = sqlite3_step(s)) == SQLITE_DONE)
		*deleted += sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc;
}

/* The highest id beyond the newest max_rows, or 0 when there is none. */
static int
rows_cut(struct store *st, uint64_t max_rows, int64_t *cut)
{
	sqlite3_stmt *s;
	int rc;

	*cut = 0;
	rc = sqlite3_prepare_v2(st->db,
	    "SELECT id FROM alerts ORDER BY id DESC LIMIT 1 OFFSET ?", -1, &s,
	    NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(s, 1, (int64_t)max_rows);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*cut = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* Both deletes, inside the caller's transaction. */
static int
retain_run(struct store *st, uint64_t now_us, uint32_t max_age_s,
    uint64_t max_rows, int *n)
{
	int64_t chunk = (int64_t)st->o.retain_chunk_rows, cut;
	uint64_t age_us = (uint64_t)max_age_s * US_PER_S;
	int rc;

	if (max_age_s != 0 && now_us > age_us) {
		rc = delete_chunk(st,
		    "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
		    " WHERE ts < ?1 LIMIT ?2)",
		    (int64_t)(now_us - age_us), chunk, n);
		if (rc == SQLITE_DONE && *n < chunk)
			rc = delete_chunk(st,
			    "DELETE FROM incidents WHERE id IN (SELECT id FROM"
			    " incidents WHERE last < ?1 LIMIT ?2)",
			    (int64_t)(now_us - age_us), chunk - *n, n);
		if (rc != SQLITE_DONE)
			return rc;
	}
	if (max_rows == 0 || *n >= chunk)
		return SQLITE_DONE;
	if ((rc = rows_cut(st, max_rows, &cut)) != SQLITE_DONE || cut == 0)
		return rc;
	return delete_chunk(st,
	    "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
	    " WHERE id <= ?1 ORDER BY id LIMIT ?2)",
	    cut, chunk - *n, n);
}

/* Delete one bounded chunk of expired alerts. */
int
store_retain(struct store *st, uint64_t now_us, uint32_t max_age_s,
    uint64_t max_rows, char **cause)
{
	int rc, err, n = 0;

	if (max_age_s == 0 && max_rows == 0)
		return 0;
	/* One transaction: one fsync for both deletes. */
	if ((rc = store_step_reset(st->s_begin)) != SQLITE_DONE)
		goto fail;
	if ((rc = retain_run(st, now_us, max_age_s, max_rows, &n)) !=
	    SQLITE_DONE)
		goto fail;
	if ((rc = store_step_reset(st->s_commit)) != SQLITE_DONE)
		goto fail;
	st->stats.retained += (uint64_t)n;
	return n;

fail:
	err = store_db_error(st, rc, "retain", cause);
	if (!sqlite3_get_autocommit(st->db))
		store_step_reset(st->s_rollback);
	return err;
}
