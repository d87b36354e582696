noinst_LIBRARIES += daemon/libdaemon.a
daemon_libdaemon_a_SOURCES = daemon/daemon.h daemon/log.c daemon/util.c daemon/conf.c \
	daemon/flowcsv.c daemon/offline.c

sbin_PROGRAMS += anomd
anomd_SOURCES = daemon/main.c
anomd_LDADD = daemon/libdaemon.a capture/libcapture.a $(PCAP_LIBS) -lm
