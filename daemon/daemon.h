/*
 * daemon: wires capture/, model/ and store/ together into anomd, and holds
 * what anomd and anomctl share (logging, address formatting).
 */
#ifndef ANOMD_DAEMON_H
#define ANOMD_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/capture.h"

#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))

/* ---- log.c -------------------------------------------------------------- */

/* Log to stderr (foreground) or syslog as tag; verbose > 0 adds debug. */
void log_init(const char *tag, int foreground, int verbose);
void log_set_verbose(int verbose);
void log_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTFLIKE(1, 2);
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
/* Parse an unsigned decimal within [min, max]; 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ---- flowcsv.c ---------------------------------------------------------- */

/* Write the header of the flows CSV. */
int flowcsv_header(FILE *fp);
/* Write one flow record as a CSV row. */
int flowcsv_row(FILE *fp, const struct flow_record *rec);

/* ---- offline.c ---------------------------------------------------------- */

struct offline_opts {
	const char **files; /* capture files, nfiles of them */
	size_t nfiles;
	const char *flows_path; /* --flows, "-" = stdout, or NULL */
	struct flowtab_opts ft;
	int top;                /* flows to show in the summary */
};

/* Run the offline job; returns the process exit status. */
int offline_run(const struct offline_opts *o);

#endif
