# store: the SQLite alert store (libstore.a) and its Check program.
noinst_LIBRARIES += store/libstore.a
store_libstore_a_SOURCES = \
	store/store.h store/store-int.h \
	store/store.c store/schema.c store/fold.c store/alert.c \
	store/query.c store/retain.c store/model.c \
	store/incident.c store/suppress.c
store_libstore_a_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CJSON_CFLAGS)

check_PROGRAMS += tests/check_store
TESTS += tests/check_store
tests_check_store_SOURCES = tests/check_store.c
tests_check_store_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE_CFLAGS) \
	$(CJSON_CFLAGS)
tests_check_store_LDADD = store/libstore.a $(SQLITE_LIBS) $(CJSON_LIBS) \
	$(CHECK_LIBS) -lm

# Flush throughput and latency; run by hand, never by make check.
EXTRA_PROGRAMS += store/bench_store
store_bench_store_SOURCES = store/bench_store.c
store_bench_store_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
store_bench_store_LDADD = store/libstore.a $(SQLITE_LIBS) $(CJSON_LIBS) -lm
CLEANFILES += store/bench_store

# Part of "make bench": speed is measured there, never asserted in tests.
bench: bench-store
bench-store: store/bench_store
	./store/bench_store $(BENCH_STORE_DIR)
.PHONY: bench-store
