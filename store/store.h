/*
 * store: the SQLite alert store.
 *
 * Alerts arrive as a plain struct store_alert; the store knows nothing of
 * packets or of the model.  store_alert_put() only touches memory: it folds
 * repeats, applies the rate cap and queues the alert, so capture is never
 * held up by the disk.  store_flush() writes everything queued in one
 * transaction; the daemon calls it every second or when enough is pending.
 *
 * Ids are assigned at put time, from one above the highest id ever
 * committed (the AUTOINCREMENT sequence, read at open, so retention never
 * causes reuse), and the daemon can stream an alert with its id before it
 * is written.  The store must be the database's only writer.  An alert
 * that was queued but never flushed (the daemon was killed, or the disk
 * stayed full until close) has no row, and after a restart its id may be
 * given to another alert: at most max_pending ids, from the last second.
 *
 * Folding: a second alert with the same (src_ip, dst_ip, dst_port, proto,
 * finding, incident_id) whose time is within fold_window_s of the first
 * alert of that key (with fold_any_src, the same key but any src_ip, and
 * only among alerts that say fold_any_src too) is
 * counted into the first one's row (count, last_ts, score = max) instead of
 * making a new row.  The window is fixed from the first alert, so a storm
 * that lasts makes one row per window, and a row's last_ts is never more
 * than a window after its ts (retention relies on that).  Times are the
 * alerts' own, never the wall clock, so offline runs are deterministic.
 * Keys are remembered in a bounded table; forgetting one only means its
 * next alert makes a new row.  The finding kind and the incident are part
 * of the key so that a row is exactly one kind of finding and belongs to
 * exactly one incident: "the alerts of incident N" is then a plain filter,
 * and a flow alert never hides inside a responder finding's row.
 *
 * Incidents are queued in the same queue as alerts (and so within
 * max_pending) and written in the same flush transaction.  Their ids come
 * from their own AUTOINCREMENT sequence, assigned at put time like alert
 * ids.  A put of an id that is still queued replaces the queued copy in
 * place and needs no new slot, so an incident that grows many times a
 * second costs one row write per flush.  Retention deletes incidents by
 * age (their last alert) only; an alert may outlive its incident row.
 *
 * Rate cap: at most rate_max_per_s new rows per second of alert time;
 * alerts over it are dropped and counted.  Folds are not capped (they make
 * no row).  Nothing is dropped silently: every outcome has a counter in
 * struct store_stats.
 *
 * Durability: the database runs in WAL mode with synchronous=FULL, so each
 * commit fsyncs the WAL before store_flush() returns 0.  A flushed alert
 * therefore survives the daemon being killed (NORMAL would be enough for
 * that: the WAL is in the page cache) and also a power loss or kernel
 * crash, which NORMAL does not promise.  The cost is one fsync per flush,
 * and flushes are batched about once a second, so it is affordable.  An
 * offline run, which can simply be run again, opens with durable = 0
 * (NORMAL) and a larger page cache: in an alert storm the fsyncs and the
 * pages read back from the WAL were a third of its time.
 *
 * Disk full or I/O error: the flush is rolled back, everything stays
 * queued, the error is counted and returned (-ENOSPC, -EIO), and the next
 * flush retries.  Puts keep queueing up to max_pending and count what does
 * not fit.  Committed rows are never touched by a failed flush.
 *
 * Nothing here logs, prints or exits, and there is no global state.  A
 * handle is not thread-safe: use it from one thread at a time.
 */
#ifndef ANOMD_STORE_H
#define ANOMD_STORE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 3 /* PRAGMA user_version this code writes */

/* Bytes of an address text, NUL included. */
#define STORE_IP_MAX INET6_ADDRSTRLEN
#define STORE_MODEL_ID_MAX 64 /* bytes of a model id, NUL incl. */
#define STORE_RULE_MAX 64 /* bytes of a threshold rule name */
#ifndef STORE_EXPLANATION_MAX_BYTES
#define STORE_EXPLANATION_MAX_BYTES 2048 /* JSON explanation, NUL incl. */
#endif
#ifndef STORE_PARAMS_MAX_BYTES
#define STORE_PARAMS_MAX_BYTES 4096 /* JSON model parameters, NUL incl. */
#endif

#define STORE_QUERY_LIMIT_DEFAULT 100 /* rows when store_query.limit is 0 */
#define STORE_QUERY_LIMIT_MAX 1000 /* larger limits are clamped to this */

#define STORE_MAX_PENDING_LIMIT (1U << 20) /* upper bound of max_pending */
#define STORE_FOLD_KEYS_LIMIT (1U << 20) /* upper bound of fold_max_keys */
#define STORE_RETAIN_CHUNK_LIMIT 1000000 /* upper bound of the chunk */
#define STORE_CACHE_KIB_LIMIT (4u << 20) /* 4 GiB of page cache at most */

struct store;

struct store_opts {
	const char *path; /* database file; created if missing */
	size_t max_pending; /* queued writes between flushes, 1.. */
	uint32_t fold_window_s; /* fold repeats this close; 0 = never */
	size_t fold_max_keys; /* keys remembered for folding, 1.. */
	uint32_t rate_max_per_s; /* new rows per second; 0 = unlimited */
	size_t retain_chunk_rows; /* rows one store_retain() deletes, 1.. */
	int busy_timeout_ms; /* wait this long for a lock, 0..60000 */
	/*
	 * 1 (the default): synchronous=FULL, every flush fsyncs (see
	 * Durability below).  0: synchronous=NORMAL, a flush survives the
	 * process being killed but not a power loss; for runs that can be
	 * repeated, such as an offline analysis.
	 */
	int durable;
	size_t cache_kib; /* SQLite page cache in KiB; 0 = SQLite's default */
	/*
	 * WAL pages that start a checkpoint (wal_autocheckpoint); 0 =
	 * SQLite's default (1000).  More means fewer checkpoints, each an
	 * fsync and a rewrite of the hot index pages, and a larger WAL.
	 */
	size_t checkpoint_pages;
};

/*
 * One alert.  The strings are NUL-terminated and must fit their buffers:
 * store_alert_put() refuses an unterminated one with -EINVAL, so a
 * stored explanation is always shorter than STORE_EXPLANATION_MAX_BYTES.
 */
struct store_alert {
	int64_t id; /* row id; ignored by put */
	uint64_t ts_us; /* alert time, us since the epoch */
	uint64_t ts_first_us; /* flow's first packet */
	uint64_t ts_last_us; /* flow's last packet */
	uint8_t proto; /* IP protocol number */
	char src_ip[STORE_IP_MAX]; /* address text, as the caller wrote it */
	uint16_t src_port; /* 0 when the protocol has none */
	char dst_ip[STORE_IP_MAX];
	uint16_t dst_port;
	uint64_t packets, bytes; /* both directions */
	double score, threshold; /* score is the max over folded repeats */
	char model_id[STORE_MODEL_ID_MAX];
	/* JSON text the daemon wrote (kept as given); "" = [] */
	char explanation[STORE_EXPLANATION_MAX_BYTES];
	uint64_t count; /* alerts folded into the row, >= 1 */
	uint64_t last_us; /* latest folded repeat; ignored by put */
	uint8_t finding; /* enum store_finding */
	int64_t incident_id; /* incident the alert belongs to, 0 = none */
	/*
	 * 1: src_ip is left out of the fold key (alerts of an incident about
	 * their responder, as in a flood with forged sources); the row keeps
	 * its first alert's src_ip.
	 */
	uint8_t fold_any_src;
};

#define STORE_SUMMARY_MAX 256 /* bytes of an incident summary, NUL incl. */
#define STORE_LIST_MAX 512 /* bytes of a JSON list of peers or ports */

/* What an incident is about: the host that did it, or the one it hit. */
enum store_about {
	STORE_ABOUT_INITIATOR = 0, /* host is the initiator of its flows */
	STORE_ABOUT_RESPONDER = 1, /* host is the responder of its flows */
};

/*
 * An incident: alerts about the same host (as initiator or as responder)
 * close in time, grouped.  Written with store_incident_put(); the first put
 * (id 0) creates it, later puts with its id replace its fields as it grows.
 */
struct store_incident {
	int64_t id; /* row id; 0 in a put = new */
	uint64_t first_us, last_us; /* first and last alert's flow times */
	uint8_t about; /* enum store_about */
	char host[STORE_IP_MAX]; /* the host the incident is about */
	uint64_t alerts; /* alerts (finding rows, before folding) */
	uint64_t flows; /* flows involved */
	uint64_t peers_n, ports_n; /* distinct peers and ports seen */
	char peers[STORE_LIST_MAX]; /* JSON array of peer address texts */
	char ports[STORE_LIST_MAX]; /* JSON array of port numbers */
	double score_max; /* strongest alert's score */
	char summary[STORE_SUMMARY_MAX]; /* one line in plain words */
	char evidence[STORE_EXPLANATION_MAX_BYTES]; /* JSON array, as alerts */
	char model_id[STORE_MODEL_ID_MAX];
};

/* What kind of finding an alert row is. */
enum store_finding {
	STORE_FINDING_FLOW = 0, /* the flow's own evidence is odd */
	STORE_FINDING_RESPONDER = 1, /* the responder's context is odd */
	STORE_FINDING_BEACON = 2, /* periodic contact with a new host */
};

/* What store_alert_put() did with an alert. */
enum store_put_result {
	STORE_PUT_NEW, /* queued as a new row; *idp is its id */
	STORE_PUT_FOLDED, /* counted into row *idp */
	STORE_PUT_RATE_DROPPED, /* over rate_max_per_s; counted, *idp = 0 */
	STORE_PUT_QUEUE_DROPPED, /* max_pending reached; counted, *idp = 0 */
};

/* Counters; monotonic except pending and last_error. */
struct store_stats {
	uint64_t queued; /* alerts accepted as new rows */
	uint64_t folded; /* alerts counted into an earlier row */
	uint64_t rate_dropped; /* alerts over the rate cap */
	uint64_t queue_dropped; /* alerts (or fold updates) with no room */
	uint64_t rejected; /* alerts refused with -EINVAL */
	uint64_t written; /* new rows committed */
	uint64_t updated; /* fold totals and incident links committed */
	uint64_t linked_in_queue; /* incident links set on a queued row */
	uint64_t flushes; /* flush transactions committed */
	uint64_t write_errors; /* flushes rolled back */
	uint64_t retained; /* rows deleted by store_retain() */
	uint64_t fold_evicted; /* keys forgotten before their window ended */
	uint64_t pending; /* queued writes not yet committed */
	uint64_t incidents_queued; /* incident puts accepted (new or update) */
	uint64_t incidents_dropped; /* incident puts with no room (-ENOSPC) */
	uint64_t incidents_rejected; /* incident puts refused with -EINVAL */
	uint64_t incidents_written; /* incident rows committed */
	int last_error; /* -errno of the last flush, 0 if it worked */
};

/*
 * Filters for store_alerts_query() and store_incidents_query(); zero (or
 * NULL) fields do not filter, so a zeroed struct asks for the newest
 * STORE_QUERY_LIMIT_DEFAULT rows.  The comments give the alert meaning;
 * store_incidents_query() says what each filter means for incidents.
 */
struct store_query {
	uint64_t since_us; /* ts (alert time) >= since_us */
	uint64_t until_us; /* ts < until_us */
	double min_score; /* score >= min_score, when > 0 */
	const char *src_ip; /* exact text match, when not NULL or "" */
	const char *dst_ip; /* exact text match, when not NULL or "" */
	int64_t before_id; /* id < before_id, for paging */
	int64_t incident_id; /* alerts of this incident, when > 0 */
	unsigned int limit; /* 0 = default; clamped to STORE_QUERY_LIMIT_MAX */
};

/* One trained model, as recorded in the models table. */
struct store_model {
	char id[STORE_MODEL_ID_MAX]; /* non-empty */
	uint64_t created_us;
	uint64_t train_first_us, train_last_us; /* baseline period */
	uint64_t flows; /* baseline flows */
	double threshold;
	char rule[STORE_RULE_MAX]; /* threshold rule name */
	char params[STORE_PARAMS_MAX_BYTES]; /* JSON object; "" = {} */
};

/*
 * Row callbacks.  The struct is valid only during the call (it is reused
 * for the next row); copy what you keep.  Return 0 to go on, anything else
 * to stop early.  A callback must not close the store.
 */
typedef int (*store_alert_cb)(const struct store_alert *a, void *arg);
typedef int (*store_model_cb)(const struct store_model *m, void *arg);
typedef int (*store_incident_cb)(const struct store_incident *inc, void *arg);

/*
 * Fill o with the defaults: max_pending 4096, fold_window_s 60,
 * fold_max_keys 4096, rate_max_per_s 100, retain_chunk_rows 1000,
 * busy_timeout_ms 1000, and path NULL (the caller must set it).
 */
void store_opts_default(struct store_opts *o);

/*
 * Open (creating if needed) the database at o->path, switch it to WAL and
 * bring its schema up to STORE_SCHEMA_VERSION.  Returns 0 and sets *stp,
 * or -errno and, if cause is not NULL, a malloc'd message the caller frees:
 * -EINVAL for bad options, the system errno (such as -ENOENT) when the file
 * cannot be opened, -EPROTO for a file that is not an anomd SQLite
 * database, -EPROTONOSUPPORT for a schema newer than this code.
 */
int store_open(struct store **stp, const struct store_opts *o, char **cause);

/*
 * Flush what is queued, checkpoint the WAL and close.  NULL does nothing.
 * The store is freed whatever happens; returns 0, or the -errno of the
 * final flush (with *cause set) when queued alerts were lost.
 */
int store_close(struct store *st, char **cause);

/*
 * Queue alert a (copied; the caller keeps it).  Returns an enum
 * store_put_result, or -EINVAL (an unterminated string, a score or
 * threshold that is not finite, an unknown finding, a negative
 * incident_id) or -ENOMEM, both counted as rejected.  *idp (if
 * idp is not NULL) gets the id of the new or folded-into row, or 0.  Never
 * touches the disk.
 */
int store_alert_put(
    struct store *st, const struct store_alert *a, int64_t *idp);

/*
 * Set the incident of alert row id (one put gave that id) to incident_id,
 * for a row put before its incident had an id: in place while the row is
 * still queued (linked_in_queue), else by an UPDATE queued for the next
 * flush.  0, -EINVAL (an id not above 0) or -ENOSPC (the queue is full,
 * counted as queue_dropped).
 */
int store_alert_link(struct store *st, int64_t id, int64_t incident_id);

/*
 * What store_alert_put() would do with a now, without changing anything:
 * STORE_PUT_NEW, STORE_PUT_FOLDED, STORE_PUT_RATE_DROPPED or
 * STORE_PUT_QUEUE_DROPPED.  Only a's fold key (src_ip, dst_ip, dst_port,
 * proto, finding, incident_id) and ts_us are read, so a caller can ask
 * before it makes the expensive parts (the explanation) of a row that
 * would never be written.  A put of the same alert right after gives the
 * same answer, unless the put refuses the alert (-EINVAL, -ENOMEM).
 */
int store_alert_fate(const struct store *st, const struct store_alert *a);

/*
 * Write every queued alert and fold update in one transaction.  Returns 0,
 * or -ENOSPC (disk full), -EIO (I/O error), -EBUSY (locked longer than
 * busy_timeout_ms) or another -errno with *cause set; on error the
 * transaction is rolled back and everything stays queued for the next call.
 */
int store_flush(struct store *st, char **cause);

/* Copy the counters into *out. */
void store_stats(const struct store *st, struct store_stats *out);

/*
 * Delete at most retain_chunk_rows committed rows: first the alerts with ts
 * older than now_us - max_age_s, then the incidents whose last_us is, then
 * the oldest alerts beyond the newest max_rows (0 = no limit for either).
 * Returns the number of rows deleted, so the caller
 * calls again (later, to keep each call short) while it is not 0, or
 * -errno with *cause set.
 */
int store_retain(struct store *st, uint64_t now_us, uint32_t max_age_s,
    uint64_t max_rows, char **cause);

/*
 * Call cb for each committed alert matching q, newest (highest id) first.
 * Queued alerts are not seen until flushed.  Returns the number of rows
 * passed to cb, or -errno with *cause set.
 */
int store_alerts_query(struct store *st, const struct store_query *q,
    store_alert_cb cb, void *arg, char **cause);

/*
 * Copy committed alert id into *out.  Returns 0, -ENOENT when there is no
 * such row, or -errno with *cause set.
 */
int store_alert_get(
    struct store *st, int64_t id, struct store_alert *out, char **cause);

/*
 * Queue incident inc (copied; the caller keeps it).  inc->id 0 makes a new
 * row and sets *idp (if not NULL) to its id; an id this store handed out
 * replaces that row's fields (and its queued copy, if any).  Written by
 * the next store_flush(), in the same transaction as the alerts.  Returns
 * 0, -EINVAL (unterminated string, score not finite, about unknown, an id
 * never handed out), -ENOSPC (queue full; counted, *idp = 0) or -ENOMEM.
 * Never touches the disk.
 */
int store_incident_put(
    struct store *st, const struct store_incident *inc, int64_t *idp);

/*
 * Call cb for each committed incident matching q, newest first (by last_us,
 * then id), at most q->limit (clamped as for alerts).  since_us: last_us >=
 * since_us; until_us: first_us < until_us (so both give the incidents that
 * overlap the period); src_ip, dst_ip: the incident's host is either one;
 * min_score: score_max >= min_score.  before_id and incident_id are
 * ignored.  Queued incidents are not seen until flushed.  Returns the
 * number passed to cb, or -errno with *cause set.
 */
int store_incidents_query(struct store *st, const struct store_query *q,
    store_incident_cb cb, void *arg, char **cause);

/*
 * Copy committed incident id into *out.  Returns 0, -ENOENT, or -errno
 * with *cause set.
 */
int store_incident_get(
    struct store *st, int64_t id, struct store_incident *out, char **cause);

/*
 * Insert model m, or replace the row with the same id, at once (not
 * queued).  Returns 0, -EINVAL for an empty id, an unterminated string or
 * a threshold that is not finite, or -errno with *cause set.
 */
int store_model_put(
    struct store *st, const struct store_model *m, char **cause);

/*
 * Copy model id, or the latest created one when id is NULL, into *out.
 * Returns 0, -ENOENT when there is none, or -errno with *cause set.
 */
int store_model_get(
    struct store *st, const char *id, struct store_model *out, char **cause);

/*
 * Call cb for at most limit models (clamped like store_query.limit), the
 * latest created first.  Returns the number passed to cb, or -errno.
 */
int store_models_query(struct store *st, unsigned int limit, store_model_cb cb,
    void *arg, char **cause);

/*
 * Suppressions: an operator's word that some traffic is benign.  The store
 * keeps the rows and checks only that the strings fit; the daemon parses
 * and matches the CIDRs (daemon/suppress.c).  Writes go to the disk at
 * once, as models do: they are rare and come from a person.
 */
#define STORE_CIDR_MAX 50 /* bytes of a CIDR text ("" = any), NUL incl. */
#define STORE_NOTE_MAX 256 /* bytes of a suppression's note, NUL incl. */
#define STORE_SUPPRESS_MAX 256 /* rows the table may hold */

struct store_suppress {
	int64_t id; /* row id; ignored by add */
	uint64_t created_us; /* wall clock of the allow */
	uint64_t expires_us; /* 0 = never */
	char src[STORE_CIDR_MAX]; /* initiator network; "" = any */
	char dst[STORE_CIDR_MAX]; /* responder network; "" = any */
	uint16_t dst_port; /* 0 = any */
	uint8_t proto; /* IP protocol number, 0 = any */
	char note[STORE_NOTE_MAX];
	int64_t created_by; /* uid of the operator, -1 = unknown */
	uint64_t hits; /* alerts suppressed so far */
	uint64_t last_hit_us; /* alert time of the latest, 0 = none */
};

typedef int (*store_suppress_cb)(const struct store_suppress *s, void *arg);

/*
 * Insert suppression s at once; *idp (if not NULL) gets its id.  Returns
 * 0, -EINVAL (a string not terminated), -ENOSPC when the table holds
 * STORE_SUPPRESS_MAX rows already, or -errno with *cause set.
 */
int store_suppress_add(struct store *st, const struct store_suppress *s,
    int64_t *idp, char **cause);
/* Delete suppression id.  Returns 0, -ENOENT, or -errno with *cause. */
int store_suppress_del(struct store *st, int64_t id, char **cause);
/* Hits counted in memory for one suppression. */
struct store_suppress_hits {
	int64_t id;
	uint64_t hits; /* to add */
	uint64_t last_hit_us; /* kept when later than the row's */
};

/*
 * Add the hits of n suppressions in one transaction (one fsync).  A row
 * deleted meanwhile is not an error.  Returns 0, or -errno with *cause
 * set and nothing changed.
 */
int store_suppress_hit(struct store *st, const struct store_suppress_hits *h,
    size_t n, char **cause);
/*
 * Call cb for every suppression, oldest (lowest id) first: at most
 * STORE_SUPPRESS_MAX.  Returns the number passed to cb, or -errno.
 */
int store_suppress_query(
    struct store *st, store_suppress_cb cb, void *arg, char **cause);

#endif
