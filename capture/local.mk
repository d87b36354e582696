noinst_LIBRARIES += capture/libcapture.a
capture_libcapture_a_SOURCES = \
	capture/capture.h capture/capture-int.h \
	capture/source.c capture/decode.c capture/dns.c capture/hash.c \
	capture/features.c capture/hostctx.c capture/flowtab.c \
	capture/ring.c
capture_libcapture_a_CFLAGS = $(AM_CFLAGS) $(PCAP_CFLAGS)

check_PROGRAMS += tests/check_capture
TESTS += tests/check_capture
tests_check_capture_SOURCES = tests/check_capture.c tests/check_decode.c \
	tests/check_flowtab.c tests/check_features.c tests/check-util.h
tests_check_capture_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PCAP_CFLAGS)
tests_check_capture_LDADD = capture/libcapture.a $(PCAP_LIBS) $(CHECK_LIBS) -lm
