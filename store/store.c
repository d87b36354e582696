/*
 * The store handle: open, flush, close.
 *
 * A flush replays the queue (struct qrec) in one BEGIN IMMEDIATE ...
 * COMMIT with statements prepared at open.  Any error rolls the whole
 * transaction back and leaves the queue as it was, so a retry writes
 * exactly the same rows.  Ids are chosen at put time, so a retry cannot
 * duplicate a row; alert inserts are OR IGNORE (a row with that id can
 * only be the same row) and incident writes are upserts, so that even a
 * commit whose outcome was unclear (an I/O error after the WAL frames
 * were written) is retried idempotently instead of wedging the queue on a
 * key conflict.  Neither is OR REPLACE, which deletes and reinserts and
 * made SQLite journal every page a statement touched: three times slower.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

#define INSERT_SQL                                                             \
	"INSERT OR IGNORE INTO alerts (id, ts, ts_first, ts_last, proto,"      \
	" src_ip, src_port, dst_ip, dst_port, packets, bytes, score,"          \
	" threshold, model_id, explanation, count, last_ts, finding,"          \
	" incident_id)"                                                        \
	" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define UPDATE_SQL                                                             \
	"UPDATE alerts SET count = ?, last_ts = ?, score = ? WHERE id = ?"
#define LINK_SQL "UPDATE alerts SET incident_id = ? WHERE id = ?"
#define INCIDENT_SQL                                                           \
	"INSERT INTO incidents (id, first, last, about, host, alerts, flows,"  \
	" peers_n, ports_n, peers, ports, score_max, summary, evidence,"       \
	" model_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"      \
	" ON CONFLICT (id) DO UPDATE SET first = excluded.first,"              \
	" last = excluded.last, about = excluded.about, host = excluded.host," \
	" alerts = excluded.alerts, flows = excluded.flows,"                   \
	" peers_n = excluded.peers_n, ports_n = excluded.ports_n,"             \
	" peers = excluded.peers, ports = excluded.ports,"                     \
	" score_max = excluded.score_max, summary = excluded.summary,"         \
	" evidence = excluded.evidence, model_id = excluded.model_id"

/* Set *cause to a formatted message when the caller wants one. */
void
store_set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
}

/* Map an SQLite result code to the -errno the header promises. */
int
store_errno(int sqlite_rc)
{
	switch (sqlite_rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EROFS;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
	case SQLITE_FORMAT:
		return -EPROTO;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/* Describe the connection's last error as "store: what path: reason". */
int
store_db_error(struct store *st, int rc, const char *what, char **cause)
{
	store_set_cause(
	    cause, "store: %s %s: %s", what, st->path, sqlite3_errmsg(st->db));
	return store_errno(rc);
}

/* Step a statement that returns no rows and reset it; returns the step. */
int
store_step_reset(sqlite3_stmt *s)
{
	int rc;

	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc;
}

/* The connection, for tests that need to shrink max_page_count. */
sqlite3 *
store_db(struct store *st)
{
	return st->db;
}

/* Fill o with the defaults store.h lists. */
void
store_opts_default(struct store_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_pending = 4096;
	o->fold_window_s = 60;
	o->fold_max_keys = 4096;
	o->rate_max_per_s = 100;
	o->retain_chunk_rows = 1000;
	o->busy_timeout_ms = 1000;
	o->durable = 1;
}

/* Set *cause and return -EINVAL when option name's v is outside min..max. */
static int
check_range(
    const char *name, long long v, long long min, long long max, char **cause)
{
	if (v >= min && v <= max)
		return 0;
	store_set_cause(cause, "store: %s %lld out of range (%lld..%lld)", name,
	    v, min, max);
	return -EINVAL;
}

/* Refuse options the rest of the code would trip over. */
static int
opts_check(const struct store_opts *o, char **cause)
{
	int rc;

	if (o->path == NULL || *o->path == '\0') {
		store_set_cause(cause, "store: no database path given");
		return -EINVAL;
	}
	if ((rc = check_range("max_pending", (long long)o->max_pending, 1,
		 STORE_MAX_PENDING_LIMIT, cause)) != 0 ||
	    (rc = check_range("fold_max_keys", (long long)o->fold_max_keys, 1,
		 STORE_FOLD_KEYS_LIMIT, cause)) != 0 ||
	    (rc = check_range("retain_chunk_rows",
		 (long long)o->retain_chunk_rows, 1, STORE_RETAIN_CHUNK_LIMIT,
		 cause)) != 0 ||
	    (rc = check_range("busy_timeout_ms", o->busy_timeout_ms, 0, 60000,
		 cause)) != 0 ||
	    (rc = check_range("cache_kib", (long long)o->cache_kib, 0,
		 STORE_CACHE_KIB_LIMIT, cause)) != 0 ||
	    (rc = check_range("checkpoint_pages",
		 (long long)o->checkpoint_pages, 0, 1 << 20, cause)) != 0)
		return rc;
	return 0;
}

/* Open the file itself; the errno SQLite saw is the most useful answer. */
static int
open_file(struct store *st, char **cause)
{
	int rc, sys;

	rc = sqlite3_open_v2(st->path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE,
	    NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(st->db, st->o.busy_timeout_ms);
		return 0;
	}
	sys = st->db != NULL ? sqlite3_system_errno(st->db) : 0;
	if (sys != 0) {
		store_set_cause(cause, "store: open %s: %s: %s", st->path,
		    sqlite3_errstr(rc), strerror(sys));
		return -sys;
	}
	store_set_cause(
	    cause, "store: open %s: %s", st->path, sqlite3_errstr(rc));
	return store_errno(rc);
}

/*
 * WAL lets readers (the control socket's queries) run beside the writer;
 * synchronous=FULL is explained in store.h.
 */
static int
set_pragmas(struct store *st, char **cause)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *mode;
	int rc;

	rc = sqlite3_prepare_v2(
	    st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		mode = sqlite3_column_text(s, 0);
		if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
			store_set_cause(cause,
			    "store: open %s: cannot use WAL (journal mode %s)",
			    st->path, mode != NULL ? (const char *)mode : "?");
			sqlite3_finalize(s);
			return -ENOTSUP;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db,
		    st->o.durable ? "PRAGMA synchronous = FULL"
				  : "PRAGMA synchronous = NORMAL",
		    NULL, NULL, NULL);
	/*
	 * Statement journals (each write inside the flush's transaction
	 * keeps one, to undo itself alone) in memory: in a temporary file
	 * they were two system calls per page touched, most of an alert
	 * storm's time.  They hold one statement's pages at most.
	 */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(
		    st->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
	if (rc == SQLITE_OK && st->o.checkpoint_pages > 0) {
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %zu",
		    st->o.checkpoint_pages);
		rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK && st->o.cache_kib > 0) {
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%zu",
		    st->o.cache_kib);
		rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK)
		return store_db_error(st, rc, "open", cause);
	return 0;
}

/* Prepare the statements flushes use. */
static int
prepare_hot(struct store *st, char **cause)
{
	static const unsigned int fl = SQLITE_PREPARE_PERSISTENT;
	int rc;

	if ((rc = sqlite3_prepare_v3(st->db, "BEGIN IMMEDIATE", -1, fl,
		 &st->s_begin, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(
		 st->db, "COMMIT", -1, fl, &st->s_commit, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(st->db, "ROLLBACK", -1, fl,
		 &st->s_rollback, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(st->db, INSERT_SQL, -1, fl, &st->s_insert,
		 NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(
		 st->db, LINK_SQL, -1, fl, &st->s_link, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(st->db, UPDATE_SQL, -1, fl, &st->s_update,
		 NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(st->db, INCIDENT_SQL, -1, fl,
		 &st->s_incident, NULL)) != SQLITE_OK)
		return store_db_error(st, rc, "prepare", cause);
	return 0;
}

/*
 * The next id of a table is one above both its highest row and its
 * AUTOINCREMENT sequence, so ids deleted by retention are never handed
 * out again.  table is one of ours, never outside input.
 */
static int
load_next_id(struct store *st, const char *table, int64_t *next, char **cause)
{
	sqlite3_stmt *s;
	char sql[256];
	int rc;

	snprintf(sql, sizeof(sql),
	    "SELECT max(coalesce((SELECT max(id) FROM %s), 0),"
	    " coalesce((SELECT seq FROM sqlite_sequence"
	    " WHERE name = '%s'), 0))",
	    table, table);
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		*next = sqlite3_column_int64(s, 0) + 1;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		return store_db_error(st, rc, "open", cause);
	return 0;
}

/* Free what store_open() built; the queue's strings too. */
static void
store_free(struct store *st)
{
	size_t i;

	for (i = 0; i < st->nq; i++) {
		free(st->q[i].explanation);
		free(st->q[i].inc);
	}
	sqlite3_finalize(st->s_begin);
	sqlite3_finalize(st->s_commit);
	sqlite3_finalize(st->s_rollback);
	sqlite3_finalize(st->s_insert);
	sqlite3_finalize(st->s_update);
	sqlite3_finalize(st->s_link);
	sqlite3_finalize(st->s_incident);
	sqlite3_close(st->db);
	fold_free(&st->fold);
	free(st->q);
	free(st->incq);
	free(st->insq);
	free(st->path);
	free(st);
}

/* Open, migrate and prepare; everything is undone on failure. */
int
store_open(struct store **stp, const struct store_opts *o, char **cause)
{
	struct store *st;
	size_t nincq = 2;
	int rc;

	*stp = NULL;
	if ((rc = opts_check(o, cause)) != 0)
		return rc;
	while (nincq < 2 * o->max_pending)
		nincq <<= 1;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(o->path)) == NULL ||
	    (st->q = calloc(o->max_pending, sizeof(*st->q))) == NULL ||
	    (st->incq = calloc(nincq, sizeof(*st->incq))) == NULL ||
	    (st->insq = calloc(o->max_pending, sizeof(*st->insq))) == NULL ||
	    fold_init(&st->fold, o->fold_max_keys) != 0) {
		rc = -ENOMEM;
		store_set_cause(
		    cause, "store: open %s: out of memory", o->path);
		goto fail;
	}
	st->o = *o;
	st->o.path = st->path;
	st->incq_mask = nincq - 1;
	if ((rc = open_file(st, cause)) != 0 ||
	    (rc = schema_probe(st->db, st->path, cause)) != 0 ||
	    (rc = set_pragmas(st, cause)) != 0 ||
	    (rc = schema_migrate(st->db, st->path, cause)) != 0 ||
	    (rc = prepare_hot(st, cause)) != 0 ||
	    (rc = load_next_id(st, "alerts", &st->next_id, cause)) != 0 ||
	    (rc = load_next_id(st, "incidents", &st->next_inc_id, cause)) != 0)
		goto fail;
	*stp = st;
	return 0;

fail:
	if (st != NULL)
		store_free(st);
	return rc;
}

/* Bind and run one queued write. */
static int
write_rec(struct store *st, const struct qrec *r)
{
	sqlite3_stmt *s = st->s_insert;

	if (r->kind == QREC_INCIDENT)
		return incident_write(st->s_incident, r->inc, r->id);
	if (r->kind == QREC_LINK) {
		sqlite3_bind_int64(st->s_link, 1, (int64_t)r->count);
		sqlite3_bind_int64(st->s_link, 2, r->id);
		return store_step_reset(st->s_link);
	}
	if (r->kind == QREC_UPDATE) {
		s = st->s_update;
		sqlite3_bind_int64(s, 1, (int64_t)r->count);
		sqlite3_bind_int64(s, 2, (int64_t)r->last_us);
		sqlite3_bind_double(s, 3, r->score);
		sqlite3_bind_int64(s, 4, r->id);
		return store_step_reset(s);
	}
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int64(s, 2, (int64_t)r->ts_us);
	sqlite3_bind_int64(s, 3, (int64_t)r->ts_first_us);
	sqlite3_bind_int64(s, 4, (int64_t)r->ts_last_us);
	sqlite3_bind_int(s, 5, r->proto);
	sqlite3_bind_text(s, 6, r->src_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, r->src_port);
	sqlite3_bind_text(s, 8, r->dst_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 9, r->dst_port);
	sqlite3_bind_int64(s, 10, (int64_t)r->packets);
	sqlite3_bind_int64(s, 11, (int64_t)r->bytes);
	sqlite3_bind_double(s, 12, r->score);
	sqlite3_bind_double(s, 13, r->threshold);
	sqlite3_bind_text(s, 14, r->model_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 15, r->explanation, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 16, (int64_t)r->count);
	sqlite3_bind_int64(s, 17, (int64_t)r->last_us);
	sqlite3_bind_int(s, 18, r->finding);
	if (r->incident_id > 0)
		sqlite3_bind_int64(s, 19, r->incident_id);
	else
		sqlite3_bind_null(s, 19);
	return store_step_reset(s);
}

/* Forget the committed queue; fold keys stop pointing into it. */
static void
queue_committed(struct store *st)
{
	size_t i;

	for (i = 0; i < st->nq; i++) {
		if (st->q[i].kind == QREC_INSERT)
			st->stats.written++;
		else if (st->q[i].kind == QREC_UPDATE ||
		    st->q[i].kind == QREC_LINK)
			st->stats.updated++;
		else
			st->stats.incidents_written++;
		free(st->q[i].explanation);
		st->q[i].explanation = NULL;
		free(st->q[i].inc);
		st->q[i].inc = NULL;
	}
	st->nq = 0;
	st->ninsq = 0;
	if (st->incq_n > 0) {
		memset(st->incq, 0, (st->incq_mask + 1) * sizeof(*st->incq));
		st->incq_n = 0;
	}
	st->qgen++;
	st->stats.flushes++;
	st->stats.last_error = 0;
}

/* Commit the whole queue in one transaction, or keep all of it. */
int
store_flush(struct store *st, char **cause)
{
	size_t i;
	int rc, err;

	if (st->nq == 0)
		return 0;
	if ((rc = store_step_reset(st->s_begin)) != SQLITE_DONE)
		goto fail;
	for (i = 0; i < st->nq; i++)
		if ((rc = write_rec(st, &st->q[i])) != SQLITE_DONE)
			goto fail;
	if ((rc = store_step_reset(st->s_commit)) != SQLITE_DONE)
		goto fail;
	queue_committed(st);
	return 0;

fail:
	/* Take the message before ROLLBACK replaces it. */
	err = store_db_error(st, rc, "flush", cause);
	/* SQLite may already have rolled back after FULL or IOERR. */
	if (!sqlite3_get_autocommit(st->db))
		store_step_reset(st->s_rollback);
	st->stats.write_errors++;
	st->stats.last_error = err;
	return err;
}

/* Flush, checkpoint and free. */
int
store_close(struct store *st, char **cause)
{
	char *why = NULL;
	size_t lost;
	int rc;

	if (st == NULL)
		return 0;
	lost = st->nq;
	if ((rc = store_flush(st, cause != NULL ? &why : NULL)) != 0)
		store_set_cause(cause, "%s; %zu queued writes lost at close",
		    why != NULL ? why : "store: flush failed", lost);
	free(why);
	/* Fold the WAL back so the file stands alone once closed. */
	sqlite3_wal_checkpoint_v2(
	    st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	store_free(st);
	return rc;
}

/* Copy the counters, with the current queue depth. */
void
store_stats(const struct store *st, struct store_stats *out)
{
	*out = st->stats;
	out->pending = st->nq;
}
