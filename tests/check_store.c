/*
 * Check tests for the store module.
 *
 * Every test gets a fresh temporary directory (checked fixture) and opens
 * its database there.  The tests look at the file through a second, raw
 * SQLite connection where they must prove what is on disk rather than
 * what the store believes.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/store-int.h"

#define T0_US 1700000000000000ULL /* 2023-11-14T22:13:20Z */
#define SEC(n) ((uint64_t)(n)*1000000ULL)

static char tmpdir[PATH_MAX];
static char dbpath[PATH_MAX + 16];

/* ---- Fixture and helpers ---------------------------------------------- */

static void
setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/check_store.XXXXXX",
	    base != NULL ? base : "/tmp");
	ck_assert_msg(
	    mkdtemp(tmpdir) != NULL, "mkdtemp %s should work", tmpdir);
	snprintf(dbpath, sizeof(dbpath), "%s/anomd.db", tmpdir);
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Alert number i at time ts: every field is a function of i. */
static void
mk_alert(struct store_alert *a, int i, uint64_t ts)
{
	memset(a, 0, sizeof(*a));
	a->ts_us = ts;
	a->ts_first_us = ts - SEC(5);
	a->ts_last_us = ts - SEC(1);
	a->proto = i % 2 == 0 ? 6 : 17;
	snprintf(
	    a->src_ip, sizeof(a->src_ip), "10.0.%d.%d", i / 250, i % 250 + 1);
	a->src_port = (uint16_t)(40000 + i);
	snprintf(a->dst_ip, sizeof(a->dst_ip), "192.168.1.%d", i % 200 + 1);
	a->dst_port = (uint16_t)(1 + i % 1000);
	a->packets = 10 + (uint64_t)i;
	a->bytes = 1000 + (uint64_t)i * 7;
	a->score = 1.5 + i;
	a->threshold = 1.25;
	snprintf(a->model_id, sizeof(a->model_id), "m%016x", 0xabcdu);
	snprintf(a->explanation, sizeof(a->explanation),
	    "[{\"feature\":\"bytes_out\",\"error\":%d}]", i);
}

static void
opts_for_test(struct store_opts *o)
{
	store_opts_default(o);
	o->path = dbpath;
	o->rate_max_per_s = 0;
}

static struct store *
open_ok(const struct store_opts *o)
{
	struct store *st = NULL;
	char *cause = NULL;
	int rc;

	rc = store_open(&st, o, &cause);
	ck_assert_msg(rc == 0, "store_open should work: %d %s", rc,
	    cause != NULL ? cause : "");
	ck_assert_ptr_nonnull(st);
	free(cause);
	return st;
}

static struct store *
open_default(void)
{
	struct store_opts o;

	opts_for_test(&o);
	return open_ok(&o);
}

static void
flush_ok(struct store *st)
{
	char *cause = NULL;
	int rc;

	rc = store_flush(st, &cause);
	ck_assert_msg(rc == 0, "store_flush should work: %d %s", rc,
	    cause != NULL ? cause : "");
	free(cause);
}

static void
close_ok(struct store *st)
{
	char *cause = NULL;
	int rc;

	rc = store_close(st, &cause);
	ck_assert_msg(rc == 0, "store_close should work: %d %s", rc,
	    cause != NULL ? cause : "");
	free(cause);
}

/* Put alert i at ts; it must become a new row.  Returns its id. */
static int64_t
put_new(struct store *st, int i, uint64_t ts)
{
	struct store_alert a;
	int64_t id = -1;
	int rc;

	mk_alert(&a, i, ts);
	rc = store_alert_put(st, &a, &id);
	ck_assert_msg(
	    rc == STORE_PUT_NEW, "alert %d should be a new row, got %d", i, rc);
	ck_assert_msg(id > 0, "a new row should get an id");
	return id;
}

/* One integer from sql on a fresh raw connection to path. */
static int64_t
raw_int_at(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	ck_assert_int_eq(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK,
	    "raw query %s should prepare: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static int64_t
raw_int(const char *sql)
{
	return raw_int_at(dbpath, sql);
}

/* Run sql on a fresh read-write raw connection. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK,
	    "raw exec should work: %s", err != NULL ? err : "");
	sqlite3_close(db);
}

/* Assert that alert b (read back) carries what mk_alert(i, ts) wrote. */
static void
assert_alert_is(const struct store_alert *b, int i, uint64_t ts)
{
	struct store_alert a;

	mk_alert(&a, i, ts);
	ck_assert_msg(b->ts_us == a.ts_us, "ts of alert %d should survive", i);
	ck_assert_msg(
	    b->ts_first_us == a.ts_first_us && b->ts_last_us == a.ts_last_us,
	    "flow times should survive");
	ck_assert_int_eq(b->proto, a.proto);
	ck_assert_str_eq(b->src_ip, a.src_ip);
	ck_assert_int_eq(b->src_port, a.src_port);
	ck_assert_str_eq(b->dst_ip, a.dst_ip);
	ck_assert_int_eq(b->dst_port, a.dst_port);
	ck_assert_msg(b->packets == a.packets && b->bytes == a.bytes,
	    "packets and bytes should survive");
	ck_assert_double_eq(b->threshold, a.threshold);
	ck_assert_str_eq(b->model_id, a.model_id);
	ck_assert_str_eq(b->explanation, a.explanation);
}

static int
has_substr(const char *s, const char *sub)
{
	return s != NULL && strstr(s, sub) != NULL;
}

/* ---- Suite store: open, close, durability ------------------------------ */

START_TEST(test_open_creates)
{
	static const char objects[] =
	    "SELECT count(*) FROM sqlite_master WHERE name IN ('alerts',"
	    " 'models', 'alerts_ts', 'alerts_src_ip', 'alerts_dst_ip')";
	struct store *st;
	struct stat sb;

	st = open_default();
	ck_assert_msg(stat(dbpath, &sb) == 0, "open should create the file");
	ck_assert_msg(raw_int("PRAGMA user_version") == STORE_SCHEMA_VERSION,
	    "a new file should get the current schema version");
	ck_assert_msg(raw_int(objects) == 5, "tables and indexes should exist");
	close_ok(st);
}
END_TEST

START_TEST(test_open_wal_full)
{
	struct store *st;
	sqlite3_stmt *s;
	const char *mode;

	st = open_default();
	ck_assert_int_eq(sqlite3_prepare_v2(
			     store_db(st), "PRAGMA journal_mode", -1, &s, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	mode = (const char *)sqlite3_column_text(s, 0);
	ck_assert_msg(strcmp(mode, "wal") == 0, "journal should be WAL");
	sqlite3_finalize(s);
	ck_assert_int_eq(sqlite3_prepare_v2(
			     store_db(st), "PRAGMA synchronous", -1, &s, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_msg(
	    sqlite3_column_int(s, 0) == 2, "synchronous should be FULL (2)");
	sqlite3_finalize(s);
	close_ok(st);
}
END_TEST

START_TEST(test_open_no_dir)
{
	static const char want[] =
	    "store: open /nonexistent/x.db: unable to open database file";
	struct store_opts o;
	struct store *st = (struct store *)&o;
	char *cause = NULL;
	int rc;

	store_opts_default(&o);
	o.path = "/nonexistent/x.db";
	rc = store_open(&st, &o, &cause);
	ck_assert_msg(
	    rc == -ENOENT, "a missing directory should be -ENOENT, got %d", rc);
	ck_assert_ptr_null(st);
	ck_assert_msg(has_substr(cause, want),
	    "cause should name the file "
	    "and say why: %s",
	    cause);
	free(cause);
}
END_TEST

/* Each row breaks one option; the cause must name it. */
static const struct {
	size_t max_pending, fold_keys, chunk;
	int busy;
	const char *name;
} bad_opts[] = {
    {0, 1, 1, 0, "max_pending"},
    {STORE_MAX_PENDING_LIMIT + 1, 1, 1, 0, "max_pending"},
    {1, 0, 1, 0, "fold_max_keys"},
    {1, STORE_FOLD_KEYS_LIMIT + 1, 1, 0, "fold_max_keys"},
    {1, 1, 0, 0, "retain_chunk_rows"},
    {1, 1, STORE_RETAIN_CHUNK_LIMIT + 1, 0, "retain_chunk_rows"},
    {1, 1, 1, -1, "busy_timeout_ms"},
    {1, 1, 1, 60001, "busy_timeout_ms"},
};

START_TEST(test_open_bad_opts)
{
	struct store_opts o;
	struct store *st;
	struct stat sb;
	char *cause = NULL;

	opts_for_test(&o);
	o.max_pending = bad_opts[_i].max_pending;
	o.fold_max_keys = bad_opts[_i].fold_keys;
	o.retain_chunk_rows = bad_opts[_i].chunk;
	o.busy_timeout_ms = bad_opts[_i].busy;
	ck_assert_msg(store_open(&st, &o, &cause) == -EINVAL,
	    "bad %s should be -EINVAL", bad_opts[_i].name);
	ck_assert_msg(has_substr(cause, bad_opts[_i].name),
	    "cause should name %s: %s", bad_opts[_i].name, cause);
	ck_assert_msg(stat(dbpath, &sb) != 0, "no file should be created");
	free(cause);
}
END_TEST

START_TEST(test_open_no_path)
{
	struct store_opts o;
	struct store *st;
	char *cause = NULL;

	store_opts_default(&o);
	ck_assert_msg(store_open(&st, &o, &cause) == -EINVAL,
	    "a missing path should be -EINVAL");
	ck_assert_msg(has_substr(cause, "no database path"),
	    "cause should say the path is missing: %s", cause);
	free(cause);
}
END_TEST

START_TEST(test_open_garbage)
{
	static const char junk[] =
	    "this is not an SQLite database, it is a "
	    "text file that somebody pointed db_path at by mistake.\n";
	struct store_opts o;
	struct store *st;
	char *cause = NULL, back[sizeof(junk)];
	FILE *fp;
	int i, rc;

	fp = fopen(dbpath, "w");
	ck_assert_ptr_nonnull(fp);
	for (i = 0; i < 64; i++)
		fwrite(junk, 1, sizeof(junk) - 1, fp);
	fclose(fp);
	opts_for_test(&o);
	rc = store_open(&st, &o, &cause);
	ck_assert_msg(
	    rc == -EPROTO, "a garbage file should be -EPROTO, got %d", rc);
	ck_assert_msg(has_substr(cause, "file is not a database") &&
		has_substr(cause, dbpath),
	    "cause should say why and name the file: %s", cause);
	free(cause);
	fp = fopen(dbpath, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(
	    fread(back, 1, sizeof(junk) - 1, fp), sizeof(junk) - 1);
	fclose(fp);
	ck_assert_msg(memcmp(back, junk, sizeof(junk) - 1) == 0,
	    "a refused file should be left untouched");
}
END_TEST

START_TEST(test_close_null)
{
	ck_assert_msg(store_close(NULL, NULL) == 0,
	    "store_close(NULL) should do nothing");
}
END_TEST

START_TEST(test_close_flushes)
{
	struct store_alert b;
	struct store *st;
	char wal[sizeof(dbpath) + 8];
	struct stat sb;
	int64_t id[3];
	int i;

	st = open_default();
	for (i = 0; i < 3; i++)
		id[i] = put_new(st, i, T0_US + SEC(i));
	close_ok(st);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	ck_assert_msg(stat(wal, &sb) != 0 || sb.st_size == 0,
	    "close should checkpoint the WAL away");
	st = open_default();
	for (i = 0; i < 3; i++) {
		ck_assert_msg(store_alert_get(st, id[i], &b, NULL) == 0,
		    "close should have flushed alert %d", i);
		assert_alert_is(&b, i, T0_US + SEC(i));
	}
	close_ok(st);
}
END_TEST

START_TEST(test_ids_continue)
{
	struct store *st;
	int64_t id;

	st = open_default();
	ck_assert_msg(put_new(st, 0, T0_US) == 1, "first id should be 1");
	ck_assert_msg(put_new(st, 1, T0_US) == 2, "ids should be consecutive");
	close_ok(st);
	st = open_default();
	ck_assert_msg(
	    put_new(st, 2, T0_US) == 3, "ids should continue after reopen");
	flush_ok(st);
	ck_assert_int_eq(store_retain(st, T0_US + SEC(3600), 60, 0, NULL), 3);
	close_ok(st);
	st = open_default();
	id = put_new(st, 3, T0_US);
	ck_assert_msg(id == 4,
	    "ids deleted by retention should not be reused, got %lld",
	    (long long)id);
	close_ok(st);
}
END_TEST

START_TEST(test_stats_balance)
{
	struct store_opts o;
	struct store_stats ss;
	struct store_alert a;
	struct store *st;
	int i, rc;

	opts_for_test(&o);
	o.max_pending = 8;
	o.rate_max_per_s = 5;
	st = open_ok(&o);
	for (i = 0; i < 20; i++) {
		mk_alert(&a, i % 12, T0_US + (uint64_t)i * 1000);
		rc = store_alert_put(st, &a, NULL);
		ck_assert_int_ge(rc, 0);
	}
	store_stats(st, &ss);
	ck_assert_msg(ss.queued + ss.folded + ss.rate_dropped +
		    ss.queue_dropped + ss.rejected ==
		20,
	    "every put should land in exactly one counter");
	ck_assert_msg(ss.pending == ss.queued && ss.pending <= 8,
	    "every queued row should be pending, within max_pending");
	flush_ok(st);
	store_stats(st, &ss);
	ck_assert_msg(
	    ss.written == ss.queued, "every queued row should be written");
	ck_assert_msg(ss.pending == 0, "nothing should be pending after flush");
	ck_assert_msg(ss.flushes == 1, "one flush should be counted");
	close_ok(st);
}
END_TEST

/*
 * store_alert_fate() answers what the next put does (new row, fold, rate
 * cap, queue full) and changes nothing: across repeats, new keys, a rate
 * cap, a full queue, flushes and a window that passes.
 */
START_TEST(test_fate_predicts_put)
{
	struct store_opts o;
	struct store_stats s0, s1;
	struct store_alert a;
	struct store *st;
	int i, fate, rc, seen[4] = {0, 0, 0, 0};

	opts_for_test(&o);
	o.max_pending = 8;
	o.rate_max_per_s = 5;
	o.fold_window_s = 10;
	st = open_ok(&o);
	for (i = 0; i < 200; i++) {
		mk_alert(
		    &a, i % 3 == 0 ? i : i % 4, T0_US + (uint64_t)i * 50000);
		store_stats(st, &s0);
		fate = store_alert_fate(st, &a);
		store_stats(st, &s1);
		ck_assert_msg(memcmp(&s0, &s1, sizeof(s0)) == 0,
		    "asking the fate should change no counter");
		ck_assert_int_eq(store_alert_fate(st, &a), fate);
		rc = store_alert_put(st, &a, NULL);
		ck_assert_msg(rc == fate,
		    "put %d should do what the fate said (%d), did %d", i, fate,
		    rc);
		seen[rc]++;
		if (i % 40 == 39)
			flush_ok(st);
	}
	ck_assert_msg(seen[STORE_PUT_NEW] > 0 && seen[STORE_PUT_FOLDED] > 0 &&
		seen[STORE_PUT_RATE_DROPPED] > 0 &&
		seen[STORE_PUT_QUEUE_DROPPED] > 0,
	    "the sweep should see every fate (%d %d %d %d)", seen[0], seen[1],
	    seen[2], seen[3]);
	close_ok(st);
}
END_TEST

/*
 * Fill the disk (max_page_count) so the flush after about N extra pages
 * fails; prove that committed alerts are intact after each failure and
 * that the queued ones land once there is room again.  Each batch also
 * folds into an already committed row, so updates are retried too.
 */
#define FULL_BATCH 6
#define FULL_MAX_ALERTS 600

struct full_state {
	uint64_t ts[FULL_MAX_ALERTS + 1]; /* by id */
	int idx[FULL_MAX_ALERTS + 1]; /* mk_alert number, by id */
	uint64_t committed[FULL_MAX_ALERTS + 1]; /* count on disk, by id */
	uint64_t queued[FULL_MAX_ALERTS + 1]; /* count once flushed */
	int64_t maxid;
};

/* Queue one batch of new alerts plus a repeat of an earlier alert. */
static void
full_put_batch(struct store *st, struct full_state *fs, int *next)
{
	struct store_alert a;
	int64_t id;
	int j, rc;

	for (j = 0; j < FULL_BATCH; j++) {
		ck_assert_int_lt(*next, FULL_MAX_ALERTS);
		mk_alert(&a, *next, T0_US + SEC(1));
		/* Big explanations: each batch needs a few pages. */
		memset(a.explanation, ' ', 1500);
		memcpy(a.explanation + 1500, "[]", 3);
		rc = store_alert_put(st, &a, &id);
		ck_assert_int_eq(rc, STORE_PUT_NEW);
		fs->idx[id] = *next;
		fs->ts[id] = a.ts_us;
		fs->queued[id] = 1;
		fs->maxid = id;
		(*next)++;
	}
	mk_alert(&a, fs->idx[1], T0_US + SEC(2));
	rc = store_alert_put(st, &a, &id);
	ck_assert_msg(rc == STORE_PUT_FOLDED && id == 1,
	    "a repeat of alert 1 should fold into row 1");
	fs->queued[1]++;
}

/* Everything committed must be on disk exactly, and nothing else. */
static void
full_verify(const struct full_state *fs, int flushed_all)
{
	static const char sql[] =
	    "SELECT id, count, length(explanation) FROM alerts";
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t id, rows = 0, want = 0;
	uint64_t c;

	ck_assert_int_eq(
	    sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		ck_assert_int_le(id, fs->maxid);
		c = flushed_all ? fs->queued[id] : fs->committed[id];
		ck_assert_msg(c != 0, "row %lld should not be on disk yet",
		    (long long)id);
		ck_assert_msg((uint64_t)sqlite3_column_int64(s, 1) == c,
		    "row %lld should have count %llu", (long long)id,
		    (unsigned long long)c);
		ck_assert_int_eq(sqlite3_column_int(s, 2), 1502);
		rows++;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	for (id = 1; id <= fs->maxid; id++)
		if ((flushed_all ? fs->queued[id] : fs->committed[id]) != 0)
			want++;
	ck_assert_msg(rows == want, "%lld rows should be on disk, found %lld",
	    (long long)want, (long long)rows);
}

static int64_t
store_pragma_int(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	ck_assert_int_eq(
	    sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void
full_set_max_pages(struct store *st, int64_t pages)
{
	char sql[64];

	snprintf(
	    sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages);
	ck_assert_int_eq(
	    sqlite3_exec(store_db(st), sql, NULL, NULL, NULL), SQLITE_OK);
}

/* Flush batches until one fails with -ENOSPC. */
static void
full_fill(struct store *st, struct full_state *fs, int *next)
{
	struct store_stats ss;
	char *cause = NULL;
	int k, rc = 0;

	for (k = 0; k < 40 && rc == 0; k++) {
		full_put_batch(st, fs, next);
		rc = store_flush(st, &cause);
		if (rc == 0)
			memcpy(fs->committed, fs->queued, sizeof(fs->queued));
	}
	ck_assert_msg(rc == -ENOSPC,
	    "a flush should hit the page limit with -ENOSPC, got %d", rc);
	ck_assert_msg(
	    has_substr(cause, "store: flush") && has_substr(cause, "full"),
	    "cause should say the disk is full: %s", cause);
	free(cause);
	store_stats(st, &ss);
	ck_assert_msg(ss.write_errors == 1 && ss.last_error == -ENOSPC,
	    "the failure should be counted");
	ck_assert_msg(ss.pending == FULL_BATCH + 1,
	    "the failed batch should stay queued (%llu)",
	    (unsigned long long)ss.pending);
}

START_TEST(test_disk_full_nth)
{
	struct full_state *fs;
	struct store_opts o;
	struct store_stats ss;
	struct store_alert a, b;
	struct store *st;
	int64_t id;
	int next = 0;

	fs = calloc(1, sizeof(*fs));
	opts_for_test(&o);
	o.fold_window_s = 3600;
	st = open_ok(&o);
	full_put_batch(st, fs, &next);
	flush_ok(st);
	memcpy(fs->committed, fs->queued, sizeof(fs->queued));
	/* The store's own view of the size counts pages still in the WAL. */
	full_set_max_pages(st, store_pragma_int(st, "PRAGMA page_count") + _i);
	full_fill(st, fs, &next);
	full_verify(fs, 0);
	/* Still full: a retry fails again and keeps the queue. */
	full_put_batch(st, fs, &next);
	ck_assert_msg(store_flush(st, NULL) == -ENOSPC,
	    "a retry on a full disk should fail again");
	full_verify(fs, 0);
	store_stats(st, &ss);
	ck_assert_msg(ss.write_errors == 2 && ss.pending == 2 * FULL_BATCH + 1,
	    "both failures should be counted and both batches queued (%llu)",
	    (unsigned long long)ss.pending);
	full_set_max_pages(st, 1000000);
	flush_ok(st);
	full_verify(fs, 1);
	close_ok(st);
	st = open_ok(&o);
	for (id = 1; id <= fs->maxid; id++) {
		ck_assert_msg(store_alert_get(st, id, &b, NULL) == 0,
		    "alert %lld should survive reopen", (long long)id);
		ck_assert_msg(
		    b.count == fs->queued[id], "count should survive");
		mk_alert(&a, fs->idx[id], 0);
		ck_assert_str_eq(b.src_ip, a.src_ip);
	}
	close_ok(st);
	free(fs);
}
END_TEST

START_TEST(test_close_reports_loss)
{
	struct store_opts o;
	struct store_alert a;
	struct store *st;
	char *cause = NULL;
	int i, rc;

	opts_for_test(&o);
	st = open_ok(&o);
	put_new(st, 0, T0_US);
	flush_ok(st);
	full_set_max_pages(st, store_pragma_int(st, "PRAGMA page_count"));
	for (i = 1; i <= 10; i++) {
		mk_alert(&a, i, T0_US);
		memset(a.explanation, ' ', 1500);
		memcpy(a.explanation + 1500, "[]", 3);
		ck_assert_int_eq(store_alert_put(st, &a, NULL), STORE_PUT_NEW);
	}
	rc = store_close(st, &cause);
	ck_assert_msg(rc == -ENOSPC, "close on a full disk should say so");
	ck_assert_msg(has_substr(cause, "10 queued writes lost at close"),
	    "cause should count what was lost: %s", cause);
	free(cause);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM alerts"), 1);
}
END_TEST

/*
 * A shim VFS over the default one whose xWrite fails with
 * SQLITE_IOERR_WRITE from the Nth call on, until disarmed: the same
 * fail-at-N sweep as the disk-full test, for -EIO.  It is registered as
 * the default inside the test only; each test runs in its own process.
 */
struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct in the same allocation */
};

static sqlite3_vfs fault_vfs;
static sqlite3_vfs *fault_real_vfs;
static int fault_countdown = -1; /* writes left before failing; -1 = off */

#define REAL(f) (((struct fault_file *)(f))->real)

static int
fault_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
fault_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int
fault_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fault_countdown == 0)
		return SQLITE_IOERR_WRITE;
	if (fault_countdown > 0)
		fault_countdown--;
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int
fault_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
fault_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
fault_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
fault_lock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int
fault_unlock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int
fault_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
fault_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
fault_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
fault_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
fault_shm_map(sqlite3_file *f, int pg, int size, int extend, void volatile **p)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, size, extend, p);
}

static int
fault_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
fault_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
fault_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int
fault_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, p);
}

static int
fault_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods fault_io = {
    3,
    fault_close,
    fault_read,
    fault_write,
    fault_truncate,
    fault_sync,
    fault_size,
    fault_lock,
    fault_unlock,
    fault_reserved,
    fault_fcntl,
    fault_sector,
    fault_devchar,
    fault_shm_map,
    fault_shm_lock,
    fault_shm_barrier,
    fault_shm_unmap,
    fault_fetch,
    fault_unfetch,
};

static int
fault_open(
    sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct fault_file *ff = (struct fault_file *)f;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	rc = fault_real_vfs->xOpen(fault_real_vfs, name, ff->real, flags, out);
	ff->base.pMethods = rc == SQLITE_OK ? &fault_io : NULL;
	return rc;
}

static void
fault_install(void)
{
	fault_real_vfs = sqlite3_vfs_find(NULL);
	ck_assert_ptr_nonnull(fault_real_vfs);
	ck_assert_int_ge(fault_real_vfs->iVersion, 3);
	fault_vfs = *fault_real_vfs;
	fault_vfs.zName = "check-store-fault";
	fault_vfs.szOsFile =
	    (int)sizeof(struct fault_file) + fault_real_vfs->szOsFile;
	fault_vfs.xOpen = fault_open;
	ck_assert_int_eq(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
	fault_countdown = -1;
}

static void
fault_remove(void)
{
	fault_countdown = -1;
	sqlite3_vfs_unregister(&fault_vfs);
}

START_TEST(test_io_error_nth)
{
	struct full_state *fs;
	struct store_opts o;
	struct store_stats ss;
	struct store_alert a, b;
	struct store *st;
	char *cause = NULL;
	int64_t id;
	int next = 0, k, rc = 0;

	fault_install();
	fs = calloc(1, sizeof(*fs));
	opts_for_test(&o);
	o.fold_window_s = 3600;
	st = open_ok(&o);
	full_put_batch(st, fs, &next);
	flush_ok(st);
	memcpy(fs->committed, fs->queued, sizeof(fs->queued));
	fault_countdown = _i;
	for (k = 0; k < 40 && rc == 0; k++) {
		full_put_batch(st, fs, &next);
		rc = store_flush(st, &cause);
		if (rc == 0)
			memcpy(fs->committed, fs->queued, sizeof(fs->queued));
	}
	ck_assert_msg(
	    rc == -EIO, "a failing write should give -EIO, got %d", rc);
	ck_assert_msg(has_substr(cause, "store: flush") &&
		has_substr(cause, "disk I/O error"),
	    "cause should say it was an I/O error: %s", cause);
	free(cause);
	ck_assert_msg(store_flush(st, NULL) == -EIO,
	    "a retry while the disk still fails should fail again");
	store_stats(st, &ss);
	ck_assert_msg(ss.write_errors == 2 && ss.pending == FULL_BATCH + 1 &&
		ss.last_error == -EIO,
	    "failures should be counted and the batch kept");
	fault_countdown = -1;
	full_verify(fs, 0);
	flush_ok(st);
	full_verify(fs, 1);
	close_ok(st);
	st = open_ok(&o);
	for (id = 1; id <= fs->maxid; id++) {
		ck_assert_msg(store_alert_get(st, id, &b, NULL) == 0,
		    "alert %lld should survive reopen", (long long)id);
		ck_assert_msg(
		    b.count == fs->queued[id], "count should survive");
		mk_alert(&a, fs->idx[id], 0);
		ck_assert_str_eq(b.src_ip, a.src_ip);
	}
	close_ok(st);
	free(fs);
	fault_remove();
}
END_TEST

/*
 * The child flushes batches and reports each id whose flush returned 0,
 * queues a few more, then dies without closing (_exit or SIGKILL).
 */
#define KILL_BATCHES 20
#define KILL_BATCH 5

static void
kill_child(int fd, int how)
{
	struct store_opts o;
	struct store_alert a;
	struct store *st;
	int64_t ids[KILL_BATCH], id;
	int b, j, i = 0;

	opts_for_test(&o);
	o.fold_window_s = 0;
	if (store_open(&st, &o, NULL) != 0)
		_exit(2);
	for (b = 0; b < KILL_BATCHES; b++) {
		for (j = 0; j < KILL_BATCH; j++, i++) {
			mk_alert(&a, i, T0_US + SEC(i));
			if (store_alert_put(st, &a, &ids[j]) != STORE_PUT_NEW)
				_exit(3);
		}
		if (store_flush(st, NULL) == 0 &&
		    write(fd, ids, sizeof(ids)) != (ssize_t)sizeof(ids))
			_exit(4);
	}
	for (j = 0; j < 3; j++, i++) {
		mk_alert(&a, i, T0_US + SEC(i));
		store_alert_put(st, &a, &id);
	}
	if (how == 0)
		_exit(0);
	kill(getpid(), SIGKILL);
	_exit(5);
}

START_TEST(test_kill_keeps_flushed)
{
	int64_t ids[KILL_BATCHES * KILL_BATCH];
	struct store_alert b;
	struct store *st;
	size_t got = 0;
	ssize_t n;
	int fds[2], status, k;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		kill_child(fds[1], _i);
	}
	close(fds[1]);
	while ((n = read(fds[0], (char *)ids + got, sizeof(ids) - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (_i == 0)
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "the child should _exit(0)");
	else
		ck_assert_msg(
		    WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "the child should be killed");
	ck_assert_msg(
	    got == sizeof(ids), "every flush in the child should have worked");
	st = open_default();
	for (k = 0; k < KILL_BATCHES * KILL_BATCH; k++) {
		ck_assert_msg(store_alert_get(st, ids[k], &b, NULL) == 0,
		    "flushed alert %lld should survive the kill",
		    (long long)ids[k]);
		assert_alert_is(&b, k, T0_US + SEC(k));
	}
	ck_assert_msg(
	    raw_int("SELECT count(*) FROM alerts") == KILL_BATCHES * KILL_BATCH,
	    "only flushed alerts should be there");
	close_ok(st);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_creates);
	tcase_add_test(tc, test_open_wal_full);
	tcase_add_test(tc, test_open_no_dir);
	tcase_add_loop_test(
	    tc, test_open_bad_opts, 0, sizeof(bad_opts) / sizeof(bad_opts[0]));
	tcase_add_test(tc, test_open_no_path);
	tcase_add_test(tc, test_open_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("close");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_close_null);
	tcase_add_test(tc, test_close_flushes);
	tcase_add_test(tc, test_ids_continue);
	tcase_add_test(tc, test_stats_balance);
	tcase_add_test(tc, test_fate_predicts_put);
	suite_add_tcase(s, tc);

	tc = tcase_create("durability");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_disk_full_nth, 1, 13);
	tcase_add_loop_test(tc, test_io_error_nth, 0, 48);
	tcase_add_test(tc, test_close_reports_loss);
	tcase_add_loop_test(tc, test_kill_keeps_flushed, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite schema: migrations ------------------------------------------ */

/* The version-1 schema, written out by hand so a change to it shows. */
static const char v1_schema[] =
    "CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts INTEGER NOT NULL, ts_first INTEGER NOT NULL,"
    " ts_last INTEGER NOT NULL, proto INTEGER NOT NULL,"
    " src_ip TEXT NOT NULL, src_port INTEGER NOT NULL,"
    " dst_ip TEXT NOT NULL, dst_port INTEGER NOT NULL,"
    " packets INTEGER NOT NULL, bytes INTEGER NOT NULL,"
    " score REAL NOT NULL, threshold REAL NOT NULL,"
    " model_id TEXT NOT NULL, explanation TEXT NOT NULL,"
    " count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),"
    " last_ts INTEGER NOT NULL);"
    "CREATE INDEX alerts_ts ON alerts (ts);"
    "CREATE INDEX alerts_src_ip ON alerts (src_ip);"
    "CREATE INDEX alerts_dst_ip ON alerts (dst_ip);"
    "CREATE TABLE models (id TEXT PRIMARY KEY, created INTEGER NOT NULL,"
    " train_first INTEGER NOT NULL, train_last INTEGER NOT NULL,"
    " flows INTEGER NOT NULL, threshold REAL NOT NULL, rule TEXT NOT NULL,"
    " params TEXT NOT NULL);"
    "CREATE INDEX models_created ON models (created);"
    "INSERT INTO alerts VALUES (42, 1700000000000000, 1699999990000000,"
    " 1699999999000000, 6, '2001:db8::1', 443, '2001:db8::2', 8443,"
    " 12, 3400, 9.5, 2.5, 'mv1', '[{\"f\":1}]', 3, 1700000001000000);"
    "INSERT INTO models VALUES ('mv1', 1, 2, 3, 400, 2.5, 'pot', '{}');"
    "PRAGMA user_version = 1;";

START_TEST(test_migrate_empty_file)
{
	struct store *st;
	FILE *fp;

	fp = fopen(dbpath, "w");
	ck_assert_ptr_nonnull(fp);
	fclose(fp);
	st = open_default();
	ck_assert_msg(raw_int("PRAGMA user_version") == STORE_SCHEMA_VERSION,
	    "an empty file should be migrated to the current version");
	put_new(st, 0, T0_US);
	flush_ok(st);
	close_ok(st);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM alerts"), 1);
}
END_TEST

START_TEST(test_migrate_from_v1)
{
	struct store_model m;
	struct store_alert b;
	struct store *st;

	raw_exec(dbpath, v1_schema);
	st = open_default();
	ck_assert_msg(store_alert_get(st, 42, &b, NULL) == 0,
	    "a v1 row should be readable");
	ck_assert_str_eq(b.src_ip, "2001:db8::1");
	ck_assert_str_eq(b.dst_ip, "2001:db8::2");
	ck_assert_int_eq(b.dst_port, 8443);
	ck_assert_msg(b.count == 3 && b.last_us == 1700000001000000ULL,
	    "fold totals should survive");
	ck_assert_str_eq(b.explanation, "[{\"f\":1}]");
	ck_assert_msg(put_new(st, 1, T0_US) == 43,
	    "new ids should follow the highest existing one");
	ck_assert_int_eq(store_model_get(st, NULL, &m, NULL), 0);
	ck_assert_str_eq(m.id, "mv1");
	ck_assert_msg(b.finding == STORE_FINDING_FLOW && b.incident_id == 0,
	    "a v1 alert should read as a flow finding outside any incident");
	close_ok(st);
	ck_assert_int_eq(raw_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	ck_assert_msg(raw_int("SELECT count(*) FROM sqlite_master WHERE"
			      " name IN ('incidents', 'incidents_last',"
			      " 'incidents_host', 'alerts_incident_id')") == 4,
	    "the migration should add the incidents table and the indexes");
	ck_assert_msg(raw_int("SELECT count(*) FROM alerts WHERE id = 42 AND"
			      " finding = 0 AND incident_id IS NULL") == 1,
	    "the old row should get finding 0 and no incident");
}
END_TEST

/*
 * A step that fails halfway (here a table in the way of the new one) must
 * leave the v1 file exactly as it was: one transaction for all steps.
 */
START_TEST(test_migrate_atomic)
{
	struct store_opts o;
	struct store *st;
	char *cause = NULL;
	int rc;

	raw_exec(dbpath, v1_schema);
	raw_exec(dbpath, "CREATE TABLE incidents (x INTEGER);");
	opts_for_test(&o);
	rc = store_open(&st, &o, &cause);
	ck_assert_msg(rc < 0, "a failed migration should fail the open");
	ck_assert_msg(
	    has_substr(cause, "migrate") && has_substr(cause, "from version 1"),
	    "cause should name the migration: %s", cause);
	free(cause);
	ck_assert_int_eq(raw_int("PRAGMA user_version"), 1);
	ck_assert_msg(raw_int("SELECT count(*) FROM pragma_table_info('alerts')"
			      " WHERE name = 'finding'") == 0,
	    "the alerts table should be left as it was");
	ck_assert_int_eq(raw_int("SELECT count(*) FROM alerts"), 1);
	raw_exec(dbpath, "DROP TABLE incidents;");
	st = open_default();
	close_ok(st);
	ck_assert_int_eq(raw_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
}
END_TEST

START_TEST(test_migrate_refuses_future)
{
	struct store_opts o;
	struct store *st;
	char *cause = NULL, sql[64];
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    STORE_SCHEMA_VERSION + 1);
	raw_exec(dbpath, sql);
	opts_for_test(&o);
	rc = store_open(&st, &o, &cause);
	ck_assert_msg(rc == -EPROTONOSUPPORT,
	    "a newer schema should be refused, got %d", rc);
	snprintf(sql, sizeof(sql), "schema version %d is newer",
	    STORE_SCHEMA_VERSION + 1);
	ck_assert_msg(has_substr(cause, sql) && has_substr(cause, dbpath),
	    "cause should give the version: %s", cause);
	free(cause);
	ck_assert_msg(
	    raw_int("PRAGMA user_version") == STORE_SCHEMA_VERSION + 1,
	    "the version should be left alone");
	ck_assert_msg(raw_int("PRAGMA journal_mode") != -1, "file readable");
}
END_TEST

START_TEST(test_migrate_refuses_foreign)
{
	struct store_opts o;
	struct store *st;
	char *cause = NULL;

	raw_exec(dbpath, "CREATE TABLE accounts (name TEXT);");
	opts_for_test(&o);
	ck_assert_msg(store_open(&st, &o, &cause) == -EPROTO,
	    "a version-0 file with tables should be refused");
	ck_assert_msg(has_substr(cause, "not an anomd database"),
	    "cause should say whose it is not: %s", cause);
	free(cause);
	ck_assert_msg(raw_int("SELECT count(*) FROM sqlite_master") == 1,
	    "a foreign database should be left untouched");
}
END_TEST

static Suite *
schema_suite(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("migrate");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_migrate_empty_file);
	tcase_add_test(tc, test_migrate_from_v1);
	tcase_add_test(tc, test_migrate_atomic);
	tcase_add_test(tc, test_migrate_refuses_future);
	tcase_add_test(tc, test_migrate_refuses_foreign);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite alert: put, fold, rate cap, queue bound --------------------- */

/*
 * A row written before its incident had an id is linked to it later, in
 * the next flush, after the row itself (both in one queue here, and
 * across flushes); a refused link changes nothing.
 */
START_TEST(test_alert_link)
{
	struct store_stats ss;
	struct store_alert a, b;
	struct store *st;
	int64_t id1 = 0, id2 = 0;

	st = open_default();
	mk_alert(&a, 0, T0_US);
	a.incident_id = 0;
	ck_assert_int_eq(store_alert_put(st, &a, &id1), STORE_PUT_NEW);
	ck_assert_int_eq(store_alert_link(st, id1, 7), 0);
	store_stats(st, &ss);
	ck_assert_msg(ss.linked_in_queue == 1 && ss.pending == 1,
	    "a queued row is linked in place, with no UPDATE queued");
	ck_assert_int_eq(store_flush(st, NULL), 0);
	ck_assert_int_eq(store_alert_get(st, id1, &b, NULL), 0);
	ck_assert_int_eq(b.incident_id, 7);
	mk_alert(&a, 1, T0_US + 1000);
	a.incident_id = 0;
	ck_assert_int_eq(store_alert_put(st, &a, &id2), STORE_PUT_NEW);
	ck_assert_int_eq(store_flush(st, NULL), 0);
	ck_assert_int_eq(store_alert_link(st, id2, 9), 0);
	ck_assert_int_eq(store_alert_link(st, 0, 9), -EINVAL);
	ck_assert_int_eq(store_alert_link(st, id2, 0), -EINVAL);
	ck_assert_int_eq(store_flush(st, NULL), 0);
	ck_assert_int_eq(store_alert_get(st, id2, &b, NULL), 0);
	ck_assert_int_eq(b.incident_id, 9);
	ck_assert_int_eq(store_alert_get(st, id1, &b, NULL), 0);
	ck_assert_int_eq(b.incident_id, 7);
	store_stats(st, &ss);
	ck_assert_msg(ss.linked_in_queue == 1 && ss.updated == 1,
	    "a committed row is linked by one UPDATE");
	store_close(st, NULL);
}
END_TEST

START_TEST(test_put_rejects)
{
	struct store_stats ss;
	struct store_alert a;
	struct store *st;
	int64_t id = 99;

	st = open_default();
	mk_alert(&a, 0, T0_US);
	memset(a.src_ip, 'x', sizeof(a.src_ip));
	ck_assert_msg(store_alert_put(st, &a, &id) == -EINVAL,
	    "an unterminated address should be -EINVAL");
	ck_assert_msg(id == 0, "a refused alert should get id 0");
	mk_alert(&a, 0, T0_US);
	memset(a.explanation, '[', sizeof(a.explanation));
	ck_assert_int_eq(store_alert_put(st, &a, NULL), -EINVAL);
	mk_alert(&a, 0, T0_US);
	a.score = NAN;
	ck_assert_msg(store_alert_put(st, &a, NULL) == -EINVAL,
	    "a NaN score should be -EINVAL");
	mk_alert(&a, 0, T0_US);
	a.finding = STORE_FINDING_BEACON + 1;
	ck_assert_msg(store_alert_put(st, &a, NULL) == -EINVAL,
	    "an unknown finding kind should be -EINVAL");
	mk_alert(&a, 0, T0_US);
	a.incident_id = -1;
	ck_assert_msg(store_alert_put(st, &a, NULL) == -EINVAL,
	    "a negative incident id should be -EINVAL");
	store_stats(st, &ss);
	ck_assert_msg(ss.rejected == 5 && ss.pending == 0 && ss.queued == 0,
	    "refused alerts should be counted and leave the queue alone");
	ck_assert_msg(
	    put_new(st, 0, T0_US) == 1, "refusals should not use ids");
	close_ok(st);
}
END_TEST

START_TEST(test_fold_within_window)
{
	struct store_stats ss;
	struct store_alert a, b;
	struct store *st;
	int64_t first, id;
	int k;

	st = open_default();
	first = put_new(st, 7, T0_US);
	for (k = 1; k < 5; k++) {
		mk_alert(&a, 7, T0_US + SEC(k * 10));
		a.score = k == 2 ? 100.0 : 2.0;
		a.src_port = (uint16_t)(50000 + k); /* not part of the key */
		ck_assert_msg(store_alert_put(st, &a, &id) == STORE_PUT_FOLDED,
		    "repeat %d should fold", k);
		ck_assert_msg(id == first, "a fold should report the first id");
	}
	flush_ok(st);
	ck_assert_int_eq(store_alert_get(st, first, &b, NULL), 0);
	ck_assert_msg(b.count == 5, "count should be 5, is %llu",
	    (unsigned long long)b.count);
	ck_assert_msg(b.last_us == T0_US + SEC(40),
	    "last_ts should be the latest repeat");
	ck_assert_double_eq(b.score, 100.0);
	ck_assert_msg(b.ts_us == T0_US && b.src_port == 40007,
	    "the first alert's fields should stay");
	ck_assert_int_eq(raw_int("SELECT count(*) FROM alerts"), 1);
	store_stats(st, &ss);
	ck_assert_msg(ss.folded == 4 && ss.queued == 1 && ss.written == 1 &&
		ss.updated == 0,
	    "folds into a queued row need no update");
	close_ok(st);
}
END_TEST

/*
 * Alerts of an incident about its responder (a flood with forged
 * sources) fold whatever their source, but only with each other: an
 * alert that keeps the source in its key never joins their row.
 */
START_TEST(test_fold_any_src)
{
	struct store_alert a, b;
	struct store *st;
	int64_t first, id;
	int k;

	st = open_default();
	mk_alert(&a, 7, T0_US);
	a.fold_any_src = 1;
	ck_assert_int_eq(store_alert_put(st, &a, &first), STORE_PUT_NEW);
	for (k = 1; k <= 3; k++) {
		mk_alert(&a, 7, T0_US + SEC(k));
		snprintf(a.src_ip, sizeof(a.src_ip), "198.51.100.%d", k);
		a.fold_any_src = 1;
		ck_assert_int_eq(store_alert_fate(st, &a), STORE_PUT_FOLDED);
		ck_assert_msg(
		    store_alert_put(st, &a, &id) == STORE_PUT_FOLDED &&
			id == first,
		    "forged source %d should fold into the first row", k);
	}
	mk_alert(&a, 7, T0_US + SEC(5));
	snprintf(a.src_ip, sizeof(a.src_ip), "198.51.100.1");
	ck_assert_msg(store_alert_put(st, &a, &id) == STORE_PUT_NEW,
	    "an alert keyed by its source should not join an any-source row");
	mk_alert(&a, 7, T0_US + SEC(6));
	a.fold_any_src = 1;
	a.dst_port = 9;
	ck_assert_msg(store_alert_put(st, &a, &id) == STORE_PUT_NEW,
	    "another responder port is another row");
	flush_ok(st);
	ck_assert_int_eq(store_alert_get(st, first, &b, NULL), 0);
	ck_assert_msg(b.count == 4 && strcmp(b.src_ip, "10.0.0.8") == 0,
	    "the row should count 4 and keep its first source, not %llu %s",
	    (unsigned long long)b.count, b.src_ip);
	close_ok(st);
}
END_TEST

START_TEST(test_fold_window_edge)
{
	struct store_alert a;
	struct store *st;
	int64_t first, id;

	st = open_default();
	first = put_new(st, 3, T0_US);
	mk_alert(&a, 3, T0_US + SEC(60) - 1);
	ck_assert_int_eq(store_alert_put(st, &a, &id), STORE_PUT_FOLDED);
	ck_assert_int_eq(id, first);
	mk_alert(&a, 3, T0_US + SEC(60));
	ck_assert_msg(store_alert_put(st, &a, &id) == STORE_PUT_NEW,
	    "a repeat a full window after the first should be a new row");
	ck_assert_msg(id == first + 1, "the new row should get the next id");
	mk_alert(&a, 3, T0_US + SEC(61));
	ck_assert_msg(
	    store_alert_put(st, &a, &id) == STORE_PUT_FOLDED && id == first + 1,
	    "later repeats should fold into the new row");
	mk_alert(&a, 3, T0_US - SEC(30));
	ck_assert_msg(store_alert_put(st, &a, &id) == STORE_PUT_NEW,
	    "a late alert outside every window should be a new row");
	close_ok(st);
}
END_TEST

START_TEST(test_fold_into_committed)
{
	struct store_stats ss;
	struct store_alert a, b;
	struct store *st;
	int64_t first, id;

	st = open_default();
	first = put_new(st, 1, T0_US);
	flush_ok(st);
	mk_alert(&a, 1, T0_US + SEC(5));
	a.score = 50.0;
	ck_assert_int_eq(store_alert_put(st, &a, &id), STORE_PUT_FOLDED);
	mk_alert(&a, 1, T0_US + SEC(3));
	ck_assert_int_eq(store_alert_put(st, &a, &id), STORE_PUT_FOLDED);
	store_stats(st, &ss);
	ck_assert_msg(ss.pending == 1,
	    "two folds into a written row should share one update");
	flush_ok(st);
	ck_assert_int_eq(store_alert_get(st, first, &b, NULL), 0);
	ck_assert_msg(b.count == 3 && b.last_us == T0_US + SEC(5),
	    "the update should carry count 3 and the latest time");
	ck_assert_double_eq(b.score, 50.0);
	store_stats(st, &ss);
	ck_assert_msg(ss.updated == 1 && ss.written == 1,
	    "one insert and one update should be written");
	close_ok(st);
}
END_TEST

/* Each row changes one key field: never folded. */
START_TEST(test_fold_key_fields)
{
	struct store_alert a;
	struct store *st;

	st = open_default();
	put_new(st, 2, T0_US);
	mk_alert(&a, 2, T0_US);
	switch (_i) {
	case 0:
		strcpy(a.src_ip, "10.9.9.9");
		break;
	case 1:
		strcpy(a.dst_ip, "10.9.9.9");
		break;
	case 2:
		a.dst_port++;
		break;
	case 3:
		a.finding = STORE_FINDING_RESPONDER;
		break;
	case 4:
		a.incident_id = 7;
		break;
	default:
		a.proto = 132;
		break;
	}
	ck_assert_msg(store_alert_put(st, &a, NULL) == STORE_PUT_NEW,
	    "a different key field %d should make a new row", _i);
	close_ok(st);
}
END_TEST

START_TEST(test_fold_disabled)
{
	struct store_opts o;
	struct store *st;

	opts_for_test(&o);
	o.fold_window_s = 0;
	st = open_ok(&o);
	put_new(st, 4, T0_US);
	put_new(st, 4, T0_US);
	close_ok(st);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM alerts"), 2);
}
END_TEST

START_TEST(test_fold_evicts_oldest)
{
	struct store_opts o;
	struct store_stats ss;
	struct store_alert a;
	struct store *st;

	opts_for_test(&o);
	o.fold_max_keys = 2;
	st = open_ok(&o);
	put_new(st, 0, T0_US);
	put_new(st, 1, T0_US + 1);
	put_new(st, 2, T0_US + 2);
	store_stats(st, &ss);
	ck_assert_msg(ss.fold_evicted == 1, "a full key table should evict");
	mk_alert(&a, 0, T0_US + 3);
	ck_assert_msg(store_alert_put(st, &a, NULL) == STORE_PUT_NEW,
	    "an evicted key should start a new row");
	mk_alert(&a, 2, T0_US + 4);
	ck_assert_msg(store_alert_put(st, &a, NULL) == STORE_PUT_FOLDED,
	    "a remembered key should still fold");
	close_ok(st);
}
END_TEST

START_TEST(test_rate_cap)
{
	struct store_opts o;
	struct store_stats ss;
	struct store_alert a;
	struct store *st;
	int64_t id;
	int i, rc, nnew = 0, ndrop = 0;

	opts_for_test(&o);
	o.rate_max_per_s = 3;
	st = open_ok(&o);
	for (i = 0; i < 5; i++) {
		mk_alert(&a, i, T0_US + (uint64_t)i * 1000);
		rc = store_alert_put(st, &a, &id);
		if (rc == STORE_PUT_NEW)
			nnew++;
		else if (rc == STORE_PUT_RATE_DROPPED && id == 0)
			ndrop++;
	}
	ck_assert_msg(nnew == 3 && ndrop == 2,
	    "3 of 5 alerts in one second "
	    "should pass a cap of 3 (%d new, %d dropped)",
	    nnew, ndrop);
	mk_alert(&a, 0, T0_US + 999999);
	ck_assert_msg(store_alert_put(st, &a, NULL) == STORE_PUT_FOLDED,
	    "folds should not be rate-capped");
	mk_alert(&a, 10, T0_US + SEC(1));
	ck_assert_msg(store_alert_put(st, &a, &id) == STORE_PUT_NEW && id == 4,
	    "the next second should allow rows again, with the next id");
	store_stats(st, &ss);
	ck_assert_msg(ss.rate_dropped == 2 && ss.queued == 4 && ss.folded == 1,
	    "the drops should be counted");
	close_ok(st);
}
END_TEST

START_TEST(test_queue_bound)
{
	struct store_opts o;
	struct store_stats ss;
	struct store_alert a, b;
	struct store *st;
	int64_t id;
	int i;

	opts_for_test(&o);
	o.max_pending = 4;
	st = open_ok(&o);
	for (i = 0; i < 4; i++)
		put_new(st, i, T0_US);
	mk_alert(&a, 4, T0_US);
	ck_assert_msg(
	    store_alert_put(st, &a, &id) == STORE_PUT_QUEUE_DROPPED && id == 0,
	    "a full queue should drop");
	mk_alert(&a, 0, T0_US + 1);
	ck_assert_msg(
	    store_alert_put(st, &a, &id) == STORE_PUT_FOLDED && id == 1,
	    "a fold into a queued row should need no room");
	flush_ok(st);
	/* Now rows 1..4 are written; four new rows fill the queue again. */
	for (i = 10; i < 14; i++)
		put_new(st, i, T0_US);
	mk_alert(&a, 0, T0_US + 2);
	ck_assert_msg(
	    store_alert_put(st, &a, &id) == STORE_PUT_QUEUE_DROPPED && id == 0,
	    "a fold into a written row "
	    "needs an update slot and should drop when there is none");
	store_stats(st, &ss);
	ck_assert_msg(
	    ss.queue_dropped == 2 && ss.pending == 4 && ss.folded == 1,
	    "both drops should be counted, not the fold");
	flush_ok(st);
	ck_assert_int_eq(store_alert_get(st, 1, &b, NULL), 0);
	ck_assert_msg(b.count == 2, "a dropped fold should not count");
	mk_alert(&a, 0, T0_US + 3);
	ck_assert_msg(
	    store_alert_put(st, &a, &id) == STORE_PUT_FOLDED && id == 1,
	    "after a flush there should be room again");
	flush_ok(st);
	ck_assert_int_eq(store_alert_get(st, 1, &b, NULL), 0);
	ck_assert_int_eq(b.count, 3);
	close_ok(st);
}
END_TEST

static Suite *
alert_suite(void)
{
	Suite *s = suite_create("alert");
	TCase *tc;

	tc = tcase_create("put");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_rejects);
	tcase_add_test(tc, test_alert_link);
	tcase_add_test(tc, test_queue_bound);
	tcase_add_test(tc, test_rate_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("fold");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fold_within_window);
	tcase_add_test(tc, test_fold_window_edge);
	tcase_add_test(tc, test_fold_any_src);
	tcase_add_test(tc, test_fold_into_committed);
	tcase_add_loop_test(tc, test_fold_key_fields, 0, 6);
	tcase_add_test(tc, test_fold_disabled);
	tcase_add_test(tc, test_fold_evicts_oldest);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite query: filters, paging, get --------------------------------- */

#define QN 40 /* alerts the query tests write */

/* Alert i of the query set: 4 sources, 5 destinations, rising score. */
static void
q_alert(struct store_alert *a, int i)
{
	mk_alert(a, i, T0_US + SEC(i));
	snprintf(a->src_ip, sizeof(a->src_ip), "10.1.0.%d", i % 4);
	snprintf(a->dst_ip, sizeof(a->dst_ip), "10.2.0.%d", i % 5);
	a->dst_port = (uint16_t)(100 + i); /* every key distinct */
	a->score = (double)i;
}

static struct store *
q_fill(void)
{
	struct store_alert a;
	struct store *st;
	int64_t id;
	int i;

	st = open_default();
	for (i = 0; i < QN; i++) {
		q_alert(&a, i);
		ck_assert_int_eq(store_alert_put(st, &a, &id), STORE_PUT_NEW);
		ck_assert_int_eq(id, i + 1);
	}
	flush_ok(st);
	return st;
}

struct q_result {
	int64_t ids[STORE_QUERY_LIMIT_MAX + 1];
	int n;
	int stop_after; /* stop the query after this many rows, 0 = never */
};

static int
q_collect_cb(const struct store_alert *a, void *arg)
{
	struct q_result *r = arg;

	ck_assert_int_le(r->n, STORE_QUERY_LIMIT_MAX);
	r->ids[r->n++] = a->id;
	return r->stop_after != 0 && r->n >= r->stop_after;
}

/* Whether alert i of the query set matches q, by brute force. */
static int
q_matches(const struct store_query *q, int i)
{
	struct store_alert a;

	q_alert(&a, i);
	return (q->since_us == 0 || a.ts_us >= q->since_us) &&
	    (q->until_us == 0 || a.ts_us < q->until_us) &&
	    (q->min_score <= 0 || a.score >= q->min_score) &&
	    (q->src_ip == NULL || strcmp(q->src_ip, a.src_ip) == 0) &&
	    (q->dst_ip == NULL || strcmp(q->dst_ip, a.dst_ip) == 0) &&
	    (q->before_id == 0 || i + 1 < q->before_id);
}

/* Filter sets; each must return exactly the brute-force answer. */
static const struct store_query q_cases[] = {
    {.limit = 0},
    {.since_us = T0_US + SEC(30)},
    {.until_us = T0_US + SEC(5)},
    {.since_us = T0_US + SEC(10), .until_us = T0_US + SEC(20)},
    {.min_score = 35.0},
    {.src_ip = "10.1.0.2"},
    {.dst_ip = "10.2.0.4"},
    {.src_ip = "10.1.0.1", .dst_ip = "10.2.0.1"},
    {.before_id = 11},
    {.before_id = 1},
    {.limit = 3},
    {.src_ip = "10.1.0.3", .min_score = 10.0, .limit = 4},
    {.src_ip = "10.9.9.9"},
    {.since_us = T0_US + SEC(12), .src_ip = "10.1.0.0", .before_id = 30},
};

START_TEST(test_query_filters)
{
	const struct store_query *q = &q_cases[_i];
	struct q_result *r;
	struct store *st;
	unsigned int lim;
	int i, k = 0, n;

	r = calloc(1, sizeof(*r));
	st = q_fill();
	n = store_alerts_query(st, q, q_collect_cb, r, NULL);
	ck_assert_msg(n == r->n, "the query should return the rows it passed");
	lim = q->limit == 0 ? STORE_QUERY_LIMIT_DEFAULT : q->limit;
	for (i = QN - 1; i >= 0 && (unsigned int)k < lim; i--) {
		if (!q_matches(q, i))
			continue;
		ck_assert_msg(
		    k < r->n, "case %d should return id %d", _i, i + 1);
		ck_assert_msg(r->ids[k] == i + 1,
		    "case %d row %d should be id %d (newest first), is %lld",
		    _i, k, i + 1, (long long)r->ids[k]);
		k++;
	}
	ck_assert_msg(
	    k == r->n, "case %d should return %d rows, not %d", _i, k, r->n);
	close_ok(st);
	free(r);
}
END_TEST

START_TEST(test_query_paging)
{
	struct store_query q;
	struct q_result *r;
	struct store *st;
	int64_t expect = QN;
	int pages = 0, i;

	r = calloc(1, sizeof(*r));
	st = q_fill();
	memset(&q, 0, sizeof(q));
	q.limit = 7;
	for (;;) {
		r->n = 0;
		ck_assert_int_ge(
		    store_alerts_query(st, &q, q_collect_cb, r, NULL), 0);
		if (r->n == 0)
			break;
		pages++;
		for (i = 0; i < r->n; i++)
			ck_assert_msg(r->ids[i] == expect--,
			    "paging should visit every id once, newest first");
		q.before_id = r->ids[r->n - 1];
	}
	ck_assert_msg(expect == 0 && pages == (QN + 6) / 7,
	    "paging by 7 should take %d pages", (QN + 6) / 7);
	close_ok(st);
	free(r);
}
END_TEST

START_TEST(test_query_limit_clamp)
{
	struct store_query q;
	struct store_opts o;
	struct q_result *r;
	struct store *st;
	int i;

	r = calloc(1, sizeof(*r));
	opts_for_test(&o);
	o.fold_window_s = 0;
	st = open_ok(&o);
	for (i = 0; i < STORE_QUERY_LIMIT_MAX + 50; i++)
		put_new(st, 1, T0_US);
	flush_ok(st);
	memset(&q, 0, sizeof(q));
	ck_assert_int_eq(store_alerts_query(st, &q, q_collect_cb, r, NULL),
	    STORE_QUERY_LIMIT_DEFAULT);
	r->n = 0;
	q.limit = 5000;
	ck_assert_msg(store_alerts_query(st, &q, q_collect_cb, r, NULL) ==
		STORE_QUERY_LIMIT_MAX,
	    "a limit over the max should be clamped");
	r->n = 0;
	r->stop_after = 3;
	ck_assert_msg(store_alerts_query(st, &q, q_collect_cb, r, NULL) == 3,
	    "a callback returning nonzero should stop the query");
	close_ok(st);
	free(r);
}
END_TEST

START_TEST(test_get)
{
	struct store_alert a, b;
	struct store *st;
	int64_t id, pend;

	st = open_default();
	mk_alert(&a, 5, T0_US);
	strcpy(a.src_ip, "2001:db8:ffff:ffff:ffff:ffff:255.255.255.255");
	a.explanation[0] = '\0';
	a.packets = UINT64_C(1) << 40;
	ck_assert_int_eq(store_alert_put(st, &a, &id), STORE_PUT_NEW);
	flush_ok(st);
	pend = put_new(st, 6, T0_US);
	memset(&b, 0xa5, sizeof(b));
	ck_assert_int_eq(store_alert_get(st, id, &b, NULL), 0);
	ck_assert_int_eq(b.id, id);
	ck_assert_str_eq(b.src_ip, a.src_ip);
	ck_assert_msg(b.packets == a.packets, "64-bit counts should survive");
	ck_assert_str_eq(b.explanation, "[]");
	ck_assert_msg(b.count == 1 && b.last_us == a.ts_us,
	    "a new row should have count 1 and last_ts = ts");
	ck_assert_double_eq(b.score, a.score);
	memset(&b, 0xa5, sizeof(b));
	memcpy(&a, &b, sizeof(a));
	ck_assert_msg(store_alert_get(st, 999, &b, NULL) == -ENOENT,
	    "a missing id should be -ENOENT");
	ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0,
	    "a failed get should leave *out alone");
	ck_assert_msg(store_alert_get(st, pend, &b, NULL) == -ENOENT,
	    "a queued alert should not be visible before its flush");
	close_ok(st);
}
END_TEST

static Suite *
query_suite(void)
{
	Suite *s = suite_create("query");
	TCase *tc = tcase_create("alerts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(
	    tc, test_query_filters, 0, sizeof(q_cases) / sizeof(q_cases[0]));
	tcase_add_test(tc, test_query_paging);
	tcase_add_test(tc, test_query_limit_clamp);
	tcase_add_test(tc, test_get);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite retain ------------------------------------------------------- */

/* Ten alerts an hour apart, ids 1..10; flushed. */
static struct store *
r_fill(size_t chunk)
{
	struct store_opts o;
	struct store *st;
	int i;

	opts_for_test(&o);
	o.retain_chunk_rows = chunk;
	st = open_ok(&o);
	for (i = 0; i < 10; i++)
		put_new(st, i, T0_US + SEC(3600 * i));
	flush_ok(st);
	return st;
}

START_TEST(test_retain_age)
{
	struct store_stats ss;
	struct store *st;
	char *cause = NULL;

	st = r_fill(1000);
	ck_assert_msg(
	    store_retain(st, T0_US + SEC(3600 * 10), 5 * 3600, 0, &cause) == 5,
	    "alerts older than 5 hours should go");
	ck_assert_int_eq(raw_int("SELECT min(id) FROM alerts"), 6);
	ck_assert_msg(
	    store_retain(st, T0_US + SEC(3600 * 10), 5 * 3600, 0, NULL) == 0,
	    "a second pass should find nothing");
	ck_assert_msg(store_retain(st, SEC(100), 3600, 0, NULL) == 0,
	    "a max age beyond the epoch should delete nothing");
	store_stats(st, &ss);
	ck_assert_int_eq(ss.retained, 5);
	close_ok(st);
}
END_TEST

START_TEST(test_retain_rows)
{
	struct store *st;

	st = r_fill(1000);
	ck_assert_msg(store_retain(st, T0_US, 0, 3, NULL) == 7,
	    "all but the newest 3 rows should go");
	ck_assert_int_eq(raw_int("SELECT min(id) FROM alerts"), 8);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM alerts"), 3);
	ck_assert_int_eq(store_retain(st, T0_US, 0, 3, NULL), 0);
	ck_assert_msg(store_retain(st, T0_US, 0, 0, NULL) == 0,
	    "no limits should delete nothing");
	close_ok(st);
}
END_TEST

START_TEST(test_retain_chunks)
{
	struct store *st;

	st = r_fill(4);
	ck_assert_msg(
	    store_retain(st, T0_US + SEC(3600 * 20), 60, 0, NULL) == 4,
	    "one call should delete at most a chunk");
	ck_assert_int_eq(
	    store_retain(st, T0_US + SEC(3600 * 20), 60, 0, NULL), 4);
	ck_assert_int_eq(
	    store_retain(st, T0_US + SEC(3600 * 20), 60, 0, NULL), 2);
	ck_assert_int_eq(
	    store_retain(st, T0_US + SEC(3600 * 20), 60, 0, NULL), 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM alerts"), 0);
	close_ok(st);
}
END_TEST

START_TEST(test_retain_both)
{
	struct store *st;

	st = r_fill(5);
	/* Age takes ids 1..3 (older than 7 h), rows then take 4 and 5. */
	ck_assert_msg(
	    store_retain(st, T0_US + SEC(3600 * 10), 7 * 3600, 4, NULL) == 5,
	    "age and rows should share one chunk");
	ck_assert_int_eq(
	    store_retain(st, T0_US + SEC(3600 * 10), 7 * 3600, 4, NULL), 1);
	ck_assert_int_eq(raw_int("SELECT min(id) FROM alerts"), 7);
	close_ok(st);
}
END_TEST

static Suite *
retain_suite(void)
{
	Suite *s = suite_create("retain");
	TCase *tc = tcase_create("delete");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_retain_age);
	tcase_add_test(tc, test_retain_rows);
	tcase_add_test(tc, test_retain_chunks);
	tcase_add_test(tc, test_retain_both);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite model -------------------------------------------------------- */

static void
mk_model(struct store_model *m, const char *id, uint64_t created)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->created_us = created;
	m->train_first_us = created - SEC(3600);
	m->train_last_us = created - SEC(1);
	m->flows = 12345;
	m->threshold = 0.125;
	snprintf(m->rule, sizeof(m->rule), "pot");
	snprintf(m->params, sizeof(m->params), "{\"layers\":[32,8,32]}");
}

static int
model_count_cb(const struct store_model *m, void *arg)
{
	int *n = arg;

	ck_assert_msg(*n != 0 || strcmp(m->id, "b") == 0,
	    "the latest model should come first");
	(*n)++;
	return 0;
}

START_TEST(test_model_put_get)
{
	struct store_model m, g;
	struct store *st;
	int n = 0;

	st = open_default();
	ck_assert_msg(store_model_get(st, NULL, &g, NULL) == -ENOENT,
	    "no model yet should be -ENOENT");
	mk_model(&m, "a", T0_US);
	ck_assert_int_eq(store_model_put(st, &m, NULL), 0);
	mk_model(&m, "b", T0_US + SEC(60));
	ck_assert_int_eq(store_model_put(st, &m, NULL), 0);
	ck_assert_int_eq(store_model_get(st, NULL, &g, NULL), 0);
	ck_assert_msg(strcmp(g.id, "b") == 0, "latest should be b");
	ck_assert_msg(g.created_us == m.created_us &&
		g.train_first_us == m.train_first_us &&
		g.train_last_us == m.train_last_us && g.flows == m.flows &&
		g.threshold == m.threshold,
	    "numbers should survive");
	ck_assert_str_eq(g.rule, m.rule);
	ck_assert_str_eq(g.params, m.params);
	mk_model(&m, "a", T0_US);
	m.threshold = 0.5;
	ck_assert_int_eq(store_model_put(st, &m, NULL), 0);
	ck_assert_int_eq(store_model_get(st, "a", &g, NULL), 0);
	ck_assert_msg(g.threshold == 0.5,
	    "a put with the same id should replace the row");
	ck_assert_int_eq(
	    store_models_query(st, 0, model_count_cb, &n, NULL), 2);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(store_model_get(st, "zz", &g, NULL), -ENOENT);
	m.id[0] = '\0';
	ck_assert_msg(store_model_put(st, &m, NULL) == -EINVAL,
	    "an empty id should be -EINVAL");
	close_ok(st);
}
END_TEST

static Suite *
model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("models");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_model_put_get);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite incident: put, update, get, query, faults ------------------- */

/* Incident number i: every field is a function of i and its update u. */
static void
mk_incident(struct store_incident *inc, int i, int u)
{
	memset(inc, 0, sizeof(*inc));
	inc->first_us = T0_US + SEC(10 * i);
	inc->last_us = inc->first_us + SEC(u);
	inc->about = i % 3 == 0 ? STORE_ABOUT_RESPONDER : STORE_ABOUT_INITIATOR;
	snprintf(inc->host, sizeof(inc->host), "10.3.0.%d", i % 4);
	inc->alerts = 1 + (uint64_t)u;
	inc->flows = 10 * (1 + (uint64_t)u);
	inc->peers_n = 2;
	inc->ports_n = 1 + (uint64_t)u;
	snprintf(
	    inc->peers, sizeof(inc->peers), "[\"10.4.0.%d\",\"10.4.0.9\"]", i);
	snprintf(inc->ports, sizeof(inc->ports), "[%d]", 1000 + u);
	inc->score_max = 2.0 + i + u;
	snprintf(inc->summary, sizeof(inc->summary),
	    "port scan: %d TCP ports of 10.3.0.%d in %d s", 100 * (u + 1),
	    i % 4, u + 1);
	snprintf(inc->evidence, sizeof(inc->evidence),
	    "[{\"feature\":\"init_ports\",\"value\":%d}]", u);
	snprintf(inc->model_id, sizeof(inc->model_id), "m%d", i);
}

/* Assert that b (read back) is what mk_incident(i, u) wrote, with id. */
static void
assert_incident_is(const struct store_incident *b, int64_t id, int i, int u)
{
	struct store_incident a;

	mk_incident(&a, i, u);
	ck_assert_msg(b->id == id, "incident id should be %lld, is %lld",
	    (long long)id, (long long)b->id);
	ck_assert_msg(b->first_us == a.first_us && b->last_us == a.last_us,
	    "incident %d times should survive (update %d)", i, u);
	ck_assert_int_eq(b->about, a.about);
	ck_assert_str_eq(b->host, a.host);
	ck_assert_msg(b->alerts == a.alerts && b->flows == a.flows &&
		b->peers_n == a.peers_n && b->ports_n == a.ports_n,
	    "incident %d counts should be those of update %d", i, u);
	ck_assert_str_eq(b->peers, a.peers);
	ck_assert_str_eq(b->ports, a.ports);
	ck_assert_double_eq(b->score_max, a.score_max);
	ck_assert_str_eq(b->summary, a.summary);
	ck_assert_str_eq(b->evidence, a.evidence);
	ck_assert_str_eq(b->model_id, a.model_id);
}

/* Put incident i (update u) as id (0 = new); it must be queued. */
static int64_t
inc_put(struct store *st, int64_t id, int i, int u)
{
	struct store_incident inc;
	int64_t got = -1;
	int rc;

	mk_incident(&inc, i, u);
	inc.id = id;
	rc = store_incident_put(st, &inc, &got);
	ck_assert_msg(rc == 0, "incident %d should be queued, got %d", i, rc);
	ck_assert_msg(got > 0 && (id == 0 || got == id),
	    "the put should give the incident's id");
	return got;
}

START_TEST(test_incident_put_get)
{
	struct store_incident b;
	struct store_stats ss;
	struct store *st;
	int64_t id1, id2;

	st = open_default();
	id1 = inc_put(st, 0, 1, 0);
	id2 = inc_put(st, 0, 2, 0);
	ck_assert_msg(id1 == 1 && id2 == 2, "new incidents should get 1, 2");
	ck_assert_msg(store_incident_get(st, id1, &b, NULL) == -ENOENT,
	    "a queued incident should not be visible before its flush");
	flush_ok(st);
	memset(&b, 0xa5, sizeof(b));
	ck_assert_int_eq(store_incident_get(st, id1, &b, NULL), 0);
	assert_incident_is(&b, id1, 1, 0);
	/* The incident grows: the update replaces every field. */
	ck_assert_int_eq(inc_put(st, id1, 1, 5), id1);
	flush_ok(st);
	ck_assert_int_eq(store_incident_get(st, id1, &b, NULL), 0);
	assert_incident_is(&b, id1, 1, 5);
	ck_assert_int_eq(store_incident_get(st, id2, &b, NULL), 0);
	assert_incident_is(&b, id2, 2, 0);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM incidents"), 2);
	store_stats(st, &ss);
	ck_assert_msg(ss.incidents_queued == 3 && ss.incidents_written == 3 &&
		ss.written == 0 && ss.pending == 0,
	    "incident counters should count incidents only");
	ck_assert_msg(store_incident_get(st, 99, &b, NULL) == -ENOENT,
	    "a missing incident should be -ENOENT");
	close_ok(st);
	/* Ids continue after reopen, even past deleted rows. */
	raw_exec(dbpath, "DELETE FROM incidents WHERE id = 2;");
	st = open_default();
	ck_assert_msg(inc_put(st, 0, 3, 0) == 3,
	    "a new incident should never reuse a deleted id");
	ck_assert_msg(inc_put(st, 2, 2, 1) == 2,
	    "an update of a deleted incident should bring it back");
	flush_ok(st);
	ck_assert_int_eq(store_incident_get(st, 2, &b, NULL), 0);
	assert_incident_is(&b, 2, 2, 1);
	close_ok(st);
}
END_TEST

/* Updates of a queued incident replace the queued copy: one slot. */
START_TEST(test_incident_update_queued)
{
	struct store_incident b;
	struct store_stats ss;
	struct store *st;
	int64_t id;
	int u;

	st = open_default();
	id = inc_put(st, 0, 4, 0);
	put_new(st, 0, T0_US);
	for (u = 1; u <= 50; u++)
		ck_assert_int_eq(inc_put(st, id, 4, u), id);
	store_stats(st, &ss);
	ck_assert_msg(ss.pending == 2,
	    "50 updates of a queued incident should not take slots (%llu)",
	    (unsigned long long)ss.pending);
	flush_ok(st);
	ck_assert_int_eq(store_incident_get(st, id, &b, NULL), 0);
	assert_incident_is(&b, id, 4, 50);
	store_stats(st, &ss);
	ck_assert_msg(ss.incidents_written == 1 && ss.incidents_queued == 51,
	    "one row should be written for 51 puts");
	close_ok(st);
}
END_TEST

START_TEST(test_incident_rejects)
{
	struct store_incident inc;
	struct store_stats ss;
	struct store *st;
	int64_t id = 99;
	int k;

	st = open_default();
	for (k = 0; k < 10; k++) {
		mk_incident(&inc, 1, 0);
		switch (k) {
		case 0:
			memset(inc.host, '1', sizeof(inc.host));
			break;
		case 1:
			memset(inc.peers, '[', sizeof(inc.peers));
			break;
		case 2:
			memset(inc.ports, '[', sizeof(inc.ports));
			break;
		case 3:
			memset(inc.summary, 'a', sizeof(inc.summary));
			break;
		case 4:
			memset(inc.evidence, '[', sizeof(inc.evidence));
			break;
		case 5:
			memset(inc.model_id, 'm', sizeof(inc.model_id));
			break;
		case 6:
			inc.score_max = INFINITY;
			break;
		case 7:
			inc.about = 2;
			break;
		case 8:
			inc.id = 1; /* never handed out */
			break;
		default:
			inc.id = -3;
			break;
		}
		id = 99;
		ck_assert_msg(store_incident_put(st, &inc, &id) == -EINVAL,
		    "bad incident %d should be -EINVAL", k);
		ck_assert_msg(id == 0, "a refused incident should get id 0");
	}
	store_stats(st, &ss);
	ck_assert_msg(ss.incidents_rejected == 10 && ss.pending == 0 &&
		ss.incidents_queued == 0,
	    "refused incidents should be counted and leave the queue alone");
	ck_assert_msg(inc_put(st, 0, 1, 0) == 1, "refusals should not use ids");
	close_ok(st);
}
END_TEST

/* Incidents share max_pending with the alerts; updates need no slot. */
START_TEST(test_incident_queue_bound)
{
	struct store_incident inc;
	struct store_stats ss;
	struct store_opts o;
	struct store_alert a;
	struct store *st;
	int64_t id, got = 5;

	opts_for_test(&o);
	o.max_pending = 3;
	st = open_ok(&o);
	id = inc_put(st, 0, 1, 0);
	put_new(st, 0, T0_US);
	put_new(st, 1, T0_US);
	mk_incident(&inc, 2, 0);
	ck_assert_msg(store_incident_put(st, &inc, &got) == -ENOSPC,
	    "a new incident in a full queue should be -ENOSPC");
	ck_assert_int_eq(got, 0);
	ck_assert_msg(inc_put(st, id, 1, 1) == id,
	    "an update of a queued incident should fit a full queue");
	mk_alert(&a, 2, T0_US);
	ck_assert_int_eq(
	    store_alert_put(st, &a, NULL), STORE_PUT_QUEUE_DROPPED);
	store_stats(st, &ss);
	ck_assert_msg(ss.incidents_dropped == 1 && ss.queue_dropped == 1 &&
		ss.pending == 3,
	    "each kind of drop should be counted");
	flush_ok(st);
	/* The committed incident is no longer queued: its update takes one. */
	ck_assert_int_eq(inc_put(st, id, 1, 2), id);
	ck_assert_msg(inc_put(st, 0, 2, 0) == 2,
	    "the dropped put should not have used an id");
	close_ok(st);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM incidents"), 2);
	ck_assert_int_eq(
	    raw_int("SELECT ports_n FROM incidents WHERE id = 1"), 3);
}
END_TEST

#define IQN 12 /* incidents the query tests write */

/* Incident i of the query set: host 10.3.0.(i % 4); 6 and 11 tie on last. */
static void
iq_incident(struct store_incident *inc, int i)
{
	mk_incident(inc, i, i == 6 ? 50 : 0);
}

static struct store *
iq_fill(void)
{
	struct store_incident inc;
	struct store *st;
	int64_t id;
	int i;

	st = open_default();
	for (i = 0; i < IQN; i++) {
		iq_incident(&inc, i);
		ck_assert_int_eq(store_incident_put(st, &inc, &id), 0);
		ck_assert_int_eq(id, i + 1);
	}
	flush_ok(st);
	return st;
}

struct iq_result {
	int64_t ids[IQN + 1];
	int n, stop_after;
};

static int
iq_collect_cb(const struct store_incident *inc, void *arg)
{
	struct iq_result *r = arg;

	ck_assert_int_le(r->n, IQN);
	r->ids[r->n++] = inc->id;
	return r->stop_after != 0 && r->n >= r->stop_after;
}

/* Whether incident i matches q, by brute force (see store.h). */
static int
iq_matches(const struct store_query *q, int i)
{
	struct store_incident inc;
	int host_given = q->src_ip != NULL || q->dst_ip != NULL;

	iq_incident(&inc, i);
	return (q->since_us == 0 || inc.last_us >= q->since_us) &&
	    (q->until_us == 0 || inc.first_us < q->until_us) &&
	    (q->min_score <= 0 || inc.score_max >= q->min_score) &&
	    (!host_given ||
		(q->src_ip != NULL && strcmp(q->src_ip, inc.host) == 0) ||
		(q->dst_ip != NULL && strcmp(q->dst_ip, inc.host) == 0));
}

/* The expected order: last_us descending, then id descending. */
static int
iq_order(const void *pa, const void *pb)
{
	struct store_incident a, b;
	int ia = *(const int *)pa, ib = *(const int *)pb;

	iq_incident(&a, ia);
	iq_incident(&b, ib);
	if (a.last_us != b.last_us)
		return a.last_us > b.last_us ? -1 : 1;
	return ib - ia;
}

static const struct store_query iq_cases[] = {
    {.limit = 0}, {.since_us = T0_US + SEC(55)}, {.until_us = T0_US + SEC(30)},
    {.since_us = T0_US + SEC(40), .until_us = T0_US + SEC(80)},
    {.src_ip = "10.3.0.2"}, {.dst_ip = "10.3.0.1"},
    {.src_ip = "10.3.0.1", .dst_ip = "10.3.0.3"}, {.src_ip = "10.9.9.9"},
    {.min_score = 9.0}, {.limit = 3},
    {.since_us = T0_US + SEC(20), .dst_ip = "10.3.0.0", .limit = 2},
    {.before_id = 3, .incident_id = 4}, /* both ignored */
};

START_TEST(test_incident_query)
{
	const struct store_query *q = &iq_cases[_i];
	struct iq_result r;
	struct store *st;
	unsigned int lim;
	int order[IQN], i, k = 0, n;

	memset(&r, 0, sizeof(r));
	st = iq_fill();
	n = store_incidents_query(st, q, iq_collect_cb, &r, NULL);
	ck_assert_msg(n == r.n, "the query should return the rows it passed");
	for (i = 0; i < IQN; i++)
		order[i] = i;
	qsort(order, IQN, sizeof(order[0]), iq_order);
	ck_assert_msg(order[0] == 11 && order[1] == 6,
	    "the test set should have a tie on last, broken by id");
	lim = q->limit == 0 ? STORE_QUERY_LIMIT_DEFAULT : q->limit;
	for (i = 0; i < IQN && (unsigned int)k < lim; i++) {
		if (!iq_matches(q, order[i]))
			continue;
		ck_assert_msg(
		    k < r.n, "case %d should return id %d", _i, order[i] + 1);
		ck_assert_msg(r.ids[k] == order[i] + 1,
		    "case %d row %d should be id %d (newest first), is %lld",
		    _i, k, order[i] + 1, (long long)r.ids[k]);
		k++;
	}
	ck_assert_msg(
	    k == r.n, "case %d should return %d rows, not %d", _i, k, r.n);
	r.n = 0;
	r.stop_after = 1;
	if (k > 1)
		ck_assert_msg(
		    store_incidents_query(st, q, iq_collect_cb, &r, NULL) == 1,
		    "a callback returning nonzero should stop the query");
	close_ok(st);
}
END_TEST

/* Alerts of an incident: the incident_id filter, and the JSON. */
START_TEST(test_incident_alerts)
{
	struct store_query q;
	struct q_result *r;
	struct store_alert a;
	struct store *st;
	int64_t inc, id;
	int i;

	r = calloc(1, sizeof(*r));
	st = open_default();
	inc = inc_put(st, 0, 1, 0);
	for (i = 0; i < 10; i++) {
		mk_alert(&a, i, T0_US + SEC(i));
		a.incident_id = i % 2 == 0 ? inc : 0;
		a.finding =
		    i % 3 == 0 ? STORE_FINDING_RESPONDER : STORE_FINDING_FLOW;
		ck_assert_int_eq(store_alert_put(st, &a, &id), STORE_PUT_NEW);
	}
	flush_ok(st);
	memset(&q, 0, sizeof(q));
	q.incident_id = inc;
	ck_assert_int_eq(store_alerts_query(st, &q, q_collect_cb, r, NULL), 5);
	for (i = 0; i < 5; i++)
		ck_assert_msg(r->ids[i] == 9 - 2 * i,
		    "the incident's alerts should come newest first");
	ck_assert_int_eq(store_alert_get(st, 1, &a, NULL), 0);
	ck_assert_msg(
	    a.incident_id == inc && a.finding == STORE_FINDING_RESPONDER,
	    "finding and incident should survive");
	ck_assert_int_eq(store_alert_get(st, 2, &a, NULL), 0);
	ck_assert_msg(a.incident_id == 0 && a.finding == STORE_FINDING_FLOW,
	    "an alert outside incidents should read back with id 0");
	ck_assert_int_eq(
	    raw_int("SELECT count(*) FROM alerts WHERE incident_id IS NULL"),
	    5);
	close_ok(st);
	free(r);
}
END_TEST

/* Retention deletes incidents by their last alert's time. */
START_TEST(test_incident_retain)
{
	struct store *st;
	int i;

	st = open_default();
	for (i = 0; i < 6; i++)
		inc_put(st, 0, i, 0); /* last = T0 + 10 i s */
	flush_ok(st);
	ck_assert_msg(store_retain(st, T0_US + SEC(100), 75, 0, NULL) == 3,
	    "incidents that ended over 75 s ago should go");
	ck_assert_int_eq(raw_int("SELECT min(id) FROM incidents"), 4);
	ck_assert_int_eq(store_retain(st, T0_US + SEC(100), 75, 0, NULL), 0);
	ck_assert_msg(store_retain(st, T0_US + SEC(100), 0, 1, NULL) == 0,
	    "the row cap should not touch incidents");
	close_ok(st);
}
END_TEST

/*
 * Fail the flush at step N (_i): a page limit for even loop values, an
 * I/O error from the Nth write for odd ones.  Each round queues a new
 * incident and an update of incident 1; committed incidents must read
 * back as committed, and everything queued must land once the disk works.
 */
#define IF_ROUNDS 60

static void
if_round(struct store *st, int k, int64_t *last_id)
{
	struct store_incident inc;

	mk_incident(&inc, k, 0);
	memset(inc.evidence, ' ', 2000);
	memcpy(inc.evidence + 2000, "[]", 3);
	ck_assert_int_eq(store_incident_put(st, &inc, last_id), 0);
	ck_assert_int_eq(*last_id, k + 1);
	inc_put(st, 1, 0, k);
}

/* Incident 1 is at update u; incidents 2..n exist; no others. */
static void
if_verify(int64_t n, int u)
{
	ck_assert_msg(raw_int("SELECT count(*) FROM incidents") == n,
	    "%lld incidents should be on disk", (long long)n);
	ck_assert_msg(raw_int("SELECT max(id) FROM incidents") == n,
	    "ids on disk should be 1..%lld", (long long)n);
	ck_assert_msg(
	    raw_int("SELECT ports_n FROM incidents WHERE id = 1") == 1 + u,
	    "incident 1 should hold update %d", u);
	ck_assert_int_eq(raw_int("SELECT count(*) FROM incidents"
				 " WHERE length(evidence) != 2002 AND id > 1"),
	    0);
}

START_TEST(test_incident_faults)
{
	struct store_incident b;
	struct store_stats ss;
	struct store *st;
	int64_t last = 0, committed_n;
	int k, committed_u = 0, rc = 0;

	if (_i % 2 == 1)
		fault_install();
	st = open_default();
	inc_put(st, 0, 0, 0);
	flush_ok(st);
	committed_n = 1;
	if (_i % 2 == 0)
		full_set_max_pages(
		    st, store_pragma_int(st, "PRAGMA page_count") + _i / 2);
	else
		fault_countdown = _i / 2;
	for (k = 1; k < IF_ROUNDS && rc == 0; k++) {
		if_round(st, k, &last);
		if ((rc = store_flush(st, NULL)) == 0) {
			committed_n = last;
			committed_u = k;
		}
	}
	ck_assert_msg(rc == (_i % 2 == 0 ? -ENOSPC : -EIO),
	    "a flush should fail with the injected error, got %d", rc);
	if_verify(committed_n, committed_u);
	if_round(st, k, &last); /* more puts while failing */
	ck_assert_msg(store_flush(st, NULL) == rc, "a retry should fail too");
	if_verify(committed_n, committed_u);
	store_stats(st, &ss);
	ck_assert_msg(ss.pending == 3,
	    "the failed incidents should stay queued, updates in place (%llu)",
	    (unsigned long long)ss.pending);
	fault_countdown = -1;
	full_set_max_pages(st, 1000000);
	flush_ok(st);
	if_verify(last, k);
	close_ok(st);
	st = open_default();
	ck_assert_int_eq(store_incident_get(st, last, &b, NULL), 0);
	ck_assert_int_eq(b.id, last);
	close_ok(st);
	if (_i % 2 == 1)
		fault_remove();
}
END_TEST

static Suite *
incident_suite(void)
{
	Suite *s = suite_create("incident");
	TCase *tc;

	tc = tcase_create("put");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_incident_put_get);
	tcase_add_test(tc, test_incident_update_queued);
	tcase_add_test(tc, test_incident_rejects);
	tcase_add_test(tc, test_incident_queue_bound);
	tcase_add_test(tc, test_incident_alerts);
	tcase_add_test(tc, test_incident_retain);
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(
	    tc, test_incident_query, 0, sizeof(iq_cases) / sizeof(iq_cases[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("durability");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_incident_faults, 2, 30);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- Suite suppress: the operator's allow list -------------------------- */

/* The 1 -> 2 step, written out by hand, to build a version-2 file. */
static const char v2_step[] =
    "ALTER TABLE alerts ADD COLUMN finding INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE alerts ADD COLUMN incident_id INTEGER;"
    "CREATE INDEX alerts_incident_id ON alerts (incident_id);"
    "CREATE TABLE incidents (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " first INTEGER NOT NULL, last INTEGER NOT NULL, about INTEGER NOT NULL,"
    " host TEXT NOT NULL, alerts INTEGER NOT NULL, flows INTEGER NOT NULL,"
    " peers_n INTEGER NOT NULL, ports_n INTEGER NOT NULL,"
    " peers TEXT NOT NULL, ports TEXT NOT NULL, score_max REAL NOT NULL,"
    " summary TEXT NOT NULL, evidence TEXT NOT NULL,"
    " model_id TEXT NOT NULL);"
    "CREATE INDEX incidents_last ON incidents (last);"
    "CREATE INDEX incidents_host ON incidents (host);"
    "INSERT INTO incidents VALUES (7, 1, 2, 0, '10.0.0.9', 3, 3, 1, 2,"
    " '[\"10.0.0.1\"]', '[22,23]', 5.5, 'scan', '[]', 'mv1');"
    "PRAGMA user_version = 2;";

/* A suppression of src to dst:port. */
static void
mk_supp(
    struct store_suppress *s, const char *src, const char *dst, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->created_us = T0_US;
	snprintf(s->src, sizeof(s->src), "%s", src);
	snprintf(s->dst, sizeof(s->dst), "%s", dst);
	s->dst_port = port;
	s->proto = 6;
	snprintf(s->note, sizeof(s->note), "backup job");
	s->created_by = 1000;
}

/* Copy every suppression into an array of 4 (and count them). */
struct supp_list {
	struct store_suppress s[4];
	int n;
};

static int
supp_cb(const struct store_suppress *s, void *arg)
{
	struct supp_list *l = arg;

	if (l->n < 4)
		l->s[l->n] = *s;
	l->n++;
	return 0;
}

START_TEST(test_migrate_from_v2)
{
	struct store_incident inc;
	struct store_suppress s;
	struct supp_list l = {0};
	struct store *st;
	int64_t id = 0;

	raw_exec(dbpath, v1_schema);
	raw_exec(dbpath, v2_step);
	ck_assert_int_eq(raw_int("PRAGMA user_version"), 2);
	st = open_default();
	ck_assert_msg(store_incident_get(st, 7, &inc, NULL) == 0,
	    "a v2 incident should survive the migration");
	ck_assert_str_eq(inc.host, "10.0.0.9");
	ck_assert_int_eq(store_suppress_query(st, supp_cb, &l, NULL), 0);
	mk_supp(&s, "10.0.0.9/32", "", 0);
	ck_assert_int_eq(store_suppress_add(st, &s, &id, NULL), 0);
	ck_assert_msg(id == 1, "the first suppression should get id 1");
	close_ok(st);
	ck_assert_int_eq(raw_int("PRAGMA user_version"), 3);
	ck_assert_msg(raw_int("SELECT count(*) FROM suppressions WHERE"
			      " src = '10.0.0.9/32' AND dst = '' AND"
			      " expires = 0 AND hits = 0") == 1,
	    "the new table should hold the row as written");
}
END_TEST

START_TEST(test_suppress_crud)
{
	struct store_suppress s;
	struct supp_list l = {0};
	struct store_suppress_hits h[2];
	struct store *st;
	int64_t a = 0, b = 0;

	st = open_default();
	mk_supp(&s, "10.1.0.0/16", "192.168.1.5/32", 873);
	s.expires_us = T0_US + 7 * 86400 * US_PER_S;
	ck_assert_int_eq(store_suppress_add(st, &s, &a, NULL), 0);
	mk_supp(&s, "", "2001:db8::/32", 0);
	s.proto = 0;
	ck_assert_int_eq(store_suppress_add(st, &s, &b, NULL), 0);
	ck_assert_msg(a > 0 && b > a, "ids should grow: %lld %lld",
	    (long long)a, (long long)b);
	h[0] = (struct store_suppress_hits){a, 5, T0_US + 10};
	h[1] = (struct store_suppress_hits){b, 1, T0_US + 3};
	ck_assert_int_eq(store_suppress_hit(st, h, 2, NULL), 0);
	h[0] = (struct store_suppress_hits){a, 2, T0_US + 4};
	ck_assert_int_eq(store_suppress_hit(st, h, 1, NULL), 0);
	ck_assert_int_eq(store_suppress_query(st, supp_cb, &l, NULL), 2);
	ck_assert_msg(l.s[0].id == a && l.s[1].id == b, "oldest first");
	ck_assert_str_eq(l.s[0].src, "10.1.0.0/16");
	ck_assert_str_eq(l.s[0].dst, "192.168.1.5/32");
	ck_assert_int_eq(l.s[0].dst_port, 873);
	ck_assert_int_eq(l.s[0].proto, 6);
	ck_assert_str_eq(l.s[0].note, "backup job");
	ck_assert_int_eq(l.s[0].created_by, 1000);
	ck_assert_msg(l.s[0].expires_us == T0_US + 7 * 86400 * US_PER_S,
	    "expires should be kept");
	ck_assert_msg(l.s[0].hits == 7 && l.s[0].last_hit_us == T0_US + 10,
	    "hits should add up and last_hit keep the latest: %llu %llu",
	    (unsigned long long)l.s[0].hits,
	    (unsigned long long)l.s[0].last_hit_us);
	ck_assert_str_eq(l.s[1].src, "");
	ck_assert_int_eq(store_suppress_del(st, a, NULL), 0);
	ck_assert_msg(store_suppress_del(st, a, NULL) == -ENOENT,
	    "a second delete should be -ENOENT");
	h[0] = (struct store_suppress_hits){a, 1, T0_US};
	ck_assert_msg(store_suppress_hit(st, h, 1, NULL) == 0,
	    "hits of a deleted row are not an error");
	close_ok(st);
	st = open_default();
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(store_suppress_query(st, supp_cb, &l, NULL), 1);
	ck_assert_msg(l.s[0].id == b && l.s[0].hits == 1,
	    "what was committed should survive a reopen");
	close_ok(st);
}
END_TEST

START_TEST(test_suppress_rejects)
{
	struct store_suppress s;
	struct supp_list l = {0};
	struct store *st;
	char *cause = NULL;
	int64_t id = 99;
	int i;

	st = open_default();
	mk_supp(&s, "10.0.0.1/32", "", 0);
	memset(s.note, 'n', sizeof(s.note));
	ck_assert_msg(store_suppress_add(st, &s, &id, NULL) == -EINVAL,
	    "an unterminated note should be -EINVAL");
	ck_assert_msg(id == 0, "a refused row should get id 0");
	mk_supp(&s, "10.0.0.1/32", "", 0);
	memset(s.dst, '1', sizeof(s.dst));
	ck_assert_int_eq(store_suppress_add(st, &s, NULL, NULL), -EINVAL);
	mk_supp(&s, "10.0.0.1/32", "", 0);
	for (i = 0; i < STORE_SUPPRESS_MAX; i++)
		ck_assert_int_eq(store_suppress_add(st, &s, NULL, NULL), 0);
	ck_assert_msg(store_suppress_add(st, &s, &id, &cause) == -ENOSPC,
	    "row %d should be refused", STORE_SUPPRESS_MAX + 1);
	ck_assert_msg(has_substr(cause, "remove some"),
	    "cause should say what to do: %s", cause);
	free(cause);
	ck_assert_int_eq(
	    store_suppress_query(st, supp_cb, &l, NULL), STORE_SUPPRESS_MAX);
	close_ok(st);
}
END_TEST

static Suite *
suppress_suite(void)
{
	Suite *s = suite_create("suppress");
	TCase *tc = tcase_create("crud");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_migrate_from_v2);
	tcase_add_test(tc, test_suppress_crud);
	tcase_add_test(tc, test_suppress_rejects);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(store_suite());
	srunner_add_suite(sr, schema_suite());
	srunner_add_suite(sr, alert_suite());
	srunner_add_suite(sr, query_suite());
	srunner_add_suite(sr, retain_suite());
	srunner_add_suite(sr, model_suite());
	srunner_add_suite(sr, incident_suite());
	srunner_add_suite(sr, suppress_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
