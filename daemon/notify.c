/*
 * Service manager notifications.  Every sd_notify call lives here; without
 * libsystemd they do nothing (anomd then runs as Type=simple would).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "daemon/daemon.h"

/* Tell the service manager that start-up is complete. */
void
notify_ready(void)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "READY=1");
#endif
}

/* Tell the service manager that shutdown has begun. */
void
notify_stopping(void)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
}

/* Tell the service manager that a reload has begun. */
void
notify_reloading(void)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "RELOADING=1");
#endif
}

/* Show a status line in systemctl status. */
void
notify_status(const char *fmt, ...)
{
#ifdef HAVE_LIBSYSTEMD
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", buf);
#else
	(void)fmt;
#endif
}

/* The watchdog interval in microseconds, or 0 when none is set. */
uint64_t
notify_watchdog_usec(void)
{
#ifdef HAVE_LIBSYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
#endif
	return 0;
}

/* Ping the watchdog. */
void
notify_watchdog(void)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "WATCHDOG=1");
#endif
}
