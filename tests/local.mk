include $(srcdir)/tests/bench/local.mk
