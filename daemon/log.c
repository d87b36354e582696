/*
 * Logging for anomd and anomctl: stderr in the foreground, syslog
 * otherwise.  When stderr is the journal's stream (systemd sets
 * JOURNAL_STREAM=DEV:INODE for a service, and stderr's device and inode
 * must match it, as sd_journal_stream_fd(3) says: a child whose stderr was
 * redirected inherits the variable but not the stream), each line starts
 * with its syslog priority, "<4>", which the journal turns into the entry's
 * priority; anywhere else, such as an analyst's terminal or a file,
 * warnings and errors say so in words.
 * Every function keeps errno as it found it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon/daemon.h"

static int log_foreground = 1;
static int log_journal;
static int log_verbose;
static const char *log_tag = "anomd";

/*
 * Whether the JOURNAL_STREAM value env ("DEV:INODE", decimal) names the file
 * open on fd: 1 if it does, 0 if not, or if env is NULL or malformed.
 */
int
log_journal_stream_match(const char *env, int fd)
{
	uintmax_t dev, ino;
	struct stat st;
	char *end;

	if (env == NULL || *env < '0' || *env > '9')
		return 0;
	errno = 0;
	dev = strtoumax(env, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
		return 0;
	ino = strtoumax(end + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	if (fstat(fd, &st) == -1)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

/* Set up logging; verbose > 0 shows debug messages. */
void
log_init(const char *tag, int foreground, int verbose)
{
	log_tag = tag;
	log_foreground = foreground;
	log_verbose = verbose;
	log_journal = log_journal_stream_match(getenv("JOURNAL_STREAM"), 2);
	if (!foreground)
		openlog(tag, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Write one message at priority pri; suffix may be NULL. */
static void
vlog(int pri, const char *suffix, const char *fmt, va_list ap)
{
	char msg[2048], level[64];
	int saved = errno;

	if (pri == LOG_DEBUG && log_verbose < 1)
		goto out;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_foreground) {
		syslog(pri, suffix ? "%s: %s" : "%s", msg, suffix);
		goto out;
	}
	if (log_journal)
		snprintf(level, sizeof(level), "<%d>%s: ", pri, log_tag);
	else
		snprintf(level, sizeof(level), "%s: %s", log_tag,
		    pri <= LOG_ERR	     ? "error: "
			: pri == LOG_WARNING ? "warning: "
					     : "");
	if (suffix)
		fprintf(stderr, "%s%s: %s\n", level, msg, suffix);
	else
		fprintf(stderr, "%s%s\n", level, msg);
out:
	errno = saved;
}

#define LOG_FN(name, pri, with_errno)                                          \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		int saved = errno;                                             \
		va_list ap;                                                    \
                                                                               \
		va_start(ap, fmt);                                             \
		vlog(pri, with_errno ? strerror(saved) : NULL, fmt, ap);       \
		va_end(ap);                                                    \
		errno = saved;                                                 \
	}

/* log_warn appends strerror(errno); log_warnx does not. */
LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_errorx, LOG_ERR, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)

/* Log with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
