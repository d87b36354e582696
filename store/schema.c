/*
 * Schema versions and the forward-migration ladder.
 *
 * PRAGMA user_version holds the schema version.  steps[v] takes a database
 * from version v to v + 1; store_open() runs every step from the file's
 * version up to STORE_SCHEMA_VERSION in one transaction, so a crash halfway
 * leaves the old version intact.  To change the schema, append a step and
 * bump STORE_SCHEMA_VERSION; never edit a released step.  A file with a
 * newer version than this code knows is refused rather than guessed at.
 */
#include <errno.h>
#include <stdio.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

static const char *const steps[] = {
    /* 0 -> 1: alerts and models. */
    "CREATE TABLE alerts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts INTEGER NOT NULL,"
    " ts_first INTEGER NOT NULL,"
    " ts_last INTEGER NOT NULL,"
    " proto INTEGER NOT NULL,"
    " src_ip TEXT NOT NULL,"
    " src_port INTEGER NOT NULL,"
    " dst_ip TEXT NOT NULL,"
    " dst_port INTEGER NOT NULL,"
    " packets INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " score REAL NOT NULL,"
    " threshold REAL NOT NULL,"
    " model_id TEXT NOT NULL,"
    " explanation TEXT NOT NULL,"
    " count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),"
    " last_ts INTEGER NOT NULL);"
    "CREATE INDEX alerts_ts ON alerts (ts);"
    "CREATE INDEX alerts_src_ip ON alerts (src_ip);"
    "CREATE INDEX alerts_dst_ip ON alerts (dst_ip);"
    "CREATE TABLE models ("
    " id TEXT PRIMARY KEY,"
    " created INTEGER NOT NULL,"
    " train_first INTEGER NOT NULL,"
    " train_last INTEGER NOT NULL,"
    " flows INTEGER NOT NULL,"
    " threshold REAL NOT NULL,"
    " rule TEXT NOT NULL,"
    " params TEXT NOT NULL);"
    "CREATE INDEX models_created ON models (created);",
    /*
     * 1 -> 2: incidents, and each alert's finding kind and incident.
     * incident_id is NULL for an alert outside any incident, so the index
     * stays small; JSON lists and evidence are text, as explanations are.
     */
    "ALTER TABLE alerts ADD COLUMN finding INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE alerts ADD COLUMN incident_id INTEGER;"
    "CREATE INDEX alerts_incident_id ON alerts (incident_id);"
    "CREATE TABLE incidents ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " first INTEGER NOT NULL,"
    " last INTEGER NOT NULL,"
    " about INTEGER NOT NULL,"
    " host TEXT NOT NULL,"
    " alerts INTEGER NOT NULL,"
    " flows INTEGER NOT NULL,"
    " peers_n INTEGER NOT NULL,"
    " ports_n INTEGER NOT NULL,"
    " peers TEXT NOT NULL,"
    " ports TEXT NOT NULL,"
    " score_max REAL NOT NULL,"
    " summary TEXT NOT NULL,"
    " evidence TEXT NOT NULL,"
    " model_id TEXT NOT NULL);"
    "CREATE INDEX incidents_last ON incidents (last);"
    "CREATE INDEX incidents_host ON incidents (host);",
    /*
     * 2 -> 3: suppressions, an operator's allow list.  src and dst are
     * CIDR texts ("" = any), expires 0 = never, dst_port and proto 0 =
     * any; created_by is the operator's uid.
     */
    "CREATE TABLE suppressions ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL DEFAULT 0,"
    " src TEXT NOT NULL,"
    " dst TEXT NOT NULL,"
    " dst_port INTEGER NOT NULL DEFAULT 0,"
    " proto INTEGER NOT NULL DEFAULT 0,"
    " note TEXT NOT NULL DEFAULT '',"
    " created_by INTEGER NOT NULL,"
    " hits INTEGER NOT NULL DEFAULT 0,"
    " last_hit INTEGER NOT NULL DEFAULT 0);",
};

_Static_assert(sizeof(steps) / sizeof(steps[0]) == STORE_SCHEMA_VERSION,
    "one migration step per schema version");

/* Run a statement that returns one integer. */
static int
query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Whether version v is one we can migrate from.  A version-0 file must be
 * empty: user_version 0 with tables in it is somebody else's database.
 */
static int
check_version(sqlite3 *db, const char *path, int64_t v, char **cause)
{
	int64_t ntables = 0;
	int rc;

	if (v > STORE_SCHEMA_VERSION || v < 0) {
		store_set_cause(cause,
		    "store: open %s: schema version %lld is "
		    "newer than this anomd knows (%d); refusing to touch it",
		    path, (long long)v, STORE_SCHEMA_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (v != 0)
		return 0;
	rc = query_int(db, "SELECT count(*) FROM sqlite_master", &ntables);
	if (rc != SQLITE_OK) {
		store_set_cause(
		    cause, "store: open %s: %s", path, sqlite3_errmsg(db));
		return store_errno(rc);
	}
	if (ntables != 0) {
		store_set_cause(cause,
		    "store: open %s: not an anomd database "
		    "(schema version 0 but %lld objects in it)",
		    path, (long long)ntables);
		return -EPROTO;
	}
	return 0;
}

/* Apply steps v.. and record the new version; the caller commits. */
static int
run_steps(sqlite3 *db, int64_t v)
{
	char sql[64];
	int rc;

	if (v == STORE_SCHEMA_VERSION)
		return SQLITE_OK;
	for (; v < STORE_SCHEMA_VERSION; v++)
		if ((rc = sqlite3_exec(db, steps[v], NULL, NULL, NULL)) !=
		    SQLITE_OK)
			return rc;
	snprintf(
	    sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/*
 * Check the version before anything writes (switching to WAL rewrites the
 * header), so a garbage, foreign or newer file is refused untouched.
 */
int
schema_probe(sqlite3 *db, const char *path, char **cause)
{
	int64_t v = 0;
	int rc;

	if ((rc = query_int(db, "PRAGMA user_version", &v)) != SQLITE_OK) {
		store_set_cause(
		    cause, "store: open %s: %s", path, sqlite3_errmsg(db));
		return store_errno(rc);
	}
	return check_version(db, path, v, cause);
}

/*
 * Bring the schema of db up to STORE_SCHEMA_VERSION.  The version is read
 * again inside the transaction, in case another process migrated first.
 */
int
schema_migrate(sqlite3 *db, const char *path, char **cause)
{
	int64_t v = 0;
	int rc, err;

	/* IMMEDIATE: two daemons starting at once must not both migrate. */
	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		goto fail;
	if ((rc = query_int(db, "PRAGMA user_version", &v)) != SQLITE_OK)
		goto fail;
	if ((err = check_version(db, path, v, cause)) != 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	if ((rc = run_steps(db, v)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	return 0;

fail:
	store_set_cause(cause, "store: migrate %s from version %lld: %s", path,
	    (long long)v, sqlite3_errmsg(db));
	err = store_errno(rc);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}
