# model: the autoencoder scorer.
#
# The user's CFLAGS (-g -O2) come after ours, but gcc keeps -f options set
# explicitly whatever -O follows, so the vectoriser flags survive (net.c
# adds unroll pragmas for the rest).  -fno-math-errno and
# -fno-trapping-math let sqrtf and the selects around exp vectorise; the
# module never reads errno or FP flags from maths.  -ffp-contract=off keeps
# a -march build from fusing multiply-adds, so scores are the same bits on
# every build.
MODEL_OPT_CFLAGS = -O3 -ftree-vectorize -fvect-cost-model=dynamic \
	-fno-math-errno -fno-trapping-math -ffp-contract=off

noinst_LIBRARIES += model/libmodel.a
model_libmodel_a_SOURCES = model/model.h model/model-int.h \
	model/model.c model/rng.c model/norm.c model/gemm.h model/gemm.c \
	model/net.c model/thresh.c \
	model/train.c model/file.c model/map.c
model_libmodel_a_CFLAGS = $(AM_CFLAGS) $(MODEL_OPT_CFLAGS)

check_PROGRAMS += tests/check_model
TESTS += tests/check_model
tests_check_model_SOURCES = tests/check_model.c
tests_check_model_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_model_LDADD = model/libmodel.a $(CHECK_LIBS) -lm

# Run by `make bench`; prints its figures and always exits 0.
noinst_PROGRAMS += tests/bench/bench_model
tests_bench_bench_model_SOURCES = tests/bench/bench_model.c
tests_bench_bench_model_LDADD = model/libmodel.a -lm
