# bench: `make bench` measures anomd's throughput against a bare libpcap
# loop on a synthetic capture and runs the module benchmarks.  Speed is
# measured here, never asserted in `make check`.
#
# The captures, tests/bench/bench.pcap (~550 MB), bench-short.pcap
# (~420 MB), bench-flood.pcap (~290 MB) and bench-syn.pcap (the storm
# model's training traffic, 3 MB), each a second or two to make, survive
# `make clean` so repeated runs skip regenerating them; run-bench.sh remakes
# one when gen_pcap's stamp changes.  `make distclean` removes them.
noinst_PROGRAMS += tests/bench/gen_pcap tests/bench/bare_loop
tests_bench_gen_pcap_SOURCES = tests/bench/gen_pcap.c
tests_bench_gen_pcap_LDADD = -lm
tests_bench_bare_loop_SOURCES = tests/bench/bare_loop.c
tests_bench_bare_loop_CFLAGS = $(AM_CFLAGS) $(PCAP_CFLAGS)
tests_bench_bare_loop_LDADD = $(PCAP_LIBS)

EXTRA_DIST += tests/bench/run-bench.sh tests/bench/README.md \
	tests/bench/live-bench.sh
DISTCLEANFILES = tests/bench/bench.pcap tests/bench/bench.pcap.stamp \
	tests/bench/bench.pcap.tmp tests/bench/bench-short.pcap \
	tests/bench/bench-short.pcap.stamp tests/bench/bench-short.pcap.tmp \
	tests/bench/bench-flood.pcap tests/bench/bench-flood.pcap.stamp \
	tests/bench/bench-flood.pcap.tmp tests/bench/bench-syn.pcap \
	tests/bench/bench-syn.pcap.stamp tests/bench/bench-syn.pcap.tmp

# BENCH_FLAGS passes options to run-bench.sh, e.g. "--runs 5" or
# "--packets 4000000 --flows 300000 --flood 10000000"; sizes can also come
# from BENCH_* environment variables (see run-bench.sh).  bench_model
# belongs to model/ and bench_store to store/; each is built if its rule
# exists, and the script skips it otherwise.
bench: anomd$(EXEEXT) tests/bench/gen_pcap$(EXEEXT) \
    tests/bench/bare_loop$(EXEEXT)
	-@$(MAKE) $(AM_MAKEFLAGS) tests/bench/bench_model$(EXEEXT)
	-@$(MAKE) $(AM_MAKEFLAGS) store/bench_store$(EXEEXT)
	$(SHELL) $(srcdir)/tests/bench/run-bench.sh --anomd ./anomd$(EXEEXT) \
	    --gen ./tests/bench/gen_pcap$(EXEEXT) \
	    --bare ./tests/bench/bare_loop$(EXEEXT) \
	    --model ./tests/bench/bench_model$(EXEEXT) \
	    --store ./store/bench_store$(EXEEXT) \
	    --pcap tests/bench/bench.pcap $(BENCH_FLAGS)

# bench-live: live capture against tcpdump on a veth pair (root only; it
# skips otherwise).  A separate target: it takes a few minutes of replays.
# BENCH_LIVE_FLAGS passes options, e.g. "--slow-store --packets 300000".
bench-live: anomd$(EXEEXT) anomctl$(EXEEXT) tests/bench/gen_pcap$(EXEEXT)
	$(SHELL) $(srcdir)/tests/bench/live-bench.sh --anomd ./anomd$(EXEEXT) \
	    --anomctl ./anomctl$(EXEEXT) \
	    --gen ./tests/bench/gen_pcap$(EXEEXT) $(BENCH_LIVE_FLAGS)
.PHONY: bench-live
