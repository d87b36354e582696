/*
 * daemon: wires capture/, model/ and store/ together into anomd, and holds
 * what anomd and anomctl share (logging, address formatting).
 */
#ifndef ANOMD_DAEMON_H
#define ANOMD_DAEMON_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/capture.h"
#include "model/model.h"

#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))

/* ---- log.c -------------------------------------------------------------- */

/* Log to stderr (foreground) or syslog as tag; verbose > 0 adds debug. */
void log_init(const char *tag, int foreground, int verbose);
void log_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTFLIKE(1, 2);
/* An error that ends the run, logged as such, when the caller exits. */
void log_errorx(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_debug(const char *fmt, ...) PRINTFLIKE(1, 2);
void fatal(const char *fmt, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));
/*
 * Whether env, a JOURNAL_STREAM value ("DEV:INODE"), names the file open on
 * fd, as sd_journal_stream_fd(3) says to check; 1 or 0 (also for NULL or a
 * malformed value).
 */
int log_journal_stream_match(const char *env, int fd);

/* ---- iface.c ------------------------------------------------------------ */

#define IFACE_ROUTE4 "/proc/net/route"
#define IFACE_ROUTE6 "/proc/net/ipv6_route"

/*
 * Find the interface to capture on when none is configured: the IPv4
 * default route's in route4_path (a /proc/net/route table), else the IPv6
 * default route's in route6_path (/proc/net/ipv6_route), else the first
 * interface that is up and not a loopback; either path may be NULL.  On
 * success writes the name into buf (len bytes) and points *how (may be
 * NULL) at a static phrase saying which rule chose it; returns 0, or
 * -ENODEV when there is none.
 */
int iface_default(const char *route4_path, const char *route6_path, char *buf,
    size_t len, const char **how);

/* ---- util.c ------------------------------------------------------------- */

#define ADDR_STR_LEN 46 /* INET6_ADDRSTRLEN */

/* Format a 16-byte address (IPv4-mapped shown as dotted quad) into buf. */
const char *addr_str(const uint8_t *addr, char buf[ADDR_STR_LEN]);
/* Format microseconds since the epoch as "secs.usecs". */
const char *ts_str(uint64_t us, char buf[32]);
/*
 * ISO-8601 UTC time with microseconds and offset, as Suricata writes it
 * ("2024-01-31T12:00:00.123456+0000"): anomd's one time formatter.
 */
const char *iso_time(uint64_t us, char buf[64]);
/*
 * The IANA keyword of an IP protocol ("TCP", "UDP", "ICMP", "IPv6-ICMP",
 * "GRE", ...), else its decimal number ("253"), in buf or static storage:
 * anomd's one protocol-name table.
 */
const char *proto_name(uint8_t proto, char buf[8]);
/* Parse an unsigned decimal within [min, max]; 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A 64-bit hash of n bytes, not keyed (for counting, not for tables). */
uint64_t key_hash(const void *p, size_t n);
/*
 * A distinct-count bitmap: set bit h % nbits of bits[nbits / 8], and count
 * it in *ones when it was clear (the bits set are a lower bound of the
 * distinct keys, and linear counting estimates them).
 */
void bitmap_mark(uint8_t *bits, size_t nbits, uint32_t *ones, uint64_t h);

/* ---- conf.c ------------------------------------------------------------- */

#define CONF_STR_MAX 256

enum conf_type {
	CONF_STR, /* free text, at most CONF_STR_MAX - 1 bytes */
	CONF_UINT, /* unsigned decimal */
	CONF_SIZE, /* unsigned with an optional K, M or G suffix (1024) */
	CONF_BOOL, /* yes/no, true/false, on/off, 1/0 */
	CONF_DOUBLE, /* decimal fraction */
	CONF_MODE, /* octal file mode */
	CONF_CHOICE, /* one word of a '|'-separated list */
};

/* Every setting anomd has; filled from the table's defaults first. */
struct anomd_conf {
	char interface[CONF_STR_MAX];
	char filter[CONF_STR_MAX];
	uint32_t snaplen;
	uint32_t promisc;
	uint64_t buffer_size;
	uint32_t capture_timeout_ms, capture_batch, record_queue;
	uint64_t flow_memcap, host_memcap;
	struct flow_timeouts to;
	uint32_t baseline_seconds, baseline_min_flows, baseline_max_flows;
	char model_layers[CONF_STR_MAX];
	char model_activation[CONF_STR_MAX];
	uint32_t model_epochs, model_batch, model_threads;
	uint64_t model_seed;
	char threshold_rule[CONF_STR_MAX];
	double threshold_target, threshold_confidence, robust_drop;
	uint32_t explain_features;
	char state_dir[CONF_STR_MAX];
	char db_path[CONF_STR_MAX];
	uint32_t retention_days;
	uint64_t retention_rows;
	uint32_t alert_fold_seconds, alert_rate_max;
	char sensor_name[CONF_STR_MAX];
	uint32_t incident_gap_seconds;
	uint32_t beacon_min_contacts, beacon_pairs;
	char socket_path[CONF_STR_MAX];
	uint32_t socket_mode;
	char socket_group[CONF_STR_MAX];
	uint32_t max_clients, max_clients_per_uid, client_idle_seconds;
	uint32_t client_first_request_seconds;
	uint64_t client_output_max;
	char user[CONF_STR_MAX];
	/* the live EVE output (evout.c) */
	char eve_output[CONF_STR_MAX];
	char eve_filename[CONF_STR_MAX];
	char eve_syslog_facility[CONF_STR_MAX], eve_syslog_level[CONF_STR_MAX];
	char eve_socket[CONF_STR_MAX];
	char eve_redis_server[CONF_STR_MAX];
	uint32_t eve_redis_port;
	char eve_redis_socket[CONF_STR_MAX];
	char eve_redis_mode[CONF_STR_MAX];
	char eve_redis_key[CONF_STR_MAX];
	char eve_redis_auth_file[CONF_STR_MAX];
	uint64_t eve_redis_stream_maxlen;
	uint32_t eve_queue_max;
	char metrics_listen[CONF_STR_MAX]; /* host:port, or "" = off */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off, size; /* field in struct anomd_conf */
	double def, min, max; /* numeric default and bounds */
	const char *sdef; /* text default (CONF_STR, CONF_CHOICE) */
	const char *unit; /* unit or, for CONF_CHOICE, the choices */
	const char *doc;
	/* CONF_STR: 0 when v is acceptable, else -1 with why[len] filled */
	int (*check)(const char *v, char *why, size_t len);
};

/* The key table; *n gets its length. */
const struct conf_key *conf_keys_table(size_t *n);
/* Fill c with every default. */
void conf_defaults(struct anomd_conf *c);
/*
 * Parse one line ("key = value", "# comment" or blank) of file at lineno.
 * Returns 0, or -EINVAL and a malloc'd "file:line: ..." message in *cause.
 */
int conf_parse_line(struct anomd_conf *c, const char *file, int lineno,
    const char *line, char **cause);
/*
 * Read a whole file on top of c.  Every error is reported through errcb
 * (file:line: message); returns the number of errors, or -errno when the
 * file cannot be read (with *cause set).
 */
int conf_load(struct anomd_conf *c, const char *path,
    void (*errcb)(const char *msg, void *arg), void *arg, char **cause);
/*
 * Check what the key table cannot see alone, as `anomd -t` does: that user
 * exists (when running as root, the only case that uses it), that
 * socket_group exists (errors) and that the interface exists now (a
 * warning).  Each finding goes to cb (error = 1 or 0, the message, arg);
 * returns the number of errors.
 */
int conf_check(const struct anomd_conf *c,
    void (*cb)(int error, const char *msg, void *arg), void *arg);
/* Write the commented default config (man = 0) or roff for anomd.conf(5). */
void conf_write_defaults(FILE *fp, int man);
/* Write the value of key k in c into buf. */
const char *conf_value_str(const struct anomd_conf *c, const struct conf_key *k,
    char *buf, size_t len);

/* ---- flowcsv.c ---------------------------------------------------------- */

/* Write the header of the flows CSV. */
int flowcsv_header(FILE *fp);
/* Write one flow record as a CSV row. */
int flowcsv_row(FILE *fp, const struct flow_record *rec);

/* ---- beacon.c ----------------------------------------------------------- */

/*
 * Beacons (see beacon.c): periodic contact from one host to a host never
 * seen in the baseline, judged across flows.
 */
#define BEACON_RING 32 /* contact times kept per pair */
#define BEACON_EXTRA_TAG 0x314e4342u /* "BCN1": the model extra's tag */
#define BEACON_KNOWN_MAX 65536 /* baseline hosts kept with a model */
#define BEACON_MIN_PERIOD_US 4000000u /* shorter gaps are a burst */
#define BEACON_MIN_SPAN_US 120000000u /* contacts must span 2 minutes */

struct beacon_opts {
	uint32_t min_contacts; /* contacts before judging; 0: off */
	size_t max_pairs; /* (initiator, new host) pairs timed; LRU evicted */
	size_t max_known; /* baseline hosts kept, at most BEACON_KNOWN_MAX */
};

/* The evidence of one periodic pair, when it is first judged periodic. */
struct beacon_hit {
	uint8_t src[CAP_ADDR_LEN], dst[CAP_ADDR_LEN]; /* initiator, new host */
	uint16_t dport; /* of the latest contact */
	uint8_t proto;
	uint32_t contacts; /* contacts judged (the latest, at most the ring) */
	uint64_t total; /* contacts of the episode so far */
	uint64_t first_us, last_us; /* the episode's first and latest start */
	double period_s, dev_s; /* time per beat, median deviation */
};

struct beacon_stats {
	int have_known; /* a baseline host set is loaded: novelty judged */
	uint64_t known; /* hosts in it */
	uint64_t learnt, learn_dropped; /* hosts of the baseline collected */
	uint64_t pairs, evicted; /* pairs timed now, evicted so far */
	uint64_t hits; /* periodic episodes found */
};

struct beacon;

/* Create a detector of beacons (exits on OOM); no baseline set yet. */
struct beacon *beacon_create(const struct beacon_opts *o);
/* Free it; NULL does nothing. */
void beacon_free(struct beacon *b);
/* Collect r's initiator and responder as hosts of the baseline. */
void beacon_learn(struct beacon *b, const struct flow_record *r);
/* Forget the hosts collected (a new baseline window starts). */
void beacon_learn_reset(struct beacon *b);
/*
 * The collected hosts become the baseline set (the timed pairs are
 * dropped); *bufp (caller frees) gets the set serialised in *lenp bytes,
 * to save with the model.  0, or -ENOMEM.
 */
int beacon_commit(struct beacon *b, uint8_t **bufp, size_t *lenp);
/*
 * Load the baseline set from a model's blob p[len]; p NULL: the model has
 * none, and novelty (so beacons) is not judged.  0, or -EPROTO with *cause
 * (caller frees) for a blob that is not a sorted set within max_known;
 * then the detector has no set.
 */
int beacon_load(struct beacon *b, const void *p, size_t len, char **cause);
/* Whether addr is in the baseline set. */
int beacon_known(const struct beacon *b, const uint8_t *addr);
/*
 * Time one flow record.  Returns 1 and fills *hit when r completes a
 * periodic episode of contacts from its initiator to a responder outside
 * the baseline set (once per episode); 2 and fills *hit (the episode's
 * evidence so far) for a later new contact of that episode; else 0.
 * Costs one hash lookup when the responder is known.
 */
int beacon_record(
    struct beacon *b, const struct flow_record *r, struct beacon_hit *hit);
/*
 * The periodicity test on n sorted contact times t[]: at least min
 * contacts spanning BEACON_MIN_SPAN_US, gaps of BEACON_MIN_PERIOD_US or
 * more, each within 30 % of the median gap or a missed beat (2 to 4 of
 * them), with few exceptions.  Returns 1 with the period (time per beat)
 * and the regular gaps' median deviation from it in seconds, else 0.
 */
int beacon_periodic(
    const uint64_t *t, size_t n, uint32_t min, double *period_s, double *dev_s);
/* The counters. */
const struct beacon_stats *beacon_stats(const struct beacon *b);

/* ---- incident.c --------------------------------------------------------- */

/*
 * The incident engine: groups alerts about one host that come close in time
 * into incidents, and says in plain words what each one is.  It is driven by
 * the alerts' own times only (never the clock), never logs, and knows
 * nothing of the store: the caller's callback writes.
 */
#define INCIDENT_OPEN_MAX 256 /* open incidents; the stalest closes first */
#define INCIDENT_LIST_MAX 16 /* peers and ports listed per incident */
#define INCIDENT_ROWS_MAX 8 /* alert rows kept to link once it has an id */
#define INCIDENT_STARTS_MAX 64 /* flow start times kept for periodicity */
#define INCIDENT_SKETCH_BITS 8192 /* distinct-count bitmap per list */
#define INCIDENT_EXPL_MAX 10 /* features of the strongest evidence */
#define INCIDENT_SUMMARY_MAX 256 /* bytes of a summary, NUL included */
/*
 * A lone alert that no other joined is an incident only when its score is
 * at least this many times its threshold: the threshold already leaves
 * about 1 in 1 000 normal flows above it, and a normal flow a little past
 * it is not an incident, while a single upload, tunnel query or forged
 * packet is usually many times past.
 */
#define INCIDENT_LONE_MARGIN 4.0f

/* One alert (or one flow of a responder episode) given to the engine. */
struct incident_alert {
	uint64_t first_us, last_us; /* the flow's first and last packet */
	uint8_t finding; /* enum store_finding */
	int counted; /* 1: an alert row; 0: a flow of an open episode */
	uint8_t proto;
	uint8_t src[CAP_ADDR_LEN], dst[CAP_ADDR_LEN]; /* initiator, responder */
	uint16_t sport, dport;
	uint64_t packets, bytes;
	float score;
	float thr; /* the threshold score passed; 0: unknown (strong) */
	const float *feat; /* FEAT_COUNT raw values, or NULL */
	const struct model_expl *ex; /* its evidence, strongest first */
	size_t nex;
	/*
	 * When ex is NULL: explain(explain_arg, out, max) makes the evidence
	 * (at most max features into out, returning how many) only if the
	 * engine needs it, when the alert becomes its incident's strongest.
	 */
	size_t (*explain)(void *arg, struct model_expl *out, size_t max);
	void *explain_arg;
	/* FEAT_COUNT baseline p99s (-1: not in the alert's group), or NULL */
	const float *p99;
	/* a beacon's evidence (finding STORE_FINDING_BEACON), or NULL */
	const struct beacon_hit *beacon;
};

/* A host seen in an incident and how many of its flows it took part in. */
struct incident_peer {
	uint8_t addr[CAP_ADDR_LEN];
	uint64_t n;
};

struct incident_port {
	uint16_t port;
	uint8_t proto;
	uint64_t n;
};

/*
 * An incident.  The engine owns it; the callback may read it and set id
 * and store_id, and empty rows (nrows = 0) once it linked them, nothing
 * else.
 */
struct incident {
	int64_t id; /* store_id when the store gave one, else a serial */
	int64_t store_id; /* the store's row, 0 = not written yet */
	uint8_t about; /* enum store_about */
	uint8_t host[CAP_ADDR_LEN]; /* the host it is about */
	int provisional; /* one initiator alert: may join a responder's */
	/*
	 * Alert rows written while it (or a provisional incident it
	 * absorbed) had no id yet; the callback links them to it once it has
	 * one and empties the list.
	 */
	int64_t rows[INCIDENT_ROWS_MAX];
	size_t nrows;
	uint64_t first_us, last_us; /* flow times */
	uint64_t alerts, flows, findings;
	uint64_t episode_last_us; /* latest flow of a responder episode */
	struct incident_peer peers[INCIDENT_LIST_MAX];
	struct incident_port ports[INCIDENT_LIST_MAX];
	size_t npeers, nports;
	uint8_t peer_bits[INCIDENT_SKETCH_BITS / 8];
	uint8_t port_bits[INCIDENT_SKETCH_BITS / 8];
	uint32_t peer_ones, port_ones; /* bits set in each */
	/* evidence, tallied over its flows */
	uint64_t tcp, udp, icmp, halfopen, slow, dns_long, short_tcp;
	uint64_t bytes_fwd, bytes_bwd;
	float resp_rate, resp_srcs, resp_rate_p99; /* responder's context */
	uint64_t starts[INCIDENT_STARTS_MAX];
	size_t nstarts;
	float score_max;
	struct model_expl ex[INCIDENT_EXPL_MAX]; /* of the strongest alert */
	size_t nex;
	int strong; /* an alert at INCIDENT_LONE_MARGIN times its threshold */
	uint64_t top_fwd, top_bwd; /* the strongest alert's bytes each way */
	uint8_t top_dst[CAP_ADDR_LEN]; /* and its responder and port */
	uint16_t top_dport;
	uint64_t beacons; /* beacon alerts, and the one with most contacts: */
	struct beacon_hit beacon;
	/* writing */
	int dirty;
	uint64_t written_us; /* alert time of the last write, 0 = never */
	/* the engine's links, private to daemon/incident.c */
	struct incident *next, *prev; /* the open list, newest first */
	struct incident *hnext; /* next in its (about, host) hash bucket */
	struct incident *pnext, **pprev; /* provisional, by responder */
	uint64_t seq; /* order of opening */
	size_t heap_i; /* slot in the stalest-first heap */
};

enum incident_event {
	INCIDENT_WRITE, /* confirmed, or changed (at most once a second) */
	INCIDENT_CLOSE, /* closing: the last call for it */
};

typedef void (*incident_write_cb)(
    struct incident *inc, enum incident_event ev, void *arg);

struct incidents;

/*
 * Create an engine; alerts about one host with gaps up to gap_us form one
 * incident.  cb (not NULL) is called to write and to close incidents.
 * Exits on OOM.
 */
struct incidents *incidents_create(
    uint64_t gap_us, incident_write_cb cb, void *arg);
/* Close every open incident (calling cb) and free; NULL does nothing. */
void incidents_free(struct incidents *e);
/*
 * Add an alert.  Returns the incident it joined (owned by the engine,
 * valid until the next call), whose id is 0 while it is provisional.
 */
struct incident *incidents_add(
    struct incidents *e, const struct incident_alert *a);
/*
 * Note that alert row row was written for inc while inc had no id (it was
 * provisional), so that it is linked to inc once it has one.  At most
 * INCIDENT_ROWS_MAX are kept; more stay unlinked.
 */
void incidents_note_row(struct incident *inc, int64_t row);
/* Whether a responder episode about host is open at ts_us. */
int incidents_episode(
    const struct incidents *e, const uint8_t *host, uint64_t ts_us);
/* Close the incidents quiet for longer than the gap before now_us. */
void incidents_expire(struct incidents *e, uint64_t now_us);
/* Close every open incident. */
void incidents_flush(struct incidents *e);
/* Incidents opened so far (provisional ones absorbed not counted). */
uint64_t incidents_count(const struct incidents *e);
/* Distinct peers and ports of an incident (estimated past the lists). */
uint64_t incident_peers_n(const struct incident *inc);
uint64_t incident_ports_n(const struct incident *inc);
/* Write the incident's one-line plain-words summary into buf. */
void incident_summary(const struct incident *inc, char *buf, size_t len);
/* Format n with a space every three digits ("19 876") into buf. */
const char *incident_count_str(uint64_t n, char buf[32]);

/* ---- suppress.c --------------------------------------------------------- */

/*
 * Suppressions (see suppress.c): an operator's allow list, matched before
 * alerting and respected by the next baseline's robust drop.
 */
struct store;
struct store_suppress;
struct suppress;
struct control_peer;
struct cJSON;

#define SUPPRESS_MAX 256 /* suppressions kept (store/ refuses more) */
#define SUPPRESS_CIDR_LEN 50 /* bytes of a canonical CIDR text, NUL incl. */

/* A parsed network: fam 0 = any, 4 (IPv4-mapped in addr) or 6. */
struct suppress_net {
	uint8_t addr[CAP_ADDR_LEN];
	uint8_t len; /* prefix bits of addr (96 + n for IPv4 /n) */
	uint8_t fam;
};

/*
 * Parse CIDR s ("", "any", an address, or address/prefix) into *n (may be
 * NULL) and its canonical text into text[len] (may be NULL; "" for any).
 * Returns 0, or -EINVAL with *why (a static message) set and the outputs
 * untouched.
 */
int suppress_cidr_parse(const char *s, struct suppress_net *n, char *text,
    size_t len, const char **why);
/* Whether a 16-byte address (IPv4-mapped for IPv4) lies in network n. */
int suppress_net_match(const struct suppress_net *n, const uint8_t *addr);
/* A protocol name (any, tcp, udp, icmp, icmp6) or number; 0 = any, -1. */
int suppress_proto_parse(const char *s);
/* Create an empty list (exits on OOM); free it with suppress_free(). */
struct suppress *suppress_create(void);
/* Free a list; NULL does nothing. */
void suppress_free(struct suppress *sp);
/* Add one row (copied); 0, -EINVAL (a CIDR that does not parse), -ENOSPC. */
int suppress_add(struct suppress *sp, const struct store_suppress *row);
/*
 * The id of the first suppression matching flow fr at alert time ts_us,
 * or 0 (also for sp NULL).  count: count a hit (an alert suppressed).
 */
int64_t suppress_match(struct suppress *sp, const struct flow_record *fr,
    uint64_t ts_us, int count);
/* Suppressions in the list. */
size_t suppress_count(const struct suppress *sp);
/* Alerts and findings suppressed so far (0 for NULL). */
uint64_t suppress_suppressed(const struct suppress *sp);
/* Add the hits counted in memory to the rows of st; 0 or -errno. */
int suppress_sync(struct suppress *sp, struct store *st, char **cause);
/* Sync hits, then reload the list from st; the count, or -errno. */
int suppress_load(struct suppress *sp, struct store *st, char **cause);
/*
 * The control commands "allow", "allows" and "unallow" (see anomd(8)); a
 * control_handler_cb result (caller frees) or NULL with *code and *message
 * set.  The caller checks that the peer of allow and unallow is an admin;
 * now_us is the wall clock (created, expires, and "active" in a listing).
 */
struct cJSON *suppress_cmd_allow(struct suppress *sp, struct store *st,
    const struct cJSON *args, const struct control_peer *peer, uint64_t now_us,
    const char **code, char **message);
struct cJSON *suppress_cmd_allows(struct suppress *sp, struct store *st,
    uint64_t now_us, const char **code, char **message);
struct cJSON *suppress_cmd_unallow(struct suppress *sp, struct store *st,
    const struct cJSON *args, const char **code, char **message);

/* ---- detect.c ----------------------------------------------------------- */

struct model;
struct model_params;
struct store;
struct store_alert;
struct detector;
struct detect_job;

#define DETECT_EXPLAIN_MAX 10

struct alert_out;

struct detect_opts {
	const struct anomd_conf *conf;
	struct model *model; /* loaded model (taken over), or NULL: learn */
	int train_only; /* keep every record as baseline */
	const char *model_out; /* save a trained model here, or NULL */
	uint64_t created_us; /* model creation time; 0 = baseline's end */
	FILE *scores; /* scores CSV, or NULL */
	struct store *store; /* where models are recorded, or NULL */
	/* where raised alerts and incidents go (not owned), or NULL */
	struct alert_out *out;
	int async; /* the caller trains (detect_job_*) */
	int score_baseline; /* score the baseline's flows once trained */
	struct suppress *supp; /* operator suppressions (not owned), or NULL */
	struct report *report; /* the report collector (not owned), or NULL */
};

/* What the detector decided about one record. */
enum detect_decision {
	DETECT_NONE, /* scored, normal */
	DETECT_LEARNING, /* taken into the baseline, not scored (yet) */
	DETECT_FLOW_ALERT, /* own evidence past threshold_own: an alert */
	DETECT_RESPONDER_FINDING, /* ctx past threshold_ctx: a new finding */
	DETECT_RESPONDER_EPISODE, /* ctx past it, joined an open episode */
	DETECT_SUPPRESSED, /* past a threshold, but an operator allowed it */
	DETECT_BEACON, /* normal itself, but it makes a pair periodic */
	DETECT_BEACON_CONTACT, /* a later contact of a periodic pair */
};

/*
 * The result of one record.  r points to the caller's record.  The
 * explanation costs a second pass through the model, so it is made only
 * when it is needed: for a raised alert that is stored as a new row or
 * written (EVE, stream), or that becomes its incident's strongest
 * evidence.  Otherwise nex is 0 and detect_explain() makes it.
 */
struct detect_result {
	enum detect_decision decision;
	const struct flow_record *r;
	struct model_split split; /* own, ctx and total scores */
	float score, threshold; /* the part compared and its threshold */
	uint8_t finding; /* enum store_finding of a raised one */
	int64_t incident_id; /* incident joined, 0 = none */
	/* its incident is about the responder: repeats fold from any source */
	uint8_t fold_any_src;
	int64_t row_id; /* the store row a raised alert made, 0 = none */
	const char *model_id; /* the scoring model's id, or "" */
	struct model_expl ex[DETECT_EXPLAIN_MAX]; /* strongest first */
	size_t nex;
	struct detector *det; /* for detect_explain(); until the next record */
	int explained; /* ex and nex are made */
	struct beacon_hit beacon; /* of a DETECT_BEACON or _BEACON_CONTACT */
};

struct detect_stats {
	uint64_t baseline; /* records taken into the baseline */
	uint64_t scored;
	uint64_t alerts; /* flow alerts (own evidence past threshold_own) */
	uint64_t findings; /* responder findings: one per episode */
	uint64_t suppressed; /* client flows blamed on their responder */
	uint64_t beacons; /* beacon alerts (counted in alerts too) */
	uint64_t incidents; /* incidents opened */
	uint64_t trained; /* models trained and installed */
	uint64_t unlinked; /* alert rows left unlinked: store queue full */
	/*
	 * Alert storms (detect.c): minutes of record time in which at least
	 * DETECT_STORM_SHARE of the scored flows (and DETECT_STORM_ALERTS)
	 * were flow alerts, from and to many hosts; the first and latest
	 * such minute's end, and the latest one's share and host counts.
	 */
	uint64_t storm_minutes, storm_first_us, storm_last_us;
	double storm_share;
	uint32_t storm_srcs, storm_dsts;
};

/*
 * Model parameters from the configuration; 0 or -EINVAL with *cause.
 * groups[FEAT_COUNT] (caller's storage, or NULL for none) gets each
 * feature's MODEL_GROUP_* and p->groups points to it.
 */
int detect_model_params(const struct anomd_conf *c, struct model_params *p,
    uint8_t *groups, char **cause);
#define DETECT_STORM_SHARE 0.2 /* of a minute's scored flows alerting */
#define DETECT_STORM_ALERTS 500 /* flow alerts in the minute, at least */
#define DETECT_STORM_HOSTS 32 /* distinct initiators and responders */
#define DETECT_STORM_TEXT_MAX 512 /* bytes of detect_storm_text() */
/* Create a detector (exits on OOM); it takes over o->model. */
struct detector *detect_create(const struct detect_opts *o);
/* Free a detector and its model; NULL does nothing. */
void detect_free(struct detector *d);
/*
 * Take one flow record: learn from it or score it.  A raised alert or
 * finding goes to the alert writer (detect_opts.out).  res (or NULL) gets
 * the result; returns res->decision.  With res NULL a record to score may
 * be held (copied) and scored with up to 63 others as one block, which is
 * three times faster; DETECT_NONE is returned then.  Held records are
 * decided, in order and exactly as one by one, when the block is full, at
 * detect_drain(), and before anything that changes the model, the
 * baseline or the incidents (detect_flush, detect_retrain, detect_train,
 * detect_job_take, detect_job_finish) or a call with res set.
 */
enum detect_decision detect_record(
    struct detector *d, const struct flow_record *r, struct detect_result *res);
/*
 * Decide on the records detect_record() holds now.  A live daemon calls it
 * after each batch of packets, so that an alert never waits for the block
 * to fill.
 */
void detect_drain(struct detector *d);
/*
 * Make res's explanation (ex, nex) if it is not made yet: the features of
 * the raised group carrying most of the error.  Valid for the result of
 * the latest detect_record() only; does nothing for a result not raised.
 */
void detect_explain(struct detect_result *res);
/* Train on the baseline now; 0, or -errno (reason logged). */
int detect_train(struct detector *d);
/* Whether the baseline window is complete and waits to be trained. */
int detect_window_done(const struct detector *d);
/* Move the baseline into a job for a worker thread; learning stops. */
struct detect_job *detect_job_take(struct detector *d);
/* Train the job's model (any thread; touches only the job). */
void detect_job_run(struct detect_job *j);
/* Install the job's model, save and record it, free the job; 0 or -errno. */
int detect_job_finish(struct detector *d, struct detect_job *j);
/*
 * Start a new baseline; the current model keeps scoring meanwhile.  Returns
 * 0 (also while a training runs: nothing changes then), or -ENOMEM or
 * -errno when the baseline buffer cannot be had: the retrain is refused
 * (and logged) and the current model goes on.
 */
int detect_retrain(struct detector *d);
/* "learning", "training" or "detecting". */
const char *detect_state(const struct detector *d);
/* Whether a baseline is being collected. */
int detect_learning(const struct detector *d);
const struct detect_stats *detect_stats(const struct detector *d);
/*
 * ds's alert storm minutes in one sentence ("11 minutes from ... to ...
 * in which ..."), for the offline summary and the report; buf of len
 * bytes (DETECT_STORM_TEXT_MAX holds it).
 */
const char *detect_storm_text(
    const struct detect_stats *ds, char *buf, size_t len);
/* The current model, or NULL. */
const struct model *detect_model(const struct detector *d);
/* Baseline rows kept and seen, and its time span. */
void detect_baseline(const struct detector *d, uint64_t *kept, uint64_t *seen,
    uint64_t *first_us, uint64_t *last_us);
/* Write the scores CSV header. */
void detect_scores_header(FILE *fp);
/* Close every open incident now (end of input, shutdown): written out. */
void detect_flush(struct detector *d);
/*
 * Print the summary: incidents, then the top evidence, alike alerts (same
 * hosts, protocol and strongest feature) as one line with their count.
 */
void detect_print_summary(const struct detector *d, FILE *fp);
/* Print the totals of scoring: flows scored, alerts, findings, incidents. */
void detect_print_totals(const struct detector *d, FILE *fp);

/* ---- report.c ------------------------------------------------------------ */

/*
 * The analyst's report (see report.c): one self-contained HTML page with
 * incidents, timeline, scores and the latent map, from bounded aggregates
 * and samples of the records the detector scored.
 */
struct report;

/* An empty collector (exits on OOM). */
struct report *report_create(void);
/* Free a collector; NULL does nothing. */
void report_free(struct report *rp);
/* Take one scored record and its result (the detector's hook); m scored it. */
void report_record(
    struct report *rp, const struct model *m, const struct detect_result *res);
/* Take one closing incident and its summary (the detector's hook). */
void report_incident(
    struct report *rp, const struct incident *inc, const char *summary);
/* Add a capture's name (NULL: none) and set the run's packet and flow totals.
 */
void report_capture(
    struct report *rp, const char *name, uint64_t packets, uint64_t flows);
/*
 * Write the page for model m to fp; the same records give the same bytes.
 * Returns 0, or -EIO when fp had a write error.
 */
int report_write(struct report *rp, const struct model *m, FILE *fp);
/* The detector's counters, for the header's alert storm line. */
void report_storm(struct report *rp, const struct detect_stats *ds);
/*
 * The live daemon's collector: per scored record it keeps the flows per
 * minute (the newest week), the scores' histogram and a bottom-k sample of
 * normal flows' map positions like report_create()'s, and for raised flows
 * only the map position of the first flow of each store fold key (the
 * newest 4000 keys); incidents and alerts come from the store when a page
 * is built.  About 0.5 MB whatever the traffic.  Exits on OOM.
 */
struct report *report_create_live(void);
/* Forget what was collected: a new model was installed. */
void report_reset(struct report *rp);
/*
 * A page's collector (caller frees with report_free) built from the store's
 * incidents and alert rows (at most 10 000, newest first) from since_us
 * on, and what live collected since then; now_us ends the time span and
 * source names the input in the header.  NULL with *cause (caller frees)
 * when the store cannot be read.  live's draw marks are updated.
 */
struct report *report_live_build(struct report *live, struct store *st,
    uint64_t since_us, uint64_t now_us, const char *source, char **cause);
/* The start of the first flow rp took (since a reset), or 0. */
uint64_t report_first_us(const struct report *rp);
/* Draw at most max raised points on each map when rp is next written. */
void report_draw_max(struct report *rp, size_t max);

/* ---- alert.c ------------------------------------------------------------ */

/*
 * The alert path (see alert.c): an alert's store row, EVE line and stream
 * line, written from the detector's result by one small JSON writer.
 */
struct cJSON;
struct evout;
struct store_incident;

#define ALERT_GID 1 /* EVE alert.gid */
#define ALERT_SID_FLOW 9900001 /* signature_id of a flow alert */
#define ALERT_SID_RESPONDER 9900002 /* of a responder finding */
#define ALERT_SID_INCIDENT 9900003 /* of an incident (when it closes) */
#define ALERT_SID_BEACON 9900004 /* of a beacon alert */
#define ALERT_REV 1
/* severity 1 from score >= 4 x threshold, 2 from 2 x, else 3 */
#define ALERT_SEVERITY_HIGH 4.0
#define ALERT_SEVERITY_MEDIUM 2.0
#define ALERT_SCORE_DECIMALS 6 /* score, threshold, score_max */
#define ALERT_VALUE_DECIMALS 3 /* explanation values and percentiles */
#define ALERT_SHARE_DECIMALS 4 /* explanation shares */
#define ALERT_COMMUNITY_ID_LEN 32 /* "1:" + 28 base64 + NUL */
#ifndef ALERT_LINE_MAX
#define ALERT_LINE_MAX 16384 /* bytes of one JSON line */
#endif

/* A JSON text being written into a fixed buffer; err is set on overflow. */
struct jw {
	size_t len;
	int err, comma;
	char buf[ALERT_LINE_MAX];
};

/* Start an empty document in w. */
void jw_init(struct jw *w);
/* Append n raw bytes of s. */
void jw_raw(struct jw *w, const char *s, size_t n);
/* Open an object (c '{') or array ('['), under key unless key is NULL. */
void jw_open(struct jw *w, const char *key, char c);
/* Close an object ('}') or array (']'). */
void jw_close(struct jw *w, char c);
/* Add a string (escaped), an integer, null, a boolean. */
void jw_str(struct jw *w, const char *key, const char *s);
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_i64(struct jw *w, const char *key, int64_t v);
void jw_null(struct jw *w, const char *key);
void jw_bool(struct jw *w, const char *key, int v);
/* Add an id, or null when it is 0. */
void jw_id(struct jw *w, const char *key, int64_t v);
/* Add v with at most dec decimals, zeros dropped; no -0, no exponent. */
void jw_num(struct jw *w, const char *key, double v, int dec);
/* Add JSON text as it is. */
void jw_json(struct jw *w, const char *key, const char *text);
/* Format v as jw_num() does into buf[48] ("null" when not finite). */
const char *jw_num_text(double v, int dec, char buf[48]);

/* "flow", "responder" or "unknown" for an enum store_finding. */
const char *alert_finding_name(unsigned int f);
/* "initiator", "responder" or "unknown" for an enum store_about. */
const char *alert_about_name(unsigned int a);
/* EVE severity 1 (high) to 3 from score / threshold (see ALERT_SEVERITY_*). */
int alert_severity(double score, double threshold);
/* A stable 51-bit EVE flow_id from r's key and first packet time. */
uint64_t alert_flow_id(const struct flow_record *r);
/* SHA-1 of p[0..n) into out. */
void alert_sha1(const void *p, size_t n, uint8_t out[20]);
/*
 * Community ID v1 of a flow between 16-byte addresses (IPv4-mapped unless
 * v6) into buf; for ICMP, sport is the type and dport the code.
 */
const char *alert_community_id(int v6, const uint8_t *src, const uint8_t *dst,
    uint8_t proto, uint16_t sport, uint16_t dport, uint16_t seed,
    char buf[ALERT_COMMUNITY_ID_LEN]);
/* Write an explanation array under key (NULL: a bare value). */
void alert_expl_write(
    struct jw *w, const char *key, const struct model_expl *ex, size_t n);
/*
 * Write the socket's object of an alert row or an incident row.  Unless
 * trusted, embedded JSON text (explanation, lists) is checked, and text
 * that does not parse is written as null.
 */
void alert_row_write(struct jw *w, const struct store_alert *a, int trusted);
void alert_incident_write(
    struct jw *w, const struct store_incident *inc, int trusted);
/* The same as cJSON objects (caller frees with cJSON_Delete), or NULL. */
struct cJSON *alert_row_json(const struct store_alert *a);
struct cJSON *alert_incident_json(const struct store_incident *inc);

struct alert_out_opts {
	struct store *store; /* alert store, or NULL */
	FILE *eve; /* offline EVE file, or NULL */
	struct evout *evout; /* live EVE output, or NULL */
	const char *sensor; /* EVE host; NULL or "" = the hostname */
	const char *iface; /* EVE in_iface, or NULL */
	size_t explain_features; /* incident evidence features written */
	/* a new row's stream line (no newline), or NULL; live only */
	void (*stream_cb)(const char *line, size_t len, void *arg);
	void *stream_arg;
};

/* What became of the alerts; every raised alert is counted once. */
struct alert_out_stats {
	uint64_t raised; /* flow alerts and responder findings raised */
	uint64_t stored; /* new rows (or, with no store, all) */
	uint64_t folded; /* counted into an earlier row */
	uint64_t capped; /* over alert_rate_max */
	uint64_t dropped; /* store queue full */
	uint64_t rejected; /* refused by the store */
	uint64_t incidents; /* incidents closed */
	uint64_t incident_errors; /* incident rows not queued */
	uint64_t eve_lines, eve_errors, stream_errors;
};

/* Create the writer (exits on OOM); it uses but does not own o's handles. */
struct alert_out *alert_out_create(const struct alert_out_opts *o);
/* Free it; NULL does nothing. */
void alert_out_free(struct alert_out *ao);
/* Set the live EVE output (NULL: none). */
void alert_out_set_evout(struct alert_out *ao, struct evout *ev);
/*
 * Take a raised flow alert or responder finding; explains res (see
 * detect_explain()) only when it is stored as a new row or written.
 */
void alert_out_alert(struct alert_out *ao, struct detect_result *res);
/*
 * Write an incident: its store row (setting inc->id and store_id when the
 * store gives one), and when it closes its EVE line, with severity from
 * score_max over threshold.
 */
void alert_out_incident(struct alert_out *ao, struct incident *inc,
    enum incident_event ev, const char *summary, const char *model_id,
    double threshold);
/* The writer's counters. */
const struct alert_out_stats *alert_out_stats(const struct alert_out *ao);
/* Print one line saying what became of the alerts. */
void alert_out_print(const struct alert_out *ao, FILE *fp);

/* ---- control.c ---------------------------------------------------------- */

/*
 * The control socket: a UNIX stream socket speaking newline-delimited JSON,
 * one request per line ({"command": "...", "arguments": {...}}) and one
 * response per request ({"ok": true, "result": ...} or {"ok": false,
 * "error": {"code": "...", "message": "..."}}).  control.c owns sockets,
 * buffers, limits and framing; the daemon's handler owns the commands.
 */
struct event_base;
struct cJSON;
struct control;
struct control_client;

#define CONTROL_LINE_MAX (64 * 1024) /* request line cap, bytes */
#define CONTROL_RESERVED_CLIENTS 4 /* places beyond max_clients for admins */

struct control_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

struct control_opts {
	const char *path; /* socket path */
	mode_t mode; /* e.g. 0660 */
	uid_t uid; /* owner of the socket; 0 or (uid_t)-1 = keep */
	gid_t gid; /* group of the socket, (gid_t)-1 = keep */
	unsigned max_clients; /* more get a "busy" error and are closed */
	unsigned max_per_uid; /* of one uid; 0 = no cap beyond max_clients */
	/*
	 * Places beyond max_clients that only root and the daemon's own user
	 * (geteuid() when the client connects) may take, so that other users
	 * cannot lock them out.  max_per_uid still applies to them.
	 */
	unsigned reserved;
	unsigned idle_s; /* drop a non-subscribed client idle this long */
	unsigned first_s; /* drop a client without a request by then; 0 = off */
	size_t output_max; /* drop a client with more unsent output */
	size_t line_max; /* CONTROL_LINE_MAX unless a test shrinks it */
};

struct control_stats {
	uint64_t accepted, clients, refused_busy, dropped_slow, dropped_idle;
	uint64_t requests, bad_requests, oversized, subscribers;
};

/*
 * Handle one request.  Return the result (the control module adds it to
 * the response and frees it), or NULL with *code (a static string such as
 * "unknown_command", "bad_argument", "forbidden", "not_found") and
 * *message (malloc'd; control frees) set.
 */
typedef struct cJSON *(*control_handler_cb)(struct control_client *cl,
    const char *command, const struct cJSON *args,
    const struct control_peer *peer, const char **code, char **message,
    void *arg);

/*
 * Create the socket at o->path and start accepting on base: connect() first
 * and refuse (-EADDRINUSE, cause set) when another instance answers, else
 * unlink a stale file, bind with a umask that gives o->mode, hand it to
 * o->uid:o->gid without following a link, listen, non-blocking.  Returns 0 or
 * -errno with *cause.
 */
int control_open(struct control **ctlp, struct event_base *base,
    const struct control_opts *o, control_handler_cb cb, void *arg,
    char **cause);
/* Close every client, remove the socket file and free; NULL does nothing. */
void control_close(struct control *ctl);
/* Mark a client as subscribed: it gets every control_broadcast() line. */
void control_subscribe(struct control_client *cl);
/* Queue line (one JSON object, no newline) to every subscriber. */
void control_broadcast(struct control *ctl, const char *line);
/* Copy the control socket's counters into *st. */
void control_get_stats(const struct control *ctl, struct control_stats *st);
/*
 * Parse one request line of n bytes (line[n] is NUL) into *out (caller
 * frees with cJSON_Delete), refusing what cJSON would let through: bytes
 * that are not UTF-8, NUL bytes, \u0000 escapes (cJSON cuts the string
 * there), and an object with a repeated key at any depth.  Returns 0, or
 * -EILSEQ (not UTF-8, or not JSON) or -EPROTO (JSON that is refused) with
 * *why set to a static message; *out is then NULL.
 */
int control_request_parse(
    const char *line, size_t n, struct cJSON **out, const char **why);
/* Whether s[0..n) is UTF-8 (RFC 3629: no overlong forms, no surrogates). */
int control_utf8_valid(const char *s, size_t n);
/*
 * Read the optional argument name of args, which must be a whole number in
 * [min, max] (both within +-2^53), into *out.  Returns 0 when it is absent
 * or null (*out untouched), 1 when read, -1 when invalid.
 */
int control_arg_int(const struct cJSON *args, const char *name, int64_t min,
    int64_t max, int64_t *out);
/*
 * Read the optional argument name of args, one IPv4 or IPv6 address (not a
 * network), into buf as the store writes addresses (IPv4-mapped as IPv4,
 * IPv6 compressed).  Returns 0 when absent or null, 1 when read, -1 when
 * invalid.
 */
/*
 * For a control_handler_cb that refuses a request: set *code (static) and
 * *message (malloc'd, formatted) and return NULL.
 */
struct cJSON *control_fail(const char **code, char **message, const char *c,
    const char *fmt, ...) PRINTFLIKE(4, 5);
int control_arg_addr(
    const struct cJSON *args, const char *name, char buf[ADDR_STR_LEN]);

/* ---- evout.c ------------------------------------------------------------ */

/*
 * The live daemon's EVE output, configured like Suricata's eve-log: a
 * regular file (reopened on SIGUSR1), syslog, a UNIX datagram socket or
 * Redis.  Lines are queued and written without ever blocking capture;
 * what cannot be written is counted.
 */
struct event_base;
struct evout;

struct evout_stats {
	uint64_t written; /* lines handed to the output */
	uint64_t dropped; /* lines lost (queue full, output down), counted */
	uint64_t errors; /* write or connection errors */
	uint64_t reconnects; /* Redis or socket reconnections */
	uint64_t queued; /* lines waiting now */
};

/*
 * Open the output the configuration asks for on base.  Returns 0 with *op
 * set (NULL when no output is configured), or -errno with *cause.
 */
int evout_open(struct evout **op, const struct anomd_conf *c,
    struct event_base *base, char **cause);
/*
 * Check the eve_* keys together (what the key table cannot: the keys an
 * output needs, path lengths, a build without hiredis).  Returns 0, or
 * -EINVAL with a malloc'd message in *cause (cause may be NULL).
 */
int evout_check_conf(const struct anomd_conf *c, char **cause);
/* Queue one JSON object (len bytes, no newline); NULL o does nothing. */
void evout_write(struct evout *o, const char *line, size_t len);
/* Reopen a regular file (after logrotate moved it); others ignore it. */
void evout_reopen(struct evout *o);
/* Copy the counters; zeros for NULL. */
void evout_get_stats(const struct evout *o, struct evout_stats *st);
/* Flush what can be flushed without blocking long, close, free. */
void evout_close(struct evout *o);

/* ---- metrics.c ---------------------------------------------------------- */

/*
 * The daemon's numbers as Prometheus text on GET /metrics (evhttp on the
 * daemon's loop) and as the grouped JSON of the "stats" command, both
 * written by one fill callback through metrics_put() and friends.
 */
struct event_base;
struct evbuffer;
struct metrics;

#define METRICS_NAME_MAX 64 /* bytes of a name, without "anomd_" */
#ifndef METRICS_RESPONSE_MAX
#define METRICS_RESPONSE_MAX (256 * 1024) /* bytes of one response */
#endif
#define METRICS_CLIENTS_MAX 16 /* responses in flight; more get a 503 */
#define METRICS_HIST_BUCKETS 11

enum metrics_kind {
	METRICS_COUNTER, /* only goes up; "_total" is added to the name */
	METRICS_GAUGE, /* goes up and down */
	METRICS_LIMIT, /* a configured bound: a gauge, grouped apart */
};

/*
 * Where metrics_put() writes: Prometheus text into buf and/or the groups
 * "counters", "gauges" and "limits" of the cJSON object json (either may
 * be NULL).  Zero it, then set one or both.
 */
struct metrics_out {
	struct evbuffer *buf;
	struct cJSON *json;
	char family[METRICS_NAME_MAX]; /* the last family given HELP */
};

/* A histogram of durations in seconds, bounds metrics_hist_bounds. */
struct metrics_hist {
	uint64_t bucket[METRICS_HIST_BUCKETS]; /* cumulative: v <= bound */
	uint64_t count;
	double sum;
};

extern const double metrics_hist_bounds[METRICS_HIST_BUCKETS];

/* Fill mo with every number (the daemon's callback). */
typedef void (*metrics_fill_cb)(struct metrics_out *mo, void *arg);

struct metrics_stats {
	uint64_t requests, scrapes, not_found, busy, errors;
};

/*
 * Write one number: name (lower_snake_case, no "anomd_" prefix, no
 * "_total") of kind k with its one-line help.  Successive calls with the
 * same name form one family: metrics_put_label() adds label="value".
 */
void metrics_put(struct metrics_out *mo, enum metrics_kind k, const char *name,
    const char *help, double v);
void metrics_put_label(struct metrics_out *mo, enum metrics_kind k,
    const char *name, const char *help, const char *label, const char *value,
    double v);
/* Write histogram h (Prometheus) or its count and sum (JSON counters). */
void metrics_put_hist(struct metrics_out *mo, const char *name,
    const char *help, const struct metrics_hist *h);
/* Count one observation v into h. */
void metrics_hist_observe(struct metrics_hist *h, double v);
/*
 * Parse addr, "host:port" (an IPv4 address or a name) or "[v6]:port", into
 * host[hostlen] and *port.  Returns 0, or -1 with why[whylen] filled.
 */
int metrics_addr_parse(const char *addr, char *host, size_t hostlen,
    uint16_t *port, char *why, size_t whylen);
/*
 * Serve GET /metrics on addr (metrics_listen) on base, asking fill(mo, arg)
 * for the numbers at each scrape.  An empty addr serves nothing: *mp is
 * NULL.  Returns 0, or -errno with *cause (malloc'd; may be NULL).
 */
int metrics_open(struct metrics **mp, struct event_base *base, const char *addr,
    metrics_fill_cb fill, void *arg, char **cause);
/* Copy the server's own counters; zeros for NULL. */
void metrics_get_stats(const struct metrics *m, struct metrics_stats *st);
/* Stop serving and free; NULL does nothing. */
void metrics_close(struct metrics *m);

/* ---- notify.c ----------------------------------------------------------- */

void notify_ready(void);
void notify_stopping(void);
void notify_reloading(void);
void notify_status(const char *fmt, ...) PRINTFLIKE(1, 2);
uint64_t notify_watchdog_usec(void);
void notify_watchdog(void);

/* ---- priv.c ------------------------------------------------------------- */

/*
 * The user to switch to: 1 with *uid and *gid set when running as root
 * and user is not empty, 0 when nothing is to be dropped, or -ENOENT with
 * *cause (malloc'd) when the user does not exist.
 */
int priv_user(const char *user, uid_t *uid, gid_t *gid, char **cause);
/*
 * Hand the folder dir (if own_dir) and the files names (NULL-terminated;
 * missing ones skipped) in it to uid:gid without following any link: dir
 * is opened with O_NOFOLLOW | O_DIRECTORY and each file with O_NOFOLLOW
 * relative to it, then changed through its descriptor.  A symbolic link, a
 * file that is not regular or has a second hard link is refused.  A
 * missing dir does nothing.  Returns 0, or -errno with *cause (malloc'd).
 */
int priv_handover(const char *dir, int own_dir, const char *const *names,
    uid_t uid, gid_t gid, char **cause);
/*
 * With user not NULL (found by priv_user), switch to uid:gid for good with
 * no supplementary groups, keeping CAP_NET_RAW alone (in the permitted,
 * effective and bounding sets), and check that root cannot be regained.
 * Always set PR_SET_NO_NEW_PRIVS.  Exits with a message on any failure.
 */
void priv_drop(const char *user, uid_t uid, gid_t gid);

/* ---- recq.c: flow records from the capture side to the loop ------------ */

#ifndef RECQ_MAX_RECORDS
#define RECQ_MAX_RECORDS (16u * 1024 * 1024) /* records a queue may hold */
#endif

struct recq;

struct recq_stats {
	uint64_t capacity; /* records the queue holds */
	uint64_t put, taken; /* records in, records handed back */
	uint64_t queued; /* records waiting now */
	uint64_t high_water; /* most records ever waiting */
	uint64_t full_waits; /* times the producer found it full and waited */
};

/*
 * Create a queue of nrec records (1 to RECQ_MAX_RECORDS); NULL with errno
 * set.  One producer thread, one consumer (the event loop).
 */
struct recq *recq_create(size_t nrec);
/* Free a queue; NULL does nothing.  Neither side may use it any more. */
void recq_free(struct recq *q);
/* An eventfd that is readable when records wait or the queue was closed. */
int recq_fd(const struct recq *q);
/* Producer: copy rec in, waiting while the queue is full. */
void recq_put(struct recq *q, const struct flow_record *rec);
/* Producer: no more records will come; wakes the consumer. */
void recq_close(struct recq *q);
/*
 * Consumer: point *recs at the records waiting at the front, in place, and
 * return how many (a contiguous run; 0 when empty).  They stay valid until
 * recq_release().
 */
size_t recq_peek(struct recq *q, const struct flow_record **recs);
/* Consumer: hand the first n records of the last peek back. */
void recq_release(struct recq *q, size_t n);
/*
 * Consumer: block until a record waits or the queue is closed; returns 1
 * when it is closed and empty, else 0.  For the shutdown only.
 */
int recq_wait(struct recq *q);
/* A consistent copy of the counters into *st. */
void recq_stats(struct recq *q, struct recq_stats *st);

/* ---- capthread.c: the capture thread ------------------------------------ */

struct capthread;

struct capthread_opts {
	const char *iface; /* interface, or "" to choose one (copied) */
	const char *filter; /* BPF filter or "" (copied) */
	int snaplen, promisc, buffer_bytes;
	int timeout_ms; /* packet buffer timeout; 0 = immediate mode */
	int batch; /* packets per read; 0 = all there are */
};

/* What the capture thread last published (once a second and at exit). */
struct capthread_snap {
	struct cap_stats cs; /* the flow table's counters */
	int up; /* a capture is open */
	char error[256]; /* why it is not, or "" */
	char iface[CONF_STR_MAX]; /* the interface captured on, or "" */
	uint64_t kern_recv, kern_drop, kern_ifdrop; /* over every capture */
	uint64_t errors; /* read failures that closed a capture */
	uint64_t reopen_fails;
};

/* Create a capture thread's state (no thread yet).  Exits on OOM. */
struct capthread *capthread_create(const struct capthread_opts *o);
/*
 * Open the capture on the caller's thread (at start-up, before privileges
 * are dropped); 0, or -errno with *cause (caller frees).  The thread
 * retries a capture that is not open.
 */
int capthread_open(struct capthread *ct, char **cause);
/*
 * Start the thread on flow table ft (created threaded; the thread owns it
 * until capthread_join) feeding record queue q, which it closes at the end;
 * 0 or -errno.
 */
int capthread_start(struct capthread *ct, struct flowtab *ft, struct recq *q);
/*
 * Ask the thread to stop: it closes the capture, flushes the flow table
 * (FLOW_END_SHUTDOWN) and closes the record queue.  Does not wait.
 */
void capthread_stop(struct capthread *ct);
/* Wait for a stopped thread to end. */
void capthread_join(struct capthread *ct);
/* Copy the last published snapshot into *s. */
void capthread_snapshot(struct capthread *ct, struct capthread_snap *s);
/* Free the state (after capthread_join); NULL does nothing. */
void capthread_free(struct capthread *ct);

/* ---- live.c ------------------------------------------------------------- */

struct live_opts {
	struct anomd_conf *conf;
	const char *conf_path; /* re-read on SIGHUP; NULL = defaults */
	const char *model_path; /* -m, or NULL: the state directory's model */
	/* command-line overrides, applied at start and on reload (NULL/0 =
	 * none; the caller checked that they fit) */
	const char *iface, *socket, *db;
	uint32_t baseline_s;
};

/* Run the daemon until SIGTERM/SIGINT; returns the exit status. */
int live_run(const struct live_opts *o);

struct store;

/*
 * The "incidents" and "incident" control commands, reading store st; a
 * control_handler_cb result (caller frees) or NULL with *code and *message
 * set.  Outside live_run() for tests.
 */
struct cJSON *live_cmd_incidents(struct store *st, const struct cJSON *args,
    const char **code, char **message);
struct cJSON *live_cmd_incident(struct store *st, const struct cJSON *args,
    const char **code, char **message);

#define LIVE_REPORT_POINTS_MAX 4096 /* raised points per map, uncapped */
#define LIVE_REPORT_SLACK 256 /* reply bytes besides the page's */

/* What live_cmd_report() needs from the daemon besides its handles. */
struct live_report_opts {
	uint64_t model_since_us; /* when the model in use was installed */
	uint64_t now_us; /* the page's time span ends here */
	size_t output_max; /* the reply must fit client_output_max */
	const char *source; /* the header's input, e.g. the interface */
	const struct detect_stats *storm; /* for the storm line, or NULL */
};
/*
 * The "report" command: the analyst's page from store st and the live
 * collector (report_create_live) for model m (NULL: "no_model" error) from
 * the since argument, else from the first flow m scored (flows kept while
 * it trained are scored after its install), else o->model_since_us, as
 * {"html": page, "bytes": n, "map_points_max": cap or null}, with fewer
 * map points when the reply would not fit o->output_max.  Same contract as
 * live_cmd_incidents().
 */
struct cJSON *live_cmd_report(struct report *live, const struct model *m,
    struct store *st, const struct live_report_opts *o,
    const struct cJSON *args, const char **code, char **message);

/* ---- offline.c ---------------------------------------------------------- */

struct offline_opts {
	const char **files; /* capture files, nfiles of them */
	size_t nfiles;
	const struct anomd_conf *conf;
	const char *flows_path; /* --flows, "-" = stdout, or NULL */
	int detect; /* learn and score, or only assemble flows */
	int train_only; /* train on everything, save to model_path */
	const char *model_path; /* -m: load this (or, train_only, write it) */
	const char *db_path; /* alert database, or NULL */
	const char *scores_path; /* --scores, or NULL */
	const char *eve_path; /* --eve, or NULL */
	uint64_t seed; /* flow hash seed, 0 = random */
	int top; /* flows to show in the summary */
	int baseline_given; /* --baseline was given: no fitting to the input */
	int stats; /* --stats or -v: the flow counters on stderr */
	const char *report_path; /* --report: the HTML page, or NULL */
};

/* Run the offline job; returns the process exit status. */
int offline_run(const struct offline_opts *o);

#endif
