noinst_LIBRARIES += daemon/libdaemon.a
daemon_libdaemon_a_SOURCES = daemon/daemon.h daemon/log.c daemon/util.c \
	daemon/conf.c daemon/flowcsv.c daemon/detect.c daemon/incident.c \
	daemon/beacon.c \
	daemon/report.c daemon/alert.c daemon/iface.c daemon/suppress.c \
	daemon/offline.c \
	daemon/notify.c daemon/priv.c daemon/live.c daemon/evout.c \
	daemon/metrics.c daemon/recq.c daemon/capthread.c
daemon_libdaemon_a_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(SQLITE_CFLAGS) \
	$(PCAP_CFLAGS) $(EVENT_CFLAGS) $(SYSTEMD_CFLAGS) $(CAPNG_CFLAGS)

sbin_PROGRAMS += anomd
anomd_SOURCES = daemon/main.c
anomd_LDADD = $(DAEMON_LDADD)

check_PROGRAMS += tests/check_daemon
TESTS += tests/check_daemon
tests_check_daemon_SOURCES = tests/check_daemon.c
tests_check_daemon_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_daemon_LDADD = $(DAEMON_LDADD) $(CHECK_LIBS)

include $(srcdir)/daemon/control.mk
