/*
 * store internals, shared by the store/ sources and tests/check_store.c.
 */
#ifndef ANOMD_STORE_INT_H
#define ANOMD_STORE_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"

#define US_PER_S 1000000ULL

/* What a queued write does at flush time. */
enum qrec_kind {
	QREC_INSERT, /* a new row */
	QREC_UPDATE, /* new fold totals (count, last_ts, score) for a row */
	QREC_INCIDENT, /* an incident row, inserted or replaced */
	QREC_LINK, /* set a row's incident_id (in count) */
};

/*
 * A queued incident: the numbers, the short strings, and the long ones
 * (peers, ports, summary, evidence) back to back in text[], so one
 * allocation of the real size holds it all.
 */
struct qinc {
	uint64_t first_us, last_us, alerts, flows, peers_n, ports_n;
	double score_max;
	uint8_t about;
	char host[STORE_IP_MAX];
	char model_id[STORE_MODEL_ID_MAX];
	const char *peers, *ports, *summary, *evidence;
	char text[];
};

/*
 * One queued write.  Unlike struct store_alert it holds the explanation
 * in a malloc'd copy of its real length, so a deep queue stays small.
 */
struct qrec {
	enum qrec_kind kind;
	int64_t id;
	uint64_t count, last_us;
	double score;
	/* The rest is used by QREC_INSERT only. */
	uint64_t ts_us, ts_first_us, ts_last_us;
	uint64_t packets, bytes;
	double threshold;
	uint16_t src_port, dst_port;
	uint8_t proto;
	uint8_t finding;
	int64_t incident_id;
	char src_ip[STORE_IP_MAX];
	char dst_ip[STORE_IP_MAX];
	char model_id[STORE_MODEL_ID_MAX];
	char *explanation;
	struct qinc *inc; /* QREC_INCIDENT only: the incident (malloc'd) */
};

/*
 * A remembered fold key and the totals of its row.  While qgen equals the
 * store's queue generation, queue record qidx carries those totals and is
 * updated in place; a successful flush bumps the generation.
 */
struct fold {
	char src_ip[STORE_IP_MAX];
	char dst_ip[STORE_IP_MAX];
	uint16_t dst_port;
	uint8_t proto;
	uint8_t finding;
	int64_t incident_id;
	uint8_t any_src; /* src_ip is not part of the key */
	uint32_t hash;
	int64_t id;
	uint64_t first_us, last_us, count;
	double score;
	size_t qidx;
	uint64_t qgen;
	LIST_ENTRY(fold) hlink;
	TAILQ_ENTRY(fold) link; /* used list, oldest first; or free list */
};

LIST_HEAD(fold_bucket, fold);
TAILQ_HEAD(fold_list, fold);

/* A fixed-size table of fold keys; the oldest is evicted when full. */
struct foldtab {
	struct fold *f;
	size_t cap, n;
	struct fold_bucket *bucket;
	size_t mask;
	struct fold_list used, free;
};

struct store {
	sqlite3 *db;
	char *path;
	struct store_opts o;
	sqlite3_stmt *s_begin, *s_commit, *s_rollback;
	sqlite3_stmt *s_insert, *s_update, *s_incident, *s_link;
	struct qrec *q;
	size_t nq;
	uint64_t qgen;
	/*
	 * Queued incidents by id: open addressing, an entry is a queue index
	 * + 1 (0 = empty), at most half full; emptied with the queue.
	 */
	uint32_t *incq;
	size_t incq_mask, incq_n;
	/*
	 * The queue indices of the queued new rows, in queue (so id) order,
	 * for store_alert_link() to find a row still queued by its id.
	 */
	uint32_t *insq;
	size_t ninsq;
	struct foldtab fold;
	int64_t next_id;
	int64_t next_inc_id; /* id the next new incident gets */
	uint64_t rate_sec, rate_n;
	struct store_stats stats;
};

/* Whether s is terminated inside its buffer of size bytes. */
static inline int
store_terminated(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

/* store.c */
void store_set_cause(char **cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int store_errno(int sqlite_rc);
int store_db_error(struct store *st, int rc, const char *what, char **cause);
int store_step_reset(sqlite3_stmt *s);
sqlite3 *store_db(struct store *st);

/* schema.c */
int schema_probe(sqlite3 *db, const char *path, char **cause);
int schema_migrate(sqlite3 *db, const char *path, char **cause);

/* fold.c */
int fold_init(struct foldtab *ft, size_t cap);
void fold_free(struct foldtab *ft);
uint32_t fold_hash(const struct store_alert *a);
struct fold *fold_find(
    const struct foldtab *ft, const struct store_alert *a, uint32_t h);
struct fold *fold_add(
    struct foldtab *ft, const struct store_alert *a, uint32_t h, int *evicted);
void fold_remove(struct foldtab *ft, struct fold *f);
void fold_expire(struct foldtab *ft, uint64_t now_us, uint64_t window_us);

/* query.c */
int query_copy_text(char *dst, size_t size, sqlite3_stmt *s, int col);
unsigned int query_clamp_limit(unsigned int limit);
/* Bind the named parameters (:since, :limit, ...) a query's SQL has. */
struct sqlite3_stmt;
void store_query_bind(struct sqlite3_stmt *s, const struct store_query *q);

/* incident.c */
int incident_write(sqlite3_stmt *s, const struct qinc *inc, int64_t id);

#endif
