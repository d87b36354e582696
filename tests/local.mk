include $(srcdir)/tests/fuzz/local.mk
include $(srcdir)/tests/bench/local.mk
