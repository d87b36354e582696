/* Live EVE outputs.  (Interface stub: no output is opened yet.) */
#include <string.h>

#include "daemon/daemon.h"

/* Open the configured output; none yet. */
int
evout_open(struct evout **op, const struct anomd_conf *c,
    struct event_base *base, char **cause)
{
	(void)c, (void)base, (void)cause;
	*op = NULL;
	return 0;
}

/* Queue one line. */
void
evout_write(struct evout *o, const char *line, size_t len)
{
	(void)o, (void)line, (void)len;
}

/* Reopen a regular file. */
void
evout_reopen(struct evout *o)
{
	(void)o;
}

/* The counters. */
void
evout_get_stats(const struct evout *o, struct evout_stats *st)
{
	(void)o;
	memset(st, 0, sizeof(*st));
}

/* Close. */
void
evout_close(struct evout *o)
{
	(void)o;
}
