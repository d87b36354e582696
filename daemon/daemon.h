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

/* ---- util.c ------------------------------------------------------------- */

#define ADDR_STR_LEN 46 /* INET6_ADDRSTRLEN */

/* Format a 16-byte address (IPv4-mapped shown as dotted quad) into buf. */
const char *addr_str(const uint8_t *addr, char buf[ADDR_STR_LEN]);
/* Format microseconds since the epoch as "secs.usecs". */
const char *ts_str(uint64_t us, char buf[32]);
/* ISO-8601 UTC time with microseconds and offset, as Suricata writes it. */
const char *iso_time(uint64_t us, char buf[64]);
/* Parse an unsigned decimal within [min, max]; 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

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
	char socket_path[CONF_STR_MAX];
	uint32_t socket_mode;
	char socket_group[CONF_STR_MAX];
	uint32_t max_clients, max_clients_per_uid, client_idle_seconds;
	uint64_t client_output_max;
	char user[CONF_STR_MAX];
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

/* ---- detect.c ----------------------------------------------------------- */

struct model;
struct model_params;
struct store;
struct store_alert;
struct detector;
struct detect_job;

#define DETECT_EXPLAIN_MAX 10

struct detect_opts {
	const struct anomd_conf *conf;
	struct model *model; /* loaded model (taken over), or NULL: learn */
	int train_only; /* keep every record as baseline */
	const char *model_out; /* save a trained model here, or NULL */
	uint64_t created_us; /* model creation time; 0 = baseline's end */
	FILE *scores; /* scores CSV, or NULL */
	FILE *eve; /* EVE JSON lines, or NULL */
	struct store *store; /* alert store, or NULL */
	int async; /* the caller trains (detect_job_*) */
	int score_baseline; /* score the baseline's flows once trained */
	/* a new alert row was queued in the store */
	void (*alert_cb)(const struct store_alert *a, void *arg);
	void *alert_arg;
};

struct detect_stats {
	uint64_t baseline; /* records taken into the baseline */
	uint64_t scored, alerts;
	uint64_t trained; /* models trained and installed */
};

/* Model parameters from the configuration; 0 or -EINVAL with *cause. */
int detect_model_params(
    const struct anomd_conf *c, struct model_params *p, char **cause);
/* Create a detector (exits on OOM); it takes over o->model. */
struct detector *detect_create(const struct detect_opts *o);
/* Free a detector and its model; NULL does nothing. */
void detect_free(struct detector *d);
/* Take one flow record: learn from it or score it. */
void detect_record(struct detector *d, const struct flow_record *r);
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
/* The current model, or NULL. */
const struct model *detect_model(const struct detector *d);
/* Baseline rows kept and seen, and its time span. */
void detect_baseline(const struct detector *d, uint64_t *kept, uint64_t *seen,
    uint64_t *first_us, uint64_t *last_us);
/* Write the scores CSV header. */
void detect_scores_header(FILE *fp);
/* Print the alerts summary. */
void detect_print_summary(const struct detector *d, FILE *fp);

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
	unsigned idle_s; /* drop a non-subscribed client idle this long */
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
void control_get_stats(const struct control *ctl, struct control_stats *st);

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
};

/* Run the offline job; returns the process exit status. */
int offline_run(const struct offline_opts *o);

#endif
