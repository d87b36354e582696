/*
 * Configuration: one static table lists every key with its type, default,
 * bounds, unit and description.  The table drives parsing, defaults,
 * `anomd -t`, the commented etc/anomd.conf and the test that anomd.conf(5)
 * names every key.  The parser works line by line so that tests can feed it
 * lines, and the loader collects every error before the caller gives up.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <net/if.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "daemon/daemon.h"
#include "model/model.h"

#define CONF_LINE_MAX 4096

#define F(x) offsetof(struct anomd_conf, x), sizeof(((struct anomd_conf *)0)->x)
#define KiB 1024.0
#define MiB (1024.0 * 1024.0)
#define GiB (1024.0 * 1024.0 * 1024.0)
#define NUM(name, type, field, def, min, max, unit, doc)                       \
	{                                                                      \
		name, type, F(field), def, min, max, NULL, unit, doc, NULL     \
	}
#define TXT(name, type, field, def, choices, doc)                              \
	{                                                                      \
		name, type, F(field), 0, 0, 0, def, choices, doc, NULL         \
	}
/* A text key whose value check() must accept. */
#define TXTV(name, field, def, check, doc)                                     \
	{                                                                      \
		name, CONF_STR, F(field), 0, 0, 0, def, NULL, doc, check       \
	}

static int check_iface(const char *, char *, size_t);
static int check_filter(const char *, char *, size_t);
static int check_layers(const char *, char *, size_t);
static int check_path(const char *, char *, size_t);
static int check_socket(const char *, char *, size_t);
static int check_name(const char *, char *, size_t);
static int check_listen(const char *, char *, size_t);

static const struct conf_key conf_keys[] = {
    TXTV("interface", interface, "", check_iface,
	"network interface to capture on, at most 15 bytes (-i overrides); "
	"empty: the default route's, else the first one up"),
    TXTV("filter", filter, "", check_filter,
	"BPF filter expression, compiled when read; empty captures everything"),
    NUM("snaplen", CONF_UINT, snaplen, 65535, 96, 262144, "bytes",
	"bytes captured of each packet"),
    NUM("promiscuous", CONF_BOOL, promisc, 1, 0, 1, NULL,
	"put the interface in promiscuous mode"),
    NUM("buffer_size", CONF_SIZE, buffer_size, 16 * MiB, 0, 2 * GiB - 1,
	"bytes", "kernel capture buffer; 0 keeps libpcap's default"),
    NUM("capture_timeout_ms", CONF_UINT, capture_timeout_ms, 100, 0, 1000,
	"milliseconds",
	"packet buffer timeout: the kernel hands packets over in blocks at "
	"least this often; 0 = immediate mode (a wake-up per packet)"),
    NUM("capture_batch", CONF_UINT, capture_batch, 4096, 0, 1048576, "packets",
	"packets the capture thread reads at a time; 0 = all "
	"there are"),
    NUM("record_queue", CONF_UINT, record_queue, 65536, 256, 16777216,
	"records",
	"flow records waiting for scoring; when full, capture waits and "
	"the kernel drops (counted)"),
    NUM("flow_memcap", CONF_SIZE, flow_memcap, 64 * MiB, 64 * KiB, 64 * GiB,
	"bytes",
	"memory for flow state; at the cap the oldest flow is evicted"),
    NUM("host_memcap", CONF_SIZE, host_memcap, 32 * MiB, 64 * KiB, 64 * GiB,
	"bytes",
	"memory for per-host context; at the cap the oldest host goes"),
    NUM("timeout_tcp_idle", CONF_UINT, to.tcp_idle, 300, 1, 86400, "seconds",
	"an established TCP flow ends after this long idle"),
    NUM("timeout_tcp_halfopen", CONF_UINT, to.tcp_halfopen, 10, 1, 3600,
	"seconds", "a TCP flow with no completed handshake ends after this"),
    NUM("timeout_tcp_closed", CONF_UINT, to.tcp_closed, 2, 1, 600, "seconds",
	"linger after FIN both ways or a reset"),
    NUM("timeout_udp_idle", CONF_UINT, to.udp_idle, 60, 1, 86400, "seconds",
	"a UDP flow ends after this long idle"),
    NUM("timeout_udp_answered", CONF_UINT, to.udp_answered, 2, 1, 600,
	"seconds", "linger of a UDP exchange once every request is answered"),
    NUM("timeout_icmp_idle", CONF_UINT, to.icmp_idle, 30, 1, 86400, "seconds",
	"an ICMP flow ends after this long idle"),
    NUM("timeout_other_idle", CONF_UINT, to.other_idle, 60, 1, 86400, "seconds",
	"a flow of another protocol ends after this long idle"),
    NUM("timeout_active", CONF_UINT, to.active, 300, 0, 86400, "seconds",
	"emit an interim record of a long flow this often; 0 = never (a "
	"record spans at most 4294 s all the same)"),
    NUM("baseline_seconds", CONF_UINT, baseline_seconds, 3600, 10, 30 * 86400,
	"seconds", "length of the baseline window of normal traffic"),
    NUM("baseline_min_flows", CONF_UINT, baseline_min_flows, 1000, 100,
	10000000, "flows", "the baseline window lasts until it has this many"),
    NUM("baseline_max_flows", CONF_UINT, baseline_max_flows, 100000, 1000,
	10000000, "flows", "most baseline flows kept; past it a random sample"),
    TXTV("model_layers", model_layers, "48,12,48", check_layers,
	"hidden layer widths, comma-separated: 1 to 8 layers of 1 to 1024 "
	"units"),
    TXT("model_activation", CONF_CHOICE, model_activation, "tanh",
	"tanh|relu|elu", "activation of the hidden layers"),
    NUM("model_epochs", CONF_UINT, model_epochs, 30, 1, 1000, "epochs",
	"most training passes over the baseline (early stopping may end "
	"sooner)"),
    NUM("model_batch", CONF_UINT, model_batch, 128, 1, 4096, "flows",
	"minibatch size"),
    NUM("model_threads", CONF_UINT, model_threads, 2, 1, 2, "threads",
	"threads that train (each minibatch is split in two halves either "
	"way, so the model does not depend on this)"),
    NUM("model_seed", CONF_UINT, model_seed, 1, 0, 18446744073709551615.0, NULL,
	"seed of weight initialisation and shuffling"),
    TXT("threshold_rule", CONF_CHOICE, threshold_rule, "quantile",
	"quantile|pot", "how the alert threshold is learned from the baseline"),
    NUM("threshold_target", CONF_DOUBLE, threshold_target, 0.001, 1e-6, 0.2,
	"ratio", "target false-alert rate on normal traffic"),
    NUM("threshold_confidence", CONF_DOUBLE, threshold_confidence, 0.9, 0.5,
	0.999, "ratio",
	"quantile rule: how sure the threshold lies at or above the target "
	"quantile of normal errors (0.5: the plain quantile)"),
    NUM("robust_drop", CONF_DOUBLE, robust_drop, 0.01, 0, 0.2, "ratio",
	"share of worst-fitting baseline flows dropped before the second fit"),
    NUM("explain_features", CONF_UINT, explain_features, 3, 1, 10, "features",
	"features named in each alert's explanation"),
    TXTV("state_dir", state_dir, "/var/lib/anomd", check_path,
	"where the current model is kept"),
    TXTV("db_path", db_path, "/var/lib/anomd/anomd.db", check_path,
	"SQLite alert database (--db overrides)"),
    NUM("retention_days", CONF_UINT, retention_days, 30, 0, 36500, "days",
	"delete alerts older than this; 0 = keep"),
    NUM("retention_rows", CONF_UINT, retention_rows, 1000000, 0, 1e12, "rows",
	"keep at most this many alerts; 0 = no limit"),
    NUM("alert_fold_seconds", CONF_UINT, alert_fold_seconds, 60, 0, 86400,
	"seconds",
	"fold repeats of one initiator, responder and port into one alert "
	"(from any initiator in an incident about its responder: a flood "
	"with forged sources)"),
    NUM("alert_rate_max", CONF_UINT, alert_rate_max, 100, 0, 1000000,
	"alerts/s",
	"most new alerts written per second by the live daemon (offline "
	"runs store every alert); 0 = no limit"),
    TXT("sensor_name", CONF_STR, sensor_name, "", NULL,
	"this sensor's name, the host field of EVE lines; empty = the "
	"hostname"),
    NUM("incident_gap_seconds", CONF_UINT, incident_gap_seconds, 60, 1, 86400,
	"seconds",
	"alerts about one host this close in time form one incident; also "
	"how long a responder episode lasts after its last flow"),
    NUM("beacon_min_contacts", CONF_UINT, beacon_min_contacts, 8, 0, 32,
	"contacts",
	"contacts of one host with a host never seen in the baseline before "
	"their rhythm is judged a beacon (at least 3); 0 = off"),
    NUM("beacon_pairs", CONF_UINT, beacon_pairs, 8192, 16, 1048576, "pairs",
	"pairs of hosts whose contacts with a new host are timed, about 330 "
	"bytes each; the least recently seen is dropped first"),
    TXTV("socket_path", socket_path, "/run/anomd/anomd.sock", check_socket,
	"control socket, at most 107 bytes (-S overrides)"),
    NUM("socket_mode", CONF_MODE, socket_mode, 0660, 0, 0777, NULL,
	"file mode of the control socket, octal"),
    TXTV("socket_group", socket_group, "", check_name,
	"group of the control socket; empty = the daemon's (as root: user's)"),
    NUM("max_clients", CONF_UINT, max_clients, 64, 1, 10000, "clients",
	"most control clients at once; more get a busy error"),
    NUM("max_clients_per_uid", CONF_UINT, max_clients_per_uid, 32, 0, 10000,
	"clients", "most control clients of one user; 0 = only max_clients"),
    NUM("client_idle_seconds", CONF_UINT, client_idle_seconds, 300, 1, 86400,
	"seconds",
	"drop a control client idle this long (subscribers excepted)"),
    NUM("client_first_request_seconds", CONF_UINT, client_first_request_seconds,
	5, 1, 86400, "seconds",
	"drop a control client that sends no request this long after "
	"connecting"),
    NUM("client_output_max", CONF_SIZE, client_output_max, 1 * MiB, 64 * KiB,
	1 * GiB, "bytes", "drop a client whose unread output passes this"),
    TXTV("user", user, "anomd", check_name,
	"user to switch to after start-up when started as root; empty = stay"),
    TXT("eve_output", CONF_CHOICE, eve_output, "none",
	"none|regular|syslog|unix_dgram|redis",
	"where the live daemon writes its EVE JSON lines, as Suricata's "
	"eve-log filetype"),
    TXT("eve_filename", CONF_STR, eve_filename, "eve.json", NULL,
	"regular: the file, relative to state_dir unless absolute; SIGUSR1 "
	"reopens it"),
    TXT("eve_syslog_facility", CONF_CHOICE, eve_syslog_facility, "local5",
	"user|daemon|local0|local1|local2|local3|local4|local5|local6|local7",
	"syslog: the facility of the EVE messages"),
    TXT("eve_syslog_level", CONF_CHOICE, eve_syslog_level, "info",
	"emerg|alert|crit|err|warning|notice|info|debug",
	"syslog: the level of the EVE messages"),
    TXT("eve_socket", CONF_STR, eve_socket, "", NULL,
	"unix_dgram: the receiver's socket path (at most 107 bytes)"),
    TXT("eve_redis_server", CONF_STR, eve_redis_server, "127.0.0.1", NULL,
	"redis: the server's host name or address"),
    NUM("eve_redis_port", CONF_UINT, eve_redis_port, 6379, 1, 65535, NULL,
	"redis: the server's TCP port"),
    TXT("eve_redis_socket", CONF_STR, eve_redis_socket, "", NULL,
	"redis: a UNIX socket path, used instead of server and port when set"),
    TXT("eve_redis_mode", CONF_CHOICE, eve_redis_mode, "stream", "stream|list",
	"redis: XADD to a stream (field \"event\") or RPUSH to a list"),
    TXT("eve_redis_key", CONF_STR, eve_redis_key, "anomd", NULL,
	"redis: the stream or list key"),
    TXT("eve_redis_auth_file", CONF_STR, eve_redis_auth_file, "", NULL,
	"redis: a file whose first line is the password (no spaces), or an "
	"ACL user, one space and the password, sent with AUTH on every "
	"connection; read "
	"at start by the daemon's user (a systemd credential); \"\" = no "
	"AUTH"),
    NUM("eve_redis_stream_maxlen", CONF_UINT, eve_redis_stream_maxlen, 100000,
	0, 1e12, "entries",
	"redis stream: trim to about this many entries (MAXLEN ~); 0 = never"),
    NUM("eve_queue_max", CONF_UINT, eve_queue_max, 10000, 1, 10000000, "lines",
	"lines kept while the output is slow or down; past it new lines are "
	"dropped and counted"),
    TXTV("metrics_listen", metrics_listen, "127.0.0.1:9469", check_listen,
	"address of the Prometheus /metrics endpoint, host:port or "
	"[IPv6]:port; empty = no endpoint"),
};

#undef F
#undef NUM
#undef TXT
#undef TXTV

/*
 * An interface name: what the kernel takes (IFNAMSIZ, no '/' or space), or
 * empty for the default route's.
 */
static int
check_iface(const char *v, char *why, size_t len)
{
	const char *p;

	if (strlen(v) >= IFNAMSIZ) {
		snprintf(
		    why, len, "want a name of at most %d bytes", IFNAMSIZ - 1);
		return -1;
	}
	for (p = v; *p; p++)
		if (*p == '/' || isspace((unsigned char)*p)) {
			snprintf(why, len, "no '/' or space in a name");
			return -1;
		}
	return 0;
}

/* A BPF expression that libpcap compiles (for Ethernet, the usual link). */
static int
check_filter(const char *v, char *why, size_t len)
{
	struct bpf_program prog;
	pcap_t *p;
	int rc = 0;

	if (*v == '\0')
		return 0;
	if ((p = pcap_open_dead(DLT_EN10MB, 65535)) == NULL) {
		snprintf(why, len, "cannot compile: out of memory");
		return -1;
	}
	if (pcap_compile(p, &prog, v, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(why, len, "not a BPF filter: %s", pcap_geterr(p));
		rc = -1;
	} else
		pcap_freecode(&prog);
	pcap_close(p);
	return rc;
}

_Static_assert(MODEL_MAX_HIDDEN == 8 && MODEL_MAX_WIDTH == 1024,
    "the doc of model_layers names these limits");

/* Hidden layer widths: 1 to MODEL_MAX_HIDDEN of 1 to MODEL_MAX_WIDTH. */
static int
check_layers(const char *v, char *why, size_t len)
{
	const char *p = v;
	unsigned long w;
	char *end;
	int n = 0;

	for (;;) {
		while (*p == ' ')
			p++;
		errno = 0;
		w = isdigit((unsigned char)*p) ? strtoul(p, &end, 10) : 0;
		if (w < 1 || w > MODEL_MAX_WIDTH || errno ||
		    ++n > MODEL_MAX_HIDDEN)
			break;
		for (p = end; *p == ' '; p++)
			;
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			break;
	}
	snprintf(why, len, "want 1 to %d comma-separated widths of 1 to %d",
	    MODEL_MAX_HIDDEN, MODEL_MAX_WIDTH);
	return -1;
}

/* A path that is not empty. */
static int
check_path(const char *v, char *why, size_t len)
{
	if (*v != '\0')
		return 0;
	snprintf(why, len, "want a path");
	return -1;
}

/* A socket path that fits a sockaddr_un. */
static int
check_socket(const char *v, char *why, size_t len)
{
	struct sockaddr_un sa;

	if (*v != '\0' && strlen(v) < sizeof(sa.sun_path))
		return 0;
	snprintf(why, len, "want a path of 1 to %zu bytes (sun_path)",
	    sizeof(sa.sun_path) - 1);
	return -1;
}

/* A user or group name, or empty: letters, digits, '.', '_', '-'. */
static int
check_name(const char *v, char *why, size_t len)
{
	const char *p;

	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			break;
	if (*p == '\0' && *v != '-' && p - v <= 32)
		return 0;
	snprintf(why, len, "not a user or group name");
	return -1;
}

/* Where /metrics listens: empty, host:port or [IPv6]:port. */
static int
check_listen(const char *v, char *why, size_t len)
{
	char host[CONF_STR_MAX];
	uint16_t port;

	if (*v == '\0')
		return 0;
	return metrics_addr_parse(v, host, sizeof(host), &port, why, len);
}

/* The key table. */
const struct conf_key *
conf_keys_table(size_t *n)
{
	*n = sizeof(conf_keys) / sizeof(conf_keys[0]);
	return conf_keys;
}

/* Store an unsigned value in a field of 4 or 8 bytes. */
static void
set_uint(struct anomd_conf *c, const struct conf_key *k, uint64_t v)
{
	char *p = (char *)c + k->off;
	uint32_t v32 = (uint32_t)v;

	if (k->size == sizeof(uint64_t))
		memcpy(p, &v, sizeof(v));
	else
		memcpy(p, &v32, sizeof(v32));
}

/* Read an unsigned field. */
static uint64_t
get_uint(const struct anomd_conf *c, const struct conf_key *k)
{
	const char *p = (const char *)c + k->off;
	uint64_t v;
	uint32_t v32;

	if (k->size == sizeof(uint64_t)) {
		memcpy(&v, p, sizeof(v));
		return v;
	}
	memcpy(&v32, p, sizeof(v32));
	return v32;
}

/* Fill every default. */
void
conf_defaults(struct anomd_conf *c)
{
	const struct conf_key *k;

	memset(c, 0, sizeof(*c));
	for (k = conf_keys;
	     k < conf_keys + sizeof(conf_keys) / sizeof(conf_keys[0]); k++) {
		if (k->type == CONF_STR || k->type == CONF_CHOICE)
			snprintf((char *)c + k->off, k->size, "%s", k->sdef);
		else if (k->type == CONF_DOUBLE)
			memcpy((char *)c + k->off, &k->def, sizeof(double));
		else
			set_uint(c, k, (uint64_t)k->def);
	}
}

/* Set *cause to "file:line: message". */
static int __attribute__((format(printf, 4, 5)))
conf_err(char **cause, const char *file, int lineno, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cause != NULL &&
	    asprintf(cause, "%s:%d: %s", file, lineno, msg) < 0)
		*cause = NULL;
	return -EINVAL;
}

/* Whether word is one of the '|'-separated choices. */
static int
is_choice(const char *choices, const char *word)
{
	size_t n = strlen(word);
	const char *p = choices;

	while (p != NULL && *p) {
		if (strncmp(p, word, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return 1;
		p = strchr(p, '|');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

/* Parse a number with an optional size suffix; 0 or -EINVAL. */
static int
parse_num(const struct conf_key *k, const char *v, double *out)
{
	unsigned long long u;
	char *end;
	double mult = 1;

	errno = 0;
	if (k->type == CONF_DOUBLE) {
		*out = strtod(v, &end);
		return (*end || errno || end == v || !isfinite(*out)) ? -EINVAL
								      : 0;
	}
	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	u = strtoull(v, &end, k->type == CONF_MODE ? 8 : 10);
	if (errno || end == v)
		return -EINVAL;
	if (k->type == CONF_SIZE && *end) {
		mult = strchr("kK", *end) ? KiB
		    : strchr("mM", *end)  ? MiB
		    : strchr("gG", *end)  ? GiB
					  : 0;
		end++;
	}
	if (*end || mult == 0)
		return -EINVAL;
	*out = (double)u * mult;
	return 0;
}

/* Parse the value v of key k into c. */
static int
set_value(struct anomd_conf *c, const struct conf_key *k, const char *v,
    const char *file, int lineno, char **cause)
{
	char why[PCAP_ERRBUF_SIZE + 64];
	double d;

	switch (k->type) {
	case CONF_CHOICE:
		if (!is_choice(k->unit, v))
			return conf_err(cause, file, lineno,
			    "%s \"%s\": want one of %s", k->name, v, k->unit);
		/* FALLTHROUGH */
	case CONF_STR:
		if (strlen(v) >= k->size)
			return conf_err(cause, file, lineno,
			    "%s: value longer than %zu bytes", k->name,
			    k->size - 1);
		if (k->check != NULL && k->check(v, why, sizeof(why)) != 0)
			return conf_err(cause, file, lineno, "%s \"%s\": %s",
			    k->name, v, why);
		snprintf((char *)c + k->off, k->size, "%s", v);
		return 0;
	case CONF_BOOL:
		if (is_choice("yes|true|on|1", v))
			set_uint(c, k, 1);
		else if (is_choice("no|false|off|0", v))
			set_uint(c, k, 0);
		else
			return conf_err(cause, file, lineno,
			    "%s \"%s\": want yes or no", k->name, v);
		return 0;
	default:
		break;
	}
	if (parse_num(k, v, &d) != 0)
		return conf_err(cause, file, lineno, "%s \"%s\": not a %s",
		    k->name, v,
		    k->type == CONF_DOUBLE     ? "number"
			: k->type == CONF_MODE ? "octal mode"
					       : "whole number");
	if (d < k->min || d > k->max)
		return conf_err(cause, file, lineno,
		    "%s %s out of range (min %.15g, max %.15g)", k->name, v,
		    k->min, k->max);
	if (k->type == CONF_DOUBLE)
		memcpy((char *)c + k->off, &d, sizeof(d));
	else
		set_uint(c, k, (uint64_t)d);
	return 0;
}

/* Trim white space at both ends in place. */
static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Parse one line. */
int
conf_parse_line(struct anomd_conf *c, const char *file, int lineno,
    const char *line, char **cause)
{
	char buf[CONF_LINE_MAX], *key, *val, *eq;
	size_t i, n;

	if (strlen(line) >= sizeof(buf))
		return conf_err(cause, file, lineno, "line too long");
	snprintf(buf, sizeof(buf), "%s", line);
	key = trim(buf);
	if (*key == '\0' || *key == '#')
		return 0;
	if ((eq = strchr(key, '=')) == NULL)
		return conf_err(
		    cause, file, lineno, "\"%s\": want key = value", key);
	*eq = '\0';
	key = trim(key);
	val = trim(eq + 1);
	if (*val == '"' && strlen(val) >= 2 && val[strlen(val) - 1] == '"') {
		val[strlen(val) - 1] = '\0';
		val++;
	}
	conf_keys_table(&n);
	for (i = 0; i < n; i++)
		if (strcmp(conf_keys[i].name, key) == 0)
			return set_value(
			    c, &conf_keys[i], val, file, lineno, cause);
	return conf_err(cause, file, lineno, "unknown key \"%s\"", key);
}

/* Read a file on top of c, reporting every error. */
int
conf_load(struct anomd_conf *c, const char *path,
    void (*errcb)(const char *msg, void *arg), void *arg, char **cause)
{
	char line[CONF_LINE_MAX + 2], *why;
	int lineno = 0, nerr = 0, err;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		err = errno;
		if (cause != NULL &&
		    asprintf(
			cause, "config: open %s: %s", path, strerror(err)) < 0)
			*cause = NULL;
		return -err;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		why = NULL;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			conf_err(&why, path, lineno, "line too long");
			while (fgets(line, sizeof(line), fp) != NULL &&
			    strchr(line, '\n') == NULL)
				;
		} else
			conf_parse_line(c, path, lineno, line, &why);
		if (why != NULL) {
			nerr++;
			errcb(why, arg);
			free(why);
		}
	}
	fclose(fp);
	return nerr;
}

/* Report one finding of conf_check. */
static void __attribute__((format(printf, 4, 5)))
check_say(void (*cb)(int, const char *, void *), void *arg, int error,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cb(error, msg, arg);
}

/* Check what depends on the system: users, groups, the interface. */
int
conf_check(const struct anomd_conf *c,
    void (*cb)(int error, const char *msg, void *arg), void *arg)
{
	char name[IFNAMSIZ];
	int nerr = 0;

	/* user matters to a start as root only (priv_user). */
	if (c->user[0] != '\0' && geteuid() == 0 && getpwnam(c->user) == NULL) {
		check_say(cb, arg, 1,
		    "user \"%s\" does not exist; create it or set user = "
		    "\"\" to stay root",
		    c->user);
		nerr++;
	}
	if (c->socket_group[0] != '\0' && getgrnam(c->socket_group) == NULL) {
		check_say(cb, arg, 1, "socket_group \"%s\" does not exist",
		    c->socket_group);
		nerr++;
	}
	if (c->interface[0] == '\0') {
		if (iface_default(IFACE_ROUTE4, IFACE_ROUTE6, name,
			sizeof(name), NULL) != 0)
			check_say(cb, arg, 0,
			    "interface not set and no default route or "
			    "interface up now; anomd waits for one");
	} else if (strcmp(c->interface, "any") != 0 &&
	    if_nametoindex(c->interface) == 0)
		check_say(cb, arg, 0,
		    "interface %s does not exist now; anomd waits for it",
		    c->interface);
	return nerr;
}

/* The value of key k as text. */
const char *
conf_value_str(
    const struct anomd_conf *c, const struct conf_key *k, char *buf, size_t len)
{
	static const char *const suffix[] = {"", "K", "M", "G"};
	const char *p = (const char *)c + k->off;
	uint64_t v;
	double d;
	int i;

	switch (k->type) {
	case CONF_STR:
	case CONF_CHOICE:
		snprintf(buf, len, *p ? "%s" : "\"\"", p);
		break;
	case CONF_SIZE:
		v = get_uint(c, k);
		for (i = 0; v >= 1024 && v % 1024 == 0 && i < 3; i++)
			v /= 1024;
		snprintf(buf, len, "%" PRIu64 "%s", v, suffix[i]);
		break;
	case CONF_DOUBLE:
		memcpy(&d, p, sizeof(d));
		snprintf(buf, len, "%g", d);
		break;
	case CONF_BOOL:
		snprintf(buf, len, "%s", get_uint(c, k) ? "yes" : "no");
		break;
	case CONF_MODE:
		snprintf(buf, len, "%04" PRIo64, get_uint(c, k));
		break;
	default:
		snprintf(buf, len, "%" PRIu64, get_uint(c, k));
		break;
	}
	return buf;
}

/* Describe a key's default for the commented config file. */
static void
write_conf_key(FILE *fp, const struct conf_key *k, const char *val)
{
	const char *unit = k->type == CONF_CHOICE ? NULL : k->unit;

	fprintf(fp, "\n# %s", k->doc);
	if (k->type == CONF_CHOICE)
		fprintf(fp, "\n# one of: %s", k->unit);
	else if (k->type != CONF_STR && k->type != CONF_BOOL)
		fprintf(fp, "\n# range %.15g to %.15g%s%s", k->min, k->max,
		    unit ? " " : "", unit ? unit : "");
	fprintf(fp, "\n%s = %s\n", k->name, val);
}

/* Write the commented default configuration (man = 0) or the key list of
 * anomd.conf(5) in roff (man = 1). */
void
conf_write_defaults(FILE *fp, int man)
{
	struct anomd_conf c;
	char val[CONF_STR_MAX + 8];
	size_t i, n;

	conf_defaults(&c);
	conf_keys_table(&n);
	if (man)
		fputs(".Bl -tag -width Ds\n", fp);
	else
		fputs("# anomd.conf: anomd(8) reads this file; see "
		      "anomd.conf(5).\n"
		      "# Every key is shown with its default value.  Sizes "
		      "take a\n"
		      "# K, M or G suffix (powers of 1024).\n",
		    fp);
	for (i = 0; i < n; i++) {
		conf_value_str(&c, &conf_keys[i], val, sizeof(val));
		if (!man) {
			write_conf_key(fp, &conf_keys[i], val);
			continue;
		}
		fprintf(fp, ".It Cm %s\n%s.\n", conf_keys[i].name,
		    conf_keys[i].doc);
		if (conf_keys[i].type == CONF_CHOICE)
			fprintf(fp, "One of: %s.\n", conf_keys[i].unit);
		else if (conf_keys[i].type != CONF_STR &&
		    conf_keys[i].type != CONF_BOOL)
			fprintf(fp, "Range %.15g to %.15g%s%s.\n",
			    conf_keys[i].min, conf_keys[i].max,
			    conf_keys[i].unit ? " " : "",
			    conf_keys[i].unit ? conf_keys[i].unit : "");
		fprintf(fp, "Default:\n.Ql %s .\n", val);
	}
	if (man)
		fputs(".El\n", fp);
}
