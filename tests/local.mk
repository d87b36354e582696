TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
TESTS += tests/offline.sh tests/eve.sh tests/docs.sh tests/live.sh \
	tests/systemd.sh tests/priv.sh tests/testconf.sh tests/evout.sh \
	tests/live-eve.sh tests/report.sh
# The Debian package: skips unless ANOMD_TEST_DEB=1 (run-all.sh sets it once).
TESTS += tests/deb.sh
EXTRA_DIST += tests/deb.sh

# The live EVE outputs: unit tests, and a feeder that tests/evout.sh runs
# against a real redis-server.
check_PROGRAMS += tests/check_evout tests/evout_feed
TESTS += tests/check_evout
tests_check_evout_SOURCES = tests/check_evout.c
tests_check_evout_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(EVENT_CFLAGS)
tests_check_evout_LDADD = $(DAEMON_LDADD) $(CHECK_LIBS)
tests_evout_feed_SOURCES = tests/evout_feed.c
tests_evout_feed_CFLAGS = $(AM_CFLAGS) $(EVENT_CFLAGS)
tests_evout_feed_LDADD = $(DAEMON_LDADD)

# The Prometheus endpoint and the stats groups (daemon/metrics.c).
check_PROGRAMS += tests/check_metrics
TESTS += tests/check_metrics
tests_check_metrics_SOURCES = tests/check_metrics.c
tests_check_metrics_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(EVENT_CFLAGS) \
	$(CJSON_CFLAGS)
tests_check_metrics_LDADD = $(DAEMON_LDADD) $(CHECK_LIBS)
EXTRA_DIST += tests/offline.sh tests/eve.sh tests/flowcounts.sh tests/setup.sh \
	tests/live.sh tests/live-eve.sh tests/priv.sh tests/testconf.sh tests/evout.sh \
	tests/abuse.py \
	tests/quality.py tests/systemd.sh \
	tests/demo.sh tests/run-all.sh tests/summary.sh tests/make-sample.sh tests/docs.sh \
	tests/make-lab.sh tests/lab/README.md tests/lab/outside.py \
	tests/lab/labels.py \
	tests/update-docs.sh tests/report.sh tests/pngcolours.py tests/report-screenshot.sh \
	tests/data/sample.pcap tests/data/SAMPLE.md .ci/run

include $(srcdir)/tests/fuzz/local.mk
include $(srcdir)/tests/bench/local.mk

dist_man_MANS += man/anomd.8 man/anomd.conf.5

# Rewrite the parts of the man pages and etc/anomd.conf that come from the
# feature and configuration tables.
update-docs: anomd$(EXEEXT)
	$(SHELL) $(srcdir)/tests/update-docs.sh ./anomd$(EXEEXT) $(srcdir)
.PHONY: update-docs

anomdconfdir = $(sysconfdir)/anomd
dist_anomdconf_DATA = etc/anomd.conf

check_PROGRAMS += tests/check_beacon
TESTS += tests/check_beacon
tests_check_beacon_SOURCES = tests/check_beacon.c
tests_check_beacon_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_beacon_LDADD = $(DAEMON_LDADD) $(CHECK_LIBS)
