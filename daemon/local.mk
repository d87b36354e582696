noinst_LIBRARIES += daemon/libdaemon.a
daemon_libdaemon_a_SOURCES = daemon/daemon.h daemon/log.c daemon/util.c \
	daemon/conf.c daemon/flowcsv.c daemon/detect.c daemon/offline.c
daemon_libdaemon_a_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(SQLITE_CFLAGS)

sbin_PROGRAMS += anomd
anomd_SOURCES = daemon/main.c
anomd_LDADD = daemon/libdaemon.a model/libmodel.a store/libstore.a \
	capture/libcapture.a $(PCAP_LIBS) $(SQLITE_LIBS) $(CJSON_LIBS) -lm
