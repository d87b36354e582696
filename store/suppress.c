/*
 * The suppressions table: an operator's allow list, written at once (not
 * queued), since a person adds or removes a row now and then.  Hits are
 * counted in memory by the daemon and added here in batches.
 */
#include <errno.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

#define SUPPRESS_COLS                                                          \
	"id, created, expires, src, dst, dst_port, proto, note, created_by,"   \
	" hits, last_hit"

/* Prepare sql on the store's connection; the SQLite code. */
static int
prepare(struct store *st, const char *sql, sqlite3_stmt **s)
{
	return sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
}

/* Rows in the table now, or -errno. */
static int64_t
count_rows(struct store *st, char **cause)
{
	sqlite3_stmt *s = NULL;
	int64_t n;
	int rc;

	if ((rc = prepare(st, "SELECT count(*) FROM suppressions", &s)) !=
	    SQLITE_OK)
		return store_db_error(st, rc, "count suppressions in", cause);
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		n = store_db_error(st, rc, "count suppressions in", cause);
		sqlite3_finalize(s);
		return n;
	}
	n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Insert one suppression at once. */
int
store_suppress_add(struct store *st, const struct store_suppress *sp,
    int64_t *idp, char **cause)
{
	sqlite3_stmt *s = NULL;
	int64_t n;
	int rc;

	if (idp != NULL)
		*idp = 0;
	if (!store_terminated(sp->src, sizeof(sp->src)) ||
	    !store_terminated(sp->dst, sizeof(sp->dst)) ||
	    !store_terminated(sp->note, sizeof(sp->note))) {
		store_set_cause(cause,
		    "store: suppression string not "
		    "terminated");
		return -EINVAL;
	}
	if ((n = count_rows(st, cause)) < 0)
		return (int)n;
	if (n >= STORE_SUPPRESS_MAX) {
		store_set_cause(cause,
		    "store: %lld suppressions already (the most kept); "
		    "remove some first",
		    (long long)n);
		return -ENOSPC;
	}
	if ((rc = prepare(st,
		 "INSERT INTO suppressions (created, expires, src, dst,"
		 " dst_port, proto, note, created_by)"
		 " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		 &s)) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, (int64_t)sp->created_us);
	sqlite3_bind_int64(s, 2, (int64_t)sp->expires_us);
	sqlite3_bind_text(s, 3, sp->src, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, sp->dst, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, sp->dst_port);
	sqlite3_bind_int(s, 6, sp->proto);
	sqlite3_bind_text(s, 7, sp->note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, sp->created_by);
	if ((rc = sqlite3_step(s)) != SQLITE_DONE)
		goto fail;
	if (idp != NULL)
		*idp = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return 0;

fail:
	rc = store_db_error(st, rc, "add suppression to", cause);
	sqlite3_finalize(s);
	return rc;
}

/* Delete one suppression. */
int
store_suppress_del(struct store *st, int64_t id, char **cause)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = prepare(st, "DELETE FROM suppressions WHERE id = ?", &s)) !=
	    SQLITE_OK)
		return store_db_error(st, rc, "remove suppression from", cause);
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_db_error(st, rc, "remove suppression from", cause);
	return sqlite3_changes(st->db) == 0 ? -ENOENT : 0;
}

/* Count hits into suppressions, in one transaction. */
int
store_suppress_hit(struct store *st, const struct store_suppress_hits *h,
    size_t n, char **cause)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = prepare(st,
		 "UPDATE suppressions SET hits = hits + ?,"
		 " last_hit = max(last_hit, ?) WHERE id = ?",
		 &s)) != SQLITE_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(s, 1, (int64_t)h[i].hits);
		sqlite3_bind_int64(s, 2, (int64_t)h[i].last_hit_us);
		sqlite3_bind_int64(s, 3, h[i].id);
		if ((rc = store_step_reset(s)) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	if ((rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		goto fail;
	return 0;

fail:
	rc = store_db_error(st, rc, "count suppression hits in", cause);
	sqlite3_finalize(s);
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Fill sp from the current row of s (selected with SUPPRESS_COLS). */
static void
suppress_from_row(struct store_suppress *sp, sqlite3_stmt *s)
{
	memset(sp, 0, sizeof(*sp));
	sp->id = sqlite3_column_int64(s, 0);
	sp->created_us = (uint64_t)sqlite3_column_int64(s, 1);
	sp->expires_us = (uint64_t)sqlite3_column_int64(s, 2);
	/* A text cut to fit cannot parse as a CIDR: the daemon skips it. */
	query_copy_text(sp->src, sizeof(sp->src), s, 3);
	query_copy_text(sp->dst, sizeof(sp->dst), s, 4);
	sp->dst_port = (uint16_t)sqlite3_column_int(s, 5);
	sp->proto = (uint8_t)sqlite3_column_int(s, 6);
	query_copy_text(sp->note, sizeof(sp->note), s, 7);
	sp->created_by = sqlite3_column_int64(s, 8);
	sp->hits = (uint64_t)sqlite3_column_int64(s, 9);
	sp->last_hit_us = (uint64_t)sqlite3_column_int64(s, 10);
}

/* Pass every suppression to cb, oldest first. */
int
store_suppress_query(
    struct store *st, store_suppress_cb cb, void *arg, char **cause)
{
	struct store_suppress sp;
	sqlite3_stmt *s = NULL;
	int rc, n = 0;

	if ((rc = prepare(st,
		 "SELECT " SUPPRESS_COLS " FROM suppressions"
		 " ORDER BY id LIMIT ?",
		 &s)) != SQLITE_OK)
		return store_db_error(st, rc, "query suppressions in", cause);
	sqlite3_bind_int(s, 1, STORE_SUPPRESS_MAX);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		suppress_from_row(&sp, s);
		n++;
		if (cb(&sp, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		n = store_db_error(st, rc, "query suppressions in", cause);
	sqlite3_finalize(s);
	return n;
}
