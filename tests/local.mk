TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
TESTS += tests/offline.sh
EXTRA_DIST += tests/offline.sh tests/flowcounts.sh tests/setup.sh \
	tests/demo.sh tests/run-all.sh tests/make-sample.sh \
	tests/data/sample.pcap tests/data/SAMPLE.md .ci/run

include $(srcdir)/tests/fuzz/local.mk
include $(srcdir)/tests/bench/local.mk
