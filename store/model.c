/*
 * The models table: one row per trained model, written at once (models
 * are rare, and the daemon wants the row there before it scores with it).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

#define MODEL_COLS                                                             \
	"id, created, train_first, train_last, flows, threshold, rule, params"

/* Insert or replace one model row at once. */
int
store_model_put(struct store *st, const struct store_model *m, char **cause)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (m->id[0] == '\0' || !store_terminated(m->id, sizeof(m->id)) ||
	    !store_terminated(m->rule, sizeof(m->rule)) ||
	    !store_terminated(m->params, sizeof(m->params)) ||
	    !isfinite(m->threshold)) {
		store_set_cause(cause,
		    "store: model id empty, a string not "
		    "terminated or the threshold not finite");
		return -EINVAL;
	}
	rc = sqlite3_prepare_v2(st->db,
	    "INSERT OR REPLACE INTO models (" MODEL_COLS ")"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	    -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, m->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)m->created_us);
	sqlite3_bind_int64(s, 3, (int64_t)m->train_first_us);
	sqlite3_bind_int64(s, 4, (int64_t)m->train_last_us);
	sqlite3_bind_int64(s, 5, (int64_t)m->flows);
	sqlite3_bind_double(s, 6, m->threshold);
	sqlite3_bind_text(s, 7, m->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(
	    s, 8, m->params[0] != '\0' ? m->params : "{}", -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	return 0;

fail:
	rc = store_db_error(st, rc, "put model in", cause);
	sqlite3_finalize(s);
	return rc;
}

/* Fill m from the current row of s (selected with MODEL_COLS). */
static void
model_from_row(struct store_model *m, sqlite3_stmt *s)
{
	query_copy_text(m->id, sizeof(m->id), s, 0);
	m->created_us = (uint64_t)sqlite3_column_int64(s, 1);
	m->train_first_us = (uint64_t)sqlite3_column_int64(s, 2);
	m->train_last_us = (uint64_t)sqlite3_column_int64(s, 3);
	m->flows = (uint64_t)sqlite3_column_int64(s, 4);
	m->threshold = sqlite3_column_double(s, 5);
	query_copy_text(m->rule, sizeof(m->rule), s, 6);
	if (query_copy_text(m->params, sizeof(m->params), s, 7) != 0)
		strcpy(m->params, "{}");
}

/* Hand one model to the caller's struct: store_model_get()'s callback. */
static int
model_copy_cb(const struct store_model *m, void *arg)
{
	memcpy(arg, m, sizeof(*m));
	return 1;
}

/* Run s (its parameters bound) and pass up to each row to cb. */
static int
model_rows(struct store *st, sqlite3_stmt *s, store_model_cb cb, void *arg,
    char **cause)
{
	struct store_model m;
	int rc, n = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		model_from_row(&m, s);
		n++;
		if (cb(&m, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		n = store_db_error(st, rc, "query models in", cause);
	sqlite3_finalize(s);
	return n;
}

/* Copy one model, by id or the latest. */
int
store_model_get(
    struct store *st, const char *id, struct store_model *out, char **cause)
{
	sqlite3_stmt *s;
	int rc;

	if (id != NULL)
		rc = sqlite3_prepare_v2(st->db,
		    "SELECT " MODEL_COLS " FROM models WHERE id = ?", -1, &s,
		    NULL);
	else
		rc = sqlite3_prepare_v2(st->db,
		    "SELECT " MODEL_COLS " FROM models"
		    " ORDER BY created DESC, rowid DESC LIMIT 1",
		    -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_db_error(st, rc, "get model from", cause);
	if (id != NULL)
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = model_rows(st, s, model_copy_cb, out, cause);
	if (rc < 0)
		return rc;
	return rc == 0 ? -ENOENT : 0;
}

/* Pass models to cb, the latest first. */
int
store_models_query(struct store *st, unsigned int limit, store_model_cb cb,
    void *arg, char **cause)
{
	sqlite3_stmt *s;
	int rc;

	if (limit == 0)
		limit = STORE_QUERY_LIMIT_DEFAULT;
	if (limit > STORE_QUERY_LIMIT_MAX)
		limit = STORE_QUERY_LIMIT_MAX;
	rc = sqlite3_prepare_v2(st->db,
	    "SELECT " MODEL_COLS " FROM models"
	    " ORDER BY created DESC, rowid DESC LIMIT ?",
	    -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_db_error(st, rc, "query models in", cause);
	sqlite3_bind_int(s, 1, (int)limit);
	return model_rows(st, s, cb, arg, cause);
}
